"""Hinge metrics for maximum-margin classifiers: ``Hinge``, ``SquaredHinge`` and ``CategoricalHinge``.

Labels of 0/1 are read as -1/+1 (decided on the device, batch by batch, as Keras does: only when every label of
the batch is 0 or 1).

>>> import torch
>>> Hinge()(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, -0.5]]))
tensor(0.5000)
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.core import config
from lamina.metrics.base import FixedFunctionMetric, as_tensor, register, register_function


def _pair(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = as_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(config.standardize_dtype(None))
    return as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device), y_pred


def _signed_labels(y_true: torch.Tensor) -> torch.Tensor:
    """0/1 labels as -1/+1; other labels (already -1/+1, or anything else) unchanged."""
    binary = ((y_true == 0) | (y_true == 1)).all()
    return torch.where(binary, 2.0 * y_true - 1.0, y_true)


@register_function("hinge")
def hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis.

    >>> import torch
    >>> hinge(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, -0.5]]))
    tensor([0.5000])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return (1.0 - _signed_labels(y_true) * y_pred).clamp_min(0.0).mean(-1)


@register_function("squared_hinge")
def squared_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis.

    >>> import torch
    >>> squared_hinge(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, -0.5]]))
    tensor([0.2500])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return (1.0 - _signed_labels(y_true) * y_pred).clamp_min(0.0).square().mean(-1)


@register_function("categorical_hinge")
def categorical_hinge(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` for one-hot labels.

    >>> import torch
    >>> categorical_hinge(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.3, 0.7]]))
    tensor([0.6000])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    positive = (y_true * y_pred).sum(-1)
    negative = ((1.0 - y_true) * y_pred).amax(-1)
    return (negative - positive + 1.0).clamp_min(0.0)


@register
class Hinge(FixedFunctionMetric):
    """Running mean of the hinge loss.

    >>> Hinge()([[1.0, 0.0]], [[0.5, -0.5]])
    tensor(0.5000)
    """

    def __init__(self, name: str = "hinge", dtype: str | torch.dtype | None = None):
        super().__init__(hinge, name=name, dtype=dtype)


@register
class SquaredHinge(FixedFunctionMetric):
    """Running mean of the squared hinge loss.

    >>> SquaredHinge()([[1.0, 0.0]], [[0.5, -0.5]])
    tensor(0.2500)
    """

    def __init__(self, name: str = "squared_hinge", dtype: str | torch.dtype | None = None):
        super().__init__(squared_hinge, name=name, dtype=dtype)


@register
class CategoricalHinge(FixedFunctionMetric):
    """Running mean of the categorical hinge loss.

    >>> CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.7]])
    tensor(0.6000)
    """

    def __init__(self, name: str = "categorical_hinge", dtype: str | torch.dtype | None = None):
        super().__init__(categorical_hinge, name=name, dtype=dtype)
