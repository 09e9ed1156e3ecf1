"""``lamina.ops.numpy``: Keras's NumPy-style ops on torch tensors (``keras.ops.numpy``).

>>> from lamina.ops import numpy as knp
>>> knp.add([1, 2], 3).tolist()
[4, 5]
"""

from lamina.ops._numpy_array import *  # noqa: F403
from lamina.ops._numpy_array import __all__ as _array_names
from lamina.ops._numpy_math import *  # noqa: F403
from lamina.ops._numpy_math import __all__ as _math_names

__all__ = sorted({*_math_names, *_array_names})
