"""The few settable globals of lamina, all in one place.

>>> from lamina.core import config
>>> config.floatx()
'float32'
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections import defaultdict

import numpy as np
import torch

_FLOATX = "float32"
_EPSILON = 1e-7

# Per-prefix counters for automatic layer names ("dense", "dense_1", ...), as Keras names layers.
_NAME_COUNTERS: defaultdict[str, itertools.count] = defaultdict(itertools.count)

# The one context variable: the `training` flag of the outermost layer call, seen by nested calls
# that were not given `training` explicitly.
TRAINING: contextvars.ContextVar[bool | None] = contextvars.ContextVar("lamina_training", default=None)

_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}


def floatx() -> str:
    """The default float type of new weights and inputs (``'float32'`` unless changed)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type: one of ``'float16'``, ``'bfloat16'``, ``'float32'``, ``'float64'``."""
    global _FLOATX
    if value not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"set_floatx expects 'float16', 'bfloat16', 'float32' or 'float64'; received {value!r}.")
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor used by losses and metrics (Keras's ``1e-7``)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor used by losses and metrics."""
    global _EPSILON
    _EPSILON = float(value)


def standardize_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """Turn a Keras dtype name (or a torch dtype, or None for floatx) into a torch dtype."""
    if dtype is None:
        return _DTYPES[_FLOATX]
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, type) or type(dtype).__module__.startswith("numpy"):  # np.float32, np.dtype("int8")
        with contextlib.suppress(TypeError):
            dtype = np.dtype(dtype).name
    name = str(dtype).replace("torch.", "")
    if name not in _DTYPES:
        raise ValueError(f"Unknown dtype {dtype!r}; expected one of {sorted(_DTYPES)}.")
    return _DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    """The Keras name of a torch dtype (``torch.float32`` -> ``'float32'``)."""
    return str(dtype).replace("torch.", "")


def unique_name(prefix: str) -> str:
    """The next automatic name for ``prefix``: ``dense``, then ``dense_1``, ``dense_2``, ..."""
    n = next(_NAME_COUNTERS[prefix])
    return prefix if n == 0 else f"{prefix}_{n}"


def clear_session() -> None:
    """Reset automatic layer names, as ``keras.backend.clear_session()`` does."""
    _NAME_COUNTERS.clear()
