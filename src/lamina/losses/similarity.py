"""Metric-learning losses on embeddings: ``Circle`` (Sun et al., 2020).

>>> import torch
>>> emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]), dim=-1)
>>> float(Circle()(torch.tensor([0, 0, 1]), emb)) > 0
True
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamina.losses.base import LOSSES, Loss, LossFunctionWrapper, as_tensor, float_pred, register_function

Dtype = str | torch.dtype | None


def _labels(x: Any, device: torch.device) -> torch.Tensor:
    return as_tensor(x, device=device).reshape(-1).long()


@register_function("circle")
def circle(y_true: Any, y_pred: Any, ref_labels: Any = None, ref_embeddings: Any = None,
           remove_diagonal: bool = True, gamma: float = 80.0, margin: float = 0.4) -> torch.Tensor:
    """Circle loss per query: ``softplus(logsumexp(positive terms) + logsumexp(negative terms))`` on cosine
    distances between the L2-normalised embeddings ``y_pred`` (``(batch, dim)``) and the references
    (``y_pred`` itself unless ``ref_embeddings``), with integer labels ``y_true``.

    >>> import torch
    >>> circle(torch.tensor([0, 1]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])).shape
    torch.Size([2])
    """
    y_pred = float_pred(y_pred)
    if y_pred.ndim != 2:
        raise ValueError(f"circle: y_pred must be embeddings of shape (batch, dim); received {tuple(y_pred.shape)}.")
    labels = _labels(y_true, y_pred.device)
    refs = y_pred if ref_embeddings is None else as_tensor(ref_embeddings, dtype=y_pred.dtype, device=y_pred.device)
    ref_labels = labels if ref_labels is None else _labels(ref_labels, y_pred.device)
    distances = (1.0 - y_pred @ refs.T).clamp_min(0.0)  # (queries, references)
    positive = labels[:, None] == ref_labels[None, :]
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~torch.eye(*positive.shape, dtype=torch.bool, device=y_pred.device)
    pos_weights = ((margin + distances) * positive).clamp_min(0.0)
    neg_weights = ((1.0 + margin - distances) * negative).clamp_min(0.0)
    pos_terms = -gamma * pos_weights * (margin - distances)
    neg_terms = gamma * neg_weights * (1.0 - margin - distances)
    neg_inf = float("-inf")  # an empty set of pairs contributes nothing: softplus(-inf) = 0
    p_loss = torch.logsumexp(torch.where(positive, pos_terms, neg_inf), dim=1)
    n_loss = torch.logsumexp(torch.where(negative, neg_terms, neg_inf), dim=1)
    return F.softplus(p_loss + n_loss)


@LOSSES("Circle", "circle")
class Circle(LossFunctionWrapper):
    """Circle loss for embeddings with integer labels; the means count only the queries with a positive loss.

    >>> import torch
    >>> Circle(gamma=80.0, margin=0.4).get_config()["margin"]
    0.4
    """

    _float_labels = False

    def __init__(self, gamma: float = 80.0, margin: float = 0.4, remove_diagonal: bool = True,
                 reduction: str | None = "sum_over_batch_size", name: str = "circle", dtype: Dtype = None):
        super().__init__(circle, name=name, reduction=reduction, dtype=dtype, gamma=gamma, margin=margin,
                         remove_diagonal=remove_diagonal)
        self.gamma = gamma
        self.margin = margin
        self.remove_diagonal = remove_diagonal

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return circle(y_true, y_pred, gamma=self.gamma, margin=self.margin, remove_diagonal=self.remove_diagonal)

    def call_with_mask(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, Any]:
        values = self.call(y_true, y_pred)
        return values, values > 0

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "gamma": self.gamma, "margin": self.margin,
                "remove_diagonal": self.remove_diagonal}
