"""What layers add to the training loss: losses given to ``add_loss``, activity regularizers' penalties on
outputs, and weight regularizers' penalties (``Layer.losses`` lists them all).

``config.LOSSES_ADDED`` counts the losses layers add, so that a top-level call clears the previous call's
losses, and the trainer collects them, only when some layer added one since their last look.

>>> import torch
>>> from lamina import layers
>>> dense = layers.Dense(2, kernel_regularizer="l2")
>>> _ = dense(torch.ones(1, 3))
>>> len(dense.losses)
1
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lamina.core import config, tree


def _layers(root: nn.Module) -> list[Any]:
    return [m for m in root.modules() if getattr(m, "_weight_info", None) is not None]


def add_activity_loss(layer: Any, outputs: Any) -> None:
    """Keras's activity penalty: the regularizer of each output, divided by the batch size; replaced on each
    call."""
    config.LOSSES_ADDED += 1
    layer._activity_losses = [layer.activity_regularizer(t) / (t.shape[0] if t.ndim else 1)
                              for t in tree.flatten(outputs) if isinstance(t, torch.Tensor)]


def collect(root: nn.Module) -> list[torch.Tensor]:
    """The penalties of ``root`` and its sub-layers: added losses, activity penalties, weight regularizers."""
    out = []
    for layer in _layers(root):
        out.extend(layer._added_losses)
        out.extend(layer._activity_losses)
        for key, info in layer._weight_info.items():
            if info.regularizer is not None:
                out.append(info.regularizer(getattr(layer, key)))
    return out


def reset(root: nn.Module) -> None:
    """Forget the previous call's added and activity losses (a new top-level call: Keras keeps this call's)."""
    for layer in _layers(root):
        layer._added_losses.clear()
        layer._activity_losses = []
    root.__dict__["_losses_reset_at"] = config.LOSSES_ADDED  # (not an attribute assignment: keeps _plain)


def clear_added(root: nn.Module) -> None:
    for layer in _layers(root):
        layer._added_losses.clear()
