"""Resampling images at arbitrary pixel coordinates with Keras's fill modes (reflect, wrap, constant, nearest) and
interpolations (bilinear, nearest): the engine of the geometric augmentation layers.

Images are channels-last ``(n, h, w, c)``; pixel centers sit at integer coordinates, as in Keras's
``affine_transform`` and ``map_coordinates``.

>>> import torch
>>> x = torch.arange(4.0).reshape(1, 2, 2, 1)
>>> sample(x, torch.tensor([[[0.5]]]), torch.tensor([[[0.0]]]), "bilinear", "constant", 0.0).flatten()
tensor([0.5000])
"""

from __future__ import annotations

import torch

__all__ = ["affine", "sample"]


def _fix_index(i: torch.Tensor, size: int, fill_mode: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Map integer sample positions outside [0, size) per fill mode; also return validity for 'constant'."""
    if fill_mode == "reflect":  # d c b a | a b c d | d c b a
        i = torch.remainder(i, 2 * size)
        return torch.where(i >= size, 2 * size - 1 - i, i), None
    if fill_mode == "wrap":  # a b c d | a b c d | a b c d
        return torch.remainder(i, size), None
    if fill_mode == "nearest":  # a a a a | a b c d | d d d d
        return i.clamp(0, size - 1), None
    valid = (i >= 0) & (i < size)
    return i.clamp(0, size - 1), valid


def sample(images: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, interpolation: str, fill_mode: str,
            fill_value: float) -> torch.Tensor:
    """Sample ``images`` (n, h, w, c) at pixel coordinates xs, ys (n, H, W) (pixel centers at integers)."""
    n, h, w, c = images.shape
    flat = images.reshape(n, h * w, c)
    if interpolation == "nearest":
        corners = [(torch.round(xs), torch.round(ys), None)]
    elif interpolation == "bilinear":
        x0, y0 = torch.floor(xs), torch.floor(ys)
        fx, fy = xs - x0, ys - y0  # (n, H, W)
        corners = [(x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                   (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)]
    else:
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest'; received {interpolation!r}.")
    out = None
    for cx, cy, weight in corners:
        ix, vx = _fix_index(cx.long(), w, fill_mode)
        iy, vy = _fix_index(cy.long(), h, fill_mode)
        index = (iy * w + ix).reshape(n, -1, 1).expand(-1, -1, c)  # (n, H*W, c)
        value = flat.gather(1, index).reshape(n, *xs.shape[1:], c)  # (n, H, W, c)
        if vx is not None:
            value = torch.where((vx & vy).unsqueeze(-1), value, torch.full_like(value, fill_value))
        term = value if weight is None else value * weight.unsqueeze(-1).to(value.dtype)
        out = term if out is None else out + term
    return out


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
