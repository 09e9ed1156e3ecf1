"""Quantization arithmetic with Keras 3's names, arguments and results: abs-max int quantization, float8 scaling
(delayed scaling with an amax history), quantize-dequantize round trips, and TensorFlow-style fake quantization
with a straight-through gradient.

>>> import torch
>>> q, scale = abs_max_quantize(torch.tensor([[1.0, -2.5, 0.3]]), axis=-1)
>>> q.tolist(), round(scale.item(), 2)
([[51, -127, 15]], 50.8)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lamina.core import config

_FLOAT8 = {"float8_e4m3fn": torch.float8_e4m3fn, "float8_e5m2": torch.float8_e5m2}


def to_dtype(dtype: Any) -> torch.dtype:
    """A torch dtype from a Keras name (the float8 names included) or a torch dtype."""
    if isinstance(dtype, str) and dtype.replace("torch.", "") in _FLOAT8:
        return _FLOAT8[dtype.replace("torch.", "")]
    return config.standardize_dtype(dtype)


def to_float_tensor(x: Any) -> torch.Tensor:
    """``x`` as a tensor: floating arrays and tensors keep their dtype, anything else (Python numbers, integer
    arrays) becomes floatx, as Keras converts them."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.is_floating_point() and not isinstance(x, (int, float)):
        return t
    return t.to(config.standardize_dtype(None))


