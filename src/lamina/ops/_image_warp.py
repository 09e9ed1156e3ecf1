"""Geometric warps of ``lamina.ops.image``: map_coordinates, affine, perspective and elastic transforms.

All of them sample with one gather-based interpolator (nearest or linear, any number of dimensions) whose
out-of-range policy works on integer indices, as ``scipy.ndimage``/``jax.scipy.ndimage`` define the fill modes.
Gradients flow to the sampled values and, through the linear weights, to the coordinates.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import torch

from lamina.ops._image_common import (
    compute_dtype,
    depthwise_conv2d,
    from_nchw,
    gaussian_kernel_1d,
    images_tensor,
    restore_dtype,
    to_nchw,
)
from lamina.ops._image_common import data_format as resolve_format
from lamina.ops.dispatch import op, tensor

_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
_INTERPOLATIONS = {"nearest": 0, "bilinear": 1}


def _fix_index(index: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """An integer index mapped into [0, size) by the fill mode (constant mode clips; validity is checked apart)."""
    if mode in ("constant", "nearest"):
        return index.clamp(0, size - 1)
    if mode == "wrap":
        return torch.remainder(index, size)
    if mode == "mirror":  # (d c b | a b c d | c b a): period 2 (size - 1), edges not repeated
        if size == 1:
            return torch.zeros_like(index)
        period = 2 * (size - 1)
        folded = torch.remainder(index, period)
        return torch.where(folded < size, folded, period - folded)
    # reflect: (d c b a | a b c d | d c b a): period 2 size, edges repeated
    period = 2 * size
    folded = torch.remainder(index, period)
    return torch.where(folded < size, folded, period - 1 - folded)


def sample(source: torch.Tensor, coords: list[torch.Tensor], order: int, fill_mode: str,
           fill_value: float) -> torch.Tensor:
    """Interpolate ``source`` (B, *S, C) at ``coords`` (one (B, *P) tensor per spatial axis of S) -> (B, *P, C).

    ``order`` 0 takes the nearest sample (ties to even), 1 interpolates linearly; ``fill_mode`` places indices
    outside the input (``constant``: such samples count as ``fill_value``)."""
    if fill_mode not in _FILL_MODES:
        raise ValueError(f"Invalid value for argument `fill_mode`. Expected one of {set(_FILL_MODES)}. "
                         f"Received: fill_mode={fill_mode}")
    if order not in (0, 1):
        raise NotImplementedError(f"map_coordinates only supports order 0 or 1. Received: order={order}")
    batch, channels = source.shape[0], source.shape[-1]
    spatial = source.shape[1:-1]
    flat = source.reshape(batch, -1, channels)
    point_shape = coords[0].shape[1:]
    nodes_per_axis = []
    for c in coords:
        if order == 0:
            nodes_per_axis.append([(torch.round(c).to(torch.int64), None)])
        else:
            low = torch.floor(c)
            frac = c - low
            low = low.to(torch.int64)
            nodes_per_axis.append([(low, 1 - frac), (low + 1, frac)])
    strides = [math.prod(spatial[i + 1:]) for i in range(len(spatial))]
    result = None
    combos: list[list[tuple[torch.Tensor, torch.Tensor | None]]] = [[]]
    for nodes in nodes_per_axis:
        combos = [combo + [node] for combo in combos for node in nodes]
    for combo in combos:
        flat_index = torch.zeros((), dtype=torch.int64, device=source.device)
        valid = None
        weight = None
        for axis, (index, w) in enumerate(combo):
            size = spatial[axis]
            flat_index = flat_index + _fix_index(index, size, fill_mode) * strides[axis]
            if fill_mode == "constant":
                ok = (index >= 0) & (index < size)
                valid = ok if valid is None else valid & ok
            if w is not None:
                weight = w if weight is None else weight * w
        flat_index = flat_index.expand(batch, *point_shape).reshape(batch, -1, 1).expand(-1, -1, channels)
        values = torch.gather(flat, 1, flat_index).reshape(batch, *point_shape, channels)
        if valid is not None:
            fill = torch.as_tensor(fill_value, dtype=values.dtype, device=values.device)
            values = torch.where(valid.expand(batch, *point_shape).unsqueeze(-1), values, fill)
        if weight is not None:
            values = values * weight.unsqueeze(-1).to(values.dtype)
        result = values if result is None else result + values
    return result


@op
def map_coordinates(inputs: Any, coordinates: Any, order: int, fill_mode: str = "constant",
                    fill_value: float = 0) -> torch.Tensor:
    """``inputs`` interpolated at ``coordinates`` (one array per input axis), order 0 (nearest) or 1 (linear).

    Fill modes as in Keras: constant, nearest, wrap, mirror, reflect. Integer inputs give integer results
    (rounded half to even)."""
    x = tensor(inputs)
    if isinstance(coordinates, (list, tuple)) and not isinstance(coordinates, torch.Tensor):
        coords = [tensor(c, device=x.device) for c in coordinates]
    else:
        coords = list(tensor(coordinates).unbind(0))
    if len(coords) != x.ndim:
        raise ValueError("First dim of `coordinates` must be the same as the rank of `inputs`. "
                         f"Received inputs with shape: {tuple(x.shape)} and coordinate leading dim of {len(coords)}")
    dtype = compute_dtype(x)
    coords = [c.to(x.device, dtype) for c in coords]
    shape = torch.broadcast_shapes(*(c.shape for c in coords))
    coords = [c.expand(shape).unsqueeze(0) for c in coords]
    out = sample(x.to(dtype).unsqueeze(0).unsqueeze(-1), coords, int(order), fill_mode, fill_value)
    return restore_dtype(out.reshape(shape), x.dtype)


def _working_dtype(x: torch.Tensor) -> torch.dtype:
    """Warps sample in float32 at least (half precision coordinates lose whole pixels), float64 for float64."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _warp(x: torch.Tensor, fmt: str, coords_fn: Any, interpolation: str, fill_mode: str,
          fill_value: float) -> torch.Tensor:
    """Resample image(s) ``x``: ``coords_fn(batch, height, width, dtype, device)`` gives (rows, cols) in the
    input for every output pixel, each (N, H, W)."""
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"Invalid value for argument `interpolation`. Expected of one {set(_INTERPOLATIONS)}. "
                         f"Received: interpolation={interpolation}")
    nchw, batched = to_nchw(x, fmt)
    work = _working_dtype(x)
    source = nchw.to(work).movedim(1, -1)  # (N, H, W, C)
    n, h, w = source.shape[:3]
    rows, cols = coords_fn(n, h, w, work, x.device)
    out = sample(source, [rows, cols], _INTERPOLATIONS[interpolation], fill_mode, fill_value)
    out = from_nchw(out.movedim(-1, 1), fmt, batched)
    return restore_dtype(out, x.dtype)


