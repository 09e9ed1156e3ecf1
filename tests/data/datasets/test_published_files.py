"""Each dataset asks for the file names, URLs and hashes Keras's dataset modules ask ``get_file`` for."""

from __future__ import annotations

import pytest

from lamina.datasets import boston_housing, california_housing, cifar10, cifar100, imdb, reuters

EXPECTED = [
    ("cifar10", "load_data", (cifar10.FOLDER, cifar10.ORIGIN, cifar10.FILE_HASH, True)),
    ("cifar100", "load_data", (cifar100.FOLDER, cifar100.ORIGIN, cifar100.FILE_HASH, True)),
    ("imdb", "load_data", ("imdb.npz", imdb.ORIGIN, imdb.FILE_HASH, False)),
    ("imdb", "get_word_index", ("imdb_word_index.json", imdb.WORD_INDEX_ORIGIN, imdb.WORD_INDEX_HASH, False)),
    ("reuters", "load_data", ("reuters.npz", reuters.ORIGIN, reuters.FILE_HASH, False)),
    ("reuters", "get_word_index",
     ("reuters_word_index.json", reuters.WORD_INDEX_ORIGIN, reuters.WORD_INDEX_HASH, False)),
    ("boston_housing", "load_data", ("boston_housing.npz", boston_housing.ORIGIN, boston_housing.FILE_HASH, False)),
    ("california_housing", "load_data",
     ("california_housing.npz", california_housing.ORIGIN, california_housing.FILE_HASH, False)),
]


@pytest.mark.parametrize(("name", "function", "expected"), EXPECTED, ids=[f"{n}.{f}" for n, f, _ in EXPECTED])
def test_same_file_url_and_hash_as_keras(keras_oracle, monkeypatch, name, function, expected):
    module = keras_oracle(name, "unused", "unused")
    calls = []

    def record(fname=None, origin=None, **kwargs):
        calls.append((fname, origin, kwargs.get("file_hash"), bool(kwargs.get("extract"))))
        raise RuntimeError("recorded")

    monkeypatch.setattr(module, "get_file", record)
    with pytest.raises(RuntimeError, match="recorded"):
        getattr(module, function)()
    assert calls == [expected]
