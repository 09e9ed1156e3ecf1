"""Losses with Keras 3 semantics, computed with fused PyTorch kernels.

Loss *functions* return one value per sample (the last axis is reduced); loss *classes* weight
those values by ``sample_weight`` and reduce them to a 0-d tensor. Nothing here synchronises
the device with the host, so a loss is safe to call inside every training step.

>>> import torch
>>> loss = get("sparse_categorical_crossentropy")
>>> y_pred = torch.tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
>>> round(float(loss(torch.tensor([1, 2]), y_pred)), 3)
1.177
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.core.registry import Registry

__all__ = [
    "LOSSES", "BinaryCrossentropy", "CategoricalCrossentropy", "Huber", "Loss", "LossFunctionWrapper",
    "MeanAbsoluteError", "MeanSquaredError", "SparseCategoricalCrossentropy", "binary_crossentropy",
    "categorical_crossentropy", "get", "huber", "mean_absolute_error", "mean_squared_error", "serialize",
    "sparse_categorical_crossentropy",
]

#: Loss classes by class name, snake_case function name and alias (``"mse"``, ``"MAE"``, ...).
LOSSES = Registry("loss")
# Per-sample loss functions by name, used to rebuild a LossFunctionWrapper from its config.
_FUNCTIONS = Registry("loss function")

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")


# ------------------------------------------------------------------------------------ helpers


def _as_tensor(x: Any, dtype: torch.dtype | None = None, device: torch.device | None = None) -> torch.Tensor:
    """A tensor view of ``x`` on ``device`` with ``dtype`` (no copy when it already matches)."""
    if isinstance(x, torch.Tensor):
        if (dtype is not None and x.dtype != dtype) or (device is not None and x.device != device):
            return x.to(device=device, dtype=dtype)
        return x
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def _float_pred(y_pred: Any) -> torch.Tensor:
    y_pred = _as_tensor(y_pred)
    return y_pred if y_pred.is_floating_point() else y_pred.to(config.standardize_dtype(None))


def _match_rank(x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's rule: when ranks differ by one and the longer one ends in 1, drop or add that axis."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        return (x1, x2.unsqueeze(-1)) if r2 == 1 else (x1.squeeze(-1), x2)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        return (x1.unsqueeze(-1), x2) if r1 == 1 else (x1, x2.squeeze(-1))
    return x1, x2


def _pair(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Float tensors of equal rank (Keras rank matching), y_true on y_pred's device and dtype."""
    y_pred = _float_pred(y_pred)
    y_true = _as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    return _match_rank(y_true, y_pred)


def _same_shape(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if y_true.shape != y_pred.shape:
        y_true, y_pred = torch.broadcast_tensors(y_true, y_pred)
    return y_true, y_pred


def _sparse_labels(y_true: Any, y_pred: torch.Tensor, axis: int) -> torch.Tensor:
    """Integer class ids shaped like y_pred without its class axis ((n,) and (n, 1) both work)."""
    y_true = _as_tensor(y_true, device=y_pred.device)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    expected = list(y_pred.shape)
    del expected[axis]
    if list(y_true.shape) != expected:
        raise ValueError(
            "Sparse labels must have the shape of y_pred without its class axis; received "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}."
        )
    return y_true if y_true.dtype == torch.long else y_true.long()


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---------------------------------------------------------------------------- loss functions
# The private versions take ``mean``: True returns the mean over every element in one fused
# kernel (what "sum_over_batch_size" yields when no sample weights are given).


def _scce(y_true: Any, y_pred: Any, from_logits: bool, ignore_class: int | None, axis: int,
          mean: bool = False) -> torch.Tensor:
    y_pred = _float_pred(y_pred)
    axis = axis % max(y_pred.ndim, 1)
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
    y_pred = _float_pred(y_pred)
    y_true = _as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    if y_true.shape != y_pred.shape or y_pred.ndim < 1:
        raise ValueError(
            "categorical_crossentropy needs one-hot y_true shaped like y_pred (rank >= 1); received "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}."
        )
    axis = axis % y_pred.ndim
    if from_logits:
        if y_pred.ndim > 1 and axis != 1:
            y_pred, y_true = y_pred.movedim(axis, 1), y_true.movedim(axis, 1)
        return F.cross_entropy(y_pred, y_true, reduction="mean" if mean else "none",
                               label_smoothing=float(label_smoothing))
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    eps = config.epsilon()
    probs = (y_pred / y_pred.sum(axis, keepdim=True)).clamp(eps, 1.0 - eps)
    values = (y_true * torch.log(probs)).sum(axis).neg()
    return values.mean() if mean else values


