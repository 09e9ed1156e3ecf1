"""lamina.quantizers against keras.quantizers (Keras 3.15, torch backend) as the oracle: values, dtypes,
gradients, configs and lookup."""

import numpy as np
import pytest
import torch

import lamina
from lamina import quantizers as Q


def to_numpy(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _data(shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype("float32")


def test_every_public_name_of_keras_quantizers_is_here_or_documented(keras):
    left_out = {"GPTQConfig", "AWQConfig"}  # calibration on a dataset through a tokenizer: not provided
    names = {n for n in dir(keras.quantizers) if not n.startswith("_")}
    assert names - left_out <= set(dir(Q))
    assert lamina.Quantizer is Q.Quantizer


@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
@pytest.mark.parametrize("value_range", [(-127, 127), (-8, 7)])
def test_abs_max_quantize_matches_keras(keras, axis, value_range):
    x = _data((4, 6), scale=3.0)
    x[1] = 0.0
    ours = Q.abs_max_quantize(x, axis=axis, value_range=value_range)
    theirs = keras.quantizers.abs_max_quantize(x, axis=axis, value_range=value_range)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_abs_max_quantize_keeps_float64_and_float16(keras):
    for dtype in (np.float64, np.float16):
        x = _data((3, 5)).astype(dtype)
        ours = Q.abs_max_quantize(torch.tensor(x), axis=-1)
        theirs = keras.quantizers.abs_max_quantize(torch.tensor(x), axis=-1)
        assert ours[1].dtype == theirs[1].dtype
        np.testing.assert_array_equal(to_numpy(ours[0]), to_numpy(theirs[0]))
        np.testing.assert_array_equal(to_numpy(ours[1]), to_numpy(theirs[1]))


def test_abs_max_quantizer_object_config_and_lookup(keras):
    x = _data((3, 4))
    for kwargs in ({}, {"axis": 0}, {"axis": [0, 1], "value_range": (-10, 10), "epsilon": 1e-3}):
        ours, theirs = Q.AbsMaxQuantizer(**kwargs), keras.quantizers.AbsMaxQuantizer(**kwargs)
        assert ours.get_config() == theirs.get_config()
        assert Q.serialize(ours) == keras.quantizers.serialize(theirs)
        for a, b in zip(ours(x), theirs(x), strict=True):
            np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
        again = Q.deserialize(keras.quantizers.serialize(theirs))
        assert again.get_config() == ours.get_config()
    assert isinstance(Q.get("abs_max_quantizer"), Q.AbsMaxQuantizer)
    assert isinstance(Q.get("AbsMaxQuantizer"), Q.AbsMaxQuantizer)
    assert isinstance(Q.get(Q.AbsMaxQuantizer), Q.AbsMaxQuantizer) and Q.get(None) is None
    with pytest.raises(ValueError, match="Could not interpret quantizer identifier"):
        Q.get("foo")
    assert Q.Quantizer()(3.0) == 3.0
    with pytest.raises(NotImplementedError):
        Q.Quantizer().get_config()


@pytest.mark.parametrize("margin", [0, 1])
def test_compute_float8_scale_matches_keras(keras, margin):
    amax = torch.tensor([3.0, 0.0, float("inf"), float("nan"), -1.0, 1e-3, 700.0])
    scale = torch.tensor([1.0, 2.0, 2.0, 0.5, 3.0, 1.0, 0.25])
    ours = Q.compute_float8_scale(amax, scale, 448.0, margin=margin)
    theirs = keras.quantizers.compute_float8_scale(amax, scale, 448.0, margin=margin)
    np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))


def test_compute_float8_amax_history_matches_keras(keras):
    x, history = _data((5, 3), scale=4.0), np.array([1.0, 2.0, 3.0, 4.0], dtype="float32")
    ours = Q.compute_float8_amax_history(x, history)
    np.testing.assert_array_equal(to_numpy(ours), to_numpy(keras.quantizers.compute_float8_amax_history(x, history)))


@pytest.mark.parametrize("qdtype", ["float8_e4m3fn", "float8_e5m2"])
@pytest.mark.parametrize("cdtype", ["float32", "float16", "bfloat16"])
def test_quantize_and_dequantize_matches_keras(keras, qdtype, cdtype):
    x = _data((6, 7), scale=200.0)
    x[0, 0], x[0, 1] = 1e5, -1e5
    for scale in (1.0, 0.37, 4.0):
        ours = Q.quantize_and_dequantize(x, scale, qdtype, cdtype)
        theirs = keras.quantizers.quantize_and_dequantize(x, scale, qdtype, cdtype)
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(to_numpy(ours.float()), to_numpy(theirs.float()))
    with pytest.raises(ValueError, match="floating type"):
        Q.quantize_and_dequantize(x, 1.0, "int8", "float32")


CASES = [({"num_bits": 8}, -1.0, 1.0), ({"num_bits": 4, "narrow_range": True}, -1.0, 1.0),
         ({"num_bits": 3}, 0.1, 1.3), ({"num_bits": 8}, -2.0, -0.5), ({"num_bits": 6}, -0.3, 2.7)]


