"""Confusion-matrix metrics at decision thresholds: ``TruePositives``, ``FalsePositives``, ``TrueNegatives``,
``FalseNegatives``, ``Precision``, ``Recall``, ``PrecisionAtRecall``, ``RecallAtPrecision``,
``SensitivityAtSpecificity`` and ``SpecificityAtSensitivity`` (``AUC`` builds on the same counts).

A prediction is positive at threshold ``t`` when ``y_pred > t``; a label is positive when it is not 0. Counts are
kept per threshold as device tensors. Evenly spaced thresholds (``i / (n - 1)``) are counted with one bucketing
pass over the predictions instead of one comparison per threshold, as Keras does.

>>> import torch
>>> m = Precision()
>>> m.update_state(torch.tensor([0, 1, 1, 1]), torch.tensor([1.0, 1.0, 0.0, 0.8]))
>>> m.result()
tensor(0.6667)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lamina.core import config
from lamina.metrics.base import Metric, as_tensor, divide_no_nan, match_rank, register

#: The score given to entries outside the top k, so that no threshold makes them positive.
NEG_INF = -1e10
KINDS = ("tp", "fp", "tn", "fn")


def parse_thresholds(thresholds: float | Sequence[float] | None, default: float) -> list[float]:
    """``thresholds`` as a list (``default`` when None), each checked to lie in [0, 1]."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    bad = [t for t in values if t is None or not 0 <= t <= 1]
    if bad or not values:
        raise ValueError(f"Threshold values must be numbers in [0, 1]; received thresholds={thresholds!r}.")
    return [float(t) for t in values]


def evenly_distributed(thresholds: Sequence[float]) -> bool:
    """Whether the thresholds are ``0, 1/(n-1), ..., 1`` (n >= 3) within epsilon, so bucketing applies."""
    n = len(thresholds)
    if n < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=config.epsilon()))


