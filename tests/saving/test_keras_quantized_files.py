"""Quantized models through Keras's ``.keras`` files, both ways (Keras 3, torch backend, is the oracle)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lamina


def build(lib, mode):
    i = lib.Input((5,), dtype="int32")
    h = lib.layers.Embedding(12, 6, name="emb")(i)
    h = lib.layers.Flatten()(h)
    model = lib.Model(i, lib.layers.Dense(3, name="head")(h))
    model.quantize(mode)
    return model


@pytest.mark.parametrize("mode", ["int8", "float8"])
def test_quantized_keras_files_load_both_ways(keras, tmp_path, mode):
    x = np.random.default_rng(0).integers(0, 12, size=(4, 5)).astype("int32")
    for writer, reader in ((lamina, keras), (keras, lamina)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (float8: both skip the Embedding, which float8 does not cover)
            model = build(writer, mode)
        path = str(tmp_path / f"{writer.__name__}_{mode}.keras")
        model.save(path)
        loaded = reader.saving.load_model(path) if reader is keras else reader.models.load_model(path)
        assert loaded.get_layer("head").quantization_mode == mode
        np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), np.asarray(model.predict(x, verbose=0)),
                                   atol=1e-5)
