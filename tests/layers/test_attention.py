"""MultiHeadAttention, Attention and AdditiveAttention against Keras 3 (torch backend) with copied weights."""

import json

import numpy as np
import pytest
import torch
from harness import check_layer, keras_weights, to_numpy

import lamina
from lamina.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from lamina.layers.core import Dense, Input
from lamina.layers.pooling import GlobalAveragePooling1D

RNG = np.random.default_rng(0)
Q = RNG.standard_normal((2, 4, 8)).astype("float32")
V = RNG.standard_normal((2, 5, 6)).astype("float32")
K = RNG.standard_normal((2, 5, 7)).astype("float32")
Q_MASK = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
V_MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)
ATT_MASK = RNG.random((2, 4, 5)) > 0.3


def _lamina(x, mask=None):
    t = torch.tensor(x)
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


def _mha_pair(keras, layer_kwargs, inputs, masks, call_kwargs):
    """Outputs of a Keras MHA and of a lamina MHA holding its weights, on the same data and masks."""
    k_layer = keras.layers.MultiHeadAttention(**layer_kwargs)
    k_kwargs = dict(call_kwargs)
    if "attention_mask" in call_kwargs:
        k_kwargs["attention_mask"] = keras.ops.convert_to_tensor(call_kwargs["attention_mask"])
    k_out = k_layer(*[_keras(keras, x, m) for x, m in zip(inputs, masks, strict=True)], **k_kwargs)
    layer = MultiHeadAttention(**layer_kwargs)
    l_kwargs = dict(call_kwargs)
    if "attention_mask" in call_kwargs:
        l_kwargs["attention_mask"] = torch.tensor(call_kwargs["attention_mask"])
    args = lambda: [_lamina(x, m) for x, m in zip(inputs, masks, strict=True)]  # noqa: E731
    layer(*args(), **l_kwargs)
    kw = keras_weights(k_layer)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in kw]
    layer.set_weights(kw)
    out = layer(*args(), **l_kwargs)
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
    "output_shape": {"output_shape": (3, 2)},
    "no_bias_value_dim": {"use_bias": False, "value_dim": 5},
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("config", sorted(LAYERS))
def test_mha_cross_attention_matches_keras(keras, config, call):
    layer_kwargs = {"num_heads": 2, "key_dim": 3, **LAYERS[config]}
    _, _, out, want = _mha_pair(keras, layer_kwargs, [Q, V, K], [None, None, None], CALLS[call])
    assert len(out) == len(want)
    for o, w in zip(out, want, strict=True):
        np.testing.assert_allclose(to_numpy(o), w, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("call", ["plain", "causal", "scores"])
def test_mha_self_attention_with_keras_masks(keras, call):
    # Embedding-like masks ride on query and value; Keras hides masked rows and columns.
    _, _, out, want = _mha_pair(keras, {"num_heads": 3, "key_dim": 4}, [Q, Q], [Q_MASK, Q_MASK], CALLS[call])
    keep = Q_MASK[:, :, None]
    # Keras's fused path gives a fully hidden query row a uniform average, its explicit path zeros: the padded
    # rows are compared where Keras returns scores (explicit path); elsewhere only the kept rows.
    got0, want0 = to_numpy(out[0]), want[0]
    if call != "scores":
        got0, want0 = got0 * keep, want0 * keep
    np.testing.assert_allclose(got0, want0, atol=1e-5, rtol=1e-5)
    if call == "scores":
        np.testing.assert_allclose(to_numpy(out[1]), want[1], atol=1e-5, rtol=1e-5)
    assert torch.equal(out[0]._keras_mask, torch.tensor(Q_MASK))  # the output keeps the query's mask
    assert np.isfinite(to_numpy(out[0])).all()


def test_mha_value_and_key_masks_match_keras(keras):
    _, _, out, want = _mha_pair(keras, {"num_heads": 2, "key_dim": 3}, [Q, V, K], [Q_MASK, V_MASK, None],
                                {"return_attention_scores": True})
    for o, w in zip(out, want, strict=True):
        np.testing.assert_allclose(to_numpy(o), w, atol=1e-5, rtol=1e-5)
    # The fused path (no scores) agrees on the rows that are kept.
    layer, _, _, _ = _mha_pair(keras, {"num_heads": 2, "key_dim": 3}, [Q, V, K], [Q_MASK, V_MASK, None], {})
    fast = to_numpy(layer(_lamina(Q, Q_MASK), _lamina(V, V_MASK), _lamina(K)))
    full, _ = layer(_lamina(Q, Q_MASK), _lamina(V, V_MASK), _lamina(K), return_attention_scores=True)
    np.testing.assert_allclose(fast, to_numpy(full), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("extra", [{"use_gate": True}, {"sliding_window": 2}])
def test_mha_gate_and_sliding_window_match_keras(keras, extra):
    _, _, out, want = _mha_pair(keras, {"num_heads": 2, "key_dim": 3, **extra}, [Q, V, K], [None] * 3,
                                {"return_attention_scores": True})
    for o, w in zip(out, want, strict=True):
        np.testing.assert_allclose(to_numpy(o), w, atol=1e-5, rtol=1e-5)


def test_mha_several_steps_axes_match_keras(keras):
    q = RNG.standard_normal((2, 3, 2, 8)).astype("float32")
    v = RNG.standard_normal((2, 2, 3, 6)).astype("float32")
    _, _, out, want = _mha_pair(keras, {"num_heads": 2, "key_dim": 3}, [q, v], [None, None],
                                {"return_attention_scores": True})
    for o, w in zip(out, want, strict=True):
        np.testing.assert_allclose(to_numpy(o), w, atol=1e-5, rtol=1e-5)


def test_mha_weight_layout_and_order():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=5)
    layer(torch.ones(1, 4, 8), torch.ones(1, 6, 7))
    assert [w.shape for w in layer.get_weights()] == [(8, 2, 3), (2, 3), (7, 2, 3), (2, 3), (7, 2, 4), (2, 4),
                                                       (2, 4, 5), (5,)]


def test_mha_symbolic_shapes_match_keras(keras):
    for kwargs, call in [({}, {}), ({"output_shape": (3, 2)}, {"return_attention_scores": True}),
                         ({"value_dim": 5}, {"use_causal_mask": True})]:
        q, v = Input(shape=(None, 8)), Input(shape=(5, 6))
        out = MultiHeadAttention(2, 3, **kwargs)(q, v, **call)
        kq, kv = keras.Input(shape=(None, 8)), keras.Input(shape=(5, 6))
        want = keras.layers.MultiHeadAttention(2, 3, **kwargs)(kq, kv, **call)
        got = [t.shape for t in _tuple(out)]
        assert got[0] == tuple(_tuple(want)[0].shape)
        if len(got) > 1:  # Keras leaves the scores' key length unknown even where it is known
            assert got[1] == (None, 2, None, 5)
            assert all(w is None or w == g for g, w in zip(got[1], want[1].shape, strict=True))


def test_mha_config_round_trip(keras):
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, dropout=0.1, output_shape=(5,),
                               kernel_initializer="he_normal", name="mha")
    x = torch.tensor(Q)
    out = layer(x, x)
    text = json.dumps(layer.get_config())
    clone = MultiHeadAttention.from_config(json.loads(text))
    assert json.dumps(clone.get_config()) == text
    clone(x, x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(clone(x, x)), to_numpy(out), atol=1e-6)
    # The keys Keras uses, so a config reads the same in both.
    want = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3).get_config()
    assert {"num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape", "attention_axes",
            "kernel_initializer", "bias_initializer", "seed"} <= set(want) & set(layer.get_config())


