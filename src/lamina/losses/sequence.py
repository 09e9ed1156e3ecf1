"""Sequence losses: ``CTC`` (connectionist temporal classification) on padded integer labels and logits.

>>> import torch
>>> CTC()(torch.tensor([[1, 2, 0]]), torch.zeros(1, 5, 3)).shape
torch.Size([])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamina.losses.base import LOSSES, Loss, LossFunctionWrapper, as_tensor, float_pred, register_function

Dtype = str | torch.dtype | None


@register_function("ctc")
def ctc(y_true: Any, y_pred: Any) -> torch.Tensor:
    """CTC loss per sample. ``y_true``: ``(batch, max_label_length)`` integer labels padded with 0, which is
    also the blank class; ``y_pred``: ``(batch, steps, classes)`` logits (not softmaxed).

    >>> import torch
    >>> ctc(torch.tensor([[1, 0]]), torch.zeros(1, 4, 2)).shape
    torch.Size([1])
    """
    y_pred = float_pred(y_pred)
    labels = as_tensor(y_true, device=y_pred.device)
    if labels.ndim != 2:
        raise ValueError(f"ctc: y_true must be integer labels of shape (batch, max_length); received "
                         f"y_true.shape={tuple(labels.shape)}.")
    if y_pred.ndim != 3:
        raise ValueError(f"ctc: y_pred must be logits of shape (batch, steps, classes); received "
                         f"y_pred.shape={tuple(y_pred.shape)}.")
    labels = labels.long()
    batch, steps = y_pred.shape[0], y_pred.shape[1]
    label_lengths = (labels != 0).sum(-1)
    input_lengths = torch.full((batch,), steps, dtype=torch.long, device=y_pred.device)
    log_probs = torch.log_softmax(y_pred.float() if y_pred.dtype in (torch.float16, torch.bfloat16) else y_pred, -1)
    return F.ctc_loss(log_probs.transpose(0, 1), labels, input_lengths, label_lengths, blank=0, reduction="none")


@LOSSES("CTC", "ctc")
class CTC(LossFunctionWrapper):
    """Connectionist temporal classification loss for unsegmented sequence labelling.

    >>> import torch
    >>> float(CTC()(torch.tensor([[1, 0]]), torch.zeros(1, 4, 2))) > 0
    True
    """

    _float_labels = False

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "ctc", dtype: Dtype = None):
        super().__init__(ctc, name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return ctc(y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)
