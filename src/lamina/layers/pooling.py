"""Pooling layers: max and average pooling over windows, and global pooling over all spatial axes.

Channels-last by default, as in Keras. With ``padding='same'``, max pooling ignores the padding (it pads with
``-inf``) and average pooling averages over the real values only, as in Keras/TensorFlow.

>>> import torch
>>> MaxPooling2D()(torch.ones(2, 28, 28, 8)).shape
torch.Size([2, 14, 14, 8])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.layers.layer import Layer
from lamina.layers.spatial import (
    check_rank,
    check_window_fits,
    pad_same,
    same_padding,
    standardize_padding,
    standardize_tuple,
    to_channels_first,
    to_data_format,
)
from lamina.layers.spec import InputSpec, check_input

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class _Pooling(Layer):
    """Windowed pooling (see ``MaxPooling2D`` and ``AveragePooling2D``)."""

    rank = 2
    mode = "max"

    def __init__(self, pool_size: int | Sequence[int], strides: int | Sequence[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size", owner)
        self.strides = self.pool_size if strides is None else standardize_tuple(strides, self.rank, "strides", owner)
        self.padding = standardize_padding(padding, owner)
        self.data_format = config.standardize_data_format(data_format, owner)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def build(self, input_shape: tuple) -> None:
        check_rank(self, input_shape, self.rank, self.data_format)
        if self.padding == "valid":
            check_window_fits(self, input_shape, self.pool_size, (1,) * self.rank, self.data_format, "pool_size")
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim != self.rank + 2:  # PyTorch would read a missing batch axis as an unbatched input
            check_input(self, inputs)
        x = to_channels_first(inputs, self.data_format)  # (batch, channels, *spatial), a view
        if self.mode == "max":
            if self.padding == "same":
                x, pad = pad_same(x, self.pool_size, self.strides, (1,) * self.rank, value=float("-inf"))
            else:
                pad = 0
            y = _MAX[self.rank](x, self.pool_size, self.strides, pad)
        elif self.padding == "valid":
            y = _AVG[self.rank](x, self.pool_size, self.strides, 0)
        else:
            y = self._average_same(x)
        return to_data_format(y, self.data_format)  # (batch, *out_spatial, channels), a view

    def _average_same(self, x: torch.Tensor) -> torch.Tensor:
        """Average over the real values of each window: padding counts neither in the sum nor in the divisor."""
        pads = [same_padding(n, k, s) for n, k, s in zip(x.shape[2:], self.pool_size, self.strides, strict=True)]
        if all(a == b for a, b in pads):  # PyTorch's own padding can be left out of the divisor
            return _AVG[self.rank](x, self.pool_size, self.strides, tuple(a for a, _ in pads),
                                   count_include_pad=False)
        flat = [p for pair in reversed(pads) for p in pair]
        y = _AVG[self.rank](F.pad(x, flat), self.pool_size, self.strides, 0)  # sum / full window size
        # Real values per window: a product over axes of 1-D counts, shape (*out_spatial,).
        window = 1
        count = torch.ones((), dtype=y.dtype, device=y.device)
        for axis, ((before, _), k, s) in enumerate(zip(pads, self.pool_size, self.strides, strict=True)):
            n, out = x.shape[2 + axis], y.shape[2 + axis]
            start = torch.arange(out, device=y.device) * s - before
            per_axis = (torch.clamp(start + k, max=n) - torch.clamp(start, min=0)).to(y.dtype)
            count = count.unsqueeze(-1) * per_axis
            window *= k
        return y * (window / count)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    """Max over windows of ``pool_size`` steps of ``(batch, steps, channels)``.

    >>> MaxPooling1D(pool_size=2, strides=1, padding="same")(torch.ones(2, 5, 3)).shape
    torch.Size([2, 5, 3])
    """

    rank = 1

    def __init__(self, pool_size: int | Sequence[int] = 2, strides: int | Sequence[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, **kwargs: Any):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(_Pooling):
    """Max over ``pool_size`` windows of ``(batch, height, width, channels)``; ``strides`` default to
    ``pool_size``.

    >>> MaxPooling2D((2, 2))(torch.ones(1, 5, 5, 3)).shape
    torch.Size([1, 2, 2, 3])
    """

    rank = 2

    def __init__(self, pool_size: int | Sequence[int] = (2, 2), strides: int | Sequence[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, **kwargs: Any):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling3D(_Pooling):
    """Max over ``pool_size`` windows of ``(batch, dim1, dim2, dim3, channels)``.

    >>> MaxPooling3D()(torch.ones(1, 4, 4, 4, 2)).shape
    torch.Size([1, 2, 2, 2, 2])
    """

    rank = 3

    def __init__(self, pool_size: int | Sequence[int] = (2, 2, 2), strides: int | Sequence[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, **kwargs: Any):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling):
    """Mean over windows of ``pool_size`` steps; with ``padding='same'`` the padding is not averaged in.

    >>> AveragePooling1D(3, strides=2, padding="same")(torch.ones(2, 6, 3))[0, :, 0]
    tensor([1., 1., 1.])
    """

    rank = 1
    mode = "avg"


class AveragePooling2D(_Pooling):
    """Mean over ``pool_size`` windows of ``(batch, height, width, channels)``.

    >>> AveragePooling2D(2)(torch.ones(1, 4, 4, 3)).shape
    torch.Size([1, 2, 2, 3])
    """

    rank = 2
    mode = "avg"


class AveragePooling3D(_Pooling):
    """Mean over ``pool_size`` windows of ``(batch, dim1, dim2, dim3, channels)``.

    >>> AveragePooling3D(2, padding="same")(torch.ones(1, 3, 3, 3, 2)).shape
    torch.Size([1, 2, 2, 2, 2])
    """

    rank = 3
    mode = "avg"


# ------------------------------------------------------------------------------------ global pooling
class _GlobalPooling(Layer):
    """Pooling over every spatial axis (see ``GlobalAveragePooling2D``)."""

    rank = 2
    mode = "max"

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = config.standardize_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    @property
    def _spatial_axes(self) -> tuple[int, ...]:
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim != self.rank + 2:  # reductions would silently accept any rank
            check_input(self, inputs)
        if self.mode == "max":
            return inputs.amax(dim=self._spatial_axes, keepdim=self.keepdims)
        return inputs.mean(dim=self._spatial_axes, keepdim=self.keepdims)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over the steps axis: ``(batch, steps, channels)`` -> ``(batch, channels)``.

    >>> GlobalMaxPooling1D()(torch.ones(2, 5, 3)).shape
    torch.Size([2, 3])
    """

    rank = 1


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over height and width: ``(batch, h, w, channels)`` -> ``(batch, channels)`` (or ``(batch, 1, 1,
    channels)`` with ``keepdims=True``).

    >>> GlobalMaxPooling2D(keepdims=True)(torch.ones(2, 4, 4, 3)).shape
    torch.Size([2, 1, 1, 3])
    """

    rank = 2


class GlobalMaxPooling3D(_GlobalPooling):
    """Max over the three spatial axes.

    >>> GlobalMaxPooling3D()(torch.ones(2, 3, 3, 3, 4)).shape
    torch.Size([2, 4])
    """

    rank = 3


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps axis; an optional boolean ``mask`` of shape ``(batch, steps)`` leaves steps out.

    >>> GlobalAveragePooling1D()(torch.ones(2, 5, 3), mask=torch.tensor([[1, 1, 0, 0, 0]] * 2)).shape
    torch.Size([2, 3])
    """

    rank = 1
    mode = "avg"

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None  # Keras: the steps the mask covered are averaged away

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None or inputs.ndim != 3:
            return super().call(inputs)
        axis = self._spatial_axes[0]
        keep = mask.to(torch.bool).unsqueeze(2 if self.data_format == "channels_last" else 1)  # broadcastable
        total = torch.where(keep, inputs, 0).sum(dim=axis, keepdim=self.keepdims)
        return total / keep.to(inputs.dtype).sum(dim=axis, keepdim=self.keepdims)


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width: ``(batch, h, w, channels)`` -> ``(batch, channels)``.

    >>> GlobalAveragePooling2D()(torch.ones(2, 4, 4, 3)).shape
    torch.Size([2, 3])
    """

    rank = 2
    mode = "avg"


class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over the three spatial axes.

    >>> GlobalAveragePooling3D(data_format="channels_first")(torch.ones(2, 4, 3, 3, 3)).shape
    torch.Size([2, 4])
    """

    rank = 3
    mode = "avg"


__all__ = [
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPooling1D",
    "MaxPooling2D", "MaxPooling3D",
]
