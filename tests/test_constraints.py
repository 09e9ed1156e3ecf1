"""Constraints: Keras 3 formulas (the oracle), configs, lookup, and projection after an optimizer step."""

import json

import numpy as np
import pytest
import torch

import lamina
from lamina import constraints as C
from lamina import layers
from lamina.core import config

CASES = [
    (C.MaxNorm, {}), (C.MaxNorm, {"max_value": 1.5, "axis": 1}), (C.MaxNorm, {"max_value": 0.5, "axis": [0, 1]}),
    (C.MinMaxNorm, {}), (C.MinMaxNorm, {"min_value": 2.0, "max_value": 3.0, "rate": 0.5, "axis": 1}),
    (C.NonNeg, {}), (C.UnitNorm, {}), (C.UnitNorm, {"axis": 1}), (C.Constraint, {}),
]


def to_numpy(t):
    """A Keras (torch backend) tensor as a NumPy array, without Keras's NumPy-2 ``__array__`` warning."""
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _weight(shape=(5, 3), seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype("float32")


@pytest.mark.parametrize(("cls", "kwargs"), CASES)
@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_projection_matches_keras(keras, cls, kwargs, scale):
    w = _weight((5, 3, 2) if kwargs.get("axis") == [0, 1] else (5, 3), scale=scale)
    ours = cls(**kwargs)(torch.tensor(w))
    theirs = getattr(keras.constraints, cls.__name__)(**kwargs)(keras.ops.convert_to_tensor(w))
    assert ours.shape == w.shape and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), to_numpy(theirs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("cls", "kwargs"), CASES)
def test_config_matches_keras_and_round_trips(keras, cls, kwargs):
    con = cls(**kwargs)
    config = con.get_config()
    assert config == getattr(keras.constraints, cls.__name__)(**kwargs).get_config()
    clone = cls.from_config(json.loads(json.dumps(config)))
    w = torch.tensor(_weight(scale=3.0))
    assert torch.equal(clone(w), con(w))
    assert C.get(C.serialize(con)).get_config() == config


def test_closed_forms():
    w = torch.tensor([[3.0, 0.1], [4.0, 0.0]])  # column norms 5 and 0.1
    eps = config.epsilon()
    max_norm = C.MaxNorm(1.0)(w)
    np.testing.assert_allclose(max_norm[:, 0].numpy(), [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(max_norm[:, 1].numpy(), [0.1 * 0.1 / (0.1 + eps), 0.0], rtol=1e-6)
    np.testing.assert_allclose(torch.linalg.norm(C.UnitNorm()(w), dim=0).numpy(), [1.0, 1.0], rtol=1e-5)
    # MinMaxNorm with rate 0.5 moves a norm of 5 halfway to the cap of 1: to 3.
    np.testing.assert_allclose(torch.linalg.norm(C.MinMaxNorm(0.0, 1.0, rate=0.5)(w), dim=0)[0].item(), 3.0,
                               rtol=1e-6)
    assert torch.equal(C.NonNeg()(torch.tensor([-1.0, 0.0, 2.0])), torch.tensor([0.0, 0.0, 2.0]))


@pytest.mark.parametrize(
    ("name", "cls"),
    [("max_norm", C.MaxNorm), ("MaxNorm", C.MaxNorm), ("min_max_norm", C.MinMaxNorm), ("non_neg", C.NonNeg),
     ("NonNeg", C.NonNeg), ("unit_norm", C.UnitNorm), ("UnitNorm", C.UnitNorm)],
)
def test_get_by_name(keras, name, cls):
    con = C.get(name)
    assert type(con) is cls
    assert con.get_config() == keras.constraints.get(name).get_config()


def test_get_other_identifiers():
    assert C.get(None) is None
    con = C.MaxNorm(3)
    assert C.get(con) is con
    assert type(C.get(C.NonNeg)) is C.NonNeg
    assert C.get({"class_name": "MaxNorm", "config": {"max_value": 4, "axis": 1}}).get_config() == {
        "max_value": 4, "axis": 1}

    def fn(w):
        return w.clamp(-1, 1)

    assert C.get(fn) is fn
    assert C.serialize(None) is None
    assert C.serialize(C.UnitNorm(1)) == {"class_name": "UnitNorm", "config": {"axis": 1}}
    with pytest.raises(TypeError, match="serialized"):
        C.serialize(fn)
    with pytest.raises(ValueError, match="Could not interpret"):
        C.get(3.0)
    with pytest.raises(ValueError, match="Could not interpret"):
        C.get(dict)


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="Unknown constraint 'max_nrom'") as info:
        C.get("max_nrom")
    assert "Did you mean" in str(info.value) and "'max_norm'" in str(info.value)


def test_optimizer_step_projects_a_dense_kernel():
    model = lamina.Sequential([layers.Input(shape=(4,)),
                               layers.Dense(3, kernel_constraint=C.MaxNorm(0.5), bias_constraint=C.NonNeg())])
    model.compile(optimizer=lamina.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.standard_normal((8, 4)).astype("float32"), 5 * rng.standard_normal((8, 3)))
    kernel, bias = model.get_weights()
    assert np.all(np.linalg.norm(kernel, axis=0) <= 0.5 + 1e-5)
    assert np.all(bias >= 0)
