"""Core ops on single tensors: conversion, inspection, casts, and index-based slicing and scattering.

Part of ``lamina.ops.core`` (re-exported there and at ``lamina.ops``).

>>> slice([[1, 2, 3], [4, 5, 6]], [0, 1], [2, 2]).tolist()
[[2, 3], [5, 6]]
>>> scatter([[0], [0], [2]], [1.0, 2.0, 3.0], (4,)).tolist()
[3.0, 0.0, 3.0, 0.0]
"""

from __future__ import annotations

import builtins
import functools
import math
from typing import Any

import numpy as np
import torch

from lamina.ops import dtypes
from lamina.ops.dispatch import op, tensor

__all__ = [
    "cast", "convert_to_numpy", "convert_to_tensor", "dtype", "is_tensor", "saturate_cast", "scatter",
    "scatter_update", "shape", "slice", "slice_update", "stop_gradient", "unstack",
]


# --------------------------------------------------------------------------------------- conversion
@op
def convert_to_tensor(x: Any, dtype: Any = None, sparse: bool | None = None,
                      ragged: bool | None = None) -> torch.Tensor:
    """Convert ``x`` (tensor, array, Python number or nested list) to a tensor, cast to ``dtype`` if given."""
    if sparse:
        raise ValueError("convert_to_tensor(sparse=True): lamina has no sparse tensors; pass sparse=None/False.")
    if ragged:
        raise ValueError("convert_to_tensor(ragged=True): lamina has no ragged tensors; pass ragged=None/False.")
    return tensor(x, dtype)


@op(symbolic=False)
def convert_to_numpy(x: Any) -> np.ndarray:
    """``x`` as a NumPy array (detached, on the CPU). bfloat16 becomes float32 (NumPy has no bfloat16)."""
    if hasattr(x, "value") and isinstance(getattr(x, "value", None), torch.Tensor):  # a variable
        x = x.value
    if isinstance(x, torch.Tensor):
        if x.device.type == "meta":
            raise ValueError("convert_to_numpy: a tensor on the meta device (shape inference) has no values.")
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.resolve_conj().resolve_neg().numpy()
    if type(x).__name__ == "SymbolicTensor":
        raise ValueError(f"convert_to_numpy: a symbolic tensor {x!r} has no values (it stands for future data).")
    return np.asarray(x)


@op(symbolic=False)
def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a (torch) tensor; NumPy arrays, Python values and symbolic tensors are not."""
    return isinstance(x, torch.Tensor)


@op(symbolic=False)
def shape(x: Any) -> tuple:
    """The shape of ``x`` as a tuple of ints (None for the unknown dimensions of a symbolic tensor)."""
    if hasattr(x, "shape"):
        return tuple(None if d is None else int(d) for d in x.shape)
    return tuple(tensor(x).shape)


@op(symbolic=False)
def dtype(x: Any) -> str:
    """The Keras name of the dtype of ``x`` (``"float32"``, ``"int32"``, ...)."""
    if hasattr(x, "dtype"):
        return dtypes.standardize_dtype(x.dtype)
    return dtypes.standardize_dtype(tensor(x).dtype)


# --------------------------------------------------------------------------------------- casts
@op
def cast(x: Any, dtype: Any) -> torch.Tensor:
    """``x`` cast to ``dtype`` (any Keras dtype form: string, torch/NumPy dtype, Python type)."""
    return tensor(x, dtypes.standardize_dtype(dtype))


def _range_of(dt: torch.dtype) -> tuple[float, float]:
    if dt == torch.bool:
        return 0, 1
    if dt.is_floating_point:
        info = torch.finfo(dt)
        return float(info.min), float(info.max)
    info = torch.iinfo(dt)
    return int(info.min), int(info.max)


def _representable_bound(value: int | float, src: torch.dtype, side: str) -> Any:
    """``value`` as a number of ``src`` that does not pass it after rounding (so the cast cannot overflow):
    int32's max is 2**31 - 1, which float32 rounds up to 2**31; the bound is then the next float below."""
    if not src.is_floating_point:
        return int(value)
    t = torch.tensor(float(value), dtype=torch.float64).to(src)
    passed = float(t) > value if side == "high" else float(t) < value
    if passed:
        t = torch.nextafter(t, torch.tensor(-math.inf if side == "high" else math.inf, dtype=src))
    return float(t)


