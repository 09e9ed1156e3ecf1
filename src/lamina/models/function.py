"""``Function``: a graph of operations from symbolic inputs to outputs, called like a function (Keras's
``keras.Function``). In lamina it is a functional model: the same graph, the same call.

>>> import lamina
>>> x = lamina.Input((3,))
>>> f = Function(x, lamina.ops.square(x) + 1.0)
>>> f(lamina.ops.ones((1, 3))).tolist()
[[2.0, 2.0, 2.0]]
"""

from __future__ import annotations

from typing import Any

from lamina.core import config
from lamina.models.model import Model


class Function(Model):
    """A callable graph from ``inputs`` to ``outputs`` (symbolic tensors made from ``lamina.Input``)."""

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None):
        super().__init__(inputs, outputs, name=name or config.unique_name("function"))
