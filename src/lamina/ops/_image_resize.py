"""Resampling of ``lamina.ops.image``: resize and scale_and_translate.

``resize``'s bilinear, bicubic and nearest modes are ``torch.nn.functional.interpolate`` (half-pixel centres,
as Keras's torch backend). ``lanczos3``/``lanczos5`` (which Keras's torch backend refuses) follow JAX's
``jax.image.resize``: separable kernel weights from ``scale_and_translate``. ``area`` follows TensorFlow's area
resize: every output pixel is the mean of the input over its footprint, partial pixels weighted by overlap.
"""

from __future__ import annotations

import builtins
from typing import Any

import torch
import torch.nn.functional as F

from lamina.ops._image_common import compute_dtype, from_nchw, images_tensor, restore_dtype, to_nchw
from lamina.ops._image_common import data_format as resolve_format
from lamina.ops.dispatch import op, tensor

_TORCH_MODES = {"bilinear": "bilinear", "bicubic": "bicubic", "nearest": "nearest-exact"}
_RESIZE_MODES = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5", "area")
_KERNELS = {"linear": "triangle", "bilinear": "triangle", "trilinear": "triangle", "triangle": "triangle",
            "cubic": "cubic", "bicubic": "cubic", "tricubic": "cubic", "lanczos3": "lanczos3",
            "lanczos5": "lanczos5"}


# ----------------------------------------------------------------------------------- scale and translate
def _kernel(name: str, x: torch.Tensor) -> torch.Tensor:
    """The resampling kernel ``name`` at distances ``x`` (any sign)."""
    a = torch.abs(x)
    if name == "triangle":
        return torch.clamp(1.0 - a, min=0.0)
    if name == "cubic":  # Keys' cubic convolution kernel with a = -0.5
        inner = (1.5 * a - 2.5) * a * a + 1.0
        outer = ((-0.5 * a + 2.5) * a - 4.0) * a + 2.0
        return torch.where(a < 1.0, inner, torch.where(a < 2.0, outer, torch.zeros_like(a)))
    radius = 3.0 if name == "lanczos3" else 5.0
    return torch.where(a < radius, torch.sinc(x) * torch.sinc(x / radius), torch.zeros_like(a))