def _projective_coords(transform: torch.Tensor) -> Any:
    def coords(n: int, h: int, w: int, dtype: torch.dtype, device: torch.device) -> tuple:
        t = transform.to(device, dtype)
        if t.shape[0] not in (1, n):
            raise ValueError(f"transform has {t.shape[0]} rows for a batch of {n} images.")
        t = t.expand(n, 8)
        ys = torch.arange(h, dtype=dtype, device=device).reshape(1, h, 1)
        xs = torch.arange(w, dtype=dtype, device=device).reshape(1, 1, w)
        a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, i].reshape(n, 1, 1) for i in range(8))
        k = c0 * xs + c1 * ys + 1
        cols = (a0 * xs + a1 * ys + a2) / k
        rows = (b0 * xs + b1 * ys + b2) / k
        return rows, cols
    return coords


def _transform_rows(transform: Any) -> torch.Tensor:
    t = tensor(transform)
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise ValueError(f"Invalid transform shape: expected (8,) or (N, 8). Received: transform.shape="
                         f"{tuple(t.shape)}")
    if not t.dtype.is_floating_point:
        t = t.to(torch.float32)
    return t.reshape(-1, 8)


@op
def affine_transform(images: Any, transform: Any, interpolation: str = "bilinear", fill_mode: str = "constant",
                     fill_value: float = 0, data_format: str | None = None) -> torch.Tensor:
    """Image(s) resampled by the inverse projective ``transform`` [a0 a1 a2 b0 b1 b2 c0 c1] (N x 8 or 8).

    Output pixel (x, y) reads the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1.
    Unlike Keras's torch backend, one transform of shape (8,) also applies to a whole batch."""
    fmt = resolve_format(data_format)
    x = images_tensor(images)
    return _warp(x, fmt, _projective_coords(_transform_rows(transform)), interpolation, fill_mode, fill_value)