def test_mha_dropout_only_in_training():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5)
    x = torch.tensor(Q)
    inference = layer(x, x)
    torch.testing.assert_close(layer(x, x, training=False), inference)
    assert not torch.allclose(layer(x, x, training=True), inference)


def test_mha_gradients_reach_every_weight():
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    x = torch.tensor(Q, requires_grad=True)
    layer(x, x, use_causal_mask=True).sum().backward()
    for w in layer.trainable_weights:
        assert w.grad is not None and torch.isfinite(w.grad).all()
    assert torch.isfinite(x.grad).all()


def test_mha_masked_rows_have_finite_gradients():
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    x = _lamina(Q, Q_MASK).requires_grad_(True)
    layer(x, x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_mha_errors_teach():
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(num_heads=0, key_dim=3)
    with pytest.raises(ValueError, match="attention_axes"):
        MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=(2,))(torch.ones(1, 3, 2, 4), torch.ones(1, 3, 2, 4))
    with pytest.raises(ValueError, match="value` and `key`"):
        MultiHeadAttention(num_heads=2, key_dim=3)(torch.ones(1, 3, 4), torch.ones(1, 5, 4), torch.ones(1, 6, 4))
    # attention_axes naming the only steps axis is accepted.
    assert MultiHeadAttention(2, 3, attention_axes=1)(torch.ones(1, 3, 4), torch.ones(1, 5, 4)).shape == (1, 3, 4)


