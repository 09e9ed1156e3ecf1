"""Fixture files of the real formats, a local HTTP server to serve them, and Keras as the oracle.

The CIFAR batches are written opcode by opcode the way Python 2's cPickle wrote the published files (protocol
2, ``GLOBAL`` names, ``BINSTRING`` bytes); the ``.npz`` files with ``numpy.savez``, as Keras's were.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import importlib
import io
import json
import os
import struct
import tarfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


# --- Python 2 style pickles ------------------------------------------------------------------------------------


def _py2_bytes(value: bytes) -> bytes:
    if len(value) < 256:
        return b"U" + bytes([len(value)]) + value
    return b"T" + struct.pack("<i", len(value)) + value


def _py2_int(value: int) -> bytes:
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def _py2_value(value: Any) -> bytes:
    if isinstance(value, bytes):
        return _py2_bytes(value)
    if isinstance(value, int):
        return _py2_int(value)
    if isinstance(value, list):
        out = b"]"
        for start in range(0, len(value), 1000):
            out += b"(" + b"".join(_py2_value(v) for v in value[start : start + 1000]) + b"e"
        return out
    if isinstance(value, np.ndarray):
        assert value.dtype == np.uint8 and value.ndim == 2
        shape = _py2_int(value.shape[0]) + _py2_int(value.shape[1]) + b"\x86"
        dtype = (
            b"cnumpy\ndtype\n" + _py2_bytes(b"u1") + b"K\x00K\x01\x87R"
            + b"(K\x03" + _py2_bytes(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        )
        return (
            b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _py2_bytes(b"b") + b"\x87R"
            + b"(K\x01" + shape + dtype + b"\x89" + _py2_bytes(value.tobytes()) + b"tb"
        )
    raise TypeError(type(value))


def py2_pickle(batch: dict[bytes, Any]) -> bytes:
    """A dict pickled the way Python 2's cPickle (protocol 2) wrote the CIFAR batches."""
    items = b"".join(_py2_value(k) + _py2_value(v) for k, v in batch.items())
    return b"\x80\x02}(" + items + b"u."


# --- fixture files ---------------------------------------------------------------------------------------------


def images(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` CIFAR rows that compress well (repeats of a few random images) yet differ (an index stamp)."""
    pool = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
    rows = pool[rng.integers(0, 4, n)].copy()
    rows[:, :4] = np.frombuffer(np.arange(n, dtype=">u4").tobytes(), np.uint8).reshape(n, 4)
    return rows


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def cifar10_archive(rng: np.random.Generator, per_batch: int, test: int) -> bytes:
    members = {}
    for i in range(1, 6):
        batch = {b"batch_label": b"training batch %d of 5" % i, b"labels": rng.integers(0, 10, per_batch).tolist(),
                 b"data": images(rng, per_batch), b"filenames": [b"f%d.png" % j for j in range(per_batch)]}
        members[f"cifar-10-batches-py/data_batch_{i}"] = py2_pickle(batch)
    members["cifar-10-batches-py/test_batch"] = py2_pickle(
        {b"batch_label": b"testing batch 1 of 1", b"labels": rng.integers(0, 10, test).tolist(),
         b"data": images(rng, test), b"filenames": [b"t%d.png" % j for j in range(test)]}
    )
    members["cifar-10-batches-py/batches.meta"] = py2_pickle({b"num_cases_per_batch": per_batch})
    return tar_gz(members)


def cifar100_archive(rng: np.random.Generator, train: int, test: int) -> bytes:
    members = {}
    for name, n in (("train", train), ("test", test)):
        members[f"cifar-100-python/{name}"] = py2_pickle(
            {b"filenames": [b"x.png"] * n, b"batch_label": name.encode(),
             b"fine_labels": rng.integers(0, 100, n).tolist(), b"coarse_labels": rng.integers(0, 20, n).tolist(),
             b"data": images(rng, n)}
        )
    members["cifar-100-python/meta"] = py2_pickle({b"fine_label_names": [b"apple"]})
    return tar_gz(members)


def object_array(seqs: list[list[int]]) -> np.ndarray:
    out = np.empty(len(seqs), dtype=object)
    for i, seq in enumerate(seqs):
        out[i] = seq
    return out


def sequences(rng: np.random.Generator, n: int, vocab: int, longest: int) -> list[list[int]]:
    return [rng.integers(1, vocab, rng.integers(1, longest)).tolist() for _ in range(n)]


def npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --- the HTTP server -------------------------------------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    routes: dict[str, bytes]
    log: list[str]
    url: str


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.log.append(self.path)
        body = self.server.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server(monkeypatch) -> Iterator[_Server]:
    """A server on 127.0.0.1 answering ``GET /<name>`` with ``routes["/<name>"]``, logging each path."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.routes, httpd.log = {}, []
    httpd.url = f"http://127.0.0.1:{httpd.server_port}/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "lamina-home"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")  # the local server and closed ports, never a proxy
    monkeypatch.delenv("LAMINA_DATASETS_MIRROR", raising=False)


@pytest.fixture
def keras_oracle(tmp_path, monkeypatch) -> Callable[..., Any]:
    """``keras_oracle(name, url, file_hash)``: Keras's dataset module ``name``, its downloads redirected.

    Keras's dataset modules call ``get_file(fname, origin=..., file_hash=...)`` with their published URL and
    hash; the patch sends them to ``url`` (the test server) with ``file_hash`` and a private cache dir, so Keras
    reads the same fixture bytes as lamina.
    """
    keras = pytest.importorskip("keras")
    from keras.src.utils import file_utils

    cache = tmp_path / "keras-home"
    cache.mkdir()  # Keras falls back to /tmp/.keras when cache_dir does not exist

    def oracle(name: str, url: str, file_hash: str) -> Any:
        module = importlib.import_module(f"keras.src.datasets.{name}")

        def get_file(fname=None, origin=None, **kwargs):
            kwargs["file_hash"] = file_hash
            kwargs["cache_dir"] = str(cache)
            return file_utils.get_file(fname, origin=url, **kwargs)

        monkeypatch.setattr(module, "get_file", get_file)
        return module

    assert keras.backend.backend() == "torch"
    return oracle


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


@pytest.fixture
def fx():
    """This module: the fixture-file writers above (test modules cannot import a conftest directly)."""
    import sys

    return sys.modules[__name__]


def hostile_pickle(marker: os.PathLike[str]) -> bytes:
    """A protocol 2 pickle that would run ``os.system("touch <marker>")`` if unpickled with :mod:`pickle`."""
    command = f"touch {marker}".encode()
    return b"\x80\x02cos\nsystem\n" + _py2_bytes(command) + b"\x85R."


def closed_url() -> str:
    """A base URL on a port nobody listens on: what being offline looks like to urllib."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def listing(folder: os.PathLike[str]) -> list[str]:
    from pathlib import Path

    root = Path(folder)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def assert_same_arrays(expected: Any, got: Any) -> None:
    """Nested tuples of arrays equal in shape, dtype and values; object arrays compared as lists."""
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for e, g in zip(expected, got, strict=True):
            assert_same_arrays(e, g)
        return
    assert isinstance(got, np.ndarray), type(got)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if expected.dtype == object:
        assert [list(s) for s in got] == [list(s) for s in expected]
        assert got.shape == expected.shape
    else:
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
