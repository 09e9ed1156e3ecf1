"""Finding, checking and caching IDX files: small synthetic files served by a local HTTP server."""

import gzip
import hashlib
import http.server
import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from lamina.data.datasets import _files
from lamina.data.datasets._files import DatasetIntegrityError, DatasetSpec, DatasetUnavailableError, IdxFile


def idx_gz(array: np.ndarray, level: int = 9) -> bytes:
    """Gzipped IDX bytes of a uint8 array, written from the format's definition."""
    header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), compresslevel=level, mtime=0)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Server(http.server.ThreadingHTTPServer):
    routes: dict[str, bytes]
    short: set[str]
    log: list[str]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.log.append(self.path)
        body = self.server.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        declared = len(body) + (1000 if self.path in self.server.short else 0)
        self.send_response(200)
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.routes, httpd.short, httpd.log = {}, set(), []
    httpd.url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAMINA_DEBIAN_DATASETS", str(tmp_path / "debian"))
    monkeypatch.delenv("LAMINA_DATASETS_MIRROR", raising=False)


RNG = np.random.default_rng(0)
ARRAYS = {
    "train-images-idx3-ubyte.gz": RNG.integers(0, 256, (12, 28, 28), dtype=np.uint8),
    "train-labels-idx1-ubyte.gz": RNG.integers(0, 10, (12,), dtype=np.uint8),
    "t10k-images-idx3-ubyte.gz": RNG.integers(0, 256, (5, 28, 28), dtype=np.uint8),
    "t10k-labels-idx1-ubyte.gz": RNG.integers(0, 10, (5,), dtype=np.uint8),
}
GZ = {name: idx_gz(a) for name, a in ARRAYS.items()}
SPECS = tuple(IdxFile(name, a.shape, sha(GZ[name])) for name, a in ARRAYS.items())
TINY = DatasetSpec("Tiny", SPECS, (), "tiny", "dataset-tiny")


def serve_all(server, prefix: str = "/m/") -> str:
    server.routes.update({prefix + name: data for name, data in GZ.items()})
    return server.url + prefix


def cache(tmp_path: Path) -> Path:
    return tmp_path / "home" / "datasets" / "tiny"


def assert_loaded(result) -> None:
    (x_train, y_train), (x_test, y_test) = result
    for got, name in zip((x_train, y_train, x_test, y_test), ARRAYS, strict=True):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, ARRAYS[name])


# --- locations -------------------------------------------------------------------------------------------


def test_cache_dir_under_lamina_home_and_npz_suffix_dropped(tmp_path):
    assert _files.cache_dir("mnist.npz") == tmp_path / "home" / "datasets" / "mnist"
    assert _files.cache_dir("fashion-mnist") == tmp_path / "home" / "datasets" / "fashion-mnist"


def test_cache_dir_defaults_to_dot_lamina(tmp_path, monkeypatch):
    monkeypatch.delenv("LAMINA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _files.cache_dir("x") == tmp_path / ".lamina" / "datasets" / "x"


def test_debian_dir_default_and_override(tmp_path, monkeypatch):
    assert _files.debian_dir("fashion-mnist") == tmp_path / "debian" / "fashion-mnist"
    monkeypatch.delenv("LAMINA_DEBIAN_DATASETS")
    assert _files.debian_dir("fashion-mnist") == Path("/usr/share/datasets/fashion-mnist")


def test_mirror_precedence(monkeypatch):
    assert _files.mirror_urls(("a", "b")) == ["a", "b"]
    monkeypatch.setenv("LAMINA_DATASETS_MIRROR", " http://x/  http://y/ ")
    assert _files.mirror_urls(("a",)) == ["http://x/", "http://y/"]
    assert _files.mirror_urls(("a",), "http://z/") == ["http://z/"]
    assert _files.mirror_urls(("a",), ["p", "q"]) == ["p", "q"]


# --- IDX parsing and checks ------------------------------------------------------------------------------


def test_parse_idx_round_trip_is_writable():
    array = ARRAYS["train-images-idx3-ubyte.gz"]
    got = _files.parse_idx(gzip.decompress(GZ["train-images-idx3-ubyte.gz"]), SPECS[0])
    np.testing.assert_array_equal(got, array)
    got[0, 0, 0] = 1  # a copy the caller owns, like Keras's arrays


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00", "too short"),
        ((0x803).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(5), "0x00000801"),
        ((0x801).to_bytes(4, "big") + (4).to_bytes(4, "big") + bytes(4), r"dimensions \(4,\)"),
        ((0x801).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(3), "truncated"),
        ((0x801).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(6), "trailing data"),
    ],
)
def test_parse_idx_rejects_bad_headers_and_sizes(content, message):
    with pytest.raises(DatasetIntegrityError, match=message):
        _files.parse_idx(content, IdxFile("labels.gz", (5,), "0" * 64))


def test_check_accepts_recompressed_file_by_content_hash():
    name = "train-labels-idx1-ubyte.gz"
    recompressed = idx_gz(ARRAYS[name], level=1)
    content_hash = sha(gzip.decompress(recompressed))
    spec = IdxFile(name, (12,), "0" * 64, content_hash)
    assert recompressed != GZ[name]
    np.testing.assert_array_equal(_files.check(recompressed, spec, "here"), ARRAYS[name])


def test_check_names_file_and_both_hashes_on_mismatch():
    name = "t10k-labels-idx1-ubyte.gz"
    other = idx_gz(np.zeros(5, np.uint8))
    spec = IdxFile(name, (5,), "ab" * 32, "cd" * 32)
    with pytest.raises(DatasetIntegrityError) as info:
        _files.check(other, spec, "origin-x")
    text = str(info.value)
    assert name in text and "origin-x" in text
    assert "ab" * 32 in text and "cd" * 32 in text
    assert sha(other) in text and sha(gzip.decompress(other)) in text


