"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, UpSampling1D/2D/3D, ZeroPadding1D/2D/3D,
Cropping1D/2D/3D.

Spatial layers take channels-last data by default (``data_format='channels_first'`` for ``(batch, channels,
...)``), like Keras. Each layer but Flatten states its shape rule in ``compute_output_shape``, so unknown sizes
stay ``None`` in functional models.

>>> import torch
>>> Flatten()(torch.ones(2, 28, 28, 1)).shape
torch.Size([2, 784])
>>> UpSampling2D(2)(torch.ones(1, 3, 4, 5)).shape
torch.Size([1, 6, 8, 5])
>>> Cropping1D((1, 2))(torch.ones(2, 10, 3)).shape
torch.Size([2, 7, 3])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.layers.layer import Layer
from lamina.layers.spec import InputSpec, format_shape

__all__ = [
    "Cropping1D", "Cropping2D", "Cropping3D", "Flatten", "Permute", "RepeatVector", "Reshape", "UpSampling1D",
    "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
]


class Flatten(Layer):
    """Flattens every axis but the batch axis. ``data_format='channels_first'`` flattens in channels-last order,
    so weights keep their meaning when a model switches data format (as in Keras).
    """

    def __init__(self, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = config.standardize_data_format(data_format, "Flatten")  # None: image_data_format()
        self.input_spec = InputSpec(min_ndim=1)
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (without the batch axis; one entry may be -1).

    >>> Reshape((7, 112))(torch.ones(2, 784)).shape
    torch.Size([2, 7, 112])
    """

    def __init__(self, target_shape: tuple, **kwargs: Any):
        super().__init__(**kwargs)
        target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in target_shape) > 1 or any(d < -1 or d == 0 for d in target_shape):
            raise ValueError(
                f"Reshape: target_shape may hold positive sizes and at most one -1; received {target_shape}."
            )
        self.target_shape = target_shape

    def build(self, input_shape: tuple) -> None:
        sample = input_shape[1:]
        if all(d is not None for d in sample):
            size, known = math.prod(sample), math.prod(d for d in self.target_shape if d != -1)
            fits = size % known == 0 if -1 in self.target_shape else size == known
            if not fits:
                raise ValueError(
                    f"Reshape layer '{self.name}' cannot reshape input of shape {format_shape(tuple(input_shape))} "
                    f"({size} values per sample) to target shape {format_shape(self.target_shape)} "
                    f"({known} values per sample). Choose a target shape with {size} values, or use -1 for one axis."
                )
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape(inputs.shape[0], *self.target_shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        sample = input_shape[1:]
        if -1 not in self.target_shape:
            return (input_shape[0], *self.target_shape)
        if any(d is None for d in sample):
            return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))
        known = math.prod(d for d in self.target_shape if d != -1)
        return (input_shape[0], *(math.prod(sample) // known if d == -1 else d for d in self.target_shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}


# ------------------------------------------------------------------ argument helpers of the spatial layers


def _ints(value: int | Sequence[int], rank: int, name: str, owner: str) -> tuple[int, ...]:
    """An int or ``rank`` ints as a tuple of ``rank`` non-negative ints."""
    values = (value,) * rank if isinstance(value, int) else tuple(value)
    if len(values) != rank or not all(isinstance(v, int) and v >= 0 for v in values):
        raise ValueError(f"{owner}: `{name}` must be a non-negative int or a tuple of {rank} of them; "
                         f"received {name}={value!r}.")
    return values


def _pairs(value: Any, rank: int, name: str, owner: str) -> tuple[tuple[int, int], ...]:
    """Keras's forms of per-axis amounts (an int; ``rank`` ints, symmetric; ``rank`` (before, after) pairs)
    as ``rank`` (before, after) pairs. With ``rank == 1`` a plain pair means (before, after)."""
    hint = (f"{owner}: `{name}` must be an int, a tuple of {rank} ints or a tuple of {rank} (before, after) "
            f"pairs of non-negative ints; received {name}={value!r}.")
    if isinstance(value, int):
        pairs = ((value, value),) * rank
    elif rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        pairs = (tuple(value),)
    elif len(value) == rank:
        pairs = tuple((v, v) if isinstance(v, int) else tuple(v) for v in value)
    else:
        raise ValueError(hint)
    if not all(len(p) == 2 and all(isinstance(v, int) and v >= 0 for v in p) for p in pairs):
        raise ValueError(hint)
    return tuple((int(a), int(b)) for a, b in pairs)


def _spatial_axes(rank: int, data_format: str) -> list[int]:
    """Tensor axes of the spatial dimensions for a ``rank``-D layer."""
    return list(range(1, rank + 1)) if data_format == "channels_last" else list(range(2, rank + 2))


class Permute(Layer):
    """Permutes the non-batch axes: ``dims`` numbers them from 1, e.g. ``Permute((2, 1))`` swaps the two axes
    of a sequence batch.

    >>> Permute((2, 1))(torch.ones(4, 10, 64)).shape
    torch.Size([4, 64, 10])
    """

    def __init__(self, dims: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: `dims` must be a permutation of 1..{len(self.dims)} (the batch axis 0 stays "
                             f"first); received dims={dims!r}.")
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.permute(0, *self.dims)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Repeats a batch of vectors ``n`` times: ``(batch, features) -> (batch, n, features)``."""

    def __init__(self, n: int, **kwargs: Any):
        super().__init__(**kwargs)
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"RepeatVector: `n` must be a positive int; received n={n!r}.")
        self.n = n
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.unsqueeze(1).expand(-1, self.n, -1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}


