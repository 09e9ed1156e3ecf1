"""``FBetaScore`` and ``F1Score``: the weighted harmonic mean of precision and recall, per class or averaged.

>>> import torch
>>> m = F1Score(average="micro")
>>> m.update_state(torch.tensor([[0, 1], [1, 0]]), torch.tensor([[0.2, 0.8], [0.3, 0.7]]))
>>> m.result()
tensor(0.5000)
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.core import config
from lamina.metrics.base import Metric, as_tensor, check_choice, register


@register
class FBetaScore(Metric):
    """``(1 + beta^2) * precision * recall / (beta^2 * precision + recall)`` over (batch, classes) data.

    Predictions are made binary per class: ``y_pred > threshold``, or with ``threshold=None`` the highest score
    of each row (ties included, zeros excluded). ``average`` is None (one score per class), ``"micro"`` (counts
    pooled over classes), ``"macro"`` (mean of the class scores) or ``"weighted"`` (class scores weighted by the
    number of true instances). ``sample_weight`` weighs rows.

    >>> FBetaScore(beta=2.0, threshold=0.5)([[1, 1, 0]], [[0.9, 0.2, 0.8]])
    tensor([1.0000, 0.0000, 0.0000])
    """

    def __init__(self, average: str | None = None, beta: float = 1.0, threshold: float | None = None,
                 name: str = "fbeta_score", dtype: str | torch.dtype | None = None):
        super().__init__(name=name, dtype=dtype)
        check_choice("average", average, (None, "micro", "macro", "weighted"))
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"Invalid `beta`: expected a Python float > 0, e.g. beta=2.0; received {beta!r}.")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError(f"Invalid `threshold`: expected a Python float with 0 < threshold <= 1, or None; "
                             f"received {threshold!r}.")
        self.average = average
        self.beta = beta
        self.threshold = threshold
        for name_ in ("true_positives", "false_positives", "false_negatives", "intermediate_weights"):
            self.add_state(name_, shape=() if average == "micro" else None)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = as_tensor(y_pred, dtype=self._dtype)
        y_true = as_tensor(y_true, dtype=self._dtype, device=y_pred.device)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError(f"{type(self).__name__} expects inputs shaped (batch_size, num_classes); received "
                             f"y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}.")
        if self.threshold is None:
            predicted = (y_pred >= y_pred.amax(-1, keepdim=True)) & (y_pred.abs() > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.to(self._dtype)
        weight = None
        if sample_weight is not None:
            weight = as_tensor(sample_weight, dtype=self._dtype, device=y_pred.device).reshape(-1, 1)
        axis = None if self.average == "micro" else 0

        def total(values: torch.Tensor) -> torch.Tensor:
            if weight is not None:
                values = values * weight
            return values.sum() if axis is None else values.sum(axis)

        self.accumulate("true_positives", total(predicted * y_true))
        self.accumulate("false_positives", total(predicted * (1.0 - y_true)))
        self.accumulate("false_negatives", total((1.0 - predicted) * y_true))
        self.accumulate("intermediate_weights", total(y_true))

    def result(self) -> torch.Tensor:
        eps = config.epsilon()
        tp = self.state_tensor("true_positives")
        fp, fn = self.state_tensor("false_positives"), self.state_tensor("false_negatives")
        precision = tp / (tp + fp + eps)
        recall = tp / (tp + fn + eps)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + eps) * (1.0 + b2)
        if self.average == "weighted":
            support = self.state_tensor("intermediate_weights")
            return (score * (support / (support.sum() + eps))).sum()
        if self.average is not None:
            return score.mean()
        return score

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


@register
class F1Score(FBetaScore):
    """``FBetaScore`` with ``beta = 1``: ``2 * precision * recall / (precision + recall)``.

    >>> F1Score(threshold=0.5)([[1, 1, 0]], [[0.9, 0.2, 0.8]])
    tensor([1.0000, 0.0000, 0.0000])
    """

    def __init__(self, average: str | None = None, threshold: float | None = None, name: str = "f1_score",
                 dtype: str | torch.dtype | None = None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        config_ = super().get_config()
        del config_["beta"]
        return config_
