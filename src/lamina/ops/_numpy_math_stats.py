"""Statistics and related ops: quantiles (``quantile``, ``percentile``, ``median`` and the NaN-ignoring forms),
``average``, ``histogram``, ``bincount``, ``correlate``, ``corrcoef``, ``trapezoid``, ``slogdet``, ``isclose``
and ``allclose``.

Quantiles sort and interpolate in torch ops, so they differentiate and run on meta tensors.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lamina.ops import dtypes
from lamina.ops._numpy_math_util import (
    HALF,
    all_dims,
    compute,
    dims,
    floatx,
    is_empty_axis,
    is_float,
    is_int,
    pair,
    reduced_shape,
    result,
)
from lamina.ops.dispatch import op, tensor, to_float

__all__ = [
    "allclose", "average", "bincount", "corrcoef", "correlate", "histogram", "isclose", "median", "nanmedian",
    "nanpercentile", "nanquantile", "percentile", "quantile", "slogdet", "trapezoid",
]

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


# --------------------------------------------------------------------------------------------- quantiles
def _quantile(x: Any, q: Any, axis: Any, method: str, keepdims: bool, ignore_nan: bool,
              scale: float = 1.0) -> torch.Tensor:
    if method not in _METHODS:
        raise ValueError(f"Invalid method {method!r}; expected one of {_METHODS}.")
    t = tensor(x)
    out = result(t.dtype, float)
    work = torch.float64 if t.dtype == torch.float64 else compute(out)
    t = t.to(work)
    if t.ndim == 0:  # a 0-d input is its own quantile (a 0-d result, keepdims or not)
        t, axis, keepdims = t.reshape(1), None, False
    if not isinstance(q, torch.Tensor):
        values = np.asarray(q, dtype=np.float64)
        if values.size and ((values < 0).any() or (values > scale).any()):
            raise ValueError(f"Quantiles must be in the range [0, {scale:g}]; received q={q!r}.")
        qt = tensor(values, dtype=work, device=t.device)
    else:
        qt = q.to(device=t.device, dtype=work)
    qt = qt / scale if scale != 1.0 else qt
    reduced = all_dims(axis, t.ndim)
    kept = [d for d in range(t.ndim) if d not in reduced]
    batch = [t.shape[d] for d in kept]
    y = t.permute(*kept, *reduced).reshape(*batch, -1)
    n = y.shape[-1]
    nan = torch.isnan(y)
    ordered = torch.sort(y, dim=-1).values  # NaN sorts last
    if ignore_nan:
        count = (~nan).sum(dim=-1, keepdim=True)
    else:
        count = torch.full((*batch, 1), n, dtype=torch.int64, device=t.device)
    qs = qt.reshape(-1, *([1] * (len(batch) + 1)))  # (Q, 1.., 1)
    pos = qs * (count - 1).clamp(min=0).to(work)  # (Q, *batch, 1)
    last = (count - 1).clamp(min=0)
    ordered = ordered.expand(qs.shape[0], *ordered.shape)

    def take(index: torch.Tensor) -> torch.Tensor:
        index = torch.minimum(index.to(torch.int64), last).expand(qs.shape[0], *batch, 1)
        return torch.gather(ordered, -1, index).squeeze(-1)

    if method == "lower":
        value = take(torch.floor(pos))
    elif method == "higher":
        value = take(torch.ceil(pos))
    elif method == "nearest":
        value = take(torch.round(pos))
    else:
        low, high = take(torch.floor(pos)), take(torch.ceil(pos))
        if method == "midpoint":
            value = (low + high) / 2
        else:
            frac = (pos - torch.floor(pos)).squeeze(-1).expand_as(low)
            value = low + (high - low) * frac
    undefined = (count == 0) if ignore_nan else nan.any(dim=-1, keepdim=True)
    value = torch.where(undefined.squeeze(-1), torch.full((), float("nan"), dtype=work, device=t.device), value)
    value = value.reshape(qs.shape[0], *reduced_shape(tuple(t.shape), reduced, keepdims))
    if qt.ndim == 0:
        value = value[0]
    return value.to(out)


@op
def quantile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> torch.Tensor:
    """The ``q``-th quantiles (``q`` in [0, 1], a number or 1-D) over ``axis``; a 1-D ``q`` adds a leading axis.
    ``method``: linear, lower, higher, midpoint or nearest."""
    return _quantile(x, q, axis, method, keepdims, ignore_nan=False)


@op
def nanquantile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> torch.Tensor:
    """``quantile`` ignoring NaN (NaN where a slice is all NaN)."""
    return _quantile(x, q, axis, method, keepdims, ignore_nan=True)


@op
def percentile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> torch.Tensor:
    """The ``q``-th percentiles (``q`` in [0, 100]) over ``axis`` (see ``quantile``)."""
    return _quantile(x, q, axis, method, keepdims, ignore_nan=False, scale=100.0)


@op
def nanpercentile(x: Any, q: Any, axis: Any = None, method: str = "linear",
                  keepdims: bool = False) -> torch.Tensor:
    """``percentile`` ignoring NaN (NaN where a slice is all NaN)."""
    return _quantile(x, q, axis, method, keepdims, ignore_nan=True, scale=100.0)


@op
def median(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Median over ``axis`` (the mean of the two middle values for an even count)."""
    return _quantile(x, 0.5, axis, "linear", keepdims, ignore_nan=False)


