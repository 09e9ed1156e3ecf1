"""Correlation metrics: per-sample Pearson and concordance (Lin's) correlation along an axis, and their
running means ``PearsonCorrelation`` and ``ConcordanceCorrelation``.

>>> import torch
>>> pearson_correlation(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[2.0, 4.0, 6.0]]))
tensor([1.])
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.metrics.base import FixedFunctionMetric, register, register_function
from lamina.metrics.regression import _regression_pair

__all__ = ["ConcordanceCorrelation", "PearsonCorrelation", "concordance_correlation", "pearson_correlation"]


def _moments(y_true: Any, y_pred: Any, axis: int) -> tuple[torch.Tensor, ...]:
    """Deviations from the mean along ``axis`` and the (population) variances and covariance."""
    y_true, y_pred = _regression_pair(y_true, y_pred)
    mean_true, mean_pred = y_true.mean(axis, keepdim=True), y_pred.mean(axis, keepdim=True)
    dev_true, dev_pred = y_true - mean_true, y_pred - mean_pred
    var_true, var_pred = dev_true.square().mean(axis), dev_pred.square().mean(axis)
    covariance = (dev_true * dev_pred).mean(axis)
    return mean_true.squeeze(axis), mean_pred.squeeze(axis), var_true, var_pred, covariance


@register_function("pearson_correlation")
def pearson_correlation(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Pearson's correlation coefficient between ``y_true`` and ``y_pred`` along ``axis`` (NaN where either
    is constant, as in Keras).

    >>> import torch
    >>> pearson_correlation(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[3.0, 2.0, 1.0]]))
    tensor([-1.])
    """
    _, _, var_true, var_pred, covariance = _moments(y_true, y_pred, axis)
    return covariance / (var_true * var_pred).sqrt()


@register_function("concordance_correlation")
def concordance_correlation(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Lin's concordance correlation ``2 cov / (var_true + var_pred + (mean_true - mean_pred)**2)`` along
    ``axis``: 1 only where predictions equal the labels, lower for any shift or scale.

    >>> import torch
    >>> concordance_correlation(torch.tensor([[0.0, 1.0, 0.0, 2.0]]), torch.tensor([[1.0, 0.0, 1.0, 0.0]]))
    tensor([-0.7500])
    """
    mean_true, mean_pred, var_true, var_pred, covariance = _moments(y_true, y_pred, axis)
    return 2.0 * covariance / (var_true + var_pred + (mean_true - mean_pred).square())


@register
class PearsonCorrelation(FixedFunctionMetric):
    """Running (weighted) mean of the per-sample Pearson correlation along ``axis``.

    >>> PearsonCorrelation()([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    tensor(0.)
    """

    _config_keys = ("axis",)

    def __init__(self, name: str = "pearson_correlation", dtype: str | torch.dtype | None = None, axis: int = -1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis


@register
class ConcordanceCorrelation(FixedFunctionMetric):
    """Running (weighted) mean of the per-sample concordance correlation along ``axis``.

    >>> ConcordanceCorrelation()([[1.0, 2.0]], [[1.0, 2.0]])
    tensor(1.)
    """

    _config_keys = ("axis",)

    def __init__(self, name: str = "concordance_correlation", dtype: str | torch.dtype | None = None,
                 axis: int = -1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
