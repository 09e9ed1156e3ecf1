"""Activation functions of ``keras.ops.nn``: elementwise maps and the softmax family.

Integer and bool inputs to the float-only activations compute in ``floatx()`` (as Keras does on JAX and
TensorFlow; Keras's torch backend raises for most of them). ``relu``, ``relu6``, ``hard_tanh`` and
``threshold`` keep an integer input's dtype, as in Keras.
"""

from __future__ import annotations

import builtins
from typing import Any

import torch
import torch.nn.functional as F

from lamina.ops.dispatch import canonical_axis, op, tensor, to_float

__all__ = [
    "celu", "elu", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "leaky_relu", "log_sigmoid", "log_softmax", "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink",
    "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish",
    "tanh_shrink", "threshold",
]


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """A Keras axis argument (None, int, tuple) as a tuple of non-negative axes of a rank-``ndim`` tensor."""
    axis = canonical_axis(axis)
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted({a % builtins.max(ndim, 1) for a in axis}))


# ------------------------------------------------------------------------------------ rectifiers
@op
def relu(x: Any) -> torch.Tensor:
    """Rectified linear unit ``max(x, 0)``; integer inputs keep their dtype."""
    x = tensor(x)
    return F.relu(x)


@op
def relu6(x: Any) -> torch.Tensor:
    """``min(max(x, 0), 6)``; integer inputs keep their dtype."""
    x = tensor(x)
    if x.dtype == torch.bool:
        raise TypeError("relu6 does not take bool inputs.")
    return torch.clamp(x, 0, 6)


@op
def leaky_relu(x: Any, negative_slope: float = 0.2) -> torch.Tensor:
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    return F.leaky_relu(to_float(x), negative_slope=negative_slope)


@op
def elu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return F.elu(to_float(x), alpha=alpha)


@op
def celu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    """Continuously differentiable ELU: ``max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return F.celu(to_float(x), alpha=alpha)


@op
def selu(x: Any) -> torch.Tensor:
    """Scaled exponential linear unit (the self-normalizing constants of Klambauer et al.)."""
    return F.selu(to_float(x))


@op
def gelu(x: Any, approximate: bool = True) -> torch.Tensor:
    """Gaussian error linear unit; ``approximate=True`` uses the tanh approximation."""
    return F.gelu(to_float(x), approximate="tanh" if approximate else "none")


@op
def glu(x: Any, axis: int = -1) -> torch.Tensor:
    """Gated linear unit: splits ``x`` in two halves ``a, b`` along ``axis`` and returns ``a * sigmoid(b)``."""
    x = to_float(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu needs an even size along axis {axis}; received shape {tuple(x.shape)}.")
    return F.glu(x, dim=axis)


# ------------------------------------------------------------------------------------ sigmoid family
@op
def sigmoid(x: Any) -> torch.Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return torch.sigmoid(to_float(x))


@op
def log_sigmoid(x: Any) -> torch.Tensor:
    """``log(sigmoid(x))``, computed stably."""
    return F.logsigmoid(to_float(x))


@op
def hard_sigmoid(x: Any) -> torch.Tensor:
    """Piecewise-linear sigmoid ``relu6(x + 3) / 6``."""
    return F.hardsigmoid(to_float(x))


@op
def sparse_sigmoid(x: Any) -> torch.Tensor:
    """0 for ``x <= -1``, 1 for ``x >= 1``, ``(x + 1) / 2`` between."""
    return torch.clamp((to_float(x) + 1) * 0.5, 0, 1)


@op
def silu(x: Any) -> torch.Tensor:
    """Sigmoid linear unit ``x * sigmoid(x)``."""
    return F.silu(to_float(x))


@op
def swish(x: Any) -> torch.Tensor:
    """Swish ``x * sigmoid(x)`` (the same as ``silu``)."""
    return F.silu(to_float(x))


@op
def hard_silu(x: Any) -> torch.Tensor:
    """Hard SiLU ``x * relu6(x + 3) / 6``."""
    return F.hardswish(to_float(x))


@op
def hard_swish(x: Any) -> torch.Tensor:
    """Hard swish ``x * relu6(x + 3) / 6`` (the same as ``hard_silu``)."""
    return F.hardswish(to_float(x))


# ------------------------------------------------------------------------------------ smooth and shrink maps
@op
def softplus(x: Any) -> torch.Tensor:
    """``log(1 + exp(x))``."""
    return F.softplus(to_float(x))


@op
def softsign(x: Any) -> torch.Tensor:
    """``x / (1 + |x|)``."""
    x = to_float(x)
    return x / (1 + torch.abs(x))


@op
def sparse_plus(x: Any) -> torch.Tensor:
    """0 for ``x <= -1``, ``x`` for ``x >= 1``, ``(x + 1)**2 / 4`` between."""
    x = to_float(x)
    middle = torch.square(torch.clamp(x, -1, 1) + 1) * 0.25
    return torch.where(x >= 1, x, middle)


@op
def squareplus(x: Any, b: float = 4) -> torch.Tensor:
    """``(x + sqrt(x**2 + b)) / 2``, a smooth ReLU."""
    x = to_float(x)
    return (x + torch.sqrt(torch.square(x) + b)) * 0.5


@op
def hard_tanh(x: Any) -> torch.Tensor:
    """``x`` clipped to [-1, 1]; integer inputs keep their dtype."""
    x = tensor(x)
    if x.dtype == torch.bool:
        raise TypeError("hard_tanh does not take bool inputs.")
    unsigned = x.dtype in (torch.uint8, torch.uint16, torch.uint32, torch.uint64)
    return torch.clamp(x, 0 if unsigned else -1, 1)  # -1 would wrap around to the maximum for unsigned types


@op
def hard_shrink(x: Any, threshold: float = 0.5) -> torch.Tensor:
    """``x`` where ``|x| > threshold``, else 0."""
    return F.hardshrink(to_float(x), lambd=threshold)


@op
def soft_shrink(x: Any, threshold: float = 0.5) -> torch.Tensor:
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, 0 between."""
    return F.softshrink(to_float(x), lambd=threshold)