def _perspective_rows(start_points: torch.Tensor, end_points: torch.Tensor) -> torch.Tensor:
    """The (N, 8) inverse transforms taking each output (end) point to its input (start) point."""
    s = start_points.reshape(-1, 4, 2)
    e = end_points.reshape(-1, 4, 2)
    s, e = torch.broadcast_tensors(s, e)
    xs, ys = s[..., 0], s[..., 1]
    xe, ye = e[..., 0], e[..., 1]
    zero, one = torch.zeros_like(xe), torch.ones_like(xe)
    # x_s (c0 x_e + c1 y_e + 1) = a0 x_e + a1 y_e + a2, and the same for y_s with b0, b1, b2
    row_x = torch.stack([xe, ye, one, zero, zero, zero, -xe * xs, -ye * xs], dim=-1)
    row_y = torch.stack([zero, zero, zero, xe, ye, one, -xe * ys, -ye * ys], dim=-1)
    system = torch.cat([row_x, row_y], dim=1)  # (N, 8, 8)
    rhs = torch.cat([xs, ys], dim=1).unsqueeze(-1)
    return torch.linalg.solve(system, rhs).squeeze(-1)


@op
def perspective_transform(images: Any, start_points: Any, end_points: Any, interpolation: str = "bilinear",
                          fill_value: float = 0, data_format: str | None = None) -> torch.Tensor:
    """Image(s) warped so that ``start_points`` (4 (x, y) corners, or N x 4) land on ``end_points``."""
    fmt = resolve_format(data_format)
    x = images_tensor(images)
    start, end = tensor(start_points), tensor(end_points)
    for name, p in (("start_points", start), ("end_points", end)):
        if p.ndim not in (2, 3) or tuple(p.shape[-2:]) != (4, 2):
            raise ValueError(f"Invalid {name} shape: expected (4, 2) or (N, 4, 2). Received: {tuple(p.shape)}")
    rows = _perspective_rows(start.to(torch.float64), end.to(torch.float64))
    return _warp(x, fmt, _projective_coords(rows), interpolation, "constant", fill_value)


def _generator(seed: Any, device: torch.device) -> torch.Generator | None:
    if seed is None or device.type == "meta":
        return None
    if hasattr(seed, "for_device"):
        return seed.for_device(device)
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


@op
def elastic_transform(images: Any, alpha: float = 20.0, sigma: float = 5.0, interpolation: str = "bilinear",
                      fill_mode: str = "reflect", fill_value: float = 0.0, seed: Any = None,
                      data_format: str | None = None) -> torch.Tensor:
    """Image(s) displaced by a random field: standard-normal noise per pixel, smoothed by a Gaussian of ``sigma``
    (kernel of 2 * int(3 * sigma) + 1 taps, reflect padding) and scaled by ``alpha``; the same field for every
    channel. Random draws come from torch (``seed``: an int, a generator or a SeedGenerator), so values differ
    from Keras's for the same seed."""
    fmt = resolve_format(data_format)
    x = images_tensor(images)
    generator = _generator(seed, x.device)

    def coords(n: int, h: int, w: int, dtype: torch.dtype, device: torch.device) -> tuple:
        noise = torch.randn((n, 2, h, w), dtype=dtype, device=device, generator=generator)
        radius = builtins.max(int(3 * float(sigma)), 0)
        size = 2 * radius + 1
        kernel = gaussian_kernel_1d(size, builtins.max(float(sigma), 1e-12), dtype, device)
        kernel = kernel[:, None] * kernel[None, :]
        pad_h, pad_w = builtins.min(radius, h - 1), builtins.min(radius, w - 1)
        field = noise
        if radius:
            mode = "reflect" if pad_h == radius and pad_w == radius else "replicate"
            field = depthwise_conv2d(noise, kernel, (radius, radius, radius, radius), mode=mode)
        field = field * float(alpha)
        ys = torch.arange(h, dtype=dtype, device=device).reshape(1, h, 1)
        xs = torch.arange(w, dtype=dtype, device=device).reshape(1, 1, w)
        return ys + field[:, 0], xs + field[:, 1]

    return _warp(x, fmt, coords, interpolation, fill_mode, fill_value)


__all__ = ["affine_transform", "elastic_transform", "map_coordinates", "perspective_transform"]
