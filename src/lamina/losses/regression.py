"""Regression losses: mean squared / absolute / percentage / squared-logarithmic error, cosine similarity,
log-cosh and Huber.

>>> import torch
>>> MeanSquaredError()(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
tensor(2.5000)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.losses.base import LOSSES, Loss, LossFunctionWrapper, check_axis, match_rank, pair, register_function

Dtype = str | torch.dtype | None


def _kernel_mean(kernel: Callable[..., torch.Tensor], y_true: Any, y_pred: Any, mean: bool,
                 **kwargs: Any) -> torch.Tensor:
    """A fused PyTorch loss kernel, averaged over the last axis (or over everything with ``mean``)."""
    y_true, y_pred = pair(y_true, y_pred)
    if mean:
        return kernel(y_pred, y_true, reduction="mean", **kwargs)
    return kernel(y_pred, y_true, reduction="none", **kwargs).mean(-1)


# ---------------------------------------------------------------------------- loss functions


@register_function("mean_squared_error", "mse")
def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of squared differences over the last axis.

    >>> import torch
    >>> mean_squared_error(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([2.5000])
    """
    return _kernel_mean(F.mse_loss, y_true, y_pred, False)


@register_function("mean_absolute_error", "mae")
def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of absolute differences over the last axis.

    >>> import torch
    >>> mean_absolute_error(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([1.5000])
    """
    return _kernel_mean(F.l1_loss, y_true, y_pred, False)


@register_function("mean_absolute_percentage_error", "mape")
def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))`` over the last axis.

    >>> import torch
    >>> mean_absolute_percentage_error(torch.tensor([[2.0, 4.0]]), torch.tensor([[1.0, 5.0]]))
    tensor([37.5000])
    """
    y_true, y_pred = pair(y_true, y_pred)
    return 100.0 * ((y_true - y_pred).abs() / y_true.abs().clamp_min(config.epsilon())).mean(-1)


@register_function("mean_squared_logarithmic_error", "msle")
def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of ``(log(1 + y_pred) - log(1 + y_true)) ** 2`` over the last axis; values below epsilon count as
    epsilon.

    >>> import torch
    >>> round(float(mean_squared_logarithmic_error(torch.tensor([[1.0]]), torch.tensor([[0.0]]))[0]), 4)
    0.4805
    """
    y_true, y_pred = pair(y_true, y_pred)
    eps = config.epsilon()
    return (torch.log1p(y_pred.clamp_min(eps)) - torch.log1p(y_true.clamp_min(eps))).square().mean(-1)


@register_function("cosine_similarity")
def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Negative cosine similarity along ``axis``: -1 for the same direction, 0 when either vector is zero.

    >>> import torch
    >>> cosine_similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]))
    tensor([-1.])
    """
    y_true, y_pred = pair(y_true, y_pred)
    axis = check_axis(axis)
    eps = config.epsilon()
    return -(F.normalize(y_true, dim=axis, eps=eps) * F.normalize(y_pred, dim=axis, eps=eps)).sum(axis)


@register_function("log_cosh", "logcosh")
def log_cosh(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of ``log(cosh(y_pred - y_true))`` over the last axis (about ``x**2 / 2`` near 0, ``|x| - log 2`` far).

    >>> import torch
    >>> round(float(log_cosh(torch.tensor([[0.0]]), torch.tensor([[1.0]]))[0]), 4)
    0.4338
    """
    y_true, y_pred = pair(y_true, y_pred)
    x = y_pred - y_true
    # log(cosh x) = x + log(1 + exp(-2x)) - log 2, which does not overflow for large |x|
    return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(-1)


@register_function("huber", "huber_loss")
def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> torch.Tensor:
    """Huber loss (``x**2 / 2`` within ``delta``, ``delta * (|x| - delta / 2)`` beyond) averaged over the last axis.

    >>> import torch
    >>> huber(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))
    tensor([1.3125])
    """
    return _kernel_mean(F.huber_loss, y_true, y_pred, False, delta=float(delta))


# ---------------------------------------------------------------------------------- classes


class _FusedRegressionLoss(LossFunctionWrapper):
    """A regression loss whose unweighted mean is one fused PyTorch kernel."""

    _kernel: Callable[..., torch.Tensor]

    def _kernel_kwargs(self) -> dict[str, Any]:
        return {}

    def _fused_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        y_true, y_pred = match_rank(y_true, y_pred)
        if y_pred.ndim == 0 or y_true.ndim == 0:
            return None
        return _kernel_mean(type(self)._kernel, y_true, y_pred, True, **self._kernel_kwargs())

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


@LOSSES("MeanSquaredError", "mean_squared_error", "mse")
class MeanSquaredError(_FusedRegressionLoss):
    """Mean of squared errors.

    >>> import torch
    >>> MeanSquaredError()(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor(2.5000)
    """

    _kernel = staticmethod(F.mse_loss)

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_squared_error",
                 dtype: Dtype = None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


@LOSSES("MeanAbsoluteError", "mean_absolute_error", "mae")
class MeanAbsoluteError(_FusedRegressionLoss):
    """Mean of absolute errors.

    >>> import torch
    >>> MeanAbsoluteError()(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor(1.5000)
    """

    _kernel = staticmethod(F.l1_loss)

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_absolute_error",
                 dtype: Dtype = None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


@LOSSES("Huber", "huber", "huber_loss")
class Huber(_FusedRegressionLoss):
    """Huber loss: squared error within ``delta``, linear beyond it.

    >>> import torch
    >>> Huber(delta=1.0)(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))
    tensor(1.3125)
    """

    _kernel = staticmethod(F.huber_loss)

    def __init__(self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size",
                 name: str = "huber_loss", dtype: Dtype = None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)
        self.delta = delta

    def _kernel_kwargs(self) -> dict[str, Any]:
        return {"delta": float(self.delta)}

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "delta": self.delta}


class _PlainLoss(LossFunctionWrapper):
    """A loss class fixed to one function without options; its config is Loss's."""

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


@LOSSES("MeanAbsolutePercentageError", "mean_absolute_percentage_error", "mape")
class MeanAbsolutePercentageError(_PlainLoss):
    """Mean absolute percentage error: ``100 * mean(|y_true - y_pred| / |y_true|)``.

    >>> import torch
    >>> MeanAbsolutePercentageError()(torch.tensor([[2.0, 4.0]]), torch.tensor([[1.0, 5.0]]))
    tensor(37.5000)
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_absolute_percentage_error",
                 dtype: Dtype = None):
        super().__init__(mean_absolute_percentage_error, name=name, reduction=reduction, dtype=dtype)


@LOSSES("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "msle")
class MeanSquaredLogarithmicError(_PlainLoss):
    """Mean squared error between ``log(1 + y_true)`` and ``log(1 + y_pred)``.

    >>> import torch
    >>> round(float(MeanSquaredLogarithmicError()(torch.tensor([[1.0]]), torch.tensor([[0.0]]))), 4)
    0.4805
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_squared_logarithmic_error",
                 dtype: Dtype = None):
        super().__init__(mean_squared_logarithmic_error, name=name, reduction=reduction, dtype=dtype)


@LOSSES("LogCosh", "log_cosh", "logcosh")
class LogCosh(_PlainLoss):
    """Logarithm of the hyperbolic cosine of the prediction error.

    >>> import torch
    >>> round(float(LogCosh()(torch.tensor([[0.0]]), torch.tensor([[1.0]]))), 4)
    0.4338
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "log_cosh", dtype: Dtype = None):
        super().__init__(log_cosh, name=name, reduction=reduction, dtype=dtype)


@LOSSES("CosineSimilarity", "cosine_similarity")
class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity between ``y_true`` and ``y_pred`` along ``axis`` (minimised at -1).

    >>> import torch
    >>> CosineSimilarity()(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    tensor(-0.5000)
    """

    def __init__(self, axis: int = -1, reduction: str | None = "sum_over_batch_size",
                 name: str = "cosine_similarity", dtype: Dtype = None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype, axis=check_axis(axis))
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "axis": self.axis}
