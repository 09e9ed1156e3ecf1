"""Normalization layers: the harness with Keras 3 twins, BatchNormalization's training mode and moving statistics
against Keras step by step, ``trainable = False`` freezing, masks, and a Sequential fit."""

import warnings

import numpy as np
import pytest
import torch
from harness import check_layer, keras_weights, make_inputs, to_numpy

import lamina
from lamina.layers import normalization as N

CASES = [
    ("BatchNormalization", {}, (4, 3)),
    ("BatchNormalization", {}, (2, 4, 5, 3)),
    ("BatchNormalization", {"axis": 1}, (2, 3, 4, 5)),
    ("BatchNormalization", {"axis": -2, "momentum": 0.9, "epsilon": 1e-2}, (3, 4, 2)),
    ("BatchNormalization", {"center": False}, (4, 6)),
    ("BatchNormalization", {"scale": False, "center": False}, (4, 5, 6)),
    ("LayerNormalization", {}, (4, 6)),
    ("LayerNormalization", {"axis": [1, 3]}, (2, 3, 4, 5)),  # (Keras's torch backend fails on [1, 2] of 4-D)
    ("LayerNormalization", {"axis": [-2, -1], "epsilon": 1e-5}, (2, 3, 4, 5)),
    ("LayerNormalization", {"center": False}, (2, 3, 4)),
    ("LayerNormalization", {"rms_scaling": True}, (3, 8)),
    ("LayerNormalization", {"rms_scaling": True, "axis": [1, 3]}, (2, 3, 4, 5)),
    ("GroupNormalization", {"groups": 2}, (2, 4, 5, 6)),
    ("GroupNormalization", {"groups": -1}, (2, 5, 4)),
    ("GroupNormalization", {"groups": 1}, (3, 6)),
    ("GroupNormalization", {"groups": 3, "axis": 1, "epsilon": 1e-5}, (2, 6, 4, 5)),
    ("UnitNormalization", {}, (3, 5)),
    ("UnitNormalization", {"axis": [1, 2]}, (2, 3, 4)),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def _keras_layer(keras, name, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that its own rms_scaling is deprecated
        return getattr(keras.layers, name)(**kwargs)


def _positive_variances(weights, names):
    """Keras-order weights with a valid (positive) moving variance where there is one."""
    return [np.abs(w) + 0.1 if n == "moving_variance" else w for w, n in zip(weights, names, strict=True)]


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=IDS)
def test_matches_keras(keras, name, kwargs, shape):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*rms_scaling.*")  # Keras's own deprecation of its formula
        check_layer(lambda: getattr(N, name)(**kwargs), shape, keras_factory=lambda: _keras_layer(keras, name, kwargs),
                    keras=keras)


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=IDS)
def test_random_weights_match_keras(keras, name, kwargs, shape):
    """Beyond the default initial weights: the same random weights give the same outputs."""
    x = make_inputs(shape, seed=3)
    ours = getattr(N, name)(**kwargs)
    ours(torch.tensor(x))
    theirs = _keras_layer(keras, name, kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs(x)
    names = [w.path.split("/")[-1] for w in theirs.weights]
    rng = np.random.default_rng(7)
    weights = _positive_variances([rng.standard_normal(w.shape).astype("float32") for w in keras_weights(theirs)],
                                  names)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = to_numpy(theirs(x))
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=IDS)
def test_config_matches_keras(keras, name, kwargs, shape):
    ours = getattr(N, name)(**kwargs).get_config()
    theirs = _keras_layer(keras, name, kwargs).get_config()
    skip = {"name", "trainable", "dtype"}
    assert set(ours) - skip == set(theirs) - skip
    for key in set(theirs) - skip:
        if not key.endswith("initializer"):  # initializer dicts are lamina's own format
            assert ours[key] == theirs[key], key


# ------------------------------------------------------------------------------ BatchNormalization training
@pytest.mark.parametrize(("kwargs", "shape"), [
    ({}, (8, 4, 5, 3)),
    ({"axis": 1}, (8, 3, 4, 5)),
    ({"momentum": 0.8, "epsilon": 1e-4}, (6, 5)),
    ({"axis": -1, "center": False}, (4, 7, 3)),
    ({}, (1, 3)),  # one value per channel: a zero variance, which PyTorch's fused kernel refuses
])
def test_batchnorm_training_steps_match_keras(keras, kwargs, shape):
    ours, theirs = N.BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    first = make_inputs(shape, seed=0)
    ours(torch.tensor(first))
    theirs(first)
    names = [w.path.split("/")[-1] for w in theirs.weights]
    rng = np.random.default_rng(11)
    start = _positive_variances([rng.standard_normal(w.shape).astype("float32") for w in keras_weights(theirs)],
                                names)
    ours.set_weights(start)
    theirs.set_weights(start)
    for step in range(4):
        x = 2.0 * make_inputs(shape, seed=step + 1) + step  # shifted batches, so the statistics move
        got = ours(torch.tensor(x), training=True)
        want = to_numpy(theirs(x, training=True))
        np.testing.assert_allclose(to_numpy(got), want, atol=1e-5, rtol=1e-5, err_msg=f"step {step}")
        for g, w, n in zip(ours.get_weights(), keras_weights(theirs), names, strict=True):
            np.testing.assert_allclose(g, w, atol=1e-5, rtol=1e-5, err_msg=f"{n} after step {step}")
    # Inference now uses the moving statistics, in both.
    x = make_inputs(shape, seed=9)
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x), training=False)),
                               to_numpy(theirs(x, training=False)), atol=1e-5, rtol=1e-5)


