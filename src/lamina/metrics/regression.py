"""Regression metrics: the per-sample error functions, their running means, ``RootMeanSquaredError`` and
``R2Score``.

>>> import torch
>>> MeanSquaredError()(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
tensor(2.5000)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from lamina.core import config
from lamina.metrics.base import (
    METRICS,
    FixedFunctionMetric,
    Mean,
    Metric,
    as_tensor,
    check_choice,
    match_rank,
    register,
    register_function,
)

# ----------------------------------------------------------------------- per-sample functions


def _regression_pair(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = as_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(config.standardize_dtype(None))
    return match_rank(as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device), y_pred)


@register_function("mean_squared_error", "mse")
def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of squared differences over the last axis.

    >>> import torch
    >>> mean_squared_error(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([2.5000])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return (y_pred - y_true).square().mean(-1)


@register_function("mean_absolute_error", "mae")
def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of absolute differences over the last axis.

    >>> import torch
    >>> mean_absolute_error(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([1.5000])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return (y_pred - y_true).abs().mean(-1)


@register_function("mean_absolute_percentage_error", "mape")
def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))`` over the last axis.

    >>> import torch
    >>> mean_absolute_percentage_error(torch.tensor([[2.0, 4.0]]), torch.tensor([[1.0, 5.0]]))
    tensor([37.5000])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return 100.0 * ((y_true - y_pred) / y_true.abs().clamp_min(config.epsilon())).abs().mean(-1)


@register_function("mean_squared_logarithmic_error", "msle")
def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of ``(log(1 + max(y_pred, eps)) - log(1 + max(y_true, eps)))**2`` over the last axis.

    >>> import torch
    >>> mean_squared_logarithmic_error(torch.tensor([[0.0]]), torch.tensor([[math.e - 1]]))
    tensor([1.0000])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    eps = config.epsilon()
    return (torch.log1p(y_pred.clamp_min(eps)) - torch.log1p(y_true.clamp_min(eps))).square().mean(-1)


def _l2_normalize(x: torch.Tensor, axis: int) -> torch.Tensor:
    # Keras: x * min(rsqrt(sum(x^2)), 1 / epsilon), so an all-zero vector stays zero.
    return x * torch.rsqrt(x.square().sum(axis, keepdim=True)).clamp_max(1.0 / config.epsilon())


@register_function("cosine_similarity")
def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Cosine of the angle between ``y_true`` and ``y_pred`` along ``axis``.

    >>> import torch
    >>> cosine_similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]]))
    tensor([0.7071])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return (_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis)).sum(axis)


@register_function("huber")
def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> torch.Tensor:
    """Huber error over the last axis: half the squared error where ``|error| <= delta``, else
    ``delta * |error| - delta**2 / 2`` (Keras exposes this loss function in ``keras.metrics`` too).

    >>> import torch
    >>> huber(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))
    tensor([1.3125])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    error = (y_pred - y_true).abs()
    delta = float(delta)
    return torch.where(error <= delta, 0.5 * error.square(), delta * error - 0.5 * delta * delta).mean(-1)