def test_mha_in_functional_model_trains():
    x = Input(shape=(6, 8))
    h = MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    h = GlobalAveragePooling1D()(h)
    out = Dense(3, activation="softmax")(h)
    model = lamina.Model(x, out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    data = RNG.standard_normal((32, 6, 8)).astype("float32")
    labels = RNG.integers(0, 3, size=32)
    history = model.fit(data, labels, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert model.predict(data, verbose=0).shape == (32, 3)


# ---------------------------------------------------------------------------------------- Attention layers
SHAPES = [(2, 4, 8), (2, 5, 8)]


@pytest.mark.parametrize("kwargs", [{}, {"use_scale": True}, {"score_mode": "concat"},
                                    {"score_mode": "concat", "use_scale": True}])
def test_attention_contract_and_keras(keras, kwargs):
    check_layer(lambda: Attention(**kwargs), SHAPES, keras_factory=lambda: keras.layers.Attention(**kwargs),
                keras=keras)


@pytest.mark.parametrize("kwargs", [{}, {"use_scale": False}])
def test_additive_attention_contract_and_keras(keras, kwargs):
    check_layer(lambda: AdditiveAttention(**kwargs), SHAPES,
                keras_factory=lambda: keras.layers.AdditiveAttention(**kwargs), keras=keras)


def _random_weights(k_layer, seed=3):
    rng = np.random.default_rng(seed)
    for w in k_layer.weights:
        w.assign(rng.standard_normal(tuple(w.shape)).astype("float32"))


@pytest.mark.parametrize("cls_name,kwargs", [("Attention", {}), ("Attention", {"score_mode": "concat",
                                                                               "use_scale": True}),
                                             ("AdditiveAttention", {})])
@pytest.mark.parametrize("call", [{}, {"use_causal_mask": True}, {"return_attention_scores": True},
                                  {"use_causal_mask": True, "return_attention_scores": True}])
@pytest.mark.parametrize("with_key", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_attention_masks_match_keras(keras, cls_name, kwargs, call, with_key, masked):
    cls = {"Attention": Attention, "AdditiveAttention": AdditiveAttention}[cls_name]
    value = RNG.standard_normal((2, 5, 8)).astype("float32")
    key = RNG.standard_normal((2, 5, 8)).astype("float32")
    data = [Q, value, key] if with_key else [Q, value]
    k_layer = getattr(keras.layers, cls_name)(**kwargs)
    k_mask = [_keras(keras, Q_MASK), _keras(keras, V_MASK)] if masked else None
    k_layer([_keras(keras, x) for x in data], mask=k_mask, **call)
    _random_weights(k_layer)
    want = _tuple(k_layer([_keras(keras, x) for x in data], mask=k_mask, **call))
    layer = cls(**kwargs)
    # lamina takes the masks from the inputs when `mask` is not given (Embedding-style masking).
    inputs = [_lamina(Q, Q_MASK if masked else None), _lamina(value, V_MASK if masked else None)]
    if with_key:
        inputs.append(_lamina(key))
    layer(inputs, **call)
    layer.set_weights(keras_weights(k_layer))
    got = _tuple(layer(inputs, **call))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(to_numpy(g), to_numpy(w), atol=1e-5, rtol=1e-5)
    if masked:
        assert torch.equal(got[0]._keras_mask, torch.tensor(Q_MASK))
        explicit = _tuple(layer([_lamina(x) for x in data], mask=[torch.tensor(Q_MASK), torch.tensor(V_MASK)],
                                **call))
        torch.testing.assert_close(explicit[0], got[0])


def test_attention_symbolic_shapes_and_scores_match_keras(keras):
    q, v = Input(shape=(None, 8)), Input(shape=(5, 8))
    out, scores = Attention()([q, v], return_attention_scores=True)
    kq, kv = keras.Input(shape=(None, 8)), keras.Input(shape=(5, 8))
    k_out, k_scores = keras.layers.Attention()([kq, kv], return_attention_scores=True)
    assert (out.shape, scores.shape) == (tuple(k_out.shape), tuple(k_scores.shape))


def test_attention_config_keys_match_keras(keras):
    assert set(AdditiveAttention().get_config()) == set(keras.layers.AdditiveAttention().get_config())
    assert set(Attention().get_config()) == set(keras.layers.Attention().get_config())


def test_attention_errors_and_dropout():
    with pytest.raises(ValueError, match="score_mode"):
        Attention(score_mode="add")
    with pytest.raises(ValueError, match=r"\[query, value\]"):
        Attention()(torch.ones(2, 3, 4))
    layer = Attention(dropout=0.5)
    x = [torch.ones(2, 3, 4), torch.randn(2, 5, 4)]
    torch.testing.assert_close(layer(x), layer(x, training=False))
    assert not torch.allclose(layer(x, training=True), layer(x))


def test_mha_after_masking_embedding_matches_keras_model(keras):
    from lamina.layers.embedding import Embedding

    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 0, 0, 0]])

    def build(lib, embedding, mha, pool, dense, make_input, dtype):
        x = make_input(shape=(5,), dtype=dtype)
        e = embedding(10, 8, mask_zero=True)(x)
        return lib.Model(x, dense(1)(pool()(mha(2, 4)(e, e))))

    k_model = build(keras, keras.layers.Embedding, keras.layers.MultiHeadAttention,
                    keras.layers.GlobalAveragePooling1D, keras.layers.Dense, keras.Input, "int32")
    model = build(lamina, Embedding, MultiHeadAttention, GlobalAveragePooling1D, Dense, Input, "int64")
    model.set_weights(keras_weights(k_model))
    np.testing.assert_allclose(model.predict(ids, verbose=0), k_model.predict(ids, verbose=0), atol=1e-5)
