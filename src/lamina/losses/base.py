"""The loss contract: ``Loss``, Keras 3's reductions and sample weighting, ``LossFunctionWrapper``, the
registries and ``get``/``serialize``/``deserialize``.

A loss *function* returns one value per sample (the class axis, or the last axis, is reduced); a loss *class*
weights those values by ``sample_weight`` and reduces them. Nothing here synchronises the device with the host,
so a loss is safe to call inside every training step.

>>> import torch
>>> reduce_weighted_values(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0]), reduction="sum")
tensor(1.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from lamina.core import config
from lamina.core.naming import snake_case
from lamina.core.registry import Registry
from lamina.core.tensors import as_tensor, divide_no_nan, match_rank

#: Loss classes by class name, snake_case function name and alias (``"mse"``, ``"kld"``, ...).
LOSSES = Registry("loss")
#: Per-sample loss functions by name and alias, used to rebuild a ``LossFunctionWrapper`` from its config.
FUNCTIONS = Registry("loss function")
#: Decorator: ``@register_function("mean_squared_error", "mse")`` records a per-sample loss function.
register_function = FUNCTIONS

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")

# ------------------------------------------------------------------------------------ helpers


def float_pred(y_pred: Any) -> torch.Tensor:
    """``y_pred`` as a floating tensor (integers become floatx)."""
    y_pred = as_tensor(y_pred)
    return y_pred if y_pred.is_floating_point() else y_pred.to(config.standardize_dtype(None))


def pair(y_true: Any, y_pred: Any, broadcast: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Float tensors of equal rank (Keras rank matching), y_true on y_pred's device and dtype, broadcast to one
    shape unless ``broadcast=False``."""
    y_pred = float_pred(y_pred)
    y_true = as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    y_true, y_pred = match_rank(y_true, y_pred)
    if broadcast and y_true.shape != y_pred.shape:
        try:
            y_true, y_pred = torch.broadcast_tensors(y_true, y_pred)
        except RuntimeError:
            raise ValueError(
                f"y_true and y_pred must have the same shape (or broadcast to one); received "
                f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}."
            ) from None
    return y_true, y_pred


def check_axis(axis: Any) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"`axis` must be an int; received axis={axis!r} of type {type(axis).__name__}.")
    return int(axis)


# ------------------------------------------------------------------------------- reductions


def _host_number(x: Any) -> bool:
    return not isinstance(x, torch.Tensor) and np.ndim(x) == 0


