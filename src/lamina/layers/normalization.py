"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization.

All follow Keras 3's formulas, weight layouts and defaults (``epsilon=1e-3``; Keras's ``momentum``, the weight
kept of the old moving statistic). The heavy lifting is PyTorch's fused kernels on a channels-first *view* of
the data, so channels-last inputs are never copied just to be normalized.

>>> import torch
>>> BatchNormalization()(torch.ones(4, 3)).shape
torch.Size([4, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina import constraints, initializers, regularizers
from lamina.core import config
from lamina.layers.layer import InputSpec, Layer, format_shape


def _positive_axis(axis: int, ndim: int, layer: Layer, shape: tuple) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{type(layer).__name__} layer '{layer.name}': axis {axis} is out of bounds for input shape "
            f"{format_shape(tuple(shape))} (rank {ndim}). Pass an axis in [-{ndim}, {ndim - 1}]."
        )
    return axis % ndim


def _axes_list(axis: int | Sequence[int]) -> list[int]:
    return [int(axis)] if isinstance(axis, int) else [int(a) for a in axis]


def _known(size: int | None, layer: Layer, axis: int, shape: tuple) -> int:
    if size is None:
        raise ValueError(
            f"{type(layer).__name__} layer '{layer.name}' needs the size of axis {axis} to be known, but received "
            f"input shape {format_shape(tuple(shape))}. Give Input/input_shape a fixed size on that axis."
        )
    return int(size)


class _AffineConfig:
    """Shared configuration of the center/scale (beta/gamma) weights."""

    def _set_affine(self, center: bool, scale: bool, beta_initializer: Any, gamma_initializer: Any,
                    beta_regularizer: Any, gamma_regularizer: Any, beta_constraint: Any,
                    gamma_constraint: Any) -> None:
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def _affine_config(self) -> dict:
        return {"center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}

    def _add_gamma_beta(self, shape: tuple, gamma: bool, beta: bool) -> None:
        # Keras creates gamma before beta; get_weights order follows creation order.
        self.gamma = self.beta = None
        if gamma:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if beta:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)


class BatchNormalization(_AffineConfig, Layer):
    """Normalizes each feature (along ``axis``) with batch statistics in training, moving ones in inference.

    In training (``training=True`` and the layer trainable) the output uses the batch's mean and (biased)
    variance, and the moving statistics become ``moving * momentum + batch * (1 - momentum)``, as in Keras
    (PyTorch's ``momentum`` is ``1 - momentum``). A layer with ``trainable = False`` always runs in inference
    mode and freezes its statistics (Keras 3 semantics, what fine-tuning wants).

    >>> layer = BatchNormalization(axis=1)
    >>> layer(torch.randn(8, 3, 5, 5), training=True).shape, tuple(layer.moving_mean.shape)
    (torch.Size([8, 3, 5, 5]), (3,))
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 moving_mean_initializer: Any = "zeros", moving_variance_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, renorm: bool = False, renorm_clipping: Any = None,
                 renorm_momentum: float = 0.99, synchronized: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"BatchNormalization: `axis` must be an int (the features axis); received {axis!r}.")
        if renorm:
            raise ValueError("BatchNormalization: `renorm=True` (batch renormalization) is not supported by "
                             "lamina; leave it False.")
        if synchronized:
            raise ValueError("BatchNormalization: `synchronized=True` is not supported by lamina; leave it "
                             "False (statistics are per device).")
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self._set_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = float(renorm_momentum)
        self.supports_masking = True

    def build(self, input_shape: tuple) -> None:
        ndim = len(input_shape)
        if ndim < 2:
            raise ValueError(f"BatchNormalization layer '{self.name}' needs inputs of rank >= 2 (batch, ..., "
                             f"features); received input shape {format_shape(tuple(input_shape))}.")
        self._axis = _positive_axis(self.axis, ndim, self, input_shape)
        if self._axis == 0:
            raise ValueError(f"BatchNormalization layer '{self.name}': axis 0 is the batch axis; pass the "
                             "features axis (-1 for channels_last, 1 for channels_first).")
        size = _known(input_shape[self._axis], self, self.axis, input_shape)
        self._add_gamma_beta((size,), self.scale, self.center)
        self.moving_mean = self.add_weight(shape=(size,), initializer=self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=(size,), initializer=self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: size})
        self.built = True

    def call(self, inputs: torch.Tensor, training: bool | None = None, mask: Any = None) -> torch.Tensor:
        x = inputs.movedim(self._axis, 1) if self._axis != 1 else inputs  # (N, C, ...) view
        channels = x.shape[1]
        per_channel = x.numel() // max(channels, 1)
        if not (training and self.trainable):
            out = F.batch_norm(x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                               training=False, eps=self.epsilon)
        elif mask is None and per_channel > 1:
            # One fused pass: PyTorch updates moving_mean exactly as Keras does; its variance update uses the
            # unbiased variance, so it goes into a scratch buffer and is rescaled to Keras's biased one.
            scratch = torch.zeros_like(self.moving_variance)
            out = F.batch_norm(x, self.moving_mean, scratch, self.gamma, self.beta, training=True,
                               momentum=1.0 - self.momentum, eps=self.epsilon)
            with torch.no_grad():
                # scratch = (1 - momentum) * unbiased_var; biased = unbiased * (n - 1) / n
                self.moving_variance.mul_(self.momentum).add_(scratch, alpha=(per_channel - 1) / per_channel)
        else:
            mean, var = self._moments(x, mask)  # (C,), (C,)
            with torch.no_grad():
                self.moving_mean.mul_(self.momentum).add_(mean.detach(), alpha=1.0 - self.momentum)
                self.moving_variance.mul_(self.momentum).add_(var.detach(), alpha=1.0 - self.momentum)
            view = (1, channels) + (1,) * (x.ndim - 2)
            inv = torch.rsqrt(var + self.epsilon)
            if self.gamma is not None:
                inv = inv * self.gamma
            out = (x - mean.view(view)) * inv.view(view)
            if self.beta is not None:
                out = out + self.beta.view(view)
        return out.movedim(1, self._axis) if self._axis != 1 else out

    def _moments(self, x: torch.Tensor, mask: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and biased variance of channels-first ``x``, over the unmasked positions only."""
        dims = [0, *range(2, x.ndim)]
        if mask is None:
            var, mean = torch.var_mean(x, dim=dims, correction=0)
            return mean, var
        if mask.ndim != x.ndim - 1:
            raise ValueError(f"BatchNormalization layer '{self.name}': the mask must have one dimension less "
                             f"than the inputs; received mask shape {tuple(mask.shape)} for inputs of rank "
                             f"{x.ndim}.")
        # The mask covers every axis but the features axis: put a size-1 axis where the features are.
        weights = mask.to(x.dtype).unsqueeze(-1).movedim(-1, self._axis).movedim(self._axis, 1)
        weights = weights.expand_as(x)
        total = weights.sum(dim=dims) + config.epsilon()
        mean = (x * weights).sum(dim=dims) / total
        centered = (x - mean.view(1, -1, *([1] * (x.ndim - 2)))) * weights
        var = centered.square().sum(dim=dims) / total
        return mean, var

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                **self._affine_config(),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "synchronized": False, "renorm": False, "renorm_clipping": self.renorm_clipping,
                "renorm_momentum": self.renorm_momentum}


