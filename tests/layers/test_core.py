"""Core layers: Input/InputLayer, Dense, Activation, Dropout, Identity, TorchModuleWrapper.

Oracles: Keras 3 with copied weights, NumPy formulas, plain PyTorch modules."""

import json

import numpy as np
import pytest
import torch
from harness import check_layer, make_inputs, to_numpy
from torch import nn

import lamina
from lamina import initializers, layers


# ----------------------------------------------------------------------------- Input / InputLayer
def test_input_shapes_and_dtypes_match_keras(keras):
    cases = [
        {"shape": (28, 28, 1)},
        {"shape": (3,), "batch_size": 4},
        {"batch_shape": (2, None, 5)},
        {"shape": (None,), "dtype": "int32"},
    ]
    for kwargs in cases:
        ours, theirs = lamina.Input(**kwargs), keras.Input(**kwargs)
        assert ours.shape == tuple(theirs.shape), kwargs
        assert str(ours.dtype).replace("torch.", "") == theirs.dtype, kwargs


def test_input_int_shape_name_and_layer():
    x = layers.Input(shape=5, name="features")
    assert x.shape == (None, 5)
    assert x.name == "features"
    layer = x.node.layer
    assert isinstance(layer, layers.InputLayer) and layer.name == "features"
    assert layer.built and layer.weights == []


def test_input_layer_config_round_trip():
    layer = layers.InputLayer(shape=(4, 2), batch_size=3, name="inp")
    config = layer.get_config()
    assert config["batch_shape"] == (3, 4, 2) and config["name"] == "inp" and config["dtype"] == "float32"
    clone = layers.InputLayer.from_config(json.loads(json.dumps(config)))
    assert clone.batch_shape == (3, 4, 2) and clone.name == "inp"
    assert clone.output_tensor.shape == (3, 4, 2)


def test_string_inputs_as_keras_stay_numpy_on_the_host(keras):
    ours, theirs = lamina.Input(shape=(1,), dtype="string", name="city"), keras.Input(shape=(1,), dtype="string")
    assert ours.dtype == theirs.dtype == "string" and ours.shape == tuple(theirs.shape)
    config = json.loads(json.dumps(ours.node.layer.get_config()))
    assert config["dtype"] == "string"
    assert layers.InputLayer.from_config(config).output_tensor.dtype == "string"
    lookup = layers.StringLookup(vocabulary=["paris", "lyon"])
    model = lamina.Model(ours, layers.CategoryEncoding(num_tokens=3, output_mode="one_hot")(lookup(ours)))
    out = model.predict(np.array([["lyon"], ["nice"], ["paris"]]), verbose=0)
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])


def test_input_errors():
    with pytest.raises(ValueError, match="shape"):
        layers.Input()
    with pytest.raises(ValueError, match="[Ss]parse"):
        layers.Input(shape=(3,), sparse=True)


def test_input_feeds_a_model_that_checks_shapes():
    x = lamina.Input(shape=(3,))
    model = lamina.Model(x, layers.Dense(2)(x))
    assert model(torch.ones(5, 3)).shape == (5, 2)
    with pytest.raises(ValueError, match=r"\(None, 3\)"):
        model(torch.ones(5, 4))


# ----------------------------------------------------------------------------- Dense
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3), (2, 2, 3, 3)])
@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
def test_dense_against_keras(keras, shape, activation):
    check_layer(lambda: layers.Dense(4, activation=activation), shape,
                keras_factory=lambda: keras.layers.Dense(4, activation=activation), keras=keras,
                expected_output_shape=(*shape[:-1], 4))


def test_dense_without_bias_against_keras(keras):
    result = check_layer(lambda: layers.Dense(3, use_bias=False), (5, 2),
                         keras_factory=lambda: keras.layers.Dense(3, use_bias=False), keras=keras)
    assert [w.shape for w in result.layer.get_weights()] == [(2, 3)]
    assert result.layer.bias is None


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
def test_dense_applies_to_the_last_axis_numpy(shape):
    dense = layers.Dense(4, activation="tanh")
    x = make_inputs(shape, seed=3)
    dense(x)
    kernel, bias = (np.random.randn(3, 4).astype("float32"), np.random.randn(4).astype("float32"))
    dense.set_weights([kernel, bias])
    np.testing.assert_allclose(to_numpy(dense(x)), np.tanh(x @ kernel + bias), rtol=1e-5, atol=1e-6)


