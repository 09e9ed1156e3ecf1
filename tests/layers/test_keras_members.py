"""Keras's Layer machinery members (``layers/keras_members.py``), with Keras 3 (torch backend) as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lamina
from lamina.core import scopes

RNG = np.random.default_rng(3)


def outer_class(lib):
    class Outer(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = lib.layers.Dense(3, name="inner")

        def call(self, x):
            return self.inner(x)

    return Outer


def test_paths_follow_what_built_the_layer_as_in_keras(keras):
    for lib in (keras, lamina):
        outer = outer_class(lib)(name="outer")
        assert outer.path is None  # not built yet
        outer(np.zeros((2, 4), "float32"))
        assert (outer.path, outer.inner.path) == ("outer", "outer/inner")
        i = lib.Input((4,))
        model = lib.Model(i, lib.layers.Dense(2, name="head")(i))
        assert model.get_layer("head").path == "head"
    with scopes.name_scope("block"):
        dense = lamina.layers.Dense(2, name="d")
        dense(torch.zeros(1, 3))
    assert dense.path == "block/d"


def test_stateless_call_equals_keras_and_changes_nothing(keras):
    x = RNG.normal(size=(6, 4)).astype("float32")
    kernel, bias = RNG.normal(size=(4, 3)).astype("float32"), RNG.normal(size=(3,)).astype("float32")
    results = []
    for lib in (keras, lamina):
        dense = lib.layers.Dense(3, activation="tanh")
        dense(x[:1])
        before = [np.array(w) for w in dense.get_weights()]
        out, state = dense.stateless_call([kernel, bias], [], x)
        results.append(np.asarray(lib.ops.convert_to_numpy(out)))
        assert state == []
        for w, b in zip(dense.get_weights(), before, strict=True):
            np.testing.assert_array_equal(w, b)  # the layer's own weights are untouched
    np.testing.assert_allclose(results[1], results[0], atol=1e-6)
    np.testing.assert_allclose(results[1], np.tanh(x @ kernel + bias), atol=1e-6)


def test_stateless_call_returns_updated_batchnorm_statistics_like_keras(keras):
    x = (RNG.normal(size=(8, 3)) * 2 + 5).astype("float32")
    outs, states = [], []
    for lib in (keras, lamina):
        bn = lib.layers.BatchNormalization(momentum=0.9)
        bn(x[:2])
        own = [np.array(lib.ops.convert_to_numpy(v)) for v in bn.non_trainable_variables]
        out, new = bn.stateless_call(bn.trainable_variables, bn.non_trainable_variables, x, training=True)
        outs.append(np.asarray(lib.ops.convert_to_numpy(out)))
        states.append([np.asarray(lib.ops.convert_to_numpy(v)) for v in new])
        for v, o in zip(bn.non_trainable_variables, own, strict=True):
            np.testing.assert_array_equal(np.asarray(lib.ops.convert_to_numpy(v)), o)  # nothing changed
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-5)
    for ours, theirs in zip(states[1], states[0], strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_stateless_call_gradients_flow_to_the_given_values():
    dense = lamina.layers.Dense(1)
    dense(torch.ones(1, 2))
    kernel = torch.ones(2, 1, requires_grad=True)
    out, _ = dense.stateless_call([kernel, torch.zeros(1)], [], torch.tensor([[1.0, 2.0]]))
    out.sum().backward()
    assert kernel.grad.flatten().tolist() == [1.0, 2.0]
    assert dense.kernel.grad is None


def test_stateless_call_errors_say_what_to_pass():
    dense = lamina.layers.Dense(2)
    with pytest.raises(ValueError, match="must be built"):
        dense.stateless_call([], [], torch.ones(1, 3))
    dense(torch.ones(1, 3))
    with pytest.raises(ValueError, match="one value per variable"):
        dense.stateless_call([dense.kernel], [], torch.ones(1, 3))


def test_add_metric_is_refused_as_in_keras_3(keras):
    for lib in (keras, lamina):
        with pytest.raises(NotImplementedError, match="compile"):
            lib.layers.Dense(2).add_metric(1.0)


def test_call_signature_parameters_and_flags_match_keras(keras):
    for name in ("BatchNormalization", "Dropout", "LSTM"):  # (Keras's Dense.call also takes training)
        k, ours = getattr(keras.layers, name), getattr(lamina.layers, name)
        args = {"LSTM": (2,), "Dropout": (0.5,)}.get(name, ())
        assert ours(*args).call_signature_parameters == k(*args).call_signature_parameters, name
    dense = lamina.layers.Dense(2, autocast=False)
    assert dense.autocast is False and lamina.layers.Dense(2).autocast is True and dense.supports_jit


def test_metrics_and_torch_params():
    class WithTracker(lamina.layers.Layer):
        def __init__(self):
            super().__init__()
            self.tracker = lamina.metrics.Mean(name="seen")
            self.inner = lamina.layers.Dense(2)

        def call(self, x):
            self.tracker.update_state(x)
            return self.inner(x)

    layer = WithTracker()
    layer(torch.ones(1, 3))
    assert [m.name for m in layer.metrics] == ["seen"]
    params = layer.torch_params
    assert sorted(params) == sorted(v.path for v in layer.variables)
    assert all(params[v.path] is v for v in layer.variables)


def test_remat_scope_recomputes_and_gives_the_same_gradients():
    calls = []

    class Counting(lamina.layers.Dense):
        def call(self, x):
            calls.append(1)
            return super().call(x)

    torch.manual_seed(0)
    plain = Counting(4, activation="relu")
    with scopes.RematScope(mode="full"):
        remat = Counting(4, activation="relu")
    x = torch.randn(5, 3)
    plain(x[:1]), remat(x[:1])
    remat.set_weights(plain.get_weights())
    grads = []
    for layer in (plain, remat):
        calls.clear()
        layer.zero_grad()
        layer(x).square().sum().backward()
        grads.append((len(calls), [p.grad.clone() for p in layer.trainable_weights]))
    assert grads[0][0] == 1 and grads[1][0] == 2  # the rematerialized layer ran again in the backward pass
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b)
    with scopes.RematScope(mode="list_of_layers", layer_names=["other"]):
        skipped = Counting(4)
    skipped(x)
    calls.clear()
    skipped(x).sum().backward()
    assert len(calls) == 1
    with pytest.raises(ValueError, match="layer_names"):
        scopes.RematScope(mode="list_of_layers")


def test_layers_without_quantization_refuse_it_as_keras(keras):
    for lib in (keras, lamina):
        conv = lib.layers.Conv2D(2, 3)
        conv.build((None, 8, 8, 3))
        assert conv.quantization_mode is None
        for call in (lambda c=conv: c.quantize("int8"), lambda c=conv: c.quantized_build((3, 3), "int8"),
                     lambda c=conv: c.quantized_call(None)):
            with pytest.raises(NotImplementedError):
                call()