def const(value: Any, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a 0-d tensor of ``like``'s dtype and device: arithmetic with it rounds as Keras's does (a
    Python float would take part at double precision; in a float64 computation it is a float32 constant widened,
    as Keras converts Python floats)."""
    as_float32 = torch.as_tensor(value, dtype=torch.float32 if like.dtype == torch.float64 else like.dtype)
    return as_float32.to(device=like.device, dtype=like.dtype)


def _axes(axis: Any) -> tuple[int, ...]:
    return tuple(int(a) for a in axis) if isinstance(axis, (list, tuple)) else (int(axis),)


def abs_max_quantize(inputs: Any, axis: Any, value_range: tuple = (-127, 127), dtype: Any = "int8",
                     epsilon: float = 1e-7, to_numpy: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric quantization: ``scale = value_range[1] / (max(|inputs|, axis) + epsilon)`` and
    ``round(inputs * scale)`` clipped to ``value_range``, cast to ``dtype``. Returns ``(quantized, scale)``,
    the scale keeping the reduced axes (size 1). ``to_numpy`` is accepted for Keras compatibility (the result is
    the same; lamina computes on the input's device).

    >>> abs_max_quantize(torch.tensor([[2.0, -4.0]]), axis=-1, value_range=(-8, 7))[0].tolist()
    [[4, -7]]
    """
    x = to_float_tensor(inputs)
    amax = x.abs().amax(dim=_axes(axis), keepdim=True)
    scale = const(value_range[1], x) / (amax + const(epsilon, x))
    quantized = torch.clamp(torch.round(x * scale), value_range[0], value_range[1]).to(to_dtype(dtype))
    return quantized, scale


def abs_max_quantize_grouped_with_zero_point(inputs: Any, block_size: int, value_range: tuple = (-8, 7),
                                             dtype: Any = "int8", epsilon: float = 1e-7,
                                             to_numpy: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric quantization of a 2-D ``(input_dim, output_dim)`` tensor in groups of ``block_size`` rows: each
    group and column gets ``scale = (max - min + epsilon) / (qmax - qmin)`` and an int8 zero point
    ``clip(round(qmin - min / scale))`` (for an unsigned range such as ``(0, 15)``, shifted down by
    ``(qmax + 1) // 2`` as Keras stores and uses it); a constant group is widened to ``[min - 1, max + 1]``, and a
    short last group (after a full one) is padded with rows of zeros. Keras's results are matched for the ranges
    ``(-2**(b-1), 2**(b-1) - 1)`` and ``(0, 2**b - 1)``. Returns
    ``(quantized, scale, zero_point)``, the last two of shape ``(ceil(input_dim / block_size), output_dim)``.

    >>> q, s, z = abs_max_quantize_grouped_with_zero_point(torch.arange(8.0).reshape(4, 2), block_size=2)
    >>> tuple(s.shape), z.dtype
    ((2, 2), torch.int8)
    """
    x = to_float_tensor(inputs)
    if x.ndim != 2:
        raise ValueError(f"abs_max_quantize_grouped_with_zero_point expects a 2-D (input_dim, output_dim) tensor; "
                         f"received shape {tuple(x.shape)}.")
    if not isinstance(block_size, int) or block_size <= 0:
        raise ValueError(f"block_size must be a positive int; received {block_size!r}.")
    qmin, qmax = value_range
    rows, cols = x.shape
    groups = -(-rows // block_size)
    block_size = min(block_size, rows)  # a single group is the rows themselves
    # As Keras, a short last group is padded with zero rows, which take part in its min and max.
    blocks = torch.nn.functional.pad(x, (0, 0, 0, groups * block_size - rows)).reshape(groups, block_size, cols)
    low, high = blocks.amin(dim=1), blocks.amax(dim=1)
    flat = high - low <= 0
    low, high = torch.where(flat, low - 1, low), torch.where(flat, high + 1, high)
    scale = (high - low + const(epsilon, x)) / (qmax - qmin)
    zero = torch.clamp(torch.round(qmin - low / scale), qmin, qmax)
    if qmin >= 0:  # an unsigned range: as Keras, the zero point is kept (and used) shifted into int8
        zero = zero - (qmax + 1) // 2
    row_scale = scale.repeat_interleave(block_size, dim=0)[:rows]
    row_zero = zero.repeat_interleave(block_size, dim=0)[:rows]
    quantized = torch.clamp(torch.round(x / row_scale) + row_zero, qmin, qmax).to(to_dtype(dtype))
    return quantized, scale, zero.to(torch.int8)


def compute_float8_scale(amax: Any, scale: Any, dtype_max: Any, margin: int = 0) -> torch.Tensor:
    """The next scale of delayed float8 scaling: ``amax * 2**margin / dtype_max`` where ``amax`` is positive and
    finite, else ``scale`` unchanged.

    >>> compute_float8_scale(torch.tensor(448.0), torch.tensor(1.0), 448.0).item()
    1.0
    """
    amax_t, scale_t = to_float_tensor(amax), to_float_tensor(scale)
    factor = torch.as_tensor(dtype_max, dtype=amax_t.dtype, device=amax_t.device) / amax_t / (2.0 ** margin)
    usable = (amax_t > 0) & torch.isfinite(amax_t)
    factor = torch.where(usable, factor, 1.0 / scale_t)
    return 1.0 / factor


def compute_float8_amax_history(x: Any, amax_history: Any) -> torch.Tensor:
    """The amax history after one more step: rolled by one place (oldest value last) with ``max(|x|)`` first.

    >>> compute_float8_amax_history(torch.tensor([-5.0]), torch.tensor([1.0, 2.0, 3.0])).tolist()
    [5.0, 3.0, 1.0]
    """
    history = to_float_tensor(amax_history)
    amax = to_float_tensor(x).abs().max().to(history.dtype)
    return torch.cat([amax.reshape(1), torch.roll(history, -1)[1:]])


def quantize_and_dequantize(inputs: Any, scale: Any, quantized_dtype: Any, compute_dtype: Any) -> torch.Tensor:
    """``inputs / scale`` clipped to the float8 range, rounded to ``quantized_dtype`` (``"float8_e4m3fn"`` or
    ``"float8_e5m2"``), then back to ``compute_dtype`` and times ``scale``.

    >>> quantize_and_dequantize(torch.tensor([0.3, 1000.0]), 1.0, "float8_e4m3fn", "float32").tolist()
    [0.3125, 448.0]
    """
    qdtype, cdtype = to_dtype(quantized_dtype), to_dtype(compute_dtype)
    if not qdtype.is_floating_point:
        raise ValueError(f"quantize_and_dequantize rounds to a floating type such as 'float8_e4m3fn' or "
                         f"'float8_e5m2'; received quantized_dtype={quantized_dtype!r}.")
    x = to_float_tensor(inputs)
    # the scale takes part in the compute dtype, as in Keras (a half-precision compute rounds it first)
    scale_t = (scale if isinstance(scale, torch.Tensor) else torch.as_tensor(scale, dtype=torch.float32))
    scale_t = scale_t.to(device=x.device, dtype=cdtype)
    limit = torch.finfo(qdtype).max
    rounded = torch.clamp(x / scale_t, -limit, limit).to(qdtype).to(cdtype)
    return rounded * scale_t
