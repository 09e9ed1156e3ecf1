"""``lamina.ops``: every op of ``keras.ops``, on torch tensors, with Keras's names, defaults and dtype rules.

Ops take tensors, NumPy arrays and Python numbers, return torch tensors on lamina's device, and keep
gradients flowing. On symbolic tensors (``lamina.Input``) they record graph nodes of a functional model.

>>> import lamina as keras
>>> from lamina import ops
>>> ops.relu(ops.matmul([[1.0, -2.0]], [[1.0], [1.0]])).tolist()
[[0.0]]
>>> inputs = keras.Input((4,))
>>> ops.concatenate([inputs, inputs + 1], axis=-1).shape
(None, 8)
"""

from lamina.ops import core, image, linalg, math, nn, numpy
from lamina.ops.core import *  # noqa: F403
from lamina.ops.core import __all__ as _core_names
from lamina.ops.linalg import *  # noqa: F403
from lamina.ops.linalg import __all__ as _linalg_names
from lamina.ops.math import *  # noqa: F403
from lamina.ops.math import __all__ as _math_names
from lamina.ops.nn import *  # noqa: F403
from lamina.ops.nn import __all__ as _nn_names
from lamina.ops.numpy import *  # noqa: F403
from lamina.ops.numpy import __all__ as _numpy_names

# As in Keras, linalg's names are also at the top; image's only in lamina.ops.image.
__all__ = sorted({*_core_names, *_linalg_names, *_math_names, *_nn_names, *_numpy_names,
                  "core", "image", "linalg", "nn", "numpy"})
del _core_names, _linalg_names, _math_names, _nn_names, _numpy_names
