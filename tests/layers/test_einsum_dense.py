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
    layer = EinsumDense("ab,bc->ac", 3, kernel_constraint="non_neg")
    layer(torch.ones(1, 2))
    with pytest.raises(ValueError, match="incompatible with kernel constraints"):  # as Keras
        layer.enable_lora(2)
    with pytest.raises(ValueError, match="Invalid quantization mode 'int4'"):
        layer.quantize("int4")
    with pytest.raises(ValueError, match="isn't yet built"):
        EinsumDense("ab,bc->ac", 3).quantize("int8")


@pytest.mark.filterwarnings("ignore:Layer InputLayer does not have a `quantize`:UserWarning")  # Keras's own
def test_model_quantize_quantizes_einsum_dense_as_keras(keras):
    """Keras's Model.quantize quantizes EinsumDense layers as well as Dense ones."""
    import lamina
    from lamina.layers.core import Dense

    model = lamina.Sequential([Input(shape=(4,)), EinsumDense("ab,bc->ac", 3), Dense(2)])
    theirs = keras.Sequential([keras.Input(shape=(4,)), keras.layers.EinsumDense("ab,bc->ac", 3),
                               keras.layers.Dense(2)])
    model.set_weights(keras_weights(theirs))
    model.quantize("int8")
    theirs.quantize("int8")
    assert [layer.quantization_mode for layer in model.layers] == ["int8", "int8"]
    x = make_inputs((5, 4))
    np.testing.assert_allclose(to_numpy(model(torch.tensor(x))), to_numpy(theirs(x)), rtol=1e-6, atol=1e-6)


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


# ----------------------------------------------------------------------------- LoRA and quantization (Keras 3.15)
QCASES = [  # (equation, output_shape, bias_axes, input shape)
    ("ab,bc->ac", 6, "c", (5, 4)),
    ("abc,cd->abd", (5, 6), "d", (2, 5, 4)),
    ("abc,cde->abde", (5, 2, 3), "de", (2, 5, 4)),
    ("abc,dc->abd", (3, 5), "bd", (2, 3, 4)),
    ("abcd,cde->abe", (3, 5), None, (2, 3, 4, 6)),  # two reduced input axes
    ("btd,ndh->btnh", (None, 2, 4), "nh", (2, 5, 3)),  # attention's projection
    ("abc,bcd->ad", 5, "d", (2, 3, 4)),  # two reduced kernel axes
]
QIDS = [c[0] for c in QCASES]


def _pair(keras, equation, output_shape, bias_axes, shape, seed=0):
    """The same EinsumDense in lamina and Keras, with the same random weights, and an input batch."""
    rng = np.random.default_rng(seed)
    x = (2 * rng.standard_normal(shape)).astype("float32")
    theirs = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes)
    ours = EinsumDense(equation, output_shape, bias_axes=bias_axes)
    theirs(x)
    ours(torch.tensor(x))
    weights = [rng.standard_normal(tuple(w.shape)).astype("float32") for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return ours, theirs, x


def _variables(weights):
    return [(w.path.split("/")[-1], str(w.dtype).replace("torch.", ""), tuple(w.shape)) for w in weights]


def _dequant_scale(theirs):
    """Keras's kernel scale laid back out along the kernel's axes (its _adjust_scale_for_dequant)."""
    return to_numpy(theirs._adjust_scale_for_dequant(theirs.kernel_scale))


def _same_lora_factors(ours, theirs, seed):
    """Give Keras's factors values that make a difference (B starts at zeros) and copy them into lamina's."""
    rng = np.random.default_rng(seed)
    theirs.lora_kernel_b.assign(rng.standard_normal(tuple(theirs.lora_kernel_b.shape)).astype("float32"))
    with torch.no_grad():
        ours.lora_kernel_a.copy_(torch.tensor(to_numpy(theirs.lora_kernel_a)))
        ours.lora_kernel_b.copy_(torch.tensor(to_numpy(theirs.lora_kernel_b)))


@pytest.mark.parametrize(("equation", "output_shape", "bias_axes", "shape"), QCASES, ids=QIDS)
def test_int8_matches_keras_weights_outputs_and_input_gradients(keras, equation, output_shape, bias_axes, shape):
    ours, theirs, x = _pair(keras, equation, output_shape, bias_axes, shape)
    ours.quantize("int8")
    theirs.quantize("int8")
    assert _variables(ours.weights) == _variables(theirs.weights)
    for a, b in zip(ours.weights, theirs.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=b.path)
    xt = torch.tensor(x, requires_grad=True)
    out = ours(xt)
    np.testing.assert_allclose(to_numpy(out), to_numpy(theirs(x)), rtol=1e-6, atol=1e-6)
    # Keras's custom gradient: the inputs' gradient is the float einsum's through the dequantized kernel
    out.sum().backward()
    kernel = to_numpy(theirs._kernel).astype("float32") / _dequant_scale(theirs)
    xf = torch.tensor(x, requires_grad=True)
    torch.einsum(equation, xf, torch.tensor(kernel)).sum().backward()
    np.testing.assert_allclose(to_numpy(xt.grad), to_numpy(xf.grad), rtol=1e-5, atol=1e-5)
    xk = torch.tensor(x, requires_grad=True)
    theirs(xk).sum().backward()
    np.testing.assert_allclose(to_numpy(xt.grad), to_numpy(xk.grad), rtol=1e-5, atol=1e-5)
    assert ours.dtype_policy.name == theirs.dtype_policy.name == "int8_from_float32"
    ours_cfg, theirs_cfg = ours.get_config(), theirs.get_config()
    assert ours_cfg["dtype"] == theirs_cfg["dtype"]
    stores = {}, {}
    ours.save_own_variables(stores[0])
    theirs.save_own_variables(stores[1])
    assert list(stores[0]) == list(stores[1])
    for key in stores[1]:
        np.testing.assert_array_equal(stores[0][key], to_numpy(stores[1][key]))


@pytest.mark.parametrize(("equation", "output_shape", "shape"), [
    ("abc,c->ab", (4,), (2, 4, 3)),  # Keras 3.15 misplaces the inputs' scale here: its output is (2, 2, 4)
    ("abcd,d->abc", (3, 5), (2, 3, 5, 6)),
    ("...b,bc->...c", 4, (2, 5, 3)),  # Keras 3.15 cannot quantize '...' equations
    ("ab...,bc->ac...", 4, (2, 3, 5)),
])
def test_int8_where_keras_fails_keeps_the_float_layers_shape_and_values(equation, output_shape, shape):
    x = 2 * torch.randn(shape)
    layer = EinsumDense(equation, output_shape)
    expected = layer(x)
    layer.quantize("int8")
    out = layer(x)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=0, atol=0.05 * float(expected.detach().abs().max()))