def _bce(y_true: Any, y_pred: Any, from_logits: bool, label_smoothing: float, axis: int,
         mean: bool = False) -> torch.Tensor:
    y_true, y_pred = _same_shape(*_pair(y_true, y_pred))
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
    return values if mean else values.mean(axis)


def _regression(kernel: Callable[..., torch.Tensor], y_true: Any, y_pred: Any, mean: bool,
                **kwargs: Any) -> torch.Tensor:
    y_true, y_pred = _same_shape(*_pair(y_true, y_pred))
    if mean:
        return kernel(y_pred, y_true, reduction="mean", **kwargs)
    return kernel(y_pred, y_true, reduction="none", **kwargs).mean(-1)


def _register_function(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        _FUNCTIONS.register(names[0], fn, names[1:])
        return fn

    return decorate


@_register_function("sparse_categorical_crossentropy")
def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> torch.Tensor:
    """Crossentropy between integer labels and a predicted distribution, one value per sample.

    Labels may be shaped like ``y_pred`` without its class axis, or with that axis of size 1,
    in any integer or float dtype. Entries labelled ``ignore_class`` give 0.

    >>> import torch
    >>> sparse_categorical_crossentropy(torch.tensor([1]), torch.tensor([[0.25, 0.75]])).shape
    torch.Size([1])
    """
    return _scce(y_true, y_pred, from_logits, ignore_class, axis)


@_register_function("categorical_crossentropy")
def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    """Crossentropy between one-hot (or soft) labels and a predicted distribution, per sample.

    >>> import torch
    >>> round(float(categorical_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))[0]), 4)
    0.6931
    """
    return _cce(y_true, y_pred, from_logits, label_smoothing, axis)


@_register_function("binary_crossentropy")
def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    """Binary crossentropy averaged over ``axis``, one value per sample.

    >>> import torch
    >>> round(float(binary_crossentropy(torch.tensor([[1.0]]), torch.tensor([[0.5]]))[0]), 4)
    0.6931
    """
    return _bce(y_true, y_pred, from_logits, label_smoothing, axis)


@_register_function("mean_squared_error", "mse")
def mean_squared_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of squared differences over the last axis.

    >>> import torch
    >>> mean_squared_error(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([2.5000])
    """
    return _regression(F.mse_loss, y_true, y_pred, False)


@_register_function("mean_absolute_error", "mae")
def mean_absolute_error(y_true: Any, y_pred: Any) -> torch.Tensor:
    """Mean of absolute differences over the last axis.

    >>> import torch
    >>> mean_absolute_error(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([1.5000])
    """
    return _regression(F.l1_loss, y_true, y_pred, False)


@_register_function("huber", "huber_loss")
def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> torch.Tensor:
    """Huber loss (quadratic within ``delta``, linear beyond) averaged over the last axis.

    >>> import torch
    >>> huber(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))
    tensor([1.3125])
    """
    return _regression(F.huber_loss, y_true, y_pred, False, delta=float(delta))


# ------------------------------------------------------------------------------- reductions


def _div_no_nan(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    zero = den == 0
    return torch.where(zero, 0.0, num / torch.where(zero, 1.0, den))


def reduce_weighted_values(values: torch.Tensor, sample_weight: Any = None, mask: torch.Tensor | None = None,
                           reduction: str | None = "sum_over_batch_size") -> torch.Tensor:
    """Weight per-sample ``values`` and reduce them as a Keras loss does.

    ``sample_weight`` is rank-matched like Keras (a trailing axis of size 1 is dropped or added),
    then aligned on the leading (batch) axes; a Python number weighs every value alike without
    a copy to the device. ``mask`` (boolean, values' shape) marks the entries that count, as
    ``ignore_class`` does. ``"mean_with_sample_weight"`` divides by the sum of the weights
    broadcast to the values' shape.

    >>> import torch
    >>> reduce_weighted_values(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0]), reduction="sum")
    tensor(1.)
    """
    scale = None
    host_number = not isinstance(sample_weight, torch.Tensor) and np.ndim(sample_weight) == 0
    if sample_weight is not None and host_number:
        scale, sample_weight = float(sample_weight), None
    weight = None
    if sample_weight is not None:
        weight = _as_tensor(sample_weight, dtype=values.dtype, device=values.device)
    if mask is not None:
        fmask = mask.to(values.dtype)
        if weight is None:
            weight = fmask
        else:
            fmask, weight = _broadcast_weight(*_match_rank(fmask, weight))
            weight = weight * fmask
    if weight is not None:
        values, weight = _broadcast_weight(*_match_rank(values, weight))
        values = values * weight
    if scale is not None:
        values = values * scale
    if reduction is None or reduction == "none" or values.ndim == 0:
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and (weight is not None or scale is not None):
        if weight is None:
            count = values.numel() * scale
            return total / count if count else torch.zeros_like(total)
        count = torch.broadcast_to(weight, values.shape).sum()
        return _div_no_nan(total, count if scale is None else count * scale)
    if mask is not None:
        return total / mask.sum().clamp_min(1).to(values.dtype)
    return total / max(values.numel(), 1)


def _broadcast_weight(values: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Give a lower-rank weight trailing axes of size 1 so it lines up with the batch axes."""
    if 0 < weight.ndim < values.ndim:
        weight = weight.reshape(tuple(weight.shape) + (1,) * (values.ndim - weight.ndim))
    return values, weight


# ---------------------------------------------------------------------------------- classes


class Loss:
    """Base class of losses: ``call`` gives per-sample values, ``__call__`` weights and reduces them.

    ``reduction`` is one of ``"sum_over_batch_size"`` (default; sum / number of values),
    ``"mean"`` (the same, as in Keras 3), ``"sum"``, ``"mean_with_sample_weight"`` (weighted sum /
    sum of weights) or ``None``/``"none"`` (per-sample values).

    >>> import torch
    >>> class Absolute(Loss):
    ...     def call(self, y_true, y_pred):
    ...         return (y_pred - y_true).abs().mean(-1)
    >>> Absolute()(torch.zeros(2, 1), torch.ones(2, 1))
    tensor(1.)
    """

    #: Whether ``__call__`` casts ``y_true`` to the loss dtype (sparse losses keep integer labels).
    _float_labels = True

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: str | torch.dtype | None = None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid reduction {reduction!r}; expected one of {REDUCTIONS}.")
        self.name = name or config.unique_name(_snake(type(self).__name__))
        self.reduction = reduction
        self._dtype = config.standardize_dtype(dtype)
        self._dtype_given = dtype is not None

    @property
    def dtype(self) -> str:
        """The name of the dtype the loss is computed in (floatx unless given)."""
        return config.dtype_name(self._dtype)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        y_pred = _as_tensor(y_pred, dtype=self._dtype)
        y_true = _as_tensor(y_true, device=y_pred.device)
        if self._float_labels:
            y_true = _as_tensor(y_true, dtype=self._dtype)
        if sample_weight is None and self.reduction in _MEAN_REDUCTIONS:
            fused = self._fused_mean(y_true, y_pred)
            if fused is not None:
                return fused
        values, mask = self.call_with_mask(y_true, y_pred)
        if sample_weight is None and mask is None and values.ndim and values.numel():
            if self.reduction in _MEAN_REDUCTIONS:
                return values.mean()
            if self.reduction == "sum":
                return values.sum()
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """Per-sample loss values (subclasses implement this)."""
        raise NotImplementedError(f"abstract: {type(self).__name__} must implement call(y_true, y_pred).")

    def call_with_mask(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Per-sample values and a boolean mask of the entries that count (None: all count)."""
        return self.call(y_true, y_pred), None

    def _fused_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        """The unweighted mean in one fused kernel where one exists (None: reduce ``call``'s values)."""
        return None

    def get_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"name": self.name, "reduction": self.reduction}
        if self._dtype_given:
            cfg["dtype"] = self.dtype
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


@LOSSES("LossFunctionWrapper")
class LossFunctionWrapper(Loss):
    """A loss class around any per-sample function ``fn(y_true, y_pred, **kwargs)``.

    >>> import torch
    >>> loss = LossFunctionWrapper(mean_absolute_error)
    >>> loss.name, float(loss(torch.zeros(2, 1), torch.ones(2, 1)))
    ('mean_absolute_error', 1.0)
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None,
                 reduction: str | None = "sum_over_batch_size", dtype: str | torch.dtype | None = None,
                 **kwargs: Any):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true, y_pred = _match_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", repr(self.fn)), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        if "fn" not in config:  # the subclasses fix their function
            return cls(**config)
        config = dict(config)
        fn = config.pop("fn")
        return cls(_FUNCTIONS.get(fn) if isinstance(fn, str) else fn, **config)


@LOSSES("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy")
class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy for integer labels; entries labelled ``ignore_class`` are left out of the mean.

    >>> import torch
    >>> loss = SparseCategoricalCrossentropy(from_logits=True)
    >>> round(float(loss(torch.tensor([0]), torch.tensor([[0.0, 0.0]]))), 4)
    0.6931
    """

    _float_labels = False

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str | None = "sum_over_batch_size", axis: int = -1,
                 name: str = "sparse_categorical_crossentropy", dtype: str | torch.dtype | None = None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

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
                 dtype: str | torch.dtype | None = None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def _fused_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        if not self.from_logits:
            return None
        y_true, y_pred = _match_rank(y_true, y_pred)
        return _cce(y_true, y_pred, True, self.label_smoothing, self.axis, mean=True)

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


@LOSSES("BinaryCrossentropy", "binary_crossentropy")
class BinaryCrossentropy(LossFunctionWrapper):
    """Crossentropy for 0/1 labels against probabilities (or logits with ``from_logits=True``).

    >>> import torch
    >>> loss = BinaryCrossentropy()
    >>> round(float(loss(torch.tensor([1.0, 0.0]), torch.tensor([[0.5], [0.5]]))), 4)
    0.6931
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str = "binary_crossentropy",
                 dtype: str | torch.dtype | None = None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def _fused_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        y_true, y_pred = _match_rank(y_true, y_pred)
        if y_pred.ndim == 0:
            return None
        return _bce(y_true, y_pred, self.from_logits, self.label_smoothing, self.axis, mean=True)

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class _RegressionLoss(LossFunctionWrapper):
    _kernel: Callable[..., torch.Tensor]

    def _kernel_kwargs(self) -> dict[str, Any]:
        return {}

    def _fused_mean(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor | None:
        y_true, y_pred = _match_rank(y_true, y_pred)
        if y_pred.ndim == 0 or y_true.ndim == 0:
            return None
        return _regression(type(self)._kernel, y_true, y_pred, True, **self._kernel_kwargs())

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


@LOSSES("MeanSquaredError", "mean_squared_error", "mse")
class MeanSquaredError(_RegressionLoss):
    """Mean of squared errors.

    >>> import torch
    >>> MeanSquaredError()(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor(2.5000)
    """

    _kernel = staticmethod(F.mse_loss)

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_squared_error",
                 dtype: str | torch.dtype | None = None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


@LOSSES("MeanAbsoluteError", "mean_absolute_error", "mae")
class MeanAbsoluteError(_RegressionLoss):
    """Mean of absolute errors.

    >>> import torch
    >>> MeanAbsoluteError()(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor(1.5000)
    """

    _kernel = staticmethod(F.l1_loss)

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_absolute_error",
                 dtype: str | torch.dtype | None = None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


@LOSSES("Huber", "huber", "huber_loss")
class Huber(_RegressionLoss):
    """Huber loss: squared error within ``delta``, linear beyond it.

    >>> import torch
    >>> Huber(delta=1.0)(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))
    tensor(1.3125)
    """

    _kernel = staticmethod(F.huber_loss)

    def __init__(self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size",
                 name: str = "huber_loss", dtype: str | torch.dtype | None = None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)
        self.delta = delta

    def _kernel_kwargs(self) -> dict[str, Any]:
        return {"delta": float(self.delta)}

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "delta": self.delta}


# ------------------------------------------------------------------------ lookup and configs


def get(identifier: Any) -> Loss | None:
    """A Loss instance from a name, class name, Loss, loss class, function or config dict.

    >>> get("mse").name
    'mean_squared_error'
    >>> type(get({"class_name": "Huber", "config": {"delta": 2.0}})).__name__
    'Huber'
    """
    return LOSSES.resolve(identifier, Loss, wrap=LossFunctionWrapper)


def serialize(loss: Loss) -> dict[str, Any]:
    """The ``{"class_name", "config"}`` dict that ``get`` turns back into an equal loss.

    >>> serialize(MeanSquaredError())["class_name"]
    'MeanSquaredError'
    """
    return {"class_name": type(loss).__name__, "config": loss.get_config()}