def test_dense_activation_callable():
    dense = layers.Dense(3, activation=lambda t: t * 2.0 - 1.0, kernel_initializer="ones", bias_initializer="ones")
    x = np.arange(8, dtype="float32").reshape(4, 2)
    expected = np.repeat(x.sum(1, keepdims=True) + 1.0, 3, axis=1) * 2.0 - 1.0
    np.testing.assert_allclose(to_numpy(dense(x)), expected)
    torch_dense = layers.Dense(3, activation=torch.sigmoid)
    y = torch_dense(x)
    np.testing.assert_allclose(to_numpy(y), 1 / (1 + np.exp(-(x @ to_numpy(torch_dense.kernel)))), rtol=1e-5)


def test_dense_initializers_by_name_and_object():
    x = np.ones((1, 4), "float32")
    dense = layers.Dense(2, kernel_initializer="zeros", bias_initializer=initializers.Constant(0.25))
    np.testing.assert_array_equal(to_numpy(dense(x)), np.full((1, 2), 0.25, "float32"))
    seeded = [layers.Dense(8, kernel_initializer=initializers.GlorotNormal(seed=7)) for _ in range(2)]
    for layer in seeded:
        layer(x)
    np.testing.assert_array_equal(seeded[0].get_weights()[0], seeded[1].get_weights()[0])
    assert seeded[0].get_config()["kernel_initializer"] == {"class_name": "GlorotNormal", "config": {"seed": 7}}


def test_dense_glorot_default_matches_keras_distribution(keras):
    ours = layers.Dense(200)
    ours(np.ones((1, 300), "float32"))
    kernel = ours.get_weights()[0]
    limit = np.sqrt(6 / (300 + 200))
    assert np.abs(kernel).max() <= limit and abs(kernel.std() - limit / np.sqrt(3)) < 0.005
    assert np.all(ours.get_weights()[1] == 0)


def test_dense_config_values():
    dense = layers.Dense(7, activation="swish", use_bias=False, name="d7")
    config = dense.get_config()
    assert config["units"] == 7 and config["activation"] == "silu" and config["use_bias"] is False
    assert config["name"] == "d7"


def test_dense_errors():
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="units"):
        layers.Dense(2.5)
    with pytest.raises(ValueError, match=r"last axis.*\(None, 3, None\)|\(None, 3, None\)"):
        layers.Dense(2, name="needs_width")(lamina.Input(shape=(3, None)))


# ----------------------------------------------------------------------------- Activation
KERAS_ACTIVATIONS = ["relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "softmax", "log_softmax", "gelu", "silu",
                     "swish", "elu", "selu", "leaky_relu", "softplus", "softsign", "exponential", "linear"]


@pytest.mark.parametrize("name", KERAS_ACTIVATIONS)
def test_activation_against_keras(keras, name):
    # Values across every branch (e.g. relu6's cap, hard_sigmoid's saturation), not only near zero.
    x = np.linspace(-7.0, 7.0, 2 * 3 * 10, dtype="float32").reshape(2, 3, 10)
    result = check_layer(lambda: layers.Activation(name), (2, 3, 10), inputs=x,
                         keras_factory=lambda: keras.layers.Activation(name), keras=keras)
    assert result.outputs.shape == x.shape


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("relu6", lambda x: np.clip(x, 0, 6)),
        ("hard_sigmoid", lambda x: np.clip(x + 3, 0, 6) / 6),
        ("leaky_relu", lambda x: np.where(x > 0, x, 0.2 * x)),
        ("softsign", lambda x: x / (1 + np.abs(x))),
        ("softmax", lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
        ("elu", lambda x: np.where(x > 0, x, np.expm1(x))),
    ],
)
def test_activation_formulas(name, formula):
    x = np.linspace(-8.0, 8.0, 40, dtype="float32").reshape(4, 10)
    np.testing.assert_allclose(to_numpy(layers.Activation(name)(x)), formula(x), rtol=1e-5, atol=1e-6)


def test_activation_callable_and_unknown_name():
    np.testing.assert_allclose(to_numpy(layers.Activation(torch.abs)(np.array([-2.0, 3.0], "float32"))), [2.0, 3.0])
    with pytest.raises(ValueError, match="rleu|relu"):
        layers.Activation("rleu")


# ----------------------------------------------------------------------------- Dropout
def test_dropout_identity_when_not_training_or_rate_zero():
    x = torch.randn(64, 32)
    torch.testing.assert_close(layers.Dropout(0.5)(x), x)
    torch.testing.assert_close(layers.Dropout(0.5)(x, training=False), x)
    torch.testing.assert_close(layers.Dropout(0.0)(x, training=True), x)


