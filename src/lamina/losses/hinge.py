"""Hinge losses for maximum-margin classifiers: ``Hinge``, ``SquaredHinge`` and ``CategoricalHinge``.

Labels are -1/1; labels that are all 0/1 are mapped to -1/1 first (decided on the device, without a sync).

>>> import torch
>>> Hinge()(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.5], [0.5]]))
tensor(1.)
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.losses.base import LOSSES, Loss, LossFunctionWrapper, pair, register_function

Dtype = str | torch.dtype | None


def _signed_labels(y_true: torch.Tensor) -> torch.Tensor:
    """0/1 labels as -1/1; any other labels unchanged (Keras's rule, evaluated on the whole batch)."""
    binary = ((y_true == 0) | (y_true == 1)).all()
    return torch.where(binary, 2.0 * y_true - 1.0, y_true)


def _margins(y_true: Any, y_pred: Any) -> torch.Tensor:
    y_true, y_pred = pair(y_true, y_pred)
    return (1.0 - _signed_labels(y_true) * y_pred).clamp_min(0.0)


@register_function("hinge")
def hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis.

    >>> import torch
    >>> hinge(torch.tensor([[1.0, -1.0]]), torch.tensor([[0.5, 0.5]]))
    tensor([1.])
    """
    return _margins(y_true, y_pred).mean(-1)


@register_function("squared_hinge")
def squared_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis.

    >>> import torch
    >>> squared_hinge(torch.tensor([[1.0, -1.0]]), torch.tensor([[0.5, 0.5]]))
    tensor([1.2500])
    """
    return _margins(y_true, y_pred).square().mean(-1)


@register_function("categorical_hinge")
def categorical_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``max(neg - pos + 1, 0)`` with ``pos = sum(y_true * y_pred)`` and ``neg = max((1 - y_true) * y_pred)`` over
    the last axis (one-hot labels).

    >>> import torch
    >>> categorical_hinge(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.3, 0.6]]))
    tensor([0.7000])
    """
    y_true, y_pred = pair(y_true, y_pred)
    pos = (y_true * y_pred).sum(-1)
    neg = ((1.0 - y_true) * y_pred).amax(-1)
    return (neg - pos + 1.0).clamp_min(0.0)


class _HingeLoss(LossFunctionWrapper):
    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


@LOSSES("Hinge", "hinge")
class Hinge(_HingeLoss):
    """Hinge loss, ``max(1 - y_true * y_pred, 0)``, for -1/1 (or 0/1) labels.

    >>> import torch
    >>> Hinge()(torch.tensor([[1.0], [-1.0]]), torch.tensor([[2.0], [0.5]]))
    tensor(0.7500)
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "hinge", dtype: Dtype = None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)


@LOSSES("SquaredHinge", "squared_hinge")
class SquaredHinge(_HingeLoss):
    """Squared hinge loss, ``max(1 - y_true * y_pred, 0) ** 2``, for -1/1 (or 0/1) labels.

    >>> import torch
    >>> SquaredHinge()(torch.tensor([[1.0], [-1.0]]), torch.tensor([[2.0], [0.5]]))
    tensor(1.1250)
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "squared_hinge",
                 dtype: Dtype = None):
        super().__init__(squared_hinge, name=name, reduction=reduction, dtype=dtype)


@LOSSES("CategoricalHinge", "categorical_hinge")
class CategoricalHinge(_HingeLoss):
    """Multi-class hinge loss for one-hot labels.

    >>> import torch
    >>> CategoricalHinge()(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.3, 0.6]]))
    tensor(0.7000)
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "categorical_hinge",
                 dtype: Dtype = None):
        super().__init__(categorical_hinge, name=name, reduction=reduction, dtype=dtype)
