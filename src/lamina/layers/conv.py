"""Convolution layers: Conv1D/2D/3D, their transposes, depthwise and separable convolutions.

Data is channels-last by default, as in Keras: ``(batch, *spatial, channels)``. The layers run PyTorch's
channels-first kernels on a permuted *view* of the input (no copy), and keep their kernels in PyTorch's layout;
``get_weights``/``set_weights`` speak Keras's layouts.

>>> import torch
>>> Conv2D(8, 3, padding="same")(torch.ones(2, 28, 28, 1)).shape
torch.Size([2, 28, 28, 8])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina import activations, constraints, initializers, regularizers
from lamina.core import config
from lamina.layers.layer import Layer
from lamina.layers.spatial import (
    check_rank,
    check_window_fits,
    pad_same,
    standardize_padding,
    standardize_tuple,
    to_channels_first,
    to_data_format,
)
from lamina.layers.spec import InputSpec, check_input, format_shape

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


# ------------------------------------------------------------------------------------ kernel layouts
# PyTorch keeps a kernel as (out, in, *k) (transposed convs: (in, out, *k)); Keras as (*k, in, out) (transposed:
# (*k, out, in)). Both are the same permutation: the last two axes of one are the first two, swapped, of the other.
def _keras_to_torch(kernel: torch.Tensor) -> torch.Tensor:
    rank = kernel.ndim - 2
    return kernel.permute(rank + 1, rank, *range(rank))


def _torch_to_keras(kernel: torch.Tensor) -> torch.Tensor:
    rank = kernel.ndim - 2
    return kernel.permute(*range(2, rank + 2), 1, 0)


def _depthwise_keras_to_torch(kernel: torch.Tensor) -> torch.Tensor:
    # (*k, in, multiplier) -> (in * multiplier, 1, *k); output channel c * multiplier + m, as in Keras.
    flat = kernel.reshape(*kernel.shape[:-2], -1)
    return flat.movedim(-1, 0).unsqueeze(1)


def _depthwise_torch_to_keras(kernel: torch.Tensor, multiplier: int) -> torch.Tensor:
    flat = kernel.squeeze(1).movedim(0, -1)  # (*k, in * multiplier)
    return flat.reshape(*flat.shape[:-1], -1, multiplier)


class _ConvBase(Layer):
    """Options and helpers shared by every convolution (``rank`` is set by the concrete classes)."""

    rank = 2

    def __init__(self, kernel_size: int | Sequence[int], strides: int | Sequence[int] = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: int | Sequence[int] = 1, activation: Any = None,
                 use_bias: bool = True, bias_initializer: Any = "zeros", bias_regularizer: Any = None,
                 bias_constraint: Any = None, activity_regularizer: Any = None, allow_causal: bool = False,
                 **kwargs: Any):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        owner = type(self).__name__
        self.kernel_size = standardize_tuple(kernel_size, self.rank, "kernel_size", owner)
        self.strides = standardize_tuple(strides, self.rank, "strides", owner)
        self.dilation_rate = standardize_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        self.padding = standardize_padding(padding, owner, allow_causal=allow_causal and self.rank == 1)
        self.data_format = config.standardize_data_format(data_format, owner)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = bias_regularizer
        self.bias_constraint = bias_constraint
        self.input_spec = InputSpec(ndim=self.rank + 2)

    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def _input_channels(self, input_shape: tuple) -> int:
        check_rank(self, input_shape, self.rank, self.data_format)
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' needs the channel axis (axis {self._channel_axis} for "
                f"data_format='{self.data_format}') of its input to be known, but received input shape "
                f"{format_shape(tuple(input_shape))}. Give Input/input_shape a fixed number of channels."
            )
        return int(channels)

    def _add_kernel(self, name: str, keras_shape: tuple[int, ...], initializer: Callable,
                    to_torch: Callable[[torch.Tensor], torch.Tensor], regularizer: Any,
                    constraint: Any) -> torch.Tensor:
        """A kernel kept in PyTorch's layout but initialized in Keras's, so fans (glorot, he) match Keras."""
        torch_shape = tuple(to_torch(torch.empty(keras_shape, device="meta")).shape)

        def init(shape: Any, dtype: Any = None) -> torch.Tensor:
            return to_torch(torch.as_tensor(initializer(keras_shape, dtype=dtype))).contiguous()

        return self.add_weight(shape=torch_shape, initializer=init, regularizer=regularizer, constraint=constraint,
                               name=name)

    def _add_bias(self, size: int) -> None:
        if self.use_bias:
            self.bias = self.add_weight(shape=(size,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")
        else:
            self.bias = None

    def _finish_build(self, channels: int) -> None:
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis: channels})
        self.built = True

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, groups: int) -> torch.Tensor:
        """Convolve a channels-first ``x`` with a PyTorch-layout ``weight`` under this layer's padding rule."""
        kernel = weight.shape[2:]
        if self.padding == "same":
            x, pad = pad_same(x, kernel, self.strides, self.dilation_rate)
        elif self.padding == "causal":  # output[t] sees inputs up to t only: pad the past side by the dilated kernel
            x, pad = F.pad(x, ((kernel[0] - 1) * self.dilation_rate[0], 0)), 0
        else:
            pad = 0
        return _CONV[self.rank](x, weight, bias, self.strides, pad, self.dilation_rate, groups)

    def _activate(self, y: torch.Tensor) -> torch.Tensor:
        """The activation of the convolution's own output ``y`` (channels first), returned in the layer's data
        format. The default ReLU rectifies ``y`` in place before the layout view (on the view, autograd would keep
        its base alive: more memory, not less)."""
        if self.activation is activations.relu:
            return to_data_format(y.relu_(), self.data_format)
        return self.activation(to_data_format(y, self.data_format))

    def _common_config(self) -> dict:
        return {"kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


def _check_filters(owner: str, filters: int) -> int:
    if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
        raise ValueError(f"{owner}: `filters` must be a positive int; received filters={filters!r}.")
    return filters


def _check_no_strided_dilation(owner: str, strides: tuple, dilation_rate: tuple) -> None:
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(f"{owner}: strides > 1 cannot be combined with dilation_rate > 1 (as in Keras); received "
                         f"strides={strides} and dilation_rate={dilation_rate}. Set one of them to 1.")


# ------------------------------------------------------------------------------------ Conv1D/2D/3D
class _Conv(_ConvBase):
    """N-D convolution (see ``Conv2D``)."""

    def __init__(self, filters: int, kernel_size: int | Sequence[int], strides: int | Sequence[int] = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: int | Sequence[int] = 1,
                 groups: int = 1, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, bias_constraint, activity_regularizer,
                         allow_causal=True, **kwargs)
        owner = type(self).__name__
        self.filters = _check_filters(owner, filters)
        if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
            raise ValueError(f"{owner}: `groups` must be a positive int; received groups={groups!r}.")
        if filters % groups:
            raise ValueError(f"{owner}: `filters` must be divisible by `groups`; received filters={filters}, "
                             f"groups={groups}.")
        self.groups = groups
        _check_no_strided_dilation(owner, self.strides, self.dilation_rate)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.kernel_constraint = kernel_constraint

    def build(self, input_shape: tuple) -> None:
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' has groups={self.groups}, which must divide the "
                f"number of input channels, but the input has {channels} channels (input shape "
                f"{format_shape(tuple(input_shape))}). Choose groups that divides {channels}."
            )
        if self.padding == "valid":
            check_window_fits(self, input_shape, self.kernel_size, self.dilation_rate, self.data_format)
        self.kernel = self._add_kernel("kernel", (*self.kernel_size, channels // self.groups, self.filters),
                                       self.kernel_initializer, _keras_to_torch, self.kernel_regularizer,
                                       self.kernel_constraint)
        self._add_bias(self.filters)
        self._finish_build(channels)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim != self.rank + 2:  # PyTorch would read a missing batch axis as an unbatched input
            check_input(self, inputs)
        x = to_channels_first(inputs, self.data_format)  # (batch, in, *spatial), a view
        y = self._conv(x, self.kernel, self.bias, self.groups)  # (batch, filters, *out_spatial)
        return self._activate(y)

    def weight_to_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        return _torch_to_keras(value) if name == "kernel" else value

    def weight_from_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        return _keras_to_torch(value) if name == "kernel" else value

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, **self._common_config(), "groups": self.groups,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint)}


