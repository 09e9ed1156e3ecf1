"""Crossentropy losses: binary, categorical, sparse categorical and the focal variants.

>>> import torch
>>> loss = SparseCategoricalCrossentropy()
>>> y_pred = torch.tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
>>> round(float(loss(torch.tensor([1, 2]), y_pred)), 3)
1.177
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.losses.base import (
    LOSSES,
    Loss,
    LossFunctionWrapper,
    as_tensor,
    check_axis,
    float_pred,
    match_rank,
    pair,
    register_function,
)

Dtype = str | torch.dtype | None


def _check_smoothing(label_smoothing: float) -> float:
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]; received label_smoothing={label_smoothing!r}.")
    return float(label_smoothing)


def _sparse_labels(y_true: Any, y_pred: torch.Tensor, axis: int) -> torch.Tensor:
    """Integer class ids shaped like y_pred without its class axis ((n,) and (n, 1) both work)."""
    if type(y_true) is torch.Tensor and y_true.dtype is torch.long and axis == y_pred.ndim - 1 and \
            y_true.shape == y_pred.shape[:-1] and y_true.device == y_pred.device:
        return y_true  # the common case, decided in one pass
    y_true = as_tensor(y_true, device=y_pred.device)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    expected = list(y_pred.shape)
    del expected[axis]
    if list(y_true.shape) != expected:
        raise ValueError(
            "Sparse labels must have the shape of y_pred without its class axis; received "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}. For one-hot labels use "
            "CategoricalCrossentropy."
        )
    return y_true if y_true.dtype == torch.long else y_true.long()


def _onehot_pair(y_true: Any, y_pred: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = float_pred(y_pred)
    y_true = as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    if y_true.shape != y_pred.shape or y_pred.ndim < 1:
        raise ValueError(
            f"{what} needs one-hot (or soft) y_true shaped like y_pred (rank >= 1); received "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}. For integer labels use "
            "SparseCategoricalCrossentropy."
        )
    return y_true, y_pred


def _normalized_probs(y_pred: torch.Tensor, axis: int) -> torch.Tensor:
    """Keras's treatment of probabilities: rescaled to sum to 1 over ``axis``, clipped to [eps, 1 - eps]."""
    eps = config.epsilon()
    return (y_pred / y_pred.sum(axis, keepdim=True)).clamp(eps, 1.0 - eps)


# ---------------------------------------------------------------------------- loss functions
# The private versions take ``mean``: True returns the mean over every element in one fused
# kernel (what "sum_over_batch_size" yields when no sample weights are given).


def _scce(y_true: Any, y_pred: Any, from_logits: bool, ignore_class: int | None, axis: int,
          mean: bool = False) -> torch.Tensor:
    y_pred = float_pred(y_pred)
    axis = (axis if type(axis) is int else check_axis(axis)) % max(y_pred.ndim, 1)
    labels = _sparse_labels(y_true, y_pred, axis)
    if from_logits:
        logits = y_pred.movedim(axis, 1) if y_pred.ndim > 1 and axis != 1 else y_pred
        ignore = -100 if ignore_class is None else int(ignore_class)
        return F.cross_entropy(logits, labels, ignore_index=ignore, reduction="mean" if mean else "none")
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = torch.where(valid, labels, 0)
    # Normalising, clipping and taking the log of the picked probability only is element-for-element
    # what Keras computes on the whole distribution, without materialising a (batch, classes) log.
    picked = y_pred.gather(axis, labels.unsqueeze(axis)) / y_pred.sum(axis, keepdim=True)
    eps = config.epsilon()
    values = torch.log(picked.squeeze(axis).clamp(eps, 1.0 - eps)).neg()
    if valid is not None:
        values = torch.where(valid, values, 0.0)
    return values.mean() if mean else values


def _cce(y_true: Any, y_pred: Any, from_logits: bool, label_smoothing: float, axis: int,
         mean: bool = False) -> torch.Tensor:
    y_true, y_pred = _onehot_pair(y_true, y_pred, "categorical_crossentropy")
    axis = check_axis(axis) % y_pred.ndim
    label_smoothing = _check_smoothing(label_smoothing)
    if from_logits:
        if y_pred.ndim > 1 and axis != 1:
            y_pred, y_true = y_pred.movedim(axis, 1), y_true.movedim(axis, 1)
        return F.cross_entropy(y_pred, y_true, reduction="mean" if mean else "none", label_smoothing=label_smoothing)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    values = (y_true * torch.log(_normalized_probs(y_pred, axis))).sum(axis).neg()
    return values.mean() if mean else values