def test_batchnorm_inference_uses_moving_statistics():
    layer = N.BatchNormalization(axis=1, epsilon=1e-3)
    x = torch.randn(4, 3, 2, 2)
    layer(x)
    mean, var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 1.0])
    gamma, beta = np.array([2.0, 1.0, -1.0]), np.array([0.0, 1.0, 3.0])
    layer.set_weights([gamma, beta, mean, var])
    want = (x.numpy() - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-3) * gamma[:, None, None] \
        + beta[:, None, None]
    np.testing.assert_allclose(to_numpy(layer(x)), want, atol=1e-5)
    np.testing.assert_allclose(to_numpy(layer(x, training=False)), want, atol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[2], mean)  # inference leaves the statistics alone


def test_batchnorm_weights_order_and_trainability():
    layer = N.BatchNormalization()
    layer(torch.randn(4, 3))
    assert [w.shape for w in layer.get_weights()] == [(3,)] * 4
    assert [id(w) for w in layer.trainable_weights] == [id(layer.gamma), id(layer.beta)]
    assert [id(w) for w in layer.non_trainable_weights] == [id(layer.moving_mean), id(layer.moving_variance)]


def test_batchnorm_training_gradients_match_the_formula():
    layer = N.BatchNormalization(axis=1)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    layer(x)
    layer.set_weights([np.array([1.5, 0.5, -1.0]), np.array([0.1, 0.2, 0.3]), np.zeros(3), np.ones(3)])
    probe = torch.randn(5, 3, 4, 4)
    (layer(x, training=True) * probe).sum().backward()
    got = [x.grad.clone(), layer.gamma.grad.clone(), layer.beta.grad.clone()]
    x.grad = None
    g = layer.gamma.detach().clone().requires_grad_(True)
    b = layer.beta.detach().clone().requires_grad_(True)
    var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0, keepdim=True)
    ref = (x - mean) / torch.sqrt(var + 1e-3) * g.view(1, 3, 1, 1) + b.view(1, 3, 1, 1)
    (ref * probe).sum().backward()
    for a, w in zip(got, [x.grad, g.grad, b.grad], strict=True):
        torch.testing.assert_close(a, w, atol=1e-5, rtol=1e-5)


def test_batchnorm_not_trainable_freezes_weights_and_statistics(keras):
    ours, theirs = N.BatchNormalization(), keras.layers.BatchNormalization()
    x = 3.0 * make_inputs((8, 4), seed=1) + 1.0
    ours(torch.tensor(x))
    theirs(x)
    start = [np.full(4, 1.5, "float32"), np.full(4, 0.5, "float32"), np.full(4, 0.2, "float32"),
             np.full(4, 2.0, "float32")]
    ours.set_weights(start)
    theirs.set_weights(start)
    ours.trainable = False
    theirs.trainable = False
    assert ours.trainable_weights == [] and len(ours.non_trainable_weights) == 4
    got = ours(torch.tensor(x), training=True)  # Keras 3: a frozen BatchNormalization runs in inference mode
    np.testing.assert_allclose(to_numpy(got), to_numpy(theirs(x, training=True)), atol=1e-5)
    np.testing.assert_allclose(to_numpy(got), to_numpy(ours(torch.tensor(x), training=False)), atol=1e-6)
    for w, s in zip(ours.get_weights(), start, strict=True):
        np.testing.assert_array_equal(w, s)
    # Back to trainable: training mode uses batch statistics again.
    ours.trainable = True
    ours(torch.tensor(x), training=True)
    assert not np.allclose(ours.get_weights()[2], start[2])


