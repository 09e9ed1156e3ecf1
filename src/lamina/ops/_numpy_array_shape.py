"""Shape ops of ``keras.ops.numpy``: reshaping, joining, splitting, flipping, padding and triangles.

>>> reshape(list(range(6)), (2, -1)).shape
torch.Size([2, 3])
>>> [p.tolist() for p in split(list(range(6)), 3)]
[[0, 1], [2, 3], [4, 5]]
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from lamina.ops import dtypes
from lamina.ops.dispatch import op, promoted, tensor

__all__ = [
    "append", "array_split", "broadcast_to", "concatenate", "diag", "diagflat", "diagonal", "diff", "dsplit",
    "dstack", "expand_dims", "flip", "fliplr", "flipud", "hsplit", "hstack", "moveaxis", "ndim", "pad", "ravel",
    "repeat", "reshape", "roll", "rot90", "size", "split", "squeeze", "stack", "swapaxes", "tile", "transpose",
    "tril", "triu", "view", "vsplit", "vstack",
]


def _t(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else tensor(x)


def _ints(value: Any) -> tuple[int, ...]:
    """An int or a sequence of ints (or a tensor of them) as a tuple of Python ints."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return tuple(int(v) for v in value.reshape(-1).tolist())
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return (int(value),)


def _axis(axis: int, ndim: int) -> int:
    a = int(axis)
    if not -ndim <= a < builtins.max(ndim, 1):
        raise ValueError(f"axis {axis} is out of bounds for a tensor of rank {ndim}.")
    return a % ndim if ndim else 0


# ----------------------------------------------------------------------------------------------- reshaping
@op
def reshape(x: Any, newshape: Any) -> torch.Tensor:
    """``x`` with shape ``newshape`` (one entry may be -1)."""
    return torch.reshape(_t(x), _ints(newshape))


@op
def ravel(x: Any) -> torch.Tensor:
    """``x`` flattened to 1-D."""
    return torch.reshape(_t(x), (-1,))


@op
def broadcast_to(x: Any, shape: Any) -> torch.Tensor:
    """``x`` broadcast to ``shape`` (a view, as in NumPy)."""
    return torch.broadcast_to(_t(x), _ints(shape))


@op
def expand_dims(x: Any, axis: Any) -> torch.Tensor:
    """``x`` with new size-1 axes at the positions ``axis`` (an int or a tuple) of the result."""
    t = _t(x)
    axes = _ints(axis)
    rank = t.ndim + len(axes)
    positions = sorted(_axis(a, rank) for a in axes)
    if len(set(positions)) != len(positions):
        raise ValueError(f"Repeated axis in expand_dims: {axis}")
    shape = list(t.shape)
    for p in positions:
        shape.insert(p, 1)
    return t.reshape(shape)


@op
def squeeze(x: Any, axis: Any = None) -> torch.Tensor:
    """``x`` without its size-1 axes (all, or those in ``axis``; an axis not of size 1 is an error)."""
    t = _t(x)
    if axis is None:
        return t.reshape([s for s in t.shape if s != 1])
    axes = {_axis(a, t.ndim) for a in _ints(axis)}
    for a in axes:
        if t.shape[a] != 1:
            raise ValueError(f"Cannot squeeze axis {a}, because the dimension is not 1 (shape {tuple(t.shape)}).")
    return t.reshape([s for i, s in enumerate(t.shape) if i not in axes])


@op
def transpose(x: Any, axes: Any = None) -> torch.Tensor:
    """``x`` with its axes permuted (reversed when ``axes`` is None)."""
    t = _t(x)
    if axes is None:
        return t.permute(tuple(range(t.ndim - 1, -1, -1)))
    return t.permute(tuple(_axis(a, t.ndim) for a in _ints(axes)))


@op
def swapaxes(x: Any, axis1: int, axis2: int) -> torch.Tensor:
    """``x`` with axes ``axis1`` and ``axis2`` interchanged."""
    return torch.swapaxes(_t(x), int(axis1), int(axis2))


@op
def moveaxis(x: Any, source: Any, destination: Any) -> torch.Tensor:
    """``x`` with the axes ``source`` moved to ``destination``."""
    return torch.movedim(_t(x), _ints(source), _ints(destination))


@op(symbolic=False)
def ndim(x: Any) -> int:
    """The number of axes of ``x`` (a Python int; also of a symbolic tensor)."""
    if hasattr(x, "shape") and not isinstance(x, (list, tuple)):
        return len(x.shape)
    return np.ndim(x)


