"""Regularization layers: SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout,
ActivityRegularization.

The random layers act only in training mode (``training=True``, or inside ``fit``); in inference mode they
return their input unchanged. With ``seed=<int>`` a layer draws from its own generator, seeded once, so two
layers made with the same seed produce the same sequence of masks; without a seed they draw from PyTorch's
global generator (``torch.manual_seed`` makes them repeatable).

>>> import torch
>>> x = torch.ones(2, 3)
>>> torch.equal(GaussianNoise(1.0)(x), x)  # inference mode: the identity
True
>>> GaussianNoise(1.0)(x, training=True).shape
torch.Size([2, 3])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from lamina.core import config
from lamina.core.random import SeedGenerator
from lamina.layers.layer import InputSpec, Layer

__all__ = [
    "ActivityRegularization", "AlphaDropout", "GaussianDropout", "GaussianNoise", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D",
]

# SELU's constants: the fixed point whose mean and variance AlphaDropout preserves.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_rate(rate: Any, owner: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError(f"{owner}: `rate` must be a float in [0, 1]; received rate={rate!r}.")
    return float(rate)


def _check_seed(seed: Any, owner: str) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"{owner}: `seed` must be an int or None; received seed={seed!r}.")
    return seed


class _RandomLayer(Layer):
    """A layer that draws random numbers in training mode, from a private seeded generator if given a seed."""

    def __init__(self, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.seed = _check_seed(seed, type(self).__name__)
        self._seed_generator = SeedGenerator(self.seed)
        self.supports_masking = True

    def _gen(self, device: torch.device) -> torch.Generator | None:
        return self._seed_generator.for_device(device)

    def _uniform(self, shape: Sequence[int], like: torch.Tensor) -> torch.Tensor:
        return torch.rand(tuple(shape), generator=self._gen(like.device), dtype=like.dtype, device=like.device)

    def _normal(self, shape: Sequence[int], like: torch.Tensor) -> torch.Tensor:
        return torch.randn(tuple(shape), generator=self._gen(like.device), dtype=like.dtype, device=like.device)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


class _SpatialDropout(_RandomLayer):
    """Dropout of whole channels: one keep/drop draw per (sample, channel), broadcast over the spatial axes;
    kept channels are scaled by ``1 / (1 - rate)``."""

    rank = 0

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        owner = type(self).__name__
        self.rate = _check_rate(rate, owner)
        self.data_format = config.standardize_data_format(data_format, owner)  # None: image_data_format()
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        spatial = (1,) * self.rank
        if self.data_format == "channels_last":
            return (x.shape[0], *spatial, x.shape[-1])
        return (x.shape[0], x.shape[1], *spatial)

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            return torch.zeros_like(inputs)
        keep = (self._uniform(self._noise_shape(inputs), inputs) >= self.rate).to(inputs.dtype)
        return inputs * keep / (1 - self.rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole feature channels of ``(batch, steps, channels)`` sequences (Keras has no data_format here)."""

    rank = 1

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any):
        super().__init__(rate, None, seed, **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("data_format")
        return config


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of ``(batch, rows, cols, channels)`` images (or channels-first)."""

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature volumes of ``(batch, dim1, dim2, dim3, channels)`` data (or channels-first)."""

    rank = 3


class GaussianNoise(_RandomLayer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` in training mode."""

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
            raise ValueError(f"GaussianNoise: `stddev` must be a non-negative float; received stddev={stddev!r}.")
        self.stddev = float(stddev)

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or self.stddev == 0:
            return inputs
        return inputs + self.stddev * self._normal(inputs.shape, inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(_RandomLayer):
    """Multiplies the input by Gaussian noise of mean 1 and standard deviation ``sqrt(rate / (1 - rate))`` in
    training mode (the mean is kept; the variance matches dropout's at the same rate)."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(rate, "GaussianDropout")

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or not 0 < self.rate < 1:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return inputs * (1.0 + stddev * self._normal(inputs.shape, inputs))

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}


class AlphaDropout(_RandomLayer):
    """Dropout for self-normalizing (SELU) networks: dropped entries are set to SELU's negative saturation
    value, then an affine map restores the mean and variance of SELU activations (zero and one)."""

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None, seed: int | None = None,
                 **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(rate, "AlphaDropout")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        shape = inputs.shape if self.noise_shape is None else tuple(
            inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        keep = (self._uniform(shape, inputs) >= self.rate).to(inputs.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (inputs * keep + alpha_p * (1 - keep)) + b

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape}


class ActivityRegularization(Layer):
    """The identity, adding ``(l1 * sum(|x|) + l2 * sum(x**2)) / batch_size`` to the loss on each call (Keras 3
    divides activity penalties by the batch size).

    The penalty of the latest call is kept in ``layer.losses`` until the trainer takes it into the step's loss.

    >>> layer = ActivityRegularization(l1=0.5)
    >>> _ = layer(torch.tensor([[1.0, -3.0], [2.0, 0.0]]))
    >>> layer.losses
    [tensor(1.5000)]
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        for name, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"ActivityRegularization: `{name}` must be a non-negative float; received "
                                 f"{name}={value!r}.")
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.supports_masking = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.is_meta:  # shape inference: no penalty to record
            return inputs
        # A fresh call replaces the previous penalty, so repeated inference calls do not pile up losses.
        self._added_losses.clear()
        penalty = torch.zeros((), dtype=inputs.dtype, device=inputs.device)
        if self.l1:
            penalty = penalty + self.l1 * inputs.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * inputs.square().sum()
        batch = inputs.shape[0] if inputs.ndim > 0 else 1
        self.add_loss(penalty / batch if batch else penalty)
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
