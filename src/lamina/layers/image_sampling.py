"""Resampling images at arbitrary pixel coordinates with Keras's fill modes (reflect, wrap, constant, nearest) and
interpolations (bilinear, nearest): the engine of the geometric augmentation layers.

Images are channels-last ``(n, h, w, c)``; pixel centers sit at integer coordinates, as in Keras's
``affine_transform`` and ``map_coordinates``. The work is one ``torch.nn.functional.grid_sample`` call
(``align_corners=False``), with Keras's rules folded in:

- ``reflect`` (``d c b a | a b c d | d c b a``, per corner index) is ``grid_sample``'s ``reflection`` padding, which
  reflects coordinates about the pixel edges ``-0.5`` and ``size - 0.5`` and then clamps: the same corners and
  weights;
- ``nearest`` (the edge pixel repeated) is ``border`` padding: clamping the coordinate or each corner index gives
  the same value;
- ``constant`` is ``zeros`` padding on ``image - fill_value``, plus ``fill_value`` (the weights sum to one, so each
  outside corner contributes ``fill_value``);
- ``wrap`` has no padding mode: coordinates are taken modulo the size, and the image gets one wrapped row and
  column (``circular`` padding) so that the corner after the last pixel is the first one;
- ``nearest`` interpolation rounds the coordinates first (half to even, as Keras), so that ``grid_sample`` sees
  whole pixels and applies the padding rules to indices, as Keras does.

>>> import torch
>>> x = torch.arange(4.0).reshape(1, 2, 2, 1)
>>> sample(x, torch.tensor([[[0.5]]]), torch.tensor([[[0.0]]]), "bilinear", "constant", 0.0).flatten()
tensor([0.5000])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["affine", "sample"]

_PADDING = {"reflect": "reflection", "nearest": "border", "constant": "zeros", "wrap": "border"}


def sample(images: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, interpolation: str, fill_mode: str,
           fill_value: float) -> torch.Tensor:
    """Sample ``images`` (n, h, w, c) at pixel coordinates xs, ys (n, H, W) (pixel centers at integers)."""
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest'; received {interpolation!r}.")
    if fill_mode not in _PADDING:
        raise ValueError(f"fill_mode must be one of {sorted(_PADDING)}; received {fill_mode!r}.")
    dtype = images.dtype
    work = dtype if dtype in (torch.float32, torch.float64) else torch.float32  # grid_sample's CPU dtypes
    x = images.to(work).permute(0, 3, 1, 2)  # (n, c, h, w), a view of the channels-last data
    h, w = x.shape[2], x.shape[3]
    xs, ys = xs.to(work), ys.to(work)
    if interpolation == "nearest":
        xs, ys = torch.round(xs), torch.round(ys)
    if fill_mode == "wrap":
        xs, ys = torch.remainder(xs, w), torch.remainder(ys, h)
        x = F.pad(x, (0, 1, 0, 1), mode="circular")  # row h is row 0, column w is column 0
        h, w = h + 1, w + 1
    shift = float(fill_value) if fill_mode == "constant" else 0.0
    if shift:
        x = x - shift
    grid = torch.stack([(2 * xs + 1) / w - 1, (2 * ys + 1) / h - 1], dim=-1)  # (n, H, W, 2) in [-1, 1]
    out = F.grid_sample(x, grid, mode=interpolation, padding_mode=_PADDING[fill_mode], align_corners=False)
    if shift:
        out = out + shift
    return out.permute(0, 2, 3, 1).to(dtype)  # (n, H, W, c)


def affine(images: torch.Tensor, matrix: torch.Tensor, interpolation: str, fill_mode: str,
           fill_value: float) -> torch.Tensor:
    """Output pixel (x, y) takes the input at ``matrix @ (x, y, 1)``; matrix is (n, 2, 3) in pixel units."""
    n, h, w, _ = images.shape
    dtype = images.dtype if images.is_floating_point() else torch.float32
    ys, xs = torch.meshgrid(torch.arange(h, dtype=dtype, device=images.device),
                            torch.arange(w, dtype=dtype, device=images.device), indexing="ij")
    grid = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(1, h * w, 3)  # (1, h*w, 3)
    src = grid @ matrix.to(dtype).transpose(1, 2)  # (n, h*w, 2)
    src = src.reshape(n, h, w, 2)
    return sample(images, src[..., 0], src[..., 1], interpolation, fill_mode, fill_value)
