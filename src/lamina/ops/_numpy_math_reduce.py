"""Reductions and scans: ``sum``, ``prod``, ``mean``, ``var``, ``std``, ``max``, ``min``, ``argmax``, ``all``,
``any``, ``count_nonzero``, ``ptp``, ``cumsum``, ``cumprod`` and their NaN-ignoring ``nan*`` forms.

``axis`` is None (every axis), an int or a tuple/list of ints (negative allowed); ``axis=()`` reduces over no
axis. Result dtypes follow Keras on its torch backend (``sum`` of small ints is int32, ``mean`` of ints is
float32, ``var``/``prod`` use Keras's ``result_type``, which makes 64-bit results 32-bit).
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import torch

from lamina.ops import dtypes
from lamina.ops._numpy_math_util import all_dims, compute, dims, is_empty_axis, is_float, keep, reduced_shape, result
from lamina.ops.dispatch import op, tensor

__all__ = [
    "all", "amax", "amin", "any", "argmax", "argmin", "count_nonzero", "cumprod", "cumsum", "max", "mean", "min",
    "nanargmax", "nanargmin", "nancumprod", "nancumsum", "nanmax", "nanmean", "nanmin", "nanprod", "nanstd",
    "nansum", "nanvar", "prod", "ptp", "std", "sum", "var",
]

_SMALL_INTS = (torch.bool, torch.uint8, torch.int8, torch.int16)


def _reduce(fn: Any, t: torch.Tensor, axis: Any, keepdims: bool, **kwargs: Any) -> torch.Tensor:
    """``fn(t, dim=..., keepdim=...)`` over ``axis`` (every axis for None)."""
    reduced = all_dims(axis, t.ndim)
    if t.ndim == 0:
        return fn(t, **kwargs)
    return fn(t, dim=reduced, keepdim=keepdims, **kwargs)


# -------------------------------------------------------------------------------------------- sums, means
def _sum_dtype(dt: torch.dtype) -> torch.dtype:
    return torch.int32 if dt in _SMALL_INTS else dt


@op
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """Sum over ``axis`` (bool and 8/16-bit integers give int32)."""
    t = tensor(x)
    if is_empty_axis(axis):
        return t
    return _reduce(torch.sum, t, axis, keepdims, dtype=_sum_dtype(t.dtype))


@op
def nansum(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Sum over ``axis`` treating NaN as zero."""
    t = tensor(x)
    out = _sum_dtype(t.dtype)
    if is_float(t.dtype):
        t = torch.where(torch.isnan(t), torch.zeros((), dtype=t.dtype, device=t.device), t)
    if is_empty_axis(axis):
        return t.to(out)
    return _reduce(torch.sum, t, axis, keepdims, dtype=out)


def _prod_dtype(dt: torch.dtype, dtype: Any) -> torch.dtype:
    if dtype is not None:
        return dtypes.to_torch(dtype)
    out = result(dt)
    return torch.int32 if out in (*_SMALL_INTS, torch.uint8) else out


def _prod(t: torch.Tensor, axis: Any, keepdims: bool, out: torch.dtype) -> torch.Tensor:
    work = t.to(compute(out))
    if t.ndim == 0:
        return work.to(out)
    reduced = all_dims(axis, t.ndim)
    if not reduced:
        return work.to(out)
    batch = [t.shape[d] for d in range(t.ndim) if d not in reduced]
    flat = work.movedim(reduced, tuple(range(len(batch), t.ndim)))
    flat = flat.reshape(*batch, math.prod(t.shape[d] for d in reduced))
    y = torch.prod(flat, dim=-1)
    return (keep(y, reduced) if keepdims else y).to(out)


@op
def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> torch.Tensor:
    """Product over ``axis`` (bool and small ints give int32; Keras's ``result_type`` for the rest)."""
    t = tensor(x)
    return _prod(t, axis, keepdims, _prod_dtype(t.dtype, dtype))


