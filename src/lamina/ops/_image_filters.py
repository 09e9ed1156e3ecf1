"""Filters, patches, padding and cropping of ``lamina.ops.image``."""

from __future__ import annotations

import builtins
from typing import Any

import torch
import torch.nn.functional as F

from lamina.ops._image_common import (
    compute_dtype,
    depthwise_conv2d,
    from_nchw,
    gaussian_kernel_1d,
    images_tensor,
    pair,
    restore_dtype,
    same_padding,
    to_nchw,
)
from lamina.ops._image_common import data_format as resolve_format
from lamina.ops.dispatch import op


# -------------------------------------------------------------------------------------------- filters
@op
def gaussian_blur(images: Any, kernel_size: Any = (3, 3), sigma: Any = (1.0, 1.0),
                  data_format: str | None = None) -> torch.Tensor:
    """Image(s) blurred by a separable Gaussian of ``kernel_size`` taps and std ``sigma`` (per height, width),
    zero padding, same size. Integer images are filtered in floatx and come back rounded in their dtype
    (Keras's torch backend fails on them)."""
    fmt = resolve_format(data_format)
    x = images_tensor(images)
    kh, kw = (int(k) for k in pair(kernel_size, "kernel_size"))
    sh, sw = pair(sigma, "sigma")
    nchw, batched = to_nchw(x, fmt)
    dtype = compute_dtype(x)
    kernel = (gaussian_kernel_1d(kh, sh, dtype, x.device)[:, None] *
              gaussian_kernel_1d(kw, sw, dtype, x.device)[None, :])
    top, bottom = same_padding(nchw.shape[-2], kh)
    left, right = same_padding(nchw.shape[-1], kw)
    out = depthwise_conv2d(nchw.to(dtype), kernel, (left, right, top, bottom))
    return restore_dtype(from_nchw(out, fmt, batched), x.dtype)


@op
def sobel_edges(images: Any, data_format: str | None = None) -> torch.Tensor:
    """Sobel gradients [dy, dx] of every channel, stacked on a new last axis (zero padding, same size).
    Integer images keep their dtype (with its wrap-around, as Keras's torch backend)."""
    fmt = resolve_format(data_format)
    x = images_tensor(images, ranks=(4,))
    nchw, _ = to_nchw(x, fmt)
    dtype = x.dtype if x.dtype.is_floating_point else torch.float64
    work = nchw.to(dtype)
    ky = torch.tensor([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]], dtype=dtype, device=x.device)
    dy = depthwise_conv2d(work, ky, (1, 1, 1, 1))
    dx = depthwise_conv2d(work, ky.T, (1, 1, 1, 1))
    out = torch.stack([dy, dx], dim=-1)  # (N, C, H, W, 2)
    if fmt == "channels_last":
        out = out.movedim(1, 3)
    if not x.dtype.is_floating_point:
        out = out.to(torch.int64).to(x.dtype)
    return out