def test_int8_weight_only_config_matches_keras(keras):
    from keras.quantizers import Int8QuantizationConfig as KerasConfig

    from lamina.quantizers import Int8QuantizationConfig

    ours, theirs, x = _pair(keras, "abc,cde->abde", (5, 2, 3), "de", (2, 5, 4))
    ours.quantize("int8", config=Int8QuantizationConfig(activation_quantizer=None))
    theirs.quantize("int8", config=KerasConfig(activation_quantizer=None))
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), to_numpy(theirs(x)), rtol=1e-6, atol=1e-6)
    assert ours.get_config()["quantization_config"] == theirs.get_config()["quantization_config"]


def test_int8_of_an_ellipsis_equation_equals_the_spelled_out_one():
    """Keras 3.15 cannot quantize equations with '...' (its analysis takes the input's rank for a shape); lamina
    spells the elided axes out, so '...b,bc->...c' quantizes as 'xyb,bc->xyc' does."""
    x = torch.randn(2, 5, 4)
    short, spelled = EinsumDense("...b,bc->...c", 3, bias_axes="c"), EinsumDense("xyb,bc->xyc", (5, 3), bias_axes="c")
    short(x)
    spelled(x)
    spelled.set_weights(short.get_weights())
    short.quantize("int8")
    spelled.quantize("int8")
    torch.testing.assert_close(short.kernel_scale, spelled.kernel_scale)
    torch.testing.assert_close(short(x), spelled(x))


@pytest.mark.parametrize(("equation", "output_shape", "bias_axes", "shape"), QCASES[:6], ids=QIDS[:6])
def test_lora_matches_keras(keras, equation, output_shape, bias_axes, shape):
    ours, theirs, x = _pair(keras, equation, output_shape, bias_axes, shape)
    ours.enable_lora(2, lora_alpha=4.0)
    theirs.enable_lora(2, lora_alpha=4.0)
    assert _variables(ours.trainable_weights) == _variables(theirs.trainable_weights)
    assert _variables(ours.non_trainable_weights) == _variables(theirs.non_trainable_weights)
    _same_lora_factors(ours, theirs, seed=1)
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), to_numpy(theirs(x)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(ours.kernel), to_numpy(theirs.kernel), rtol=1e-6, atol=1e-6)
    ours_cfg, theirs_cfg = ours.get_config(), theirs.get_config()
    assert (ours_cfg["lora_rank"], ours_cfg["lora_alpha"]) == (theirs_cfg["lora_rank"], theirs_cfg["lora_alpha"])
    stores = {}, {}
    ours.save_own_variables(stores[0])
    theirs.save_own_variables(stores[1])
    assert list(stores[0]) == list(stores[1])  # the merged kernel, then the bias: the factors are not saved
    for key in stores[1]:
        np.testing.assert_allclose(stores[0][key], to_numpy(stores[1][key]), rtol=1e-6, atol=1e-6)


