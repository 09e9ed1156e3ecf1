"""Reshaping layers: Flatten, Reshape.

>>> import torch
>>> Flatten()(torch.ones(2, 28, 28, 1)).shape
torch.Size([2, 784])
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lamina.core import config
from lamina.layers.layer import InputSpec, Layer, format_shape


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
