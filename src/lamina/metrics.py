"""Streaming metrics with Keras 3 semantics whose state never leaves the device.

A metric keeps sums as device tensors and counts known on the host (batch sizes) as Python
numbers; its state tensors are created by the first ``update_state`` on the device of its
inputs, and ``reset_state`` drops them again. ``result()`` is a 0-d tensor computed without
synchronising with the device.

>>> import torch
>>> m = SparseCategoricalAccuracy()
>>> m.update_state(torch.tensor([1, 0]), torch.tensor([[0.2, 0.8], [0.3, 0.7]]))
>>> m.result()
tensor(0.5000)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from lamina.core import config
from lamina.core.registry import Registry

__all__ = [
    "METRICS", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "Mean", "MeanAbsoluteError",
    "MeanMetricWrapper", "MeanSquaredError", "Metric", "RootMeanSquaredError",
    "SparseCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "Sum", "TopKCategoricalAccuracy",
    "accuracy", "binary_accuracy", "categorical_accuracy", "get", "mean_absolute_error",
    "mean_squared_error", "resolve_accuracy", "serialize", "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy",
]

#: Metric classes by class name, snake_case name and alias (``"acc"``, ``"mse"``, ...).
METRICS = Registry("metric")
# Per-sample metric functions by name, used to rebuild a MeanMetricWrapper from its config.
_FUNCTIONS = Registry("metric function")


# ------------------------------------------------------------------------------------ helpers


def _as_tensor(x: Any, dtype: torch.dtype | None = None, device: torch.device | None = None) -> torch.Tensor:
    """A detached tensor view of ``x`` on ``device`` with ``dtype`` (no copy when it already matches)."""
    if isinstance(x, torch.Tensor):
        if x.requires_grad:
            x = x.detach()
        if (dtype is not None and x.dtype != dtype) or (device is not None and x.device != device):
            return x.to(device=device, dtype=dtype)
        return x
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def _match_rank(x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's rule: when ranks differ by one and the longer one ends in 1, drop or add that axis."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        return (x1, x2.unsqueeze(-1)) if r2 == 1 else (x1.squeeze(-1), x2)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        return (x1.unsqueeze(-1), x2) if r1 == 1 else (x1, x2.squeeze(-1))
    return x1, x2


def _squeeze_sparse(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Class ids shaped (batch, 1) become (batch,) next to (batch, classes) predictions."""
    if y_true.ndim == y_pred.ndim and y_true.ndim and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ----------------------------------------------------------------------- per-sample functions
# The accuracy functions are written as kernels returning booleans; ``_floatx_function`` turns
# each into the public function (floatx values, as in Keras) and keeps the kernel as
# ``__wrapped__`` for the metric classes, which sum the booleans directly.

_F = TypeVar("_F", bound=Callable[..., Any])


def _register_function(name: str, *aliases: str) -> Callable[[_F], _F]:
    def decorate(fn: _F) -> _F:
        return _FUNCTIONS.register(name, fn, aliases)

    return decorate


def _floatx_function(kernel: _F) -> _F:
    @functools.wraps(kernel)
    def public(*args: Any, **kwargs: Any) -> torch.Tensor:
        return kernel(*args, **kwargs).to(config.standardize_dtype(None))

    return _register_function(kernel.__name__)(public)  # type: ignore[return-value]


@_floatx_function
def accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where ``y_pred`` equals ``y_true`` exactly, else 0.0.

    >>> accuracy([1, 2], [1.0, 3.0])
    tensor([1., 0.])
    """
    y_pred = _as_tensor(y_pred)
    y_true, y_pred = _match_rank(_as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device), y_pred)
    return torch.eq(y_true, y_pred)


@_floatx_function
def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> torch.Tensor:
    """1.0 where ``y_pred > threshold`` agrees with the 0/1 label.

    >>> binary_accuracy([1.0, 0.0, 1.0], [0.7, 0.6, 0.2])
    tensor([1., 0., 0.])
    """
    y_pred = _as_tensor(y_pred)
    y_true, y_pred = _match_rank(_as_tensor(y_true, device=y_pred.device), y_pred)
    return torch.eq(y_true, y_pred > threshold)


@_floatx_function
def categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where the arg-max of ``y_pred`` is the hot class of one-hot ``y_true``.

    >>> categorical_accuracy([[0.0, 1.0]], [[0.4, 0.6]])
    tensor([1.])
    """
    y_pred = _as_tensor(y_pred)
    return torch.eq(_as_tensor(y_true, device=y_pred.device).argmax(-1), y_pred.argmax(-1))