class Conv1D(_Conv):
    """1-D convolution over ``(batch, steps, channels)``; ``padding`` may also be ``'causal'``.

    >>> Conv1D(4, 3, padding="causal", dilation_rate=2)(torch.ones(2, 10, 3)).shape
    torch.Size([2, 10, 4])
    """

    rank = 1


class Conv2D(_Conv):
    """2-D convolution over ``(batch, height, width, channels)`` (``data_format='channels_first'``: channels
    before height). The kernel has Keras's layout ``(kh, kw, in_channels // groups, filters)`` in
    ``get_weights``.

    >>> Conv2D(16, (3, 3), strides=2, padding="same", activation="relu")(torch.ones(1, 32, 32, 3)).shape
    torch.Size([1, 16, 16, 16])
    """

    rank = 2


class Conv3D(_Conv):
    """3-D convolution over ``(batch, dim1, dim2, dim3, channels)``.

    >>> Conv3D(2, 3)(torch.ones(1, 5, 6, 7, 3)).shape
    torch.Size([1, 3, 4, 5, 2])
    """

    rank = 3


# ------------------------------------------------------------------------------------ transposed convolutions
def transpose_crops(kernel: int, stride: int, dilation: int, padding: str,
                    output_padding: int | None) -> tuple[int, int]:
    """How much to cut from each end of the full transposed convolution (length ``(n - 1) * stride +
    effective_kernel``) to get Keras's output; a negative amount at the end means extra zeros there."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":  # the full output, plus output_padding (default: enough to reach n * stride)
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        return 0, -extra
    # 'same': output n * stride by default, else (n - 1) * stride + effective % 2 + output_padding
    total = stride + effective - 2 if output_padding is None else effective + effective % 2 - 2 + output_padding
    before = min((total + 1) // 2, effective - 1)  # padding of the equivalent direct convolution
    return effective - 1 - before, effective - 1 - (total - before)


def transpose_plan(kernel_size: Sequence[int], strides: Sequence[int], dilation_rate: Sequence[int], padding: str,
                   output_padding: Sequence[int] | None) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Arguments for PyTorch's ``conv_transpose``: (padding, output_padding, rest). PyTorch cuts ``padding`` from
    both ends and gives back ``output_padding`` (< max(stride, dilation)) at the end; ``rest`` per axis is what is
    left to cut at the end, usually nothing (never negative while Keras's output_padding < stride holds)."""
    pads, extras, rest = [], [], []
    for k, s, d, op in zip(kernel_size, strides, dilation_rate, output_padding or (None,) * len(strides),
                           strict=True):
        before, after = transpose_crops(k, s, d, padding, op)
        extra = min(max(before - after, 0), max(s, d) - 1)
        pads.append(before)
        extras.append(extra)
        rest.append(after - (before - extra))
    if min(rest) < 0:
        raise ValueError(f"Unsupported transposed convolution: output_padding={output_padding}, strides={strides}.")
    return tuple(pads), tuple(extras), tuple(rest)


