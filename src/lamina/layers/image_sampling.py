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


def _resample(images: torch.Tensor, grid: torch.Tensor, interpolation: str, fill_mode: str, fill_value: float,
              size: tuple[int, int]) -> torch.Tensor:
    """``grid_sample`` of channels-last ``images`` at ``grid`` (n, H, W, 2), normalized for an image of ``size``
    (h, w): the image itself, or one wrapped row and column larger for ``wrap``."""
    x = images.permute(0, 3, 1, 2)  # (n, c, h, w), a view of the channels-last data
    if fill_mode == "wrap":
        x = F.pad(x, (0, 1, 0, 1), mode="circular")  # row h is row 0, column w is column 0
    shift = float(fill_value) if fill_mode == "constant" else 0.0
    if shift:
        x = x - shift
    out = F.grid_sample(x, grid.to(x.dtype), mode=interpolation, padding_mode=_PADDING[fill_mode],
                        align_corners=False)
    if shift:
        out = out + shift
    return out.permute(0, 2, 3, 1)  # (n, H, W, c)


def _check(interpolation: str, fill_mode: str) -> None:
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest'; received {interpolation!r}.")
    if fill_mode not in _PADDING:
        raise ValueError(f"fill_mode must be one of {sorted(_PADDING)}; received {fill_mode!r}.")


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32  # grid_sample's CPU dtypes


def sample(images: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, interpolation: str, fill_mode: str,
           fill_value: float) -> torch.Tensor:
    """Sample ``images`` (n, h, w, c) at pixel coordinates xs, ys (n, H, W) (pixel centers at integers)."""
    _check(interpolation, fill_mode)
    dtype, work = images.dtype, _work_dtype(images.dtype)
    h, w = images.shape[1], images.shape[2]
    xs, ys = xs.to(work), ys.to(work)
    if interpolation == "nearest":
        xs, ys = torch.round(xs), torch.round(ys)
    if fill_mode == "wrap":
        xs, ys = torch.remainder(xs, w), torch.remainder(ys, h)
        h, w = h + 1, w + 1
    grid = torch.stack([(2 * xs + 1) / w - 1, (2 * ys + 1) / h - 1], dim=-1)  # (n, H, W, 2) in [-1, 1]
    return _resample(images.to(work), grid, interpolation, fill_mode, fill_value, (h, w)).to(dtype)


def affine(images: torch.Tensor, matrix: torch.Tensor, interpolation: str, fill_mode: str,
           fill_value: float) -> torch.Tensor:
    """Output pixel (x, y) takes the input at ``matrix @ (x, y, 1)``; matrix is (n, 2, 3) in pixel units.

    The coordinates are a row term plus a column term per image (broadcast, no matrix product); for bilinear
    sampling without ``wrap`` the normalization for ``grid_sample`` is folded into the matrix."""
    _check(interpolation, fill_mode)
    n, h, w, _ = images.shape
    dtype, work = images.dtype, _work_dtype(images.dtype)
    m = matrix.to(work).reshape(n, 2, 3, 1, 1)
    cols = torch.arange(w, dtype=work, device=images.device).reshape(1, w)  # output x, (1, w)
    rows = torch.arange(h, dtype=work, device=images.device).reshape(h, 1)  # output y, (h, 1)
    direct = interpolation == "bilinear" and fill_mode != "wrap"
    if direct:  # normalized input coordinate = (2 * pixel + 1) / size - 1, a linear map of the pixel
        size = torch.tensor([w, h], dtype=work, device=images.device).reshape(1, 2, 1, 1, 1)
        m = torch.cat([m[:, :, :2] * 2 / size, (2 * m[:, :, 2:] + 1) / size - 1], dim=2)
    coords = m[:, :, 0] * cols + m[:, :, 1] * rows + m[:, :, 2]  # (n, 2, h, w): x then y
    if direct:
        grid = coords.permute(0, 2, 3, 1)  # (n, h, w, 2)
        return _resample(images.to(work), grid, interpolation, fill_mode, fill_value, (h, w)).to(dtype)
    return sample(images, coords[:, 0], coords[:, 1], interpolation, fill_mode, fill_value)