class _UpSampling(Layer):
    """Repeats each step/pixel/voxel ``size[i]`` times along spatial axis i."""

    rank = 0

    def __init__(self, size: int | Sequence[int], data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.size = _ints(size, self.rank, "size", owner)
        if not all(s >= 1 for s in self.size):
            raise ValueError(f"{owner}: `size` must be positive; received size={size!r}.")
        self.data_format = config.standardize_data_format(data_format, owner)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        for axis, s in zip(_spatial_axes(self.rank, self.data_format), self.size, strict=True):
            if s > 1:
                inputs = inputs.repeat_interleave(s, dim=axis)
        return inputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        out = list(input_shape)
        for axis, s in zip(_spatial_axes(self.rank, self.data_format), self.size, strict=True):
            out[axis] = None if out[axis] is None else out[axis] * s
        return tuple(out)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}


class UpSampling1D(_UpSampling):
    """Repeats each time step ``size`` times: ``(batch, steps, features) -> (batch, steps * size, features)``."""

    rank = 1

    def __init__(self, size: int = 2, **kwargs: Any):
        super().__init__(size, **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("data_format")
        return {**config, "size": self.size[0]}


class UpSampling2D(_UpSampling):
    """Scales images up by ``size`` (rows, cols): ``interpolation='nearest'`` repeats pixels; 'bilinear' and
    'bicubic' interpolate with half-pixel centres (``align_corners=False``), as Keras's torch backend does."""

    rank = 2
    _MODES = ("nearest", "bilinear", "bicubic")

    def __init__(self, size: int | Sequence[int] = (2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any):
        super().__init__(size, data_format, **kwargs)
        if interpolation not in self._MODES:
            raise ValueError(f"UpSampling2D: `interpolation` must be one of {self._MODES}; "
                             f"received interpolation={interpolation!r}.")
        self.interpolation = interpolation

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.interpolation == "nearest":
            return super().call(inputs)
        x = inputs if self.data_format == "channels_first" else inputs.movedim(-1, 1)  # (B, C, H, W)
        x = F.interpolate(x, size=(x.shape[2] * self.size[0], x.shape[3] * self.size[1]),
                          mode=self.interpolation, align_corners=False)
        return x if self.data_format == "channels_first" else x.movedim(1, -1)

    def get_config(self) -> dict:
        return {**super().get_config(), "interpolation": self.interpolation}


class UpSampling3D(_UpSampling):
    """Repeats each voxel ``size`` (dim1, dim2, dim3) times."""

    rank = 3

    def __init__(self, size: int | Sequence[int] = (2, 2, 2), data_format: str | None = None, **kwargs: Any):
        super().__init__(size, data_format, **kwargs)


class _SpatialAmounts(Layer):
    """Shared by padding and cropping: (before, after) amounts per spatial axis."""

    rank = 0
    _arg = ""
    _has_data_format = True  # Cropping1D has none (as in Keras): its data are always (batch, steps, features)

    def __init__(self, amounts: Any, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.amounts = _pairs(amounts, self.rank, self._arg, owner)
        self.data_format = config.standardize_data_format(data_format, owner)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def get_config(self) -> dict:
        config = {**super().get_config(), self._arg: self.amounts[0] if self.rank == 1 else self.amounts}
        if self._has_data_format:
            config["data_format"] = self.data_format
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        config = dict(config)
        return cls(config.pop(cls._arg), **config)


class _ZeroPadding(_SpatialAmounts):
    """Pads the spatial axes with zeros."""

    _arg = "padding"

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        pad: list[int] = []  # F.pad wants (before, after) pairs from the last axis backwards
        last = inputs.ndim - 1
        axes = _spatial_axes(self.rank, self.data_format)
        for axis in range(last, axes[0] - 1, -1):
            pad += list(self.amounts[axes.index(axis)]) if axis in axes else [0, 0]
        return F.pad(inputs, pad)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        out = list(input_shape)
        for axis, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self.amounts, strict=True):
            out[axis] = None if out[axis] is None else out[axis] + a + b
        return tuple(out)


class ZeroPadding1D(_ZeroPadding):
    """Adds ``padding`` zeros (an int, or (before, after)) at the start and end of each sequence."""

    rank = 1

    def __init__(self, padding: int | Sequence[int] = 1, data_format: str | None = None, **kwargs: Any):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Adds rows and columns of zeros: ``padding`` is an int, (rows, cols), or ((top, bottom), (left, right)).

    >>> ZeroPadding2D(((1, 0), (2, 3)))(torch.ones(1, 4, 4, 2)).shape
    torch.Size([1, 5, 9, 2])
    """

    rank = 2

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Adds zeros along the three spatial axes: ``padding`` is an int, three ints, or three (before, after) pairs."""

    rank = 3

    def __init__(self, padding: Any = (1, 1, 1), data_format: str | None = None, **kwargs: Any):
        super().__init__(padding, data_format, **kwargs)


class _Cropping(_SpatialAmounts):
    """Removes (before, after) entries from the spatial axes."""

    _arg = "cropping"

    def build(self, input_shape: tuple) -> None:
        for axis, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self.amounts, strict=True):
            size = input_shape[axis] if len(input_shape) == self.rank + 2 else None
            if size is not None and a + b >= size:
                raise ValueError(
                    f"{type(self).__name__} layer '{self.name}' cannot crop {a} + {b} entries from axis {axis} of "
                    f"size {size} (input shape {format_shape(tuple(input_shape))}): at least one entry must "
                    f"remain. Crop less, or check the data format ({self.data_format})."
                )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        index: list[slice] = [slice(None)] * inputs.ndim
        for axis, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self.amounts, strict=True):
            index[axis] = slice(a, inputs.shape[axis] - b)
        return inputs[tuple(index)]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        out = list(input_shape)
        for axis, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self.amounts, strict=True):
            out[axis] = None if out[axis] is None else out[axis] - a - b
        return tuple(out)


class Cropping1D(_Cropping):
    """Crops ``cropping`` (an int, or (start, end)) steps off each sequence."""

    rank = 1
    _has_data_format = False

    def __init__(self, cropping: int | Sequence[int] = (1, 1), **kwargs: Any):
        super().__init__(cropping, **kwargs)


class Cropping2D(_Cropping):
    """Crops rows and columns: ``cropping`` is an int, (rows, cols), or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None, **kwargs: Any):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Crops the three spatial axes: ``cropping`` is an int, three ints, or three (before, after) pairs."""

    rank = 3

    def __init__(self, cropping: Any = ((1, 1), (1, 1), (1, 1)), data_format: str | None = None, **kwargs: Any):
        super().__init__(cropping, data_format, **kwargs)
