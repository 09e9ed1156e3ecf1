"""Probabilistic metrics: KL divergence, Poisson and the crossentropies, as per-sample functions and running means.

These mirror Keras's loss functions of the same names; they are written here (not imported from
``lamina.losses``) because metrics sit beside losses and import only ``lamina.core``.

>>> import torch
>>> KLDivergence()(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.5, 0.5]]))
tensor(0.)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.metrics.base import METRICS, FixedFunctionMetric, Mean, as_tensor, match_rank, register, register_function


def _pair(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = as_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(config.standardize_dtype(None))
    return as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device), y_pred


@register_function("kl_divergence", "kld")
def kl_divergence(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``sum(y_true * log(y_true / y_pred))`` over the last axis, both clipped to ``[epsilon, 1]``.

    >>> import torch
    >>> kl_divergence(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]]))
    tensor([0.6931])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    eps = config.epsilon()
    y_true, y_pred = y_true.clamp(eps, 1.0), y_pred.clamp(eps, 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(-1)


@register_function("poisson")
def poisson(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``mean(y_pred - y_true * log(y_pred + epsilon))`` over the last axis.

    >>> import torch
    >>> poisson(torch.tensor([[1.0]]), torch.tensor([[1.0]]))
    tensor([1.0000])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return (y_pred - y_true * torch.log(y_pred + config.epsilon())).mean(-1)


@register_function("binary_crossentropy", "bce")
def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> torch.Tensor:
    """Binary crossentropy averaged over ``axis``; probabilities are clipped to ``[eps, 1 - eps]``.

    >>> import torch
    >>> binary_crossentropy(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]]))
    tensor([0.6931])
    """
    y_true, y_pred = match_rank(*_pair(y_true, y_pred))
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        eps = config.epsilon()
        values = F.binary_cross_entropy(y_pred.clamp(eps, 1.0 - eps), y_true, reduction="none")
    return values.mean(axis)


@register_function("categorical_crossentropy")
def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1) -> torch.Tensor:
    """Crossentropy of one-hot (or soft) labels; probabilities are renormalised along ``axis`` and clipped.

    >>> import torch
    >>> categorical_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
    tensor([0.6931])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    return -(y_true * _log_probabilities(y_pred, from_logits, axis)).sum(axis)



@register_function("binary_focal_crossentropy")
def binary_focal_crossentropy(y_true: Any, y_pred: Any, apply_class_balancing: bool = False, alpha: float = 0.25,
                              gamma: float = 2.0, from_logits: bool = False, label_smoothing: float = 0.0,
                              axis: int = -1) -> torch.Tensor:
    """Binary crossentropy down-weighted by ``(1 - p_t) ** gamma``, ``p_t`` the probability of the true label;
    ``apply_class_balancing`` also weighs positives by ``alpha`` and negatives by ``1 - alpha``. Mean over ``axis``.

    >>> import torch
    >>> binary_focal_crossentropy(torch.tensor([[1.0]]), torch.tensor([[0.5]]))
    tensor([0.1733])
    """
    y_true, y_pred = match_rank(*_pair(y_true, y_pred))
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        probs = torch.sigmoid(y_pred)
        bce = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        eps = config.epsilon()
        probs = y_pred
        bce = F.binary_cross_entropy(y_pred.clamp(eps, 1.0 - eps), y_true, reduction="none")
    p_true = y_true * probs + (1.0 - y_true) * (1.0 - probs)
    values = (1.0 - p_true).pow(gamma) * bce
    if apply_class_balancing:
        values = values * (alpha * y_true + (1.0 - alpha) * (1.0 - y_true))
    return values.mean(axis)


