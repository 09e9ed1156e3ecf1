"""Regularization layers: the harness with Keras 3 twins in inference mode, statistics of the noise in training
mode, seeds, and ActivityRegularization's penalty in the training loss."""

import numpy as np
import pytest
import torch
from harness import check_layer, make_inputs, to_numpy

import lamina
from lamina import layers
from lamina.layers import regularization as R

CASES = [
    ("SpatialDropout1D", {"rate": 0.5}, (2, 5, 3)),
    ("SpatialDropout2D", {"rate": 0.3}, (2, 4, 5, 3)),
    ("SpatialDropout2D", {"rate": 0.3, "data_format": "channels_first", "seed": 3}, (2, 3, 4, 5)),
    ("SpatialDropout3D", {"rate": 0.2}, (2, 3, 2, 4, 2)),
    ("GaussianNoise", {"stddev": 0.5}, (3, 4)),
    ("GaussianNoise", {"stddev": 1.0, "seed": 1}, (2, 3, 4)),
    ("GaussianDropout", {"rate": 0.4}, (3, 4)),
    ("AlphaDropout", {"rate": 0.2}, (3, 4)),
    ("AlphaDropout", {"rate": 0.2, "noise_shape": (None, 1, 4), "seed": 2}, (3, 5, 4)),
    ("ActivityRegularization", {"l1": 0.1, "l2": 0.01}, (3, 4)),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=IDS)
def test_inference_mode_matches_keras(keras, name, kwargs, shape):
    result = check_layer(lambda: getattr(R, name)(**kwargs), shape,
                         keras_factory=lambda: getattr(keras.layers, name)(**kwargs), keras=keras)
    np.testing.assert_array_equal(result.outputs, result.inputs)  # inference mode: the identity


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=IDS)
def test_config_matches_keras(keras, name, kwargs, shape):
    ours = getattr(R, name)(**kwargs).get_config()
    theirs = getattr(keras.layers, name)(**kwargs).get_config()
    for key in set(theirs) - {"name", "trainable", "dtype"}:
        assert ours[key] == theirs[key], key
    assert set(ours) - {"name", "trainable", "dtype"} == set(theirs) - {"name", "trainable", "dtype"}


def _train(layer, x):
    return layer(torch.as_tensor(x), training=True)


@pytest.mark.parametrize(("cls", "shape", "channels_axis"), [
    (lambda: R.SpatialDropout1D(0.4), (64, 7, 32), -1),
    (lambda: R.SpatialDropout2D(0.4), (64, 5, 6, 32), -1),
    (lambda: R.SpatialDropout2D(0.4, data_format="channels_first"), (64, 32, 5, 6), 1),
    (lambda: R.SpatialDropout3D(0.4), (32, 3, 4, 2, 32), -1),
])
def test_spatial_dropout_zeros_whole_channels(cls, shape, channels_axis):
    x = torch.rand(shape) + 0.5  # strictly positive, so a zero can only come from the mask
    y = _train(cls(), x)
    ratio = (y / x).movedim(channels_axis, 1).reshape(shape[0], shape[channels_axis], -1)  # (B, C, spatial)
    assert torch.allclose(ratio, ratio[..., :1].expand_as(ratio))  # one draw per (sample, channel)
    values = ratio[..., 0]
    dropped = values == 0
    assert torch.allclose(values[~dropped], torch.full_like(values[~dropped], 1 / 0.6))
    assert abs(dropped.float().mean().item() - 0.4) < 0.06


def test_gaussian_noise_statistics():
    x = torch.randn(400, 250)
    noise = _train(R.GaussianNoise(0.3), x) - x
    assert abs(noise.mean().item()) < 0.01
    assert abs(noise.std().item() - 0.3) < 0.01


def test_gaussian_dropout_keeps_the_mean():
    x = torch.full((400, 250), 2.0)
    y = _train(R.GaussianDropout(0.2), x)
    assert abs(y.mean().item() - 2.0) < 0.02
    assert abs((y / x).std().item() - (0.2 / 0.8) ** 0.5) < 0.01


def test_alpha_dropout_keeps_selu_mean_and_variance():
    x = torch.nn.functional.selu(torch.randn(400, 500))  # mean ~0, variance ~1: SELU's fixed point
    y = _train(R.AlphaDropout(0.3), x)
    assert abs(y.mean().item()) < 0.02
    assert abs(y.var().item() - 1.0) < 0.03


def test_alpha_dropout_values_follow_keras(keras):
    # Masks differ (different RNGs), but both must map kept x to a*x + b and dropped entries to one constant.
    rate = 0.25
    x = make_inputs((50, 40), seed=3)
    ours = to_numpy(_train(R.AlphaDropout(rate), x))
    theirs = to_numpy(keras.layers.AlphaDropout(rate)(x, training=True))
    alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    for out in (ours, theirs):
        kept = np.isclose(out, a * x + b, atol=1e-6)
        np.testing.assert_allclose(out[~kept], a * alpha_p + b, atol=1e-6)
        assert 0.15 < 1 - kept.mean() < 0.35


