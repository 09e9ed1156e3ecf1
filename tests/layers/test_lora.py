"""LoRA (``enable_lora`` / ``lora_rank``) of Dense and Embedding against Keras 3.15 as the oracle."""

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


def _names(weights):
    return [w.path.split("/")[-1] for w in weights]


def _copy(ours, theirs):
    theirs_weights = [to_numpy(w) for w in theirs.get_weights()]
    ours.set_weights(theirs_weights)


@pytest.mark.parametrize("alpha", [None, 6.0])
def test_dense_lora_matches_keras(keras, alpha):
    ours, theirs = layers.Dense(4, activation="relu"), keras.layers.Dense(4, activation="relu")
    for layer in (ours, theirs):
        layer.build((None, 5))
        layer.enable_lora(3, lora_alpha=alpha)
    theirs.lora_kernel_b.assign(_data((3, 4), seed=1))
    _copy(ours, theirs)
    x = _data((6, 5), seed=2)
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), to_numpy(theirs(x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(ours.kernel), to_numpy(theirs.kernel), rtol=1e-6, atol=1e-6)
    assert _names(ours.weights) == _names(theirs.weights)
    assert _names(ours.trainable_weights) == _names(theirs.trainable_weights)
    assert _names(ours.non_trainable_weights) == _names(theirs.non_trainable_weights)
    assert (ours.lora_rank, ours.lora_alpha, ours.lora_enabled) == (theirs.lora_rank, theirs.lora_alpha, True)
    ours_cfg, theirs_cfg = ours.get_config(), theirs.get_config()
    assert (ours_cfg["lora_rank"], ours_cfg["lora_alpha"]) == (theirs_cfg["lora_rank"], theirs_cfg["lora_alpha"])
    for layer in (ours, theirs):  # Keras's flags: the whole layer off, then on again (the kernel too)
        layer.trainable = False
        assert not layer.trainable_weights
        layer.trainable = True
    assert _names(ours.trainable_weights) == _names(theirs.trainable_weights)


def test_dense_lora_initializers_and_errors(keras):
    layer = layers.Dense(3)
    with pytest.raises(ValueError, match="isn't yet built"):
        layer.enable_lora(2)
    layer.build((None, 8))
    with pytest.raises(ValueError, match="positive int"):
        layer.enable_lora(0)
    layer.enable_lora(2)
    assert not layer.lora_kernel_b.detach().any()  # zeros: the update starts at nothing
    bound = np.sqrt(6.0 / 8)  # he_uniform over fan_in = 8 rows
    assert 0 < float(layer.lora_kernel_a.detach().abs().max()) <= bound
    with pytest.raises(ValueError, match="already enabled"):
        layer.enable_lora(2)


def test_lora_rank_in_constructor_and_training_only_moves_factors():
    model = lamina.Sequential([layers.Input((5,)), layers.Dense(4, lora_rank=2, name="d")])
    dense = model.layers[0]
    assert _names(dense.trainable_weights) == ["bias", "lora_kernel_a", "lora_kernel_b"]
    frozen = dense.kernel.detach().clone()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(_data((16, 5)), _data((16, 4), seed=1), epochs=2, verbose=0)
    np.testing.assert_array_equal(to_numpy(dense._parameters["kernel"]), to_numpy(frozen))
    assert dense.lora_kernel_b.detach().abs().max() > 0


def test_embedding_lora_matches_keras(keras):
    ours, theirs = layers.Embedding(10, 4), keras.layers.Embedding(10, 4)
    for layer in (ours, theirs):
        layer.build()
        layer.enable_lora(3)
    theirs.lora_embeddings_b.assign(_data((3, 4), seed=3))
    _copy(ours, theirs)
    ids = np.array([[1, 2, 9], [0, 0, 3]])
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(ids))), to_numpy(theirs(ids)), rtol=1e-5, atol=1e-6)
    assert _names(ours.weights) == _names(theirs.weights)
    assert _names(ours.trainable_weights) == _names(theirs.trainable_weights)


