"""Helpers shared by the image augmentation modules (color, geometric, mixing, policies).

Factor ranges, value-range normalization and per-image random draws; the seeded base class and the
channels-last plumbing live in :mod:`lamina.layers.preprocessing` and are re-used from there.

>>> factor_range(0.3, "f")
(0.0, 0.3)
>>> factor_range(0.3, "f", symmetric=True, low=-1.0)
(-0.3, 0.3)
"""

from __future__ import annotations

import math
from typing import Any

import torch

# ITU-R 601-2 luma weights, as Keras's rgb_to_grayscale uses them
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


def factor_range(factor: Any, name: str, *, symmetric: bool = False, low: float | None = 0.0,
                 high: float | None = 1.0) -> tuple[float, float]:
    """``factor`` as a pair ``(lower, upper)``.

    A pair is taken as is; a single float f means ``(0, f)`` (or ``(-f, f)`` when ``symmetric``).
    Both bounds must lie in ``[low, high]`` (``None``: unbounded on that side).

    >>> factor_range((0.2, 0.4), "f")
    (0.2, 0.4)
    """
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(f"{name} must be a float or a pair (lower, upper); received {factor!r}.")
        lower, upper = float(factor[0]), float(factor[1])
    else:
        f = float(factor)
        lower, upper = (-abs(f), abs(f)) if symmetric else (0.0, f)
    if lower > upper:
        raise ValueError(f"{name}: lower bound {lower} exceeds upper bound {upper}; pass (lower, upper).")
    for v in (lower, upper):
        if (low is not None and v < low) or (high is not None and v > high):
            raise ValueError(f"{name} values must lie in [{low}, {high}]; received {factor!r}.")
    return lower, upper


def check_value_range(value_range: Any, name: str) -> tuple[float, float]:
    """``value_range`` as a validated pair ``(low, high)`` with ``low < high``."""
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"{name}: value_range must be a pair (low, high); received {value_range!r}.")
    low, high = value_range
    if not float(low) < float(high):
        raise ValueError(f"{name}: value_range must have low < high; received {value_range!r}.")
    return low, high


def to_unit(x: torch.Tensor, value_range: tuple) -> torch.Tensor:
    """Map ``value_range`` onto [0, 1] (no clipping)."""
    low, high = float(value_range[0]), float(value_range[1])
    return (x - low) / (high - low)


def from_unit(x: torch.Tensor, value_range: tuple) -> torch.Tensor:
    """Map [0, 1] back onto ``value_range`` (no clipping)."""
    low, high = float(value_range[0]), float(value_range[1])
    return x * (high - low) + low


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """The luma of channels-last RGB images ``(..., 3)`` as ``(..., 1)``."""
    if x.shape[-1] != 3:
        raise ValueError(f"Grayscale conversion needs 3 (RGB) channels; received {x.shape[-1]}.")
    weights = torch.tensor(GRAY_WEIGHTS, dtype=x.dtype, device=x.device)
    return (x * weights).sum(dim=-1, keepdim=True)


def per_image(values: torch.Tensor) -> torch.Tensor:
    """A per-image vector ``(n,)`` shaped ``(n, 1, 1, 1)`` to broadcast over channels-last images."""
    return values.reshape(-1, 1, 1, 1)


def plain(factor: Any) -> Any:
    """A factor as JSON-friendly config: tuples become lists."""
    return list(factor) if isinstance(factor, (tuple, list)) else factor


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """Channels-last RGB in [0, 1] as HSV, each of hue, saturation and value in [0, 1] (gray: hue 0, saturation 0).

    >>> rgb_to_hsv(torch.tensor([0.0, 0.5, 0.5]))
    tensor([0.5000, 1.0000, 0.5000])
    """
    r, g, b = x.unbind(-1)
    v = x.amax(-1)
    chroma = v - x.amin(-1)
    safe_v = torch.where(v > 0, v, torch.ones_like(v))
    s = torch.where(v > 0, chroma / safe_v, torch.zeros_like(v))
    safe_c = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    sector = torch.where(v == r, (g - b) / safe_c, torch.where(v == g, 2 + (b - r) / safe_c, 4 + (r - g) / safe_c))
    h = torch.where(chroma > 0, torch.remainder(sector / 6, 1.0), torch.zeros_like(v))
    return torch.stack([h, s, v], dim=-1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`rgb_to_hsv`; saturations above 1 are not clipped (they extrapolate).

    >>> hsv_to_rgb(torch.tensor([0.5, 1.0, 0.5]))
    tensor([0.0000, 0.5000, 0.5000])
    """
    h, s, v = x.unbind(-1)

    def channel(offset: float) -> torch.Tensor:
        k = torch.remainder(offset + h * 6, 6)
        return v - v * s * torch.clamp(torch.minimum(k, 4 - k), 0, 1)

    return torch.stack([channel(5.0), channel(3.0), channel(1.0)], dim=-1)


def sample_gamma(n: int, alpha: float, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """``n`` float64 draws of Gamma(alpha, 1) from ``generator`` (Marsaglia and Tsang's method, boosted by
    ``U ** (1 / alpha)`` for alpha < 1), so that a seeded generator fixes the result on every device.

    >>> g = torch.Generator().manual_seed(0)
    >>> bool(abs(sample_gamma(100000, 2.0, g, torch.device("cpu")).mean() - 2.0) < 0.03)
    True
    """
    boost = alpha < 1
    d = (alpha + 1 if boost else alpha) - 1 / 3
    c = 1 / math.sqrt(9 * d)
    out = torch.empty(n, dtype=torch.float64, device=device)
    todo = torch.ones(n, dtype=torch.bool, device=device)
    while bool(todo.any()):
        z = torch.randn(n, generator=generator, device=device, dtype=torch.float64)
        u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
        v = (1 + c * z) ** 3
        log_v = torch.log(v.clamp_min(1e-300))
        ok = (v > 0) & (torch.log(u.clamp_min(1e-300)) < 0.5 * z**2 + d - d * v + d * log_v)
        out = torch.where(todo & ok, d * v, out)
        todo = todo & ~ok
    if boost:
        u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
        out = out * u ** (1 / alpha)
    return out


def sample_dirichlet(n: int, k: int, alpha: float, generator: torch.Generator | None,
                     device: torch.device) -> torch.Tensor:
    """``(n, k)`` float64 draws of a symmetric Dirichlet(alpha) (``k = 2``: column 0 is Beta(alpha, alpha)).

    >>> g = torch.Generator().manual_seed(0)
    >>> torch.allclose(sample_dirichlet(3, 4, 1.0, g, torch.device("cpu")).sum(dim=1), torch.ones(3).double())
    True
    """
    g = torch.stack([sample_gamma(n, alpha, generator, device) for _ in range(k)], dim=1)
    total = g.sum(dim=1, keepdim=True)
    return torch.where(total > 0, g / torch.where(total > 0, total, torch.ones_like(total)), 1.0 / k)