@_floatx_function
def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where the arg-max of ``y_pred`` is the integer label (labels (n,) or (n, 1)).

    >>> sparse_categorical_accuracy([[1], [0]], [[0.4, 0.6], [0.4, 0.6]])
    tensor([1., 0.])
    """
    y_pred = _as_tensor(y_pred)
    y_true = _squeeze_sparse(_as_tensor(y_true, device=y_pred.device), y_pred)
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
    y_pred = _as_tensor(y_pred)
    return _in_top_k(_as_tensor(y_true, device=y_pred.device).argmax(-1), y_pred, k)


@_floatx_function
def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5,
                                      from_sorted_ids: bool = False) -> torch.Tensor:
    """1.0 where the integer label is among the ``k`` highest scores (or, with ``from_sorted_ids``,
    among the first ``k`` class ids of ``y_pred``).

    >>> sparse_top_k_categorical_accuracy([1], [[0.5, 0.3, 0.2]], k=2)
    tensor([1.])
    """
    y_pred = _as_tensor(y_pred)
    y_true = _squeeze_sparse(_as_tensor(y_true, device=y_pred.device), y_pred)
    if from_sorted_ids:
        return torch.eq(y_true.unsqueeze(-1), y_pred[..., :k]).any(-1)
    return _in_top_k(y_true, y_pred, k)


def _regression_pair(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = _as_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(config.standardize_dtype(None))
    return _match_rank(_as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device), y_pred)


@_register_function("mean_squared_error", "mse")
def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of squared differences over the last axis.

    >>> import torch
    >>> mean_squared_error(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([2.5000])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return (y_pred - y_true).square().mean(-1)


@_register_function("mean_absolute_error", "mae")
def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of absolute differences over the last axis.

    >>> import torch
    >>> mean_absolute_error(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([1.5000])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return (y_pred - y_true).abs().mean(-1)


# ---------------------------------------------------------------------------------- classes


class Metric:
    """Base class of streaming metrics.

    Subclasses declare accumulators with ``add_state``, add tensors or Python numbers to them with
    ``accumulate`` in ``update_state`` and read them with ``state`` in ``result``. An accumulator is
    a Python 0 until a tensor is added; it then becomes a tensor of the metric's dtype on that
    tensor's device, updated in place.

    >>> import torch
    >>> class Positives(Metric):
    ...     def __init__(self, name="positives"):
    ...         super().__init__(name)
    ...         self.add_state("count")
    ...     def update_state(self, y_true, y_pred, sample_weight=None):
    ...         self.accumulate("count", (torch.as_tensor(y_pred) > 0).sum())
    ...     def result(self):
    ...         return torch.as_tensor(self.state("count"), dtype=self._dtype)
    >>> Positives()(None, torch.tensor([1.0, -2.0, 3.0]))
    tensor(2.)
    """

    def __init__(self, name: str | None = None, dtype: str | torch.dtype | None = None):
        self.name = name or config.unique_name(_snake(type(self).__name__))
        self._dtype = config.standardize_dtype(dtype)
        self._state: dict[str, float | torch.Tensor] = {}

    @property
    def dtype(self) -> str:
        """The name of the dtype of the state and the result (floatx unless given)."""
        return config.dtype_name(self._dtype)

    # ----------------------------------------------------------------------------- state
    def add_state(self, name: str) -> None:
        """Declare an accumulator starting at 0 (created lazily on the first tensor added)."""
        self._state[name] = 0.0

    def accumulate(self, name: str, value: torch.Tensor | float, scale: float = 1.0) -> None:
        """Add ``value * scale`` to an accumulator, on the device, without synchronising."""
        current = self._state[name]
        if isinstance(value, torch.Tensor):
            if isinstance(current, torch.Tensor) and current.device == value.device:
                current.add_(value.detach() if value.requires_grad else value, alpha=scale)
                return
            fresh = value.detach().to(self._dtype, copy=True)
            if scale != 1.0:
                fresh.mul_(scale)
            if isinstance(current, torch.Tensor):
                fresh.add_(current.to(fresh.device))
            elif current:
                fresh.add_(current)
            self._state[name] = fresh
        elif isinstance(current, torch.Tensor):
            current.add_(value * scale)
        else:
            self._state[name] = current + value * scale

    def state(self, name: str) -> float | torch.Tensor:
        """An accumulator's value: a Python number until a tensor was added, then the live tensor."""
        return self._state[name]

    @property
    def variables(self) -> list[torch.Tensor]:
        """The accumulators as live tensors, in declaration order.

        Accumulators still held as Python numbers are turned into 0-d tensors of the metric's dtype
        on the device of the other accumulators (CPU when none is a tensor yet), so in-place changes
        to the returned tensors (for example a cross-process sum) change the metric's state.
        """
        device = next((v.device for v in self._state.values() if isinstance(v, torch.Tensor)), None)
        for name, value in self._state.items():
            if not isinstance(value, torch.Tensor):
                self._state[name] = torch.tensor(float(value), dtype=self._dtype, device=device)
        return list(self._state.values())

    def reset_state(self) -> None:
        """Forget everything seen: every accumulator goes back to a lazy 0."""
        for name in self._state:
            self._state[name] = 0.0

    def _zero(self, like: Any = None) -> torch.Tensor:
        device = like.device if isinstance(like, torch.Tensor) else None
        return torch.zeros((), dtype=self._dtype, device=device)

    # ------------------------------------------------------------------------ protocol
    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Fold one batch into the state (subclasses implement this)."""
        raise NotImplementedError(f"abstract: {type(self).__name__} must implement update_state.")

    def result(self) -> torch.Tensor:
        """The metric value over everything seen since the last reset, as a 0-d tensor."""
        raise NotImplementedError(f"abstract: {type(self).__name__} must implement result.")

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """``update_state(*args, **kwargs)``, then ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _host_number(sample_weight: Any) -> bool:
    """Whether a sample weight is one number held by the host (a Python or NumPy scalar)."""
    if sample_weight is None or isinstance(sample_weight, torch.Tensor):
        return False
    return np.ndim(sample_weight) == 0


