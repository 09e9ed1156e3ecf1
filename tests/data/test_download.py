"""``get_file``: Keras's signature and cache layout, checked against Keras's own ``get_file`` on a local server."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from lamina.data.archives import UnsafeArchiveError
from lamina.data.download import DownloadError, FileIntegrityError, get_file, hash_file, validate_file


class _Server(http.server.ThreadingHTTPServer):
    routes: dict[str, bytes]
    short: set[str]
    log: list[str]
    url: str


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.log.append(self.path)
        body = self.server.routes.get(self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + (100 if self.path in self.server.short else 0)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.routes, httpd.short, httpd.log = {}, set(), []
    httpd.url = f"http://127.0.0.1:{httpd.server_port}/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")  # the local server and closed ports, never a proxy


def closed_url(name: str) -> str:
    """A URL on a port nobody listens on: what being offline looks like to urllib."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def tar_bytes(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "../../outside")
    return buf.getvalue()


def link(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def listing(folder: str | Path) -> list[str]:
    root = Path(folder)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


SHA = hashlib.sha256(b"hello").hexdigest()
MD5 = hashlib.md5(b"hello").hexdigest()
ARCHIVE = tar_bytes([("d/x.txt", b"abc"), ("d/e/y.txt", b"yy")])
ZIP = zip_bytes({"y.txt": b"zz", "sub/z.txt": b"z"})


# --- plain files ------------------------------------------------------------------------------------------------


def test_downloads_into_lamina_home_and_names_the_file_after_the_url(server, tmp_path):
    server.routes["/a.txt"] = b"hello"
    path = get_file(origin=server.url + "a.txt?version=2")
    assert path == str(tmp_path / "home" / "datasets" / "a.txt")
    assert Path(path).read_bytes() == b"hello"


def test_fname_cache_dir_and_cache_subdir(server, tmp_path):
    server.routes["/a.txt"] = b"hello"
    expected = str(tmp_path / "c" / "datasets" / "b.txt")
    assert get_file("b.txt", server.url + "a.txt", cache_dir=tmp_path / "c") == expected
    assert get_file("b.txt", server.url + "a.txt", cache_dir=tmp_path / "c", cache_subdir="sub").endswith("c/sub/b.txt")
    absolute = tmp_path / "elsewhere"
    assert get_file("b.txt", server.url + "a.txt", cache_subdir=absolute) == str(absolute / "b.txt")


@pytest.mark.parametrize(("kwargs"), [
    {"file_hash": SHA}, {"file_hash": MD5}, {"md5_hash": MD5}, {"file_hash": SHA.upper()},
    {"file_hash": SHA, "hash_algorithm": "sha256"}, {"file_hash": MD5, "hash_algorithm": "md5"},
])
def test_hashes_that_match(server, kwargs):
    server.routes["/a.txt"] = b"hello"
    assert Path(get_file("a.txt", server.url + "a.txt", **kwargs)).read_bytes() == b"hello"


def test_hash_mismatch_is_a_clear_error_and_leaves_nothing_in_the_cache(server, tmp_path):
    server.routes["/a.txt"] = b"tampered"
    with pytest.raises(FileIntegrityError, match=f"sha256 mismatch, expected {SHA}") as info:
        get_file("a.txt", server.url + "a.txt", file_hash=SHA)
    assert "discarded" in str(info.value)
    assert listing(tmp_path / "home" / "datasets") == []


def test_explicit_algorithm_must_fit_the_hash(server):
    server.routes["/a.txt"] = b"hello"
    with pytest.raises(FileIntegrityError, match="md5 mismatch"):
        get_file("a.txt", server.url + "a.txt", file_hash=SHA, hash_algorithm="md5")
    with pytest.raises(ValueError, match="hash_algorithm='sha1' is not supported"):
        get_file("a.txt", server.url + "a.txt", file_hash=SHA, hash_algorithm="sha1")


def test_truncated_download_leaves_nothing(server, tmp_path):
    server.routes["/a.txt"] = b"hello"
    server.short.add("/a.txt")
    with pytest.raises(DownloadError):
        get_file("a.txt", server.url + "a.txt")
    assert listing(tmp_path / "home" / "datasets") == []


def test_offline_with_cache_works_with_and_without_hash(server):
    server.routes["/a.txt"] = b"hello"
    path = get_file("a.txt", server.url + "a.txt")
    assert get_file("a.txt", closed_url("a.txt")) == path
    assert get_file("a.txt", closed_url("a.txt"), file_hash=SHA) == path
    assert server.log == ["/a.txt"]


def test_offline_without_cache_says_where_to_put_the_file(tmp_path):
    with pytest.raises(DownloadError) as info:
        get_file("a.txt", closed_url("a.txt"), file_hash=SHA)
    message = str(info.value)
    assert "Connection refused" in message or "URLError" in message
    assert str(tmp_path / "home" / "datasets" / "a.txt") in message and SHA in message
    assert isinstance(info.value, OSError)


def test_missing_url_is_reported(server):
    with pytest.raises(DownloadError, match="404"):
        get_file("a.txt", server.url + "missing.txt")


def test_cached_file_with_wrong_hash_is_downloaded_again(server, tmp_path):
    stale = tmp_path / "home" / "datasets" / "a.txt"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    server.routes["/a.txt"] = b"hello"
    assert Path(get_file("a.txt", server.url + "a.txt", file_hash=SHA)).read_bytes() == b"hello"


def test_force_download(server):
    server.routes["/a.txt"] = b"hello"
    get_file("a.txt", server.url + "a.txt")
    server.routes["/a.txt"] = b"world"
    assert Path(get_file("a.txt", server.url + "a.txt")).read_bytes() == b"hello"
    assert Path(get_file("a.txt", server.url + "a.txt", force_download=True)).read_bytes() == b"world"


def test_file_urls_work(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(b"hello")
    assert Path(get_file("copy.bin", source.as_uri(), file_hash=SHA)).read_bytes() == b"hello"


@pytest.mark.parametrize("fname", ["sub/a.txt", "/abs/a.txt", "..", ""])
def test_fname_must_be_a_bare_name(fname):
    with pytest.raises(ValueError, match="bare file name"):
        get_file(fname, "http://127.0.0.1:9/a.txt")


def test_origin_is_required():
    with pytest.raises(ValueError, match="origin"):
        get_file("a.txt")


def test_hash_helpers(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    assert hash_file(path) == SHA and hash_file(path, "md5") == MD5
    assert validate_file(path, SHA) and validate_file(path, MD5) and not validate_file(path, "0" * 64)


# --- extraction -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fname", "url_name", "kwargs"), [
    ("arch.tar.gz", "arch.tar.gz", {"extract": True}),
    ("archdir", "arch.tar.gz", {"extract": True}),
    (None, "arch.tar.gz", {"extract": True}),
    ("my.data.tgz", "arch.tar.gz", {"extract": True}),
    ("u.tar.gz", "arch.tar.gz", {"untar": True}),
    ("u2", "arch.tar.gz", {"untar": True}),
    ("zz", "z.zip", {"extract": True}),
    ("z.zip", "z.zip", {"extract": True}),
    ("k4", "arch.tar.gz", {"extract": True, "archive_format": ["zip", "tar"]}),
    ("k5.bin", "arch.tar.gz", {"extract": True, "archive_format": "tar"}),
])
def test_extraction_layout_matches_keras(server, tmp_path, fname, url_name, kwargs):
    keras_file_utils = pytest.importorskip("keras.src.utils.file_utils")
    server.routes["/arch.tar.gz"] = ARCHIVE
    server.routes["/z.zip"] = ZIP
    keras_cache, lamina_cache = tmp_path / "keras", tmp_path / "lamina"
    keras_cache.mkdir()
    expected = keras_file_utils.get_file(fname, server.url + url_name, cache_dir=str(keras_cache), **kwargs)
    got = get_file(fname, server.url + url_name, cache_dir=lamina_cache, **kwargs)
    assert os.path.relpath(got, lamina_cache) == os.path.relpath(expected, keras_cache)
    assert listing(got) == listing(expected)
    assert listing(lamina_cache) == listing(keras_cache)


def test_plain_layout_matches_keras(server, tmp_path):
    keras_file_utils = pytest.importorskip("keras.src.utils.file_utils")
    server.routes["/a.txt"] = b"hello"
    keras_cache, lamina_cache = tmp_path / "keras", tmp_path / "lamina"
    keras_cache.mkdir()
    for fname, subdir in ((None, "datasets"), ("b.txt", "datasets"), ("c.txt", "models")):
        expected = keras_file_utils.get_file(
            fname, server.url + "a.txt", cache_dir=str(keras_cache), cache_subdir=subdir
        )
        got = get_file(fname, server.url + "a.txt", cache_dir=lamina_cache, cache_subdir=subdir)
        assert os.path.relpath(got, lamina_cache) == os.path.relpath(expected, keras_cache)
        assert Path(got).read_bytes() == Path(expected).read_bytes()


def test_extracted_archive_is_reused_offline(server):
    server.routes["/arch.tar.gz"] = ARCHIVE
    path = get_file("arch", server.url + "arch.tar.gz", extract=True)
    assert get_file("arch", closed_url("arch.tar.gz"), extract=True) == path
    assert (Path(path) / "d" / "x.txt").read_bytes() == b"abc"


def test_extracting_a_non_archive_raises(server):
    server.routes["/a.txt"] = b"hello"
    with pytest.raises(ValueError, match="is not a tar or zip archive"):
        get_file("nn", server.url + "a.txt", extract=True)
    with pytest.raises(ValueError, match="is not a zip archive"):
        get_file("k3.tar.gz", server.url + "a.txt", extract=True, archive_format="zip")


HOSTILE_TARS = {
    "dotdot": [("../evil.txt", b"x")],
    "nested dotdot": [("d/../../evil.txt", b"x")],
    "absolute": [("/tmp/evil.txt", b"x")],
    "escaping symlink": [link("d/link", "../../outside")],
    "absolute symlink": [link("link", "/etc/passwd")],
    "escaping hard link": [link("hard", "../outside", hard=True)],
}


@pytest.mark.parametrize("name", sorted(HOSTILE_TARS))
def test_hostile_tar_is_refused_and_nothing_is_extracted(server, tmp_path, name):
    server.routes["/bad.tar.gz"] = tar_bytes([("ok.txt", b"fine"), *HOSTILE_TARS[name]])
    with pytest.raises(UnsafeArchiveError, match="refusing"):
        get_file("bad", server.url + "bad.tar.gz", extract=True)
    folder = tmp_path / "home" / "datasets"
    assert listing(folder) == ["bad_archive"]
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "home" / "evil.txt").exists()


