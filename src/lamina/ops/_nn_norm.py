"""Normalization and statistics ops of ``keras.ops.nn``: ``moments``, ``batch_normalization``,
``layer_normalization``, ``rms_normalization``, ``normalize``, ``psnr``, ``polar``.

Integer inputs compute in ``floatx()`` (Keras's torch backend raises for most of them, and returns a truncated
integer result from ``layer_normalization`` and ``rms_normalization``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from lamina.core import config
from lamina.ops import dtypes
from lamina.ops.dispatch import canonical_axis, op, promoted, tensor, to_float

__all__ = ["batch_normalization", "layer_normalization", "moments", "normalize", "polar", "psnr",
           "rms_normalization"]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _dims(axis: Any, ndim: int) -> tuple[int, ...]:
    """A Keras axis argument (None, int, list, tuple) as a tuple of non-negative axes."""
    axis = canonical_axis(axis)
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted({a % ndim for a in axis})) if ndim else ()


def _floats(*values: Any) -> tuple[list[torch.Tensor], torch.dtype]:
    """The values (None kept) as tensors of their promoted float dtype."""
    present = [v for v in values if v is not None]
    tensors, dtype = promoted(*present)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = dtypes.to_torch(None)
    it = iter(t.to(dtype) for t in tensors)
    return [None if v is None else next(it) for v in values], dtype


@op
def moments(x: Any, axes: int | tuple[int, ...] | list[int], keepdims: bool = False,
            synchronized: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (biased) variance of ``x`` over ``axes``; float16/bfloat16 compute in float32.
    ``synchronized`` only matters on TensorFlow in Keras and is ignored."""
    x = to_float(x)
    dims = _dims(axes, x.ndim)
    work = x.float() if x.dtype in _LOW_PRECISION else x
    mean = torch.mean(work, dim=dims, keepdim=True)
    variance = torch.mean(torch.square(work - mean), dim=dims, keepdim=True)
    if not keepdims:
        mean, variance = mean.squeeze(dims), variance.squeeze(dims)
    return mean.to(x.dtype), variance.to(x.dtype)


@op
def batch_normalization(x: Any, mean: Any, variance: Any, axis: int, offset: Any = None, scale: Any = None,
                        epsilon: float = 1e-3) -> torch.Tensor:
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset`` with 1-D statistics along ``axis``."""
    (x, mean, variance, offset, scale), _ = _floats(x, mean, variance, offset, scale)
    axis = axis % x.ndim
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def along(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(shape) if v.ndim == 1 else v

    factor = torch.rsqrt(along(variance) + epsilon)
    if scale is not None:
        factor = factor * along(scale)
    y = (x - along(mean)) * factor
    return y + along(offset) if offset is not None else y


@op
def layer_normalization(x: Any, gamma: Any = None, beta: Any = None, axis: int | tuple[int, ...] = -1,
                        epsilon: float | None = None, **kwargs: Any) -> torch.Tensor:
    """Normalizes ``x`` to zero mean and unit variance over ``axis``, then ``* gamma + beta``; float16/bfloat16
    compute in float32. ``rms_scaling=True`` (a legacy keyword, as Keras) skips centering and ``beta``:
    ``x * rsqrt(variance + epsilon) * gamma``."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"layer_normalization got unexpected keyword arguments {sorted(kwargs)}.")
    epsilon = config.epsilon() if epsilon is None else epsilon
    x = to_float(x)
    dims = _dims(axis, x.ndim)
    work = x.float() if x.dtype in _LOW_PRECISION else x
    mean = torch.mean(work, dim=dims, keepdim=True)
    variance = torch.mean(torch.square(work - mean), dim=dims, keepdim=True)
    if rms_scaling:  # Keras's legacy mode: no centering, no beta
        warnings.warn("layer_normalization: rms_scaling=True is deprecated (it scales by the variance, not the "
                      "root mean square); use rms_normalization.", UserWarning, stacklevel=2)
        y = work * torch.rsqrt(variance + epsilon)
        return (y * tensor(gamma).to(work.dtype) if gamma is not None else y).to(x.dtype)
    y = (work - mean) * torch.rsqrt(variance + epsilon)
    if gamma is not None:
        y = y * tensor(gamma).to(work.dtype)
    if beta is not None:
        y = y + tensor(beta).to(work.dtype)
    return y.to(x.dtype)


@op
def rms_normalization(x: Any, scale: Any = None, axis: int | tuple[int, ...] = -1,
                      epsilon: float | None = None) -> torch.Tensor:
    """``x * rsqrt(mean(square(x), axis) + epsilon) * scale``; float16/bfloat16 compute in float32."""
    epsilon = config.epsilon() if epsilon is None else epsilon
    x = to_float(x)
    dims = _dims(axis, x.ndim)
    work = x.float() if x.dtype in _LOW_PRECISION else x
    y = work * torch.rsqrt(torch.mean(torch.square(work), dim=dims, keepdim=True) + epsilon)
    if scale is not None:
        y = y * tensor(scale).to(work.dtype)
    return y.to(x.dtype)


@op
def normalize(x: Any, axis: int | tuple[int, ...] = -1, order: int | float = 2,
              epsilon: float | None = None) -> torch.Tensor:
    """``x / max(norm(x, order, axis), epsilon)``."""
    epsilon = config.epsilon() if epsilon is None else epsilon
    x = to_float(x)
    dims = _dims(axis, x.ndim)
    norm = torch.linalg.vector_norm(x, ord=order, dim=dims, keepdim=True)
    return x / torch.clamp(norm, min=epsilon)


@op
def psnr(x1: Any, x2: Any, max_val: float) -> torch.Tensor:
    """Peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mean((x1 - x2)**2))`` (a scalar)."""
    (x1, x2), _ = _floats(x1, x2)
    if x1.shape != x2.shape:
        raise ValueError(f"psnr needs inputs of the same shape; received {tuple(x1.shape)} and {tuple(x2.shape)}.")
    mse = torch.mean(torch.square(x1 - x2))
    peak = max_val.to(x1.dtype) if isinstance(max_val, torch.Tensor) else max_val
    if isinstance(peak, torch.Tensor):
        return 20 * torch.log10(peak) - 10 * torch.log10(mse)
    return 20 * math.log10(peak) - 10 * torch.log10(mse)


@op
def polar(abs_: Any, angle: Any) -> torch.Tensor:
    """The complex number ``abs_ * (cos(angle) + 1j * sin(angle))``."""
    (magnitude, angle), dtype = _floats(abs_, angle)
    if dtype in _LOW_PRECISION:
        magnitude, angle = magnitude.float(), angle.float()
    return torch.polar(magnitude, angle)