class _ConvTranspose(_ConvBase):
    """N-D transposed convolution (see ``Conv2DTranspose``)."""

    def __init__(self, filters: int, kernel_size: int | Sequence[int], strides: int | Sequence[int] = 1,
                 padding: str = "valid", output_padding: int | Sequence[int] | None = None,
                 data_format: str | None = None, dilation_rate: int | Sequence[int] = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, bias_constraint, activity_regularizer, **kwargs)
        owner = type(self).__name__
        self.filters = _check_filters(owner, filters)
        self.output_padding = None
        if output_padding is not None:
            if isinstance(output_padding, int) and not isinstance(output_padding, bool):
                output_padding = (output_padding,) * self.rank
            self.output_padding = tuple(int(p) for p in output_padding)
            if len(self.output_padding) != self.rank or any(
                    not 0 <= p < s for p, s in zip(self.output_padding, self.strides, strict=True)):
                raise ValueError(f"{owner}: `output_padding` must be {self.rank} non-negative ints, each smaller "
                                 f"than the stride {self.strides}; received output_padding={output_padding!r}.")
        _check_no_strided_dilation(owner, self.strides, self.dilation_rate)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.kernel_constraint = kernel_constraint
        self._plan = transpose_plan(self.kernel_size, self.strides, self.dilation_rate, self.padding,
                                    self.output_padding)

    def build(self, input_shape: tuple) -> None:
        channels = self._input_channels(input_shape)
        self.kernel = self._add_kernel("kernel", (*self.kernel_size, self.filters, channels), self.kernel_initializer,
                                       _keras_to_torch, self.kernel_regularizer, self.kernel_constraint)
        self._add_bias(self.filters)
        self._finish_build(channels)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim != self.rank + 2:  # PyTorch would read a missing batch axis as an unbatched input
            check_input(self, inputs)
        x = to_channels_first(inputs, self.data_format)  # (batch, in, *spatial), a view
        pads, extras, rest = self._plan
        exact = not any(rest)
        y = _CONV_T[self.rank](x, self.kernel, self.bias if exact else None, self.strides, pads, extras, 1,
                               self.dilation_rate)  # (batch, filters, *out_spatial)
        if not exact:
            for axis, r in enumerate(rest, start=2):
                y = y.narrow(axis, 0, y.shape[axis] - r)  # a view
            if self.bias is not None:
                y = y + self.bias.view(-1, *([1] * self.rank))
        return self._activate(y)

    def weight_to_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        return _torch_to_keras(value) if name == "kernel" else value

    def weight_from_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        return _keras_to_torch(value) if name == "kernel" else value

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, **self._common_config(),
                "output_padding": self.output_padding,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint)}