@op
def ssim(image1: Any, image2: Any, max_val: float = 1.0, filter_size: int = 11, filter_sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03, data_format: str | None = None) -> torch.Tensor:
    """Structural similarity of two images (Gaussian window of ``filter_size`` taps, 'valid' filtering), the
    mean over pixels and channels: one value per image pair, a scalar for unbatched inputs."""
    fmt = resolve_format(data_format)
    a, b = images_tensor(image1, "image1"), images_tensor(image2, "image2")
    if a.shape != b.shape:
        raise ValueError(f"image1 and image2 must have the same shape. Received: {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    dtype = torch.promote_types(compute_dtype(a), compute_dtype(b))
    x, batched = to_nchw(a.to(dtype), fmt)
    y, _ = to_nchw(b.to(dtype), fmt)
    size = int(filter_size)
    g = gaussian_kernel_1d(size, float(filter_sigma), dtype, x.device)
    kernel = g[:, None] * g[None, :]

    def blur(t: torch.Tensor) -> torch.Tensor:
        return depthwise_conv2d(t, kernel)

    c1 = (k1 * max_val) ** 2
    c2 = (k2 * max_val) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    structure = (2 * cov + c2) / (var_x + var_y + c2)
    value = (luminance * structure).mean(dim=(1, 2, 3))
    return value if batched else value[0]


# -------------------------------------------------------------------------------------------- patches
def _patches(x: torch.Tensor, size: tuple[int, ...], strides: tuple[int, ...], dilation: tuple[int, ...],
             padding: str) -> torch.Tensor:
    """Patches of (N, C, *S) -> (N, *P, prod(size) * C), features ordered (window position..., channel)."""
    spatial = len(size)
    if padding not in ("valid", "same"):
        raise ValueError(f"Invalid padding: expected 'valid' or 'same'. Received: padding={padding}")
    if padding == "same":
        pads: list[int] = []
        for axis in reversed(range(spatial)):
            pads.extend(same_padding(x.shape[2 + axis], size[axis], strides[axis], dilation[axis]))
        x = F.pad(x, pads)
    for axis in range(spatial):
        extent = (size[axis] - 1) * dilation[axis] + 1
        x = x.unfold(2 + axis, extent, strides[axis])  # appends a window axis
        if dilation[axis] > 1:
            x = x[..., ::dilation[axis]]
    # x: (N, C, *P, *window) -> (N, *P, *window, C) -> flatten window and channel
    x = x.movedim(1, -1)
    return x.flatten(1 + spatial)


def _patch_args(value: Any, name: str, n: int) -> tuple[int, ...]:
    return tuple(int(v) for v in pair(value, name, n))


def _extract(images: Any, size: Any, strides: Any, dilation_rate: Any, padding: str, data_format: str | None,
             spatial: int) -> torch.Tensor:
    fmt = resolve_format(data_format)
    x = images_tensor(images, "volumes" if spatial == 3 else "images", ranks=(spatial + 1, spatial + 2))
    size_t = _patch_args(size, "size", spatial)
    strides_t = size_t if strides is None else _patch_args(strides, "strides", spatial)
    dilation_t = _patch_args(dilation_rate, "dilation_rate", spatial)
    nc, batched = to_nchw(x, fmt, spatial)
    out = _patches(nc, size_t, strides_t, dilation_t, padding)
    if fmt == "channels_first":
        out = out.movedim(-1, 1)
    return out if batched else out.squeeze(0)


@op
def extract_patches(images: Any, size: Any, strides: Any = None, dilation_rate: Any = 1, padding: str = "valid",
                    data_format: str | None = None) -> torch.Tensor:
    """Patches of image(s) flattened into the channel axis (patch row, column, channel order); a ``size`` of
    length 3 extracts 3-D patches from volumes (as ``extract_patches_3d``)."""
    spatial = 3 if isinstance(size, (list, tuple)) and len(size) == 3 else 2
    return _extract(images, size, strides, dilation_rate, padding, data_format, spatial)


@op
def extract_patches_3d(volumes: Any, size: Any, strides: Any = None, dilation_rate: Any = 1,
                       padding: str = "valid", data_format: str | None = None) -> torch.Tensor:
    """Patches of volume(s) flattened into the channel axis (patch depth, row, column, channel order)."""
    return _extract(volumes, size, strides, dilation_rate, padding, data_format, 3)


# --------------------------------------------------------------------------------------- pad and crop
def _resolve_two(first: Any, second: Any, target: Any, names: tuple[str, str, str],
                 size: int) -> tuple[int, int]:
    """(first, second) of padding/cropping one axis, exactly two of (first, second, target) given."""
    given = [v is not None for v in (first, second, target)]
    if builtins.sum(given) != 2:
        raise ValueError(f"Must specify exactly two of {', '.join(names)}. Received: {names[0]}={first}, "
                         f"{names[1]}={second}, {names[2]}={target}")
    return first, second


def _int(value: Any) -> int:
    return int(value.item()) if isinstance(value, torch.Tensor) else int(value)


@op
def pad_images(images: Any, top_padding: int | None = None, left_padding: int | None = None,
               bottom_padding: int | None = None, right_padding: int | None = None,
               target_height: int | None = None, target_width: int | None = None,
               data_format: str | None = None) -> torch.Tensor:
    """Image(s) padded with zeros; per axis exactly two of (before, after, target size) are given."""
    fmt = resolve_format(data_format)
    x = images_tensor(images)
    nchw, batched = to_nchw(x, fmt)
    height, width = nchw.shape[-2:]
    pads = []
    for before, after, target, names, extent in (
            (top_padding, bottom_padding, target_height, ("top_padding", "bottom_padding", "target_height"), height),
            (left_padding, right_padding, target_width, ("left_padding", "right_padding", "target_width"), width)):
        _resolve_two(before, after, target, names, extent)
        if before is None:
            before = _int(target) - _int(after) - extent
        elif after is None:
            after = _int(target) - _int(before) - extent
        before, after = _int(before), _int(after)
        for name, value in ((names[0], before), (names[1], after)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0. Received: {name}={value}")
        pads.append((before, after))
    (top, bottom), (left, right) = pads
    out = F.pad(nchw, (left, right, top, bottom))
    return from_nchw(out, fmt, batched)


@op
def crop_images(images: Any, top_cropping: int | None = None, left_cropping: int | None = None,
                bottom_cropping: int | None = None, right_cropping: int | None = None,
                target_height: int | None = None, target_width: int | None = None,
                data_format: str | None = None) -> torch.Tensor:
    """Image(s) cropped; per axis exactly two of (before, after, target size) are given."""
    fmt = resolve_format(data_format)
    x = images_tensor(images)
    nchw, batched = to_nchw(x, fmt)
    height, width = nchw.shape[-2:]
    windows = []
    for before, after, target, names, extent in (
            (top_cropping, bottom_cropping, target_height, ("top_cropping", "bottom_cropping", "target_height"),
             height),
            (left_cropping, right_cropping, target_width, ("left_cropping", "right_cropping", "target_width"),
             width)):
        _resolve_two(before, after, target, names, extent)
        if before is None:
            before = extent - _int(after) - _int(target)
        elif target is None:
            target = extent - _int(before) - _int(after)
        before, target = _int(before), _int(target)
        for name, value in ((names[0], before), (names[1], after)):
            if value is not None and _int(value) < 0:
                raise ValueError(f"{name} must be >= 0. Received: {name}={value}")
        if target < 0:
            raise ValueError(f"{names[2]} must be >= 0. Received: {names[2]}={target}")
        windows.append((before, builtins.max(target, 0)))
    (top, crop_h), (left, crop_w) = windows
    out = nchw[:, :, top:top + crop_h, left:left + crop_w]
    return from_nchw(out, fmt, batched)


__all__ = ["crop_images", "extract_patches", "extract_patches_3d", "gaussian_blur", "pad_images", "sobel_edges",
           "ssim"]