@op
def tanh_shrink(x: Any) -> torch.Tensor:
    """``x - tanh(x)``."""
    x = to_float(x)
    return x - torch.tanh(x)


@op
def threshold(x: Any, threshold: float, default_value: float) -> torch.Tensor:
    """``x`` where ``x > threshold``, else ``default_value`` (in ``x``'s dtype)."""
    x = tensor(x)
    return torch.where(x > threshold, x, torch.tensor(default_value, device=x.device).to(x.dtype))


# ------------------------------------------------------------------------------------ softmax family
def _flattened(x: torch.Tensor, axes: tuple[int, ...]) -> tuple[torch.Tensor, Any]:
    """``x`` with ``axes`` moved to the end and merged into one, and the function that undoes it."""
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = x.permute(*rest, *axes)
    shape = moved.shape
    flat = moved.reshape(*shape[:len(rest)], -1)
    inverse = [0] * x.ndim
    for i, a in enumerate((*rest, *axes)):
        inverse[a] = i

    def undo(y: torch.Tensor) -> torch.Tensor:
        return y.reshape(shape).permute(*inverse)

    return flat, undo


@op
def softmax(x: Any, axis: int | tuple[int, ...] | None = -1) -> torch.Tensor:
    """Softmax over ``axis`` (an int, a tuple of axes, or None for all axes)."""
    x = to_float(x)
    if x.ndim == 0:
        return torch.ones_like(x)
    axes = _axes(axis, x.ndim)
    if len(axes) == 1:
        return torch.softmax(x, dim=axes[0])
    flat, undo = _flattened(x, axes)
    return undo(torch.softmax(flat, dim=-1))


@op
def log_softmax(x: Any, axis: int | tuple[int, ...] | None = -1) -> torch.Tensor:
    """Log of the softmax over ``axis`` (an int, a tuple of axes, or None for all axes)."""
    x = to_float(x)
    if x.ndim == 0:
        return torch.zeros_like(x) * x
    axes = _axes(axis, x.ndim)
    if len(axes) == 1:
        return torch.log_softmax(x, dim=axes[0])
    flat, undo = _flattened(x, axes)
    return undo(torch.log_softmax(flat, dim=-1))


@op
def sparsemax(x: Any, axis: int = -1) -> torch.Tensor:
    """Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of ``x`` onto the simplex along ``axis``."""
    x = to_float(x)
    if x.ndim == 0:
        return torch.ones_like(x)
    z = x.movedim(axis, -1)
    n = z.shape[-1]
    ordered, _ = torch.sort(z, dim=-1, descending=True)
    cumulative = torch.cumsum(ordered, dim=-1)
    k = torch.arange(1, n + 1, device=z.device, dtype=z.dtype)
    support = (1 + k * ordered) > cumulative
    size = support.sum(dim=-1, keepdim=True).clamp(min=1)
    tau = (torch.gather(cumulative, -1, size - 1) - 1) / size.to(z.dtype)
    return torch.clamp(z - tau, min=0).movedim(-1, axis)

