"""Accuracy metrics: exact match, binary, categorical, sparse categorical and top-k, as per-sample functions
(floatx 0/1 values, as in Keras) and as streaming metrics; and ``resolve_accuracy``, the accuracy that
``compile(metrics=["accuracy"])`` means for a loss and label shapes.

>>> import torch
>>> m = SparseCategoricalAccuracy()
>>> m.update_state(torch.tensor([1, 0]), torch.tensor([[0.2, 0.8], [0.3, 0.7]]))
>>> m.result()
tensor(0.5000)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch

from lamina.core import config
from lamina.metrics.base import (
    METRICS,
    FixedFunctionMetric,
    Metric,
    as_tensor,
    get,
    match_rank,
    register_function,
    snake_case,
    squeeze_sparse,
)

_F = TypeVar("_F", bound=Callable[..., Any])

# The accuracy functions are written as kernels returning booleans; ``_floatx_function`` turns each into the
# public function (floatx values, as in Keras) and keeps the kernel as ``__wrapped__`` for the metric classes,
# which sum the booleans directly.


def _floatx_function(kernel: _F) -> _F:
    @functools.wraps(kernel)
    def public(*args: Any, **kwargs: Any) -> torch.Tensor:
        return kernel(*args, **kwargs).to(config.standardize_dtype(None))

    return register_function(kernel.__name__)(public)  # type: ignore[return-value]


@_floatx_function
def accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where ``y_pred`` equals ``y_true`` exactly, else 0.0.

    >>> accuracy([1, 2], [1.0, 3.0])
    tensor([1., 0.])
    """
    y_pred = as_tensor(y_pred)
    y_true, y_pred = match_rank(as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device), y_pred)
    return torch.eq(y_true, y_pred)


@_floatx_function
def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> torch.Tensor:
    """1.0 where ``y_pred > threshold`` agrees with the 0/1 label.

    >>> binary_accuracy([1.0, 0.0, 1.0], [0.7, 0.6, 0.2])
    tensor([1., 0., 0.])
    """
    y_pred = as_tensor(y_pred)
    y_true, y_pred = match_rank(as_tensor(y_true, device=y_pred.device), y_pred)
    return torch.eq(y_true, y_pred > threshold)


@_floatx_function
def categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where the arg-max of ``y_pred`` is the hot class of one-hot ``y_true``.

    >>> categorical_accuracy([[0.0, 1.0]], [[0.4, 0.6]])
    tensor([1.])
    """
    y_pred = as_tensor(y_pred)
    return torch.eq(as_tensor(y_true, device=y_pred.device).argmax(-1), y_pred.argmax(-1))


@_floatx_function
def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where the arg-max of ``y_pred`` is the integer label (labels (n,) or (n, 1)).

    >>> sparse_categorical_accuracy([[1], [0]], [[0.4, 0.6], [0.4, 0.6]])
    tensor([1., 0.])
    """
    if type(y_pred) is torch.Tensor and type(y_true) is torch.Tensor and y_true.ndim == y_pred.ndim - 1:
        try:  # the usual labels: nothing to convert (labels on another device fail here, and are moved below)
            return torch.eq(y_true, y_pred.argmax(-1))
        except RuntimeError:
            pass
    y_pred = as_tensor(y_pred)
    y_true = squeeze_sparse(as_tensor(y_true, device=y_pred.device), y_pred)
    return torch.eq(y_true, y_pred.argmax(-1))


def _in_top_k(ids: torch.Tensor, y_pred: torch.Tensor, k: int) -> torch.Tensor:
    """Whether the score of class ``ids`` reaches the k-th largest score (ties count, as in Keras)."""
    if k >= y_pred.shape[-1]:
        return torch.ones(y_pred.shape[:-1], dtype=torch.bool, device=y_pred.device)
    kth = y_pred.topk(k, dim=-1).values[..., -1:]
    return torch.ge(y_pred.gather(-1, ids.long().unsqueeze(-1)), kth).squeeze(-1)


@_floatx_function
def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> torch.Tensor:
    """1.0 where the hot class of ``y_true`` is among the ``k`` highest scores.

    >>> top_k_categorical_accuracy([[0.0, 0.0, 1.0]], [[0.5, 0.3, 0.2]], k=2)
    tensor([0.])
    """
    y_pred = as_tensor(y_pred)
    return _in_top_k(as_tensor(y_true, device=y_pred.device).argmax(-1), y_pred, k)


@_floatx_function
def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5,
                                      from_sorted_ids: bool = False) -> torch.Tensor:
    """1.0 where the integer label is among the ``k`` highest scores (or, with ``from_sorted_ids``,
    among the first ``k`` class ids of ``y_pred``).

    >>> sparse_top_k_categorical_accuracy([1], [[0.5, 0.3, 0.2]], k=2)
    tensor([1.])
    """
    y_pred = as_tensor(y_pred)
    y_true = squeeze_sparse(as_tensor(y_true, device=y_pred.device), y_pred)
    if from_sorted_ids:
        return torch.eq(y_true.unsqueeze(-1), y_pred[..., :k]).any(-1)
    return _in_top_k(y_true, y_pred, k)


@METRICS("Accuracy", "accuracy", "acc")
class Accuracy(FixedFunctionMetric):
    """How often predictions equal labels exactly.

    >>> Accuracy()([[1], [2], [3]], [[1.0], [2.0], [0.0]])
    tensor(0.6667)
    """

    def __init__(self, name: str = "accuracy", dtype: str | torch.dtype | None = None):
        super().__init__(accuracy.__wrapped__, name=name, dtype=dtype)