class LayerNormalization(_AffineConfig, Layer):
    """Normalizes each example over ``axis`` (an int or a list of axes), then scales by gamma and shifts by beta.

    ``rms_scaling=True`` follows Keras 3: the inputs are divided by ``sqrt(variance + epsilon)`` (not centered)
    and multiplied by gamma; there is no beta.

    >>> LayerNormalization()(torch.tensor([[1.0, 3.0]]))
    tensor([[-0.9995,  0.9995]], grad_fn=<NativeLayerNormBackward0>)
    """

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, rms_scaling: bool = False, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", beta_regularizer: Any = None, gamma_regularizer: Any = None,
                 beta_constraint: Any = None, gamma_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.epsilon = float(epsilon)
        self.rms_scaling = bool(rms_scaling)
        self._set_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape: tuple) -> None:
        ndim = len(input_shape)
        self._axes = sorted({_positive_axis(a, ndim, self, input_shape) for a in _axes_list(self.axis)})
        shape = tuple(_known(input_shape[a], self, a, input_shape) for a in self._axes)
        self._trailing = self._axes == list(range(ndim - len(self._axes), ndim))
        self._broadcast = [1] * ndim
        for a, size in zip(self._axes, shape, strict=True):
            self._broadcast[a] = size
        self._add_gamma_beta(shape, self.scale or self.rms_scaling, self.center and not self.rms_scaling)
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        gamma = None if self.gamma is None else self.gamma.view(self._broadcast)
        if self.rms_scaling:
            var = torch.var(inputs, dim=self._axes, correction=0, keepdim=True)
            out = inputs * torch.rsqrt(var + self.epsilon)
            return out if gamma is None else out * gamma
        if self._trailing:  # the fused kernel: gamma/beta already have the normalized shape
            return F.layer_norm(inputs, tuple(inputs.shape[a] for a in self._axes), self.gamma, self.beta,
                                self.epsilon)
        var, mean = torch.var_mean(inputs, dim=self._axes, correction=0, keepdim=True)
        out = (inputs - mean) * torch.rsqrt(var + self.epsilon)
        if gamma is not None:
            out = out * gamma
        if self.beta is not None:
            out = out + self.beta.view(self._broadcast)
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "rms_scaling": self.rms_scaling, **self._affine_config()}


