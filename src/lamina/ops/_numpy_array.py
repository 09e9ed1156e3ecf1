"""The array part of ``keras.ops.numpy``: creation, shapes, indexing, sorting and products.

The ops live in private modules by theme and are re-exported here:
``_numpy_array_create`` (constants, ranges, grids, windows), ``_numpy_array_shape`` (reshaping, joining,
splitting, padding, triangles), ``_numpy_array_index`` (``get_item``, ``take``, ``where``, sorting, ``unique``)
and ``_numpy_array_products`` (``matmul``, ``einsum``, ``cross``, complex parts, ``vectorize``).

>>> from lamina.ops import numpy as knp
>>> knp.concatenate([knp.zeros((1, 2)), knp.ones((1, 2))]).tolist()
[[0.0, 0.0], [1.0, 1.0]]
"""

from __future__ import annotations

from lamina.ops._numpy_array_create import *  # noqa: F403
from lamina.ops._numpy_array_create import __all__ as _create
from lamina.ops._numpy_array_index import *  # noqa: F403
from lamina.ops._numpy_array_index import __all__ as _index
from lamina.ops._numpy_array_products import *  # noqa: F403
from lamina.ops._numpy_array_products import __all__ as _products
from lamina.ops._numpy_array_shape import *  # noqa: F403
from lamina.ops._numpy_array_shape import __all__ as _shape

__all__: list[str] = sorted({*_create, *_index, *_products, *_shape})
del _create, _index, _products, _shape
