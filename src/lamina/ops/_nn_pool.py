"""Pooling and patch ops of ``keras.ops.nn``: ``max_pool``, ``average_pool``, the adaptive pools, ``fold``,
``unfold``, ``depth_to_space`` and ``space_to_depth``.

``"same"`` pooling follows Keras's definition (TensorFlow's): max pooling ignores the padding and average
pooling divides by the number of real elements in each window. (Keras's torch backend pads asymmetric
windows by replicating edge values, which changes averages at the far edge; lamina does not.)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamina.ops._nn_conv import as_tuple, back_to, channels_first, data_format_of, flat_pads, padding_of, same_pads
from lamina.ops.dispatch import op, tensor, to_float

__all__ = ["adaptive_average_pool", "adaptive_max_pool", "average_pool", "depth_to_space", "fold", "max_pool",
           "space_to_depth", "unfold"]

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
_ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
_ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}


def _pool_setup(inputs: Any, pool_size: Any, strides: Any, padding: str, data_format: str | None,
                as_float: bool) -> tuple[torch.Tensor, str, tuple, tuple, list | None]:
    x = to_float(inputs) if as_float else tensor(inputs)
    fmt = data_format_of(data_format)
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"Pooling takes inputs of rank 3, 4 or 5; received shape {tuple(x.shape)}.")
    window = as_tuple(pool_size, rank, "pool_size")
    steps = window if strides is None else as_tuple(strides, rank, "strides")
    x = channels_first(x, fmt)
    pads = same_pads(x.shape[2:], window, steps, (1,) * rank) if padding_of(padding) == "same" else None
    return x, fmt, window, steps, pads


@op
def max_pool(inputs: Any, pool_size: int | tuple[int, ...], strides: int | tuple[int, ...] | None = None,
             padding: str = "valid", data_format: str | None = None) -> torch.Tensor:
    """Max pooling over 1, 2 or 3 spatial axes; ``strides`` defaults to ``pool_size``."""
    x, fmt, window, steps, pads = _pool_setup(inputs, pool_size, strides, padding, data_format, False)
    if not x.dtype.is_floating_point:  # torch pools floats only; integers are exact through float64
        y = max_pool(x.to(torch.float64), window, steps, padding, "channels_first")
        return back_to(y.to(x.dtype), fmt)
    if pads is not None and any(p for pair in pads for p in pair):
        x = F.pad(x, flat_pads(pads), value=float("-inf"))
    return back_to(_MAX[x.ndim - 2](x, window, steps), fmt)


@op
def average_pool(inputs: Any, pool_size: int | tuple[int, ...], strides: int | tuple[int, ...] | None = None,
                 padding: str = "valid", data_format: str | None = None) -> torch.Tensor:
    """Average pooling over 1, 2 or 3 spatial axes; with ``"same"`` each window averages its real elements."""
    x, fmt, window, steps, pads = _pool_setup(inputs, pool_size, strides, padding, data_format, True)
    pool = _AVG[x.ndim - 2]
    if pads is None or not any(p for pair in pads for p in pair):
        return back_to(pool(x, window, steps), fmt)
    if all(a == b for a, b in pads):
        y = pool(x, window, steps, padding=tuple(a for a, _ in pads), count_include_pad=False)
        return back_to(y, fmt)
    flat = flat_pads(pads)
    ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
    share = pool(F.pad(ones, flat), window, steps)  # the fraction of each window that is real
    return back_to(pool(F.pad(x, flat), window, steps) / share, fmt)


def _adaptive(inputs: Any, output_size: Any, data_format: str | None, table: dict) -> torch.Tensor:
    x = to_float(inputs)
    fmt = data_format_of(data_format)
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"Adaptive pooling takes inputs of rank 3, 4 or 5; received shape {tuple(x.shape)}.")
    size = as_tuple(output_size, rank, "output_size")
    y = table[rank](channels_first(x, fmt), size if rank > 1 else size[0])
    return back_to(y, fmt)


@op
def adaptive_average_pool(inputs: Any, output_size: int | tuple[int, ...],
                          data_format: str | None = None) -> torch.Tensor:
    """Average pooling to a fixed spatial ``output_size`` (windows chosen from the input size, as in PyTorch)."""
    return _adaptive(inputs, output_size, data_format, _ADAPTIVE_AVG)


@op
def adaptive_max_pool(inputs: Any, output_size: int | tuple[int, ...], data_format: str | None = None) -> torch.Tensor:
    """Max pooling to a fixed spatial ``output_size`` (windows chosen from the input size, as in PyTorch)."""
    return _adaptive(inputs, output_size, data_format, _ADAPTIVE_MAX)


# ------------------------------------------------------------------------------------ patches
@op
def unfold(x: Any, kernel_size: int | tuple[int, int], dilation: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0, stride: int | tuple[int, int] = 1) -> torch.Tensor:
    """Sliding blocks of a channels-first ``(N, C, H, W)`` image as ``(N, C * kH * kW, L)`` (im2col)."""
    x = tensor(x)
    if not x.dtype.is_floating_point:  # torch's im2col is float-only; integers are exact through float64
        return unfold(x.to(torch.float64), kernel_size, dilation, padding, stride).to(x.dtype)
    return F.unfold(x, kernel_size, dilation=dilation, padding=padding, stride=stride)


@op
def fold(x: Any, output_size: int | tuple[int, int], kernel_size: int | tuple[int, int],
         dilation: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
         stride: int | tuple[int, int] = 1) -> torch.Tensor:
    """Sums sliding blocks ``(N, C * kH * kW, L)`` back into a ``(N, C, *output_size)`` image (col2im)."""
    x = tensor(x)
    if not x.dtype.is_floating_point:
        return fold(x.to(torch.float64), output_size, kernel_size, dilation, padding, stride).to(x.dtype)
    return F.fold(x, as_tuple(output_size, 2, "output_size"), kernel_size, dilation=dilation, padding=padding,
                  stride=stride)


def _block_layout(x: torch.Tensor, block_size: int, data_format: str, name: str) -> str:
    fmt = data_format_of(data_format)
    if x.ndim != 4:
        raise ValueError(f"{name} takes 4-D inputs; received shape {tuple(x.shape)}.")
    if not isinstance(block_size, int) or block_size < 2:
        raise ValueError(f"{name}: block_size must be an int >= 2; received {block_size!r}.")
    return fmt


@op
def depth_to_space(x: Any, block_size: int, data_format: str = "channels_last") -> torch.Tensor:
    """Moves depth blocks into ``block_size x block_size`` spatial blocks (channels_last: depth index
    ``(row * block + col) * C + c``; channels_first: ``c * block**2 + row * block + col``, as Keras)."""
    x = tensor(x)
    fmt = _block_layout(x, block_size, data_format, "depth_to_space")
    b = block_size
    if fmt == "channels_first":
        n, c, h, w = x.shape
        y = x.reshape(n, c // (b * b), b, b, h, w).permute(0, 1, 4, 2, 5, 3)
        return y.reshape(n, c // (b * b), h * b, w * b)
    n, h, w, c = x.shape
    y = x.reshape(n, h, w, b, b, c // (b * b)).permute(0, 1, 3, 2, 4, 5)
    return y.reshape(n, h * b, w * b, c // (b * b))


@op
def space_to_depth(x: Any, block_size: int, data_format: str = "channels_last") -> torch.Tensor:
    """The inverse of ``depth_to_space``: ``block_size x block_size`` spatial blocks become depth."""
    x = tensor(x)
    fmt = _block_layout(x, block_size, data_format, "space_to_depth")
    b = block_size
    if fmt == "channels_first":
        n, c, h, w = x.shape
        y = x.reshape(n, c, h // b, b, w // b, b).permute(0, 1, 3, 5, 2, 4)
        return y.reshape(n, c * b * b, h // b, w // b)
    n, h, w, c = x.shape
    y = x.reshape(n, h // b, b, w // b, b, c).permute(0, 1, 3, 2, 4, 5)
    return y.reshape(n, h // b, w // b, c * b * b)
