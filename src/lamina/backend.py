"""``lamina.backend``: Keras's ``keras.backend``, dtype helpers, global settings and the session.

>>> import lamina as keras
>>> keras.backend.standardize_dtype(float), keras.backend.result_type("int8", "uint8")
('float32', 'int16')
>>> keras.backend.is_keras_tensor(keras.Input((3,)))
True
"""

import typing as _t

import numpy as _np
import torch as _torch

from lamina.core import config as _config
from lamina.core.config import (
    epsilon,
    floatx,
    get_uid,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from lamina.ops import dispatch as _dispatch
from lamina.ops import dtypes as _dtypes

__all__ = [
    "backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format", "is_float_dtype", "is_int_dtype",
    "is_keras_tensor", "result_type", "set_epsilon", "set_floatx", "set_image_data_format", "standardize_dtype",
]


def backend() -> str:
    """The backend's name: always ``"torch"``."""
    return "torch"


def clear_session(free_memory: bool = True) -> None:
    """Reset lamina's global state: automatic layer names and ``get_uid`` counters, the global dtype policy,
    the flash-attention/logging/traceback flags and torch.compile's caches (``floatx``, ``epsilon`` and
    ``image_data_format`` stay). ``free_memory``: also collect garbage and empty PyTorch's CUDA cache.

    >>> clear_session(); get_uid("dense")
    1
    """
    _config.clear_session(free_memory=free_memory)


# Names lamina's ops accept for convenience but Keras's standardize_dtype refuses.
_NOT_KERAS_NAMES = frozenset({"float", "double", "half", "bool_"})
_PYTHON_TYPES = (int, float, bool, complex)  # weak in promotion


def standardize_dtype(dtype: _t.Any) -> str:
    """The Keras name of ``dtype``: a Keras name, a torch/NumPy dtype or a Python type (None gives ``floatx()``;
    ``str`` and ``"string"`` give ``"string"``, a name only: PyTorch has no string tensors).

    >>> standardize_dtype(int), standardize_dtype("float64"), standardize_dtype(None)
    ('int32', 'float64', 'float32')
    """
    if dtype is str or (isinstance(dtype, str) and dtype == "string"):
        return "string"
    if isinstance(dtype, str) and dtype.replace("torch.", "") in _NOT_KERAS_NAMES:
        raise ValueError(f"Invalid dtype: {dtype!r}. Use a Keras dtype name such as 'float32', 'float64', "
                         "'float16' or 'bool'.")
    if isinstance(dtype, (_torch.Tensor, _np.ndarray, _np.generic)):
        raise ValueError(f"standardize_dtype expects a dtype, not a value; pass x.dtype. Received {dtype!r}.")
    return _dtypes.standardize_dtype(dtype)


def result_type(*dtypes: _t.Any) -> str:
    """The dtype Keras's type promotion gives for ``dtypes`` (Python types are weak and 64-bit results are made
    32-bit, as Keras does outside TensorFlow). float8 types do not promote (``ValueError``, as in Keras).

    >>> result_type("int32", "float16"), result_type("bfloat16", int), result_type()
    ('float16', 'bfloat16', 'float32')
    """
    names = [None if d is None or any(d is t for t in _PYTHON_TYPES) else standardize_dtype(d) for d in dtypes]
    if "string" in names:
        if all(n == "string" for n in names):
            return "string"
        raise ValueError(f"result_type: string dtypes do not promote with numeric ones; received {dtypes!r}.")
    if any(n is not None and n.startswith("float8") for n in names):
        raise ValueError(f"result_type: float8 dtypes take no part in type promotion; cast them to a wider float "
                         f"first. Received {dtypes!r}.")
    return _dtypes.result_type(*dtypes)


def is_float_dtype(dtype: _t.Any) -> bool:
    """Whether ``dtype`` is a floating type (``bfloat16``, ``float16/32/64``, the ``float8`` types).

    >>> is_float_dtype("bfloat16"), is_float_dtype(int)
    (True, False)
    """
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype: _t.Any) -> bool:
    """Whether ``dtype`` is a signed or unsigned integer type (``bool`` is not).

    >>> is_int_dtype("uint8"), is_int_dtype("bool")
    (True, False)
    """
    return standardize_dtype(dtype).startswith(("int", "uint"))


def is_keras_tensor(x: _t.Any) -> bool:
    """Whether ``x`` is a symbolic tensor (made by ``lamina.Input`` or by layers and ops called on one), the
    placeholders of the functional API; real tensors and arrays give False."""
    return bool(_dispatch.SYMBOLIC_TYPES) and isinstance(x, _dispatch.SYMBOLIC_TYPES)
