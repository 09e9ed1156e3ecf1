"""SimpleRNN, LSTM, GRU, Bidirectional and TimeDistributed against Keras 3 (torch backend) with copied weights."""

import json

import numpy as np
import pytest
import torch
from harness import check_layer, keras_weights, to_numpy

import lamina
from lamina.layers.core import Dense
from lamina.layers.embedding import Embedding, Masking
from lamina.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN, TimeDistributed
from lamina.layers.weights import own_weights

SHAPE = (3, 6, 5)
RNNS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
OPTIONS = [
    {},
    {"return_sequences": True},
    {"go_backwards": True, "return_sequences": True},
    {"return_state": True},
    {"return_sequences": True, "return_state": True, "go_backwards": True},
    {"use_bias": False},
    {"activation": "relu"},  # not PyTorch's math: the step loop
]
CASES = [(name, {}, opts) for name in RNNS for opts in OPTIONS]
CASES += [("GRU", {"reset_after": False}, opts) for opts in OPTIONS[:4]]
CASES += [("LSTM", {"recurrent_activation": "hard_sigmoid", "unit_forget_bias": False}, {"return_sequences": True}),
          ("GRU", {"recurrent_activation": "tanh"}, {})]


def _np(out):
    return [to_numpy(o) for o in out] if isinstance(out, (list, tuple)) else to_numpy(out)


def _assert_close(got, want, atol=1e-5):
    got, want = _np(got), _np(want)
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, atol=atol, rtol=1e-5)
    else:
        np.testing.assert_allclose(got, want, atol=atol, rtol=1e-5)


@pytest.mark.parametrize(("name", "extra", "opts"), CASES)
def test_rnn_matches_keras(keras, name, extra, opts):
    kwargs = {**extra, **opts}
    check_layer(lambda: RNNS[name](4, **kwargs), SHAPE,
                keras_factory=lambda: getattr(keras.layers, name)(4, **kwargs), keras=keras)


