"""Symbolic tensors and graph nodes for the functional API: plain data types, no computation.

A ``SymbolicTensor`` stands for a batch of data that does not exist yet: it has a Keras shape (``None`` for
unknown dimensions, batch first) and a dtype, and remembers which layer call produced it (its ``node``).

>>> import torch
>>> t = SymbolicTensor((None, 28, 28, 1), torch.float32)
>>> t.shape, t.ndim
((None, 28, 28, 1), 4)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from lamina.core import tree


class SymbolicTensor:
    """A placeholder for a tensor in a functional model (Keras's ``KerasTensor``)."""

    __slots__ = ("shape", "dtype", "name", "node", "index")

    def __init__(self, shape: tuple, dtype: torch.dtype, name: str | None = None,
                 node: Node | None = None, index: int = 0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name
        self.node = node
        self.index = index

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        dtype = str(self.dtype).replace("torch.", "")
        producer = f", produced by {self.node.layer.name!r}" if self.node is not None else ""
        return f"<SymbolicTensor shape={self.shape}, dtype={dtype}{producer}>"

    def __bool__(self) -> bool:
        raise TypeError(
            "A symbolic tensor (from keras.Input or a layer called on one) has no value, so it cannot be "
            "used in an `if` or `bool()`. Build the graph with layer calls only, or subclass Model and "
            "write the condition in `call`."
        )

    def __len__(self) -> int:
        raise TypeError(f"len() of a symbolic tensor of shape {self.shape} is not defined; use `.shape`.")

    def __iter__(self):
        raise TypeError(f"A symbolic tensor of shape {self.shape} cannot be iterated; use layers on it.")

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        raise TypeError(
            f"torch function '{name}' was called on a symbolic tensor (from lamina.Input). Plain PyTorch modules and "
            "functions need real data: wrap a module as lamina.layers.TorchModuleWrapper(module)(x), or put the "
            "computation in the call() of a custom Layer."
        )


@dataclass(eq=False)
class Node:
    """One call of a layer on symbolic inputs: the edge of the functional graph.

    ``args``/``kwargs`` keep the call's structure, with ``SymbolicTensor`` leaves where tensors flow.
    """

    layer: Any
    args: tuple
    kwargs: dict
    outputs: Any = None
    inputs: list[SymbolicTensor] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inputs = [t for t in tree.flatten((self.args, self.kwargs)) if isinstance(t, SymbolicTensor)]

    @property
    def flat_outputs(self) -> list[SymbolicTensor]:
        return tree.flatten(self.outputs)

    @property
    def parents(self) -> list[Node]:
        return [t.node for t in self.inputs if t.node is not None]


def is_symbolic(x: Any) -> bool:
    """True if ``x`` is a symbolic tensor or a structure holding one."""
    if isinstance(x, SymbolicTensor):
        return True
    if isinstance(x, (list, tuple, dict)):
        return any(isinstance(t, SymbolicTensor) for t in tree.flatten(x))
    return False
