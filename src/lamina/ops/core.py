"""``keras.ops`` core ops: tensor conversion and inspection, casts, scatter and slice updates, and control
flow (cond, switch, loops, scans, maps, custom gradients). All names are also at ``lamina.ops``.

>>> from lamina.ops import core
>>> core.shape(core.convert_to_tensor([[1, 2, 3]])), core.dtype([1.0])
((1, 3), 'float32')
"""

from __future__ import annotations

from lamina.ops._core_flow import (
    associative_scan,
    cond,
    custom_gradient,
    fori_loop,
    map,
    scan,
    switch,
    vectorized_map,
    while_loop,
)
from lamina.ops._core_tensor import (
    cast,
    convert_to_numpy,
    convert_to_tensor,
    dtype,
    is_tensor,
    saturate_cast,
    scatter,
    scatter_update,
    shape,
    slice,
    slice_update,
    stop_gradient,
    unstack,
)

__all__ = [
    "associative_scan", "cast", "cond", "convert_to_numpy", "convert_to_tensor", "custom_gradient", "dtype",
    "fori_loop", "is_tensor", "map", "saturate_cast", "scan", "scatter", "scatter_update", "shape", "slice",
    "slice_update", "stop_gradient", "switch", "unstack", "vectorized_map", "while_loop",
]