@pytest.mark.parametrize("seed", [None, 5])
@pytest.mark.parametrize("rate", [0.2, 0.6])
def test_dropout_training_zeros_about_rate_and_scales_the_rest(rate, seed):
    x = torch.rand(200, 500) + 0.5  # no zeros in the input
    y = layers.Dropout(rate, seed=seed)(x, training=True)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - rate) < 0.01
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - rate))


def test_dropout_rate_one_drops_everything(keras):
    x = np.ones((4, 6), "float32")
    expected = to_numpy(keras.layers.Dropout(1.0)(x, training=True))
    for layer in (layers.Dropout(1.0), layers.Dropout(1.0, seed=3), layers.Dropout(1.0, noise_shape=(None, 1))):
        np.testing.assert_array_equal(to_numpy(layer(x, training=True)), expected)


def test_dropout_noise_shape_broadcasts_the_mask():
    x = torch.rand(8, 50, 16) + 0.5
    y = layers.Dropout(0.5, noise_shape=(None, 1, 16))(x, training=True)
    mask = y != 0  # (8, 50, 16): the same along axis 1
    assert torch.equal(mask, mask[:, :1, :].expand_as(mask))
    assert 0.3 < mask.float().mean().item() < 0.7
    torch.testing.assert_close(y[mask], x[mask] * 2)
    z = layers.Dropout(0.5, noise_shape=(8, 50, 1))(x, training=True)
    assert torch.equal(z != 0, (z != 0)[:, :, :1].expand_as(z))


def test_dropout_seed_repeatability():
    x = torch.ones(1000)
    a, b = layers.Dropout(0.3, seed=42), layers.Dropout(0.3, seed=42)
    first_a, first_b = a(x, training=True), b(x, training=True)
    torch.testing.assert_close(first_a, first_b)  # same seed, same masks
    assert not torch.equal(a(x, training=True), first_a)  # the generator advances between calls, as in Keras
    assert not torch.equal(layers.Dropout(0.3, seed=43)(x, training=True), first_a)
    torch.manual_seed(1)
    u1 = layers.Dropout(0.3)(x, training=True)
    torch.manual_seed(1)
    u2 = layers.Dropout(0.3)(x, training=True)
    torch.testing.assert_close(u1, u2)  # unseeded: follows torch's global seed


def test_dropout_gradient_is_the_scaled_mask():
    x = torch.rand(100, 40, requires_grad=True)
    y = layers.Dropout(0.25, seed=0)(x, training=True)
    y.sum().backward()
    expected = (y.detach() != 0).float() / 0.75
    torch.testing.assert_close(x.grad, expected)


def test_dropout_harness_and_config():
    result = check_layer(lambda: layers.Dropout(0.3, noise_shape=(None, 1), seed=9), (4, 6))
    np.testing.assert_array_equal(result.outputs, result.inputs)  # inference mode: identity
    assert result.layer.get_config()["rate"] == 0.3


def test_dropout_rejects_bad_rate():
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.5)
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(-0.1)


# ----------------------------------------------------------------------------- Identity
def test_identity(keras):
    result = check_layer(layers.Identity, (3, 4, 5), keras_factory=keras.layers.Identity, keras=keras)
    np.testing.assert_array_equal(result.outputs, result.inputs)
    x = torch.randn(2, 3)
    assert torch.equal(layers.Identity()(x), x)
    nested = [x, {"k": x * 2}]
    out = layers.Identity()(nested)
    assert torch.equal(out[0], x) and torch.equal(out[1]["k"], x * 2)


# ----------------------------------------------------------------------------- TorchModuleWrapper
def test_wrapper_holds_module_weights_in_torch_layout():
    linear = nn.Linear(3, 2)
    layer = layers.TorchModuleWrapper(linear)
    x = torch.randn(5, 3)
    torch.testing.assert_close(layer(x), linear(x))
    assert layer.weights == [linear.weight, linear.bias]
    assert [w.shape for w in layer.get_weights()] == [(2, 3), (2,)]
    assert layer.name == "torch_module_wrapper"  # as Keras names it
    with pytest.raises(TypeError, match="serialize"):
        layer.get_config()
    with pytest.raises(TypeError, match="torch.nn.Module"):
        layers.TorchModuleWrapper(lambda t: t)