def test_check_reports_truncated_gzip():
    data = GZ["train-images-idx3-ubyte.gz"]
    with pytest.raises(DatasetIntegrityError, match="truncated"):
        _files.check(data[: len(data) // 2], SPECS[0], "here")


# --- atomic writes ---------------------------------------------------------------------------------------


def test_atomic_write_leaves_only_the_file(tmp_path):
    target = tmp_path / "a" / "b" / "f.gz"
    _files.atomic_write(target, b"hello")
    _files.atomic_write(target, b"world")
    assert target.read_bytes() == b"world"
    assert os.listdir(target.parent) == ["f.gz"]


def test_atomic_write_failure_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "f.gz"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        _files.atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.gz"]


# --- sources, downloads and the cache --------------------------------------------------------------------


def test_download_lands_in_cache_then_loads_offline(tmp_path, server):
    assert_loaded(_files.load(TINY, "tiny", serve_all(server)))
    assert sorted(os.listdir(cache(tmp_path))) == sorted(GZ)  # no temporary files left behind
    for name, data in GZ.items():
        assert (cache(tmp_path) / name).read_bytes() == data
    requests = len(server.log)
    assert_loaded(_files.load(TINY, "tiny", closed_url()))
    assert len(server.log) == requests == 4


def test_env_mirror_is_used(server, monkeypatch):
    monkeypatch.setenv("LAMINA_DATASETS_MIRROR", serve_all(server, "/env/"))
    assert_loaded(_files.load(TINY, "tiny", None))
    assert all(path.startswith("/env/") for path in server.log)


def test_404_falls_through_to_next_mirror(tmp_path, server):
    good = serve_all(server, "/good/")
    assert_loaded(_files.load(TINY, "tiny", [server.url + "/missing/", good]))
    assert server.log[:2] == ["/missing/train-images-idx3-ubyte.gz", "/good/train-images-idx3-ubyte.gz"]
    assert sorted(os.listdir(cache(tmp_path))) == sorted(GZ)


def test_corrupted_download_is_rejected_and_not_cached(tmp_path, server):
    url = serve_all(server)
    name = "train-labels-idx1-ubyte.gz"
    flipped = bytearray(GZ[name])
    flipped[len(flipped) // 2] ^= 0xFF
    server.routes["/m/" + name] = bytes(flipped)
    with pytest.raises(DatasetUnavailableError) as info:
        _files.load(TINY, "tiny", url)
    text = str(info.value)
    assert name in text and SPECS[1].gz_sha256 in text and sha(bytes(flipped)) in text
    assert not (cache(tmp_path) / name).exists()
    assert [p.name for p in cache(tmp_path).iterdir()] == ["train-images-idx3-ubyte.gz"]


def test_truncated_download_is_rejected_then_next_mirror_wins(tmp_path, server):
    good = serve_all(server, "/good/")
    name = "t10k-images-idx3-ubyte.gz"
    server.routes["/bad/" + name] = GZ[name][:-40]
    with pytest.raises(DatasetUnavailableError, match="truncated"):
        _files.load_file(TINY, SPECS[2], cache(tmp_path), [server.url + "/bad/"])
    assert not cache(tmp_path).exists()
    got = _files.load_file(TINY, SPECS[2], cache(tmp_path), [server.url + "/bad/", good])
    np.testing.assert_array_equal(got, ARRAYS[name])
    assert os.listdir(cache(tmp_path)) == [name]


def test_connection_cut_short_falls_through(tmp_path, server):
    name = "train-images-idx3-ubyte.gz"
    server.routes["/cut/" + name] = GZ[name][:100]
    server.short.add("/cut/" + name)
    good = serve_all(server, "/good/")
    got = _files.load_file(TINY, SPECS[0], cache(tmp_path), [server.url + "/cut/", good])
    np.testing.assert_array_equal(got, ARRAYS[name])


def test_corrupted_cache_file_is_replaced_by_download(tmp_path, server):
    folder = cache(tmp_path)
    folder.mkdir(parents=True)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    assert_loaded(_files.load(TINY, "tiny", serve_all(server)))
    assert (folder / "train-labels-idx1-ubyte.gz").read_bytes() == GZ["train-labels-idx1-ubyte.gz"]
    assert sorted(os.listdir(folder)) == sorted(GZ)


def test_debian_folder_is_used_and_bad_file_there_skipped_not_deleted(tmp_path, server):
    debian = tmp_path / "debian" / "tiny"
    debian.mkdir(parents=True)
    for name, data in GZ.items():
        (debian / name).write_bytes(data)
    (debian / "t10k-labels-idx1-ubyte.gz").write_bytes(b"bad")
    assert_loaded(_files.load(TINY, "tiny", serve_all(server)))
    assert server.log == ["/m/t10k-labels-idx1-ubyte.gz"]
    assert (debian / "t10k-labels-idx1-ubyte.gz").read_bytes() == b"bad"
    assert os.listdir(cache(tmp_path)) == ["t10k-labels-idx1-ubyte.gz"]


def test_offline_with_nothing_cached_says_what_was_tried(tmp_path):
    url = closed_url()
    with pytest.raises(DatasetUnavailableError) as info:
        _files.load(TINY, "tiny", url)
    assert isinstance(info.value, OSError)
    text = str(info.value)
    assert "train-images-idx3-ubyte.gz" in text
    assert str(cache(tmp_path)) in text and str(tmp_path / "debian" / "tiny") in text
    assert url in text
    assert "apt-get install dataset-tiny" in text and "LAMINA_DATASETS_MIRROR" in text
    assert not cache(tmp_path).exists()
