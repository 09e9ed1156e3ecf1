"""``lamina.preprocessing`` (Keras's older module) against Keras 3 (torch backend)."""

from __future__ import annotations

import numpy as np
import pytest

import lamina


def test_names_are_keras_s(keras):
    for module in ("", ".image", ".sequence"):
        theirs = eval(f"keras.preprocessing{module}")  # noqa: S307  (a fixed attribute path)
        ours = eval(f"lamina.preprocessing{module}")  # noqa: S307
        assert {n for n in dir(theirs) if not n.startswith("_")} <= set(dir(ours))
    assert lamina.preprocessing.sequence.pad_sequences is lamina.utils.pad_sequences


@pytest.mark.parametrize(("shape", "size", "interpolation"), [
    ((2, 5, 8, 3), (4, 4), "bilinear"), ((5, 8, 3), (6, 3), "nearest"), ((7, 4, 1), (3, 5), "bicubic"),
    ((6, 6, 2), (6, 6), "bilinear")])
def test_smart_resize_equals_keras(keras, shape, size, interpolation):
    x = np.random.default_rng(0).random(shape, dtype=np.float32) * 255
    expected = keras.preprocessing.image.smart_resize(x, size, interpolation=interpolation)
    got = lamina.preprocessing.image.smart_resize(x, size, interpolation=interpolation)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, atol=1e-3)


def test_smart_resize_channels_first_and_errors(keras):
    x = np.random.default_rng(1).random((2, 3, 5, 8), dtype=np.float32)
    expected = keras.preprocessing.image.smart_resize(x, (4, 4), data_format="channels_first")
    np.testing.assert_allclose(lamina.preprocessing.image.smart_resize(x, (4, 4), data_format="channels_first"),
                               expected, atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        lamina.preprocessing.image.smart_resize(np.zeros((4, 4)), (2, 2))
