"""Activations against Keras 3 (torch backend) as the oracle, plus formulas and the registry."""

import math
import warnings

import numpy as np
import pytest
import torch

from lamina import activations

# (name, kwargs) pairs compared one to one with keras.activations.<name>(x, **kwargs).
KERAS_CASES = [
    ("relu", {}),
    ("relu6", {}),
    ("sigmoid", {}),
    ("hard_sigmoid", {}),
    ("hard_silu", {}),
    ("hard_swish", {}),
    ("tanh", {}),
    ("softmax", {}),
    ("softmax", {"axis": 0}),
    ("softmax", {"axis": 1}),
    ("log_softmax", {}),
    ("log_softmax", {"axis": 0}),
    ("gelu", {}),
    ("gelu", {"approximate": True}),
    ("silu", {}),
    ("swish", {}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.05}),
    ("softplus", {}),
    ("softsign", {}),
    ("exponential", {}),
    ("linear", {}),
    ("mish", {}),
    ("celu", {}),
    ("celu", {"alpha": 2.0}),
    ("glu", {}),
    ("glu", {"axis": 1}),
    ("log_sigmoid", {}),
    ("hard_tanh", {}),
    ("tanh_shrink", {}),
    ("soft_shrink", {}),
    ("soft_shrink", {"threshold": 1.0}),
    ("hard_shrink", {}),
    ("hard_shrink", {"threshold": 1.0}),
    ("threshold", {"threshold": 0.3, "default_value": -1.0}),
    ("squareplus", {}),
    ("squareplus", {"b": 1.0}),
    ("sparse_plus", {}),
    ("sparse_sigmoid", {}),
    # sparsemax is checked against bisection below: Keras 3's torch sparsemax misplaces tau.
]


def _inputs() -> torch.Tensor:
    # Random values plus the kinks of the piecewise functions, exactly.
    x = torch.randn(4, 4, 6) * 3
    x[0, 0] = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0])
    x[0, 1] = torch.tensor([2.5, 3.0, 6.0, -6.0, 7.0, 0.3])
    return x


def _to_numpy(keras, tensor) -> np.ndarray:
    # Keras's torch backend calls np.array(tensor) in a way NumPy 2 flags with a DeprecationWarning,
    # which `-W error::DeprecationWarning` would turn into a failure of the oracle itself.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return keras.ops.convert_to_numpy(tensor)


def _check(ours: torch.Tensor, theirs, keras, rtol: float = 1e-6, atol: float = 1e-6) -> None:
    expected = _to_numpy(keras, theirs)
    assert tuple(ours.shape) == expected.shape
    np.testing.assert_allclose(ours.detach().cpu().numpy(), expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize(("name", "kwargs"), KERAS_CASES, ids=lambda c: str(c))
def test_matches_keras(keras, name, kwargs):
    x = _inputs()
    ours = getattr(activations, name)(x, **kwargs)
    assert ours.dtype == torch.float32
    _check(ours, getattr(keras.activations, name)(x.numpy(), **kwargs), keras)


@pytest.mark.parametrize("negative_slope", [0.0, 0.1])
@pytest.mark.parametrize("max_value", [None, 6.0, 2.5])
@pytest.mark.parametrize("threshold", [0.0, 0.5, -0.5])
def test_relu_options_match_keras(keras, negative_slope, max_value, threshold):
    x = _inputs()
    ours = activations.relu(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)
    theirs = keras.activations.relu(
        x.numpy(), negative_slope=negative_slope, max_value=max_value, threshold=threshold
    )
    _check(ours, theirs, keras)


def test_relu_formula_and_gradient():
    x = torch.tensor([-2.0, 0.2, 1.0, 3.0, 9.0], requires_grad=True)
    y = activations.relu(x, negative_slope=0.1, max_value=4.0, threshold=0.5)
    # max_value above the cap, x above the threshold, slope * (x - threshold) below it.
    expected = torch.tensor([0.1 * (-2.5), 0.1 * (-0.3), 1.0, 3.0, 4.0])
    torch.testing.assert_close(y, expected)
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.1, 0.1, 1.0, 1.0, 0.0]))


