"""Convolutions of ``keras.ops.nn``: ``conv``, ``conv_transpose``, ``depthwise_conv``, ``separable_conv``.

Inputs are ``(batch, *spatial, channels)`` (``data_format="channels_last"``, the default) or
``(batch, channels, *spatial)``; 1, 2 or 3 spatial axes. Kernels are in Keras's layouts: ``(*k, in, out)`` for
``conv``, ``(*k, out, in)`` for ``conv_transpose``, ``(*k, in, multiplier)`` for ``depthwise_conv``. Padding
``"same"`` follows Keras (TensorFlow's rule): any odd padding pixel goes after. Inputs and kernel compute in
their promoted float dtype (integers in ``floatx()``); Keras's torch backend needs them to match already.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.ops import dtypes
from lamina.ops.dispatch import op, tensor

__all__ = ["conv", "conv_transpose", "depthwise_conv", "separable_conv"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


# ------------------------------------------------------------------------------------ shared helpers
def data_format_of(data_format: str | None) -> str:
    """Keras's ``data_format``: None means ``lamina.config.image_data_format()`` (channels_last by default)."""
    return config.standardize_data_format(data_format)


def as_tuple(value: int | Sequence[int], rank: int, name: str) -> tuple[int, ...]:
    """``3`` -> ``(3,) * rank``; a sequence must hold ``rank`` ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * rank
    out = tuple(int(v) for v in value)
    if len(out) == 1 and rank > 1:
        out = out * rank
    if len(out) != rank:
        raise ValueError(f"`{name}` must be an int or a tuple of {rank} ints; received {value!r}.")
    return out


def padding_of(padding: str) -> str:
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same'; received {padding!r}.")
    return value


def channels_first(x: torch.Tensor, data_format: str) -> torch.Tensor:
    return x if data_format == "channels_first" else x.movedim(-1, 1)


def back_to(y: torch.Tensor, data_format: str) -> torch.Tensor:
    return y if data_format == "channels_first" else y.movedim(1, -1)


def same_pads(sizes: Sequence[int], window: Sequence[int], strides: Sequence[int],
              dilation: Sequence[int]) -> list[tuple[int, int]]:
    """(before, after) padding of each spatial axis for ``"same"``: output size ``ceil(size / stride)``."""
    pads = []
    for n, k, s, d in zip(sizes, window, strides, dilation, strict=True):
        effective = (k - 1) * d + 1
        total = max((-(-n // s) - 1) * s + effective - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def flat_pads(pads: Sequence[tuple[int, int]]) -> list[int]:
    """Per-axis (before, after) pairs as ``F.pad`` takes them (last axis first)."""
    return [p for pair in reversed(pads) for p in pair]


def float_pair(x: Any, kernel: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and kernel as tensors of their promoted float dtype (integers compute in ``floatx()``)."""
    x, kernel = tensor(x), tensor(kernel)
    name = dtypes.promote(x.dtype, kernel.dtype)
    if not dtypes.is_float(name):
        name = dtypes.standardize_dtype(None)
    target = dtypes.to_torch(name)
    return x.to(target), kernel.to(device=x.device, dtype=target)


def _spatial_rank(x: torch.Tensor) -> int:
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"Expected inputs of rank 3, 4 or 5 (batch, spatial..., channels); received shape "
                         f"{tuple(x.shape)}.")
    return rank


def _run_conv(x: torch.Tensor, weight: torch.Tensor, strides: Any, padding: str, dilation_rate: Any,
              groups: int) -> torch.Tensor:
    """A channels-first convolution with Keras's padding; ``weight`` in torch's layout."""
    rank = x.ndim - 2
    strides = as_tuple(strides, rank, "strides")
    dilation = as_tuple(dilation_rate, rank, "dilation_rate")
    window = tuple(weight.shape[2:])
    torch_pad: Any = 0
    if padding_of(padding) == "same":
        pads = same_pads(x.shape[2:], window, strides, dilation)
        if all(a == b for a, b in pads):
            torch_pad = tuple(a for a, _ in pads)
        else:
            x = F.pad(x, flat_pads(pads))
    return _CONV[rank](x, weight, stride=strides, padding=torch_pad, dilation=dilation, groups=groups)


