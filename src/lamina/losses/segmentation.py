"""Overlap losses for segmentation masks: ``Dice`` and ``Tversky``.

``axis=None`` (the default, as in Keras) sums over every axis, giving one value for the whole batch; pass the
spatial axes (e.g. ``axis=(1, 2, 3)``) for one value per sample.

>>> import torch
>>> Dice()(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]]))
tensor(0.3333)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lamina.core import config
from lamina.losses.base import LOSSES, Loss, LossFunctionWrapper, as_tensor, float_pred, register_function

Dtype = str | torch.dtype | None
Axis = int | Sequence[int] | None


def _sum(x: torch.Tensor, axis: Axis) -> torch.Tensor:
    if axis is None:
        return x.sum()
    return x.sum(dim=axis if isinstance(axis, int) else tuple(axis))


def _check_axis(axis: Any) -> Axis:
    if axis is None or (isinstance(axis, int) and not isinstance(axis, bool)):
        return axis
    if isinstance(axis, Sequence) and all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
        return tuple(axis)
    raise ValueError(f"axis must be None, an int or a tuple of ints; received axis={axis!r}.")


def _same_shape(y_true: Any, y_pred: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = float_pred(y_pred)
    y_true = as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{what} needs y_true and y_pred of the same shape; received y_true.shape="
                         f"{tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}.")
    return y_true, y_pred


@register_function("dice")
def dice(y_true: Any, y_pred: Any, axis: Axis = None) -> torch.Tensor:
    """``1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + epsilon)``, summed over ``axis``.

    >>> import torch
    >>> dice(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[1.0, 1.0], [1.0, 1.0]]), axis=1)
    tensor([0.3333, 0.0000])
    """
    y_true, y_pred = _same_shape(y_true, y_pred, "dice")
    axis = _check_axis(axis)
    overlap = _sum(y_true * y_pred, axis)
    return 1.0 - 2.0 * overlap / (_sum(y_true, axis) + _sum(y_pred, axis) + config.epsilon())


@register_function("tversky")
def tversky(y_true: Any, y_pred: Any, alpha: float = 0.5, beta: float = 0.5, axis: Axis = None) -> torch.Tensor:
    """``1 - TP / (TP + alpha * sum(y_true * (1 - y_pred)) + beta * sum((1 - y_true) * y_pred) + epsilon)`` with
    ``TP = sum(y_true * y_pred)``, summed over ``axis`` (Keras's weighting; alpha = beta = 0.5 is Dice).

    >>> import torch
    >>> tversky(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]]))
    tensor(0.3333)
    """
    y_true, y_pred = _same_shape(y_true, y_pred, "tversky")
    axis = _check_axis(axis)
    overlap = _sum(y_true * y_pred, axis)
    missed = _sum(y_true * (1.0 - y_pred), axis)
    extra = _sum((1.0 - y_true) * y_pred, axis)
    return 1.0 - overlap / (overlap + alpha * missed + beta * extra + config.epsilon())


@LOSSES("Dice", "dice")
class Dice(LossFunctionWrapper):
    """Dice loss, one minus the soft Dice coefficient of ``y_true`` and ``y_pred``.

    >>> import torch
    >>> Dice(axis=(1,))(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[1.0, 1.0], [1.0, 1.0]]))
    tensor(0.1667)
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "dice", axis: Axis = None,
                 dtype: Dtype = None):
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=_check_axis(axis))
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "axis": self.axis}


@LOSSES("Tversky", "tversky")
class Tversky(LossFunctionWrapper):
    """Tversky loss, a Dice loss that weighs the two kinds of error by ``alpha`` and ``beta``.

    >>> import torch
    >>> Tversky(alpha=0.5, beta=0.5)(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]]))
    tensor(0.3333)
    """

    def __init__(self, alpha: float = 0.5, beta: float = 0.5, reduction: str | None = "sum_over_batch_size",
                 name: str = "tversky", axis: Axis = None, dtype: Dtype = None):
        super().__init__(tversky, name=name, reduction=reduction, dtype=dtype, alpha=alpha, beta=beta,
                         axis=_check_axis(axis))
        self.alpha = alpha
        self.beta = beta
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "alpha": self.alpha, "beta": self.beta, "axis": self.axis}