def test_lora_rank_argument_trains_only_the_factors(keras):
    ours = EinsumDense("abc,cde->abde", (5, 2, 3), bias_axes="de", lora_rank=2)
    theirs = keras.layers.EinsumDense("abc,cde->abde", (5, 2, 3), bias_axes="de", lora_rank=2)
    x = make_inputs((2, 5, 4))
    ours(torch.tensor(x))
    theirs(x)
    assert ours.lora_enabled and theirs.lora_enabled
    assert _variables(ours.trainable_weights) == _variables(theirs.trainable_weights)
    clone = EinsumDense.from_config(json.loads(json.dumps(ours.get_config())))
    clone(torch.tensor(x))
    assert clone.lora_enabled and clone.lora_rank == 2 and clone.lora_alpha == 2
    before = ours.kernel.detach().clone()
    optimizer = torch.optim.SGD(ours.parameters(), lr=0.1)
    ours(torch.tensor(x)).square().sum().backward()
    optimizer.step()
    assert not torch.equal(ours.kernel.detach(), before)  # B moved, so the merged kernel did
    assert torch.equal(ours._parameters["kernel"].detach(), before)  # the frozen kernel did not


@pytest.mark.parametrize(("equation", "output_shape", "bias_axes", "shape"), [QCASES[i] for i in (1, 2, 5)],
                         ids=[QIDS[i] for i in (1, 2, 5)])
def test_int8_with_lora_matches_keras_and_saves_the_requantized_merge(keras, equation, output_shape, bias_axes,
                                                                        shape):
    ours, theirs, x = _pair(keras, equation, output_shape, bias_axes, shape)
    for layer in (ours, theirs):
        layer.quantize("int8")
        layer.enable_lora(2)
    _same_lora_factors(ours, theirs, seed=2)
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), to_numpy(theirs(x)), rtol=1e-5, atol=1e-5)
    stores = {}, {}
    ours.save_own_variables(stores[0])
    theirs.save_own_variables(stores[1])
    assert list(stores[0]) == list(stores[1])
    for key in stores[1]:
        a, b = stores[0][key], to_numpy(stores[1][key])
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a.astype("float32"), b.astype("float32"), rtol=1e-5, atol=1.01)  # int8: +-1


def test_int8_with_lora_where_the_kernel_ends_in_a_reduced_axis():
    """'abc,dc->abd': Keras's int8 LoRA path (einsum through A, then @ B) fails there; lamina adds the same update
    (the float layer's) through the merged factors."""
    x = torch.randn(2, 3, 4)
    layer = EinsumDense("abc,dc->abd", (3, 5), bias_axes="d")
    layer(x)
    layer.quantize("int8")
    plain = layer(x)
    layer.enable_lora(2)
    with torch.no_grad():
        layer.lora_kernel_b.normal_()
    update = torch.einsum("abc,dc->abd", x, layer.lora_alpha / layer.lora_rank * layer.lora_kernel_a
                          @ layer.lora_kernel_b)
    torch.testing.assert_close(layer(x), plain + update)


@pytest.mark.parametrize(("equation", "output_shape", "bias_axes", "shape"), QCASES[1:3], ids=QIDS[1:3])
def test_float8_matches_keras_in_inference_and_training(keras, equation, output_shape, bias_axes, shape):
    import lamina

    ours, theirs, x = _pair(keras, equation, output_shape, bias_axes, shape)
    ours.quantize("float8")
    theirs.quantize("float8")
    assert _variables(ours.weights)[:2] == _variables(theirs.weights)[:2]
    assert [v[0] for v in _variables(ours.weights)] == [v[0] for v in _variables(theirs.weights)]
    x = 20 * x
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), to_numpy(theirs(x)), rtol=1e-5, atol=1e-4)
    assert ours.get_config()["dtype"] == theirs.get_config()["dtype"]
    ours_model = lamina.Sequential([Input(shape=shape[1:]), ours])
    theirs_model = keras.Sequential([keras.Input(shape=shape[1:]), theirs])
    y = np.random.default_rng(3).standard_normal(tuple(to_numpy(theirs(x)).shape)).astype("float32")
    ours_model.compile(optimizer=lamina.optimizers.SGD(0.01), loss="mse")
    theirs_model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    for _ in range(3):
        ours_model.train_on_batch(x, y)
        theirs_model.train_on_batch(x, y)
    for a, b in zip(ours.weights, theirs.weights, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-4, atol=1e-4, err_msg=b.path)


@pytest.mark.parametrize("mode", ["int8", "float8"])
def test_quantized_einsum_dense_goes_through_keras_files_both_ways(keras, tmp_path, mode):
    import lamina

    x = make_inputs((4, 5, 4))
    ours = lamina.Sequential([Input(shape=(5, 4)), EinsumDense("abc,cde->abde", (5, 2, 3), bias_axes="de")])
    ours.quantize(mode)
    ours.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(to_numpy(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0), atol=1e-5)
    theirs.save(tmp_path / "theirs.keras")
    back = lamina.saving.load_model(tmp_path / "theirs.keras")
    assert back.layers[0].quantization_mode == mode
    np.testing.assert_allclose(back.predict(x, verbose=0), ours.predict(x, verbose=0), atol=1e-5)
    ours.save(tmp_path / "ours.lamina")
    np.testing.assert_allclose(lamina.saving.load_model(tmp_path / "ours.lamina").predict(x, verbose=0),
                               ours.predict(x, verbose=0), atol=1e-6)
