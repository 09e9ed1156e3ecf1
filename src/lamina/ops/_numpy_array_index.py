"""Indexing, selection, searching and sorting ops of ``keras.ops.numpy``.

>>> import torch
>>> get_item(torch.arange(6).reshape(2, 3), (slice(None), 1)).tolist()
[1, 4]
>>> take(torch.arange(6).reshape(2, 3), [-1], axis=1).tolist()
[[2], [5]]
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import torch

from lamina.ops import dtypes
from lamina.ops.dispatch import op, promoted, tensor

__all__ = [
    "argpartition", "argsort", "digitize", "get_item", "isin", "nonzero", "searchsorted", "select", "sort",
    "take", "take_along_axis", "unique", "unravel_index", "where",
]


def _t(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else tensor(x)


def _axis(axis: int, ndim: int) -> int:
    a = int(axis)
    if not -ndim <= a < builtins.max(ndim, 1):
        raise ValueError(f"axis {axis} is out of bounds for a tensor of rank {ndim}.")
    return a % ndim if ndim else 0


# ------------------------------------------------------------------------------------------------ get_item
def _bound(v: Any) -> Any:
    if isinstance(v, (torch.Tensor, np.ndarray, np.generic)):
        return int(v.item())
    return v


def _index_part(k: Any, device: torch.device) -> Any:
    """One entry of an indexing key, as torch takes it with NumPy's meaning (integer arrays of any integer
    dtype index; only bool arrays mask)."""
    if k is None or k is Ellipsis or isinstance(k, (bool, int)):
        return k
    if isinstance(k, builtins.slice):
        return builtins.slice(_bound(k.start), _bound(k.stop), _bound(k.step))
    if isinstance(k, np.generic) and not isinstance(k, np.bool_):
        return int(k)
    if isinstance(k, (list, np.ndarray, np.generic)):
        k = tensor(np.asarray(k) if not isinstance(k, list) or not any(
            isinstance(v, torch.Tensor) for v in k) else k, device=device)
    if isinstance(k, torch.Tensor):
        if k.dtype == torch.bool:
            return k.to(device)
        if k.dtype.is_floating_point or k.dtype.is_complex:
            raise IndexError(f"Tensors used as indices must be of integer or bool dtype, not {k.dtype}.")
        return k.to(device=device, dtype=torch.int64)
    return k


def _dims_taken(k: Any) -> int:
    """How many axes of the indexed tensor one key entry consumes (Ellipsis: counted apart)."""
    if k is None or isinstance(k, bool):
        return 0
    if isinstance(k, torch.Tensor) and k.dtype == torch.bool:
        return builtins.max(k.ndim, 1) if k.ndim else 0
    return 1


def _as_index_array(k: Any, device: torch.device) -> Any:
    if isinstance(k, int) and not isinstance(k, bool):
        return torch.tensor([k], device=device)
    if isinstance(k, torch.Tensor) and k.ndim == 0 and k.dtype != torch.bool:
        return k.reshape(1)
    return k


def _flip_negative_steps(t: torch.Tensor, key: tuple) -> tuple[torch.Tensor, tuple]:
    """Torch slices only forwards: each slice with a negative step becomes a forward slice of the flipped axis."""
    if not any(isinstance(k, builtins.slice) and k.step is not None and k.step < 0 for k in key):
        return t, key
    explicit = builtins.sum(_dims_taken(k) for k in key if k is not Ellipsis)
    dim, flips, out = 0, [], []
    for k in key:
        if k is Ellipsis:
            dim += t.ndim - explicit
        elif isinstance(k, builtins.slice) and k.step is not None and k.step < 0:
            n = t.shape[dim]
            start, stop, step = k.indices(n)
            flips.append(dim)
            k = builtins.slice(n - 1 - start, n - 1 - stop, -step)
            dim += 1
        else:
            dim += _dims_taken(k)
        out.append(k)
    return torch.flip(t, flips), tuple(out)


@op
def get_item(x: Any, key: Any) -> torch.Tensor:
    """``x[key]`` with NumPy's meaning: ints, slices (negative steps too), None, Ellipsis, integer index arrays,
    bool masks."""
    t = _t(x)
    parts = tuple(_index_part(k, t.device) for k in (key if isinstance(key, tuple) else (key,)))
    t, parts = _flip_negative_steps(t, parts)
    if any(isinstance(k, torch.Tensor) and k.ndim > 0 for k in parts):
        # NumPy counts ints beside index arrays as index arrays (which moves the indexed axes first when the
        # advanced indices are not adjacent); torch counts them as basic indices.
        parts = tuple(_as_index_array(k, t.device) for k in parts)
    return t[parts if isinstance(key, tuple) else parts[0]]


# ---------------------------------------------------------------------------------------------------- take
def _indices(indices: Any, n: int, device: torch.device) -> torch.Tensor:
    """Integer indices (floats truncated) with negative ones counted from the end."""
    idx = tensor(indices, device=device) if not isinstance(indices, torch.Tensor) else indices.to(device)
    if idx.dtype != torch.int64:
        idx = idx.to(torch.int64)
    return torch.where(idx < 0, idx + n, idx)


@op
def take(x: Any, indices: Any, axis: Any = None) -> torch.Tensor:
    """Elements of ``x`` at ``indices`` along ``axis`` (None: of the flattened ``x``); the result's shape puts
    ``indices``'s shape in place of that axis."""
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    axis = _axis(axis, t.ndim)
    idx = _indices(indices, t.shape[axis], t.device)
    picked = torch.index_select(t, axis, idx.reshape(-1))
    return picked.reshape(t.shape[:axis] + idx.shape + t.shape[axis + 1:])