def test_batchnorm_with_mask_matches_keras(keras):
    x = make_inputs((3, 5, 4), seed=2)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)
    ours, theirs = N.BatchNormalization(momentum=0.5), keras.layers.BatchNormalization(momentum=0.5)
    got = ours(torch.tensor(x), training=True, mask=torch.tensor(mask))
    want = theirs(x, training=True, mask=keras.ops.convert_to_tensor(mask))
    np.testing.assert_allclose(to_numpy(got), to_numpy(want), atol=1e-5, rtol=1e-5)
    for g, w in zip(ours.get_weights(), keras_weights(theirs), strict=True):
        np.testing.assert_allclose(g, w, atol=1e-5, rtol=1e-5)
    assert torch.equal(got._keras_mask, torch.tensor(mask))  # the mask passes through


def test_batchnorm_in_sequential_fit():
    rng = np.random.default_rng(0)
    x = (3.0 * rng.standard_normal((64, 6, 6, 2)) + 2.0).astype("float32")
    y = rng.standard_normal((64, 1)).astype("float32")
    bn = N.BatchNormalization()
    model = lamina.Sequential([lamina.Input(shape=(6, 6, 2)), bn, lamina.layers.Flatten(),
                               lamina.layers.Dense(1)])
    model.compile(optimizer=lamina.optimizers.SGD(learning_rate=0.01), loss="mse")
    before = [w.copy() for w in bn.get_weights()]
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = bn.get_weights()
    for i in range(4):  # gamma, beta trained; moving statistics moved towards the data's (mean 2, variance 9)
        assert not np.allclose(after[i], before[i]), i
    assert np.all(after[2] > 0) and np.all(after[3] > 1)
    # Frozen: a further epoch changes none of its weights (nor the statistics).
    bn.trainable = False
    model.compile(optimizer=lamina.optimizers.SGD(learning_rate=0.01), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for w, a in zip(bn.get_weights(), after, strict=True):
        np.testing.assert_array_equal(w, a)


def test_batchnorm_bad_arguments():
    with pytest.raises(ValueError, match="axis"):
        N.BatchNormalization(axis=[1, 2])
    with pytest.raises(ValueError, match="renorm"):
        N.BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match="out of bounds"):
        N.BatchNormalization(axis=3)(torch.ones(2, 3))
    layer = N.BatchNormalization()
    layer(torch.ones(2, 3))
    with pytest.raises(ValueError, match="axis -1 of size 3"):
        layer(torch.ones(2, 4))


# ------------------------------------------------------------------------------ the others
@pytest.mark.parametrize("axes", [(1, 3), (1, 2), (3, 1), (1,)])  # Keras 3.15's torch backend fails on the last 3
def test_layernorm_multiple_axes_closed_form(axes):
    x = torch.randn(2, 3, 4, 5)
    layer = N.LayerNormalization(axis=list(axes), epsilon=1e-3)
    out = layer(x)
    shape = tuple(x.shape[a] for a in sorted(axes))
    assert tuple(layer.gamma.shape) == shape and tuple(layer.beta.shape) == shape
    var, mean = torch.var_mean(x, dim=axes, correction=0, keepdim=True)
    torch.testing.assert_close(out, (x - mean) / torch.sqrt(var + 1e-3), atol=1e-5, rtol=1e-5)


def test_layernorm_rms_scaling_has_no_beta():
    layer = N.LayerNormalization(rms_scaling=True, center=True)
    x = torch.randn(3, 6) + 2.0
    out = layer(x)
    assert layer.beta is None and [w.shape for w in layer.get_weights()] == [(6,)]
    var = x.var(dim=-1, correction=0, keepdim=True)
    torch.testing.assert_close(out, x / torch.sqrt(var + 1e-3))


def test_groupnorm_closed_form_and_bad_groups():
    x = torch.randn(2, 3, 3, 4)
    out = N.GroupNormalization(groups=2, epsilon=1e-3)(x)
    grouped = x.reshape(2, 3, 3, 2, 2)  # (batch, h, w, group, channel in group)
    var, mean = torch.var_mean(grouped, dim=(1, 2, 4), correction=0, keepdim=True)
    torch.testing.assert_close(out, ((grouped - mean) / torch.sqrt(var + 1e-3)).reshape(x.shape))
    with pytest.raises(ValueError, match="groups=3"):
        N.GroupNormalization(groups=3)(torch.ones(2, 4))


def test_unit_normalization_zero_vector():
    out = N.UnitNormalization()(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    torch.testing.assert_close(out, torch.tensor([[0.6, 0.8], [0.0, 0.0]]))


@pytest.mark.parametrize("cls", [N.LayerNormalization, N.GroupNormalization, N.UnitNormalization])
def test_masks_pass_through(cls):
    x = torch.randn(2, 4, 4)
    x._keras_mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    kwargs = {"groups": 2} if cls is N.GroupNormalization else {}
    out = cls(**kwargs)(x)
    assert torch.equal(out._keras_mask, x._keras_mask)
