"""Fashion-MNIST: the real files from Debian's dataset-fashion-mnist, read directly and served over HTTP."""

import http.server
import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

import lamina.datasets
from lamina.data.datasets import fashion_mnist
from lamina.data.datasets._files import DatasetUnavailableError

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
NAMES = [f.name for f in fashion_mnist.FILES]
needs_debian = pytest.mark.skipif(
    not all((DEBIAN / n).is_file() for n in NAMES), reason="apt-get install dataset-fashion-mnist"
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path))
    monkeypatch.setenv("LAMINA_DEBIAN_DATASETS", "/usr/share/datasets")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("LAMINA_DATASETS_MIRROR", raising=False)


@pytest.fixture
def empty_debian(tmp_path, monkeypatch):
    (tmp_path / "debian").mkdir()
    monkeypatch.setenv("LAMINA_DEBIAN_DATASETS", str(tmp_path / "debian"))


@pytest.fixture
def server():
    """Serves copies of the Debian files under /f/ and logs each request path."""
    log: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            log.append(self.path)
            name = self.path.removeprefix("/f/")
            if not self.path.startswith("/f/") or name not in NAMES:
                self.send_error(404)
                return
            body = (DEBIAN / name).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/f/", log
    httpd.shutdown()
    httpd.server_close()


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def check_known_facts(data) -> None:
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert y_train.min() == 0 and y_train.max() == 9
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    np.testing.assert_array_equal(y_train[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])  # first is an ankle boot
    np.testing.assert_array_equal(y_test[:10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
    assert x_train.max() == 255 and x_train.min() == 0


def test_file_table_and_mirrors():
    assert NAMES == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    last = fashion_mnist.FILES[3]
    assert last.gz_sha256 == "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
    assert fashion_mnist.MIRRORS == (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    )
    assert lamina.datasets.fashion_mnist is fashion_mnist


@needs_debian
def test_loads_from_debian_without_download(tmp_path, server):
    url, log = server
    check_known_facts(fashion_mnist.load_data(mirror=url))
    check_known_facts(fashion_mnist.load_data(mirror=url))
    assert log == []
    assert not (tmp_path / "datasets").exists()  # Debian's files are read in place, not copied


@needs_debian
def test_download_of_recompressed_files_is_cached_atomically(tmp_path, server, empty_debian):
    url, log = server
    check_known_facts(fashion_mnist.load_data(mirror=url))
    folder = tmp_path / "datasets" / "fashion-mnist"
    assert sorted(os.listdir(folder)) == sorted(NAMES)  # nothing but the four files: no temporaries
    for name in NAMES:
        assert (folder / name).read_bytes() == (DEBIAN / name).read_bytes()
    assert len(log) == 4
    check_known_facts(fashion_mnist.load_data(mirror=closed_url()))  # from the cache, offline
    assert len(log) == 4


@needs_debian
def test_corrupt_cache_and_debian_files_fall_through_to_download(tmp_path, server, monkeypatch):
    url, log = server
    debian = tmp_path / "debian" / "fashion-mnist"
    debian.mkdir(parents=True)
    for name in (NAMES[0], NAMES[2]):  # train labels missing there
        (debian / name).symlink_to(DEBIAN / name)
    bad_labels = (DEBIAN / NAMES[3]).read_bytes()[:-10]
    (debian / NAMES[3]).write_bytes(bad_labels)  # truncated in the Debian folder
    monkeypatch.setenv("LAMINA_DEBIAN_DATASETS", str(tmp_path / "debian"))
    folder = tmp_path / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    (folder / NAMES[1]).write_bytes(b"\x1f\x8b not really gzip")  # corrupt in the cache

    check_known_facts(fashion_mnist.load_data(mirror=url))
    assert log == ["/f/" + NAMES[1], "/f/" + NAMES[3]]
    assert sorted(os.listdir(folder)) == sorted([NAMES[1], NAMES[3]])
    assert (folder / NAMES[1]).read_bytes() == (DEBIAN / NAMES[1]).read_bytes()
    assert (debian / NAMES[3]).read_bytes() == bad_labels  # a system folder is never modified


def test_offline_with_nothing_cached_says_how_to_get_the_data(tmp_path, empty_debian):
    url = closed_url()
    with pytest.raises(DatasetUnavailableError) as info:
        fashion_mnist.load_data(mirror=url)
    assert isinstance(info.value, OSError)
    text = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in text
    assert url in text and str(tmp_path / "datasets" / "fashion-mnist") in text
    assert str(tmp_path / "debian" / "fashion-mnist") in text
    assert "LAMINA_DATASETS_MIRROR" in text
    assert not (tmp_path / "datasets").exists()


def test_offline_via_env_mirror(tmp_path, empty_debian, monkeypatch):
    monkeypatch.setenv("LAMINA_DATASETS_MIRROR", closed_url())
    with pytest.raises(DatasetUnavailableError, match="apt-get install dataset-fashion-mnist"):
        lamina.datasets.fashion_mnist.load_data()
