"""What every op shares: the registry of op names, the symbolic hook, and turning inputs into tensors.

An op is a plain function on torch tensors, decorated with ``@op``. The decorator does two things:

* it registers the function by its Keras name (``"add"``, ``"relu"``), the only names a saved functional
  model may refer to in an op node;
* when an argument is a symbolic tensor (``lamina.Input`` and what layers make of it), it hands the call to
  the hook that ``lamina.layers`` installs, which records a graph node instead of computing.

>>> import torch
>>> @op
... def twice(x):
...     return tensor(x) * 2
>>> twice([1, 2]).tolist()
[2, 4]
>>> get_op("twice") is twice
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lamina.core import device as _device
from lamina.ops import dtypes

#: Keras op name -> the op (its decorated function).
OPS: dict[str, Callable] = {}

# Installed by lamina.layers (layers/op_layer.py): the types of symbolic tensors and the function that records
# an op node for a call on them. Empty until lamina.layers is imported, and then the check costs one isinstance.
# A fixed wiring, set once at import and never changed (listed as such in core/config.py), not session state.
SYMBOLIC_TYPES: tuple[type, ...] = ()
_SYMBOLIC_HOOK: Callable | None = None


def install_symbolic_hook(types: tuple[type, ...], hook: Callable) -> None:
    """Called once by ``lamina.layers``: symbolic tensors of ``types`` go to ``hook(name, op, args, kwargs)``."""
    global SYMBOLIC_TYPES, _SYMBOLIC_HOOK
    SYMBOLIC_TYPES, _SYMBOLIC_HOOK = tuple(types), hook


def _has_symbolic(args: tuple, kwargs: dict) -> bool:
    for value in (*args, *kwargs.values()):
        if isinstance(value, SYMBOLIC_TYPES):
            return True
        if isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, SYMBOLIC_TYPES) or (
                        isinstance(item, (list, tuple)) and any(isinstance(i, SYMBOLIC_TYPES) for i in item)):
                    return True
        elif isinstance(value, dict) and any(isinstance(v, SYMBOLIC_TYPES) for v in value.values()):
            return True
    return False


def op(fn: Callable | None = None, *, name: str | None = None, symbolic: bool = True) -> Callable:
    """Register ``fn`` as the op ``name`` (default: its own name), recording graph nodes on symbolic inputs.

    ``symbolic=False`` for ops that do not compute on tensors (``shape``, ``dtype``, ``is_tensor``, ...), which
    then see the symbolic tensor itself.
    """
    if fn is None:
        return functools.partial(op, name=name, symbolic=symbolic)
    key = name or fn.__name__
    if not symbolic:
        OPS.setdefault(key, fn)
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if SYMBOLIC_TYPES and _has_symbolic(args, kwargs):
            return _SYMBOLIC_HOOK(key, wrapper, args, kwargs)
        return fn(*args, **kwargs)

    wrapper.op_name = key
    OPS.setdefault(key, wrapper)
    return wrapper


def get_op(name: str) -> Callable:
    """The registered op called ``name``; a clear error for anything else (files name ops by this)."""
    if name not in OPS:
        import difflib

        close = difflib.get_close_matches(name, list(OPS), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"{name!r} is not a lamina op.{hint}")
    return OPS[name]


# ----------------------------------------------------------------------------------------------- tensors
def default_device() -> torch.device:
    """Where ops put tensors they create: the meta device while a functional model infers shapes (torch's
    default-device context), else lamina's device (``lamina.set_device``; CUDA when present)."""
    current = torch.get_default_device()
    if current.type == "meta":
        return current
    return _device.get_device()


def device_of(*values: Any) -> torch.device:
    """The device of the first tensor among ``values`` (looking one level into lists), else the default."""
    for v in values:
        if isinstance(v, torch.Tensor):
            return v.device
        if isinstance(v, (list, tuple)):
            for item in v:
                if isinstance(item, torch.Tensor):
                    return item.device
    return default_device()


def _python_dtype(x: Any) -> str:
    """Keras's dtype for a Python number or a (nested) list of them: bool, int32, or floatx."""
    flat = np.asarray(x)
    if flat.dtype == bool:
        return "bool"
    if np.issubdtype(flat.dtype, np.integer):
        return "int32"
    if np.issubdtype(flat.dtype, np.complexfloating):
        return "complex64"
    return dtypes.standardize_dtype(None)