def _elementwise_bce(y_true: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    eps = config.epsilon()
    probs = probs.clamp(eps, 1.0 - eps)
    return -(y_true * torch.log(probs) + (1.0 - y_true) * torch.log1p(-probs))


def _bce(y_true: Any, y_pred: Any, from_logits: bool, label_smoothing: float, axis: int,
         mean: bool = False) -> torch.Tensor:
    y_true, y_pred = pair(y_true, y_pred)
    label_smoothing = _check_smoothing(label_smoothing)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    reduction = "mean" if mean else "none"
    if from_logits:
        values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction=reduction)
    else:
        eps = config.epsilon()
        if torch.is_autocast_enabled(y_pred.device.type):  # F.binary_cross_entropy refuses autocast
            with torch.autocast(y_pred.device.type, enabled=False):
                values = F.binary_cross_entropy(y_pred.clamp(eps, 1.0 - eps), y_true, reduction=reduction)
        else:
            values = F.binary_cross_entropy(y_pred.clamp(eps, 1.0 - eps), y_true, reduction=reduction)
    return values if mean else values.mean(check_axis(axis))


@register_function("sparse_categorical_crossentropy")
def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> torch.Tensor:
    """Crossentropy between integer labels and a predicted distribution, one value per sample.

    Labels may be shaped like ``y_pred`` without its class axis, or with that axis of size 1, in any integer
    or float dtype. Entries labelled ``ignore_class`` give 0.

    >>> import torch
    >>> sparse_categorical_crossentropy(torch.tensor([1]), torch.tensor([[0.25, 0.75]])).shape
    torch.Size([1])
    """
    return _scce(y_true, y_pred, from_logits, ignore_class, axis)


@register_function("categorical_crossentropy")
def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    """Crossentropy between one-hot (or soft) labels and a predicted distribution, per sample.

    ``label_smoothing`` mixes the labels with the uniform distribution over the classes of ``axis``.

    >>> import torch
    >>> round(float(categorical_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))[0]), 4)
    0.6931
    """
    return _cce(y_true, y_pred, from_logits, label_smoothing, axis)


@register_function("binary_crossentropy", "bce")
def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    """Binary crossentropy averaged over ``axis``, one value per sample; labels are smoothed towards 0.5.

    >>> import torch
    >>> round(float(binary_crossentropy(torch.tensor([[1.0]]), torch.tensor([[0.5]]))[0]), 4)
    0.6931
    """
    return _bce(y_true, y_pred, from_logits, label_smoothing, axis)


@register_function("binary_focal_crossentropy")
def binary_focal_crossentropy(y_true: Any, y_pred: Any, apply_class_balancing: bool = False, alpha: float = 0.25,
                              gamma: float = 2.0, from_logits: bool = False, label_smoothing: float = 0.0,
                              axis: int = -1) -> torch.Tensor:
    """Binary crossentropy scaled by the focal factor ``(1 - p_t) ** gamma`` (Lin et al., 2018), averaged over
    ``axis``; with ``apply_class_balancing`` also by ``alpha`` for class 1 and ``1 - alpha`` for class 0.

    >>> import torch
    >>> round(float(binary_focal_crossentropy(torch.tensor([[1.0]]), torch.tensor([[0.5]]))[0]), 4)
    0.1733
    """
    y_true, y_pred = pair(y_true, y_pred)
    label_smoothing = _check_smoothing(label_smoothing)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    probs = torch.sigmoid(y_pred) if from_logits else y_pred
    p_t = y_true * probs + (1.0 - y_true) * (1.0 - probs)  # probability given to the true class
    values = (1.0 - p_t).pow(gamma) * _elementwise_bce(y_true, probs)
    if apply_class_balancing:
        values = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * values
    return values.mean(check_axis(axis))


def _class_alpha(alpha: float | Sequence[float], like: torch.Tensor) -> float | torch.Tensor:
    if isinstance(alpha, (int, float)):
        return float(alpha)
    return as_tensor(alpha, dtype=like.dtype, device=like.device)  # one weight per class (last axis)


@register_function("categorical_focal_crossentropy")
def categorical_focal_crossentropy(y_true: Any, y_pred: Any, alpha: float | Sequence[float] = 0.25,
                                   gamma: float = 2.0, from_logits: bool = False, label_smoothing: float = 0.0,
                                   axis: int = -1) -> torch.Tensor:
    """Categorical crossentropy with each class's term scaled by ``alpha * (1 - p) ** gamma``; ``alpha`` is a
    number or one weight per class. One value per sample.

    >>> import torch
    >>> round(float(categorical_focal_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))[0]), 4)
    0.0433
    """
    y_true, y_pred = _onehot_pair(y_true, y_pred, "categorical_focal_crossentropy")
    axis = check_axis(axis) % y_pred.ndim
    label_smoothing = _check_smoothing(label_smoothing)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    if from_logits:
        y_pred = torch.softmax(y_pred, axis)
    probs = _normalized_probs(y_pred, axis)
    terms = _class_alpha(alpha, probs) * (1.0 - probs).pow(gamma) * (-y_true * torch.log(probs))
    return terms.sum(axis)


