"""IMDB against Keras's ``load_data`` and ``get_word_index`` on the same fixture files."""

from __future__ import annotations

import numpy as np
import pytest

from lamina.datasets import DatasetIntegrityError, DatasetUnavailableError, imdb


@pytest.fixture
def imdb_file(http_server, monkeypatch, fx) -> tuple[str, str]:
    """An ``imdb.npz`` of the real layout (object arrays of lists of ints), served; returns (mirror, hash)."""
    rng = np.random.default_rng(7)
    data = fx.npz(
        x_train=fx.object_array(fx.sequences(rng, 40, 30, 12)), y_train=rng.integers(0, 2, 40),
        x_test=fx.object_array(fx.sequences(rng, 30, 30, 12)), y_test=rng.integers(0, 2, 30),
    )
    http_server.routes["/imdb.npz"] = data
    monkeypatch.setattr(imdb, "FILE_HASH", fx.sha256(data))
    return http_server.url, fx.sha256(data)


CASES = [
    {}, {"num_words": 10}, {"skip_top": 5}, {"maxlen": 6}, {"seed": 0}, {"start_char": None},
    {"oov_char": None, "num_words": 12, "skip_top": 4}, {"index_from": 0}, {"index_from": 0, "start_char": None},
    {"num_words": 0}, {"maxlen": 9, "num_words": 15, "skip_top": 2, "seed": 3, "start_char": 7, "oov_char": 5},
]


@pytest.mark.parametrize("kwargs", CASES, ids=[str(c) for c in CASES])
def test_load_data_matches_keras(imdb_file, keras_oracle, fx, kwargs):
    mirror, file_hash = imdb_file
    expected = keras_oracle("imdb", mirror + "imdb.npz", file_hash).load_data(**kwargs)
    got = imdb.load_data(**kwargs, mirror=mirror)
    fx.assert_same_arrays(expected, got)


def test_maxlen_that_keeps_nothing(imdb_file, keras_oracle):
    mirror, file_hash = imdb_file
    with pytest.raises(ValueError):
        keras_oracle("imdb", mirror + "imdb.npz", file_hash).load_data(maxlen=1)
    with pytest.raises(ValueError, match="maxlen=1 leaves no training review"):
        imdb.load_data(maxlen=1, mirror=mirror)


def test_sequences_stay_lists_when_all_have_one_length(imdb_file):
    # Keras builds the result with np.array(list_of_lists), which turns equal-length lists into a 2-D array;
    # lamina always returns a 1-D object array of lists.
    mirror, _ = imdb_file
    (x_train, _), _ = imdb.load_data(maxlen=3, mirror=mirror)
    assert x_train.ndim == 1 and all(isinstance(s, list) and len(s) == 2 for s in x_train)


def test_word_index_matches_keras(http_server, keras_oracle, monkeypatch, fx):
    words = {"the": 1, "and": 2, "a": 3, "émigré": 4}
    data = fx.json_bytes(words)
    http_server.routes["/imdb_word_index.json"] = data
    monkeypatch.setattr(imdb, "WORD_INDEX_HASH", fx.md5(data))
    expected = keras_oracle("imdb", http_server.url + "imdb_word_index.json", fx.md5(data)).get_word_index()
    assert imdb.get_word_index(mirror=http_server.url) == expected == words


def test_word_index_must_be_a_word_map(http_server, monkeypatch, fx):
    data = fx.json_bytes(["not", "a", "map"])
    http_server.routes["/imdb_word_index.json"] = data
    monkeypatch.setattr(imdb, "WORD_INDEX_HASH", fx.md5(data))
    with pytest.raises(DatasetIntegrityError, match="mapping words to integer indexes"):
        imdb.get_word_index(mirror=http_server.url)


def test_cached_file_is_used_offline(imdb_file, fx, tmp_path):
    mirror, _ = imdb_file
    first = imdb.load_data(mirror=mirror)
    assert (tmp_path / "lamina-home" / "datasets" / "imdb.npz").is_file()
    fx.assert_same_arrays(first, imdb.load_data(mirror=fx.closed_url()))


def test_checksum_mismatch_and_offline_errors(http_server, fx, tmp_path):
    http_server.routes["/imdb.npz"] = fx.npz(x_train=np.zeros(1))
    with pytest.raises(DatasetIntegrityError, match="(?s)IMDB: .*sha256 mismatch, expected 69664113"):
        imdb.load_data(mirror=http_server.url)
    assert fx.listing(tmp_path / "lamina-home" / "datasets") == []
    with pytest.raises(DatasetUnavailableError, match="(?s)imdb.npz.*LAMINA_DATASETS_MIRROR"):
        imdb.load_data(mirror=fx.closed_url())


def test_hostile_object_array_is_refused_and_not_run(http_server, monkeypatch, fx, tmp_path):
    marker = tmp_path / "pwned"
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (117 - len(header)) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + fx.hostile_pickle(marker)
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("x_train", "y_train", "x_test", "y_test"):
            zf.writestr(f"{name}.npy", npy)
    http_server.routes["/imdb.npz"] = buf.getvalue()
    monkeypatch.setattr(imdb, "FILE_HASH", fx.sha256(buf.getvalue()))
    with pytest.raises(DatasetIntegrityError, match="not plain data.*os.system"):
        imdb.load_data(mirror=http_server.url)
    assert not marker.exists()