@register_function("categorical_focal_crossentropy")
def categorical_focal_crossentropy(y_true: Any, y_pred: Any, alpha: Any = 0.25, gamma: float = 2.0,
                                   from_logits: bool = False, label_smoothing: float = 0.0,
                                   axis: int = -1) -> torch.Tensor:
    """Categorical crossentropy whose class terms are weighted by ``alpha * (1 - p) ** gamma`` (``alpha`` a number
    or one weight per class); probabilities are renormalised along ``axis`` and clipped. One value per sample.

    >>> import torch
    >>> categorical_focal_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
    tensor([0.0433])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    log_probs = _log_probabilities(y_pred, from_logits, axis)
    probs = log_probs.exp()
    if not isinstance(alpha, (int, float)):
        alpha = as_tensor(alpha, dtype=probs.dtype, device=probs.device)
    return (alpha * (1.0 - probs).pow(gamma) * -y_true * log_probs).sum(axis)

def _log_probabilities(y_pred: torch.Tensor, from_logits: bool, axis: int) -> torch.Tensor:
    if from_logits:
        return F.log_softmax(y_pred, dim=axis)
    eps = config.epsilon()
    return torch.log((y_pred / y_pred.sum(axis, keepdim=True)).clamp(eps, 1.0 - eps))


@register_function("sparse_categorical_crossentropy")
def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> torch.Tensor:
    """Crossentropy of integer labels (shaped like ``y_pred`` without the class axis, or with it of size 1).

    Entries whose label is ``ignore_class`` give 0.

    >>> import torch
    >>> sparse_categorical_crossentropy(torch.tensor([1]), torch.tensor([[0.5, 0.5]]))
    tensor([0.6931])
    """
    y_pred = as_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(config.standardize_dtype(None))
    labels = as_tensor(y_true, device=y_pred.device)
    if labels.ndim == y_pred.ndim and labels.shape[axis] == 1:
        labels = labels.squeeze(axis)
    labels = labels.long()
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = torch.where(valid, labels, torch.zeros_like(labels))
    log_prob = _log_probabilities(y_pred, from_logits, axis)
    values = -log_prob.gather(axis % y_pred.ndim, labels.unsqueeze(axis)).squeeze(axis)
    if valid is not None:
        values = torch.where(valid, values, torch.zeros_like(values))
    return values


# ---------------------------------------------------------------------------------- classes


@register
class KLDivergence(FixedFunctionMetric):
    """Running mean of the Kullback-Leibler divergence between labels and predictions.

    >>> KLDivergence()([[1.0, 0.0]], [[0.5, 0.5]])
    tensor(0.6931)
    """

    def __init__(self, name: str = "kl_divergence", dtype: str | torch.dtype | None = None):
        super().__init__(kl_divergence, name=name, dtype=dtype)


@register
class Poisson(FixedFunctionMetric):
    """Running mean of the Poisson deviance term ``y_pred - y_true * log(y_pred)``.

    >>> Poisson()([[1.0]], [[1.0]])
    tensor(1.0000)
    """

    def __init__(self, name: str = "poisson", dtype: str | torch.dtype | None = None):
        super().__init__(poisson, name=name, dtype=dtype)


@METRICS("BinaryCrossentropy", "binary_crossentropy", "bce")
class BinaryCrossentropy(FixedFunctionMetric):
    """Running mean of the binary crossentropy.

    >>> BinaryCrossentropy()([[1.0, 0.0]], [[0.5, 0.5]])
    tensor(0.6931)
    """

    _config_keys = ("from_logits", "label_smoothing")

    def __init__(self, name: str = "binary_crossentropy", dtype: str | torch.dtype | None = None,
                 from_logits: bool = False, label_smoothing: float = 0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing


@register
class CategoricalCrossentropy(FixedFunctionMetric):
    """Running mean of the categorical crossentropy of one-hot labels.

    >>> CategoricalCrossentropy()([[0.0, 1.0]], [[0.5, 0.5]])
    tensor(0.6931)
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, name: str = "categorical_crossentropy", dtype: str | torch.dtype | None = None,
                 from_logits: bool = False, label_smoothing: float = 0, axis: int = -1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


@register
class SparseCategoricalCrossentropy(FixedFunctionMetric):
    """Running mean of the crossentropy of integer labels.

    Entries labelled ``ignore_class`` contribute 0. As in Keras 3's metric, they still count in the mean when no
    ``sample_weight`` is given, and get weight 0 (leaving the mean) when one is.

    >>> SparseCategoricalCrossentropy()([1], [[0.5, 0.5]])
    tensor(0.6931)
    """

    _config_keys = ("from_logits", "ignore_class", "axis")

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: str | torch.dtype | None = None,
                 from_logits: bool = False, ignore_class: int | None = None, axis: int = -1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if self.ignore_class is None or sample_weight is None:
            super().update_state(y_true, y_pred, sample_weight)
            return
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        labels = as_tensor(y_true, device=values.device)
        if labels.ndim == values.ndim + 1:
            labels = labels.squeeze(self.axis)
        keep = (labels != self.ignore_class).to(self._dtype)
        keep, weight = match_rank(keep, as_tensor(sample_weight, dtype=self._dtype, device=keep.device))
        Mean.update_state(self, values, keep * weight)