@pytest.mark.parametrize(("kwargs", "low", "high"), CASES)
def test_fake_quant_values_and_gradients_match_keras(keras, kwargs, low, high):
    x = np.linspace(-3.0, 3.0, 61).astype("float32")
    weights = torch.arange(61.0)
    results = []
    for fn in (Q.fake_quant_with_min_max_vars, keras.quantizers.fake_quant_with_min_max_vars):
        t = torch.tensor(x, requires_grad=True)
        mn, mx = torch.tensor(low, requires_grad=True), torch.tensor(high, requires_grad=True)
        out = fn(t, mn, mx, **kwargs)
        (out * weights).sum().backward()
        results.append([to_numpy(v) for v in (out, t.grad, mn.grad, mx.grad)])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_fake_quant_per_channel_matches_keras(keras):
    x = _data((5, 4, 3), scale=1.5)
    results = []
    for fn in (Q.fake_quant_with_min_max_vars, keras.quantizers.fake_quant_with_min_max_vars):
        t = torch.tensor(x, requires_grad=True)
        mn = torch.tensor([-1.0, -0.5, 0.0], requires_grad=True)
        mx = torch.tensor([1.0, 0.5, 2.0], requires_grad=True)
        out = fn(t, mn, mx, axis=-1)
        (out * torch.arange(60.0).reshape(5, 4, 3)).sum().backward()
        results.append([to_numpy(v) for v in (out, t.grad, mn.grad, mx.grad)])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("rows", [4, 5])
def test_pack_and_unpack_int4_match_keras(keras, axis, rows):
    arr = np.random.default_rng(1).integers(-8, 8, size=(rows, 5) if axis == 0 else (3, rows)).astype("int8")
    ours, theirs = Q.pack_int4(arr, axis=axis), keras.quantizers.pack_int4(arr, axis=axis)
    np.testing.assert_array_equal(to_numpy(ours[0]), to_numpy(theirs[0]))
    assert ours[1:] == tuple(theirs[1:]) and ours[0].dtype == theirs[0].dtype
    back = Q.unpack_int4(ours[0], ours[2], axis=axis)
    np.testing.assert_array_equal(to_numpy(back), arr)
    unsigned = (arr.astype("int16") & 15).astype("uint8")
    ours_u, theirs_u = Q.pack_int4(unsigned, axis=axis, dtype="uint8"), keras.quantizers.pack_int4(
        unsigned, axis=axis, dtype="uint8")
    np.testing.assert_array_equal(to_numpy(ours_u[0]), to_numpy(theirs_u[0]))
    np.testing.assert_array_equal(to_numpy(Q.unpack_int4(ours_u[0], rows, axis=axis, dtype="uint8")), unsigned)
    with pytest.raises(TypeError, match="Expected int8 tensor"):
        Q.pack_int4(arr.astype("float32"))


@pytest.mark.parametrize(("rows", "block"), [(8, 4), (10, 4), (3, 4), (12, 3)])
def test_grouped_quantize_matches_keras(keras, rows, block):
    x = _data((rows, 5), seed=rows)
    ours = Q.abs_max_quantize_grouped_with_zero_point(x, block_size=block)
    theirs = keras.quantizers.abs_max_quantize_grouped_with_zero_point(x, block_size=block)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    for value_range, dtype in (((0, 15), "uint8"), ((0, 255), "uint8"), ((-4, 3), "int8")):
        other = Q.abs_max_quantize_grouped_with_zero_point(x, block, value_range=value_range, dtype=dtype)
        expected = keras.quantizers.abs_max_quantize_grouped_with_zero_point(x, block, value_range=value_range,
                                                                             dtype=dtype)
        for a, b in zip(other, expected, strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    for const in (0.0, 1.0, -3.0):
        flat = np.full((4, 2), const, dtype="float32")
        a = Q.abs_max_quantize_grouped_with_zero_point(flat, block_size=4)
        b = keras.quantizers.abs_max_quantize_grouped_with_zero_point(flat, block_size=4)
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(to_numpy(u), to_numpy(v))


def test_quantization_configs_match_keras(keras):
    pairs = [(Q.Int8QuantizationConfig(), keras.quantizers.Int8QuantizationConfig()),
             (Q.Int8QuantizationConfig(weight_quantizer=Q.AbsMaxQuantizer(axis=0), activation_quantizer=None),
              keras.quantizers.Int8QuantizationConfig(weight_quantizer=keras.quantizers.AbsMaxQuantizer(axis=0),
                                                      activation_quantizer=None)),
             (Q.Int4QuantizationConfig(block_size=64), keras.quantizers.Int4QuantizationConfig(block_size=64)),
             (Q.Float8QuantizationConfig(), keras.quantizers.Float8QuantizationConfig()),
             (Q.QuantizationConfig(), keras.quantizers.QuantizationConfig())]
    for ours, theirs in pairs:
        assert ours.get_config() == theirs.get_config()
        if type(ours) is not Q.QuantizationConfig:
            assert ours.mode == theirs.mode
    with pytest.raises(NotImplementedError, match="Int8QuantizationConfig"):
        _ = Q.QuantizationConfig().mode
    with pytest.raises(ValueError, match="int8"):
        Q.Int8QuantizationConfig(weight_quantizer=Q.AbsMaxQuantizer(output_dtype="int16"))