@functools.lru_cache(maxsize=256)
def _saturation_bounds(src: torch.dtype, dst: torch.dtype) -> tuple[Any, Any] | None:
    """The (low, high) to clamp a ``src`` tensor to before casting it to ``dst``; None when no clamp is needed."""
    lo_s, hi_s = _range_of(src)
    lo_d, hi_d = _range_of(dst)
    if lo_d <= lo_s and hi_d >= hi_s:
        return None
    lo = _representable_bound(builtins.max(lo_s, lo_d), src, "low")
    hi = _representable_bound(builtins.min(hi_s, hi_d), src, "high")
    return lo, hi


@op
def saturate_cast(x: Any, dtype: Any) -> torch.Tensor:
    """``x`` cast to ``dtype`` with values first clipped to the range of ``dtype`` (no wrap-around).

    Deviation: Keras's torch backend clips to a bound that can round out of range (float32 ``3e9`` to int32
    wraps to ``-2**31`` there); lamina clips to the largest value of the input dtype that fits."""
    x = tensor(x)
    target = dtypes.to_torch(dtypes.standardize_dtype(dtype))
    if x.dtype.is_complex or x.dtype == torch.bool:
        return x.to(target)
    bounds = _saturation_bounds(x.dtype, target)
    if bounds is not None:
        x = torch.clamp(x, bounds[0], bounds[1])
    return x.to(target)


@op
def stop_gradient(variable: Any) -> torch.Tensor:
    """``variable`` as a tensor that gradients do not flow through."""
    return tensor(variable).detach()


@op
def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[torch.Tensor]:
    """Split ``x`` along ``axis`` into a list of tensors of one rank less."""
    x = tensor(x)
    if num is not None and x.shape[axis] != num:
        raise ValueError(f"unstack: num={num} but axis {axis} of x (shape {tuple(x.shape)}) has {x.shape[axis]}.")
    return list(x.unbind(axis))


# --------------------------------------------------------------------------------------- scatter
def _index_tensor(indices: Any, device: torch.device) -> torch.Tensor:
    idx = tensor(indices, device=device)
    if idx.dtype.is_floating_point or idx.dtype == torch.bool:
        raise TypeError(f"Indices must be integers, got {idx.dtype}.")
    idx = idx.to(device=device, dtype=torch.long)
    if idx.ndim == 0:
        raise ValueError("Indices must have at least one dimension (..., k).")
    return idx


def _index_tuple(idx: torch.Tensor, dims: tuple) -> tuple[torch.Tensor, ...]:
    """The columns of ``idx`` (..., k), negatives wrapped to their dimension, as one index tensor per dim."""
    k = idx.shape[-1]
    if k > len(dims):
        raise ValueError(f"Indices have {k} coordinates but the tensor has only {len(dims)} dimensions.")
    return tuple(torch.where(idx[..., i] < 0, idx[..., i] + dims[i], idx[..., i]) for i in range(k))


@op
def scatter(indices: Any, values: Any, shape: Any) -> torch.Tensor:
    """A zero tensor of ``shape`` with ``values`` added at ``indices`` (..., k); duplicate indices sum."""
    values = tensor(values)
    shape = tuple(int(d) for d in shape)
    idx = _index_tuple(_index_tensor(indices, values.device), shape)
    out = torch.zeros(shape, dtype=values.dtype, device=values.device)
    return out.index_put(idx, values, accumulate=True)


_REDUCTIONS = {"max": "amax", "min": "amin", "mul": "prod"}


@op
def scatter_update(inputs: Any, indices: Any, updates: Any, reduction: str | None = None) -> torch.Tensor:
    """``inputs`` with ``updates`` put at ``indices`` (..., k); ``reduction`` None/"add"/"max"/"min"/"mul"
    says how an update meets what is there (None: replaced, the last duplicate winning)."""
    inputs = tensor(inputs)
    updates = tensor(updates, device=inputs.device).to(device=inputs.device, dtype=inputs.dtype)
    idx = _index_tuple(_index_tensor(indices, inputs.device), tuple(inputs.shape))
    if reduction == "add":
        return inputs.index_put(idx, updates, accumulate=True)
    if reduction is not None and reduction not in _REDUCTIONS:
        raise ValueError(f"scatter_update: reduction must be None, 'add', 'max', 'min' or 'mul', got {reduction!r}.")
    k = len(idx)
    lead, rest = tuple(inputs.shape[:k]), tuple(inputs.shape[k:])
    linear = torch.zeros_like(idx[0])
    for i in range(k):
        linear = linear * lead[i] + idx[i]
    linear = linear.reshape(-1)
    flat_in = inputs.reshape(-1, *rest)
    flat_up = torch.broadcast_to(updates, (*idx[0].shape, *rest)).reshape(-1, *rest)
    if reduction is None:
        # Last write wins on every device: each target keeps only its last update; the others go to a
        # scratch row past the end (index_put alone leaves the order of duplicates to the device).
        size = flat_in.shape[0]
        position = torch.arange(linear.shape[0], device=linear.device)
        last = torch.full((size,), -1, dtype=position.dtype, device=linear.device)
        last = last.scatter_reduce(0, linear, position, reduce="amax", include_self=True)
        target = torch.where(last[linear] == position, linear, size)
        padded = torch.cat([flat_in, flat_in.new_zeros((1, *rest))])
        return padded.index_put((target,), flat_up)[:size].reshape(inputs.shape)
    where = linear.reshape(-1, *([1] * len(rest))).expand(flat_up.shape)
    out = flat_in.scatter_reduce(0, where, flat_up, reduce=_REDUCTIONS[reduction], include_self=True)
    return out.reshape(inputs.shape)