class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution ("deconvolution"): upsamples ``steps`` by ``strides``.

    >>> Conv1DTranspose(4, 3, strides=2, padding="same")(torch.ones(2, 10, 3)).shape
    torch.Size([2, 20, 4])
    """

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution. In ``get_weights`` the kernel has Keras's layout ``(kh, kw, filters, in)``.

    >>> Conv2DTranspose(8, 3, strides=2, padding="same")(torch.ones(1, 7, 7, 16)).shape
    torch.Size([1, 14, 14, 8])
    """

    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """3-D transposed convolution.

    >>> Conv3DTranspose(2, 2, strides=2)(torch.ones(1, 3, 3, 3, 4)).shape
    torch.Size([1, 6, 6, 6, 2])
    """

    rank = 3


# ------------------------------------------------------------------------------------ depthwise and separable
class _DepthwiseConv(_ConvBase):
    """Depthwise convolution (see ``DepthwiseConv2D``)."""

    def __init__(self, kernel_size: int | Sequence[int], strides: int | Sequence[int] = 1, padding: str = "valid",
                 depth_multiplier: int = 1, data_format: str | None = None, dilation_rate: int | Sequence[int] = 1,
                 activation: Any = None, use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", depthwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None, bias_constraint: Any = None,
                 **kwargs: Any):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, bias_constraint, activity_regularizer, **kwargs)
        if not isinstance(depth_multiplier, int) or isinstance(depth_multiplier, bool) or depth_multiplier <= 0:
            raise ValueError(f"{type(self).__name__}: `depth_multiplier` must be a positive int; received "
                             f"depth_multiplier={depth_multiplier!r}.")
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = depthwise_regularizer
        self.depthwise_constraint = depthwise_constraint

    def _add_depthwise(self, name: str, channels: int, input_shape: tuple) -> torch.Tensor:
        if self.padding == "valid":
            check_window_fits(self, input_shape, self.kernel_size, self.dilation_rate, self.data_format)
        return self._add_kernel(name, (*self.kernel_size, channels, self.depth_multiplier),
                                self.depthwise_initializer, _depthwise_keras_to_torch, self.depthwise_regularizer,
                                self.depthwise_constraint)

    def build(self, input_shape: tuple) -> None:
        channels = self._input_channels(input_shape)
        self.kernel = self._add_depthwise("kernel", channels, input_shape)
        self._add_bias(channels * self.depth_multiplier)
        self._finish_build(channels)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim != self.rank + 2:  # PyTorch would read a missing batch axis as an unbatched input
            check_input(self, inputs)
        x = to_channels_first(inputs, self.data_format)  # (batch, in, *spatial), a view
        y = self._conv(x, self.kernel, self.bias, groups=x.shape[1])  # (batch, in * multiplier, *out_spatial)
        return self._activate(y)

    def weight_to_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        return _depthwise_torch_to_keras(value, self.depth_multiplier) if name == "kernel" else value

    def weight_from_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        return _depthwise_keras_to_torch(value) if name == "kernel" else value

    def _depthwise_config(self) -> dict:
        return {"depth_multiplier": self.depth_multiplier, **self._common_config(),
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "depthwise_constraint": constraints.serialize(self.depthwise_constraint)}

    def get_config(self) -> dict:
        return {**super().get_config(), **self._depthwise_config()}


