"""Keras's math ops (``keras.ops.erf``, ``top_k``, ``segment_sum``, ``stft``, ...), on torch tensors.

Complex numbers travel as Keras has them: a ``(real, imag)`` tuple of float tensors in and out of the FFT
family. The FFT ops live in ``_math_fft``, ``rearrange`` in ``_math_rearrange``; this module holds the rest
and re-exports them all.

>>> from lamina.ops import math
>>> math.segment_sum([1.0, 2.0, 3.0], [0, 0, 1]).tolist()
[3.0, 3.0]
>>> values, indices = math.top_k([1, 5, 3], 2)
>>> values.tolist(), indices.tolist()
([5, 3], [1, 2])
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.ops import dtypes
from lamina.ops._math_fft import fft, fft2, ifft2, irfft, istft, rfft, stft
from lamina.ops._math_rearrange import rearrange
from lamina.ops.dispatch import canonical_axis, op, promoted, tensor, to_float

__all__ = [
    "cdist", "erf", "erfc", "erfinv", "extract_sequences", "fft", "fft2", "ifft2", "in_top_k", "irfft", "istft",
    "logdet", "logsumexp", "rearrange", "rfft", "rsqrt", "segment_max", "segment_min", "segment_prod",
    "segment_sum", "stft", "top_k", "view_as_complex", "view_as_real",
]


# ------------------------------------------------------------------------------------------ elementwise
@op
def erf(x: Any) -> torch.Tensor:
    """The Gauss error function, elementwise (integers and bools give ``floatx()``)."""
    return torch.erf(to_float(x))


@op
def erfc(x: Any) -> torch.Tensor:
    """The complementary error function ``1 - erf(x)``, elementwise."""
    return torch.erfc(to_float(x))


@op
def erfinv(x: Any) -> torch.Tensor:
    """The inverse error function, elementwise (NaN outside ``[-1, 1]``, +-inf at +-1)."""
    return torch.erfinv(to_float(x))


@op
def rsqrt(x: Any) -> torch.Tensor:
    """``1 / sqrt(x)``, elementwise."""
    return torch.rsqrt(to_float(x))


# ------------------------------------------------------------------------------------------- reductions
@op
def logsumexp(x: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> torch.Tensor:
    """``log(sum(exp(x)))`` over ``axis`` (all axes when None), computed without overflow."""
    x = to_float(x)
    axis = canonical_axis(axis)
    if axis is None:
        axis = tuple(range(x.ndim))
    elif isinstance(axis, int):
        axis = (axis,)
    if not axis:  # a 0-d input, or nothing to reduce
        return x.clone()
    return torch.logsumexp(x, dim=axis, keepdim=keepdims)


@op
def logdet(x: Any) -> torch.Tensor:
    """The natural log of the determinant of square matrices in the last two axes (NaN where it is negative).

    float16/bfloat16 are computed in float32 and returned in their own dtype (Keras's torch backend raises)."""
    x = to_float(x)
    if x.dtype in (torch.float16, torch.bfloat16):
        return torch.logdet(x.float()).to(x.dtype)
    return torch.logdet(x)


@op
def cdist(x: Any, y: Any) -> torch.Tensor:
    """Euclidean distances between the rows of ``x`` (..., P, M) and ``y`` (..., R, M): shape (..., P, R),
    batch axes broadcast. The gradient at a zero distance is 0 (not NaN)."""
    (x, y), common = promoted(x, y)
    if not (common.is_floating_point or common.is_complex):
        common = dtypes.to_torch(None)
        x, y = x.to(common), y.to(common)
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError(f"`cdist` inputs must have rank >= 2; received shapes {tuple(x.shape)} and {tuple(y.shape)}.")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"The last axes of `cdist`'s inputs must match; received {tuple(x.shape)} and "
                         f"{tuple(y.shape)}.")
    diff = x.unsqueeze(-2) - y.unsqueeze(-3)
    squared = (diff * diff).sum(-1)
    positive = squared > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, squared, torch.ones_like(squared))),
                       torch.zeros_like(squared))