@pytest.mark.parametrize("name", list(RNNS))
def test_weight_layout_matches_keras(keras, name):
    layer = RNNS[name](4)
    layer(torch.zeros(SHAPE))
    k = getattr(keras.layers, name)(4)
    k(np.zeros(SHAPE, "float32"))
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in keras_weights(k)]
    assert [w.name for w in k.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert [n for n, _ in own_weights(layer)] == ["kernel", "recurrent_kernel", "bias"]


def test_gru_reset_after_bias_shape():
    assert GRU(4)(torch.zeros(SHAPE)) is not None
    layer = GRU(4)
    layer(torch.zeros(SHAPE))
    assert tuple(layer.bias.shape) == (2, 12)
    layer = GRU(4, reset_after=False)
    layer(torch.zeros(SHAPE))
    assert tuple(layer.bias.shape) == (12,)


def test_lstm_unit_forget_bias():
    layer = LSTM(3)
    layer(torch.zeros(SHAPE))
    np.testing.assert_array_equal(layer.bias.detach().numpy(), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    layer = LSTM(3, unit_forget_bias=False)
    layer(torch.zeros(SHAPE))
    assert not layer.bias.any()


@pytest.mark.parametrize("name", list(RNNS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_initial_state_matches_keras(keras, name, go_backwards):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(SHAPE).astype("float32")
    n_states = 2 if name == "LSTM" else 1
    states = [rng.standard_normal((3, 4)).astype("float32") for _ in range(n_states)]
    opts = {"return_sequences": True, "return_state": True, "go_backwards": go_backwards}
    k = getattr(keras.layers, name)(4, **opts)
    k_out = k(x, initial_state=states)
    layer = RNNS[name](4, **opts)
    layer(torch.tensor(x))
    layer.set_weights(keras_weights(k))
    _assert_close(layer(torch.tensor(x), initial_state=[torch.tensor(s) for s in states]), k_out)


@pytest.mark.parametrize(("name", "extra"), [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}),
                                             ("GRU", {"reset_after": False})])
@pytest.mark.parametrize("opts", [{}, {"return_sequences": True, "return_state": True},
                                  {"go_backwards": True, "return_sequences": True}])
def test_fast_path_equals_step_loop(name, extra, opts):
    layer = RNNS[name](4, **extra, **opts)
    x = torch.randn(SHAPE)
    h0 = [torch.randn(3, 4) for _ in range(layer._n_states)]
    x.requires_grad_(True)
    fast = layer(x, initial_state=h0)
    loop = layer(x, initial_state=h0, mask=torch.ones(3, 6, dtype=torch.bool))  # a mask takes the loop
    _assert_close(fast, loop, atol=1e-6)
    grads = []
    for out in (fast, loop):
        total = sum(o.sum() for o in out) if isinstance(out, list) else out.sum()
        grads.append(torch.autograd.grad(total, [x, *layer.trainable_weights]))
    for g_fast, g_loop in zip(*grads, strict=True):
        torch.testing.assert_close(g_fast, g_loop, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("layer", "fused"), [
    (LSTM(3), True), (GRU(3), True), (SimpleRNN(3), True), (GRU(3, reset_after=False), False),
    (LSTM(3, activation="relu"), False), (SimpleRNN(3, activation="relu"), False),
])
def test_fast_path_taken_exactly_when_math_matches(layer, fused, monkeypatch):
    calls = []
    monkeypatch.setattr(layer, "_fused", lambda *a: calls.append("fused") or type(layer)._fused(layer, *a))
    monkeypatch.setattr(layer, "_loop", lambda *a: calls.append("loop") or type(layer)._loop(layer, *a))
    layer(torch.randn(2, 4, 3))
    assert calls == ["fused" if fused else "loop"]
    calls.clear()
    layer(torch.randn(2, 4, 3), mask=torch.tensor([[True, True, True, False]] * 2))
    assert calls == ["loop"]


def _padded_ids(side, seed=0):
    ids = np.random.default_rng(seed).integers(1, 9, size=(4, 7)).astype("int64")
    for row, n in enumerate([0, 2, 3, 6]):
        if n:
            if side == "left":
                ids[row, :n] = 0
            else:
                ids[row, -n:] = 0
    return ids


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize(("name", "opts"), [
    ("LSTM", {}), ("LSTM", {"return_sequences": True, "return_state": True}),
    ("GRU", {"return_sequences": True}), ("GRU", {"reset_after": False, "return_state": True}),
    ("SimpleRNN", {"go_backwards": True, "return_sequences": True}), ("LSTM", {"go_backwards": True}),
    ("LSTM", {"return_sequences": True, "zero_output_for_mask": True}),
])
def test_masks_from_embedding_match_keras(keras, side, name, opts):
    ids = _padded_ids(side)
    k_emb = keras.layers.Embedding(9, 5, mask_zero=True)
    k_rnn = getattr(keras.layers, name)(4, **opts)
    k_out = k_rnn(k_emb(ids))
    emb, rnn = Embedding(9, 5, mask_zero=True), RNNS[name](4, **opts)
    rnn(emb(torch.tensor(ids)))
    emb.set_weights(keras_weights(k_emb))
    rnn.set_weights(keras_weights(k_rnn))
    out = rnn(emb(torch.tensor(ids)))
    _assert_close(out, k_out)
    first = out[0] if isinstance(out, list) else out
    if opts.get("return_sequences"):
        np.testing.assert_array_equal(first._keras_mask.numpy(), ids != 0)
    else:
        assert getattr(first, "_keras_mask", None) is None


def test_mask_flows_through_sequential_like_keras(keras):
    ids = _padded_ids("right", seed=4)
    k_model = keras.Sequential([keras.Input((7,), dtype="int32"), keras.layers.Embedding(9, 5, mask_zero=True),
                                keras.layers.LSTM(4, return_sequences=True), keras.layers.LSTM(3)])
    model = lamina.Sequential([lamina.layers.Input((7,), dtype="int64"), Embedding(9, 5, mask_zero=True),
                               LSTM(4, return_sequences=True), LSTM(3)])
    model.set_weights(keras_weights(k_model))
    _assert_close(model(torch.tensor(ids)), k_model(ids))
    # and the mask matters: without it the result differs
    unmasked = lamina.Sequential([Embedding(9, 5), LSTM(4, return_sequences=True), LSTM(3)])
    unmasked(torch.tensor(ids))
    unmasked.set_weights(model.get_weights())
    assert not np.allclose(_np(unmasked(torch.tensor(ids))), _np(k_model(ids)), atol=1e-4)


def test_masking_layer_feeds_gru(keras):
    x = np.random.default_rng(1).standard_normal((3, 5, 2)).astype("float32")
    x[0, 3:] = 0.0
    x[1, :2] = 0.0
    k_gru = keras.layers.GRU(3, return_sequences=True)
    k_out = k_gru(keras.layers.Masking()(x))
    gru, masking = GRU(3, return_sequences=True), Masking()
    gru(masking(torch.tensor(x)))
    gru.set_weights(keras_weights(k_gru))
    _assert_close(gru(masking(torch.tensor(x))), k_out)


# ----------------------------------------------------------------------------------------------- Bidirectional
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_keras(keras, merge_mode, return_sequences):
    check_layer(lambda: Bidirectional(LSTM(4, return_sequences=return_sequences), merge_mode=merge_mode), SHAPE,
                keras_factory=lambda: keras.layers.Bidirectional(
                    keras.layers.LSTM(4, return_sequences=return_sequences), merge_mode=merge_mode),
                keras=keras)


def test_bidirectional_return_state_and_backward_layer(keras):
    def make(lib):
        return lib.layers.Bidirectional(lib.layers.GRU(3, return_sequences=True, return_state=True),
                                        backward_layer=lib.layers.GRU(3, return_sequences=True,
                                                                      return_state=True, go_backwards=True,
                                                                      reset_after=False))

    class _Lib:  # lamina's classes under Keras's names, for `make`
        class layers:
            Bidirectional, GRU = Bidirectional, GRU

    check_layer(lambda: make(_Lib), SHAPE, keras_factory=lambda: make(keras), keras=keras)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_with_mask_matches_keras(keras, side, return_sequences):
    ids = _padded_ids(side, seed=5)
    k_emb = keras.layers.Embedding(9, 5, mask_zero=True)
    k_bi = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=return_sequences))
    k_out = k_bi(k_emb(ids))
    emb, bi = Embedding(9, 5, mask_zero=True), Bidirectional(LSTM(4, return_sequences=return_sequences))
    bi(emb(torch.tensor(ids)))
    emb.set_weights(keras_weights(k_emb))
    bi.set_weights(keras_weights(k_bi))
    _assert_close(bi(emb(torch.tensor(ids))), k_out)