def test_device_files_in_tar_are_refused(server):
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    server.routes["/dev.tar"] = tar_bytes([fifo], mode="w")
    with pytest.raises(UnsafeArchiveError, match="special file"):
        get_file("dev", server.url + "dev.tar", extract=True)


def test_symlink_inside_the_folder_is_allowed(server):
    server.routes["/ok.tar.gz"] = tar_bytes([("d/x.txt", b"abc"), link("d/alias", "x.txt")])
    path = Path(get_file("ok", server.url + "ok.tar.gz", extract=True))
    assert (path / "d" / "alias").read_bytes() == b"abc"


@pytest.mark.parametrize(("members", "symlink"), [
    ({"../evil.txt": b"x"}, None),
    ({"/abs/evil.txt": b"x"}, None),
    ({"a/../../evil.txt": b"x"}, None),
    ({"C:/evil.txt": b"x"}, None),
    ({"ok.txt": b"x"}, "link"),
])
def test_hostile_zip_is_refused(server, tmp_path, members, symlink):
    server.routes["/bad.zip"] = zip_bytes(members, symlink)
    with pytest.raises(UnsafeArchiveError):
        get_file("bad", server.url + "bad.zip", extract=True)
    assert listing(tmp_path / "home" / "datasets") == ["bad_archive"]


