"""GroupQueryAttention against Keras 3 (torch backend) with copied weights: outputs, scores, masks, gradients,
weights, symbolic shapes, configs and errors."""

import json

import numpy as np
import pytest
import torch
from harness import keras_weights, random_weights_like, to_numpy

from lamina.layers.core import Input
from lamina.layers.group_query_attention import GroupedQueryAttention, GroupQueryAttention

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:keras"),
              pytest.mark.filterwarnings("ignore:.*does not support masking:UserWarning")]

RNG = np.random.default_rng(0)
Q = RNG.standard_normal((2, 4, 8)).astype("float32")
V = RNG.standard_normal((2, 5, 6)).astype("float32")
K = RNG.standard_normal((2, 5, 7)).astype("float32")
Q_MASK = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
V_MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)
ATT_MASK = RNG.random((2, 4, 5)) > 0.3
BASE = {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2}


def _lamina(x, mask=None, grad=False):
    t = torch.tensor(x, requires_grad=grad)
    if mask is not None:
        t._keras_mask = torch.tensor(mask)
    return t


def _keras(keras, x, mask=None):
    t = keras.ops.convert_to_tensor(x)
    if mask is not None:
        t._keras_mask = keras.ops.convert_to_tensor(mask)
    return t


def _tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _pair(keras, layer_kwargs, inputs, masks, call_kwargs, random=True):
    """A Keras GQA and a lamina one holding its (random) weights, and their outputs on the same data and masks."""
    k_layer = keras.layers.GroupQueryAttention(**layer_kwargs)
    k_kwargs = dict(call_kwargs)
    if "attention_mask" in call_kwargs:
        k_kwargs["attention_mask"] = keras.ops.convert_to_tensor(call_kwargs["attention_mask"])
    k_args = lambda: [_keras(keras, x, m) for x, m in zip(inputs, masks, strict=True)]  # noqa: E731
    k_layer(*k_args(), **k_kwargs)
    kw = keras_weights(k_layer)
    if random:
        kw = random_weights_like(kw, seed=5)
        k_layer.set_weights(kw)
    k_out = k_layer(*k_args(), **k_kwargs)
    layer = GroupQueryAttention(**layer_kwargs)
    l_kwargs = dict(call_kwargs)
    if "attention_mask" in call_kwargs:
        l_kwargs["attention_mask"] = torch.tensor(call_kwargs["attention_mask"])
    args = [_lamina(x, m) for x, m in zip(inputs, masks, strict=True)]
    layer(*args, **l_kwargs)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in kw]
    layer.set_weights(kw)
    out = layer(*args, **l_kwargs)
    return layer, k_layer, _tuple(out), tuple(to_numpy(o) for o in _tuple(k_out))


