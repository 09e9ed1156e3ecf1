"""Intersection-over-union metrics for segmentation and classification: ``IoU``, ``MeanIoU``, ``BinaryIoU``,
``OneHotIoU`` and ``OneHotMeanIoU``.

All keep a (num_classes, num_classes) confusion matrix (rows: true class, columns: predicted class) as a device
tensor. As in Keras, its dtype defaults to ``"int32"``, so sample weights are truncated to integers unless a float
``dtype`` is given. Entries whose true or predicted class lies outside ``[0, num_classes)`` or whose true class is
``ignore_class`` are left out.

>>> import torch
>>> m = MeanIoU(num_classes=2)
>>> m.update_state(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1]))
>>> m.result()
tensor(0.3333)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch

from lamina.core import config
from lamina.metrics.base import Metric, as_tensor, register


class _IoUBase(Metric):
    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: str | None = None,
                 dtype: str | torch.dtype | None = None, ignore_class: int | None = None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis: int = -1):
        super().__init__(name=name, dtype=dtype or "int32")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"`num_classes` must be a positive integer; received {num_classes!r}.")
        target_class_ids = list(target_class_ids)
        if not target_class_ids or min(target_class_ids) < 0 or max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class ids must lie in [0, {num_classes}); received {target_class_ids}.")
        self.num_classes = num_classes
        self.target_class_ids = target_class_ids
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self._targets_host = torch.tensor(target_class_ids, dtype=torch.long)
        self._target_cache: dict[torch.device, torch.Tensor] = {}
        self._warned = False
        self.add_state("total_cm", shape=(num_classes, num_classes))

    def _class_ids(self, values: Any, sparse: bool) -> torch.Tensor:
        values = as_tensor(values)
        if not sparse:
            values = values.argmax(self.axis)
        return values.to(self._dtype).reshape(-1)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = self._class_ids(y_pred, self.sparse_y_pred)
        y_true = self._class_ids(as_tensor(y_true, device=y_pred.device), self.sparse_y_true)
        n = self.num_classes
        valid = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n)
        if self.ignore_class is not None:
            valid = valid & (y_true != self.ignore_class)
        if sample_weight is None:
            weight = valid.to(self._dtype)
        else:
            weight = as_tensor(sample_weight, device=y_pred.device)
            if weight.is_floating_point() and not self._dtype.is_floating_point and not self._warned:
                self._warned = True  # once per metric: the check reads only the dtype, never the values
                warnings.warn(f"{type(self).__name__} received float sample weights but keeps an integer confusion "
                              f"matrix (dtype={self.dtype!r}), so the weights are truncated to integers. Pass integer "
                              f"weights, or dtype='float32' for fractional ones.", stacklevel=2)
            weight = weight.to(self._dtype)
            weight = torch.broadcast_to(weight.reshape(-1) if weight.ndim > 1 else weight, y_true.shape)
            weight = torch.where(valid, weight, torch.zeros_like(weight))
        index = torch.where(valid, y_true.long() * n + y_pred.long(), torch.zeros_like(y_true, dtype=torch.long))
        counts = torch.zeros(n * n, dtype=self._dtype, device=y_pred.device).index_add_(0, index, weight)
        self.accumulate("total_cm", counts.view(n, n))

    def result(self) -> torch.Tensor:
        cm = self.state_tensor("total_cm").to(torch.float32)
        targets = self._target_cache.get(cm.device)
        if targets is None:
            targets = self._target_cache[cm.device] = self._targets_host.to(cm.device)
        true_positives = cm.diagonal()
        denominator = (cm.sum(0) + cm.sum(1) - true_positives)[targets]
        true_positives = true_positives[targets]
        valid = denominator > 1e-9
        eps = config.epsilon()
        iou = torch.where(valid, true_positives / (denominator + eps), torch.zeros_like(true_positives))
        return iou.sum() / (valid.to(torch.float32).sum() + eps)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


@register
class IoU(_IoUBase):
    """Mean intersection-over-union ``TP / (TP + FP + FN)`` over the classes in ``target_class_ids``.

    Labels and predictions are class ids (``sparse_y_true``/``sparse_y_pred``) or scores whose arg-max along
    ``axis`` is taken. Classes never seen (zero denominator) are left out of the mean.

    >>> IoU(num_classes=2, target_class_ids=[0])([0, 0, 1, 1], [0, 1, 0, 1])
    tensor(0.3333)
    """

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: str | None = None,
                 dtype: str | torch.dtype | None = None, ignore_class: int | None = None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis: int = -1):
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class, sparse_y_true, sparse_y_pred,
                         axis)


@register
class MeanIoU(_IoUBase):
    """Intersection-over-union averaged over all ``num_classes`` classes.

    >>> MeanIoU(num_classes=2)([0, 0, 1, 1], [0, 1, 0, 1])
    tensor(0.3333)
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: str | torch.dtype | None = None,
                 ignore_class: int | None = None, sparse_y_true: bool = True, sparse_y_pred: bool = True,
                 axis: int = -1):
        super().__init__(num_classes, range(num_classes), name, dtype, ignore_class, sparse_y_true, sparse_y_pred,
                         axis)

    def get_config(self) -> dict[str, Any]:
        config_ = super().get_config()
        del config_["target_class_ids"]
        return config_


@register
class BinaryIoU(_IoUBase):
    """IoU of binary labels against predictions thresholded at ``threshold`` (``y_pred >= threshold`` is class 1),
    averaged over ``target_class_ids`` (both classes by default).

    >>> BinaryIoU(target_class_ids=[1])([0, 1, 1], [0.2, 0.6, 0.4])
    tensor(0.5000)
    """

    def __init__(self, target_class_ids: Sequence[int] = (0, 1), threshold: float = 0.5, name: str | None = None,
                 dtype: str | torch.dtype | None = None):
        super().__init__(2, target_class_ids, name, dtype)
        self.threshold = threshold

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = as_tensor(y_pred, dtype=torch.float32) >= self.threshold
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


@register
class OneHotIoU(_IoUBase):
    """``IoU`` for one-hot labels (and, unless ``sparse_y_pred=True``, score predictions): arg-max along ``axis``.

    >>> OneHotIoU(num_classes=2, target_class_ids=[1])([[1, 0], [0, 1]], [[0.2, 0.8], [0.3, 0.7]])
    tensor(0.5000)
    """

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name: str | None = None,
                 dtype: str | torch.dtype | None = None, ignore_class: int | None = None,
                 sparse_y_pred: bool = False, axis: int = -1):
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self) -> dict[str, Any]:
        config_ = super().get_config()
        del config_["sparse_y_true"]
        return config_


@register
class OneHotMeanIoU(_IoUBase):
    """``MeanIoU`` for one-hot labels (and, unless ``sparse_y_pred=True``, score predictions).

    >>> OneHotMeanIoU(num_classes=2)([[1, 0], [0, 1]], [[0.2, 0.8], [0.3, 0.7]])
    tensor(0.2500)
    """

    def __init__(self, num_classes: int, name: str | None = None, dtype: str | torch.dtype | None = None,
                 ignore_class: int | None = None, sparse_y_pred: bool = False, axis: int = -1):
        super().__init__(num_classes, range(num_classes), name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self) -> dict[str, Any]:
        config_ = super().get_config()
        del config_["target_class_ids"], config_["sparse_y_true"]
        return config_