@op
def take_along_axis(x: Any, indices: Any, axis: Any = None) -> torch.Tensor:
    """Elements of ``x`` at ``indices`` matched along ``axis`` (other axes broadcast); None: both flattened."""
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
        idx = _indices(indices, t.shape[0], t.device).reshape(-1)
    else:
        axis = _axis(axis, t.ndim)
        idx = _indices(indices, t.shape[axis], t.device)
    if idx.ndim != t.ndim:
        raise ValueError(f"`indices` must have the rank of `x` ({t.ndim}); got shape {tuple(idx.shape)}.")
    shape_t, shape_i = list(t.shape), list(idx.shape)
    shape_t[axis] = shape_i[axis] = 1
    common = list(torch.broadcast_shapes(tuple(shape_t), tuple(shape_i)))
    t = t.expand(common[:axis] + [t.shape[axis]] + common[axis + 1:])
    idx = idx.expand(common[:axis] + [idx.shape[axis]] + common[axis + 1:])
    return torch.gather(t, axis, idx)


# ----------------------------------------------------------------------------------------------- selecting
def _as_bool(c: Any, device: torch.device) -> torch.Tensor:
    t = tensor(c, device=device) if not isinstance(c, torch.Tensor) else c
    return t if t.dtype == torch.bool else t != 0


@op
def nonzero(x: Any) -> tuple[torch.Tensor, ...]:
    """The indices of the non-zero elements of ``x``: one int32 tensor per axis, as in NumPy (Keras's torch
    backend stacks them into one tensor; its symbolic result is this tuple)."""
    t = _t(x)
    if t.ndim == 0:
        t = t.reshape(1)
    return tuple(i.to(torch.int32) for i in torch.nonzero(t, as_tuple=True))


@op
def where(condition: Any, x1: Any = None, x2: Any = None) -> Any:
    """Elements of ``x1`` where ``condition`` holds, else of ``x2`` (promoted dtype); with neither given, the
    indices where it holds (as ``nonzero``)."""
    if x1 is None and x2 is None:
        return nonzero(condition)
    if x1 is None or x2 is None:
        raise ValueError("`x1` and `x2` either both should be `None` or both should have non-None value.")
    (a, b), _ = promoted(x1, x2)
    return torch.where(_as_bool(condition, a.device), a, b)


@op
def select(condlist: Any, choicelist: Any, default: Any = 0) -> torch.Tensor:
    """For each element, the value from the first choice whose condition holds, else ``default``."""
    if len(condlist) != len(choicelist):
        raise ValueError("`condlist` and `choicelist` must have the same length.")
    if not condlist:
        raise ValueError("select needs at least one condition.")
    values, _ = promoted(*choicelist, default)
    out = values[-1]
    for cond, choice in zip(reversed(condlist), reversed(values[:-1]), strict=True):
        out = torch.where(_as_bool(cond, choice.device), choice, out)
    shape = torch.broadcast_shapes(*(_as_bool(c, out.device).shape for c in condlist), *(v.shape for v in values))
    return out.expand(shape) if out.shape != shape else out


@op
def isin(x1: Any, x2: Any, assume_unique: bool = False, invert: bool = False) -> torch.Tensor:
    """Whether each element of ``x1`` occurs in ``x2`` (bool, ``x1``'s shape); ``invert`` negates."""
    (a, b), _ = promoted(x1, x2)
    return torch.isin(a, b, assume_unique=assume_unique, invert=invert)


# ------------------------------------------------------------------------------------------------- sorting
@op
def sort(x: Any, axis: Any = -1) -> torch.Tensor:
    """``x`` sorted ascending along ``axis`` (None: flattened)."""
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    if t.ndim == 0:
        return t
    return torch.sort(t, dim=int(axis), stable=True).values


@op
def argsort(x: Any, axis: Any = -1) -> torch.Tensor:
    """The (int32) indices that sort ``x`` along ``axis`` (None: flattened); ties keep their order."""
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    if t.ndim == 0:
        return torch.zeros((), dtype=torch.int32, device=t.device)
    return torch.argsort(t, dim=int(axis), stable=True).to(torch.int32)


@op
def argpartition(x: Any, kth: Any, axis: int = -1) -> torch.Tensor:
    """(int32) indices that partition ``x`` along ``axis`` around its ``kth`` element: that element in its sorted
    place, smaller ones before, larger after. These are the indices of a full stable sort, which is one valid
    partition (NumPy's or Keras's may order the sides differently)."""
    t = _t(x)
    axis = _axis(axis, t.ndim)
    n = t.shape[axis]
    for k in np.atleast_1d(np.asarray(kth)).tolist():
        if not -n <= int(k) < n:
            raise ValueError(f"kth(={k}) out of bounds ({n}).")
    return torch.argsort(t, dim=axis, stable=True).to(torch.int32)