def test_bidirectional_initial_state(keras):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(SHAPE).astype("float32")
    states = [rng.standard_normal((3, 4)).astype("float32") for _ in range(4)]
    k_bi = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))
    k_out = k_bi(x, initial_state=states)
    bi = Bidirectional(LSTM(4, return_sequences=True))
    bi(torch.tensor(x))
    bi.set_weights(keras_weights(k_bi))
    _assert_close(bi(torch.tensor(x), initial_state=[torch.tensor(s) for s in states]), k_out)


# ----------------------------------------------------------------------------------------------- TimeDistributed
def test_time_distributed_dense_matches_keras(keras):
    check_layer(lambda: TimeDistributed(Dense(3, activation="tanh")), SHAPE,
                keras_factory=lambda: keras.layers.TimeDistributed(keras.layers.Dense(3, activation="tanh")),
                keras=keras)


def test_time_distributed_4d_input(keras):
    check_layer(lambda: TimeDistributed(Dense(2)), (2, 3, 4, 5),
                keras_factory=lambda: keras.layers.TimeDistributed(keras.layers.Dense(2)), keras=keras)


def test_time_distributed_passes_mask():
    ids = torch.tensor(_padded_ids("right"))
    out = TimeDistributed(Dense(2))(Embedding(9, 5, mask_zero=True)(ids))
    np.testing.assert_array_equal(out._keras_mask.numpy(), ids.numpy() != 0)


