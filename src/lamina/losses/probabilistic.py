"""Losses between distributions and counts: Kullback-Leibler divergence, Poisson and the generalized
crossentropy. (The crossentropies live in ``crossentropy.py``.)

>>> import torch
>>> round(float(KLDivergence()(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.25, 0.75]]))), 4)
0.1438
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.core import config
from lamina.losses.base import LOSSES, Loss, LossFunctionWrapper, as_tensor, float_pred, pair, register_function

Dtype = str | torch.dtype | None


@register_function("kl_divergence", "kld", "kullback_leibler_divergence")
def kl_divergence(y_true: Any, y_pred: Any) -> torch.Tensor:
    """``sum(y_true * log(y_true / y_pred))`` over the last axis, both clipped to ``[epsilon, 1]``.

    >>> import torch
    >>> kl_divergence(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.5, 0.5]]))
    tensor([0.])
    """
    y_true, y_pred = pair(y_true, y_pred)
    eps = config.epsilon()
    y_true, y_pred = y_true.clamp(eps, 1.0), y_pred.clamp(eps, 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(-1)


@register_function("poisson")
def poisson(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Poisson negative log-likelihood up to a constant, ``mean(y_pred - y_true * log(y_pred + epsilon))`` over
    the last axis.

    >>> import torch
    >>> round(float(poisson(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 1.0]]))[0]), 4)
    1.0
    """
    y_true, y_pred = pair(y_true, y_pred)
    return (y_pred - y_true * torch.log(y_pred + config.epsilon())).mean(-1)


@register_function("categorical_generalized_cross_entropy")
def categorical_generalized_cross_entropy(y_true: Any, y_pred: Any, q: float) -> torch.Tensor:
    """Generalized crossentropy (Zhang & Sabuncu, 2018), ``(1 - p ** q) / q`` with ``p`` the probability of the
    integer label ``y_true`` (shape ``(batch,)`` or ``(batch, 1)``); robust to noisy labels as ``q`` nears 1.

    >>> import torch
    >>> categorical_generalized_cross_entropy(torch.tensor([1]), torch.tensor([[0.75, 0.25]]), q=0.5)
    tensor([1.])
    """
    y_pred = float_pred(y_pred)
    labels = as_tensor(y_true, device=y_pred.device)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    if tuple(labels.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(
            "categorical_generalized_cross_entropy needs integer labels shaped like y_pred without its last axis; "
            f"received y_true.shape={tuple(labels.shape)}, y_pred.shape={tuple(y_pred.shape)}."
        )
    p = y_pred.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
    return (1.0 - p.pow(q)) / q


@LOSSES("KLDivergence", "kl_divergence", "kld", "kullback_leibler_divergence")
class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence from ``y_pred`` to ``y_true`` (probability distributions on the last axis).

    >>> import torch
    >>> round(float(KLDivergence()(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.25, 0.75]]))), 4)
    0.1438
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "kl_divergence",
                 dtype: Dtype = None):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


@LOSSES("Poisson", "poisson")
class Poisson(LossFunctionWrapper):
    """Poisson loss for count targets and positive rate predictions.

    >>> import torch
    >>> round(float(Poisson()(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 1.0]]))), 4)
    1.0
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "poisson", dtype: Dtype = None):
        super().__init__(poisson, name=name, reduction=reduction, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


@LOSSES("CategoricalGeneralizedCrossEntropy", "categorical_generalized_cross_entropy")
class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """Noise-robust crossentropy for integer labels and probabilities; ``q`` in (0, 1).

    >>> import torch
    >>> CategoricalGeneralizedCrossEntropy(q=0.5)(torch.tensor([1]), torch.tensor([[0.75, 0.25]]))
    tensor(1.)
    """

    _float_labels = False

    def __init__(self, q: float = 0.5, reduction: str | None = "sum_over_batch_size",
                 name: str = "categorical_generalized_cross_entropy", dtype: Dtype = None):
        if not 0 < q < 1:
            raise ValueError(f"q must be in the open interval (0, 1); received q={q!r}.")
        super().__init__(categorical_generalized_cross_entropy, name=name, reduction=reduction, dtype=dtype, q=q)
        self.q = q

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return categorical_generalized_cross_entropy(y_true, y_pred, self.q)  # labels keep their own rank

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "q": self.q}
