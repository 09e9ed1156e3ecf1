"""Reuters against Keras's ``load_data``, ``get_word_index`` and ``get_label_names`` on the same fixture files."""

from __future__ import annotations

import numpy as np
import pytest

from lamina.datasets import reuters


@pytest.fixture
def reuters_file(http_server, monkeypatch, fx) -> tuple[str, str]:
    rng = np.random.default_rng(11)
    data = fx.npz(x=fx.object_array(fx.sequences(rng, 53, 40, 15)), y=rng.integers(0, 46, 53))
    http_server.routes["/reuters.npz"] = data
    monkeypatch.setattr(reuters, "FILE_HASH", fx.sha256(data))
    return http_server.url, fx.sha256(data)


CASES = [
    {}, {"test_split": 0.33}, {"test_split": 0.0}, {"num_words": 10, "skip_top": 3}, {"maxlen": 8},
    {"oov_char": None, "num_words": 9}, {"seed": 5, "start_char": None, "index_from": 0},
    {"test_split": 0.5, "maxlen": 12, "num_words": 20, "oov_char": 9, "index_from": 1},
]


@pytest.mark.parametrize("kwargs", CASES, ids=[str(c) for c in CASES])
def test_load_data_matches_keras(reuters_file, keras_oracle, fx, kwargs):
    mirror, file_hash = reuters_file
    expected = keras_oracle("reuters", mirror + "reuters.npz", file_hash).load_data(**kwargs)
    got = reuters.load_data(**kwargs, mirror=mirror)
    fx.assert_same_arrays(expected, got)


def test_word_index_matches_keras(http_server, keras_oracle, monkeypatch, fx):
    data = fx.json_bytes({"the": 1, "of": 2, "said": 3})
    http_server.routes["/reuters_word_index.json"] = data
    monkeypatch.setattr(reuters, "WORD_INDEX_HASH", fx.md5(data))
    expected = keras_oracle("reuters", http_server.url + "reuters_word_index.json", fx.md5(data)).get_word_index()
    assert reuters.get_word_index(mirror=http_server.url) == expected


def test_label_names_match_keras():
    keras_reuters = pytest.importorskip("keras.datasets.reuters")
    assert reuters.get_label_names() == tuple(keras_reuters.get_label_names())
