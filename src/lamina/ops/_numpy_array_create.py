"""Creation ops of ``keras.ops.numpy``: constant tensors, ranges, grids and window functions.

New tensors go to ``dispatch.default_device()`` (the meta device while a functional model infers shapes)
unless a tensor argument says otherwise; dtypes follow Keras (``zeros(shape)`` is ``floatx()``, ``arange`` of
Python ints is ``int32``).

>>> arange(3).tolist(), str(arange(3).dtype)
([0, 1, 2], 'torch.int32')
>>> linspace(0, 1, 3).tolist()
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np
import torch

from lamina.ops import dtypes
from lamina.ops.dispatch import default_device, device_of, op, tensor

__all__ = [
    "arange", "array", "bartlett", "blackman", "copy", "empty", "empty_like", "eye", "full", "full_like",
    "geomspace", "hamming", "hanning", "identity", "kaiser", "linspace", "logspace", "meshgrid", "ones",
    "ones_like", "tri", "zeros", "zeros_like",
]

def _shape(shape: Any) -> tuple[int, ...]:
    """A shape as a tuple of ints: an int, a sequence of ints or 0-d tensors, or a 1-D tensor."""
    if isinstance(shape, torch.Size):
        return tuple(shape)
    if isinstance(shape, (torch.Tensor, np.ndarray)):
        return tuple(int(s) for s in shape.reshape(-1).tolist())
    if isinstance(shape, (list, tuple)):
        return tuple(int(s) for s in shape)
    return (int(shape),)


def _dtype_or_floatx(dtype: Any) -> torch.dtype:
    return dtypes.to_torch(dtype)  # None -> floatx()


def _scalar(v: Any) -> Any:
    """A Python number of ``v`` (eager only: a tensor's value)."""
    if isinstance(v, (torch.Tensor, np.ndarray, np.generic)):
        return v.item()
    return v


# ------------------------------------------------------------------------------------------------ constants
@op
def zeros(shape: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of zeros of ``shape`` (dtype ``floatx()`` unless given)."""
    return torch.zeros(_shape(shape), dtype=_dtype_or_floatx(dtype), device=default_device())


@op
def ones(shape: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of ones of ``shape`` (dtype ``floatx()`` unless given)."""
    return torch.ones(_shape(shape), dtype=_dtype_or_floatx(dtype), device=default_device())


@op
def empty(shape: Any, dtype: Any = None) -> torch.Tensor:
    """An uninitialized tensor of ``shape`` (dtype ``floatx()`` unless given)."""
    return torch.empty(_shape(shape), dtype=_dtype_or_floatx(dtype), device=default_device())


@op
def full(shape: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (a number or a tensor broadcast to ``shape``); dtype
    ``floatx()`` unless given, as in Keras."""
    target = _dtype_or_floatx(dtype)
    size = _shape(shape)
    if isinstance(fill_value, (bool, int, float, complex)):
        return torch.full(size, fill_value, dtype=target, device=default_device())
    value = tensor(fill_value, device=default_device())
    return torch.broadcast_to(value.to(target), size).clone()


def _like(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else tensor(x)


@op
def zeros_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """Zeros of ``x``'s shape, in ``x``'s dtype unless given, on ``x``'s device."""
    t = _like(x)
    return torch.zeros(t.shape, dtype=dtypes.to_torch(dtype) if dtype is not None else t.dtype, device=t.device)


@op
def ones_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """Ones of ``x``'s shape, in ``x``'s dtype unless given, on ``x``'s device."""
    t = _like(x)
    return torch.ones(t.shape, dtype=dtypes.to_torch(dtype) if dtype is not None else t.dtype, device=t.device)


@op
def empty_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """An uninitialized tensor of ``x``'s shape, in ``x``'s dtype unless given."""
    t = _like(x)
    return torch.empty(t.shape, dtype=dtypes.to_torch(dtype) if dtype is not None else t.dtype, device=t.device)


@op
def full_like(x: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """``x``'s shape filled with ``fill_value`` (broadcast), in ``x``'s dtype unless given."""
    t = _like(x)
    target = dtypes.to_torch(dtype) if dtype is not None else t.dtype
    if isinstance(fill_value, (bool, int, float, complex)):
        return torch.full(t.shape, fill_value, dtype=target, device=t.device)
    value = tensor(fill_value, device=t.device)
    return torch.broadcast_to(value.to(device=t.device, dtype=target), t.shape).clone()


@op
def array(x: Any, dtype: Any = None) -> torch.Tensor:
    """``x`` as a tensor (``convert_to_tensor``), cast to ``dtype`` if given."""
    return tensor(x, dtype)


@op
def copy(x: Any) -> torch.Tensor:
    """A copy of ``x`` (gradients flow through it)."""
    if isinstance(x, torch.Tensor):
        return x.clone()
    return tensor(x)


def _eye_mask(n: int, m: int, k: int, device: torch.device, lower: bool) -> torch.Tensor:
    rows = torch.arange(n, device=device).unsqueeze(1)
    cols = torch.arange(m, device=device).unsqueeze(0)
    return (cols - rows <= k) if lower else (cols - rows == k)


@op
def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> torch.Tensor:  # noqa: N803 (Keras's names)
    """An ``N x M`` matrix with ones on the ``k``-th diagonal (dtype ``floatx()`` unless given)."""
    n = int(_scalar(N))
    m = n if M is None else int(_scalar(M))
    return _eye_mask(n, m, int(_scalar(k)), default_device(), lower=False).to(_dtype_or_floatx(dtype))


@op
def identity(n: int, dtype: Any = None) -> torch.Tensor:
    """The ``n x n`` identity matrix (dtype ``floatx()`` unless given)."""
    return eye(n, dtype=dtype)


@op
def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> torch.Tensor:  # noqa: N803 (Keras's names)
    """An ``N x M`` matrix with ones at and below the ``k``-th diagonal (dtype ``floatx()`` unless given)."""
    n = int(_scalar(N))
    m = n if M is None else int(_scalar(M))
    return _eye_mask(n, m, int(_scalar(k)), default_device(), lower=True).to(_dtype_or_floatx(dtype))


# --------------------------------------------------------------------------------------------------- ranges
def _value_key(v: Any) -> Any:
    """What Keras's dtype inference sees of an argument: Python numbers weak, anything else its dtype."""
    if isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, (torch.Tensor, np.ndarray, np.generic)):
        return v.dtype
    return tensor(v).dtype


@op
def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> torch.Tensor:
    """Evenly spaced values in ``[start, stop)``; Python ints give int32, floats ``floatx()`` (Keras's rule:
    the promoted dtype of the arguments, 64-bit made 32-bit)."""
    given = [v for v in (start, stop, step) if v is not None]
    if dtype is None:
        target = dtypes.to_torch(dtypes.result_type(*(_value_key(v) for v in given)))
    else:
        target = dtypes.to_torch(dtype)
    if target == torch.bool:
        raise TypeError("arange does not produce bool tensors.")
    lo, hi, by = _scalar(start), _scalar(stop), _scalar(step)
    if hi is None:
        lo, hi = 0, lo
    if by is None:
        by = 1
    if target.is_floating_point:
        work = torch.float64
    elif builtins.all(isinstance(v, (bool, int)) for v in (lo, hi, by)):
        work = torch.int64
    else:  # an int dtype asked of float bounds: NumPy's length, and its step int(start + step) - int(start)
        n = builtins.max(0, math.ceil((hi - lo) / by))
        first, delta = int(lo), int(lo + by) - int(lo)
        return (first + delta * torch.arange(n, dtype=torch.int64, device=default_device())).to(target)
    return torch.arange(lo, hi, by, dtype=work, device=default_device()).to(target)


def _space_dtype(start: Any, stop: Any, dtype: Any) -> torch.dtype:
    if dtype is not None:
        return dtypes.to_torch(dtype)
    return dtypes.to_torch(dtypes.result_type(_value_key(start), _value_key(stop), float))


def _linspace(start: Any, stop: Any, num: int, endpoint: bool, axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples (in float32 or float64) with the sample axis at ``axis``, and the step."""
    where = device_of(start, stop)
    lo, hi = tensor(start, device=where), tensor(stop, device=where)
    work = torch.float64 if torch.float64 in (lo.dtype, hi.dtype) else torch.float32
    lo, hi = lo.to(work), hi.to(work)
    lo, hi = torch.broadcast_tensors(lo, hi)
    num = int(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    div = num - 1 if endpoint else num
    steps = torch.arange(num, dtype=work, device=where).reshape((num,) + (1,) * lo.ndim)
    delta = hi - lo
    if div > 0:
        step = delta / div
        out = lo + steps * step
        if endpoint and num > 1:
            out = torch.cat([out[:-1], hi.unsqueeze(0)], dim=0)
    else:
        step = torch.full_like(delta, float("nan"))
        out = lo + steps * delta
    axis = int(axis)
    if axis < 0:
        axis += out.ndim
    return torch.movedim(out, 0, axis), step


def _cast_space(values: torch.Tensor, target: torch.dtype) -> torch.Tensor:
    if not target.is_floating_point and not target.is_complex and target != torch.bool:
        values = torch.floor(values)
    return values.to(target)


@op
def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0) -> Any:
    """``num`` evenly spaced samples from ``start`` to ``stop`` (arrays give one range per element, placed along
    ``axis``); with ``retstep``, also the step (a Python float for scalar bounds, else a tensor)."""
    target = _space_dtype(start, stop, dtype)
    out, step = _linspace(start, stop, num, endpoint, axis)
    out = _cast_space(out, target)
    if retstep:
        return out, (step.item() if step.ndim == 0 and step.device.type != "meta" else step)
    return out


@op
def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10, dtype: Any = None,
             axis: int = 0) -> torch.Tensor:
    """``base ** linspace(start, stop, num)``."""
    target = _space_dtype(start, stop, dtype)
    exponents, _ = _linspace(start, stop, num, endpoint, axis)
    b = base if isinstance(base, (int, float)) else tensor(base, device=exponents.device).to(exponents.dtype)
    out = torch.pow(b, exponents)
    return out.to(target) if target.is_floating_point else out.to(target)


@op
def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
              axis: int = 0) -> torch.Tensor:
    """``num`` samples spaced evenly on a log scale from ``start`` to ``stop`` (same sign, non-zero); the end
    points are exact."""
    target = _space_dtype(start, stop, dtype)
    where = device_of(start, stop)
    lo, hi = tensor(start, device=where), tensor(stop, device=where)
    work = torch.float64 if torch.float64 in (lo.dtype, hi.dtype) else torch.float32
    lo, hi = torch.broadcast_tensors(lo.to(work), hi.to(work))
    sign = torch.sign(lo)
    logs, _ = _linspace(torch.log10(lo.abs()), torch.log10(hi.abs()), num, endpoint, 0)
    out = sign * torch.pow(10.0, logs)
    num = int(num)
    if num > 0:
        pieces = [lo.unsqueeze(0), out[1:]] if num > 1 else [lo.unsqueeze(0)]
        out = torch.cat(pieces, dim=0)
        if endpoint and num > 1:
            out = torch.cat([out[:-1], hi.unsqueeze(0)], dim=0)
    axis = int(axis)
    if axis < 0:
        axis += out.ndim
    return _cast_space(torch.movedim(out, 0, axis), target)


@op
def meshgrid(*x: Any, indexing: str = "xy") -> list[torch.Tensor]:
    """Coordinate matrices from 1-D coordinate vectors (``"xy"``: Cartesian, ``"ij"``: matrix indexing); each
    keeps its own dtype, as in NumPy."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Valid values for `indexing` are 'xy' and 'ij'. Received: {indexing}")
    where = device_of(*x)
    vectors = [tensor(v, device=where).reshape(-1) for v in x]
    sizes = [v.shape[0] for v in vectors]
    if indexing == "xy" and len(vectors) > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, v in enumerate(vectors):
        place = i
        if indexing == "xy" and len(vectors) > 1 and i < 2:
            place = 1 - i
        shape = [1] * len(vectors)
        shape[place] = v.shape[0]
        out.append(v.reshape(shape).expand(sizes))
    return out


# ------------------------------------------------------------------------------------------ window functions
def _window_points(m: Any) -> tuple[int, torch.Tensor]:
    n = int(_scalar(m))
    points = torch.arange(builtins.max(n, 0), dtype=torch.float64, device=default_device())
    return n, points


def _window(values: torch.Tensor, n: int) -> torch.Tensor:
    if n == 1:
        values = torch.ones_like(values)
    return values.to(dtypes.to_torch(None))


@op
def bartlett(x: Any) -> torch.Tensor:
    """The Bartlett (triangular) window of ``x`` points (``floatx()``)."""
    n, k = _window_points(x)
    half = (n - 1) / 2.0 if n > 1 else 1.0
    return _window(1.0 - torch.abs(k - half) / half, n)


@op
def hanning(x: Any) -> torch.Tensor:
    """The Hann window of ``x`` points (``floatx()``)."""
    n, k = _window_points(x)
    phase = 2.0 * math.pi * k / builtins.max(n - 1, 1)
    return _window(0.5 - 0.5 * torch.cos(phase), n)


@op
def hamming(x: Any) -> torch.Tensor:
    """The Hamming window of ``x`` points (``floatx()``)."""
    n, k = _window_points(x)
    phase = 2.0 * math.pi * k / builtins.max(n - 1, 1)
    return _window(0.54 - 0.46 * torch.cos(phase), n)


@op
def blackman(x: Any) -> torch.Tensor:
    """The Blackman window of ``x`` points (``floatx()``)."""
    n, k = _window_points(x)
    phase = 2.0 * math.pi * k / builtins.max(n - 1, 1)
    return _window(0.42 - 0.5 * torch.cos(phase) + 0.08 * torch.cos(2.0 * phase), n)


@op
def kaiser(x: Any, beta: Any) -> torch.Tensor:
    """The Kaiser window of ``x`` points with shape parameter ``beta`` (``floatx()``)."""
    n, k = _window_points(x)
    b = tensor(beta, device=k.device).to(torch.float64)
    ratio = 2.0 * k / builtins.max(n - 1, 1) - 1.0
    arg = b * torch.sqrt(torch.clamp(1.0 - ratio * ratio, min=0.0))
    return _window(torch.special.i0(arg) / torch.special.i0(b), n)