@op
def searchsorted(sorted_sequence: Any, values: Any, side: str = "left") -> torch.Tensor:
    """(int32) indices where ``values`` would be inserted into the ascending ``sorted_sequence`` to keep it
    sorted (``side="right"``: after equal elements). An N-D sequence searches its last axis per leading index."""
    if side not in ("left", "right"):
        raise ValueError(f"`side` must be 'left' or 'right'. Received: {side}")
    (seq, vals), dtype = promoted(sorted_sequence, values)
    if dtype == torch.bool:
        seq, vals = seq.to(torch.uint8), vals.to(torch.uint8)
    out = torch.searchsorted(seq.contiguous(), vals.contiguous(), right=side == "right")
    return out.to(torch.int32)


@op
def digitize(x: Any, bins: Any) -> torch.Tensor:
    """(int32) index of the bin of each element of ``x``: ``i`` such that ``bins[i-1] <= x < bins[i]`` for
    increasing ``bins``, ``bins[i-1] > x >= bins[i]`` for decreasing ones (NumPy's rule)."""
    (v, b), dtype = promoted(x, bins)
    if dtype == torch.bool:
        v, b = v.to(torch.uint8), b.to(torch.uint8)
    b = b.contiguous()
    v = v.contiguous()
    rising = torch.bucketize(v, b, right=True)
    if b.shape[0] < 2:
        return rising.to(torch.int32)
    # Decreasing bins: count of bins > x, from the reversed (increasing) bins.
    flipped = torch.flip(b, (0,))
    falling = b.shape[0] - torch.bucketize(v, flipped, right=True)
    return torch.where(b[-1] < b[0], falling, rising).to(torch.int32)


@op
def unique(x: Any, sorted: bool = True, return_index: bool = False, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, axis: Any = None, size: Any = None, fill_value: Any = None) -> Any:
    """The sorted unique elements of ``x`` (or unique slices along ``axis``), with optionally the index of each
    one's first occurrence, the inverse indices (``x``'s shape when ``axis`` is None) and the counts (int64).
    ``size`` pads (with ``fill_value``, default 0) or cuts the result to that length. Eager only: the result's
    length depends on the values. The result is always sorted."""
    t = _t(x)
    flat_input = axis is None
    if flat_input:
        values, inverse, counts = torch.unique(t.reshape(-1), sorted=True, return_inverse=True, return_counts=True)
        ax = 0
        n = t.numel()
    else:
        ax = _axis(axis, t.ndim)
        values, inverse, counts = torch.unique(t, sorted=True, return_inverse=True, return_counts=True, dim=ax)
        n = t.shape[ax]
    inverse = inverse.to(torch.int64)
    outputs = [values]
    if return_index:
        positions = torch.arange(n, device=t.device)
        first = torch.full((values.shape[ax],), n, dtype=torch.int64, device=t.device)
        first = first.scatter_reduce(0, inverse.reshape(-1), positions, reduce="amin")
        outputs.append(first)
    if return_inverse:
        outputs.append(inverse.reshape(t.shape) if flat_input else inverse)
    if return_counts:
        outputs.append(counts.to(torch.int64))
    if size is not None:
        outputs = _sized(outputs, int(size), ax, fill_value, return_index, return_inverse)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def _sized(outputs: list, size: int, axis: int, fill_value: Any, has_index: bool, has_inverse: bool) -> list:
    """The unique values (and index, counts) padded or cut to ``size`` entries; inverse indices unchanged."""
    out = []
    for i, o in enumerate(outputs):
        if has_inverse and i == 1 + int(has_index):
            out.append(o)
            continue
        along = axis if i == 0 else 0
        n = o.shape[along]
        if n >= size:
            out.append(o.narrow(along, 0, size))
            continue
        shape = list(o.shape)
        shape[along] = size - n
        fill = 0 if (fill_value is None or i > 0) else fill_value
        out.append(torch.cat([o, torch.full(shape, fill, dtype=o.dtype, device=o.device)], dim=along))
    return out


@op
def unravel_index(indices: Any, shape: Any) -> tuple[torch.Tensor, ...]:
    """The coordinates in an array of ``shape`` of each flat index in ``indices`` (one tensor per axis; dtype
    the indices' own, int64 made int32 as Keras does)."""
    idx = _t(indices)
    if idx.dtype.is_floating_point or idx.dtype == torch.bool or idx.dtype.is_complex:
        raise TypeError(f"unravel_index needs integer indices, not {idx.dtype}.")
    target = dtypes.to_torch(dtypes.result_type(idx.dtype))
    dims = [int(s) for s in (shape.tolist() if isinstance(shape, (torch.Tensor, np.ndarray)) else shape)]
    rest = idx.to(torch.int64)
    coords = []
    for d in reversed(dims):
        coords.append(torch.remainder(rest, d).to(target))
        rest = torch.div(rest, d, rounding_mode="floor")
    return tuple(reversed(coords))

