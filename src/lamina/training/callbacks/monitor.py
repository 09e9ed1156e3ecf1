"""What EarlyStopping, ModelCheckpoint and ReduceLROnPlateau share: a monitored quantity, its direction and the
test for an improvement (Keras's ``MonitorCallback``)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from lamina.training.callbacks.base import Callback

# Where a metric object does not say its direction (Keras's ``_direction``), its name does.
_UP = ("acc", "auc", "precision", "recall", "f1_score", "fbeta", "iou", "r2_score", "cosine_similarity",
       "true_positives", "true_negatives", "specificity", "sensitivity")
_DOWN = ("loss", "error", "mae", "mse", "mape", "msle", "rmse", "crossentropy", "hinge", "poisson", "divergence",
         "kld", "logcosh", "false_positives", "false_negatives")


class MonitorCallback(Callback):
    """Base for callbacks that watch ``monitor`` in the epoch logs.

    ``mode="auto"`` minimises losses and errors and maximises accuracies (from the metric's ``_direction`` when
    the model's metric has one, else from its name); ``min_delta`` is the smallest change that counts.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline: float | None = None,
                 min_delta: float = 0.0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max'; received {mode!r}.")
        self.monitor = monitor
        self.mode = mode
        self.best: float | None = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op: Callable[[Any, Any], bool] | None = None

    def _set_monitor_op(self) -> None:
        """Fix the direction (after the first epoch, when the model's metrics are built), and sign ``min_delta``."""
        if self.mode == "min":
            self.monitor_op = operator.lt
        elif self.mode == "max":
            self.monitor_op = operator.gt
        else:
            direction = _direction(self.monitor.removeprefix("val_"), self.model)
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} received monitor={self.monitor!r}, and lamina cannot tell whether that "
                    "quantity should be minimized or maximized. Pass mode='max' to keep the highest value, or "
                    "mode='min' to keep the lowest."
                )
            self.monitor_op = operator.gt if direction == "up" else operator.lt
        if self.monitor_op is operator.lt:
            self.min_delta = -abs(self.min_delta)

    # Resumable state (BackupAndRestore saves it as JSON): the best value and the direction fixed so far.
    def state_dict(self) -> dict:
        op = {operator.lt: "min", operator.gt: "max"}.get(self.monitor_op)  # type: ignore[call-overload]
        return {"best": None if self.best is None else float(self.best), "direction": op,
                "min_delta": self.min_delta}

    def load_state_dict(self, state: dict) -> None:
        self.best = state["best"]
        self.monitor_op = {"min": operator.lt, "max": operator.gt, None: None}[state["direction"]]
        self.min_delta = state["min_delta"]

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))


def _direction(name: str, model: Any) -> str | None:
    """'up' or 'down' for a metric name: the model's metric object decides if it knows, else the name."""
    if name == "loss":
        return "down"
    for metric in _model_metrics(model):
        if getattr(metric, "name", None) == name and getattr(metric, "_direction", None) in ("up", "down"):
            return metric._direction
    lowered = name.lower()
    if any(token in lowered for token in _DOWN):
        return "down"
    if any(token in lowered for token in _UP):
        return "up"
    return None


def _model_metrics(model: Any) -> list:
    try:
        metrics = list(getattr(model, "metrics", None) or [])
    except (AttributeError, TypeError, ValueError):  # an uncompiled model, or a stand-in without metrics
        return []
    out = []
    for m in metrics:  # containers of metrics (compiled metrics) hold theirs in .metrics
        inner = getattr(m, "metrics", None)
        out.extend(inner if isinstance(inner, list) else [m])
    return out