def test_alpha_dropout_noise_shape_broadcasts():
    x = torch.rand(8, 6, 5) + 1.0  # kept entries map above the dropped constant (SELU's floor is about -1.76)
    y = _train(R.AlphaDropout(0.5, noise_shape=(None, 1, 5)), x)
    drop_mask = y < y.min() + 1e-5
    assert 0 < drop_mask.float().mean() < 1
    assert torch.equal(drop_mask, drop_mask[:, :1, :].expand_as(drop_mask))  # one draw per (sample, feature)


@pytest.mark.parametrize("make", [
    lambda seed: R.SpatialDropout2D(0.5, seed=seed), lambda seed: R.GaussianNoise(1.0, seed=seed),
    lambda seed: R.GaussianDropout(0.5, seed=seed), lambda seed: R.AlphaDropout(0.5, seed=seed),
])
def test_seeds_repeat(make):
    x = torch.randn(4, 3, 3, 8)
    first, second = make(7), make(7)
    a1, a2 = _train(first, x), _train(first, x)
    assert torch.equal(a1, _train(second, x)) and torch.equal(a2, _train(second, x))
    assert not torch.equal(a1, a2)  # the generator moves on between calls
    assert not torch.equal(a1, _train(make(8), x))
    torch.manual_seed(11)
    u1 = _train(make(None), x)
    torch.manual_seed(11)
    assert torch.equal(u1, _train(make(None), x))


def test_random_layers_act_only_in_training():
    x = torch.randn(4, 3, 3, 8)
    for layer in (R.SpatialDropout2D(0.5), R.GaussianNoise(1.0), R.GaussianDropout(0.5), R.AlphaDropout(0.5)):
        assert torch.equal(layer(x), x)
        assert torch.equal(layer(x, training=False), x)
        layer.train()  # torch's mode flag counts as training, like Dropout's
        assert not torch.equal(layer(x), x)
    assert torch.equal(R.SpatialDropout1D(0.0)(x[..., 0], training=True), x[..., 0])


def test_invalid_arguments():
    with pytest.raises(ValueError, match="rate"):
        R.SpatialDropout2D(1.5)
    with pytest.raises(ValueError, match="data_format"):
        R.SpatialDropout3D(0.5, data_format="ndhwc")
    with pytest.raises(ValueError, match="stddev"):
        R.GaussianNoise(-1.0)
    with pytest.raises(ValueError, match="seed"):
        R.GaussianDropout(0.1, seed="1")
    with pytest.raises(ValueError, match="l2"):
        R.ActivityRegularization(l2=-0.1)
    with pytest.raises(ValueError, match="rank 4"):
        R.SpatialDropout2D(0.5)(torch.ones(2, 3, 4))


# ------------------------------------------------------------------------------------- activity penalty
def test_activity_penalty_matches_keras(keras):
    x = make_inputs((5, 4), seed=2)
    ours, theirs = R.ActivityRegularization(l1=0.1, l2=0.3), keras.layers.ActivityRegularization(l1=0.1, l2=0.3)
    ours(torch.tensor(x))
    theirs(x)
    assert len(ours.losses) == 1 and len(theirs.losses) == 1
    np.testing.assert_allclose(ours.losses[0].item(), float(to_numpy(theirs.losses[0])), rtol=1e-6)
    np.testing.assert_allclose(ours.losses[0].item(), (0.1 * np.abs(x).sum() + 0.3 * (x**2).sum()) / 5, rtol=1e-6)
    ours(torch.tensor(x))
    assert len(ours.losses) == 1  # a new call replaces the penalty, as in Keras


def test_activity_penalty_joins_the_training_loss():
    model = lamina.Sequential([layers.Input(shape=(4,)), layers.Dense(3), R.ActivityRegularization(l2=0.1)])
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((4, 3)).astype("float32")
    bias = rng.standard_normal(3).astype("float32")
    model.set_weights([kernel, bias])
    model.compile(optimizer=lamina.optimizers.SGD(0.01), loss="mse")
    x = rng.standard_normal((8, 4)).astype("float32")
    y = rng.standard_normal((8, 3)).astype("float32")
    h = x @ kernel + bias
    expected = np.mean((h - y) ** 2) + 0.1 * np.sum(h**2) / 8
    np.testing.assert_allclose(model.test_on_batch(x, y), expected, rtol=1e-5)
    np.testing.assert_allclose(model.train_on_batch(x, y), expected, rtol=1e-5)
    # The penalty's gradient reached the weights: the step matches one of data loss + penalty.
    grad_h = 2 * (h - y) / y.size + 0.2 * h / 8
    np.testing.assert_allclose(model.get_weights()[0], kernel - 0.01 * x.T @ grad_h, rtol=1e-4, atol=1e-6)