@op
def nanprod(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Product over ``axis`` treating NaN as one."""
    t = tensor(x)
    if is_float(t.dtype):
        t = torch.where(torch.isnan(t), torch.ones((), dtype=t.dtype, device=t.device), t)
    return _prod(t, axis, keepdims, _prod_dtype(t.dtype, None))


@op
def mean(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Arithmetic mean over ``axis`` (integers and bools give float32)."""
    t = tensor(x)
    if is_empty_axis(axis):
        return t
    out = t.dtype if is_float(t.dtype) else result(t.dtype, "float32")
    return _reduce(torch.mean, t.to(compute(out)), axis, keepdims).to(out)


@op
def nanmean(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Mean over ``axis`` ignoring NaN (NaN where a slice is all NaN)."""
    t = tensor(x)
    if is_empty_axis(axis):
        return t
    out = result(t.dtype, float)
    return _reduce(torch.nanmean, t.to(compute(out)), axis, keepdims).to(out)


def _var(t: torch.Tensor, axis: Any, keepdims: bool, ignore_nan: bool) -> torch.Tensor:
    """Population variance (ddof 0) over ``axis`` in ``t``'s dtype; with ``ignore_nan``, over non-NaN entries."""
    reduced = all_dims(axis, t.ndim)
    if not ignore_nan:
        if t.ndim == 0:
            return t - t
        return torch.var(t, dim=reduced, correction=0, keepdim=keepdims)
    valid = ~torch.isnan(t)
    zero = torch.zeros((), dtype=t.dtype, device=t.device)
    count = valid.sum(dim=reduced, keepdim=True).to(t.dtype)
    centre = torch.where(valid, t, zero).sum(dim=reduced, keepdim=True) / count
    squares = torch.where(valid, t - centre, zero).square().sum(dim=reduced, keepdim=True) / count
    return squares if keepdims else squares.squeeze(reduced) if reduced else squares


def _var_like(x: Any, axis: Any, keepdims: bool, ignore_nan: bool, root: bool) -> torch.Tensor:
    t = tensor(x)
    out = result(t.dtype, float)
    if root and not ignore_nan:  # Keras's std keeps float64 and computes integers in float32
        out = t.dtype if is_float(t.dtype) else torch.float32
    work = t.to(torch.float64 if t.dtype == torch.float64 else compute(out))
    if is_empty_axis(axis):
        y = torch.where(torch.isnan(work), work, torch.zeros_like(work)) if ignore_nan else torch.zeros_like(work)
    else:
        y = _var(work, axis, keepdims, ignore_nan)
    return (torch.sqrt(y) if root else y).to(out)


@op
def var(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Population variance (``ddof=0``) over ``axis``."""
    return _var_like(x, axis, keepdims, ignore_nan=False, root=False)


@op
def std(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Population standard deviation (``ddof=0``) over ``axis``."""
    return _var_like(x, axis, keepdims, ignore_nan=False, root=True)


@op
def nanvar(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Population variance over ``axis`` ignoring NaN."""
    return _var_like(x, axis, keepdims, ignore_nan=True, root=False)


@op
def nanstd(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Population standard deviation over ``axis`` ignoring NaN."""
    return _var_like(x, axis, keepdims, ignore_nan=True, root=True)


# ---------------------------------------------------------------------------------------------- extrema
def _extreme(x: Any, axis: Any, keepdims: bool, initial: Any, largest: bool, op_name: str) -> torch.Tensor:
    t = tensor(x)
    if is_empty_axis(axis):
        return t
    reduced = all_dims(axis, t.ndim)
    if t.ndim and builtins.any(t.shape[d] == 0 for d in reduced):
        if initial is None:
            raise ValueError(f"Cannot compute the {op_name} of an empty tensor without `initial`.")
        return torch.full(reduced_shape(tuple(t.shape), reduced, keepdims), initial, dtype=t.dtype,
                          device=t.device)
    fn = torch.amax if largest else torch.amin
    y = _reduce(fn, t, axis, keepdims)
    if initial is not None:
        bound = torch.tensor(initial, device=t.device).to(t.dtype)
        y = torch.maximum(y, bound) if largest else torch.minimum(y, bound)
    return y


@op
def max(x: Any, axis: Any = None, keepdims: bool = False, initial: Any = None) -> torch.Tensor:  # noqa: A001
    """Maximum over ``axis``, at least ``initial`` if given (which also makes empty input allowed)."""
    return _extreme(x, axis, keepdims, initial, True, "max")


@op
def min(x: Any, axis: Any = None, keepdims: bool = False, initial: Any = None) -> torch.Tensor:  # noqa: A001
    """Minimum over ``axis``, at most ``initial`` if given (which also makes empty input allowed)."""
    return _extreme(x, axis, keepdims, initial, False, "min")


@op
def amax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Maximum over ``axis``."""
    return _extreme(x, axis, keepdims, None, True, "amax")


@op
def amin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Minimum over ``axis``."""
    return _extreme(x, axis, keepdims, None, False, "amin")


def _nan_extreme(x: Any, axis: Any, keepdims: bool, largest: bool) -> torch.Tensor:
    t = tensor(x)
    if is_empty_axis(axis):
        return t
    if not is_float(t.dtype):
        return _reduce(torch.amax if largest else torch.amin, t, axis, keepdims)
    nan = torch.isnan(t)
    fill = torch.full((), float("-inf") if largest else float("inf"), dtype=t.dtype, device=t.device)
    y = _reduce(torch.amax if largest else torch.amin, torch.where(nan, fill, t), axis, keepdims)
    all_nan = _reduce(torch.all, nan, axis, keepdims)
    return torch.where(all_nan, torch.full((), float("nan"), dtype=t.dtype, device=t.device), y)


@op
def nanmax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Maximum over ``axis`` ignoring NaN (NaN where a slice is all NaN)."""
    return _nan_extreme(x, axis, keepdims, True)


@op
def nanmin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Minimum over ``axis`` ignoring NaN (NaN where a slice is all NaN)."""
    return _nan_extreme(x, axis, keepdims, False)


@op
def ptp(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Range (maximum minus minimum) over ``axis``."""
    t = tensor(x)
    if is_empty_axis(axis):
        return torch.zeros_like(t)
    return _reduce(torch.amax, t, axis, keepdims) - _reduce(torch.amin, t, axis, keepdims)


def _arg(x: Any, axis: Any, keepdims: bool, largest: bool, ignore_nan: bool) -> torch.Tensor:
    t = tensor(x)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    if axis is not None and not isinstance(axis, int):
        axis = int(axis[0]) if len(axis) == 1 else axis
        if not isinstance(axis, int):
            raise ValueError(f"argmax/argmin take one axis, not {axis!r}.")
    fn = torch.argmax if largest else torch.argmin
    if not (ignore_nan and is_float(t.dtype)):
        return fn(t, dim=axis, keepdim=keepdims).to(torch.int32)
    nan = torch.isnan(t)
    fill = torch.full((), float("-inf") if largest else float("inf"), dtype=t.dtype, device=t.device)
    index = fn(torch.where(nan, fill, t), dim=axis, keepdim=keepdims).to(torch.int32)
    all_nan = nan.all() if axis is None else nan.all(dim=axis, keepdim=keepdims)
    if axis is None and keepdims:
        all_nan = all_nan.reshape(index.shape)
    return torch.where(all_nan, torch.full((), -1, dtype=torch.int32, device=t.device), index)


@op
def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Index of the maximum along ``axis`` (of the flattened tensor for None), as int32."""
    return _arg(x, axis, keepdims, True, False)


@op
def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Index of the minimum along ``axis`` (of the flattened tensor for None), as int32."""
    return _arg(x, axis, keepdims, False, False)


@op
def nanargmax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Index of the maximum along ``axis`` ignoring NaN; -1 where a slice is all NaN (as Keras; NumPy raises)."""
    return _arg(x, axis, keepdims, True, True)


@op
def nanargmin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Index of the minimum along ``axis`` ignoring NaN; -1 where a slice is all NaN (as Keras; NumPy raises)."""
    return _arg(x, axis, keepdims, False, True)


# ------------------------------------------------------------------------------------------------ logic
@op
def all(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """Whether every element along ``axis`` is nonzero."""
    t = tensor(x)
    if is_empty_axis(axis):
        return t.to(torch.bool)
    return _reduce(torch.all, t, axis, keepdims).to(torch.bool)


@op
def any(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """Whether any element along ``axis`` is nonzero."""
    t = tensor(x)
    if is_empty_axis(axis):
        return t.to(torch.bool)
    return _reduce(torch.any, t, axis, keepdims).to(torch.bool)


@op
def count_nonzero(x: Any, axis: Any = None) -> torch.Tensor:
    """Number of nonzero elements along ``axis``, as int32 (NumPy's shape; Keras's torch backend transposes
    results of rank 2 and more)."""
    t = tensor(x)
    if is_empty_axis(axis):
        return (t != 0).to(torch.int32)
    return _reduce(torch.sum, t != 0, axis, False, dtype=torch.int32)


# ------------------------------------------------------------------------------------------------ scans
def _scan(x: Any, axis: Any, dtype: Any, product: bool, nan_fill: float | None) -> torch.Tensor:
    t = tensor(x)
    if nan_fill is not None and is_float(t.dtype):
        t = torch.where(torch.isnan(t), torch.full((), nan_fill, dtype=t.dtype, device=t.device), t)
    if axis is None:
        t, axis = t.reshape(-1), 0
    elif not isinstance(axis, int):
        raise ValueError(f"cumsum/cumprod take one axis, not {axis!r}.")
    dims(axis, t.ndim)
    out = result(dtype if dtype is not None else t.dtype)
    if out == torch.bool:
        out = torch.int32
    fn = torch.cumprod if product else torch.cumsum
    return fn(t, dim=axis, dtype=compute(out)).to(out)


@op
def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """Cumulative sum along ``axis`` (of the flattened tensor for None); bool gives int32."""
    return _scan(x, axis, dtype, False, None)


@op
def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """Cumulative product along ``axis`` (of the flattened tensor for None); bool gives int32."""
    return _scan(x, axis, dtype, True, None)


@op
def nancumsum(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """Cumulative sum treating NaN as zero (infinities stay; Keras's torch backend also clips them)."""
    return _scan(x, axis, dtype, False, 0.0)


@op
def nancumprod(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    """Cumulative product treating NaN as one (infinities stay; Keras's torch backend also clips them)."""
    return _scan(x, axis, dtype, True, 1.0)