# ------------------------------------------------------------------------------------ ops
@op
def conv(inputs: Any, kernel: Any, strides: int | tuple[int, ...] = 1, padding: str = "valid",
         data_format: str | None = None, dilation_rate: int | tuple[int, ...] = 1) -> torch.Tensor:
    """N-D convolution (1D/2D/3D) with a kernel of shape ``(*k, in_channels / groups, out_channels)``."""
    x, kernel = float_pair(inputs, kernel)
    fmt = data_format_of(data_format)
    rank = _spatial_rank(x)
    if kernel.ndim != rank + 2:
        raise ValueError(f"conv: a kernel of rank {rank + 2} is needed for inputs of shape {tuple(x.shape)}; "
                         f"received kernel shape {tuple(kernel.shape)}.")
    x = channels_first(x, fmt)
    channels, per_group = x.shape[1], kernel.shape[-2]
    if per_group == 0 or channels % per_group:
        raise ValueError(f"conv: the input's {channels} channels are not a multiple of the kernel's input "
                         f"channels {per_group}.")
    weight = kernel.permute(rank + 1, rank, *range(rank))  # (out, in / groups, *k)
    y = _run_conv(x, weight, strides, padding, dilation_rate, channels // per_group)
    return back_to(y, fmt)


@op
def depthwise_conv(inputs: Any, kernel: Any, strides: int | tuple[int, ...] = 1, padding: str = "valid",
                   data_format: str | None = None, dilation_rate: int | tuple[int, ...] = 1) -> torch.Tensor:
    """Depthwise convolution: each input channel convolved with its own ``multiplier`` filters; the kernel is
    ``(*k, in_channels, multiplier)`` and output channel ``c * multiplier + m``."""
    x, kernel = float_pair(inputs, kernel)
    fmt = data_format_of(data_format)
    rank = _spatial_rank(x)
    x = channels_first(x, fmt)
    channels = x.shape[1]
    if kernel.ndim != rank + 2 or kernel.shape[-2] != channels:
        raise ValueError(f"depthwise_conv: expected a kernel of shape (*kernel_size, {channels}, multiplier); "
                         f"received {tuple(kernel.shape)}.")
    weight = kernel.reshape(*kernel.shape[:-2], -1).movedim(-1, 0).unsqueeze(1)  # (in * mult, 1, *k)
    y = _run_conv(x, weight, strides, padding, dilation_rate, channels)
    return back_to(y, fmt)


@op
def separable_conv(inputs: Any, depthwise_kernel: Any, pointwise_kernel: Any, strides: int | tuple[int, ...] = 1,
                   padding: str = "valid", data_format: str | None = None,
                   dilation_rate: int | tuple[int, ...] = 1) -> torch.Tensor:
    """Depthwise convolution followed by a pointwise (1x1) convolution with ``(*ones, in * multiplier, out)``."""
    depthwise = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format, 1)


def transpose_output_length(size: int, kernel: int, stride: int, padding: str, output_padding: int | None,
                            dilation: int) -> int:
    """The length of one spatial axis after a transposed convolution, by Keras's rule."""
    effective = (kernel - 1) * dilation + 1
    if output_padding is None:
        return size * stride + (max(effective - stride, 0) if padding == "valid" else 0)
    pad = effective // 2 if padding == "same" else 0
    return (size - 1) * stride + effective - 2 * pad + output_padding


@op
def conv_transpose(inputs: Any, kernel: Any, strides: int | tuple[int, ...] = 1, padding: str = "valid",
                   output_padding: int | tuple[int, ...] | None = None, data_format: str | None = None,
                   dilation_rate: int | tuple[int, ...] = 1) -> torch.Tensor:
    """Transposed convolution (the gradient of ``conv``) with a kernel of shape ``(*k, out_channels, in_channels)``."""
    x, kernel = float_pair(inputs, kernel)
    fmt = data_format_of(data_format)
    rank = _spatial_rank(x)
    strides = as_tuple(strides, rank, "strides")
    dilation = as_tuple(dilation_rate, rank, "dilation_rate")
    extra = None if output_padding is None else as_tuple(output_padding, rank, "output_padding")
    padding = padding_of(padding)
    x = channels_first(x, fmt)
    if kernel.ndim != rank + 2 or kernel.shape[-1] != x.shape[1]:
        raise ValueError(f"conv_transpose: expected a kernel of shape (*kernel_size, out_channels, {x.shape[1]}); "
                         f"received {tuple(kernel.shape)}.")
    weight = kernel.permute(rank + 1, rank, *range(rank))  # (in, out, *k)
    window = tuple(kernel.shape[:rank])
    full = _CONV_T[rank](x, weight, stride=strides, dilation=dilation)  # every output position, no cropping
    pads = []
    for i in range(rank):
        size, k, s, d = x.shape[2 + i], window[i], strides[i], dilation[i]
        target = transpose_output_length(size, k, s, padding, None if extra is None else extra[i], d)
        # 'same' crops as the forward convolution from the output's size would pad: half before, the odd one after.
        start = max(full.shape[2 + i] - target, 0) // 2 if padding == "same" else 0
        pads.append((-start, target - (full.shape[2 + i] - start)))  # negative pads crop
    if any(p for pair in pads for p in pair):
        full = F.pad(full, flat_pads(pads))
    return back_to(full, fmt)