def test_wrapper_harness():
    check_layer(lambda: layers.TorchModuleWrapper(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))),
                (6, 4), check_config=False, lazy=False)


def test_wrapped_linear_in_sequential_trains():
    torch.manual_seed(0)
    model = lamina.Sequential([lamina.Input(shape=(3,)), layers.TorchModuleWrapper(nn.Linear(3, 1))])
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[2.0], [-1.0], [0.5]]) + 1.0
    assert model.output_shape == (None, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]
    linear = model.layers[0].module
    torch.testing.assert_close(linear.weight.detach(), torch.tensor([[2.0, -1.0, 0.5]]), atol=1e-2, rtol=0)


def test_wrapped_linear_trains_with_fit():
    model = lamina.Sequential([lamina.Input(shape=(3,)), nn.Linear(3, 1)])
    assert isinstance(model.layers[0], layers.TorchModuleWrapper)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 3)).astype("float32")
    y = x @ np.array([[2.0], [-1.0], [0.5]], "float32") + 1.0
    model.compile(optimizer=lamina.optimizers.SGD(learning_rate=0.1), loss="mse")
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.05 * history.history["loss"][0]


def test_lazy_torch_module_builds_from_the_first_input():
    layer = layers.TorchModuleWrapper(nn.LazyLinear(4))
    assert not layer.built
    y = layer(torch.randn(2, 3))
    assert y.shape == (2, 4)
    assert tuple(layer.module.weight.shape) == (4, 3)
    assert [w.shape for w in layer.get_weights()] == [(4, 3), (4,)]
    symbolic = layers.TorchModuleWrapper(nn.LazyLinear(5))
    out = symbolic(lamina.Input(shape=(7,)))
    assert out.shape == (None, 5)
    assert tuple(symbolic.module.weight.shape) == (5, 7) and not symbolic.module.weight.is_meta
    model = lamina.Sequential([lamina.Input(shape=(6,)), layers.TorchModuleWrapper(nn.LazyLinear(2))])
    assert model.output_shape == (None, 2) and model.count_params() == 14


def test_regularizers_and_constraints_survive_the_config_round_trip(keras):
    from lamina import constraints, regularizers

    layer = lamina.layers.Dense(3, kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.3),
                                kernel_constraint=constraints.MaxNorm(2.0))
    config = layer.get_config()
    theirs = keras.layers.Dense(3, kernel_regularizer="l2", bias_regularizer=keras.regularizers.L1(0.3),
                                kernel_constraint=keras.constraints.MaxNorm(2.0)).get_config()
    for key in ("kernel_regularizer", "bias_regularizer", "kernel_constraint"):
        assert config[key]["class_name"] == theirs[key]["class_name"]
        assert config[key]["config"] == pytest.approx(theirs[key]["config"])
    clone = lamina.layers.Dense.from_config(config)
    assert isinstance(regularizers.get(clone.kernel_regularizer), regularizers.L2)
    assert regularizers.get(clone.bias_regularizer).l1 == pytest.approx(0.3)
    assert constraints.get(clone.kernel_constraint).max_value == 2.0
    assert config["bias_constraint"] is None


@pytest.mark.parametrize("make", [lambda: layers.Dense(4, activation="relu"),
                                  lambda: layers.Conv2D(4, 3, activation="relu")], ids=["dense", "conv2d"])
def test_relu_in_place_on_the_layers_own_output_keeps_values_and_gradients(make):
    """The default ReLU rectifies the pre-activation in place: same outputs and gradients as the plain formula."""
    layer = make()
    x = torch.randn(2, 5, 5, 3, requires_grad=True) if isinstance(layer, layers.Conv2D) else torch.randn(
        6, 3, requires_grad=True)
    out = layer(x)
    linear = make()
    linear(x)  # built, then given the same weights and no activation
    linear.set_weights(layer.get_weights())
    linear.activation = lamina.activations.linear
    expected = torch.relu(linear(x))
    torch.testing.assert_close(out, expected)
    weights = [layer.kernel, layer.bias]
    grads = torch.autograd.grad((out * torch.arange(out.numel()).reshape(out.shape)).sum(), [x, *weights])
    ref_weights = [linear.kernel, linear.bias]
    ref = torch.autograd.grad((expected * torch.arange(out.numel()).reshape(out.shape)).sum(), [x, *ref_weights])
    for g, r in zip(grads, ref, strict=True):
        torch.testing.assert_close(g, r)
