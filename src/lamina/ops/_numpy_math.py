"""Keras's NumPy-style math ops (``keras.ops.numpy``): element-wise functions, comparisons, logical and bitwise
ops, reductions and statistics, on torch tensors. The ops live in the private ``_numpy_math_*`` modules."""

from __future__ import annotations

from lamina.ops._numpy_math_binary import *  # noqa: F403
from lamina.ops._numpy_math_binary import __all__ as _binary
from lamina.ops._numpy_math_reduce import *  # noqa: F403
from lamina.ops._numpy_math_reduce import __all__ as _reduce
from lamina.ops._numpy_math_stats import *  # noqa: F403
from lamina.ops._numpy_math_stats import __all__ as _stats
from lamina.ops._numpy_math_unary import *  # noqa: F403
from lamina.ops._numpy_math_unary import __all__ as _unary

__all__: list[str] = sorted({*_binary, *_reduce, *_stats, *_unary})
del _binary, _reduce, _stats, _unary
