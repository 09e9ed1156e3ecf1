"""``RMSNormalization``: root-mean-square normalization (Zhang & Sennrich, 2019) with a learned ``scale``.

>>> import torch
>>> RMSNormalization()(torch.tensor([[3.0, 4.0]])).detach()
tensor([[0.8485, 1.1314]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina.layers.layer import Layer, format_shape
from lamina.layers.normalization import _known, _positive_axis

__all__ = ["RMSNormalization"]


class RMSNormalization(Layer):
    """Divides each example by the root mean square of its values over ``axis`` and multiplies by ``scale``.

    ``outputs = inputs * rsqrt(mean(inputs ** 2, axis) + epsilon) * scale``, as in Keras 3. The weight ``scale``
    (initialized to ones) has the shape of the normalized axes. Unlike ``LayerNormalization``, the inputs are not
    centered and there is no offset. Like Keras's layer, it does not pass masks on.

    >>> layer = RMSNormalization(axis=[1, 2])
    >>> layer(torch.ones(2, 3, 4)).shape, tuple(layer.scale.shape)
    (torch.Size([2, 3, 4]), (3, 4))
    """

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 1e-6, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not (isinstance(axis, int) or (
                isinstance(axis, (list, tuple)) and axis and all(isinstance(a, int) for a in axis))):
            raise ValueError(f"RMSNormalization: `axis` must be an int or a list of ints; received axis={axis!r}.")
        self.axis = axis
        self.epsilon = float(epsilon)

    def build(self, input_shape: tuple) -> None:
        input_shape = tuple(input_shape)
        if isinstance(self.axis, int):  # Keras's config shows a list once the layer is built
            self.axis = [self.axis]
        ndim = len(input_shape)
        axes = [_positive_axis(int(a), ndim, self, input_shape) for a in self.axis]
        if len(set(axes)) != len(axes) or 0 in axes:
            raise ValueError(f"RMSNormalization layer '{self.name}': `axis` must name distinct non-batch axes; "
                             f"received axis={self.axis} for input shape {format_shape(input_shape)}.")
        self._axes = sorted(axes)
        shape = tuple(_known(input_shape[a], self, a, input_shape) for a in self._axes)
        self._trailing = self._axes == list(range(ndim - len(self._axes), ndim))
        self._broadcast = [input_shape[a] if a in self._axes else 1 for a in range(ndim)]
        self.scale = self.add_weight(shape=shape, initializer="ones", name="scale")
        self.built = True

    def call(self, x: torch.Tensor) -> torch.Tensor:
        if self._trailing:  # the fused kernel: scale already has the normalized shape
            return F.rms_norm(x, tuple(self.scale.shape), self.scale.to(x.dtype), self.epsilon)
        mean_square = x.square().mean(dim=self._axes, keepdim=True)
        return x * torch.rsqrt(mean_square + self.epsilon) * self.scale.view(self._broadcast).to(x.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
