"""Merging layers: combine a list of tensors (Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, Dot), with Keras's broadcasting and shape rules.

>>> import torch
>>> Add()([torch.ones(2, 3), torch.ones(2, 3)])
tensor([[2., 2., 2.],
        [2., 2., 2.]])
"""

from __future__ import annotations

import functools
import string
from typing import Any

import torch
import torch.nn.functional as F

from lamina.layers.layer import Layer, format_shape


class _Merge(Layer):
    """Base of the element-wise merges: checks the list of input shapes, then folds ``_merge`` over them."""

    min_inputs = 2
    max_inputs: int | None = None

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras's rule for element-wise merges: the OR of the inputs' masks when every input has one."""
        if mask is None or not isinstance(mask, (list, tuple)) or any(m is None for m in mask):
            return None
        return functools.reduce(torch.logical_or, mask)

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, (list, tuple)) or not all(isinstance(s, tuple) for s in input_shape):
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' must be called on a list of tensors, e.g. "
                f"{type(self).__name__}()([x1, x2]); received input of shape {format_shape(input_shape)}."
            )
        n = len(input_shape)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            exact = self.max_inputs == self.min_inputs
            count = f"exactly {self.max_inputs}" if exact else f"at least {self.min_inputs}"
            raise ValueError(f"{type(self).__name__} layer '{self.name}' takes {count} inputs; received {n}.")
        self._check_shapes([s[1:] for s in input_shape])
        self.built = True

    def _check_shapes(self, shapes: list[tuple]) -> None:
        """Element-wise merges broadcast like NumPy on the non-batch axes."""
        result: tuple = ()
        for shape in shapes:
            result = _broadcast(result, shape, self, shapes)

    def call(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return functools.reduce(self._merge, _same_rank(inputs))

    def compute_output_shape(self, input_shape: list[tuple]) -> tuple:
        batch = next((s[0] for s in input_shape if s[0] is not None), None)
        rank = max(len(s) for s in input_shape) - 1
        padded = [(1,) * (rank - len(s) + 1) + tuple(s[1:]) for s in input_shape]
        out = []
        for dims in zip(*padded, strict=True):  # Keras's rule: unknown wins, 1 broadcasts, sizes must agree
            known = {d for d in dims if d not in (None, 1)}
            if len(known) > 1:
                self._check_shapes([tuple(s[1:]) for s in input_shape])  # raises the clear error
            out.append(None if None in dims else (known.pop() if known else 1))
        return (batch, *out)

    def _merge(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        raise TypeError("abstract: subclasses define _merge")


def _same_rank(inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Like Keras, give lower-rank inputs new axes right after the batch axis: (B, 5) meets (B, 3, 5) as (B, 1, 5)."""
    rank = max(x.ndim for x in inputs)
    if all(x.ndim == rank for x in inputs):
        return inputs
    return [x.reshape(x.shape[0], *([1] * (rank - x.ndim)), *x.shape[1:]) for x in inputs]


def _broadcast(a: tuple, b: tuple, layer: Layer, shapes: list[tuple]) -> tuple:
    out = []
    for x, y in zip(((1,) * (len(b) - len(a)) + a), ((1,) * (len(a) - len(b)) + b), strict=True):
        if x is not None and y is not None and x != 1 and y != 1 and x != y:
            raise ValueError(
                f"{type(layer).__name__} layer '{layer.name}' cannot combine inputs of shapes "
                f"{', '.join(format_shape((None, *s)) for s in shapes)}: sizes {x} and {y} differ. Element-wise "
                "merges need equal (or broadcastable) shapes; use Concatenate to join different widths."
            )
        out.append(y if x in (1, None) and y != 1 else x)
    return tuple(out)


