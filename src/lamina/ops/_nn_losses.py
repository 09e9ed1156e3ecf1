"""Cross-entropies and encodings of ``keras.ops.nn``: ``binary_crossentropy``, ``categorical_crossentropy``,
``sparse_categorical_crossentropy``, ``one_hot``, ``multi_hot``.

Probabilities are clipped to ``[epsilon, 1 - epsilon]`` (``epsilon()``, 1e-7) before the log, as in Keras.
The losses compute in the promoted float dtype of target and output (Keras's torch backend raises for some
mixed pairs). ``sparse=True`` is refused, as on Keras's torch backend.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.ops import dtypes
from lamina.ops.dispatch import op, promoted, tensor

__all__ = ["binary_crossentropy", "categorical_crossentropy", "multi_hot", "one_hot",
           "sparse_categorical_crossentropy"]


def _float_pair(target: Any, output: Any) -> tuple[torch.Tensor, torch.Tensor]:
    (target, output), dtype = promoted(target, output)
    if not dtype.is_floating_point:
        dtype = dtypes.to_torch(None)
    return target.to(dtype), output.to(dtype)


def _same_shape(target: torch.Tensor, output: torch.Tensor, name: str) -> None:
    if target.shape != output.shape:
        raise ValueError(f"{name}: target and output must have the same shape; received {tuple(target.shape)} "
                         f"and {tuple(output.shape)}.")


@op
def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> torch.Tensor:
    """Elementwise ``-(target * log(output) + (1 - target) * log(1 - output))``."""
    target, output = _float_pair(target, output)
    _same_shape(target, output, "binary_crossentropy")
    if from_logits:
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    eps = config.epsilon()
    output = torch.clamp(output, eps, 1 - eps)
    return -(target * torch.log(output) + (1 - target) * torch.log1p(-output))


@op
def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False, axis: int = -1) -> torch.Tensor:
    """``-sum(target * log(output), axis)``; probabilities are first rescaled to sum to 1 along ``axis``."""
    target, output = _float_pair(target, output)
    _same_shape(target, output, "categorical_crossentropy")
    if output.ndim < 1:
        raise ValueError("categorical_crossentropy needs inputs of rank >= 1.")
    if from_logits:
        log_prob = torch.log_softmax(output, dim=axis)
    else:
        output = output / torch.sum(output, dim=axis, keepdim=True)
        eps = config.epsilon()
        log_prob = torch.log(torch.clamp(output, eps, 1 - eps))
    return -torch.sum(target * log_prob, dim=axis)


@op
def sparse_categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                                    axis: int = -1) -> torch.Tensor:
    """Categorical cross-entropy with integer class ``target`` (a trailing axis of size 1 is dropped)."""
    output = tensor(output)
    if not output.dtype.is_floating_point:
        output = output.to(dtypes.to_torch(None))
    target = tensor(target, device=output.device)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = target.squeeze(-1)
    if target.ndim != output.ndim - 1:
        raise ValueError(f"sparse_categorical_crossentropy: target of shape {tuple(target.shape)} does not match "
                         f"output of shape {tuple(output.shape)} less its class axis.")
    target = target.to(torch.int64)
    output = output.movedim(axis, -1)
    if from_logits:
        log_prob = torch.log_softmax(output, dim=-1)
    else:
        output = output / torch.sum(output, dim=-1, keepdim=True)
        eps = config.epsilon()
        log_prob = torch.log(torch.clamp(output, eps, 1 - eps))
    return -torch.gather(log_prob, -1, target.unsqueeze(-1)).squeeze(-1)


def _dense_only(sparse: bool, name: str) -> None:
    if sparse:
        raise ValueError(f"{name}: sparse=True is not supported (lamina has no sparse tensors).")


@op
def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False) -> torch.Tensor:
    """One-hot encoding of integer ``x`` with a new axis of ``num_classes`` at ``axis``; values outside
    ``[0, num_classes)`` encode as all zeros; ``dtype`` defaults to ``floatx()``."""
    _dense_only(sparse, "one_hot")
    x = tensor(x)
    if x.dtype.is_floating_point:
        x = x.to(torch.int64)
    classes = torch.arange(num_classes, device=x.device, dtype=x.dtype)
    hot = x.unsqueeze(-1) == classes  # (..., num_classes)
    out = hot.to(dtypes.to_torch(dtype))
    return out.movedim(-1, axis % out.ndim)


@op
def multi_hot(inputs: Any, num_classes: int | None = None, axis: int = -1, dtype: Any = None,
              sparse: bool = False, **kwargs: Any) -> torch.Tensor:
    """Multi-hot encoding: ``one_hot(inputs, num_classes, axis)`` reduced by max over axis 1 (axis 0 for
    1-D inputs), as Keras does; ``num_tokens`` is a legacy name of ``num_classes``."""
    _dense_only(sparse, "multi_hot")
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(f"multi_hot got unexpected keyword arguments {sorted(kwargs)}.")
    if num_classes is None:
        raise ValueError("multi_hot needs `num_classes`.")
    x = tensor(inputs)
    reduce_axis = 1 if x.ndim > 1 else 0
    hot = one_hot(x, num_classes, axis=axis, dtype="bool")
    return torch.any(hot, dim=reduce_axis).to(dtypes.to_torch(dtype))
