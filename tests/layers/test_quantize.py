"""``quantize("int8" | "float8")`` of Dense and Embedding (and Model.quantize) against Keras 3.15 as the oracle:
outputs after quantization, variable names, dtypes and shapes, configs, training, saving in lamina's format."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import layers


def to_numpy(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _data(shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype("float32")


def _variables(layer_weights):
    """(name, dtype, shape) of each weight, Keras's or lamina's."""
    out = []
    for w in layer_weights:
        name = w.path.split("/")[-1]
        out.append((name, str(w.dtype).replace("torch.", ""), tuple(w.shape)))
    return out


def _pair_dense(keras, units=4, in_dim=6, activation=None, seed=0):
    kernel, bias = _data((in_dim, units), seed, 0.5), _data((units,), seed + 1)
    ours, theirs = layers.Dense(units, activation=activation), keras.layers.Dense(units, activation=activation)
    ours.build((None, in_dim))
    theirs.build((None, in_dim))
    ours.set_weights([kernel, bias])
    theirs.set_weights([kernel, bias])
    return ours, theirs


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("shape", [(5, 6), (2, 3, 6)])
def test_int8_dense_matches_keras(keras, activation, shape):
    ours, theirs = _pair_dense(keras, activation=activation)
    ours.quantize("int8")
    theirs.quantize("int8")
    x = _data(shape, seed=3, scale=2.0)
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), to_numpy(theirs(x)), rtol=1e-6, atol=1e-6)
    assert _variables(ours.weights) == _variables(theirs.weights)
    assert _variables(ours.trainable_weights) == _variables(theirs.trainable_weights)
    np.testing.assert_array_equal(to_numpy(ours.kernel), to_numpy(theirs.kernel))
    np.testing.assert_array_equal(to_numpy(ours.kernel_scale), to_numpy(theirs.kernel_scale))
    assert ours.quantization_mode == theirs.quantization_mode == "int8"
    assert ours.dtype_policy.name == theirs.dtype_policy.name == "int8_from_float32"
    ours_cfg, theirs_cfg = ours.get_config(), theirs.get_config()
    for key in ("dtype", "quantization_config"):
        assert ours_cfg[key] == theirs_cfg[key]


def test_float_dense_config_has_keras_entries(keras):
    ours, theirs = _pair_dense(keras)
    assert ours.get_config()["quantization_config"] is None is theirs.get_config()["quantization_config"]
    assert ("lora_rank" in ours.get_config()) == ("lora_rank" in theirs.get_config())


def test_int8_dense_gradient_reaches_inputs_and_bias_as_keras(keras):
    ours, theirs = _pair_dense(keras)
    ours.quantize("int8")
    theirs.quantize("int8")
    x = _data((5, 6), seed=4)
    grads = []
    for layer in (ours, theirs):
        t = torch.tensor(x, requires_grad=True)
        out = layer(t)
        (out * torch.arange(20.0).reshape(5, 4)).sum().backward()
        bias = layer.bias if layer is ours else layer.bias.value
        grads.append((to_numpy(t.grad), to_numpy(bias.grad)))
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_int8_embedding_matches_keras(keras):
    table = _data((10, 4), seed=5)
    ours, theirs = layers.Embedding(10, 4), keras.layers.Embedding(10, 4)
    ours.build()
    theirs.build()
    ours.set_weights([table])
    theirs.set_weights([table])
    ours.quantize("int8")
    theirs.quantize("int8")
    ids = np.array([[1, 2, 9], [0, 0, 3]])
    np.testing.assert_array_equal(to_numpy(ours(torch.tensor(ids))), to_numpy(theirs(ids)))
    assert _variables(ours.weights) == _variables(theirs.weights)
    for key in ("dtype", "quantization_config"):
        assert ours.get_config()[key] == theirs.get_config()[key]


def _models(keras, lib_pairs=True):
    def build(lib):
        inputs = lib.Input((6,))
        x = lib.layers.Dense(8, activation="relu", name="d1")(inputs)
        return lib.Model(inputs, lib.layers.Dense(3, name="d2")(x))

    ours, theirs = build(lamina), build(keras)
    ours.set_weights([to_numpy(w) for w in theirs.get_weights()])
    return ours, theirs


def test_model_quantize_int8_predict_matches_keras(keras):
    ours, theirs = _models(keras)
    x = _data((16, 6), seed=6, scale=3.0)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    ours.quantize("int8")
    theirs.quantize("int8")
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    assert _variables(ours.weights) == _variables(theirs.weights)


def test_model_quantize_filters_and_errors():
    model = lamina.Sequential([layers.Input((4,)), layers.Dense(3, name="keep"), layers.Dense(2, name="q")])
    model.quantize("int8", filters="^q$")
    assert model.layers[0].quantization_mode is None and model.layers[1].quantization_mode == "int8"
    with pytest.raises(ValueError, match="supported modes are 'int8', 'float8'"):
        model.quantize("int4")
    with pytest.raises(ValueError, match="already quantized"):
        model.layers[1].quantize("int8")
    with pytest.raises(ValueError, match="already quantized"):
        model.quantize("int8")
    with pytest.warns(UserWarning, match="no layer that can be quantized"):
        lamina.Sequential([layers.Input((3,)), layers.Flatten()]).quantize("int8")
    with pytest.raises(ValueError, match="isn't yet built"):
        layers.Dense(2).quantize("int8")
    emb = layers.Embedding(5, 2)
    emb.build()
    with pytest.raises(ValueError, match="supported modes are 'int8'"):
        emb.quantize("float8")


def test_quantized_model_saves_and_loads(tmp_path):
    model = lamina.Sequential([layers.Input((3,), dtype="int32"), layers.Embedding(10, 4), layers.Flatten(),
                               layers.Dense(5)])
    ids = np.array([[1, 2, 3], [4, 5, 9]])
    model.quantize("int8")
    expected = model.predict(ids, verbose=0)
    path = os.path.join(tmp_path, "q.lamina")
    model.save(path)
    again = lamina.models.load_model(path)
    np.testing.assert_array_equal(again.predict(ids, verbose=0), expected)
    dense = again.layers[-1]
    assert dense.kernel.dtype == torch.int8 and dense.quantization_mode == "int8"
    assert again.layers[0].embeddings.dtype == torch.int8
    assert dense.get_config()["dtype"]["config"] == {"mode": "int8", "source_name": "float32"}
    rebuilt = layers.Dense.from_config({**dense.get_config(), "dtype": "int8_from_float32"})
    assert rebuilt.dtype_policy.name == "int8_from_float32"


def test_float8_dense_predict_and_variables_match_keras(keras):
    ours, theirs = _pair_dense(keras)
    ours.quantize("float8")
    theirs.quantize("float8")
    x = _data((5, 6), seed=7, scale=50.0)
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), to_numpy(theirs(x)), rtol=1e-5, atol=1e-4)
    assert _variables(ours.weights) == _variables(theirs.weights)
    assert ours.get_config()["dtype"] == theirs.get_config()["dtype"]
    assert ours.get_config()["quantization_config"] == theirs.get_config()["quantization_config"]


def test_float8_training_matches_keras(keras):
    ours, theirs = _models(keras)
    ours.quantize("float8")
    theirs.quantize("float8")
    x, y = _data((8, 6), seed=8, scale=20.0), _data((8, 3), seed=9)
    ours.compile(optimizer=lamina.optimizers.SGD(0.01), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    for _ in range(3):
        ours.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
    for a, b in zip(ours.weights, theirs.weights, strict=True):
        assert a.path.split("/")[-1] == b.path.split("/")[-1]
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-4, atol=1e-4, err_msg=b.path)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("mode", ["int8", "float8"])
def test_save_own_variables_order_and_values_as_keras(keras, mode):
    ours, theirs = _pair_dense(keras)
    ours.quantize(mode)
    theirs.quantize(mode)
    ours_store, theirs_store = {}, {}
    ours.save_own_variables(ours_store)
    theirs.save_own_variables(theirs_store)
    assert list(ours_store) == list(theirs_store)
    for key in theirs_store:
        a, b = ours_store[key], to_numpy(theirs_store[key])
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_int8_weights_file_from_keras_loads(keras, tmp_path):
    ours, theirs = _models(keras)
    ours.quantize("int8")
    theirs.quantize("int8")
    path = os.path.join(tmp_path, "q.weights.h5")
    theirs.save_weights(path)
    for layer in ours.layers[1:]:
        with torch.no_grad():
            layer.kernel.zero_()
    ours.load_weights(path)
    x = _data((5, 6), seed=13)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_int8_embedding_with_lora_saves_requantized_kernel_as_keras(keras):
    table = _data((10, 4), seed=14)
    ours, theirs = layers.Embedding(10, 4), keras.layers.Embedding(10, 4)
    for layer in (ours, theirs):
        layer.build()
        layer.set_weights([table])
        layer.quantize("int8")
        layer.enable_lora(2)
    theirs.lora_embeddings_b.assign(_data((2, 4), seed=15))
    with torch.no_grad():
        ours.lora_embeddings_a.copy_(torch.tensor(to_numpy(theirs.lora_embeddings_a)))
        ours.lora_embeddings_b.copy_(torch.tensor(to_numpy(theirs.lora_embeddings_b)))
    ids = np.array([[1, 2, 9]])
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(ids))), to_numpy(theirs(ids)), rtol=1e-5, atol=1e-5)
    ours_store, theirs_store = {}, {}
    ours.save_own_variables(ours_store)
    theirs.save_own_variables(theirs_store)
    assert list(ours_store) == list(theirs_store)
    for key in theirs_store:
        a, b = ours_store[key], to_numpy(theirs_store[key])
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a.astype("float32"), b.astype("float32"), rtol=1e-5, atol=1.01)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "bfloat16", "float64"])
@pytest.mark.parametrize("mode", ["int8", "float8"])
def test_quantize_under_other_dtype_policies_matches_keras(keras, policy, mode):
    kernel, bias, x = _data((6, 4), seed=16), _data((4,), seed=17), _data((3, 6), seed=18)
    outputs, variables, names = [], [], []
    for lib in (lamina, keras):
        layer = lib.layers.Dense(4, dtype=policy)
        layer.build((None, 6))
        layer.set_weights([kernel, bias])
        layer.quantize(mode)
        out = layer(torch.tensor(x))
        outputs.append(out)
        variables.append(_variables(layer.weights))
        names.append(layer.dtype_policy.name)
    assert outputs[0].dtype == outputs[1].dtype
    np.testing.assert_array_equal(to_numpy(outputs[0].float()), to_numpy(outputs[1].float()))
    assert variables[0] == variables[1] and names[0] == names[1] == f"{mode}_from_{policy}"


def test_int8_refuses_float16_compute_as_keras(keras):
    for lib in (lamina, keras):
        layer = lib.layers.Dense(4, dtype="mixed_float16")
        layer.build((None, 3))
        with pytest.raises(ValueError, match="compute_dtype='float16'"):
            layer.quantize("int8")


def test_float8_model_saves_and_loads(tmp_path):
    model = lamina.Sequential([layers.Input((4,)), layers.Dense(3)])
    model.quantize("float8")
    model.compile(optimizer="sgd", loss="mse")
    model.fit(_data((8, 4), scale=5.0), _data((8, 3)), epochs=2, verbose=0)
    dense = model.layers[0]
    assert float(dense.inputs_amax_history.max()) > 0 and float(dense.outputs_grad_scale) != 1.0
    path = os.path.join(tmp_path, "f8.lamina")
    model.save(path)
    again = lamina.models.load_model(path)
    for a, b in zip(model.weights, again.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    x = _data((5, 4), seed=19)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def _configs(lib):
    Q = lib.quantizers
    return [Q.Int8QuantizationConfig(activation_quantizer=None),
            Q.Int8QuantizationConfig(weight_quantizer=Q.AbsMaxQuantizer(axis=0, value_range=(-100, 100))),
            Q.Int8QuantizationConfig(weight_quantizer=Q.AbsMaxQuantizer(axis=0),
                                     activation_quantizer=Q.AbsMaxQuantizer(axis=-1, value_range=(-50, 50)))]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_int8_quantization_configs_match_keras(keras, which):
    x = _data((3, 6), seed=20)
    outputs, configs = [], []
    for lib in (lamina, keras):
        layer = lib.layers.Dense(4)
        layer.build((None, 6))
        layer.set_weights([_data((6, 4), seed=21), _data((4,), seed=22)])
        layer.quantize("int8", config=_configs(lib)[which])
        outputs.append(to_numpy(layer(torch.tensor(x))))
        configs.append(layer.get_config()["quantization_config"])
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert configs[0] == configs[1]
    layer = layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError, match="config is for mode 'float8'"):
        layer.quantize("int8", config=lamina.quantizers.Float8QuantizationConfig())


def test_int8_model_trains_like_keras(keras):
    ours, theirs = _models(keras)
    ours.quantize("int8")
    theirs.quantize("int8")
    x, y = _data((8, 6), seed=23), _data((8, 3), seed=24)
    ours.compile(optimizer=lamina.optimizers.SGD(0.05), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    for _ in range(3):
        ours.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
    for a, b in zip(ours.weights, theirs.weights, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5, atol=1e-5, err_msg=b.path)