class Add(_Merge):
    """Sum of the inputs."""

    def _merge(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    max_inputs = 2

    def _merge(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a - b


class Multiply(_Merge):
    """Element-wise product of the inputs."""

    def _merge(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b


class Maximum(_Merge):
    """Element-wise maximum of the inputs."""

    def _merge(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.maximum(a, b)


class Minimum(_Merge):
    """Element-wise minimum of the inputs."""

    def _merge(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.minimum(a, b)


class Average(_Merge):
    """Element-wise mean of the inputs."""

    def call(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return functools.reduce(torch.add, _same_rank(inputs)) / len(inputs)


class Concatenate(_Merge):
    """Joins the inputs along ``axis`` (default: the last); other axes must match.

    >>> Concatenate()([torch.ones(2, 3), torch.ones(2, 4)]).shape
    torch.Size([2, 7])
    """

    min_inputs = 1

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """Keras's rule: each input's mask (all True where it has none) widened to the input's shape, joined
        along ``axis``, then any() over the last axis."""
        if mask is None or not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask, strict=True):
            if m is None:
                m = torch.ones(x.shape, dtype=torch.bool, device=x.device)
            elif m.ndim < x.ndim:
                m = m.unsqueeze(-1).expand(x.shape)
            masks.append(m)
        return torch.cat(masks, dim=self.axis).any(dim=-1)

    def _check_shapes(self, shapes: list[tuple]) -> None:
        ranks = {len(s) for s in shapes}
        axis = self.axis if self.axis < 0 else self.axis - 1  # shapes here have no batch axis
        ok = len(ranks) == 1 and (-len(shapes[0]) <= axis < len(shapes[0]))
        if ok:
            for i in range(len(shapes[0])):
                if i == axis % len(shapes[0]):
                    continue
                sizes = {s[i] for s in shapes if s[i] is not None}
                ok = ok and len(sizes) <= 1
        if not ok:
            raise ValueError(
                f"Concatenate layer '{self.name}' (axis={self.axis}) needs inputs whose shapes match except on the "
                f"concatenation axis; received {', '.join(format_shape((None, *s)) for s in shapes)}."
            )

    def call(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(list(inputs), dim=self.axis)

    def compute_output_shape(self, input_shape: list[tuple]) -> tuple:
        self._check_shapes([tuple(s[1:]) for s in input_shape])
        rank = len(input_shape[0])
        axis = self.axis % rank
        out = []
        for i in range(rank):
            dims = [s[i] for s in input_shape]
            if i == axis:
                out.append(None if None in dims else sum(dims))
            else:
                out.append(next((d for d in dims if d is not None), None))
        return tuple(out)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Dot product of two inputs along ``axes`` (per sample), optionally of L2-normalized inputs (cosine).

    >>> Dot(axes=1)([torch.ones(2, 3), torch.ones(2, 3)])
    tensor([[3.],
            [3.]])
    """

    max_inputs = 2

    def __init__(self, axes: int | tuple[int, int], normalize: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(axes, int):
            axes = (axes, axes)
        if not (isinstance(axes, (list, tuple)) and len(axes) == 2 and all(isinstance(a, int) for a in axes)):
            raise ValueError(f"Dot: axes must be an int or a pair of ints; received {axes!r}.")
        self.axes = tuple(axes)
        self.normalize = normalize

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None  # Keras: a dot product's output carries no mask

    def _axes_for(self, r1: int, r2: int) -> tuple[int, int]:
        a1, a2 = (a % r for a, r in zip(self.axes, (r1, r2), strict=True))
        if a1 == 0 or a2 == 0:
            raise ValueError(f"Dot layer '{self.name}': axes may not include the batch axis 0; received {self.axes}.")
        return a1, a2

    def _check_shapes(self, shapes: list[tuple]) -> None:
        s1, s2 = ((None, *s) for s in shapes)
        a1, a2 = self._axes_for(len(s1), len(s2))
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(
                f"Dot layer '{self.name}' contracts axis {a1} of {format_shape(s1)} with axis {a2} of "
                f"{format_shape(s2)}, but their sizes differ ({s1[a1]} != {s2[a2]})."
            )

    def compute_output_shape(self, input_shape: list[tuple]) -> tuple:
        s1, s2 = (tuple(s) for s in input_shape)
        self._check_shapes([s1[1:], s2[1:]])
        a1, a2 = self._axes_for(len(s1), len(s2))
        batch = s1[0] if s1[0] is not None else s2[0]
        rest = [d for i, d in enumerate(s1) if i not in (0, a1)] + [d for i, d in enumerate(s2) if i not in (0, a2)]
        return (batch, *rest) if rest else (batch, 1)

    def call(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x, y = inputs
        a1, a2 = self._axes_for(x.ndim, y.ndim)
        if self.normalize:
            x, y = F.normalize(x, dim=a1), F.normalize(y, dim=a2)
        letters = iter(string.ascii_lowercase[1:])
        xs = ["a"] + [next(letters) for _ in range(x.ndim - 1)]  # "a" is the batch axis
        ys = ["a"] + [next(letters) for _ in range(y.ndim - 1)]
        ys[a2] = xs[a1]
        out = ["a"] + [c for i, c in enumerate(xs) if i not in (0, a1)]
        out += [c for i, c in enumerate(ys) if i not in (0, a2)]
        result = torch.einsum(f"{''.join(xs)},{''.join(ys)}->{''.join(out)}", x, y)
        return result.unsqueeze(-1) if result.ndim == 1 else result

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs: list, **kwargs: Any) -> Any:
    """Functional form of ``Add``."""
    return Add(**kwargs)(inputs)


def subtract(inputs: list, **kwargs: Any) -> Any:
    """Functional form of ``Subtract``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: list, **kwargs: Any) -> Any:
    """Functional form of ``Multiply``."""
    return Multiply(**kwargs)(inputs)


def average(inputs: list, **kwargs: Any) -> Any:
    """Functional form of ``Average``."""
    return Average(**kwargs)(inputs)


def maximum(inputs: list, **kwargs: Any) -> Any:
    """Functional form of ``Maximum``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: list, **kwargs: Any) -> Any:
    """Functional form of ``Minimum``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    """Functional form of ``Concatenate``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: list, axes: int | tuple[int, int], normalize: bool = False, **kwargs: Any) -> Any:
    """Functional form of ``Dot``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
