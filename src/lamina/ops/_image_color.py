"""Colour-space conversions of ``lamina.ops.image``: grayscale, RGB <-> HSV."""

from __future__ import annotations

from typing import Any

import torch

from lamina.ops._image_common import compute_dtype, images_tensor
from lamina.ops._image_common import data_format as resolve_format
from lamina.ops.dispatch import op

_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)


def _channel_axis(x: torch.Tensor, fmt: str) -> int:
    return -1 if fmt == "channels_last" else -3


@op
def rgb_to_grayscale(images: Any, data_format: str | None = None) -> torch.Tensor:
    """Grayscale of RGB image(s) (ITU-R 601 weights), one channel kept; integer images stay integer (truncated)."""
    fmt = resolve_format(data_format)
    x = images_tensor(images)
    axis = _channel_axis(x, fmt)
    if x.shape[axis] != 3:
        raise ValueError(f"rgb_to_grayscale expects 3 channels. Received: images.shape={tuple(x.shape)}")
    dtype = compute_dtype(x)
    weights = torch.tensor(_GRAY_WEIGHTS, dtype=dtype, device=x.device)
    shape = [1] * x.ndim
    shape[axis] = 3
    gray = (x.to(dtype) * weights.reshape(shape)).sum(dim=axis, keepdim=True)
    # Keras casts the weighted sum straight back: integer images are truncated, not rounded
    return gray if gray.dtype == x.dtype else gray.to(x.dtype)


def _float_images(images: Any, name: str) -> torch.Tensor:
    x = images_tensor(images)
    if not x.dtype.is_floating_point:
        raise ValueError(f"Invalid images dtype: expected float dtype. Received: images.dtype="
                         f"{str(x.dtype).replace('torch.', '')}")
    return x



@op
def rgb_to_hsv(images: Any, data_format: str | None = None) -> torch.Tensor:
    """HSV of float RGB image(s) in [0, 1]; hue in [0, 1) (0 red, 1/3 green, 2/3 blue)."""
    fmt = resolve_format(data_format)
    x = _float_images(images, "rgb_to_hsv")
    axis = _channel_axis(x, fmt)
    r, g, b = x.unbind(axis)
    value = torch.maximum(torch.maximum(r, g), b)
    minimum = torch.minimum(torch.minimum(r, g), b)
    spread = value - minimum
    safe_value = torch.where(value > 0, value, torch.ones_like(value))
    saturation = torch.where(value > 0, spread / safe_value, torch.zeros_like(value))
    safe_spread = torch.where(spread > 0, spread, torch.ones_like(spread))
    norm = 1.0 / (6.0 * safe_spread)
    hue = torch.where(r == value, norm * (g - b),
                      torch.where(g == value, norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0))
    hue = torch.where(spread > 0, hue, torch.zeros_like(hue))
    hue = torch.where(hue < 0, hue + 1.0, hue)
    return torch.stack([hue, saturation, value], dim=axis)


@op
def hsv_to_rgb(images: Any, data_format: str | None = None) -> torch.Tensor:
    """RGB of float HSV image(s) with all channels in [0, 1]."""
    fmt = resolve_format(data_format)
    x = _float_images(images, "hsv_to_rgb")
    axis = _channel_axis(x, fmt)
    h, s, v = x.unbind(axis)
    sector = h * 6.0
    red = torch.clamp(torch.abs(sector - 3.0) - 1.0, 0.0, 1.0)
    green = torch.clamp(2.0 - torch.abs(sector - 2.0), 0.0, 1.0)
    blue = torch.clamp(2.0 - torch.abs(sector - 4.0), 0.0, 1.0)
    grey = 1.0 - s
    return torch.stack([(grey + s * red) * v, (grey + s * green) * v, (grey + s * blue) * v], dim=axis)
