"""``get_source_inputs`` and ``is_keras_tensor``: questions about symbolic tensors (``lamina.Input`` and what
layers make from them).

>>> import lamina
>>> x = lamina.Input((3,), name="features")
>>> y = lamina.layers.Dense(2)(lamina.layers.Dense(4)(x))
>>> [t.name for t in get_source_inputs(y)], is_keras_tensor(y), is_keras_tensor(1.0)
(['features'], True, False)
"""

from __future__ import annotations

from typing import Any

from lamina.layers.core import InputLayer
from lamina.layers.symbolic import SymbolicTensor


def is_keras_tensor(x: Any) -> bool:
    """Whether ``x`` is a symbolic tensor of the functional API (Keras's ``KerasTensor``)."""
    return isinstance(x, SymbolicTensor)


def get_source_inputs(tensor: Any) -> list[SymbolicTensor]:
    """The ``Input`` tensors ``tensor`` was computed from, in the order they are first reached (a tensor made by
    no layer is its own source)."""
    if not isinstance(tensor, SymbolicTensor):
        raise ValueError(f"get_source_inputs expects a symbolic tensor (from lamina.Input and layers called on it); "
                         f"received {type(tensor).__name__}.")
    sources: list[SymbolicTensor] = []
    seen: set[int] = set()
    stack = [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        node = t.node
        if node is None or isinstance(node.layer, InputLayer) or not node.inputs:
            sources.append(t)
        else:
            stack.extend(reversed(node.inputs))
    return sources