@op
def nanmedian(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Median over ``axis`` ignoring NaN (``axis=()`` returns the input, as Keras does)."""
    if is_empty_axis(axis):
        return tensor(x)
    return _quantile(x, 0.5, axis, "linear", keepdims, ignore_nan=True)


# ------------------------------------------------------------------------------------------------ average
@op
def average(x: Any, axis: Any = None, weights: Any = None) -> torch.Tensor:
    """Weighted mean over ``axis``; 1-D ``weights`` apply along one ``axis``, else they match ``x``'s shape."""
    t = tensor(x)
    w = None if weights is None else tensor(weights, device=t.device)
    out = result(t.dtype, float, *(() if w is None else (w.dtype,)))
    t = t.to(compute(out))
    if is_empty_axis(axis):
        return t.to(out)
    reduced = all_dims(axis, t.ndim)
    if w is None:
        return (torch.mean(t, dim=reduced) if t.ndim else t).to(out)
    w = w.to(t.dtype)
    if tuple(w.shape) != tuple(t.shape):
        if w.ndim != 1 or axis is None or len(reduced) != 1:
            raise ValueError("1-D weights need one `axis`; otherwise weights must have the shape of x. "
                             f"Received x.shape={tuple(t.shape)}, weights.shape={tuple(w.shape)}, axis={axis}.")
        if w.shape[0] != t.shape[reduced[0]]:
            raise ValueError(f"Length of weights {w.shape[0]} differs from x's axis {axis} "
                             f"({t.shape[reduced[0]]}).")
        w = w.reshape([-1 if d == reduced[0] else 1 for d in range(t.ndim)])
    w = torch.broadcast_to(w, t.shape)
    if t.ndim == 0:
        return (t * w / w).to(out)
    return (torch.sum(t * w, dim=reduced) / torch.sum(w, dim=reduced)).to(out)


# ------------------------------------------------------------------------------------------------ counts
@op
def histogram(x: Any, bins: int = 10, range: tuple | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: A002
    """Counts of a 1-D ``x`` in ``bins`` equal-width bins over ``range`` (default: x's min and max), and the
    ``bins + 1`` bin edges, both in x's float dtype (as NumPy bins: the last bin includes its right edge)."""
    if not isinstance(bins, int) or isinstance(bins, bool):
        raise TypeError(f"Argument `bins` must be of type `int`. Received: bins={bins}")
    if bins < 0:
        raise ValueError(f"Argument `bins` should be a non-negative integer. Received: bins={bins}")
    if range is not None and (not isinstance(range, tuple) or len(range) != 2 or range[1] < range[0]):
        raise ValueError(f"Argument `range` must be a tuple (low, high) with low <= high. Received: range={range}")
    t = tensor(x)
    if t.ndim > 1:
        raise ValueError(f"Input tensor must be 1-dimensional. Received: input.shape={tuple(t.shape)}")
    t = to_float(t).reshape(-1)
    work = compute(t.dtype)
    v = t.to(work)
    if range is not None:
        lo = torch.tensor(float(range[0]), dtype=work, device=t.device)
        hi = torch.tensor(float(range[1]), dtype=work, device=t.device)
    elif v.numel():
        lo, hi = v.detach().min(), v.detach().max()
    else:
        lo, hi = (torch.tensor(b, dtype=work, device=t.device) for b in (0.0, 1.0))
    same = lo == hi
    lo, hi = torch.where(same, lo - 0.5, lo), torch.where(same, hi + 0.5, hi)
    steps = torch.arange(bins + 1, dtype=work, device=t.device)
    edges = lo + (hi - lo) * steps / builtins.max(bins, 1)
    if bins:
        edges = torch.cat([edges[:-1], hi.reshape(1)])
    inside = (v >= lo) & (v <= hi)
    index = torch.searchsorted(edges.detach(), v.detach(), right=True) - 1
    index = index.clamp(0, builtins.max(bins - 1, 0))
    counts = torch.zeros(bins, dtype=work, device=t.device)
    if bins:
        counts = counts.scatter_add(0, index, inside.to(work))
    return counts.to(t.dtype), edges.to(t.dtype)


@op
def bincount(x: Any, weights: Any = None, minlength: int = 0, sparse: bool = False) -> torch.Tensor:
    """Occurrences of each non-negative integer in ``x`` (1-D, or 2-D counted per row), summing ``weights``
    instead of ones if given; length ``max(x) + 1`` or ``minlength``. Eager only (the length depends on values);
    ``sparse=True`` is not supported (as on Keras's torch backend)."""
    if sparse:
        raise ValueError("Unsupported value `sparse=True` with torch backend")
    t = tensor(x)
    if not is_int(t.dtype) and t.dtype != torch.bool:
        raise TypeError(f"bincount takes integer input, not {t.dtype}.")
    if t.ndim not in (1, 2):
        raise ValueError(f"bincount takes a 1-D or 2-D tensor; received shape {tuple(t.shape)}.")
    if t.device.type == "meta":
        raise NotImplementedError("bincount's output length depends on the values of x: it cannot run on meta.")
    index = t.to(torch.int64)
    if index.numel() and bool((index < 0).any()):
        raise ValueError("bincount takes non-negative integers.")
    length = builtins.max(int(index.max()) + 1 if index.numel() else 0, int(minlength))
    if weights is None:
        out, src = torch.int32, torch.ones(index.shape, dtype=torch.int32, device=t.device)
    else:
        w = tensor(weights, device=t.device)
        out = result(t.dtype, w.dtype)
        src = torch.broadcast_to(w, index.shape).to(compute(out))
    counts = torch.zeros((*index.shape[:-1], length), dtype=src.dtype, device=t.device)
    return counts.scatter_add(-1, index, src).to(out)


# ------------------------------------------------------------------------------------- signals, matrices
@op
def correlate(x1: Any, x2: Any, mode: str = "valid") -> torch.Tensor:
    """Cross-correlation of two 1-D tensors, ``c[k] = sum_n x1[n + k] * x2[n]``, in NumPy's ``mode``: ``valid``
    (full overlap), ``same`` (length ``max(len)``) or ``full``. Integers give float32."""
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"mode must be 'valid', 'same' or 'full'; received {mode!r}.")
    a, b = pair(x1, x2)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"correlate takes 1-D tensors; received shapes {tuple(a.shape)} and {tuple(b.shape)}.")
    dt = result(a.dtype, b.dtype)
    dt = dt if dt in HALF else torch.float32
    n, m = a.shape[0], b.shape[0]
    if n == 0 or m == 0:
        raise ValueError("correlate takes non-empty tensors.")
    work = compute(dt)
    full = F.conv1d(a.to(work).reshape(1, 1, n), b.to(work).reshape(1, 1, m), padding=m - 1).reshape(-1)
    size = {"full": n + m - 1, "same": builtins.max(n, m), "valid": builtins.max(n, m) - builtins.min(n, m) + 1}[mode]
    start = (n + m - 1 - size) // 2 if mode != "same" else (n + m - 1 - size + (1 if m > n else 0)) // 2
    return full[start:start + size].to(dt)