def confusion_counts(y_true: Any, y_pred: Any, thresholds: torch.Tensor, kinds: Sequence[str], *,
                     dtype: torch.dtype, evenly: bool = False, with_epsilon: bool = False,
                     top_k: int | None = None, class_id: int | None = None, sample_weight: Any = None,
                     multi_label: bool = False, label_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """This batch's (weighted) counts of each kind in ``kinds`` per threshold: shape (thresholds,), or
    (thresholds, labels) with ``multi_label`` (labels are the last axis of a rank-2 ``y_pred``)."""
    y_pred = as_tensor(y_pred, dtype=dtype)
    y_true = as_tensor(y_true, dtype=dtype, device=y_pred.device)
    y_pred, y_true = match_rank(y_pred, y_true)
    weight = None
    if sample_weight is not None:
        weight = as_tensor(sample_weight, dtype=dtype, device=y_pred.device).unsqueeze(-1)
        _, weight = match_rank(y_true, weight, expand_rank_1=False)
    if top_k is not None:
        keep = torch.zeros_like(y_pred, dtype=torch.bool).scatter_(-1, y_pred.topk(top_k, dim=-1).indices, True)
        y_pred = torch.where(keep, y_pred, torch.full_like(y_pred, NEG_INF))
    if class_id is not None:
        if y_pred.ndim < 2:
            raise ValueError(f"class_id={class_id} needs y_pred shaped (batch, classes); received shape "
                             f"{tuple(y_pred.shape)}.")
        y_true, y_pred = y_true[..., class_id:class_id + 1], y_pred[..., class_id:class_id + 1]
    if weight is not None:
        weight = torch.broadcast_to(weight, y_pred.shape)
    if label_weights is not None:
        label_weights = torch.broadcast_to(label_weights.unsqueeze(0), y_pred.shape)
        weight = label_weights if weight is None else weight * label_weights
    positive = y_true != 0
    if evenly:
        return _bucketed_counts(positive, y_pred, weight, thresholds.shape[0], kinds, dtype, with_epsilon,
                                multi_label)
    if multi_label:  # (thresholds, batch, labels), summed over the batch
        above = y_pred.unsqueeze(0) > thresholds.view(-1, 1, 1)
        positive = positive.unsqueeze(0)
        weight = None if weight is None else weight.unsqueeze(0)
    else:  # (thresholds, entries)
        above = y_pred.reshape(1, -1) > thresholds.view(-1, 1)
        positive = positive.reshape(1, -1)
        weight = None if weight is None else weight.reshape(1, -1)
    conditions = {"tp": lambda: positive & above, "fn": lambda: positive & ~above,
                  "fp": lambda: ~positive & above, "tn": lambda: ~positive & ~above}
    counts = {}
    for kind in kinds:
        hits = conditions[kind]().to(dtype)
        counts[kind] = (hits if weight is None else hits * weight).sum(1)
    return counts


def _bucketed_counts(positive: torch.Tensor, y_pred: torch.Tensor, weight: torch.Tensor | None, n: int,
                     kinds: Sequence[str], dtype: torch.dtype, with_epsilon: bool,
                     multi_label: bool) -> dict[str, torch.Tensor]:
    """Counts at thresholds ``i / (n - 1)``: each prediction falls in bucket ``ceil(p (n - 1)) - 1`` (it is above
    every threshold up to that one), bucket sums are scattered on the device, and a reversed cumulative sum gives
    the count above each threshold. With epsilon-widened end thresholds, a prediction of 0 still counts at the
    first one."""
    true_w = positive.to(dtype)
    false_w = 1.0 - true_w
    if weight is not None:
        true_w, false_w = true_w * weight, false_w * weight
    bucket = torch.ceil(y_pred.clamp(0.0, 1.0) * (n - 1)) - 1
    if with_epsilon:
        bucket = bucket.clamp_min(0)
    bucket = bucket.long()
    bucket = torch.where(bucket < 0, torch.full_like(bucket, n), bucket)  # below every threshold: a dropped slot
    if not multi_label:
        true_w, false_w, bucket = true_w.reshape(-1), false_w.reshape(-1), bucket.reshape(-1)
    slots = (n + 1, *bucket.shape[1:])

    def above(weights: torch.Tensor) -> torch.Tensor:
        sums = torch.zeros(slots, dtype=dtype, device=weights.device).scatter_add_(0, bucket, weights)[:n]
        return sums.flip(0).cumsum(0).flip(0)

    tp, fp = above(true_w), above(false_w)
    counts = {"tp": tp, "fp": fp}
    if "fn" in kinds:
        counts["fn"] = true_w.sum(0) - tp
    if "tn" in kinds:
        counts["tn"] = false_w.sum(0) - fp
    return {kind: counts[kind] for kind in kinds}


class ConfusionMetric(Metric):
    """Base of the metrics above: thresholds on the host and cached per device, one count state per kind."""

    _kinds: tuple[str, ...] = KINDS

    def _setup_thresholds(self, thresholds: Sequence[float], evenly: bool,
                          state_shape: Sequence[int] | None = None) -> None:
        self._threshold_list = list(thresholds)
        self._evenly = evenly
        self._with_epsilon = evenly and (thresholds[0] < 0.0 or thresholds[-1] > 1.0)
        self._threshold_host = torch.tensor(self._threshold_list, dtype=torch.float64)
        self._threshold_cache: dict[torch.device, torch.Tensor] = {}
        for kind in self._kinds:
            self.add_state(kind, shape=(len(thresholds),) if state_shape is None else state_shape)

    def _thresholds_on(self, device: torch.device) -> torch.Tensor:
        cached = self._threshold_cache.get(device)
        if cached is None:  # one host-to-device copy per device, at the first update there
            cached = self._threshold_cache[device] = self._threshold_host.to(device=device, dtype=self._dtype)
        return cached

    def _update_counts(self, y_true: Any, y_pred: Any, sample_weight: Any, **options: Any) -> None:
        device = y_pred.device if isinstance(y_pred, torch.Tensor) else None
        counts = confusion_counts(y_true, y_pred, self._thresholds_on(device or torch.device("cpu")), self._kinds,
                                  dtype=self._dtype, evenly=self._evenly, with_epsilon=self._with_epsilon,
                                  sample_weight=sample_weight, **options)
        for kind, value in counts.items():
            self.accumulate(kind, value)

    def _counts(self, *kinds: str) -> list[torch.Tensor]:
        return [self.state_tensor(kind) for kind in kinds]

    def _single(self, values: torch.Tensor) -> torch.Tensor:
        """A scalar for one threshold (as Keras returns), else the vector, never aliasing the state."""
        return values[0].clone() if len(self._threshold_list) == 1 else values.clone()


class _ConditionCount(ConfusionMetric):
    _kind = "tp"

    def __init__(self, thresholds: float | Sequence[float] | None = None, name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(name=name, dtype=dtype)
        self._kinds = (self._kind,)
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(thresholds, 0.5)
        self._setup_thresholds(self.thresholds, evenly_distributed(self.thresholds))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self._update_counts(y_true, y_pred, sample_weight)

    def result(self) -> torch.Tensor:
        return self._single(self.state_tensor(self._kind))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds}


@register
class TruePositives(_ConditionCount):
    """The (weighted) number of positive labels predicted above each threshold (default 0.5).

    >>> TruePositives()([0, 1, 1, 1], [1.0, 0.0, 1.0, 1.0])
    tensor(2.)
    """

    _kind = "tp"


@register
class FalsePositives(_ConditionCount):
    """The (weighted) number of negative labels predicted above each threshold (default 0.5).

    >>> FalsePositives()([0, 1, 0, 0], [0.0, 0.0, 1.0, 1.0])
    tensor(2.)
    """

    _kind = "fp"


@register
class TrueNegatives(_ConditionCount):
    """The (weighted) number of negative labels predicted at or below each threshold (default 0.5).

    >>> TrueNegatives()([0, 1, 0, 0], [0.0, 0.0, 1.0, 1.0])
    tensor(1.)
    """

    _kind = "tn"


@register
class FalseNegatives(_ConditionCount):
    """The (weighted) number of positive labels predicted at or below each threshold (default 0.5).

    >>> FalseNegatives()([0, 1, 1, 1], [0.0, 0.0, 1.0, 1.0])
    tensor(1.)
    """

    _kind = "fn"


class _PrecisionRecall(ConfusionMetric):
    def __init__(self, thresholds: float | Sequence[float] | None = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None, dtype: str | torch.dtype | None = None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        # With top_k, entries outside the top k sit at NEG_INF; the default threshold then keeps all of the top k.
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._setup_thresholds(self.thresholds, evenly_distributed(self.thresholds))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self._update_counts(y_true, y_pred, sample_weight, top_k=self.top_k, class_id=self.class_id)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


@register
class Precision(_PrecisionRecall):
    """``TP / (TP + FP)``: how many of the predicted positives are positive.

    ``thresholds`` may be a list (the result is then one value per threshold); ``top_k`` counts only the k
    highest scores of each sample as predicted; ``class_id`` looks at one class of (batch, classes) data.

    >>> Precision(thresholds=[0.3, 0.9])([0, 1, 1], [0.5, 0.7, 0.95])
    tensor([0.6667, 1.0000])
    """

    _kinds = ("tp", "fp")

    def result(self) -> torch.Tensor:
        tp, fp = self._counts("tp", "fp")
        return self._single(divide_no_nan(tp, tp + fp))


@register
class Recall(_PrecisionRecall):
    """``TP / (TP + FN)``: how many of the positive labels are predicted positive.

    Takes the same ``thresholds``, ``top_k`` and ``class_id`` as ``Precision``.

    >>> Recall()([0, 1, 1, 1], [1.0, 0.0, 1.0, 1.0])
    tensor(0.6667)
    """

    _kinds = ("tp", "fn")

    def result(self) -> torch.Tensor:
        tp, fn = self._counts("tp", "fn")
        return self._single(divide_no_nan(tp, tp + fn))


class _AtConstraint(ConfusionMetric):
    """The best value of one rate among the thresholds where another rate reaches ``value``."""

    _value_name = "value"

    def __init__(self, value: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: str | torch.dtype | None = None):
        if not 0 <= value <= 1:
            raise ValueError(f"Argument `{self._value_name}` must be in [0, 1]; received {value!r}.")
        if num_thresholds <= 0:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 0; received {num_thresholds!r}.")
        super().__init__(name=name, dtype=dtype)
        self.value = value
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        if num_thresholds == 1:
            thresholds, evenly = [0.5], False
        else:
            thresholds = [i / (num_thresholds - 1) for i in range(num_thresholds)]
            thresholds[0], thresholds[-1] = 0.0, 1.0
            evenly = True
        self.thresholds = thresholds
        self._setup_thresholds(thresholds, evenly)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self._update_counts(y_true, y_pred, sample_weight, class_id=self.class_id)

    def _rates(self) -> dict[str, torch.Tensor]:
        tp, fp, tn, fn = self._counts("tp", "fp", "tn", "fn")
        recall = divide_no_nan(tp, tp + fn)
        return {"recall": recall, "sensitivity": recall, "precision": divide_no_nan(tp, tp + fp),
                "specificity": divide_no_nan(tn, tn + fp)}

    def _best(self, constrained: str, dependent: str) -> torch.Tensor:
        rates = self._rates()
        feasible = rates[constrained] >= self.value
        return torch.where(feasible, rates[dependent], torch.zeros_like(rates[dependent])).amax().clamp_min(0.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_id": self.class_id, "num_thresholds": self.num_thresholds,
                self._value_name: self.value}


@register
class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity (recall) among thresholds whose specificity is at least ``specificity``.

    >>> SensitivityAtSpecificity(0.5)([0, 0, 0, 1, 1], [0.0, 0.3, 0.8, 0.3, 0.9])
    tensor(0.5000)
    """

    _value_name = "specificity"

    def __init__(self, specificity: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: str | torch.dtype | None = None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)
        self.specificity = specificity

    def result(self) -> torch.Tensor:
        return self._best("specificity", "sensitivity")


@register
class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity among thresholds whose sensitivity (recall) is at least ``sensitivity``.

    >>> SpecificityAtSensitivity(0.5)([0, 0, 0, 1, 1], [0.0, 0.3, 0.8, 0.3, 0.9])
    tensor(1.)
    """

    _value_name = "sensitivity"

    def __init__(self, sensitivity: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: str | torch.dtype | None = None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)
        self.sensitivity = sensitivity

    def result(self) -> torch.Tensor:
        return self._best("sensitivity", "specificity")


@register
class PrecisionAtRecall(_AtConstraint):
    """The best precision among thresholds whose recall is at least ``recall``.

    >>> PrecisionAtRecall(0.5)([0, 0, 1, 1], [0.0, 0.5, 0.3, 0.9])
    tensor(1.)
    """

    _value_name = "recall"

    def __init__(self, recall: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: str | torch.dtype | None = None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)
        self.recall = recall

    def result(self) -> torch.Tensor:
        return self._best("recall", "precision")


@register
class RecallAtPrecision(_AtConstraint):
    """The best recall among thresholds whose precision is at least ``precision``.

    >>> RecallAtPrecision(0.8)([0, 0, 1, 1], [0.0, 0.5, 0.3, 0.9])
    tensor(0.5000)
    """

    _value_name = "precision"

    def __init__(self, precision: float, num_thresholds: int = 200, class_id: int | None = None,
                 name: str | None = None, dtype: str | torch.dtype | None = None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)
        self.precision = precision

    def result(self) -> torch.Tensor:
        return self._best("precision", "recall")
