"""MNIST: full-size synthetic IDX files served over HTTP, with their hashes patched into the file table."""

import gzip
import hashlib
import http.server
import importlib
import os
import socket
import threading

import numpy as np
import pytest

import lamina.datasets
from lamina.data.datasets import mnist
from lamina.data.datasets._files import DatasetUnavailableError, IdxFile

NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def idx_gz(array: np.ndarray) -> bytes:
    header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.tobytes(), compresslevel=1, mtime=0)


def digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images filled with 25 * label, pixel [0, 0] holding the index mod 256, so order is checkable."""
    labels = ((np.arange(n) * 7 + seed) % 10).astype(np.uint8)
    images = np.repeat(np.repeat((labels * 25)[:, None, None], 28, axis=1), 28, axis=2)
    images[:, 0, 0] = np.arange(n) % 256
    return images, labels


@pytest.fixture(scope="module")
def synthetic():
    arrays = (*digits(60000, 0), *digits(10000, 3))
    return {name: (array, idx_gz(array)) for name, array in zip(NAMES, arrays, strict=True)}


@pytest.fixture
def server(synthetic, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    log: list[str] = []
    routes = {"/mnist/" + name: gz for name, (_, gz) in synthetic.items()}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            log.append(self.path)
            body = routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/mnist/", log
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path))
    monkeypatch.setenv("LAMINA_DEBIAN_DATASETS", str(tmp_path / "debian"))
    monkeypatch.delenv("LAMINA_DATASETS_MIRROR", raising=False)


@pytest.fixture
def patched_hashes(synthetic, monkeypatch):
    digest = {name: hashlib.sha256(gz).hexdigest() for name, (_, gz) in synthetic.items()}
    table = tuple(IdxFile(f.name, f.shape, digest[f.name]) for f in mnist.FILES)
    monkeypatch.setattr(mnist, "FILES", table)


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def test_file_table_matches_upstream():
    assert [f.name for f in mnist.FILES] == list(NAMES)
    assert [f.shape for f in mnist.FILES] == [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]
    assert mnist.FILES[0].gz_sha256 == "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    assert mnist.MIRRORS[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"


def test_public_shim_exposes_the_same_module():
    assert lamina.datasets.mnist is mnist
    assert importlib.import_module("lamina.datasets.mnist") is mnist
    from lamina.datasets import mnist as again

    assert again.load_data is mnist.load_data


def test_load_data_downloads_to_default_cache_with_keras_shapes(
    tmp_path, synthetic, server, patched_hashes, monkeypatch
):
    url, log = server
    monkeypatch.setenv("LAMINA_DATASETS_MIRROR", url)
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    monkeypatch.delenv("LAMINA_DATASETS_MIRROR")
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    for got, name in zip((x_train, y_train, x_test, y_test), NAMES, strict=True):
        np.testing.assert_array_equal(got, synthetic[name][0])
    folder = tmp_path / "datasets" / "mnist"  # Keras's path="mnist.npz" names the folder "mnist"
    assert sorted(os.listdir(folder)) == sorted(NAMES)
    assert len(log) == 4
    mnist.load_data(mirror=closed_url())  # second load: from the cache, no request
    assert len(log) == 4


def test_path_argument_names_the_cache_folder(tmp_path, server, patched_hashes):
    url, _ = server
    mnist.load_data(path="digits.npz", mirror=url)
    assert sorted(os.listdir(tmp_path / "datasets" / "digits")) == sorted(NAMES)


def test_wrong_hash_is_rejected_with_the_real_table(tmp_path, server):
    url, _ = server
    with pytest.raises(DatasetUnavailableError) as info:
        mnist.load_data(mirror=url)
    text = str(info.value)
    assert "train-images-idx3-ubyte.gz" in text and "SHA-256 mismatch" in text
    assert mnist.FILES[0].gz_sha256 in text
    assert not (tmp_path / "datasets" / "mnist").exists()


def test_offline_error_lists_sources_and_remedies(tmp_path):
    url = closed_url()
    with pytest.raises(DatasetUnavailableError) as info:
        mnist.load_data(mirror=url)
    text = str(info.value)
    assert "MNIST" in text and url in text and str(tmp_path / "datasets" / "mnist") in text
    assert "LAMINA_DATASETS_MIRROR" in text
    assert "apt-get" not in text  # no Debian package for MNIST
