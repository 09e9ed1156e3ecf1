"""Activation layers: the harness with Keras 3 twins, closed forms, PReLU's alpha shapes, Softmax with masks."""

import numpy as np
import pytest
import torch
from harness import check_layer, keras_weights, make_inputs, to_numpy

from lamina.layers import activation as A

CASES = [
    ("ReLU", {}, (3, 5)),
    ("ReLU", {"max_value": 1.0}, (3, 5)),
    ("ReLU", {"negative_slope": 0.1, "threshold": 0.5}, (2, 3, 4)),
    ("ReLU", {"max_value": 6.0, "negative_slope": 0.2, "threshold": 0.3}, (3, 5)),
    ("LeakyReLU", {}, (3, 5)),
    ("LeakyReLU", {"negative_slope": 0.05}, (2, 3, 4)),
    ("PReLU", {}, (3, 5)),
    ("PReLU", {"shared_axes": [1, 2]}, (2, 4, 5, 3)),
    ("PReLU", {"shared_axes": 1, "alpha_initializer": "ones"}, (2, 4, 3)),
    ("ELU", {}, (3, 5)),
    ("ELU", {"alpha": 0.5}, (2, 3, 4)),
    ("Softmax", {}, (3, 5)),
    ("Softmax", {"axis": 1}, (2, 3, 4)),
    ("Softmax", {"axis": [1, 2]}, (2, 3, 4)),
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
    skip = {"name", "trainable", "dtype"}
    assert set(ours) - skip == set(theirs) - skip
    for key in set(theirs) - skip:
        if not key.endswith("initializer"):  # initializer dicts are lamina's own format
            assert ours[key] == theirs[key], key


def test_relu_closed_form():
    x = torch.tensor([-2.0, 0.0, 0.4, 0.5, 1.0, 7.0])
    out = A.ReLU(max_value=6.0, negative_slope=0.5, threshold=0.5)(x)
    torch.testing.assert_close(out, torch.tensor([-1.25, -0.25, -0.05, 0.0, 1.0, 6.0]))
    with pytest.raises(ValueError, match="max_value"):
        A.ReLU(max_value=-1.0)
    with pytest.raises(ValueError, match="negative_slope"):
        A.LeakyReLU(negative_slope=-0.1)


def test_prelu_alpha_shape_and_values(keras):
    layer = A.PReLU(shared_axes=[1, 2])
    x = make_inputs((2, 4, 5, 3), seed=1)
    layer(torch.tensor(x))
    assert tuple(layer.alpha.shape) == (1, 1, 3)
    theirs = keras.layers.PReLU(shared_axes=[1, 2])
    theirs(x)
    alpha = np.array([[[0.1, 0.5, -2.0]]], dtype="float32")
    theirs.set_weights([alpha])
    layer.set_weights(keras_weights(theirs))
    want = np.where(x >= 0, x, alpha * x)
    np.testing.assert_allclose(to_numpy(layer(torch.tensor(x))), want, atol=1e-6)
    np.testing.assert_allclose(to_numpy(theirs(x)), want, atol=1e-6)
    with pytest.raises(ValueError, match="shared_axes"):
        A.PReLU(shared_axes=[0])(torch.ones(2, 3))


@pytest.mark.parametrize(("axis", "shape", "mask_shape"), [
    (-1, (2, 3, 5), (2, 3, 5)),
    (-1, (2, 3, 5), (3, 5)),  # broadcast over the batch
    (-1, (2, 4, 4), (2, 1, 4)),  # attention-style key mask
    (1, (2, 4, 3), (2, 4, 1)),
    ([1, 2], (2, 3, 4), (2, 3, 4)),
])
def test_softmax_with_mask_matches_keras(keras, axis, shape, mask_shape):
    x = make_inputs(shape, seed=4)
    rng = np.random.default_rng(5)
    mask = rng.uniform(size=mask_shape) > 0.4
    ours = A.Softmax(axis=axis)(torch.tensor(x), mask=torch.tensor(mask))
    theirs = keras.layers.Softmax(axis=axis)(x, mask=keras.ops.convert_to_tensor(mask))
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), atol=1e-6)
    assert np.all(to_numpy(ours)[np.broadcast_to(~mask, shape)] == 0)


def test_softmax_mask_from_tensor_and_float_mask():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    x._keras_mask = torch.tensor([[True, True, False, False]])
    out = A.Softmax()(x)  # the mask riding on the input is used and passed on
    e = np.exp([1.0, 2.0])
    np.testing.assert_allclose(to_numpy(out), [[*(e / e.sum()), 0.0, 0.0]], atol=1e-6)
    assert torch.equal(out._keras_mask, x._keras_mask)
    float_mask = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(A.Softmax()(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), mask=float_mask), out)


@pytest.mark.parametrize("cls", [A.ReLU, A.LeakyReLU, A.ELU, A.PReLU])
def test_masks_pass_through(cls):
    x = torch.randn(2, 3, 4)
    x._keras_mask = torch.tensor([[True, True, False], [True, False, False]])
    assert torch.equal(cls()(x)._keras_mask, x._keras_mask)


def test_leaky_relu_accepts_keras2_alpha():
    assert A.LeakyReLU(alpha=0.1).negative_slope == pytest.approx(0.1)