CALLS = {
    "plain": {},
    "attention_mask": {"attention_mask": ATT_MASK},
    "causal": {"use_causal_mask": True},
    "scores": {"return_attention_scores": True},
    "causal_mask_scores": {"use_causal_mask": True, "attention_mask": ATT_MASK, "return_attention_scores": True},
}
LAYERS = {
    "default": {},
    "no_bias": {"use_bias": False},
    "mqa": {"num_key_value_heads": 1},
    "mha": {"num_key_value_heads": 4},
    "gate": {"use_gate": True},
    "sliding_window": {"sliding_window": 2},
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("config", sorted(LAYERS))
def test_cross_attention_matches_keras(keras, config, call):
    _, _, out, want = _pair(keras, {**BASE, **LAYERS[config]}, [Q, V, K], [None] * 3, CALLS[call])
    assert len(out) == len(want)
    for o, w in zip(out, want, strict=True):
        np.testing.assert_allclose(to_numpy(o), w, atol=1e-5, rtol=1e-5)


def test_default_weights_match_keras(keras):
    _, _, out, want = _pair(keras, BASE, [Q, V], [None] * 2, {}, random=False)
    np.testing.assert_allclose(to_numpy(out[0]), want[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("call", ["plain", "causal", "scores"])
def test_self_attention_with_keras_masks(keras, call):
    _, _, out, want = _pair(keras, BASE, [Q, Q], [Q_MASK, Q_MASK], CALLS[call])
    keep = Q_MASK[:, :, None]
    got0, want0 = to_numpy(out[0]), want[0]
    if call != "scores":  # a fully hidden query row: compared only where Keras's paths agree
        got0, want0 = got0 * keep, want0 * keep
    np.testing.assert_allclose(got0, want0, atol=1e-5, rtol=1e-5)
    if call == "scores":
        np.testing.assert_allclose(to_numpy(out[1]), want[1], atol=1e-5, rtol=1e-5)
    assert torch.equal(out[0]._keras_mask, torch.tensor(Q_MASK))
    assert np.isfinite(to_numpy(out[0])).all()


def test_value_and_key_masks_match_keras(keras):
    layer, _, out, want = _pair(keras, BASE, [Q, V, K], [Q_MASK, V_MASK, None], {"return_attention_scores": True})
    for o, w in zip(out, want, strict=True):
        np.testing.assert_allclose(to_numpy(o), w, atol=1e-5, rtol=1e-5)
    fast = to_numpy(layer(_lamina(Q, Q_MASK), _lamina(V, V_MASK), _lamina(K)))
    np.testing.assert_allclose(fast, to_numpy(out[0]), atol=1e-5, rtol=1e-5)  # the fused path agrees


@pytest.mark.parametrize("config", ["default", "gate"])
def test_gradients_match_keras(keras, config):
    kwargs = {**BASE, **LAYERS[config]}
    k_layer = keras.layers.GroupQueryAttention(**kwargs)
    kq, kv = torch.tensor(Q, requires_grad=True), torch.tensor(V, requires_grad=True)
    k_layer(kq, kv)
    weights = random_weights_like(keras_weights(k_layer), seed=2)
    k_layer.set_weights(weights)
    layer = GroupQueryAttention(**kwargs)
    q, v = _lamina(Q, grad=True), _lamina(V, grad=True)
    layer(q, v)
    layer.set_weights(weights)
    out, k_out = layer(q, v, use_causal_mask=True), k_layer(kq, kv, use_causal_mask=True)
    np.testing.assert_allclose(to_numpy(out), to_numpy(k_out), atol=1e-5, rtol=1e-5)
    out.square().sum().backward()
    k_out.square().sum().backward()
    np.testing.assert_allclose(to_numpy(q.grad), to_numpy(kq.grad), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(to_numpy(v.grad), to_numpy(kv.grad), atol=1e-4, rtol=1e-4)
    for w, kw in zip(layer.trainable_weights, k_layer.trainable_weights, strict=True):
        np.testing.assert_allclose(to_numpy(w.grad), to_numpy(kw.value.grad), atol=1e-4, rtol=1e-4)


def test_weight_layout_and_order(keras):
    layer = GroupQueryAttention(head_dim=3, num_query_heads=6, num_key_value_heads=2, use_gate=True, name="g")
    layer(torch.ones(1, 4, 8), torch.ones(1, 6, 7), torch.ones(1, 6, 5))
    k_layer = keras.layers.GroupQueryAttention(head_dim=3, num_query_heads=6, num_key_value_heads=2, use_gate=True,
                                               name="g")
    k_layer(np.ones((1, 4, 8), "float32"), np.ones((1, 6, 7), "float32"), np.ones((1, 6, 5), "float32"))
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in keras_weights(k_layer)] == [
        (8, 6, 3), (6, 3), (5, 2, 3), (2, 3), (8, 6, 3), (6, 3), (7, 2, 3), (2, 3), (6, 3, 8), (8,)]
    assert [w.path for w in layer.weights] == [w.path for w in k_layer.weights]


def test_symbolic_shapes_match_keras(keras):
    for call in ({}, {"return_attention_scores": True}, {"use_causal_mask": True}):
        out = GroupQueryAttention(**BASE)(Input(shape=(None, 8)), Input(shape=(5, 8)), **call)
        want = keras.layers.GroupQueryAttention(**BASE)(keras.Input(shape=(None, 8)), keras.Input(shape=(5, 8)), **call)
        got = [t.shape for t in _tuple(out)]
        assert got[0] == tuple(_tuple(want)[0].shape)
        if len(got) > 1:
            assert got[1] == (None, 4, None, 5)


def test_config_round_trip_and_keys(keras):
    kwargs = {**BASE, "dropout": 0.1, "use_gate": True, "sliding_window": 3, "kernel_initializer": "he_normal",
              "name": "gqa"}
    layer = GroupQueryAttention(**kwargs)
    x = torch.tensor(Q)
    layer(x, x)
    text = json.dumps(layer.get_config())
    clone = GroupQueryAttention.from_config(json.loads(text))
    assert json.dumps(clone.get_config()) == text
    clone(x, x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(clone(x, x)), to_numpy(layer(x, x)), atol=1e-6)
    theirs = keras.layers.GroupQueryAttention(**kwargs).get_config()
    assert list(layer.get_config()) == list(theirs)
    for key in ("head_dim", "num_query_heads", "num_key_value_heads", "use_bias", "use_gate", "sliding_window",
                "dropout", "seed"):
        assert layer.get_config()[key] == theirs[key]
    assert GroupQueryAttention is GroupedQueryAttention and layer.name == "gqa"
    assert GroupQueryAttention(**BASE).name.startswith("grouped_query_attention")


def test_dropout_only_in_training():
    layer = GroupQueryAttention(**BASE, dropout=0.5)
    x = torch.tensor(Q)
    a, b = layer(x, x), layer(x, x)
    assert torch.equal(a, b)
    torch.manual_seed(0)
    assert not torch.allclose(layer(x, x, training=True), a)


def test_masked_rows_have_finite_gradients():
    layer = GroupQueryAttention(**BASE)
    q = _lamina(Q, Q_MASK, grad=True)
    out = layer(q, _lamina(Q, Q_MASK))
    out.sum().backward()
    assert torch.isfinite(q.grad).all()
    assert all(torch.isfinite(w.grad).all() for w in layer.trainable_weights)


def test_errors_teach():
    with pytest.raises(ValueError, match="divisible"):
        GroupQueryAttention(head_dim=2, num_query_heads=3, num_key_value_heads=2)
    with pytest.raises(ValueError, match="head_dim"):
        GroupQueryAttention(head_dim=0, num_query_heads=2, num_key_value_heads=1)
    with pytest.raises(ValueError, match="dropout"):
        GroupQueryAttention(**BASE, dropout=1.5)
    with pytest.raises(ValueError, match="flash_attention"):
        GroupQueryAttention(**BASE, flash_attention=True)
    with pytest.raises(ValueError, match="batch, steps, features"):
        GroupQueryAttention(**BASE)(torch.ones(2, 3, 4, 8), torch.ones(2, 3, 4, 8))


@pytest.mark.parametrize("mode", ["int8", "float8"])
def test_model_quantize_reaches_the_projections_as_keras(keras, mode):
    """Keras's Model.quantize quantizes the EinsumDense projections inside GroupQueryAttention; so does lamina's,
    and the layer then runs them through their quantized calls."""
    import lamina

    layer, k_layer, _, _ = _pair(keras, {**BASE, "use_gate": True}, [Q, V, K], [None] * 3, {})
    inputs = [Input(x.shape[1:]) for x in (Q, V, K)]
    lamina.Model(inputs, layer(*inputs)).quantize(mode)
    names = ("_query_dense", "_key_dense", "_value_dense", "_gate_dense", "_output_dense")
    for name in names:  # Keras: each projection quantized in place, as its Model.quantize does
        getattr(k_layer, name).quantize(mode)
        assert getattr(layer, name).quantization_mode == mode
    out = layer(*(torch.tensor(x) for x in (Q, V, K)))
    np.testing.assert_allclose(to_numpy(out), to_numpy(k_layer(*(_keras(keras, x) for x in (Q, V, K)))),
                               rtol=1e-4, atol=1e-4)