@op
def size(x: Any) -> torch.Tensor:
    """The number of elements of ``x``, as a 0-d int64 tensor (Keras's torch backend's dtype)."""
    t = _t(x)
    return torch.tensor(t.numel(), dtype=torch.int64, device=t.device)


@op
def view(x: Any, dtype: Any = None) -> torch.Tensor:
    """``x``'s memory seen as ``dtype`` (the last axis scales with the item sizes), as NumPy's ``view``."""
    t = _t(x)
    if dtype is None:
        return t.view(t.dtype)
    return t.view(dtypes.to_torch(dtype))


# ------------------------------------------------------------------------------------------------- joining
def _joined(xs: Any) -> list[torch.Tensor]:
    parts, _ = promoted(*xs)
    return parts


@op
def concatenate(xs: Any, axis: Any = 0) -> torch.Tensor:
    """The tensors ``xs`` joined along ``axis`` (None: flattened first), in their promoted dtype."""
    parts = _joined(xs)
    if axis is None:
        return torch.cat([p.reshape(-1) for p in parts])
    return torch.cat(parts, dim=int(axis))


@op
def stack(x: Any, axis: int = 0) -> torch.Tensor:
    """The tensors ``x`` stacked along a new axis ``axis``, in their promoted dtype."""
    return torch.stack(_joined(x), dim=int(axis))


@op
def hstack(xs: Any) -> torch.Tensor:
    """The tensors joined along their second axis (the first for 1-D tensors)."""
    parts = [p.reshape(1) if p.ndim == 0 else p for p in _joined(xs)]
    return torch.cat(parts, dim=0 if parts[0].ndim == 1 else 1)


@op
def vstack(xs: Any) -> torch.Tensor:
    """The tensors (made at least 2-D) joined along their first axis."""
    return torch.cat([torch.atleast_2d(p) for p in _joined(xs)], dim=0)


@op
def dstack(xs: Any) -> torch.Tensor:
    """The tensors (made at least 3-D: ``(N,)`` -> ``(1, N, 1)``, ``(M, N)`` -> ``(M, N, 1)``) joined along
    their third axis."""
    return torch.cat([torch.atleast_3d(p) for p in _joined(xs)], dim=2)


@op
def append(x1: Any, x2: Any, axis: Any = None) -> torch.Tensor:
    """``x2`` appended to ``x1`` along ``axis`` (None: both flattened)."""
    (a, b), _ = promoted(x1, x2)
    if axis is None:
        return torch.cat([a.reshape(-1), b.reshape(-1)])
    return torch.cat([a, b], dim=int(axis))


# ----------------------------------------------------------------------------------------------- splitting
def _split_bounds(n: int, indices_or_sections: Any, even: bool) -> list[tuple[int, int]]:
    """(start, stop) of each piece of an axis of size ``n``, as NumPy's ``split``/``array_split`` cut it."""
    if isinstance(indices_or_sections, (int, np.integer)) or (
            isinstance(indices_or_sections, (torch.Tensor, np.ndarray)) and indices_or_sections.ndim == 0):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("Number of sections must be larger than 0.")
        if even and n % sections:
            raise ValueError(f"Received indices_or_sections={sections} (interpreted as a number of sections), but "
                             f"the axis of size {n} is not divisible by it.")
        base, extra = divmod(n, sections)
        sizes = [base + 1] * extra + [base] * (sections - extra)
        stops = np.cumsum(sizes).tolist()
        return list(zip([0] + stops[:-1], stops, strict=True))
    cuts = [0, *_ints(indices_or_sections), n]
    return [builtins.slice(lo, hi).indices(n)[:2] for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]


def _split(x: Any, indices_or_sections: Any, axis: int, even: bool) -> list[torch.Tensor]:
    t = _t(x)
    axis = _axis(axis, t.ndim)
    bounds = _split_bounds(t.shape[axis], indices_or_sections, even)
    return [t.narrow(axis, lo, builtins.max(hi - lo, 0)) for lo, hi in bounds]


@op
def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[torch.Tensor]:
    """``x`` split along ``axis`` into equal sections (an int that must divide the axis) or at the indices."""
    return _split(x, indices_or_sections, axis, even=True)


@op
def array_split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[torch.Tensor]:
    """As ``split``, but a number of sections need not divide the axis (the first pieces get one more)."""
    return _split(x, indices_or_sections, axis, even=False)


