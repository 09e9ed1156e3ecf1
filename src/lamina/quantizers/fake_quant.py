"""TensorFlow-style fake quantization (``fake_quant_with_min_max_vars``) with its straight-through gradient.

The range ``[min, max]`` is first nudged so that 0.0 is exactly representable, the inputs are clipped to it,
rounded to one of ``2**num_bits`` (or ``2**num_bits - 1`` with ``narrow_range``) levels and turned back into
floats. The gradient passes to the inputs inside the nudged range (bounds included); at or below it, it also goes
to ``min``, at or above it to ``max``.

>>> import torch
>>> fake_quant_with_min_max_vars(torch.tensor([0.3, 2.0]), 0.0, 1.0, num_bits=2).tolist()
[0.3333333432674408, 1.0]
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.quantizers.functions import to_float_tensor


def _nudged_range(low: torch.Tensor, high: torch.Tensor, qmin: float, qmax: float
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(nudged min, nudged max, scale, zero point): the range moved so that 0.0 falls on a level."""
    scale = (high - low) / (qmax - qmin)
    zero_point = torch.clamp(torch.round(qmin - low / scale), qmin, qmax)
    return (qmin - zero_point) * scale, (qmax - zero_point) * scale, scale, zero_point


class _FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, low: torch.Tensor, high: torch.Tensor, qmin: float, qmax: float,
                reduce_dims: tuple[int, ...]) -> torch.Tensor:
        nudged_low, nudged_high, scale, zero_point = _nudged_range(low, high, qmin, qmax)
        clipped = torch.minimum(torch.maximum(x, nudged_low), nudged_high)
        ctx.save_for_backward(x, nudged_low, nudged_high)
        ctx.shapes = (low.shape, high.shape)
        ctx.reduce_dims = reduce_dims
        return (torch.floor(clipped / scale + zero_point + 0.5) - zero_point) * scale

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        x, nudged_low, nudged_high = ctx.saved_tensors
        zero = torch.zeros_like(grad)
        # As Keras: a value exactly on a bound passes its gradient both to the input and to that bound.
        grad_x = torch.where((x < nudged_low) | (x > nudged_high), zero, grad)
        below, above = x <= nudged_low, x >= nudged_high
        low_shape, high_shape = ctx.shapes
        grad_low = torch.where(below, grad, zero).sum(dim=ctx.reduce_dims).reshape(low_shape)
        grad_high = torch.where(above, grad, zero).sum(dim=ctx.reduce_dims).reshape(high_shape)
        return grad_x, grad_low, grad_high, None, None, None


def fake_quant_with_min_max_vars(inputs: Any, min_vals: Any, max_vals: Any, num_bits: int = 8,
                                 narrow_range: bool = False, axis: int | None = None) -> torch.Tensor:
    """Fake-quantize ``inputs`` into ``[min_vals, max_vals]`` (scalars, or one value per channel along ``axis``)
    with ``num_bits`` bits; differentiable with respect to the inputs and both bounds (straight-through).

    >>> x = torch.tensor([-1.5, 0.25, 1.5])
    >>> [round(v, 4) for v in fake_quant_with_min_max_vars(x, -1.0, 1.0).tolist()]
    [-0.9961, 0.251, 1.0039]
    """
    x = to_float_tensor(inputs)
    low = torch.as_tensor(min_vals, dtype=x.dtype, device=x.device) if not isinstance(min_vals, torch.Tensor) \
        else min_vals.to(device=x.device)
    high = torch.as_tensor(max_vals, dtype=x.dtype, device=x.device) if not isinstance(max_vals, torch.Tensor) \
        else max_vals.to(device=x.device)
    qmin, qmax = (1.0 if narrow_range else 0.0), float(2 ** num_bits - 1)
    if axis is None:
        if low.numel() != 1 or high.numel() != 1:
            raise ValueError("fake_quant_with_min_max_vars: per-tensor quantization (axis=None) takes scalar "
                             f"min_vals/max_vals; received shapes {tuple(low.shape)} and {tuple(high.shape)}. "
                             "Pass axis=<channel axis> for one range per channel.")
        reduce_dims = tuple(range(x.ndim))
        low_b, high_b = low.reshape(()), high.reshape(())
    else:
        ax = axis % x.ndim
        view = [1] * x.ndim
        view[ax] = -1
        reduce_dims = tuple(d for d in range(x.ndim) if d != ax)
        low_b, high_b = low.reshape(view), high.reshape(view)
    return _FakeQuant.apply(x, low_b, high_b, qmin, qmax, reduce_dims).reshape(x.shape)
