"""Wrapper and SpectralNormalization against Keras 3 (torch backend): weights order and layout, the power
iteration step by step in training, inference, gradients, configs (the wrapped layer's), saving and errors."""

import json

import numpy as np
import pytest
import torch
from harness import check_layer, keras_weights, make_inputs, random_weights_like, to_numpy

import lamina
from lamina.layers.conv import Conv1D, Conv2D
from lamina.layers.core import Dense, Input
from lamina.layers.embedding import Embedding
from lamina.layers.wrappers import SpectralNormalization, Wrapper

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")

CASES = {  # name: (lamina factory, Keras factory (given keras), input shape)
    "dense": (lambda: Dense(3), lambda k: k.layers.Dense(3), (2, 5, 4)),
    "dense_2_iterations": (lambda: Dense(3, use_bias=False), lambda k: k.layers.Dense(3, use_bias=False), (4, 6)),
    "conv1d": (lambda: Conv1D(3, 2), lambda k: k.layers.Conv1D(3, 2), (2, 5, 4)),
    "conv2d": (lambda: Conv2D(4, (2, 3), padding="same"), lambda k: k.layers.Conv2D(4, (2, 3), padding="same"),
               (2, 5, 6, 3)),
}
ITERATIONS = {"dense_2_iterations": 2}


def _make(name, keras=None):
    ours, theirs, shape = CASES[name]
    n = ITERATIONS.get(name, 1)
    if keras is None:
        return SpectralNormalization(ours(), power_iterations=n)
    return keras.layers.SpectralNormalization(theirs(keras), power_iterations=n)


@pytest.mark.parametrize("name", sorted(CASES))
def test_contract_and_keras_inference(keras, name):
    check_layer(lambda: _make(name), CASES[name][2], keras_factory=lambda: _make(name, keras), keras=keras)


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_steps_match_keras(keras, name):
    """Three training calls: the same vector_u, normalized kernel and outputs as Keras after each, and the same
    gradients (which reach the kernel as Keras's do)."""
    x = make_inputs(CASES[name][2], seed=1)
    theirs = _make(name, keras)
    theirs(x)
    weights = random_weights_like(keras_weights(theirs), seed=4)
    theirs.set_weights(weights)
    ours = _make(name)
    ours(torch.tensor(x))
    ours.set_weights(weights)
    for _ in range(3):
        xt, kx = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, k_out = ours(xt, training=True), theirs(kx, training=True)
        np.testing.assert_allclose(to_numpy(out), to_numpy(k_out), atol=1e-5, rtol=1e-5)
        for got, want in zip(ours.get_weights(), keras_weights(theirs), strict=True):
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
        for w in ours.trainable_weights:
            w.grad = None
        out.square().sum().backward()
        k_out.square().sum().backward()
        np.testing.assert_allclose(to_numpy(xt.grad), to_numpy(kx.grad), atol=1e-4, rtol=1e-4)
        kernel_grad = to_numpy(ours.layer.weight_to_keras("kernel", ours.layer._parameters["kernel"].grad))
        np.testing.assert_allclose(kernel_grad, to_numpy(theirs.layer.kernel.value.grad), atol=1e-4, rtol=1e-4)
        theirs.layer.kernel.value.grad = None
    # Inference leaves the weights alone.
    before = ours.get_weights()
    ours(torch.tensor(x))
    for a, b in zip(before, ours.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_embeddings_are_normalized_like_keras(keras):
    ids = np.array([[1, 2, 3], [4, 0, 1]])
    theirs = keras.layers.SpectralNormalization(keras.layers.Embedding(6, 3))
    theirs(ids)
    weights = random_weights_like(keras_weights(theirs), seed=2)
    theirs.set_weights(weights)
    ours = SpectralNormalization(Embedding(6, 3))
    ours(torch.tensor(ids))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights] == [(6, 3), (1, 3)]
    assert ours.kernel is ours.layer._parameters["embeddings"] and ours.kernel_shape == theirs.kernel_shape
    ours.set_weights(weights)
    out = ours(torch.tensor(ids), training=True)
    theirs(ids, training=True)  # (Keras's torch backend returns integer zeros here; its weights are right)
    for got, want in zip(ours.get_weights(), keras_weights(theirs), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(out), keras_weights(theirs)[0][ids], atol=1e-6)