@register_function("log_cosh", "logcosh")
def log_cosh(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of ``log(cosh(y_pred - y_true))`` over the last axis, computed without overflow.

    >>> import torch
    >>> log_cosh(torch.tensor([[0.0]]), torch.tensor([[1.0]]))
    tensor([0.4338])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    x = y_pred - y_true
    # log(cosh(x)) = x + log(1 + exp(-2x)) - log(2), stable for large |x| through softplus.
    return (x + torch.nn.functional.softplus(-2.0 * x) - math.log(2.0)).mean(-1)


# ---------------------------------------------------------------------------------- classes


@METRICS("MeanSquaredError", "mean_squared_error", "mse")
class MeanSquaredError(FixedFunctionMetric):
    """Running mean of squared errors.

    >>> MeanSquaredError()([[0.0, 2.0]], [[1.0, 0.0]])
    tensor(2.5000)
    """

    def __init__(self, name: str = "mean_squared_error", dtype: str | torch.dtype | None = None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


@METRICS("MeanAbsoluteError", "mean_absolute_error", "mae")
class MeanAbsoluteError(FixedFunctionMetric):
    """Running mean of absolute errors.

    >>> MeanAbsoluteError()([[0.0, 2.0]], [[1.0, 0.0]])
    tensor(1.5000)
    """

    def __init__(self, name: str = "mean_absolute_error", dtype: str | torch.dtype | None = None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


@METRICS("MeanAbsolutePercentageError", "mean_absolute_percentage_error", "mape")
class MeanAbsolutePercentageError(FixedFunctionMetric):
    """Running mean of absolute percentage errors.

    >>> MeanAbsolutePercentageError()([[2.0, 4.0]], [[1.0, 5.0]])
    tensor(37.5000)
    """

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype: str | torch.dtype | None = None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)


@METRICS("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "msle")
class MeanSquaredLogarithmicError(FixedFunctionMetric):
    """Running mean of squared logarithmic errors.

    >>> MeanSquaredLogarithmicError()([[0.0]], [[0.0]])
    tensor(0.)
    """

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype: str | torch.dtype | None = None):
        super().__init__(mean_squared_logarithmic_error, name=name, dtype=dtype)


@register
class CosineSimilarity(FixedFunctionMetric):
    """Running mean of the cosine similarity between labels and predictions along ``axis``.

    Keras leaves ``axis`` out of the config; lamina writes it only when it is not -1, so a round trip keeps it.

    >>> CosineSimilarity()([[1.0, 0.0]], [[1.0, 1.0]])
    tensor(0.7071)
    """

    def __init__(self, name: str = "cosine_similarity", dtype: str | torch.dtype | None = None, axis: int = -1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **({"axis": self.axis} if self.axis != -1 else {})}


@register
class LogCoshError(FixedFunctionMetric):
    """Running mean of the logarithm of the hyperbolic cosine of the error (named ``"logcosh"``, as in Keras).

    >>> LogCoshError()([[0.0]], [[1.0]])
    tensor(0.4338)
    """

    def __init__(self, name: str = "logcosh", dtype: str | torch.dtype | None = None):
        super().__init__(log_cosh, name=name, dtype=dtype)


@METRICS("RootMeanSquaredError", "root_mean_squared_error", "rmse")
class RootMeanSquaredError(Mean):
    """Square root of the running (weighted) mean of squared errors.

    >>> RootMeanSquaredError()([[0.0], [0.0]], [[3.0], [0.0]])
    tensor(2.1213)
    """

    def __init__(self, name: str = "root_mean_squared_error", dtype: str | torch.dtype | None = None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = as_tensor(y_pred, dtype=self._dtype)
        y_true, y_pred = match_rank(as_tensor(y_true, dtype=self._dtype, device=y_pred.device), y_pred)
        super().update_state((y_pred - y_true).square(), sample_weight)

    def result(self) -> torch.Tensor:
        return super().result().sqrt()


@register
class R2Score(Metric):
    """The coefficient of determination, ``1 - SS_res / SS_tot`` per output, streamed over batches.

    ``class_aggregation`` is ``"uniform_average"`` (mean over outputs), ``"variance_weighted_average"`` (weighted
    by each output's total sum of squares) or None (one score per output). With ``num_regressors = p > 0`` the
    adjusted score ``1 - (1 - R2) (n - 1) / (n - p - 1)`` is returned, where ``n`` counts label entries as in
    Keras (rows times outputs); when ``n - 1 <= p`` it warns and returns the plain score. Inputs are
    ``(batch, outputs)`` (or ``(batch,)``, read as one output).

    >>> R2Score()([[1.0], [2.0], [3.0]], [[1.0], [2.0], [4.0]])
    tensor(0.5000)
    """

    def __init__(self, class_aggregation: str | None = "uniform_average", num_regressors: int = 0,
                 name: str = "r2_score", dtype: str | torch.dtype | None = None):
        super().__init__(name=name, dtype=dtype)
        check_choice("class_aggregation", class_aggregation, (None, "uniform_average", "variance_weighted_average"))
        if num_regressors < 0:
            raise ValueError(f"Invalid `num_regressors`: expected a value >= 0; received {num_regressors}.")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        for name_ in ("squared_sum", "sum", "residual", "count"):
            self.add_state(name_, shape=None)
        self.add_state("num_samples")  # a host number: label entries seen (known from shapes)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = as_tensor(y_pred, dtype=self._dtype)
        y_true, y_pred = match_rank(as_tensor(y_true, dtype=self._dtype, device=y_pred.device), y_pred)
        if y_true.ndim == 1:
            y_true, y_pred = y_true.unsqueeze(-1), y_pred.unsqueeze(-1)
        if y_true.ndim != 2 or y_pred.ndim != 2:
            raise ValueError(f"R2Score expects inputs shaped (batch_size, output_dim); received y_true.shape="
                             f"{tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}.")
        if sample_weight is None:
            weight = torch.ones_like(y_true)
        else:
            weight = as_tensor(sample_weight, dtype=self._dtype, device=y_true.device)
            if weight.ndim == 1:
                weight = weight.unsqueeze(1)
            weight = torch.broadcast_to(weight, y_true.shape)
        weighted = y_true * weight
        self.accumulate("sum", weighted.sum(0))
        self.accumulate("squared_sum", (y_true * weighted).sum(0))
        self.accumulate("residual", ((y_true - y_pred).square() * weight).sum(0))
        self.accumulate("count", weight.sum(0))
        self.accumulate("num_samples", y_true.numel())

    def result(self) -> torch.Tensor:
        total_sum = self.state_tensor("sum")
        mean = total_sum / self.state_tensor("count")
        total = self.state_tensor("squared_sum") - total_sum * mean
        raw = 1.0 - self.state_tensor("residual") / total
        raw = torch.where(torch.isinf(raw), torch.zeros_like(raw), raw)
        if self.class_aggregation == "uniform_average":
            r2 = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            r2 = (total * raw).sum() / total.sum()
        else:
            r2 = raw
        n, p = self.state("num_samples"), self.num_regressors
        if p:
            if p >= n - 1:
                warnings.warn("R2Score: num_regressors >= num_samples - 1, so the adjusted R2 score is undefined; "
                              "returning the plain R2 score.", stacklevel=2)
            else:
                r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - p - 1)
        return r2

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
