"""Adaptive pooling layers against Keras 3 (torch backend): outputs, symbolic shapes, configs and errors."""

import json

import numpy as np
import pytest
import torch
from harness import check_layer, to_numpy

from lamina.layers import adaptive_pooling as A
from lamina.layers.core import Input

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")

CASES = [
    ("AdaptiveAveragePooling1D", {"output_size": 3}, (2, 7, 4)),
    ("AdaptiveAveragePooling1D", {"output_size": 4, "data_format": "channels_first"}, (2, 3, 9)),
    ("AdaptiveAveragePooling2D", {"output_size": (2, 3)}, (2, 5, 7, 3)),
    ("AdaptiveAveragePooling2D", {"output_size": 3, "data_format": "channels_first"}, (2, 3, 8, 5)),
    ("AdaptiveAveragePooling3D", {"output_size": (2, 3, 2)}, (2, 5, 7, 3, 2)),
    ("AdaptiveMaxPooling1D", {"output_size": 3}, (2, 7, 4)),
    ("AdaptiveMaxPooling2D", {"output_size": (2, 3)}, (2, 5, 7, 3)),
    ("AdaptiveMaxPooling2D", {"output_size": 4, "data_format": "channels_first"}, (2, 3, 9, 6)),
    ("AdaptiveMaxPooling3D", {"output_size": 2}, (2, 5, 4, 3, 2)),
    ("AdaptiveMaxPooling3D", {"output_size": (3, 1, 2), "data_format": "channels_first"}, (2, 2, 7, 4, 5)),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=IDS)
def test_matches_keras(keras, name, kwargs, shape):
    check_layer(lambda: getattr(A, name)(**kwargs), shape,
                keras_factory=lambda: getattr(keras.layers, name)(**kwargs), keras=keras)


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=IDS)
def test_config_matches_keras(keras, name, kwargs, shape):
    ours = getattr(A, name)(**kwargs).get_config()
    theirs = getattr(keras.layers, name)(**kwargs).get_config()
    for key in ("output_size", "data_format"):
        assert json.loads(json.dumps(ours[key])) == json.loads(json.dumps(theirs[key]))
    assert set(ours) - {"dtype"} == set(theirs) - {"dtype"}


def test_upsampling_bins_match_keras(keras):
    """An output larger than the input repeats (overlapping) bins, as Keras does."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 2)).astype("float32")
    for name in ("AdaptiveAveragePooling2D", "AdaptiveMaxPooling2D"):
        got = getattr(A, name)((5, 6))(torch.tensor(x))
        want = to_numpy(getattr(keras.layers, name)((5, 6))(x))
        np.testing.assert_allclose(to_numpy(got), want, atol=1e-6)


def test_unknown_spatial_size_symbolic():
    out = A.AdaptiveAveragePooling2D((2, 2))(Input(shape=(None, None, 3)))
    assert out.shape == (None, 2, 2, 3)


def test_errors():
    with pytest.raises(ValueError, match="output_size"):
        A.AdaptiveMaxPooling2D((2, 2, 2))
    with pytest.raises(ValueError, match="output_size"):
        A.AdaptiveAveragePooling1D(0)
    with pytest.raises(ValueError):
        A.AdaptiveAveragePooling1D(2, data_format="nchw")
    with pytest.raises(ValueError):
        A.AdaptiveAveragePooling2D(2)(torch.ones(3, 4, 5))


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=IDS)
def test_gradients_match_keras(keras, name, kwargs, shape):
    x = np.random.default_rng(5).standard_normal(shape).astype("float32")
    ours, theirs = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = getattr(A, name)(**kwargs)(ours)
    k_out = getattr(keras.layers, name)(**kwargs)(theirs)
    weights = torch.tensor(np.random.default_rng(6).standard_normal(tuple(out.shape)).astype("float32"))
    (out * weights).sum().backward()
    (k_out * weights).sum().backward()
    np.testing.assert_allclose(to_numpy(ours.grad), to_numpy(theirs.grad), atol=1e-6)


def test_data_format_none_follows_the_global_setting_like_keras(keras):
    import inspect

    import lamina

    for name in sorted({c[0] for c in CASES}):
        assert inspect.signature(getattr(A, name)).parameters["data_format"].default is None
        assert inspect.signature(getattr(keras.layers, name)).parameters["data_format"].default is None
    before = lamina.config.image_data_format()
    try:
        lamina.config.set_image_data_format("channels_first")
        layer = A.AdaptiveMaxPooling2D(2)
        assert layer.data_format == "channels_first" and layer(torch.ones(1, 3, 5, 5)).shape == (1, 3, 2, 2)
    finally:
        lamina.config.set_image_data_format(before)
    assert A.AdaptiveMaxPooling2D(2).data_format == before
