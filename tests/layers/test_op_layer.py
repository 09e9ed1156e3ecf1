"""Ops on symbolic tensors: functional models built with lamina.ops and Python operators on Input tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lamina
from lamina import ops
from lamina.layers.op_layer import OpLayer


def _op_model():
    inputs = lamina.Input((4,))
    w = np.arange(12, dtype="float32").reshape(4, 3) / 10
    x = ops.relu(ops.matmul(inputs, w))                      # an op with a constant argument
    x = ops.concatenate([x, inputs[:, :2] * 2.0 + 1], axis=-1)  # operators, slicing, a list of tensors
    x = lamina.layers.Dense(2)(x)
    return lamina.Model(inputs, ops.softmax(x, axis=-1)), w


def _reference(model, w, x):
    h = np.maximum(x @ w, 0)
    h = np.concatenate([h, x[:, :2] * 2.0 + 1], axis=-1)
    kernel, bias = model.get_layer("dense").get_weights()
    logits = h @ kernel + bias
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_shapes_and_dtypes_are_inferred_like_keras(keras):
    a, b = lamina.Input((5, 3)), keras.Input((5, 3))
    for fn in (lambda t, o: o.sum(t, axis=1), lambda t, o: o.expand_dims(t, 0), lambda t, o: t[:, 0],
               lambda t, o: t[..., None], lambda t, o: o.cast(t, "int32") + 1, lambda t, o: t > 0.5,
               lambda t, o: o.transpose(t, (0, 2, 1)), lambda t, o: o.reshape(t, (-1, 15)),
               lambda t, o: o.matmul(t, o.ones((3, 7))), lambda t, o: o.concatenate([t, t], axis=1)):
        ours, theirs = fn(a, ops), fn(b, keras.ops)
        assert ours.shape == tuple(theirs.shape)
        assert lamina.backend.standardize_dtype(ours.dtype) == theirs.dtype


def test_model_of_ops_computes_what_the_formula_says():
    model, w = _op_model()
    assert [type(layer).__name__ for layer in model.layers].count("OpLayer") >= 5
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), _reference(model, w, x), rtol=1e-5, atol=1e-6)


def test_model_of_ops_trains_and_summarizes(capsys):
    model, _ = _op_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(1).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    model.summary()
    out = capsys.readouterr().out
    assert out.count("(OpLayer)") >= 5 and "matmul" in out and "concatenate" in out


def test_model_of_ops_saves_and_loads(tmp_path):
    model, w = _op_model()
    x = np.random.default_rng(2).normal(size=(3, 4)).astype("float32")
    model.save(tmp_path / "m.lamina")
    loaded = lamina.models.load_model(tmp_path / "m.lamina")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), _reference(model, w, x), rtol=1e-5, atol=1e-6)


def test_op_node_config_is_data_and_round_trips():
    x = lamina.Input((2, 3))
    y = ops.sum(x[:, 1:, ...], axis=(1,), keepdims=True)
    layers = [n.layer for n in (y.node, y.node.inputs[0].node)]
    configs = [layer.get_config() for layer in layers]
    assert configs[1]["op"] == "get_item"
    assert configs[1]["arguments"]["args"][1] == {"__tuple__": [
        {"__slice__": [None, None, None]}, {"__slice__": [1, None, None]}, {"__ellipsis__": True}]}
    rebuilt = OpLayer.from_config(configs[0])
    assert rebuilt._template[1] == {"axis": (1,), "keepdims": True}


@pytest.mark.parametrize("name", ["system", "__import__", "eval", "OpLayer", "dispatch.tensor", ""])
def test_a_name_that_is_not_an_op_is_refused(name):
    with pytest.raises(ValueError, match="is not a lamina op"):
        OpLayer.from_config({"name": "x", "op": name, "arguments": {"args": [], "kwargs": {}}})


@pytest.mark.parametrize("argument", [
    {"class_name": "Lambda", "config": {}}, {"__tensor__": -1}, {"__slice__": ["a", 1, 2]},
    {"__float__": "__import__('os')"}, {"__dtype__": "object"}, {"__dict__": [1, 2]}])
def test_arguments_that_are_not_lamina_data_are_refused(argument):
    with pytest.raises(ValueError):
        OpLayer.from_config({"name": "x", "op": "add", "arguments": {"args": [argument], "kwargs": {}}})


def test_an_argument_that_is_code_cannot_be_saved_but_the_model_runs(tmp_path):
    inputs = lamina.Input((3,))
    out = ops.cond(True, lambda: inputs * 2.0, lambda: inputs) if False else ops.vectorized_map(
        lambda row: row * 2.0, inputs)
    model = lamina.Model(inputs, out)
    np.testing.assert_allclose(model.predict(np.ones((2, 3), "float32"), verbose=0), 2 * np.ones((2, 3)))
    with pytest.raises(ValueError, match="cannot be saved as data"):
        model.save(tmp_path / "m.lamina")
    assert not (tmp_path / "m.lamina").exists()


def test_tensors_created_inside_call_work_while_building_a_functional_model():
    class AddPositions(lamina.layers.Layer):
        def call(self, x):
            positions = ops.arange(0, ops.shape(x)[1], dtype="float32")   # made in call, not from the input
            return x + ops.expand_dims(positions, -1) + ops.zeros((1, 1)) + torch.ones(1)

    inputs = lamina.Input((5, 2))
    model = lamina.Model(inputs, AddPositions()(inputs))
    assert model.outputs[0].shape == (None, 5, 2)
    out = model.predict(np.zeros((1, 5, 2), "float32"), verbose=0)
    np.testing.assert_allclose(out[0, :, 0], np.arange(5) + 1.0)


def test_symbolic_mask_rides_on_symbolic_tensors():
    inputs = lamina.Input((4,), dtype="int32")
    x = lamina.layers.Embedding(10, 3, mask_zero=True)(inputs)
    assert x._keras_mask is not None and x._keras_mask.shape == (None, 4)
    assert lamina.layers.Dense(2)(x)._keras_mask is not None  # Dense passes masks on, as in Keras 3


def test_a_layer_taking_mask_sees_it_while_a_functional_model_is_built():
    seen = []

    class Masked(lamina.layers.Layer):
        def __init__(self):
            super().__init__()
            self.supports_masking = True

        def call(self, x, mask=None):
            seen.append(mask is not None)
            return x

    inputs = lamina.Input((4,), dtype="int32")
    x = Masked()(lamina.layers.Embedding(10, 3, mask_zero=True)(inputs))
    assert seen and all(seen)
    assert x._keras_mask is not None and x._keras_mask.shape == (None, 4)
    assert lamina.layers.LSTM(2)(x)._keras_mask is None  # a recurrent layer without return_sequences ends the mask