# --------------------------------------------------------------------------------------- slices
def _static_ints(values: Any) -> list[int] | None:
    """``values`` as Python ints when they are known without reading a tensor; else None."""
    if isinstance(values, torch.Tensor):
        return None
    if isinstance(values, (np.ndarray, np.generic)):
        return [int(v) for v in np.asarray(values).reshape(-1)]
    if isinstance(values, (list, tuple)) and builtins.all(isinstance(v, (int, np.integer)) for v in values):
        return [int(v) for v in values]
    return None


def _starts(start_indices: Any, dims: tuple, sizes: tuple, device: torch.device) -> list[int] | torch.Tensor:
    """Start indices clipped so each window of ``sizes`` fits in ``dims`` (as JAX's dynamic_slice does)."""
    if len(sizes) != len(dims):
        raise ValueError(f"slice: {len(sizes)} sizes for a tensor of {len(dims)} dimensions.")
    static = _static_ints(start_indices)
    if static is not None:
        if len(static) != len(dims):
            raise ValueError(f"slice: {len(static)} start indices for a tensor of {len(dims)} dimensions.")
        fits = zip(static, dims, sizes, strict=True)
        return [builtins.min(builtins.max(s, 0), builtins.max(d - n, 0)) for s, d, n in fits]
    starts = tensor(start_indices, device=device).to(device=device, dtype=torch.long).reshape(-1)
    if starts.shape[0] != len(dims):
        raise ValueError(f"slice: {starts.shape[0]} start indices for a tensor of {len(dims)} dimensions.")
    upper = torch.tensor([builtins.max(d - n, 0) for d, n in zip(dims, sizes, strict=True)], device=device)
    return torch.minimum(torch.clamp(starts, min=0), upper)


def _window(starts: torch.Tensor, sizes: tuple, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Broadcastable index tensors selecting the window of ``sizes`` at tensor ``starts``."""
    n = len(sizes)
    out = []
    for d, size in enumerate(sizes):
        view = [1] * n
        view[d] = size
        out.append((starts[d] + torch.arange(size, device=device)).reshape(view))
    return tuple(out)


@op
def slice(inputs: Any, start_indices: Any, shape: Any) -> torch.Tensor:
    """The window of ``shape`` of ``inputs`` starting at ``start_indices`` (ints or an int tensor).

    Starts are clipped so the window fits (as in JAX); Keras's torch backend returns a smaller window instead."""
    inputs = tensor(inputs)
    sizes = tuple(int(s) for s in shape)
    dims = tuple(inputs.shape)
    starts = _starts(start_indices, dims, sizes, inputs.device)
    if isinstance(starts, list):
        out = inputs
        for d, (s, n) in enumerate(zip(starts, sizes, strict=True)):
            out = out.narrow(d, s, builtins.min(n, dims[d]))
        return out
    if not sizes:
        return inputs
    return inputs[_window(starts, sizes, inputs.device)]


@op
def slice_update(inputs: Any, start_indices: Any, updates: Any) -> torch.Tensor:
    """``inputs`` with the window at ``start_indices`` replaced by ``updates`` (cast to the dtype of ``inputs``).

    Starts are clipped so the window fits (as in JAX)."""
    inputs = tensor(inputs)
    updates = tensor(updates, device=inputs.device).to(device=inputs.device, dtype=inputs.dtype)
    sizes = tuple(updates.shape)
    dims = tuple(inputs.shape)
    if len(sizes) != len(dims):
        raise ValueError(f"slice_update: updates of rank {len(sizes)} for inputs of rank {len(dims)}.")
    starts = _starts(start_indices, dims, sizes, inputs.device)
    if isinstance(starts, list):
        out = inputs.clone()
        out[tuple(builtins.slice(s, s + n) for s, n in zip(starts, sizes, strict=True))] = updates
        return out
    if not sizes:
        return updates.clone()
    return inputs.index_put(_window(starts, sizes, inputs.device), updates)