# ---------------------------------------------------------------------------------- classes


@LOSSES("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy")
class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy for integer labels; entries labelled ``ignore_class`` are left out of the loss and the mean.

    >>> import torch
    >>> loss = SparseCategoricalCrossentropy(from_logits=True)
    >>> round(float(loss(torch.tensor([0]), torch.tensor([[0.0, 0.0]]))), 4)
    0.6931
    """

    _float_labels = False

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str | None = "sum_over_batch_size", axis: int = -1,
                 name: str = "sparse_categorical_crossentropy", dtype: Dtype = None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = check_axis(axis)

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return _scce(y_true, y_pred, self.from_logits, self.ignore_class, self.axis)

    def call_with_mask(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, Any]:
        values = self.call(y_true, y_pred)
        if self.ignore_class is None:
            return values, None
        return values, _sparse_labels(y_true, y_pred, self.axis % y_pred.ndim) != self.ignore_class

    def _fused_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        if self.ignore_class is not None:
            return None
        if self.from_logits and y_pred.ndim == 2 and y_true.ndim == 1 and y_true.dtype is torch.long and \
                self.axis in (-1, 1) and y_true.shape[0] == y_pred.shape[0]:
            try:  # (batch, classes) logits and their labels: nothing to adapt
                return F.cross_entropy(y_pred, y_true)
            except RuntimeError:  # labels on another device: _sparse_labels moves them
                pass
        return _scce(y_true, y_pred, self.from_logits, None, self.axis, mean=True)

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "from_logits": self.from_logits, "ignore_class": self.ignore_class,
                "axis": self.axis}


@LOSSES("CategoricalCrossentropy", "categorical_crossentropy")
class CategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy for one-hot labels, with optional label smoothing.

    >>> import torch
    >>> loss = CategoricalCrossentropy(from_logits=True)
    >>> round(float(loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]]))), 4)
    0.6931
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str = "categorical_crossentropy",
                 dtype: Dtype = None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=_check_smoothing(label_smoothing),
                         axis=check_axis(axis))
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def _fused_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        if not self.from_logits:
            return None
        y_true, y_pred = match_rank(y_true, y_pred)
        return _cce(y_true, y_pred, True, self.label_smoothing, self.axis, mean=True)

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


@LOSSES("BinaryCrossentropy", "binary_crossentropy", "bce")
class BinaryCrossentropy(LossFunctionWrapper):
    """Crossentropy for 0/1 labels against probabilities (or logits with ``from_logits=True``).

    >>> import torch
    >>> loss = BinaryCrossentropy()
    >>> round(float(loss(torch.tensor([1.0, 0.0]), torch.tensor([[0.5], [0.5]]))), 4)
    0.6931
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str = "binary_crossentropy",
                 dtype: Dtype = None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=_check_smoothing(label_smoothing),
                         axis=check_axis(axis))
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def _fused_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        y_true, y_pred = match_rank(y_true, y_pred)
        if y_pred.ndim == 0:
            return None
        return _bce(y_true, y_pred, self.from_logits, self.label_smoothing, self.axis, mean=True)

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


@LOSSES("BinaryFocalCrossentropy", "binary_focal_crossentropy")
class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Binary crossentropy that down-weights easy examples by ``(1 - p_t) ** gamma``.

    >>> import torch
    >>> loss = BinaryFocalCrossentropy(gamma=2.0)
    >>> round(float(loss(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.5], [0.5]]))), 4)
    0.1733
    """

    def __init__(self, apply_class_balancing: bool = False, alpha: float = 0.25, gamma: float = 2.0,
                 from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str = "binary_focal_crossentropy",
                 dtype: Dtype = None):
        super().__init__(binary_focal_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=_check_smoothing(label_smoothing),
                         axis=check_axis(axis))
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma}


@LOSSES("CategoricalFocalCrossentropy", "categorical_focal_crossentropy")
class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Categorical crossentropy that down-weights well-classified examples by ``alpha * (1 - p) ** gamma``.

    >>> import torch
    >>> loss = CategoricalFocalCrossentropy()
    >>> round(float(loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))), 4)
    0.0433
    """

    def __init__(self, alpha: float | Sequence[float] = 0.25, gamma: float = 2.0, from_logits: bool = False,
                 label_smoothing: float = 0.0, axis: int = -1, reduction: str | None = "sum_over_batch_size",
                 name: str = "categorical_focal_crossentropy", dtype: Dtype = None):
        super().__init__(categorical_focal_crossentropy, name=name, reduction=reduction, dtype=dtype, alpha=alpha,
                         gamma=gamma, from_logits=from_logits, label_smoothing=_check_smoothing(label_smoothing),
                         axis=check_axis(axis))
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "alpha": self.alpha, "gamma": self.gamma}
