"""Activation layers with parameters: ReLU, LeakyReLU, PReLU, ELU and Softmax (with masks).

>>> import torch
>>> ReLU(max_value=6.0)(torch.tensor([-1.0, 3.0, 9.0]))
tensor([0., 3., 6.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina import activations, constraints, initializers, regularizers
from lamina.layers.layer import InputSpec, Layer, format_shape


def _non_negative(layer: str, name: str, value: Any) -> float:
    if value is None or value < 0:
        raise ValueError(f"{layer}: `{name}` must be a number >= 0; received {name}={value!r}.")
    return float(value)


class ReLU(Layer):
    """Rectified linear unit with Keras's optional cap, leak and threshold:
    ``max_value`` for ``x >= max_value``, ``x`` for ``threshold <= x < max_value``, else
    ``negative_slope * (x - threshold)``.

    >>> ReLU(negative_slope=0.5)(torch.tensor([-2.0, 2.0]))
    tensor([-1.,  2.])
    """

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else _non_negative("ReLU", "max_value", max_value)
        self.negative_slope = _non_negative("ReLU", "negative_slope", negative_slope)
        self.threshold = _non_negative("ReLU", "threshold", threshold)
        self.supports_masking = True
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return activations.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def get_config(self) -> dict:
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """``x`` for ``x >= 0``, ``negative_slope * x`` otherwise (Keras's default slope is 0.3).

    >>> LeakyReLU()(torch.tensor([-1.0, 1.0]))
    tensor([-0.3000,  1.0000])
    """

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any):
        if "alpha" in kwargs:  # the Keras 2 name of the argument, still found in old code and configs
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _non_negative("LeakyReLU", "negative_slope", negative_slope)
        self.supports_masking = True
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Leaky ReLU with a learned slope: ``x`` for ``x >= 0``, ``alpha * x`` otherwise.

    ``alpha`` has the input's shape without the batch axis, with size 1 along each of ``shared_axes``
    (e.g. ``shared_axes=[1, 2]`` for one slope per channel of an image), as in Keras.

    >>> layer = PReLU(shared_axes=[1, 2])
    >>> layer(torch.randn(2, 5, 5, 3)).shape, tuple(layer.alpha.shape)
    (torch.Size([2, 5, 5, 3]), (1, 1, 3))
    """

    def __init__(self, alpha_initializer: Any = "zeros", alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, shared_axes: int | Sequence[int] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            self.shared_axes = [int(shared_axes)] if isinstance(shared_axes, int) else [int(a) for a in shared_axes]
        self.supports_masking = True

    def build(self, input_shape: tuple) -> None:
        ndim = len(input_shape)
        shared = set()
        for a in self.shared_axes or []:
            if not 1 <= a < ndim:
                raise ValueError(
                    f"PReLU layer '{self.name}': shared_axes must name non-batch axes in [1, {ndim - 1}] for "
                    f"input shape {format_shape(tuple(input_shape))}; received shared_axes={self.shared_axes}."
                )
            shared.add(a)
        shape = []
        for i in range(1, ndim):
            if i in shared:
                shape.append(1)
            elif input_shape[i] is None:
                raise ValueError(
                    f"PReLU layer '{self.name}' needs axis {i} to be known (or listed in shared_axes), but "
                    f"received input shape {format_shape(tuple(input_shape))}."
                )
            else:
                shape.append(int(input_shape[i]))
        self.alpha = self.add_weight(shape=tuple(shape), initializer=self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        axes = {i: input_shape[i] for i in range(1, ndim) if i not in shared} if shared else {}
        self.input_spec = InputSpec(ndim=ndim, axes=axes)
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.relu(inputs) - self.alpha * F.relu(-inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint), "shared_axes": self.shared_axes}


class ELU(Layer):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    >>> ELU()(torch.tensor([0.0, 2.0]))
    tensor([0., 2.])
    """

    def __init__(self, alpha: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        self.supports_masking = True
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over ``axis`` (an int or a list of axes normalized together).

    With a mask (True = keep; broadcastable to the inputs), masked positions get a large negative logit before
    the softmax and exactly 0 after it, as in Keras.

    >>> Softmax()(torch.zeros(1, 4), mask=torch.tensor([[True, True, False, False]]))
    tensor([[0.5000, 0.5000, 0.0000, 0.0000]])
    """

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.supports_masking = True
        self.built = True

    def call(self, inputs: torch.Tensor, mask: Any = None) -> torch.Tensor:
        if mask is not None:
            mask = torch.as_tensor(mask, device=inputs.device)
            if mask.ndim > inputs.ndim:
                raise ValueError(
                    f"Softmax layer '{self.name}': the mask must be broadcastable to the inputs and have no more "
                    f"dimensions; received mask shape {tuple(mask.shape)} for inputs of shape "
                    f"{tuple(inputs.shape)}."
                )
            if mask.dtype != torch.bool:
                mask = mask > 0.5
            # float16 cannot hold -1e9; Keras uses -3e4 there.
            large_negative = -3e4 if inputs.dtype == torch.float16 else -1e9
            inputs = torch.where(mask, inputs, torch.full((), large_negative, dtype=inputs.dtype,
                                                          device=inputs.device))
        outputs = activations.softmax(inputs, axis=self.axis if isinstance(self.axis, int) else tuple(self.axis))
        if mask is not None:
            outputs = torch.where(mask, outputs, torch.zeros((), dtype=outputs.dtype, device=outputs.device))
        return outputs

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}
