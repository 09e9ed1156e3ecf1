"""Adaptive pooling: average or max pooling to a fixed ``output_size``, whatever the input's spatial size.

Each output position pools the input positions ``[floor(i * n / out), ceil((i + 1) * n / out))`` along every
spatial axis (PyTorch's ``adaptive_avg_pool``/``adaptive_max_pool`` bins, which Keras 3 uses too). Channels-last
by default, as in Keras.

>>> import torch
>>> AdaptiveAveragePooling2D((2, 3))(torch.ones(4, 7, 9, 5)).shape
torch.Size([4, 2, 3, 5])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.layers.layer import Layer
from lamina.layers.spatial import check_rank, standardize_tuple, to_channels_first, to_data_format
from lamina.layers.spec import InputSpec, check_input

__all__ = ["AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
           "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D"]

_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}


class _AdaptivePooling(Layer):
    """Pooling of ``(batch, *spatial, channels)`` (or channels-first) to ``(batch, *output_size, channels)``."""

    rank = 2
    mode = "avg"

    def __init__(self, output_size: int | Sequence[int], data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.output_size = standardize_tuple(output_size, self.rank, "output_size", owner)
        self.data_format = config.standardize_data_format(data_format, owner)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def build(self, input_shape: tuple) -> None:
        check_rank(self, input_shape, self.rank, self.data_format)
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim != self.rank + 2:  # PyTorch would read a missing batch axis as an unbatched input
            check_input(self, inputs)
        x = to_channels_first(inputs, self.data_format)  # (batch, channels, *spatial), a view
        pool = _AVG[self.rank] if self.mode == "avg" else _MAX[self.rank]
        return to_data_format(pool(x, self.output_size), self.data_format)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = tuple(input_shape)
        if self.data_format == "channels_last":
            return (input_shape[0], *self.output_size, input_shape[-1])
        return (input_shape[0], input_shape[1], *self.output_size)

    def get_config(self) -> dict:
        return {**super().get_config(), "output_size": self.output_size, "data_format": self.data_format}


class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Mean over ``output_size`` adaptive bins of the steps axis: ``(batch, steps, channels)`` ->
    ``(batch, output_size, channels)``.

    >>> AdaptiveAveragePooling1D(3)(torch.arange(6.0).reshape(1, 6, 1))[0, :, 0]
    tensor([0.5000, 2.5000, 4.5000])
    """

    rank = 1


class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Mean over adaptive bins of height and width: ``(batch, h, w, channels)`` -> ``(batch, *output_size,
    channels)``.

    >>> AdaptiveAveragePooling2D(1)(torch.ones(2, 5, 5, 3)).shape
    torch.Size([2, 1, 1, 3])
    """

    rank = 2


class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Mean over adaptive bins of the three spatial axes.

    >>> AdaptiveAveragePooling3D((2, 2, 2))(torch.ones(1, 5, 6, 7, 3)).shape
    torch.Size([1, 2, 2, 2, 3])
    """

    rank = 3


class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Max over ``output_size`` adaptive bins of the steps axis.

    >>> AdaptiveMaxPooling1D(2)(torch.arange(6.0).reshape(1, 6, 1))[0, :, 0]
    tensor([2., 5.])
    """

    rank = 1
    mode = "max"


class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Max over adaptive bins of height and width.

    >>> AdaptiveMaxPooling2D((3, 2), data_format="channels_first")(torch.ones(1, 4, 7, 5)).shape
    torch.Size([1, 4, 3, 2])
    """

    rank = 2
    mode = "max"


class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Max over adaptive bins of the three spatial axes.

    >>> AdaptiveMaxPooling3D(2)(torch.ones(1, 4, 4, 4, 3)).shape
    torch.Size([1, 2, 2, 2, 3])
    """

    rank = 3
    mode = "max"
