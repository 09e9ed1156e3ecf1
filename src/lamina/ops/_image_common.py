"""What the image ops share: the data format, moving images to (N, C, H, W) and back, Keras's dtype rules for
integer images, Gaussian kernels and depthwise filtering."""

from __future__ import annotations

import builtins
import math
from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config as _config
from lamina.ops import dtypes
from lamina.ops.dispatch import tensor


def data_format(value: str | None) -> str:
    """``value`` checked, or the configured image data format (``lamina.config.image_data_format()``)."""
    if value is None:
        value = _config.image_data_format()
    value = str(value).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first'. Received: data_format={value}")
    return value


def images_tensor(images: Any, name: str = "images", ranks: tuple[int, ...] = (3, 4)) -> torch.Tensor:
    x = tensor(images)
    if x.ndim not in ranks:
        expected = " or ".join(f"{r}D" for r in ranks)
        raise ValueError(f"Invalid {name} rank: expected rank {expected} (unbatched or batched). "
                         f"Received: {name}.shape={tuple(x.shape)}")
    return x


def to_nchw(x: torch.Tensor, fmt: str, spatial: int = 2) -> tuple[torch.Tensor, bool]:
    """``x`` (batched or not, in ``fmt``) as (N, C, *spatial); the flag says whether it had a batch axis."""
    batched = x.ndim == spatial + 2
    if not batched:
        x = x.unsqueeze(0)
    if fmt == "channels_last":
        x = x.movedim(-1, 1)
    return x, batched


def from_nchw(x: torch.Tensor, fmt: str, batched: bool) -> torch.Tensor:
    """The inverse of ``to_nchw``."""
    if fmt == "channels_last":
        x = x.movedim(1, -1)
    return x if batched else x.squeeze(0)


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The float dtype to compute in: the image's own float dtype, else floatx."""
    return x.dtype if x.dtype.is_floating_point else dtypes.to_torch(None)


def restore_dtype(result: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A float result back in the input's dtype: integers are rounded (half to even) and clipped to their range."""
    if result.dtype == dtype:
        return result
    if dtype == torch.bool:
        return result != 0
    if not dtype.is_floating_point and not dtype.is_complex:
        info = torch.iinfo(dtype)
        rounded = torch.round(result)
        if result.dtype.is_floating_point and info.bits >= 32:
            # float32 cannot hold int32's limits exactly; clip in float64 so the cast cannot overflow
            rounded = rounded.double()
        return rounded.clamp(info.min, info.max).to(dtype)
    return result.to(dtype)


def pair(value: Any, name: str, n: int = 2) -> tuple:
    """An int or float (or a sequence of ``n``) as a tuple of ``n``."""
    if isinstance(value, (int, float)):
        return (value,) * n
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    out = tuple(value)
    if len(out) != n:
        raise ValueError(f"{name} must be a number or a sequence of {n}. Received: {name}={value}")
    return out


def gaussian_kernel_1d(size: int, sigma: float | torch.Tensor, dtype: torch.dtype,
                       device: torch.device) -> torch.Tensor:
    """A normalised 1-D Gaussian of ``size`` taps centred on the middle tap."""
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    sigma_t = torch.as_tensor(sigma, dtype=dtype, device=device)
    kernel = torch.exp(-(x * x) / (2 * sigma_t * sigma_t))
    return kernel / kernel.sum()


def depthwise_conv2d(x: torch.Tensor, kernel: torch.Tensor, padding: tuple[int, int, int, int] | None = None,
                     mode: str = "constant") -> torch.Tensor:
    """Filter every channel of ``x`` (N, C, H, W) with the same 2-D ``kernel`` (kh, kw), as cross-correlation.
    ``padding`` is (left, right, top, bottom) for ``F.pad``; None is 'valid'."""
    channels = x.shape[1]
    if padding is not None and builtins.any(padding):
        x = F.pad(x, padding, mode=mode)
    weight = kernel.to(x.dtype).expand(channels, 1, *kernel.shape)
    return F.conv2d(x, weight, groups=channels)


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' padding (before, after) of one axis."""
    out = math.ceil(size / stride)
    extent = (kernel - 1) * dilation + 1
    total = builtins.max((out - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2