def _align(values: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's rank matching, then a lower-rank weight lines up with the leading (batch) axes."""
    values, weight = match_rank(values, weight)
    if 0 < weight.ndim < values.ndim:
        weight = weight.reshape(tuple(weight.shape) + (1,) * (values.ndim - weight.ndim))
    try:
        torch.broadcast_shapes(values.shape, weight.shape)
    except RuntimeError:
        raise ValueError(
            f"sample_weight of shape {tuple(weight.shape)} does not broadcast to the per-sample loss values of "
            f"shape {tuple(values.shape)}. Pass one weight per sample (shape {tuple(values.shape[:1])}) or "
            f"per entry (shape {tuple(values.shape)})."
        ) from None
    return values, weight


def reduce_weighted_values(values: torch.Tensor, sample_weight: Any = None, mask: torch.Tensor | None = None,
                           reduction: str | None = "sum_over_batch_size") -> torch.Tensor:
    """Weight per-sample ``values`` and reduce them exactly as a Keras 3 loss does.

    - ``sample_weight`` (any shape that broadcasts) is rank-matched like Keras (a trailing axis of size 1 is
      dropped or added); a weight of lower rank lines up with the leading (batch) axes. A Python number
      weighs every value alike without a copy to the device.
    - ``mask`` (boolean, shaped like ``values``) marks the entries that count, as ``ignore_class`` does: the
      means then divide by the number of valid entries.
    - ``"sum_over_batch_size"``/``"mean"``: weighted sum / number of values; ``"sum"``: weighted sum;
      ``"mean_with_sample_weight"``: weighted sum / sum of the weights as given (Keras's definition: a weight
      of shape ``(batch, 1)`` on values of shape ``(batch, steps)`` is summed over the batch only);
      ``None``/``"none"``: the weighted values.

    >>> import torch
    >>> reduce_weighted_values(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 3.0]), reduction="mean_with_sample_weight")
    tensor(2.5000)
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid reduction {reduction!r}; expected one of {REDUCTIONS}.")
    scale = None
    if sample_weight is not None and _host_number(sample_weight):
        scale, sample_weight = float(sample_weight), None
    weight = None if sample_weight is None else as_tensor(sample_weight, dtype=values.dtype, device=values.device)
    if mask is not None:
        fmask = mask.to(values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            # valid entries weigh total / valid, so the mean over all entries is the mean over the valid ones
            fmask = fmask * divide_no_nan(fmask.new_full((), float(fmask.numel())), fmask.sum())
        weight = fmask if weight is None else torch.mul(*_align(fmask, weight))
    if weight is not None:
        values, weight = _align(values, weight)
        values = values * weight
    if scale is not None:
        values = values * scale
    if reduction is None or reduction == "none" or values.ndim == 0 or tuple(values.shape) == (0,):
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and (weight is not None or scale is not None):
        divisor = weight.sum() if weight is not None else total.new_ones(())
        return divide_no_nan(total, divisor if scale is None else divisor * scale)
    return total / values.numel() if values.numel() else total


# ---------------------------------------------------------------------------------- classes


class Loss:
    """Base class of losses: ``call`` gives per-sample values, ``__call__`` weights and reduces them.

    ``reduction`` is one of ``"sum_over_batch_size"`` (default; sum / number of values), ``"mean"`` (the same,
    as in Keras 3), ``"sum"``, ``"mean_with_sample_weight"`` (weighted sum / sum of weights) or
    ``None``/``"none"`` (per-sample values). See ``reduce_weighted_values``.

    >>> import torch
    >>> class Absolute(Loss):
    ...     def call(self, y_true, y_pred):
    ...         return (y_pred - y_true).abs().mean(-1)
    >>> Absolute()(torch.zeros(2, 1), torch.ones(2, 1))
    tensor(1.)
    """

    #: Whether ``__call__`` casts ``y_true`` to the loss dtype (sparse losses keep integer labels).
    _float_labels = True
    #: Whether ``_fused_mean`` computes what ``call`` would: False when no class defines one, or when a
    #: subclass redefines ``call``/``call_with_mask`` below the class that fused them (set per class).
    _fused_ok = False

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        depth = {name: next(i for i, c in enumerate(cls.__mro__) if name in vars(c))
                 for name in ("_fused_mean", "call", "call_with_mask")}
        cls._fused_ok = cls.__mro__[depth["_fused_mean"]] is not Loss and \
            depth["_fused_mean"] <= min(depth["call"], depth["call_with_mask"])

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: str | torch.dtype | None = None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid reduction {reduction!r}; expected one of {REDUCTIONS}.")
        self.name = name or config.unique_name(snake_case(type(self).__name__))
        self.reduction = reduction
        self._dtype = config.standardize_dtype(dtype)
        self._dtype_given = dtype is not None

    @property
    def dtype(self) -> str:
        """The name of the dtype the loss is computed in (floatx unless given)."""
        return config.dtype_name(self._dtype)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        if type(y_pred) is not torch.Tensor or y_pred.dtype is not self._dtype:
            y_pred = as_tensor(y_pred, dtype=self._dtype)
        if type(y_true) is not torch.Tensor or y_true.device != y_pred.device:
            y_true = as_tensor(y_true, device=y_pred.device)
        if self._float_labels and y_true.dtype is not self._dtype:
            y_true = y_true.to(self._dtype)
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"Invalid reduction {self.reduction!r}; expected one of {REDUCTIONS}.")
        if sample_weight is None and self._fused_ok and self.reduction in MEAN_REDUCTIONS:
            fused = self._fused_mean(y_true, y_pred)
            if fused is not None:
                return fused
        values, mask = self.call_with_mask(y_true, y_pred)
        if sample_weight is None and mask is None and values.ndim and values.numel():
            if self.reduction in MEAN_REDUCTIONS:
                return values.mean()
            if self.reduction == "sum":
                return values.sum()
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """Per-sample loss values (subclasses implement this)."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")  # abstract

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
    >>> loss = LossFunctionWrapper(lambda t, p: (p - t).abs().mean(-1), name="l1")
    >>> loss.name, float(loss(torch.zeros(2, 1), torch.ones(2, 1)))
    ('l1', 1.0)
    """

    def __init__(self, fn: Callable[..., Any], reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype: str | torch.dtype | None = None, **kwargs: Any):
        if not callable(fn):
            raise ValueError(f"LossFunctionWrapper needs a callable fn(y_true, y_pred); received {fn!r}.")
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true, y_pred = match_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", repr(self.fn)), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        if "fn" not in config:  # the subclasses fix their function
            return cls(**config)
        config = dict(config)
        fn = config.pop("fn")
        if isinstance(fn, Mapping):  # Keras's serialized function: {"class_name": "function", "config": name}
            fn = fn.get("config")
        return cls(FUNCTIONS.get(fn) if isinstance(fn, str) else fn, **config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name} fn={getattr(self.fn, '__name__', self.fn)}>"


# ------------------------------------------------------------------------ lookup and configs


def get(identifier: Any) -> Loss | None:
    """A Loss instance from a name, class name, Loss, loss class, function or config dict.

    Unlike Keras, a function name (``"mse"``) also gives a Loss instance (the class of that function), so the
    result always takes ``sample_weight`` and reduces.

    >>> get("mse").name
    'mean_squared_error'
    >>> type(get({"class_name": "Huber", "config": {"delta": 2.0}})).__name__
    'Huber'
    """
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    return LOSSES.resolve(identifier, Loss, wrap=LossFunctionWrapper)


def serialize(loss: Loss | Callable[..., Any]) -> dict[str, Any] | str:
    """The ``{"class_name", "config"}`` dict that ``deserialize`` (or ``get``) turns back into an equal loss; a
    registered loss function gives its name.

    >>> serialize(get("mae"))["class_name"]
    'MeanAbsoluteError'
    """
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    name = getattr(loss, "__name__", None)
    if callable(loss) and name in FUNCTIONS and FUNCTIONS.get(name) is loss:
        return name
    raise ValueError(f"serialize expects a lamina Loss or a lamina loss function; received {loss!r}.")


def deserialize(config: Mapping[str, Any] | str, custom_objects: Mapping[str, Any] | None = None) -> Loss:
    """A Loss from ``serialize``'s dict (extra keys such as Keras's ``module`` are ignored) or a name.

    Classes are looked up in ``custom_objects`` first, then in lamina's own registry; nothing is imported.

    >>> deserialize({"class_name": "CosineSimilarity", "config": {"axis": 0}}).axis
    0
    """
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            obj = custom_objects[config]
            return obj() if isinstance(obj, type) else LossFunctionWrapper(obj)
        return get(config)
    if not isinstance(config, Mapping) or "class_name" not in config:
        raise ValueError(f"deserialize expects {{'class_name': ..., 'config': {{...}}}}; received {config!r}.")
    name = config["class_name"]
    if name == "function" and isinstance(config.get("config"), str):  # Keras's form of a bare loss function
        return LossFunctionWrapper(FUNCTIONS.get(config["config"]))
    inner = dict(config.get("config") or {})
    if custom_objects and name in custom_objects:
        return custom_objects[name].from_config(inner)
    return LOSSES.get(name).from_config(inner)