@METRICS("BinaryAccuracy", "binary_accuracy")
class BinaryAccuracy(FixedFunctionMetric):
    """How often ``y_pred > threshold`` matches 0/1 labels.

    >>> BinaryAccuracy()([[1], [0]], [[0.9], [0.6]])
    tensor(0.5000)
    """

    _config_keys = ("threshold",)

    def __init__(self, name: str = "binary_accuracy", dtype: str | torch.dtype | None = None,
                 threshold: float = 0.5):
        super().__init__(binary_accuracy.__wrapped__, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


@METRICS("CategoricalAccuracy", "categorical_accuracy")
class CategoricalAccuracy(FixedFunctionMetric):
    """How often the arg-max of ``y_pred`` is the hot class of one-hot labels.

    >>> CategoricalAccuracy()([[0, 1], [1, 0]], [[0.3, 0.7], [0.2, 0.8]])
    tensor(0.5000)
    """

    def __init__(self, name: str = "categorical_accuracy", dtype: str | torch.dtype | None = None):
        super().__init__(categorical_accuracy.__wrapped__, name=name, dtype=dtype)


@METRICS("SparseCategoricalAccuracy", "sparse_categorical_accuracy")
class SparseCategoricalAccuracy(FixedFunctionMetric):
    """How often the arg-max of ``y_pred`` is the integer label (labels (n,) or (n, 1)).

    >>> SparseCategoricalAccuracy()([1, 0], [[0.3, 0.7], [0.2, 0.8]])
    tensor(0.5000)
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: str | torch.dtype | None = None):
        super().__init__(sparse_categorical_accuracy.__wrapped__, name=name, dtype=dtype)


@METRICS("TopKCategoricalAccuracy", "top_k_categorical_accuracy")
class TopKCategoricalAccuracy(FixedFunctionMetric):
    """How often the hot class of one-hot labels is among the ``k`` highest scores.

    >>> TopKCategoricalAccuracy(k=1)([[0, 1]], [[0.3, 0.7]])
    tensor(1.)
    """

    _config_keys = ("k",)

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy",
                 dtype: str | torch.dtype | None = None):
        super().__init__(top_k_categorical_accuracy.__wrapped__, name=name, dtype=dtype, k=k)
        self.k = k


@METRICS("SparseTopKCategoricalAccuracy", "sparse_top_k_categorical_accuracy")
class SparseTopKCategoricalAccuracy(FixedFunctionMetric):
    """How often the integer label is among the ``k`` highest scores.

    With ``from_sorted_ids=True``, ``y_pred`` holds class ids sorted by score instead of scores.

    >>> SparseTopKCategoricalAccuracy(k=1)([1], [[0.3, 0.7]])
    tensor(1.)
    """

    _config_keys = ("k",)

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy",
                 dtype: str | torch.dtype | None = None, from_sorted_ids: bool = False):
        super().__init__(sparse_top_k_categorical_accuracy.__wrapped__, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


_CROSSENTROPIES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy")


def _loss_kind(loss: Any) -> str | None:
    """Which crossentropy ``loss`` is (by class, wrapped function or name), or None."""
    if loss is None:
        return None
    if isinstance(loss, str):
        names = {snake_case(loss) if not loss.islower() else loss}
    else:
        kind = loss if isinstance(loss, type) else type(loss)
        names = {snake_case(c.__name__) for c in kind.__mro__}
        names.add(getattr(getattr(loss, "fn", None), "__name__", ""))
        names.add(getattr(loss, "__name__", ""))
    return next((kind for kind in _CROSSENTROPIES if kind in names), None)


def resolve_accuracy(name: str, loss: Any = None, y_true_shape: Sequence[int | None] | None = None,
                     y_pred_shape: Sequence[int | None] | None = None) -> Metric:
    """The accuracy metric that ``"accuracy"``/``"acc"`` means for this loss and these shapes.

    A known crossentropy decides (sparse -> SparseCategoricalAccuracy, categorical ->
    CategoricalAccuracy, binary -> BinaryAccuracy, thresholded at 0 when the loss takes logits);
    otherwise the shapes decide as in Keras 3: a last prediction axis of 1 means binary, labels of
    lower rank (or ending in 1 against several classes) mean sparse, anything else categorical.
    The metric is named ``name``. Other names are looked up with ``get``.

    >>> resolve_accuracy("acc", None, (32,), (32, 10))
    <SparseCategoricalAccuracy name=acc>
    """
    if name.lower() not in ("accuracy", "acc"):
        return get(name)
    kind = _loss_kind(loss)
    if kind is None:
        if y_true_shape is None or y_pred_shape is None:
            raise ValueError(f"resolve_accuracy({name!r}) needs a crossentropy loss or both label shapes.")
        t_shape, p_shape = tuple(y_true_shape), tuple(y_pred_shape)
        t_last = t_shape[-1] if t_shape else None
        p_last = p_shape[-1] if p_shape else None
        if p_last == 1:
            kind = "binary_crossentropy"
        elif len(t_shape) < len(p_shape) or (t_last == 1 and p_last is not None and p_last > 1):
            kind = "sparse_categorical_crossentropy"
        else:
            kind = "categorical_crossentropy"
    if kind == "sparse_categorical_crossentropy":
        return SparseCategoricalAccuracy(name=name)
    if kind == "categorical_crossentropy":
        return CategoricalAccuracy(name=name)
    logits = not isinstance(loss, (str, type)) and bool(
        getattr(loss, "from_logits", None) or getattr(loss, "_fn_kwargs", {}).get("from_logits"))
    return BinaryAccuracy(name=name, threshold=0.0 if logits else 0.5)

