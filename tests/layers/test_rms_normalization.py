"""RMSNormalization against Keras 3 (torch backend): outputs on the same (random) weights, gradients, configs,
masks and errors."""

import json

import numpy as np
import pytest
import torch
from harness import check_layer, keras_weights, make_inputs, to_numpy

from lamina.layers.rms_normalization import RMSNormalization

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")

CASES = [({}, (4, 6)), ({}, (2, 3, 5)), ({"axis": [1, 2]}, (2, 3, 4)),
         ({"axis": (2, 3), "epsilon": 1e-3}, (2, 3, 4, 5)), ({"axis": [-2, -1]}, (2, 3, 4, 5))]


@pytest.mark.parametrize(("kwargs", "shape"), CASES)
def test_matches_keras(keras, kwargs, shape):
    check_layer(lambda: RMSNormalization(**kwargs), shape,
                keras_factory=lambda: keras.layers.RMSNormalization(**kwargs), keras=keras)


@pytest.mark.parametrize(("kwargs", "shape"), CASES)
def test_random_scale_and_gradients_match_keras(keras, kwargs, shape):
    x = make_inputs(shape, seed=3)
    theirs = keras.layers.RMSNormalization(**kwargs)
    theirs(x)
    scale = np.random.default_rng(5).standard_normal(keras_weights(theirs)[0].shape).astype("float32")
    theirs.set_weights([scale])
    ours = RMSNormalization(**kwargs)
    ours(torch.tensor(x))
    ours.set_weights([scale])
    xt = torch.tensor(x, requires_grad=True)
    out = ours(xt)
    kx = torch.tensor(x, requires_grad=True)
    kout = theirs(kx)
    np.testing.assert_allclose(to_numpy(out), to_numpy(kout), atol=1e-5, rtol=1e-5)
    (out * out).sum().backward()
    (kout * kout).sum().backward()
    np.testing.assert_allclose(to_numpy(xt.grad), to_numpy(kx.grad), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(to_numpy(ours.scale.grad), to_numpy(theirs.weights[0].value.grad), atol=1e-4,
                               rtol=1e-4)


@pytest.mark.parametrize(("kwargs", "shape"), CASES)
def test_config_matches_keras(keras, kwargs, shape):
    ours, theirs = RMSNormalization(**kwargs), keras.layers.RMSNormalization(**kwargs)
    for built in (False, True):
        if built:
            ours(torch.tensor(make_inputs(shape)))
            theirs(make_inputs(shape))
        assert set(ours.get_config()) == set(theirs.get_config())
        for key in ("axis", "epsilon"):
            assert json.loads(json.dumps(ours.get_config()[key])) == json.loads(json.dumps(theirs.get_config()[key]))


@pytest.mark.parametrize(("axis", "scale_shape", "view"), [((1, 3), (3, 5), (1, 3, 1, 5)), (-2, (4,), (1, 1, 4, 1))])
def test_non_trailing_axes_match_numpy(axis, scale_shape, view):
    """Axes that are not the last ones (Keras's torch backend fails there): checked against NumPy."""
    x = make_inputs((2, 3, 4, 5), seed=2)
    layer = RMSNormalization(axis=axis, epsilon=1e-3)
    check_layer(lambda: RMSNormalization(axis=axis, epsilon=1e-3), (2, 3, 4, 5))
    layer(torch.tensor(x))
    scale = np.random.default_rng(1).standard_normal(scale_shape).astype("float32")
    layer.set_weights([scale])
    axes = (axis,) if isinstance(axis, int) else axis
    want = x / np.sqrt((x ** 2).mean(axis=axes, keepdims=True) + 1e-3) * scale.reshape(view)
    np.testing.assert_allclose(to_numpy(layer(torch.tensor(x))), want, atol=1e-5, rtol=1e-5)


def test_mask_is_not_passed_on_as_in_keras():
    x = torch.ones(2, 3, 4)
    x._keras_mask = torch.tensor([[True, True, False]] * 2)
    layer = RMSNormalization()
    assert layer.compute_mask(x, x._keras_mask) is None


def test_errors():
    with pytest.raises(ValueError, match="axis"):
        RMSNormalization(axis="last")
    with pytest.raises(ValueError, match="out of bounds"):
        RMSNormalization(axis=3)(torch.ones(2, 3))
    with pytest.raises(ValueError, match="non-batch"):
        RMSNormalization(axis=0)(torch.ones(2, 3))
