"""EinsumDense against Keras 3 (torch backend): outputs and gradients on the same weights, weight shapes and order,
configs, and clear errors."""

import json

import numpy as np
import pytest
import torch
from harness import check_layer, keras_weights, make_inputs, random_weights_like, to_numpy

from lamina.layers.core import Input
from lamina.layers.einsum_dense import EinsumDense

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")

CASES = [
    (dict(equation="ab,bc->ac", output_shape=6), (3, 4)),
    (dict(equation="ab,bc->ac", output_shape=6, bias_axes="c", activation="relu"), (3, 4)),
    (dict(equation="abc,cd->abd", output_shape=(5, 6), bias_axes="d"), (2, 5, 4)),
    (dict(equation="abc,cde->abde", output_shape=(5, 2, 3), bias_axes="de"), (2, 5, 4)),
    (dict(equation="abc,cd->abd", output_shape=(5, 3), bias_axes="b"), (2, 5, 4)),
    (dict(equation="abc,bcd->ad", output_shape=5, bias_axes="d"), (2, 3, 4)),
    (dict(equation="abc,dc->abd", output_shape=(3, 5), bias_axes="bd"), (2, 3, 4)),
    (dict(equation="abcd,cde->abe", output_shape=(3, 5)), (2, 3, 4, 6)),
    (dict(equation="...b,bc->...c", output_shape=5, bias_axes="c"), (2, 3, 4)),
    (dict(equation="...bc,bcd->...d", output_shape=5, bias_axes="d", activation="tanh"), (2, 3, 4)),
    (dict(equation="ab...,bc->ac...", output_shape=5, bias_axes="c"), (2, 4, 3, 2)),
    (dict(equation="abc,cd->abd", output_shape=(5, 6), bias_axes="d", kernel_initializer="he_normal",
          bias_initializer="ones", kernel_regularizer="l2", kernel_constraint="non_neg"), (2, 5, 4)),
]
IDS = [c[0]["equation"] + f"-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize(("kwargs", "shape"), CASES, ids=IDS)
def test_matches_keras(keras, kwargs, shape):
    check_layer(lambda: EinsumDense(**kwargs), shape, keras_factory=lambda: keras.layers.EinsumDense(**kwargs),
                keras=keras)


@pytest.mark.parametrize(("kwargs", "shape"), CASES, ids=IDS)
def test_random_weights_and_gradients_match_keras(keras, kwargs, shape):
    x = make_inputs(shape, seed=4)
    theirs = keras.layers.EinsumDense(**kwargs)
    theirs(x)
    weights = random_weights_like(keras_weights(theirs), seed=9)
    theirs.set_weights(weights)
    ours = EinsumDense(**kwargs)
    ours(torch.tensor(x))
    ours.set_weights(weights)
    xt, kx = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, kout = ours(xt), theirs(kx)
    np.testing.assert_allclose(to_numpy(out), to_numpy(kout), atol=1e-5, rtol=1e-5)
    out.square().sum().backward()
    kout.square().sum().backward()
    np.testing.assert_allclose(to_numpy(xt.grad), to_numpy(kx.grad), atol=1e-4, rtol=1e-4)
    for ours_w, theirs_w in zip(ours.trainable_weights, theirs.trainable_weights, strict=True):
        np.testing.assert_allclose(to_numpy(ours_w.grad), to_numpy(theirs_w.value.grad), atol=1e-4, rtol=1e-4)
    assert [w.path.split("/")[-1] for w in theirs.weights] == ["kernel", "bias"][:len(weights)]


@pytest.mark.parametrize(("kwargs", "shape"), CASES, ids=IDS)
def test_config_matches_keras(keras, kwargs, shape):
    ours = EinsumDense(**kwargs).get_config()
    theirs = keras.layers.EinsumDense(**kwargs).get_config()
    assert list(ours) == list(theirs)
    for key in ("output_shape", "equation", "activation", "bias_axes"):
        assert json.loads(json.dumps(ours[key])) == json.loads(json.dumps(theirs[key]))


def test_output_size_taken_from_input():
    """``None`` in output_shape takes the input's size (also symbolically, with an unknown size)."""
    layer = EinsumDense("abc,cd->abd", output_shape=(None, 6), bias_axes="d")
    assert layer(torch.ones(2, 7, 4)).shape == (2, 7, 6)
    assert EinsumDense("abc,cd->abd", output_shape=(None, 6))(Input(shape=(None, 4))).shape == (None, None, 6)
    assert layer.full_output_shape == (2, 7, 6)


def test_masks_are_not_passed_on_as_in_keras():
    x = torch.ones(2, 3, 4)
    x._keras_mask = torch.tensor([[True, True, False]] * 2)
    layer = EinsumDense("abc,cd->abd", output_shape=(None, 6))
    assert getattr(layer(x), "_keras_mask", None) is None


def test_errors():
    with pytest.raises(ValueError, match="invalid einsum equation"):
        EinsumDense("abc->abd", 3)
    with pytest.raises(ValueError, match="invalid einsum equation"):
        EinsumDense("a...,bc->ac", 3)
    with pytest.raises(ValueError, match="bias axis 'x'"):
        EinsumDense("ab,bc->ac", 3, bias_axes="x")
    with pytest.raises(ValueError, match="must have 2 entries"):
        EinsumDense("abc,cd->abd", (3,))
    with pytest.raises(ValueError, match="do not match at shared dimension 'b'"):
        EinsumDense("abc,cd->abd", (7, 5))(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="weight dimension 'x'"):
        EinsumDense("abc,cdx->abd", (None, 5))(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="rank 3"):
        EinsumDense("abc,cd->abd", (None, 5))(torch.ones(2, 4))
    with pytest.raises(ValueError, match="size of kernel axis 'c'"):
        EinsumDense("abc,cd->abd", (None, 5))(Input(shape=(3, None)))
    with pytest.raises(NotImplementedError, match="LoRA"):
        EinsumDense("ab,bc->ac", 3, lora_rank=2)
    layer = EinsumDense("ab,bc->ac", 3)
    layer(torch.ones(1, 2))
    with pytest.raises(NotImplementedError, match="quantization"):
        layer.quantize("int8")
    with pytest.raises(NotImplementedError, match="LoRA"):
        layer.enable_lora(2)


def test_quantize_model_skips_einsum_dense():
    """A model holding an EinsumDense still quantizes its Dense layers."""
    import lamina
    from lamina.layers.core import Dense

    model = lamina.Sequential([Input(shape=(4,)), EinsumDense("ab,bc->ac", 3), Dense(2)])
    model(torch.ones(1, 4))
    model.quantize("int8")
    assert model.layers[1].quantization_mode == "int8" and model.layers[0].quantization_mode is None
    assert model(torch.ones(1, 4)).shape == (1, 2)


def test_keras_weights_load_into_a_model_layer(keras):
    data = make_inputs((2, 3, 4))
    theirs = keras.layers.EinsumDense("abc,cde->abde", output_shape=(3, 2, 5), bias_axes="e")
    theirs(data)
    ours = EinsumDense("abc,cde->abde", output_shape=(3, 2, 5), bias_axes="e")
    ours(torch.tensor(data))
    ours.set_weights(keras_weights(theirs))
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(data))), to_numpy(theirs(data)), atol=1e-5)


@pytest.mark.parametrize(("equation", "output_shape", "shape", "init"), [
    ("abc,cde->abde", (None, 64, 32), (1, 2, 256), "glorot_uniform"),
    ("abc,dc->abd", (None, 300), (1, 2, 40), "he_normal"),
    ("abc,bcd->ad", 100, (1, 30, 20), "lecun_normal"),
    ("...b,bc->...c", 50, (2, 3, 200), "glorot_normal"),
])
def test_initial_scale_matches_keras(keras, equation, output_shape, shape, init):
    """Fan-based initializers see the kernel as (input axes, output axes), as Keras's EinsumDense does."""
    theirs = keras.layers.EinsumDense(equation, output_shape, kernel_initializer=init)
    theirs(np.ones(shape, "float32"))
    ours = EinsumDense(equation, output_shape, kernel_initializer=init)
    ours(torch.ones(shape))
    np.testing.assert_allclose(ours.get_weights()[0].std(), keras_weights(theirs)[0].std(), rtol=0.05)