# ------------------------------------------------------------------------------------------------ top k
@op
def top_k(x: Any, k: int, sorted: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest values along the last axis and their indices (int64, as Keras's torch backend).

    Returns torch's ``(values, indices)`` named tuple. Bools are ranked as 0/1 (Keras's torch backend raises)."""
    x = tensor(x)
    if x.dtype == torch.bool:
        values, indices = torch.topk(x.to(torch.uint8), int(k), dim=-1, sorted=bool(sorted))
        return torch.return_types.topk((values.bool(), indices))
    return torch.topk(x, int(k), dim=-1, sorted=bool(sorted))


@op
def in_top_k(targets: Any, predictions: Any, k: int) -> torch.Tensor:
    """Whether each target class is among the ``k`` highest ``predictions`` of its row (ties at the k-th value
    count as in; a NaN prediction never is)."""
    predictions = tensor(predictions)
    if predictions.dtype == torch.bool:
        predictions = predictions.to(torch.uint8)
    targets = tensor(targets, device=predictions.device).to(device=predictions.device, dtype=torch.int64)
    kth = torch.topk(predictions, int(k), dim=-1, sorted=True).values[..., -1]
    chosen = torch.take_along_dim(predictions, targets.unsqueeze(-1), dim=-1).squeeze(-1)
    return chosen >= kth


# ------------------------------------------------------------------------------------------------ misc
@op
def extract_sequences(x: Any, sequence_length: int, sequence_stride: int) -> torch.Tensor:
    """Frames of ``sequence_length`` along the last axis, ``sequence_stride`` apart: shape
    (..., num_sequences, sequence_length)."""
    x = tensor(x)
    if x.ndim < 1:
        raise ValueError("`extract_sequences` needs an input of rank >= 1.")
    return x.unfold(-1, int(sequence_length), int(sequence_stride))


@op
def view_as_complex(x: Any) -> torch.Tensor:
    """A complex64 tensor from a real one whose last axis (of size 2) holds the real and imaginary parts."""
    x = tensor(x)
    if x.ndim < 1 or x.shape[-1] != 2:
        raise ValueError(f"Last dimension of input must be size 2 (real and imaginary). "
                         f"Received shape: {tuple(x.shape)}")
    pair = x.to(torch.float32)
    return torch.complex(pair[..., 0], pair[..., 1])


@op
def view_as_real(x: Any) -> torch.Tensor:
    """The real and imaginary parts of ``x`` stacked on a new last axis (a real input gets zeros as its
    imaginary part, where Keras's torch backend raises)."""
    x = tensor(x)
    if x.is_complex():
        return torch.stack((x.real, x.imag), dim=-1)
    x = to_float(x)
    return torch.stack((x, torch.zeros_like(x)), dim=-1)


# -------------------------------------------------------------------------------------------- segments
def _segment_reduce(data: Any, segment_ids: Any, num_segments: int | None, how: str) -> torch.Tensor:
    data = tensor(data)
    ids = tensor(segment_ids, device=data.device).to(data.device)
    if ids.ndim != 1:
        raise ValueError(f"Argument `segment_ids` should be a 1-D vector, got shape {tuple(ids.shape)}.")
    if data.ndim < 1 or ids.shape[0] != data.shape[0]:
        raise ValueError(f"Argument `segment_ids` and `data` should have the same leading dimension. "
                         f"Got {tuple(ids.shape)} vs. {tuple(data.shape)}.")
    if ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise ValueError(f"`segment_ids` must be integers; received dtype {ids.dtype}.")
    ids = ids.to(torch.int64)
    if num_segments is None:  # eager only: the number of segments is a value of the input
        num_segments = int(ids.max().item()) + 1 if ids.numel() else 0
    else:
        num_segments = int(num_segments)
    # Ids outside [0, num_segments) go to one extra segment, dropped at the end.
    ids = torch.where((ids >= 0) & (ids < num_segments), ids, torch.full_like(ids, num_segments))
    index = ids.reshape((-1,) + (1,) * (data.ndim - 1)).expand(data.shape)
    out = torch.full((num_segments + 1, *data.shape[1:]), _fill_value(data.dtype, how), dtype=data.dtype,
                     device=data.device)
    out = out.scatter_reduce(0, index, data, how, include_self=False)
    return out[:num_segments]


def _fill_value(dtype: torch.dtype, how: str) -> Any:
    """What an empty segment holds: 0 for sums, 1 for products, the dtype's lowest/highest value for max/min."""
    if how == "sum":
        return False if dtype == torch.bool else 0
    if how == "prod":
        return True if dtype == torch.bool else 1
    if dtype == torch.bool:
        return how == "amin"
    if dtype.is_floating_point:
        return float("-inf") if how == "amax" else float("inf")
    info = torch.iinfo(dtype)
    return info.min if how == "amax" else info.max


@op
def segment_sum(data: Any, segment_ids: Any, num_segments: int | None = None,
                sorted: bool = False) -> torch.Tensor:
    """Sums of the rows of ``data`` sharing a segment id (ids outside ``[0, num_segments)`` are dropped; an
    empty segment is 0). ``num_segments=None`` (max id + 1) reads the ids' values: eager only."""
    return _segment_reduce(data, segment_ids, num_segments, "sum")


@op
def segment_max(data: Any, segment_ids: Any, num_segments: int | None = None,
                sorted: bool = False) -> torch.Tensor:
    """Maxima of the rows of ``data`` sharing a segment id; an empty segment holds the dtype's lowest value
    (-inf for floats; Keras's torch backend gives garbage for integer dtypes there)."""
    return _segment_reduce(data, segment_ids, num_segments, "amax")


@op
def segment_min(data: Any, segment_ids: Any, num_segments: int | None = None,
                sorted: bool = False) -> torch.Tensor:
    """Minima of the rows of ``data`` sharing a segment id; an empty segment holds the dtype's highest value
    (+inf for floats; Keras's torch backend gives garbage for integer dtypes there)."""
    return _segment_reduce(data, segment_ids, num_segments, "amin")


@op
def segment_prod(data: Any, segment_ids: Any, num_segments: int | None = None,
                 sorted: bool = False) -> torch.Tensor:
    """Products of the rows of ``data`` sharing a segment id (an empty segment is 1)."""
    return _segment_reduce(data, segment_ids, num_segments, "prod")

