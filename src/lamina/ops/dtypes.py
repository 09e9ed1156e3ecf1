"""Keras's dtype names and type promotion, on torch dtypes.

Keras names dtypes with strings (``"float32"``, ``"int8"``, ...) and promotes mixed inputs along a lattice
(the one JAX uses): integers meet floats at the float side, ``uint8`` and ``int8`` meet at ``int16``,
``bfloat16`` and ``float16`` at ``float32``. Python numbers are *weak*: ``int8_tensor + 1`` stays ``int8`` and
``int_tensor + 1.5`` becomes ``floatx()``.

>>> standardize_dtype("float32"), standardize_dtype(torch.int8)
('float32', 'int8')
>>> result_type("uint8", "int8"), result_type("bfloat16", "float16"), result_type("int8", float)
('int16', 'float32', 'float32')
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from lamina.core import config

#: Keras dtype name -> torch dtype, for every dtype lamina's ops compute with.
TORCH_DTYPES: dict[str, torch.dtype] = {
    "bool": torch.bool,
    "uint8": torch.uint8, "uint16": torch.uint16, "uint32": torch.uint32, "uint64": torch.uint64,
    "int8": torch.int8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64,
    "bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32, "float64": torch.float64,
    "complex64": torch.complex64, "complex128": torch.complex128,
    "float8_e4m3fn": torch.float8_e4m3fn, "float8_e5m2": torch.float8_e5m2,
}
_NAMES = {v: k for k, v in TORCH_DTYPES.items()}
FLOAT_TYPES = ("bfloat16", "float16", "float32", "float64")
INT_TYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
_ALIASES = {"float": None, "int": "int32", "half": "float16", "double": "float64", "bool_": "bool"}

# The promotion lattice, each node pointing at the nodes just above it. "i*"/"f*"/"c*" are the weak types of
# Python ints, floats and complex numbers: below every strong integer/float type, so they adopt the other side.
_LATTICE = {
    "bool": ["i*"],
    "i*": ["uint8", "int8", "c*"],
    "uint8": ["uint16", "int16"], "uint16": ["uint32", "int32"], "uint32": ["uint64", "int64"], "uint64": ["f*"],
    "int8": ["int16"], "int16": ["int32"], "int32": ["int64"], "int64": ["f*"],
    "f*": ["bfloat16", "float16"], "bfloat16": ["float32"], "float16": ["float32"],
    "float32": ["float64", "complex64"], "float64": ["complex128"],
    "c*": ["complex64"], "complex64": ["complex128"], "complex128": [],
}


def _upper_sets() -> dict[str, frozenset]:
    """Every node's set of nodes at or above it (the transitive closure of the lattice)."""
    out: dict[str, frozenset] = {}

    def above(node: str) -> frozenset:
        if node not in out:
            out[node] = frozenset({node}).union(*(above(n) for n in _LATTICE[node]))
        return out[node]

    for node in _LATTICE:
        above(node)
    return out


_UPPER = _upper_sets()


@functools.lru_cache(maxsize=1024)
def _least_upper_bound(nodes: frozenset) -> str:
    common = frozenset.intersection(*(_UPPER[n] for n in nodes))
    # The least element of the common upper bounds is the one every other common bound lies above.
    least = [c for c in common if common <= _UPPER[c]]
    if len(least) != 1:
        raise ValueError(f"Keras's type promotion has no single result for {sorted(nodes)}.")
    return least[0]


def standardize_dtype(dtype: Any) -> str:
    """The Keras name of ``dtype``: a Keras string, a torch/NumPy dtype, a Python type or None (``floatx()``).

    >>> standardize_dtype(None), standardize_dtype(int), standardize_dtype(np.float64)
    ('float32', 'int32', 'float64')
    """
    if dtype is None:
        return config.floatx()
    if isinstance(dtype, torch.dtype):
        if dtype not in _NAMES:
            raise ValueError(f"Keras has no name for the torch dtype {dtype}.")
        return _NAMES[dtype]
    if dtype is int:
        return "int32"
    if dtype is float:
        return config.floatx()
    if dtype is bool:
        return "bool"
    if dtype is complex:
        return "complex64"
    if isinstance(dtype, str):
        name = dtype.replace("torch.", "")
        if name in _ALIASES:
            return _ALIASES[name] or config.floatx()
        if name in TORCH_DTYPES:
            return name
    elif hasattr(dtype, "dtype") and not isinstance(dtype, type):  # a tensor or array: its dtype
        return standardize_dtype(dtype.dtype)
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = None
        if name in TORCH_DTYPES:
            return name
    raise ValueError(f"Invalid dtype: {dtype!r}. Expected one of {sorted(TORCH_DTYPES)}.")


def to_torch(dtype: Any) -> torch.dtype:
    """The torch dtype of a Keras dtype (any form ``standardize_dtype`` takes)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    return TORCH_DTYPES[standardize_dtype(dtype)]


def is_float(dtype: Any) -> bool:
    return standardize_dtype(dtype) in FLOAT_TYPES or standardize_dtype(dtype).startswith("float8")


def is_int(dtype: Any) -> bool:
    return standardize_dtype(dtype) in INT_TYPES


def _node_of(value: Any) -> tuple[str, bool]:
    """(lattice node, weak) of a dtype or a Python value: Python numbers and types are weak."""
    if value is bool or type(value) is bool:
        return "bool", False
    if value is int or type(value) is int:
        return "int32", True
    if value is float or type(value) is float:
        return "float32", True
    if value is complex or type(value) is complex:
        return "complex64", True
    return standardize_dtype(value), False


def _promote(args: tuple, canonical_64: bool) -> str:
    nodes = [(config.floatx(), False) if a is None else _node_of(a) for a in args]
    if not nodes:
        return config.floatx()
    names = [n for n, _ in nodes]
    weak = [w for _, w in nodes]
    weak_name = {"int32": "i*", "float32": "f*", "complex64": "c*"}
    if len(nodes) == 1:
        out, out_weak = names[0], weak[0]
    elif len(set(names)) == 1 and not all(weak):
        out, out_weak = names[0], False
    elif all(weak):
        out, out_weak = _least_upper_bound(frozenset(names)), True
    else:
        out = _least_upper_bound(frozenset(weak_name.get(n, n) if w else n for n, w in nodes))
        out_weak = out in ("i*", "f*", "c*")
    if out_weak and out != "bool":  # a weak result takes floatx's precision
        bits = config.floatx()[-2:]
        kind = "float" if out in ("f*", "bfloat16") or out.startswith("float") else (
            "complex" if out.startswith("c") else "uint" if out.startswith("u") else "int")
        out = f"complex{2 * int(bits)}" if kind == "complex" else f"{kind}{bits}"
    if canonical_64:
        out = {"int64": "int32", "uint64": "uint32", "float64": "float32", "complex128": "complex64"}.get(out, out)
    return out


def result_type(*dtypes: Any) -> str:
    """Keras's ``backend.result_type``: the promoted dtype of ``dtypes`` (Python types count as weak), with
    64-bit results made 32-bit as Keras does on every backend but TensorFlow.

    >>> result_type("int32", "float16"), result_type("int64", "int64")
    ('float16', 'int32')
    """
    return _promote(dtypes, canonical_64=True)


def promote(*values: Any) -> str:
    """The dtype an op computes in for inputs of these dtypes or Python values (64-bit kept: what Keras's ops
    return on the torch backend, where ``int64 + int64`` stays ``int64``)."""
    return _promote(values, canonical_64=False)