@op
def hsplit(x: Any, indices_or_sections: Any) -> list[torch.Tensor]:
    """``split`` along the second axis (the first for 1-D tensors)."""
    t = _t(x)
    return _split(t, indices_or_sections, 1 if t.ndim > 1 else 0, even=True)


@op
def vsplit(x: Any, indices_or_sections: Any) -> list[torch.Tensor]:
    """``split`` along the first axis (of a tensor of rank 2 or more)."""
    t = _t(x)
    if t.ndim < 2:
        raise ValueError("vsplit only works on tensors of 2 or more dimensions.")
    return _split(t, indices_or_sections, 0, even=True)


@op
def dsplit(x: Any, indices_or_sections: Any) -> list[torch.Tensor]:
    """``split`` along the third axis (of a tensor of rank 3 or more)."""
    t = _t(x)
    if t.ndim < 3:
        raise ValueError("dsplit only works on tensors of 3 or more dimensions.")
    return _split(t, indices_or_sections, 2, even=True)


# --------------------------------------------------------------------------------------- repeating, moving
@op
def repeat(x: Any, repeats: Any, axis: Any = None) -> torch.Tensor:
    """Each element of ``x`` repeated ``repeats`` times (an int or one count per element) along ``axis``
    (None: ``x`` flattened first)."""
    t = _t(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    if isinstance(repeats, (int, np.integer)):
        reps: Any = int(repeats)
    else:
        reps = tensor(repeats, device=t.device).to(torch.int64)
        if reps.ndim == 0:
            reps = int(reps.item())
    return torch.repeat_interleave(t, reps, dim=int(axis))


@op
def tile(x: Any, repeats: Any) -> torch.Tensor:
    """``x`` repeated ``repeats`` times along each axis (NumPy's rules for unequal ranks)."""
    return torch.tile(_t(x), _ints(repeats))


@op
def roll(x: Any, shift: Any, axis: Any = None) -> torch.Tensor:
    """``x`` rolled by ``shift`` along ``axis`` (None: over the flattened tensor)."""
    t = _t(x)
    shifts = _ints(shift)
    if axis is None:
        return torch.roll(t.reshape(-1), builtins.sum(shifts)).reshape(t.shape)
    axes = _ints(axis)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    elif len(axes) == 1 and len(shifts) > 1:
        axes = axes * len(shifts)
    return torch.roll(t, shifts, axes)


@op
def flip(x: Any, axis: Any = None) -> torch.Tensor:
    """``x`` with the order of elements reversed along ``axis`` (None: all axes)."""
    t = _t(x)
    axes = tuple(range(t.ndim)) if axis is None else _ints(axis)
    return torch.flip(t, axes)


@op
def fliplr(x: Any) -> torch.Tensor:
    """``x`` flipped along its second axis."""
    t = _t(x)
    if t.ndim < 2:
        raise ValueError("fliplr needs a tensor of rank 2 or more.")
    return torch.flip(t, (1,))


@op
def flipud(x: Any) -> torch.Tensor:
    """``x`` flipped along its first axis."""
    t = _t(x)
    if t.ndim < 1:
        raise ValueError("flipud needs a tensor of rank 1 or more.")
    return torch.flip(t, (0,))


@op
def rot90(array: Any, k: int = 1, axes: Any = (0, 1)) -> torch.Tensor:
    """``array`` rotated by 90 degrees ``k`` times in the plane of ``axes`` (from the first towards the second)."""
    t = _t(array)
    axes = _ints(axes)
    if len(axes) != 2:
        raise ValueError(f"`axes` must be a pair of axes. Received: {axes}")
    return torch.rot90(t, int(k), axes)


# --------------------------------------------------------------------------------------------- diagonals
@op
def diag(x: Any, k: int = 0) -> torch.Tensor:
    """The ``k``-th diagonal of a matrix, or a matrix with a vector on its ``k``-th diagonal."""
    t = _t(x)
    if t.ndim not in (1, 2):
        raise ValueError(f"diag needs a 1-D or 2-D input. Received shape {tuple(t.shape)}")
    return torch.diag(t, int(k))


@op
def diagflat(x: Any, k: int = 0) -> torch.Tensor:
    """A matrix with the flattened ``x`` on its ``k``-th diagonal."""
    return torch.diagflat(_t(x).reshape(-1), int(k))


@op
def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> torch.Tensor:
    """The diagonals of ``x`` in the plane of ``axis1``/``axis2`` (placed as the last axis)."""
    return torch.diagonal(_t(x), int(offset), int(axis1), int(axis2))


def _triangle(x: Any, k: int, lower: bool) -> torch.Tensor:
    t = _t(x)
    if t.ndim < 1:
        raise ValueError("tril/triu need a tensor of rank 1 or more.")
    n, m = (t.shape[-2], t.shape[-1]) if t.ndim >= 2 else (t.shape[-1], t.shape[-1])
    rows = torch.arange(n, device=t.device).unsqueeze(1)
    cols = torch.arange(m, device=t.device).unsqueeze(0)
    keep = (cols - rows <= int(k)) if lower else (cols - rows >= int(k))
    return torch.where(keep, t, torch.zeros((), dtype=t.dtype, device=t.device))


@op
def tril(x: Any, k: int = 0) -> torch.Tensor:
    """``x`` with the elements above the ``k``-th diagonal zeroed (on the last two axes)."""
    return _triangle(x, k, lower=True)


@op
def triu(x: Any, k: int = 0) -> torch.Tensor:
    """``x`` with the elements below the ``k``-th diagonal zeroed (on the last two axes)."""
    return _triangle(x, k, lower=False)


@op
def diff(a: Any, n: int = 1, axis: int = -1) -> torch.Tensor:
    """The ``n``-th discrete difference of ``a`` along ``axis`` (bools: ``!=``, as in NumPy)."""
    t = _t(a)
    axis = _axis(axis, t.ndim)
    for _ in range(int(n)):
        length = t.shape[axis]
        hi, lo = t.narrow(axis, 1, builtins.max(length - 1, 0)), t.narrow(axis, 0, builtins.max(length - 1, 0))
        t = hi != lo if t.dtype == torch.bool else hi - lo
    return t


# ------------------------------------------------------------------------------------------------ padding
def _pad_widths(pad_width: Any, rank: int) -> list[tuple[int, int]]:
    if isinstance(pad_width, torch.Tensor):
        pad_width = pad_width.tolist()
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (rank, 2))
    if (widths < 0).any():
        raise ValueError(f"`pad_width` cannot contain negative values. Received: {pad_width}")
    return [(int(lo), int(hi)) for lo, hi in widths]