def tensor(x: Any, dtype: Any = None, device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a torch tensor, as Keras's ``convert_to_tensor`` makes it: Python numbers and lists become
    int32/floatx/bool, NumPy arrays keep their dtype, tensors stay as they are (cast if ``dtype`` is given).
    New tensors go to ``device`` or the default device; a tensor keeps its own device."""
    if isinstance(x, torch.Tensor):
        if dtype is not None:
            target = dtypes.to_torch(dtype)
            if x.dtype != target:
                return x.to(target)
        return x
    if hasattr(x, "value") and isinstance(getattr(x, "value", None), torch.Tensor):  # a Keras-style variable
        return tensor(x.value, dtype, device)
    target = dtypes.to_torch(dtype) if dtype is not None else None
    where = device if device is not None else default_device()
    if isinstance(x, (np.ndarray, np.generic)):
        arr = np.asarray(x)
        if arr.dtype == object:
            raise TypeError(f"Cannot convert an array of Python objects to a tensor: {x!r:.80}")
        if target is None:  # as Keras on torch: unsigned 16/32-bit become the next signed type
            target = dtypes.to_torch({"uint16": "int32", "uint32": "int64"}.get(arr.dtype.name, arr.dtype))
        if arr.dtype.name == "bfloat16" or not arr.flags.writeable or not arr.flags.c_contiguous:
            arr = np.array(arr, copy=True, dtype=arr.dtype if arr.dtype.name != "bfloat16" else np.float32)
        return torch.from_numpy(arr).to(device=where, dtype=target)
    if isinstance(x, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in _leaves(x)):
        parts = [tensor(v, dtype, device) for v in x]
        common = dtypes.to_torch(dtypes.promote(*parts)) if dtype is None else target
        return torch.stack([p.to(common) for p in parts])
    if target is None:
        target = dtypes.to_torch(_python_dtype(x))
    return torch.tensor(x, dtype=target, device=where)


def _leaves(x: Any) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _leaves(item)]
    return [x]


def _dtype_key(x: Any) -> Any:
    """What promotion sees of a value: a tensor's or array's dtype; a Python number itself (weak)."""
    if isinstance(x, (torch.Tensor, np.ndarray, np.generic)):
        return x.dtype
    if isinstance(x, (bool, int, float, complex)):
        return x
    if isinstance(x, (list, tuple)):
        return _python_dtype(x) if x else dtypes.standardize_dtype(None)
    if hasattr(x, "dtype"):
        return x.dtype
    return x


def promoted(*values: Any, dtype: Any = None) -> tuple[list[torch.Tensor], torch.dtype]:
    """The values as tensors of their Keras-promoted dtype (or ``dtype``), on the first tensor's device.

    >>> (a, b), d = promoted(torch.ones(2, dtype=torch.int8), 3)
    >>> a.dtype, b.dtype, d
    (torch.int8, torch.int8, torch.int8)
    """
    target = dtypes.to_torch(dtype if dtype is not None else dtypes.promote(*(_dtype_key(v) for v in values)))
    where = device_of(*values)
    out = []
    for v in values:
        t = tensor(v, device=where) if not isinstance(v, torch.Tensor) else v
        out.append(t if t.dtype == target else t.to(target))
    return out, target


def float_dtype(x: torch.Tensor) -> torch.dtype:
    """The float dtype Keras computes a float-only op in for ``x``: its own if float, else ``floatx()``
    (integers and bools become floatx, as in Keras's ``sqrt``, ``mean``, ``exp``)."""
    if x.dtype.is_floating_point or x.dtype.is_complex:
        return x.dtype
    return dtypes.to_torch(None)


def to_float(x: Any) -> torch.Tensor:
    """``x`` as a tensor of its float dtype (see ``float_dtype``)."""
    t = tensor(x)
    target = float_dtype(t)
    return t if t.dtype == target else t.to(target)


def canonical_axis(axis: Any) -> Any:
    """Keras axes as torch takes them: None stays None, lists become tuples."""
    if isinstance(axis, list):
        return tuple(axis)
    return axis