class DepthwiseConv1D(_DepthwiseConv):
    """Convolves each input channel with its own ``depth_multiplier`` filters (no mixing across channels).

    >>> DepthwiseConv1D(3, depth_multiplier=2)(torch.ones(2, 10, 4)).shape
    torch.Size([2, 8, 8])
    """

    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """2-D depthwise convolution; the kernel is ``(kh, kw, in_channels, depth_multiplier)`` in ``get_weights``.

    >>> DepthwiseConv2D(3, padding="same")(torch.ones(1, 8, 8, 5)).shape
    torch.Size([1, 8, 8, 5])
    """

    rank = 2


class _SeparableConv(_DepthwiseConv):
    """Depthwise convolution followed by a pointwise (1x1) convolution (see ``SeparableConv2D``)."""

    def __init__(self, filters: int, kernel_size: int | Sequence[int], strides: int | Sequence[int] = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: int | Sequence[int] = 1,
                 depth_multiplier: int = 1, activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", pointwise_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", depthwise_regularizer: Any = None, pointwise_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, depthwise_constraint: Any = None,
                 pointwise_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)
        self.filters = _check_filters(type(self).__name__, filters)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = pointwise_regularizer
        self.pointwise_constraint = pointwise_constraint

    def build(self, input_shape: tuple) -> None:
        channels = self._input_channels(input_shape)
        self.depthwise_kernel = self._add_depthwise("depthwise_kernel", channels, input_shape)
        self.pointwise_kernel = self._add_kernel(
            "pointwise_kernel", (*(1,) * self.rank, channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer, _keras_to_torch, self.pointwise_regularizer, self.pointwise_constraint)
        self._add_bias(self.filters)
        self._finish_build(channels)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim != self.rank + 2:  # PyTorch would read a missing batch axis as an unbatched input
            check_input(self, inputs)
        x = to_channels_first(inputs, self.data_format)  # (batch, in, *spatial), a view
        y = self._conv(x, self.depthwise_kernel, None, groups=x.shape[1])  # (batch, in * multiplier, *out)
        y = _CONV[self.rank](y, self.pointwise_kernel, self.bias)  # (batch, filters, *out)
        return self._activate(y)

    def weight_to_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        if name == "depthwise_kernel":
            return _depthwise_torch_to_keras(value, self.depth_multiplier)
        return _torch_to_keras(value) if name == "pointwise_kernel" else value

    def weight_from_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        if name == "depthwise_kernel":
            return _depthwise_keras_to_torch(value)
        return _keras_to_torch(value) if name == "pointwise_kernel" else value

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
                "pointwise_constraint": constraints.serialize(self.pointwise_constraint)}


class SeparableConv1D(_SeparableConv):
    """1-D separable convolution: a depthwise convolution, then a pointwise one mixing channels.

    >>> SeparableConv1D(8, 3, padding="same")(torch.ones(2, 10, 4)).shape
    torch.Size([2, 10, 8])
    """

    rank = 1


class SeparableConv2D(_SeparableConv):
    """2-D separable convolution; weights are ``[depthwise_kernel, pointwise_kernel, bias]`` as in Keras.

    >>> SeparableConv2D(8, 3, depth_multiplier=2)(torch.ones(1, 9, 9, 4)).shape
    torch.Size([1, 7, 7, 8])
    """

    rank = 2


__all__ = [
    "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "DepthwiseConv1D",
    "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
]