class GroupNormalization(_AffineConfig, Layer):
    """Splits the features axis into ``groups`` and normalizes each example over each group (and all other axes).

    ``groups=-1`` means one group per feature (instance normalization); ``groups=1`` is layer normalization
    over all non-batch axes.

    >>> GroupNormalization(groups=2)(torch.randn(2, 5, 4)).shape
    torch.Size([2, 5, 4])
    """

    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.groups = int(groups)
        self.axis = int(axis)
        self.epsilon = float(epsilon)
        self._set_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape: tuple) -> None:
        ndim = len(input_shape)
        self._axis = _positive_axis(self.axis, ndim, self, input_shape)
        if self._axis == 0:
            raise ValueError(f"GroupNormalization layer '{self.name}': axis 0 is the batch axis; pass the "
                             "features axis.")
        size = _known(input_shape[self._axis], self, self.axis, input_shape)
        groups = size if self.groups == -1 else self.groups
        if groups <= 0 or groups > size or size % groups:
            raise ValueError(
                f"GroupNormalization layer '{self.name}': {size} features (axis {self.axis}) cannot be split "
                f"into groups={self.groups} equal groups. Pick a number of groups that divides {size}."
            )
        self._groups = groups
        self._add_gamma_beta((size,), self.scale, self.center)
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: size})
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs.movedim(self._axis, 1) if self._axis != 1 else inputs  # (N, C, ...) view
        out = F.group_norm(x, self._groups, self.gamma, self.beta, self.epsilon)
        return out.movedim(1, self._axis) if self._axis != 1 else out

    def get_config(self) -> dict:
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                **self._affine_config()}


class UnitNormalization(Layer):
    """Scales each example to unit L2 norm over ``axis`` (an int or a list of axes).

    >>> UnitNormalization()(torch.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.supports_masking = True
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        axes = [_positive_axis(a, inputs.ndim, self, tuple(inputs.shape)) for a in _axes_list(self.axis)]
        square_sum = inputs.square().sum(dim=axes, keepdim=True)
        # x / max(norm, 1e-12), as Keras computes it (x * min(rsqrt(sum of squares), 1e12)).
        return inputs * torch.rsqrt(square_sum).clamp(max=1e12)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}
