"""ConvLSTM1D/2D/3D against Keras 3 (torch backend) on the same weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lamina.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D

OURS = {1: ConvLSTM1D, 2: ConvLSTM2D, 3: ConvLSTM3D}
SHAPES = {1: (2, 4, 9, 2), 2: (2, 4, 7, 6, 2), 3: (2, 3, 5, 6, 4, 2)}


def _np(keras, value):
    if isinstance(value, (list, tuple)):
        return [_np(keras, v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(keras.ops.convert_to_numpy(value))


def _pair(keras, rank, filters=3, kernel_size=3, seed=0, **kwargs):
    """A Keras layer and ours with the same (perturbed, so the bias matters) weights, built on SHAPES[rank]."""
    rng = np.random.default_rng(seed)
    theirs = getattr(keras.layers, f"ConvLSTM{rank}D")(filters, kernel_size, **kwargs)
    ours = OURS[rank](filters, kernel_size, **kwargs)
    x = np.zeros(SHAPES[rank], "float32")
    theirs(x), ours(torch.tensor(x))
    weights = [w + 0.3 * rng.normal(size=w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours


def _close(ours, theirs, atol=1e-5):
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            _close(a, b, atol)
        return
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=atol)


CASES = [
    {},
    {"return_sequences": True, "return_state": True},
    {"go_backwards": True, "return_state": True},
    {"padding": "same", "return_sequences": True},
    {"padding": "same", "strides": 2, "return_sequences": True, "return_state": True},
    {"strides": 2},
    {"padding": "same", "dilation_rate": 2, "go_backwards": True, "return_sequences": True},
    {"activation": "relu", "recurrent_activation": "hard_sigmoid", "use_bias": False},
]


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("options", CASES)
def test_outputs_equal_keras(keras, rank, options):
    theirs, ours = _pair(keras, rank, **options)
    x = np.random.default_rng(1).normal(size=SHAPES[rank]).astype("float32")
    _close(_np(keras, ours(torch.tensor(x))), _np(keras, theirs(x)))


def test_even_kernel_and_channels_first_equal_keras(keras):
    theirs, ours = _pair(keras, 2, kernel_size=(2, 3), padding="same", return_sequences=True, return_state=True)
    x = np.random.default_rng(2).normal(size=SHAPES[2]).astype("float32")
    _close(_np(keras, ours(torch.tensor(x))), _np(keras, theirs(x)))
    shape = (2, 4, 2, 7, 6)
    rng = np.random.default_rng(3)
    theirs = keras.layers.ConvLSTM2D(3, 3, data_format="channels_first", return_sequences=True, return_state=True)
    ours = ConvLSTM2D(3, 3, data_format="channels_first", return_sequences=True, return_state=True)
    x = rng.normal(size=shape).astype("float32")
    theirs(x), ours(torch.tensor(x))
    ours.set_weights(theirs.get_weights())
    _close(_np(keras, ours(torch.tensor(x))), _np(keras, theirs(x)))


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_mask_and_initial_state_equal_keras(keras, zero_output_for_mask):
    theirs, ours = _pair(keras, 2, padding="same", return_sequences=True, return_state=True,
                         zero_output_for_mask=zero_output_for_mask)
    rng = np.random.default_rng(4)
    x = rng.normal(size=SHAPES[2]).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=bool)
    h0, c0 = (rng.normal(size=(2, 7, 6, 3)).astype("float32") for _ in range(2))
    got = ours(torch.tensor(x), mask=torch.tensor(mask), initial_state=[torch.tensor(h0), torch.tensor(c0)])
    want = theirs(x, mask=mask, initial_state=[h0, c0])
    _close(_np(keras, got), _np(keras, want))


def test_weights_config_and_keras_shapes(keras):
    theirs, ours = _pair(keras, 2, padding="same", strides=(2, 1))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert [w.name for w in ours.weights] == ["kernel", "recurrent_kernel", "bias"]
    cfg = ours.get_config()
    want = theirs.get_config()
    for key in want:
        if key in ("name", "dtype") or isinstance(want[key], dict):
            continue
        assert cfg[key] == want[key], key
    again = ConvLSTM2D.from_config(json.loads(json.dumps(cfg)))
    x = torch.randn(2, 4, 7, 6, 2)
    again(x)
    again.set_weights(ours.get_weights())
    torch.testing.assert_close(again(x), ours(x))


def test_default_initial_weights_follow_keras():
    layer = ConvLSTM2D(4, 3)
    layer(torch.zeros(1, 2, 5, 5, 3))
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 3, 16) and recurrent.shape == (3, 3, 4, 16)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])  # unit_forget_bias


def test_symbolic_shape_and_gradients(keras):
    from lamina.layers import Input

    layer = ConvLSTM2D(3, 3, padding="same", strides=2, return_sequences=True, return_state=True)
    out = layer(Input((4, 7, 6, 2)))
    k_out = keras.layers.ConvLSTM2D(3, 3, padding="same", strides=2, return_sequences=True,
                                    return_state=True)(keras.Input((4, 7, 6, 2)))
    assert [tuple(o.shape) for o in out] == [tuple(o.shape) for o in k_out]
    x = torch.randn(2, 4, 7, 6, 2, requires_grad=True)
    seq, h, c = layer(x)
    (seq.sum() + c.sum()).backward()
    assert all(torch.isfinite(w.grad).all() for w in layer.trainable_weights)
    assert x.grad is not None


def test_dropout_only_while_training():
    torch.manual_seed(0)
    layer = ConvLSTM1D(3, 3, padding="same", dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    x = torch.randn(2, 4, 9, 2)
    torch.testing.assert_close(layer(x), layer(x))
    assert not torch.allclose(layer(x, training=True), layer(x))


@pytest.mark.parametrize(("kwargs", "match"), [({"stateful": True}, "stateful"), ({"filters": 0}, "filters"),
                                                ({"dropout": 1.0}, "dropout"), ({"padding": "causal"}, "padding"),
                                                ({"strides": 2, "dilation_rate": 2}, "dilation")])
def test_refusals(kwargs, match):
    args = {"filters": 3, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        ConvLSTM2D(**args)


def test_wrong_rank_is_refused():
    with pytest.raises(ValueError, match="rank"):
        ConvLSTM2D(3, 3)(torch.zeros(2, 7, 6, 2))


@pytest.mark.parametrize("rank", [1, 2])
def test_layer_contract(keras, check_layer, rank):
    options = {"padding": "same", "return_sequences": True} if rank == 2 else {"kernel_size": 2, "strides": 2}
    kernel_size = options.pop("kernel_size", 3)
    shape = (2, 4, 6, 5, 2) if rank == 2 else (2, 4, 9, 2)
    check_layer(lambda: OURS[rank](3, kernel_size, **options), shape,
                keras_factory=lambda: getattr(keras.layers, f"ConvLSTM{rank}D")(3, kernel_size, **options),
                keras=keras, atol=1e-5)


def test_unknown_time_axis_symbolic(keras):
    from lamina.layers import Input

    out = ConvLSTM2D(3, 3, return_sequences=True)(Input((None, 7, 6, 2)))
    want = keras.layers.ConvLSTM2D(3, 3, return_sequences=True)(keras.Input((None, 7, 6, 2)))
    assert tuple(out.shape) == tuple(want.shape)