def test_weight_order_and_paths(keras):
    layer = SpectralNormalization(Dense(3, name="d"), name="sn")
    layer(torch.ones(2, 4))
    theirs = keras.layers.SpectralNormalization(keras.layers.Dense(3, name="d"), name="sn")
    theirs(np.ones((2, 4), "float32"))
    assert [w.path for w in layer.weights] == [w.path for w in theirs.weights] == [
        "sn/d/kernel", "sn/vector_u", "sn/d/bias"]
    assert [w.requires_grad for w in layer.weights] == [w.trainable for w in theirs.weights] == [True, False, True]
    assert len(layer.trainable_weights) == 2 and len(list(layer.parameters())) == 2
    assert layer.kernel is layer.layer.kernel and layer.kernel_shape == tuple(theirs.kernel_shape) == (4, 3)
    conv = SpectralNormalization(Conv2D(5, 3))
    conv(torch.ones(1, 6, 6, 2))
    assert conv.kernel_shape == (3, 3, 2, 5) and conv.get_weights()[0].shape == (3, 3, 2, 5)


def test_regularizer_counts_once():
    layer = SpectralNormalization(Dense(3, kernel_regularizer="l2"))
    layer(torch.ones(2, 4))
    assert len(layer.losses) == 1


def test_config_matches_keras(keras):
    ours = SpectralNormalization(Dense(3), power_iterations=2)
    theirs = keras.layers.SpectralNormalization(keras.layers.Dense(3), power_iterations=2).get_config()
    cfg = ours.get_config()
    assert list(cfg) == list(theirs)
    assert cfg["power_iterations"] == 2 and cfg["layer"]["class_name"] == theirs["layer"]["class_name"] == "Dense"
    assert set(cfg["layer"]) == set(theirs["layer"])
    ours(torch.ones(2, 4))
    built = ours.get_config()["layer"]
    assert built["build_config"] == {"input_shape": [2, 4]} or tuple(built["build_config"]["input_shape"]) == (2, 4)
    clone = SpectralNormalization.from_config(json.loads(json.dumps(ours.get_config())))
    assert clone.layer.built and clone.power_iterations == 2


def test_in_a_model_trains_and_saves(tmp_path):
    inputs = Input(shape=(4,))
    outputs = SpectralNormalization(Dense(2))(inputs)
    model = lamina.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((16, 4)).astype("float32")
    y = np.random.default_rng(1).standard_normal((16, 2)).astype("float32")
    model.fit(x, y, epochs=2, verbose=0)
    layer = model.layers[-1]
    kernel = layer.get_weights()[0]
    assert np.linalg.svd(kernel, compute_uv=False)[0] < 1.5  # normalized towards a unit spectral norm
    path = tmp_path / "sn.keras"
    model.save(path)
    loaded = lamina.saving.load_model(path, custom_objects={"SpectralNormalization": SpectralNormalization})
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_wrapper_base():
    class Twice(Wrapper):
        def call(self, inputs):
            return 2 * self.layer(inputs)

    inner = Dense(3)
    layer = Twice(inner)
    out = layer(torch.ones(2, 4))
    assert out.shape == (2, 3) and inner.built and layer.get_weights()[0].shape == (4, 3)
    assert layer.get_config()["layer"]["class_name"] == "Dense"
    with pytest.raises(NotImplementedError, match="call"):
        Wrapper(Dense(3))(torch.ones(2, 4))


def test_wrapper_config_matches_keras(keras):
    ours, theirs = Wrapper(Dense(3)).get_config(), keras.layers.Wrapper(keras.layers.Dense(3)).get_config()
    assert list(ours) == list(theirs) and list(ours["layer"]) == list(theirs["layer"])


def test_errors():
    with pytest.raises(ValueError, match="isn't a supported layer type"):
        SpectralNormalization("dense")
    with pytest.raises(ValueError, match="power_iterations"):
        SpectralNormalization(Dense(3), power_iterations=0)
    with pytest.raises(ValueError, match="nor 'embeddings'"):
        SpectralNormalization(lamina.layers.ReLU())(torch.ones(2, 3))