def _weights(in_size: int, out_size: int, scale: torch.Tensor, translation: torch.Tensor, kernel: str,
             antialias: bool, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The (in_size, out_size) matrix taking one axis of the input to the output.

    Output pixel ``o`` (centre o + 0.5) samples the input at ``(o + 0.5 - translation) / scale - 0.5``; when
    antialiasing a downscale the kernel is stretched by 1 / scale. Each column is normalised to sum 1, and
    columns whose sample falls outside the input are zero."""
    inv_scale = 1.0 / scale
    sample = (torch.arange(out_size, dtype=dtype, device=device) + 0.5) * inv_scale - translation * inv_scale - 0.5
    stretch = torch.clamp(inv_scale, min=1.0) if antialias else torch.ones_like(inv_scale)
    distance = (sample[None, :] - torch.arange(in_size, dtype=dtype, device=device)[:, None]) / stretch
    w = _kernel(kernel, distance)
    total = w.sum(dim=0, keepdim=True)
    usable = torch.abs(total) > 1000 * torch.finfo(torch.float32).eps
    w = torch.where(usable, w / torch.where(usable, total, torch.ones_like(total)), torch.zeros_like(w))
    inside = (sample >= -0.5) & (sample <= in_size - 0.5)
    return torch.where(inside[None, :], w, torch.zeros_like(w))


def _apply_axis(x: torch.Tensor, axis: int, matrix: torch.Tensor) -> torch.Tensor:
    return (x.movedim(axis, -1) @ matrix.to(x.dtype)).movedim(-1, axis)


@op
def scale_and_translate(images: Any, output_shape: Any, scale: Any, translation: Any, spatial_dims: Any,
                        method: str, antialias: bool = True) -> torch.Tensor:
    """Resample ``images`` to ``output_shape``: input location ``x`` goes to ``x * scale + translation`` along
    each of ``spatial_dims`` (half-pixel centres), with a linear, Keys-cubic or Lanczos kernel; samples outside
    the input are zero. Integer images give integer results (rounded)."""
    if method not in _KERNELS or method == "triangle":
        raise ValueError(f"Invalid value for argument `method`. Expected of one "
                         f"{set(_KERNELS) - {'triangle'}}. Received: method={method}")
    x = tensor(images)
    dtype = compute_dtype(x)
    work = x.to(dtype)
    dims = [int(d) % x.ndim for d in (spatial_dims if isinstance(spatial_dims, (list, tuple)) else [spatial_dims])]
    out_shape = tuple(int(s) for s in output_shape)
    if len(out_shape) != x.ndim:
        raise ValueError(f"output_shape must have one entry per axis of images ({x.ndim}). "
                         f"Received: output_shape={output_shape}")
    for axis in range(x.ndim):
        if axis not in dims and out_shape[axis] != x.shape[axis]:
            raise ValueError(f"output_shape may only differ from images.shape in spatial_dims. "
                             f"Received: output_shape={out_shape}, images.shape={tuple(x.shape)}")
    scales = tensor(scale, device=x.device).to(dtype).reshape(-1)
    shifts = tensor(translation, device=x.device).to(dtype).reshape(-1)
    for i, axis in enumerate(dims):
        matrix = _weights(x.shape[axis], out_shape[axis], scales[i], shifts[i], _KERNELS[method], bool(antialias),
                          dtype, x.device)
        work = _apply_axis(work, axis, matrix)
    return restore_dtype(work, x.dtype)


# ---------------------------------------------------------------------------------------------- resize
def _area_weights(in_size: int, out_size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(in_size, out_size): the share of each input pixel in each output pixel's footprint."""
    step = in_size / out_size
    starts = torch.arange(out_size, dtype=torch.float64, device=device) * step
    ends = starts + step
    left = torch.arange(in_size, dtype=torch.float64, device=device)[:, None]
    overlap = torch.clamp(torch.minimum(ends[None, :], left + 1) - torch.maximum(starts[None, :], left), min=0)
    return (overlap / step).to(dtype)


def _aspect_box(height: int, width: int, target_h: int, target_w: int, grow: bool) -> tuple[int, int, int, int]:
    """The (top, left, box_h, box_w) of the target aspect ratio: the largest window inside the image (crop) or
    the smallest canvas around it (pad), centred."""
    box_h = int(float(width * target_h) / target_w)
    box_w = int(float(height * target_w) / target_h)
    if grow:
        # as Keras: the same margin on both sides, so an odd surplus loses a row/column
        top = int(float(builtins.max(height, box_h) - height) / 2)
        left = int(float(builtins.max(width, box_w) - width) / 2)
        return top, left, height + 2 * top, width + 2 * left
    box_h = builtins.max(builtins.min(height, box_h), 1)
    box_w = builtins.max(builtins.min(width, box_w), 1)
    return int(float(height - box_h) / 2), int(float(width - box_w) / 2), box_h, box_w


@op
def resize(images: Any, size: Any, interpolation: str = "bilinear", antialias: bool = False,
           crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False, fill_mode: str = "constant",
           fill_value: float = 0.0, data_format: str | None = None) -> torch.Tensor:
    """Image(s) resized to ``size`` = (height, width); optionally cropped or padded to the target aspect ratio
    first. Modes: bilinear, nearest, bicubic (torch's interpolate), lanczos3, lanczos5 (JAX's definition),
    area (TensorFlow's). Integer images come back in their dtype, rounded and clipped."""
    if interpolation not in _RESIZE_MODES:
        raise ValueError(f"Invalid value for argument `interpolation`. Expected of one {set(_RESIZE_MODES)}. "
                         f"Received: interpolation={interpolation}")
    if fill_mode != "constant":
        raise ValueError(f"Invalid value for argument `fill_mode`. Only `'constant'` is supported. "
                         f"Received: fill_mode={fill_mode}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be `True`.")
    size = tuple(size)
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers. Received: size={size}")
    target_h, target_w = int(size[0]), int(size[1])
    fmt = resolve_format(data_format)
    x = images_tensor(images)
    nchw, batched = to_nchw(x, fmt)
    height, width = nchw.shape[-2:]
    if crop_to_aspect_ratio:
        top, left, box_h, box_w = _aspect_box(height, width, target_h, target_w, grow=False)
        nchw = nchw[:, :, top:top + box_h, left:left + box_w]
    elif pad_to_aspect_ratio:
        top, left, box_h, box_w = _aspect_box(height, width, target_h, target_w, grow=True)
        if (box_h, box_w) != (height, width):
            nchw = F.pad(nchw, (left, box_w - width - left, top, box_h - height - top), value=float(fill_value))
    dtype = compute_dtype(x)
    work = nchw.to(dtype)
    if interpolation in _TORCH_MODES:
        mode = _TORCH_MODES[interpolation]
        extra = {} if mode == "nearest-exact" else {"align_corners": False, "antialias": bool(antialias)}
        out = F.interpolate(work, size=(target_h, target_w), mode=mode, **extra)
    elif interpolation == "area":
        in_h, in_w = work.shape[-2:]
        out = _apply_axis(work, -2, _area_weights(in_h, target_h, dtype, x.device))
        out = _apply_axis(out, -1, _area_weights(in_w, target_w, dtype, x.device))
    else:
        in_h, in_w = work.shape[-2:]
        out = work
        for axis, n_in, n_out in ((-2, in_h, target_h), (-1, in_w, target_w)):
            scale = torch.tensor(n_out / n_in, dtype=dtype, device=x.device)
            matrix = _weights(n_in, n_out, scale, torch.zeros((), dtype=dtype, device=x.device), interpolation,
                              bool(antialias), dtype, x.device)
            out = _apply_axis(out, axis, matrix)
    return restore_dtype(from_nchw(out, fmt, batched), x.dtype)