def _samplewise(values: torch.Tensor, sample_weight: Any, dtype: torch.dtype,
                reduce: Callable[..., torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's weighting: reduce values to the weight's rank, weight them, then reduce per sample."""
    values = values.to(dtype)
    weight = _as_tensor(sample_weight, dtype=dtype, device=values.device)
    values, weight = _match_rank(values, weight)
    if values.ndim > weight.ndim:
        values = reduce(values, dim=tuple(range(weight.ndim, values.ndim)))
    weight = torch.broadcast_to(weight, values.shape)
    values = values * weight
    if weight.ndim > 1:
        weight = reduce(weight, dim=tuple(range(1, weight.ndim)))
    if values.ndim > 1:
        values = reduce(values, dim=tuple(range(1, values.ndim)))
    return values, weight


@METRICS("Mean", "mean")
class Mean(Metric):
    """The (weighted) mean of the values given: ``sum(w * v) / sum(w)``.

    Values of rank > 1 are first averaged per sample (over all axes but the first).

    >>> m = Mean()
    >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    tensor(2.)
    """

    def __init__(self, name: str = "mean", dtype: str | torch.dtype | None = None):
        super().__init__(name=name, dtype=dtype)
        self.add_state("total")
        self.add_state("count")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values = _as_tensor(values)
        if _host_number(sample_weight):  # e.g. the batch size: weigh the batch mean, count on the host
            values = values.to(self._dtype)
            self.accumulate("total", values.mean() if values.ndim else values, scale=float(sample_weight))
            self.accumulate("count", float(sample_weight))
            return
        if sample_weight is not None:
            values, weight = _samplewise(values, sample_weight, self._dtype, torch.mean)
            self.accumulate("total", values.sum())
            self.accumulate("count", weight.sum())
            return
        if values.is_floating_point() and values.dtype != self._dtype:
            values = values.to(self._dtype)
        if values.ndim == 0:
            self.accumulate("total", values)
            self.accumulate("count", 1)
            return
        n = values.shape[0]
        per_sample = values.numel() // n if n else 1
        self.accumulate("total", values.sum(), scale=1.0 / per_sample if per_sample > 1 else 1.0)
        self.accumulate("count", n)

    def result(self) -> torch.Tensor:
        total, count = self.state("total"), self.state("count")
        if not isinstance(total, torch.Tensor):
            return self._zero(count)
        if isinstance(count, torch.Tensor):
            zero = count == 0
            return torch.where(zero, 0.0, total / torch.where(zero, 1.0, count))
        return total / count if count else self._zero(total)


@METRICS("Sum", "sum")
class Sum(Metric):
    """The (weighted) sum of the values given.

    >>> m = Sum()
    >>> m.update_state([1.0, 3.0, 5.0, 7.0])
    >>> m.result()
    tensor(16.)
    """

    def __init__(self, name: str = "sum", dtype: str | torch.dtype | None = None):
        super().__init__(name=name, dtype=dtype)
        self.add_state("total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values = _as_tensor(values)
        if _host_number(sample_weight):
            self.accumulate("total", values.to(self._dtype).sum(), scale=float(sample_weight))
            return
        if sample_weight is not None:
            values, _ = _samplewise(values, sample_weight, self._dtype, torch.sum)
        elif values.is_floating_point() and values.dtype != self._dtype:
            values = values.to(self._dtype)
        self.accumulate("total", values.sum())

    def result(self) -> torch.Tensor:
        total = self.state("total")
        return total.clone() if isinstance(total, torch.Tensor) else self._zero()


@METRICS("MeanMetricWrapper")
class MeanMetricWrapper(Mean):
    """The running mean of a per-sample function ``fn(y_true, y_pred, **fn_kwargs)``.

    >>> import torch
    >>> m = MeanMetricWrapper(mean_absolute_error)
    >>> m.name, m(torch.zeros(2, 1), torch.ones(2, 1))
    ('mean_absolute_error', tensor(1.))
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None,
                 dtype: str | torch.dtype | None = None, **fn_kwargs: Any):
        super().__init__(name=name or getattr(fn, "__name__", None) or "mean_metric_wrapper", dtype=dtype)
        self._fn = fn
        self._fn_kwargs = fn_kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true, y_pred = (x.detach() if isinstance(x, torch.Tensor) and x.requires_grad else x
                          for x in (y_true, y_pred))
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> dict[str, Any]:
        fn = getattr(self._fn, "__name__", repr(self._fn))
        return {**super().get_config(), "fn": fn, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        config = dict(config)
        fn = config.pop("fn")
        return cls(_FUNCTIONS.get(fn) if isinstance(fn, str) else fn, **config)


class _FixedFunctionMetric(MeanMetricWrapper):
    """A MeanMetricWrapper whose function is fixed by the class (its config holds no ``fn``)."""

    _config_keys: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        return {**Metric.get_config(self), **{key: getattr(self, key) for key in self._config_keys}}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)


@METRICS("Accuracy", "accuracy", "acc")
class Accuracy(_FixedFunctionMetric):
    """How often predictions equal labels exactly.

    >>> Accuracy()([[1], [2], [3]], [[1.0], [2.0], [0.0]])
    tensor(0.6667)
    """

    def __init__(self, name: str = "accuracy", dtype: str | torch.dtype | None = None):
        super().__init__(accuracy.__wrapped__, name=name, dtype=dtype)


@METRICS("BinaryAccuracy", "binary_accuracy")
class BinaryAccuracy(_FixedFunctionMetric):
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
class CategoricalAccuracy(_FixedFunctionMetric):
    """How often the arg-max of ``y_pred`` is the hot class of one-hot labels.

    >>> CategoricalAccuracy()([[0, 1], [1, 0]], [[0.3, 0.7], [0.2, 0.8]])
    tensor(0.5000)
    """

    def __init__(self, name: str = "categorical_accuracy", dtype: str | torch.dtype | None = None):
        super().__init__(categorical_accuracy.__wrapped__, name=name, dtype=dtype)


@METRICS("SparseCategoricalAccuracy", "sparse_categorical_accuracy")
class SparseCategoricalAccuracy(_FixedFunctionMetric):
    """How often the arg-max of ``y_pred`` is the integer label (labels (n,) or (n, 1)).

    >>> SparseCategoricalAccuracy()([1, 0], [[0.3, 0.7], [0.2, 0.8]])
    tensor(0.5000)
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: str | torch.dtype | None = None):
        super().__init__(sparse_categorical_accuracy.__wrapped__, name=name, dtype=dtype)


@METRICS("TopKCategoricalAccuracy", "top_k_categorical_accuracy")
class TopKCategoricalAccuracy(_FixedFunctionMetric):
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
class SparseTopKCategoricalAccuracy(_FixedFunctionMetric):
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


@METRICS("MeanSquaredError", "mean_squared_error", "mse")
class MeanSquaredError(_FixedFunctionMetric):
    """Running mean of squared errors.

    >>> MeanSquaredError()([[0.0, 2.0]], [[1.0, 0.0]])
    tensor(2.5000)
    """

    def __init__(self, name: str = "mean_squared_error", dtype: str | torch.dtype | None = None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


@METRICS("MeanAbsoluteError", "mean_absolute_error", "mae")
class MeanAbsoluteError(_FixedFunctionMetric):
    """Running mean of absolute errors.

    >>> MeanAbsoluteError()([[0.0, 2.0]], [[1.0, 0.0]])
    tensor(1.5000)
    """

    def __init__(self, name: str = "mean_absolute_error", dtype: str | torch.dtype | None = None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


@METRICS("RootMeanSquaredError", "root_mean_squared_error", "rmse")
class RootMeanSquaredError(Mean):
    """Square root of the running (weighted) mean of squared errors.

    >>> RootMeanSquaredError()([[0.0], [0.0]], [[3.0], [0.0]])
    tensor(2.1213)
    """

    def __init__(self, name: str = "root_mean_squared_error", dtype: str | torch.dtype | None = None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = _as_tensor(y_pred, dtype=self._dtype)
        y_true, y_pred = _match_rank(_as_tensor(y_true, dtype=self._dtype, device=y_pred.device), y_pred)
        super().update_state((y_pred - y_true).square(), sample_weight)

    def result(self) -> torch.Tensor:
        return super().result().sqrt()


# ------------------------------------------------------------------------ lookup and configs


def get(identifier: Any) -> Metric | None:
    """A Metric instance from a name, class name, Metric, metric class, function or config dict.

    ``"accuracy"`` and ``"acc"`` give exact-match ``Accuracy`` here; use ``resolve_accuracy`` to
    pick the accuracy that fits a loss and label shapes.

    >>> get("mse").name
    'mean_squared_error'
    >>> get({"class_name": "TopKCategoricalAccuracy", "config": {"k": 3}}).k
    3
    """
    return METRICS.resolve(identifier, Metric, wrap=MeanMetricWrapper)


def serialize(metric: Metric) -> dict[str, Any]:
    """The ``{"class_name", "config"}`` dict that ``get`` turns back into an equal metric.

    >>> serialize(Mean())
    {'class_name': 'Mean', 'config': {'name': 'mean', 'dtype': 'float32'}}
    """
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


_CROSSENTROPIES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy")


def _loss_kind(loss: Any) -> str | None:
    """Which crossentropy ``loss`` is (by class, wrapped function or name), or None."""
    if loss is None:
        return None
    if isinstance(loss, str):
        names = {_snake(loss) if not loss.islower() else loss}
    else:
        kind = loss if isinstance(loss, type) else type(loss)
        names = {_snake(c.__name__) for c in kind.__mro__}
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