@op
def corrcoef(x: Any) -> torch.Tensor:
    """Pearson correlation coefficients of the rows (variables) of a 1-D or 2-D tensor (int64 gives float64)."""
    t = tensor(x)
    if t.dtype == torch.int64:
        t = t.to(torch.float64)
    t = to_float(t)
    if t.ndim > 2:
        raise ValueError(f"corrcoef takes a 1-D or 2-D tensor; received shape {tuple(t.shape)}.")
    rows = t.to(compute(t.dtype)).reshape(t.shape if t.ndim == 2 else (1, t.numel()))
    centred = rows - rows.mean(dim=1, keepdim=True)
    cov = centred @ centred.transpose(0, 1)
    scale = torch.sqrt(torch.diagonal(cov))
    coef = (cov / scale[:, None] / scale[None, :]).clamp(-1.0, 1.0)
    return (coef if t.ndim == 2 else coef.reshape(())).to(t.dtype)


@op
def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> torch.Tensor:
    """Integral of ``y`` along ``axis`` by the trapezoidal rule, at sample points ``x`` or spacing ``dx``."""
    yt = to_float(y)
    if x is None:
        if isinstance(dx, torch.Tensor):
            dx = dx.to(yt.device)
        out = yt.dtype
        return torch.trapezoid(yt.to(compute(out)), dx=dx, dim=axis).to(out)
    xt = tensor(x, device=yt.device)
    out = dtypes.to_torch(dtypes.promote(yt.dtype, xt.dtype))
    out = out if is_float(out) else floatx()
    dims(axis, yt.ndim)
    return torch.trapezoid(yt.to(compute(out)), xt.to(compute(out)), dim=axis).to(out)


@op
def slogdet(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Sign and natural log of the absolute determinant of (a batch of) square matrices."""
    t = to_float(x)
    sign, logabsdet = torch.linalg.slogdet(t.to(compute(t.dtype)))
    return sign.to(t.dtype), logabsdet.to(t.dtype)


# -------------------------------------------------------------------------------------------- closeness
def _isclose(x1: Any, x2: Any, rtol: float, atol: float, equal_nan: bool) -> torch.Tensor:
    a, b = pair(x1, x2)
    dt = dtypes.to_torch(dtypes.promote(a.dtype, b.dtype))
    a, b = a.to(dt), b.to(dt)
    if is_float(dt):
        return torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return torch.eq(a, b)


@op
def isclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> torch.Tensor:
    """Whether ``|x1 - x2| <= atol + rtol * |x2|``, element-wise (NaNs equal if ``equal_nan``)."""
    return _isclose(x1, x2, rtol, atol, equal_nan)


@op
def allclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> torch.Tensor:
    """Whether ``isclose`` holds everywhere, as a 0-d bool tensor."""
    return torch.all(_isclose(x1, x2, rtol, atol, equal_nan))
