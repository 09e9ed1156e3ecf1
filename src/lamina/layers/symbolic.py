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

from lamina import ops as _ops
from lamina.core import tree


class SymbolicTensor:
    """A placeholder for a tensor in a functional model (Keras's ``KerasTensor``)."""

    __slots__ = ("shape", "dtype", "name", "node", "index", "_keras_mask")

    def __init__(self, shape: tuple, dtype: torch.dtype, name: str | None = None,
                 node: Node | None = None, index: int = 0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name
        self.node = node
        self.index = index
        self._keras_mask: SymbolicTensor | None = None  # the mask's shape and dtype, when the producer makes one

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

    # Python operators record lamina.ops nodes, as Keras's KerasTensor does (no __eq__: tensors stay hashable).
    def __add__(self, other): return _ops.add(self, other)  # noqa: E704
    def __radd__(self, other): return _ops.add(other, self)  # noqa: E704
    def __sub__(self, other): return _ops.subtract(self, other)  # noqa: E704
    def __rsub__(self, other): return _ops.subtract(other, self)  # noqa: E704
    def __mul__(self, other): return _ops.multiply(self, other)  # noqa: E704
    def __rmul__(self, other): return _ops.multiply(other, self)  # noqa: E704
    def __matmul__(self, other): return _ops.matmul(self, other)  # noqa: E704
    def __rmatmul__(self, other): return _ops.matmul(other, self)  # noqa: E704
    def __truediv__(self, other): return _ops.true_divide(self, other)  # noqa: E704
    def __rtruediv__(self, other): return _ops.true_divide(other, self)  # noqa: E704
    def __floordiv__(self, other): return _ops.floor_divide(self, other)  # noqa: E704
    def __rfloordiv__(self, other): return _ops.floor_divide(other, self)  # noqa: E704
    def __mod__(self, other): return _ops.mod(self, other)  # noqa: E704
    def __rmod__(self, other): return _ops.mod(other, self)  # noqa: E704
    def __pow__(self, other): return _ops.power(self, other)  # noqa: E704
    def __rpow__(self, other): return _ops.power(other, self)  # noqa: E704
    def __neg__(self): return _ops.negative(self)  # noqa: E704
    def __abs__(self): return _ops.absolute(self)  # noqa: E704
    def __lt__(self, other): return _ops.less(self, other)  # noqa: E704
    def __le__(self, other): return _ops.less_equal(self, other)  # noqa: E704
    def __gt__(self, other): return _ops.greater(self, other)  # noqa: E704
    def __ge__(self, other): return _ops.greater_equal(self, other)  # noqa: E704
    def __ne__(self, other): return _ops.not_equal(self, other)  # noqa: E704
    def __and__(self, other): return _ops.logical_and(self, other)  # noqa: E704
    def __rand__(self, other): return _ops.logical_and(other, self)  # noqa: E704
    def __or__(self, other): return _ops.logical_or(self, other)  # noqa: E704
    def __ror__(self, other): return _ops.logical_or(other, self)  # noqa: E704
    def __xor__(self, other): return _ops.logical_xor(self, other)  # noqa: E704
    def __rxor__(self, other): return _ops.logical_xor(other, self)  # noqa: E704
    def __invert__(self): return _ops.logical_not(self)  # noqa: E704
    def __round__(self, ndigits=None): return _ops.round(self, ndigits or 0)  # noqa: E704
    def __getitem__(self, key): return _ops.get_item(self, key)  # noqa: E704
    __hash__ = object.__hash__

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