def test_formulas_without_keras():
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    torch.testing.assert_close(activations.hard_sigmoid(x), torch.clamp(x + 3, 0, 6) / 6)
    torch.testing.assert_close(activations.hard_silu(x), x * torch.clamp(x + 3, 0, 6) / 6)
    torch.testing.assert_close(activations.silu(x), x / (1 + torch.exp(-x)))
    torch.testing.assert_close(activations.softsign(x), x / (1 + x.abs()))
    torch.testing.assert_close(activations.softplus(x), torch.log1p(torch.exp(x)))
    torch.testing.assert_close(activations.leaky_relu(x), torch.where(x >= 0, x, 0.2 * x))
    torch.testing.assert_close(activations.elu(x, alpha=0.7), torch.where(x > 0, x, 0.7 * torch.expm1(x)))
    erf_gelu = 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    torch.testing.assert_close(activations.gelu(x), erf_gelu)
    assert activations.linear(x) is x


def test_dtype_is_kept():
    x = torch.randn(3, 5, dtype=torch.float64)
    for name in ("relu", "sigmoid", "softmax", "gelu", "silu", "hard_sigmoid", "sparsemax"):
        assert activations.get(name)(x).dtype == torch.float64, name
    assert activations.relu(x, max_value=2.0, threshold=0.1).dtype == torch.float64


def test_softmax_along_axis_and_tuple_axes():
    x = torch.randn(2, 3, 4)
    for axis in (0, 1, -1):
        s = activations.softmax(x, axis=axis)
        torch.testing.assert_close(s.sum(dim=axis), torch.ones_like(s.sum(dim=axis)))
        torch.testing.assert_close(s, torch.exp(x) / torch.exp(x).sum(dim=axis, keepdim=True))
    s = activations.softmax(x, axis=(1, 2))
    torch.testing.assert_close(s.sum(dim=(1, 2)), torch.ones(2))
    torch.testing.assert_close(activations.log_softmax(x, axis=(1, 2)), torch.log(s))


def _sparsemax_by_bisection(z: np.ndarray) -> np.ndarray:
    """Projection of a vector onto the simplex: max(z - tau, 0) with tau found by bisection."""
    lo, hi = z.min() - 1.0, z.max()
    for _ in range(200):
        tau = (lo + hi) / 2
        lo, hi = (tau, hi) if np.maximum(z - tau, 0).sum() > 1 else (lo, tau)
    return np.maximum(z - (lo + hi) / 2, 0)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_sparsemax_is_the_simplex_projection(axis):
    x = torch.randn(5, 6, 7, dtype=torch.float64) * 2
    x[0, 0, :3] = 0.5  # ties
    p = activations.sparsemax(x, axis=axis)
    expected = np.apply_along_axis(_sparsemax_by_bisection, axis, x.numpy())
    np.testing.assert_allclose(p.numpy(), expected, atol=1e-9)
    torch.testing.assert_close(p.sum(axis), torch.ones_like(p.sum(axis)))
    assert (p == 0).any()
    torch.testing.assert_close(activations.sparsemax(torch.full((3,), 0.5)), torch.full((3,), 1 / 3))


def test_get_by_name_none_and_callable():
    assert activations.get(None) is activations.linear
    assert activations.get("relu") is activations.relu
    assert activations.get("ReLU") is activations.relu
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    # The trainer relies on identity to recognise softmax outputs.
    assert activations.get("softmax") is activations.get("softmax") is activations.softmax

    def custom(x):
        return x * 2

    assert activations.get(custom) is custom
    assert activations.get(torch.tanh) is torch.tanh
    with pytest.raises(TypeError):
        activations.get(3)


def test_unknown_name_suggests_close_match():
    with pytest.raises(ValueError, match="'relu'"):
        activations.get("rellu")
    with pytest.raises(ValueError, match="'softmax'"):
        activations.get("sofmax")


def test_every_keras_activation_is_registered(keras):
    names = [n for n in dir(keras.activations) if not n.startswith("_")]
    for name in set(names) - {"get", "serialize", "deserialize"}:
        assert name in activations.ACTIVATIONS, name
        assert activations.get(name) is getattr(activations, name)


def test_serialize_matches_keras(keras):
    for name in activations.ACTIVATIONS.names():
        fn = activations.get(name)
        assert activations.serialize(fn) == keras.activations.serialize(getattr(keras.activations, name))
        assert activations.get(activations.serialize(fn)) is fn


def test_serialize_names():
    assert activations.serialize(activations.swish) == "silu"
    assert activations.serialize(activations.softmax) == "softmax"
    assert activations.serialize(None) == "linear"

    def my_act(x):
        return x

    assert activations.serialize(my_act) == "my_act"