def test_lora_with_int8_matches_keras(keras):
    kernel, bias = _data((5, 4), seed=4), _data((4,), seed=5)
    ours, theirs = layers.Dense(4), keras.layers.Dense(4)
    for layer in (ours, theirs):
        layer.build((None, 5))
        layer.set_weights([kernel, bias])
        layer.quantize("int8")
        layer.enable_lora(2)
    theirs.lora_kernel_b.assign(_data((2, 4), seed=6))
    ours.lora_kernel_a.data.copy_(torch.tensor(to_numpy(theirs.lora_kernel_a)))
    ours.lora_kernel_b.data.copy_(torch.tensor(to_numpy(theirs.lora_kernel_b)))
    x = _data((3, 5), seed=7)
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), to_numpy(theirs(x)), rtol=1e-5, atol=1e-5)
    assert _names(ours.weights) == _names(theirs.weights)
    assert _names(ours.trainable_weights) == _names(theirs.trainable_weights)


def test_lora_model_saves_and_loads_in_lamina_format(tmp_path):
    model = lamina.Sequential([layers.Input((5,)), layers.Dense(4, name="d")])
    model.layers[0].enable_lora(2)
    with torch.no_grad():
        model.layers[0].lora_kernel_b.copy_(torch.tensor(_data((2, 4), seed=8)))
    x = _data((3, 5), seed=9)
    expected = model.predict(x, verbose=0)
    path = os.path.join(tmp_path, "lora.lamina")
    model.save(path)
    again = lamina.models.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    assert again.layers[0].lora_enabled and again.layers[0].get_config()["lora_rank"] == 2


def test_save_own_variables_merges_lora_as_keras(keras):
    ours, theirs = layers.Dense(4), keras.layers.Dense(4)
    for layer in (ours, theirs):
        layer.build((None, 5))
        layer.enable_lora(2)
    theirs.lora_kernel_b.assign(_data((2, 4), seed=10))
    _copy(ours, theirs)
    ours_store, theirs_store = {}, {}
    ours.save_own_variables(ours_store)
    theirs.save_own_variables(theirs_store)
    assert list(ours_store) == list(theirs_store) == ["0", "1"]
    for key in theirs_store:
        np.testing.assert_allclose(ours_store[key], to_numpy(theirs_store[key]), rtol=1e-6, atol=1e-6)
    # Loading puts the merged kernel into the frozen one and starts the factors again, as Keras.
    again = layers.Dense(4)
    again.build((None, 5))
    again.enable_lora(2)
    again.load_own_variables(ours_store)
    assert not again.lora_kernel_b.detach().any()
    np.testing.assert_allclose(to_numpy(again.kernel), ours_store["0"], rtol=1e-6)


def test_lora_model_round_trips_through_keras_files(keras, tmp_path):
    def build(lib):
        inputs = lib.Input((6,))
        return lib.Model(inputs, lib.layers.Dense(3, name="d")(lib.layers.Dense(8, name="h")(inputs)))

    theirs = build(keras)
    theirs.layers[1].enable_lora(2)
    theirs.layers[1].lora_kernel_b.assign(_data((2, 8), seed=11))
    x = _data((4, 6), seed=12)
    path = os.path.join(tmp_path, "keras_lora.keras")
    theirs.save(path)
    ours = lamina.models.load_model(path)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    back = os.path.join(tmp_path, "lamina_lora.keras")
    ours.save(back)
    again = keras.models.load_model(back)
    np.testing.assert_allclose(again.predict(x, verbose=0), ours.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_quantize_after_lora_keeps_the_factors_as_keras(keras):
    kernel, bias = _data((6, 4), seed=16), _data((4,), seed=17)
    a, b = _data((6, 2), seed=18), _data((2, 4), seed=19)
    x = _data((3, 6), seed=20)
    outputs, names = [], []
    for lib in (lamina, keras):
        layer = lib.layers.Dense(4)
        layer.build((None, 6))
        layer.enable_lora(2)
        layer.set_weights([kernel, bias, a, b])
        layer.quantize("int8")
        outputs.append(to_numpy(layer(torch.tensor(x))))
        names.append(_names(layer.weights))
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)
    assert names[0] == names[1]


def test_float8_and_lora_refuse_each_other_as_keras():
    layer = layers.Dense(3)
    layer.build((None, 4))
    layer.quantize("float8")
    with pytest.raises(NotImplementedError, match="float8"):
        layer.enable_lora(2)
    other = layers.Dense(3)
    other.build((None, 4))
    other.enable_lora(2)
    with pytest.raises(NotImplementedError, match="LoRA"):
        other.quantize("float8")