def _pad_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each position of a padded axis, the source position of the unpadded axis."""
    i = np.arange(-before, n + after)
    if mode == "edge":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return np.mod(i, n)
    if mode == "symmetric":
        j = np.mod(i, 2 * n)
        return np.where(j >= n, 2 * n - 1 - j, j)
    if n == 1:  # reflect
        return np.zeros_like(i)
    period = 2 * (n - 1)
    j = np.mod(i, period)
    return np.where(j >= n, period - j, j)


@op
def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> torch.Tensor:
    """``x`` padded by ``pad_width`` (NumPy's forms: an int, a pair, or one pair per axis). Modes
    ``"constant"`` (``constant_values``, default 0), ``"reflect"``, ``"symmetric"``, and also ``"edge"`` and
    ``"wrap"`` (which Keras's torch backend lacks)."""
    t = _t(x)
    mode = mode.lower()
    widths = _pad_widths(pad_width, t.ndim)
    if mode == "constant":
        value = 0 if constant_values is None else constant_values
        if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
            value = value.item()
        if not t.dtype.is_floating_point and not t.dtype.is_complex:
            value = bool(value) if t.dtype == torch.bool else int(value)
        flat = [w for pair in reversed(widths) for w in pair]
        if t.dtype == torch.bool:
            return F.pad(t.to(torch.uint8), flat, value=int(value)).to(torch.bool)
        return F.pad(t, flat, value=value)
    if constant_values is not None:
        raise ValueError(f"Argument `constant_values` can only be provided when `mode == 'constant'`. "
                         f"Received: mode={mode}")
    if mode not in ("reflect", "symmetric", "edge", "wrap"):
        raise ValueError(f"Unsupported padding mode: {mode!r} (one of constant, reflect, symmetric, edge, wrap).")
    for axis, (before, after) in enumerate(widths):
        if before == 0 and after == 0:
            continue
        n = t.shape[axis]
        if n == 0:
            raise ValueError(f"Cannot pad an empty axis ({axis}) with mode {mode!r}.")
        index = torch.as_tensor(_pad_index(n, before, after, mode), device=t.device)
        t = torch.index_select(t, axis, index)
    return t