def test_failed_extraction_keeps_the_previous_folder_and_leaves_no_staging(server, tmp_path):
    server.routes["/arch.tar.gz"] = ARCHIVE
    path = get_file("arch", server.url + "arch.tar.gz", extract=True)
    server.routes["/arch.tar.gz"] = tar_bytes([("new.txt", b"n"), ("../evil.txt", b"x")])
    with pytest.raises(UnsafeArchiveError):
        get_file("arch", server.url + "arch.tar.gz", extract=True, force_download=True)
    assert listing(path) == ["d", "d/e", "d/e/y.txt", "d/x.txt"]
    assert sorted(p.name for p in (tmp_path / "home" / "datasets").iterdir()) == ["arch", "arch_archive"]


def test_new_download_replaces_the_extracted_folder(server):
    server.routes["/arch.tar.gz"] = ARCHIVE
    path = get_file("arch", server.url + "arch.tar.gz", extract=True)
    server.routes["/arch.tar.gz"] = tar_bytes([("new.txt", b"n")])
    assert get_file("arch", server.url + "arch.tar.gz", extract=True, force_download=True) == path
    assert listing(path) == ["new.txt"]


def test_deleted_extraction_is_rebuilt_from_the_cached_archive_offline(server):
    import shutil

    server.routes["/arch.tar.gz"] = ARCHIVE
    path = get_file("arch", server.url + "arch.tar.gz", extract=True)
    shutil.rmtree(path)
    assert get_file("arch", closed_url("arch.tar.gz"), extract=True) == path
    assert (Path(path) / "d" / "x.txt").read_bytes() == b"abc"
