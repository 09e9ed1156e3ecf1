"""Regularizers: Keras 3 formulas (the oracle), configs, lookup, and the penalty in a model's loss."""

import json

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina import regularizers as R

CASES = [
    (R.L1, {"l1": 0.3}), (R.L1, {}), (R.L2, {"l2": 0.1}), (R.L2, {}),
    (R.L1L2, {"l1": 0.2, "l2": 0.05}), (R.L1L2, {"l1": 0.2}), (R.L1L2, {}),
    (R.OrthogonalRegularizer, {"factor": 0.5}), (R.OrthogonalRegularizer, {"factor": 0.1, "mode": "columns"}),
]


def to_numpy(t):
    """A Keras (torch backend) tensor as a NumPy array, without Keras's NumPy-2 ``__array__`` warning."""
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _weight(shape=(5, 3), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.mark.parametrize(("cls", "kwargs"), CASES)
def test_penalty_matches_keras(keras, cls, kwargs):
    w = _weight()
    ours = cls(**kwargs)(torch.tensor(w))
    theirs = getattr(keras.regularizers, cls.__name__)(**kwargs)(keras.ops.convert_to_tensor(w))
    assert ours.shape == () and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.item(), float(to_numpy(theirs)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("cls", "kwargs"), CASES)
def test_config_matches_keras_and_round_trips(keras, cls, kwargs):
    reg = cls(**kwargs)
    config = reg.get_config()
    theirs = getattr(keras.regularizers, cls.__name__)(**kwargs).get_config()
    assert config.keys() == theirs.keys()
    # Keras keeps some factors as float32 tensors (0.3 -> 0.30000001); we keep the Python float given.
    for key, value in theirs.items():
        assert config[key] == (pytest.approx(value, rel=1e-6) if isinstance(value, float) else value)
    clone = cls.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    w = torch.tensor(_weight())
    assert torch.equal(clone(w), reg(w))
    assert R.get(R.serialize(reg)).get_config() == config


def test_closed_forms():
    w = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    assert R.L1(0.5)(w).item() == pytest.approx(3.0)
    assert R.L2(0.1)(w).item() == pytest.approx(1.4)  # no factor 1/2
    assert R.L1L2(1.0, 1.0)(w).item() == pytest.approx(20.0)
    assert R.L1L2()(w).item() == 0.0
    # Orthonormal rows cost nothing; parallel rows cost `factor` (the sum counts each pair twice, halved).
    assert R.OrthogonalRegularizer(1.0)(torch.eye(3)).item() == pytest.approx(0.0)
    assert R.OrthogonalRegularizer(0.3)(torch.ones(2, 4)).item() == pytest.approx(0.3)


def test_penalty_keeps_dtype_device_and_gradient():
    w = torch.tensor(_weight(), dtype=torch.float64, requires_grad=True)
    penalty = R.L1L2(0.1, 0.2)(w)
    assert penalty.dtype == torch.float64
    penalty.backward()
    expected = 0.1 * np.sign(w.detach().numpy()) + 0.4 * w.detach().numpy()
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)


def test_invalid_arguments():
    for bad in (-0.1, float("nan"), float("inf"), "0.1"):
        with pytest.raises(ValueError, match="non-negative"):
            R.L2(bad)
    with pytest.raises(ValueError, match="rows"):
        R.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="rank-2"):
        R.OrthogonalRegularizer()(torch.ones(2, 2, 2))
    assert R.L1(None).l1 == 0.01 and R.L1L2(None, None).get_config() == {"l1": 0.0, "l2": 0.0}


@pytest.mark.parametrize(
    ("name", "cls"),
    [("l1", R.L1), ("l2", R.L2), ("l1_l2", R.L1L2), ("l1l2", R.L1L2), ("L1L2", R.L1L2), ("L2", R.L2),
     ("orthogonal_regularizer", R.OrthogonalRegularizer), ("OrthogonalRegularizer", R.OrthogonalRegularizer)],
)
def test_get_by_name(keras, name, cls):
    reg = R.get(name)
    assert type(reg) is cls
    # Keras's get() knows 'l1l2' (snake case of the class); 'l1_l2' is its public function-style alias.
    theirs = (keras.regularizers.l1_l2() if name == "l1_l2" else keras.regularizers.get(name)).get_config()
    assert reg.get_config() == {k: pytest.approx(v, rel=1e-6) if isinstance(v, float) else v
                                for k, v in theirs.items()}


def test_get_other_identifiers():
    assert R.get(None) is None
    reg = R.L2(0.3)
    assert R.get(reg) is reg
    assert R.get(R.L1).get_config() == {"l1": 0.01}
    assert R.get({"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}) == R.L1L2(0.1, 0.2)

    def fn(w):
        return w.sum()

    assert R.get(fn) is fn
    assert R.serialize(None) is None
    assert R.serialize(R.L2(0.5)) == {"class_name": "L2", "config": {"l2": 0.5}}
    with pytest.raises(TypeError, match="serialized"):
        R.serialize(fn)
    with pytest.raises(ValueError, match="Could not interpret"):
        R.get(3)
    with pytest.raises(ValueError, match="Could not interpret"):
        R.get(int)
    with pytest.raises(ValueError, match="class_name"):
        R.get({"config": {}})


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="Unknown regularizer 'l1l3'") as info:
        R.get("l1l3")
    assert "Did you mean" in str(info.value) and "'l1l2'" in str(info.value)


# ------------------------------------------------------------------------------------------- in a model
def _dense_model(reg):
    model = lamina.Sequential([layers.Input(shape=(4,)), layers.Dense(3, kernel_regularizer=reg, name="d")])
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((4, 3)).astype("float32")
    bias = rng.standard_normal(3).astype("float32")
    model.set_weights([kernel, bias])
    return model, kernel, bias


def test_dense_kernel_regularizer_in_model_losses():
    model, kernel, _ = _dense_model(R.L2(0.1))
    losses = model.losses
    assert len(losses) == 1
    np.testing.assert_allclose(losses[0].item(), 0.1 * np.sum(kernel**2), rtol=1e-6)


def test_penalty_joins_the_training_and_evaluation_loss():
    model, kernel, bias = _dense_model(R.L2(0.1))
    model.compile(optimizer=lamina.optimizers.SGD(0.01), loss="mse")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 4)).astype("float32")
    y = rng.standard_normal((8, 3)).astype("float32")
    data_loss = np.mean((x @ kernel + bias - y) ** 2)
    penalty = 0.1 * np.sum(kernel**2)
    np.testing.assert_allclose(model.test_on_batch(x, y), data_loss + penalty, rtol=1e-5)
    np.testing.assert_allclose(model.train_on_batch(x, y), data_loss + penalty, rtol=1e-5)
    # The step moved the kernel: the penalty's gradient (2 * 0.1 * W) is part of the update.
    new_kernel, new_bias = model.get_weights()
    pred = x @ kernel + bias
    grad_kernel = x.T @ (2 * (pred - y) / y.size) + 0.2 * kernel
    np.testing.assert_allclose(new_kernel, kernel - 0.01 * grad_kernel, rtol=1e-4, atol=1e-6)
