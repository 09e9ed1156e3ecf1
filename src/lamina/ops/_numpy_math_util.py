"""What the ``_numpy_math_*`` modules share: operands made into tensors the way Keras's torch backend makes them,
Keras's dtype rules in torch dtypes, and axis handling for reductions."""

from __future__ import annotations

import builtins
from typing import Any

import torch

from lamina.ops import dtypes
from lamina.ops.dispatch import device_of, tensor

HALF = (torch.float16, torch.bfloat16)


def floatx() -> torch.dtype:
    return dtypes.to_torch(None)


def name(t: torch.Tensor | torch.dtype) -> str:
    """The Keras name of a tensor's (or a torch) dtype."""
    return dtypes.standardize_dtype(t if isinstance(t, torch.dtype) else t.dtype)


def is_float(dt: torch.dtype) -> bool:
    return dt.is_floating_point or dt.is_complex


def is_int(dt: torch.dtype) -> bool:
    """Integer (not bool, not float)."""
    return not dt.is_floating_point and not dt.is_complex and dt != torch.bool


def pair(x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Both operands as tensors, Python numbers made strong (int32/floatx/bool) as Keras's ``convert_to_tensor``
    makes them, new tensors on the device of the other operand."""
    where = device_of(x1, x2)
    return tensor(x1, device=where), tensor(x2, device=where)


def kind(x: Any) -> Any:
    """What Keras's ``result_type`` sees of an operand it did not convert: a Python number's type (weak for int
    and float), else the dtype of the operand as a tensor."""
    if isinstance(x, (bool, int, float)):
        return type(x)
    if isinstance(x, torch.Tensor):
        return x.dtype
    return tensor(x).dtype if not hasattr(x, "dtype") else x.dtype


def result(*kinds: Any) -> torch.dtype:
    """Keras's ``backend.result_type`` (64-bit results made 32-bit) as a torch dtype."""
    return dtypes.to_torch(dtypes.result_type(*kinds))


def compute(dt: torch.dtype) -> torch.dtype:
    """float32 for the half types (accumulating ops compute there), else ``dt`` itself."""
    return torch.float32 if dt in HALF else dt


def dims(axis: Any, ndim: int) -> tuple[int, ...] | None:
    """``axis`` (None, an int, or a list/tuple of ints, negative allowed) as sorted non-negative dims;
    None stays None (every axis)."""
    if axis is None:
        return None
    if isinstance(axis, torch.Tensor):
        axis = axis.tolist()
    items = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in items:
        a = int(a)
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of rank {ndim}.")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"Repeated axis in {axis!r}.")
    return tuple(sorted(out))


def all_dims(axis: Any, ndim: int) -> tuple[int, ...]:
    """The dims a reduction over ``axis`` reduces: every dim for None."""
    d = dims(axis, ndim)
    return tuple(range(ndim)) if d is None else d


def is_empty_axis(axis: Any) -> bool:
    """``axis=()`` or ``[]``: a reduction over no axes (the input itself, as NumPy does)."""
    return isinstance(axis, (list, tuple)) and len(axis) == 0


def keep(y: torch.Tensor, reduced: tuple[int, ...]) -> torch.Tensor:
    """``y`` with size-1 dims put back at ``reduced`` (sorted), as ``keepdims=True`` leaves them."""
    for d in reduced:
        y = y.unsqueeze(d)
    return y


def reduced_shape(shape: tuple[int, ...], reduced: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    if keepdims:
        return tuple(1 if i in reduced else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in reduced)