# ----------------------------------------------------------------------------------------------- training, misc
def test_lstm_classifier_trains_one_epoch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 3)).astype("float32")
    y = (x[:, :, 0].mean(1) > 0).astype("int64")
    model = lamina.Sequential([lamina.layers.Input((8, 3)), LSTM(8), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(b, a) for b, a in zip(before, model.get_weights(), strict=True))


@pytest.mark.parametrize("name", list(RNNS))
def test_dropout_only_in_training(name):
    layer = RNNS[name](4, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    x = torch.randn(SHAPE)
    a, b = layer(x), layer(x)
    torch.testing.assert_close(a, b)
    trained = layer(x, training=True)
    assert trained.shape == a.shape and not torch.allclose(trained, a)
    trained.sum().backward()
    assert all(torch.isfinite(w.grad).all() for w in layer.trainable_weights)


def test_config_round_trip_keeps_options():
    layer = GRU(5, activation="relu", reset_after=False, dropout=0.25, return_state=True, go_backwards=True,
                kernel_initializer="he_normal")
    cfg = json.loads(json.dumps(layer.get_config()))
    clone = GRU.from_config(cfg)
    assert clone.get_config() == cfg
    assert cfg["reset_after"] is False and cfg["activation"] == "relu" and cfg["dropout"] == 0.25
    bi = Bidirectional(LSTM(2), merge_mode="sum")
    bi_cfg = json.loads(json.dumps(bi.get_config()))
    bi_clone = Bidirectional.from_config(bi_cfg)
    assert bi_clone.get_config() == bi_cfg and bi_clone.backward_layer.go_backwards


@pytest.mark.parametrize(("factory", "keras_factory"), [
    (lambda: LSTM(4, return_state=True), lambda k: k.layers.LSTM(4, return_state=True)),
    (lambda: GRU(4, return_sequences=True), lambda k: k.layers.GRU(4, return_sequences=True)),
    (lambda: Bidirectional(SimpleRNN(4, return_sequences=True), merge_mode=None),
     lambda k: k.layers.Bidirectional(k.layers.SimpleRNN(4, return_sequences=True), merge_mode=None)),
])
def test_symbolic_shapes_with_unknown_steps(keras, factory, keras_factory):
    sym = factory()(lamina.layers.Input((None, 5)))
    k_sym = keras_factory(keras)(keras.Input((None, 5)))
    shapes = [t.shape for t in sym] if isinstance(sym, (list, tuple)) else sym.shape
    k_shapes = [tuple(t.shape) for t in k_sym] if isinstance(k_sym, (list, tuple)) else tuple(k_sym.shape)
    assert shapes == k_shapes


def test_errors_teach():
    with pytest.raises(ValueError, match="stateful"):
        LSTM(3, stateful=True)
    with pytest.raises(ValueError, match="units"):
        GRU(0)
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="initial_state"):
        LSTM(3)(torch.zeros(2, 4, 3), initial_state=[torch.zeros(2, 3)])


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_use_cudnn_chooses_the_kernel_and_never_the_numbers(cls):
    torch.manual_seed(0)
    x = torch.randn(3, 6, 4)
    layer = getattr(lamina.layers, cls)
    auto, loop = layer(5, use_cudnn="auto"), layer(5, use_cudnn=False)
    auto(x), loop(x)
    loop.set_weights(auto.get_weights())
    torch.testing.assert_close(loop(x), auto(x), atol=1e-5, rtol=1e-5)  # fused kernel vs Keras's step loop
    strict = layer(5, use_cudnn=True, activation="relu")
    with pytest.raises(ValueError, match="use_cudnn='auto'"):
        strict(x)
    with pytest.raises(ValueError, match="use_cudnn must be"):
        layer(5, use_cudnn="yes")
