"""``AUC``: the area under the ROC or precision-recall curve, approximated from confusion counts at thresholds.

>>> import torch
>>> m = AUC(num_thresholds=3)
>>> m.update_state(torch.tensor([0, 0, 1, 1]), torch.tensor([0.0, 0.5, 0.3, 0.9]))
>>> m.result()
tensor(0.7500)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lamina.core import config
from lamina.metrics.base import as_tensor, check_choice, divide_no_nan, register
from lamina.metrics.confusion import ConfusionMetric, evenly_distributed

_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


@register
class AUC(ConfusionMetric):
    """Area under the ROC curve (``curve="ROC"``), the precision-recall curve (``"PR"``) or the precision-recall-
    gain curve (``"PRGAIN"``), from true/false positive/negative counts at ``num_thresholds`` thresholds.

    Thresholds are ``i / (num_thresholds - 1)`` widened by epsilon at both ends (or ``thresholds`` given
    explicitly, then sorted, with the two ends added). ``summation_method`` is ``"interpolation"`` (trapezoids; for
    PR the interpolation of Davis & Goadrich), ``"minoring"`` or ``"majoring"``. With ``multi_label=True`` each
    column of rank-2 data has its own curve and the areas are averaged (weighted by ``label_weights`` when given);
    otherwise all entries form one curve and ``label_weights`` weighs the columns' entries. ``from_logits``
    applies a sigmoid to the predictions first.

    >>> AUC(curve="PR", num_thresholds=3)([0, 0, 1, 1], [0.0, 0.5, 0.3, 0.9])
    tensor(0.8207)
    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None, dtype: str | torch.dtype | None = None,
                 thresholds: Sequence[float] | None = None, multi_label: bool = False, num_labels: int | None = None,
                 label_weights: Sequence[float] | None = None, from_logits: bool = False):
        check_choice("curve", str(curve).lower(), tuple(_CURVES))
        check_choice("summation_method", str(summation_method).lower(), _SUMMATIONS)
        super().__init__(name=name, dtype=dtype)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
            evenly = evenly_distributed([0.0, *inner, 1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1; received {num_thresholds!r}.")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        eps = config.epsilon()
        self.thresholds = [0.0 - eps, *inner, 1.0 + eps]
        self.curve = _CURVES[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        self.multi_label = multi_label
        if num_labels and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else [float(w) for w in label_weights]
        self._label_weights_host = None if label_weights is None else torch.tensor(self.label_weights)
        self._label_weight_cache: dict[torch.device, torch.Tensor] = {}
        self._from_logits = from_logits
        state_shape = None if multi_label and not num_labels else \
            (self.num_thresholds, num_labels) if multi_label else (self.num_thresholds,)
        self._setup_thresholds(self.thresholds, evenly, state_shape)

    def _label_weights_on(self, device: torch.device) -> torch.Tensor | None:
        if self._label_weights_host is None:
            return None
        cached = self._label_weight_cache.get(device)
        if cached is None:
            cached = self._label_weight_cache[device] = self._label_weights_host.to(device=device, dtype=self._dtype)
        return cached

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = as_tensor(y_pred, dtype=self._dtype)
        if self.multi_label and y_pred.ndim != 2:
            raise ValueError(f"AUC(multi_label=True) needs y_pred of rank 2 (batch, labels); received shape "
                             f"{tuple(y_pred.shape)}.")
        if self._from_logits:
            y_pred = torch.sigmoid(y_pred)
        label_weights = None if self.multi_label else self._label_weights_on(y_pred.device)
        self._update_counts(y_true, y_pred, sample_weight, multi_label=self.multi_label, label_weights=label_weights)

    def _average_labels(self, by_label: torch.Tensor) -> torch.Tensor:
        if not self.multi_label:
            return by_label
        weights = self._label_weights_on(by_label.device)
        if weights is None:
            return by_label.mean()
        return divide_no_nan((by_label * weights).sum(), weights.sum())

    def _interpolated_pr_auc(self, tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
        # Between neighbouring thresholds precision is interpolated linearly in TP against P = TP + FP, and the
        # area is integrated in closed form (Davis & Goadrich, 2006).
        d_tp = tp[:-1] - tp[1:]
        p = tp + fp
        d_p = p[:-1] - p[1:]
        slope = divide_no_nan(d_tp, d_p.clamp_min(0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = torch.where(both, divide_no_nan(p[:-1], p[1:].clamp_min(0)), torch.ones_like(p[1:]))
        increments = divide_no_nan(slope * (d_tp + intercept * torch.log(ratio)), (tp[1:] + fn[1:]).clamp_min(0))
        return self._average_labels(increments.sum(0))

    def result(self) -> torch.Tensor:
        tp, fp, tn, fn = self._counts("tp", "fp", "tn", "fn")
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr_auc(tp, fp, fn)
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = divide_no_nan(tp + fn, tn + fp)
            none = tp == 0
            recall_gain = torch.where(none, torch.zeros_like(tp), 1.0 - scale * divide_no_nan(fn, tp))
            precision_gain = torch.where(none, torch.ones_like(tp), 1.0 - scale * divide_no_nan(fp, tp))
            x, y = recall_gain.clamp_min(0.0), precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return self._average_labels(((x[:-1] - x[1:]) * heights).sum(0))

    def get_config(self) -> dict[str, Any]:
        config_ = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                   "summation_method": self.summation_method, "multi_label": self.multi_label,
                   "num_labels": self.num_labels, "label_weights": self.label_weights,
                   "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config_["thresholds"] = self.thresholds[1:-1]
        return config_
