"""The streaming-metric contract: ``Metric``, the reductions ``Mean`` and ``Sum``, ``MeanMetricWrapper``, the
registries and ``get``/``serialize``/``deserialize``.

A metric keeps its state in accumulators declared with ``add_state``. An accumulator is a Python 0 until the first
tensor is added; it then becomes a tensor of the metric's dtype on that tensor's device, updated in place. Counts
the host already knows (batch sizes) may stay Python numbers, so that no update ever waits for the device.

>>> import torch
>>> m = Mean()
>>> m.update_state(torch.tensor([1.0, 3.0]))
>>> m.result()
tensor(2.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lamina.core import config, tensors
from lamina.core.naming import snake_case
from lamina.core.registry import Registry
from lamina.core.tensors import divide_no_nan, match_rank
from lamina.core.variable import Variable

#: Metric classes by class name, snake_case name and alias (``"acc"``, ``"mse"``, ...).
METRICS = Registry("metric")
# Per-sample metric functions by name, used to rebuild a MeanMetricWrapper from its config.
FUNCTIONS = Registry("metric function")
#: Decorator: ``@register_function("accuracy", "acc")`` makes a per-sample function resolvable by name.
register_function = FUNCTIONS
#: The one tensor conversion, detached: a metric's state never keeps a training step's graph alive.
as_tensor = functools.partial(tensors.as_tensor, detach=True)


# ------------------------------------------------------------------------------------ helpers


def squeeze_sparse(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Class ids shaped (batch, 1) become (batch,) next to (batch, classes) predictions."""
    if y_true.ndim == y_pred.ndim and y_true.ndim and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


def register(cls: type) -> type:
    """Decorator: register a Metric class under its class name and Keras's snake_case of it."""
    return METRICS.register(cls.__name__, cls, (snake_case(cls.__name__),))


def check_choice(what: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"Invalid `{what}`: received {what}={value!r}; expected one of {list(choices)}.")


# ---------------------------------------------------------------------------------- Metric


class Metric:
    """Base class of streaming metrics.

    Subclasses declare accumulators with ``add_state``, add tensors or Python numbers to them with
    ``accumulate`` in ``update_state`` and read them with ``state`` (or ``state_tensor``) in ``result``.
    Keras's way works too: ``self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")``, then
    ``self.tp.assign_add(...)`` (the variable moves to the device of the first tensor assigned to it).

    >>> import torch
    >>> class Positives(Metric):
    ...     def __init__(self, name="positives"):
    ...         super().__init__(name)
    ...         self.add_state("count")
    ...     def update_state(self, y_true, y_pred, sample_weight=None):
    ...         self.accumulate("count", (torch.as_tensor(y_pred) > 0).sum())
    ...     def result(self):
    ...         return self.state_tensor("count")
    >>> Positives()(None, torch.tensor([1.0, -2.0, 3.0]))
    tensor(2.)
    """

    def __init__(self, name: str | None = None, dtype: str | torch.dtype | None = None):
        self.name = name or config.unique_name(snake_case(type(self).__name__))
        self._dtype = config.standardize_dtype(dtype)
        self._state: dict[str, float | torch.Tensor] = {}
        self._specs: dict[str, tuple[tuple[int, ...] | None, torch.dtype]] = {}
        self._variables: list[Variable] = []  # Keras-style state from add_variable

    def add_variable(self, shape: Sequence[int], initializer: Any, dtype: str | torch.dtype | None = None,
                     aggregation: str = "sum", name: str | None = None) -> Variable:
        """Keras's way to hold state: a non-trainable ``Variable`` that ``update_state`` changes with
        ``assign``/``assign_add``, zeroed by ``reset_state`` and listed in ``variables``."""
        if "_variables" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before add_variable().")
        name = name or (f"variable_{len(self._variables)}" if self._variables else "variable")
        variable = Variable(initializer, shape=tuple(shape), dtype=self._dtype if dtype is None else dtype,
                            trainable=False, aggregation=aggregation, name=name)
        variable.path = f"{self.name}/{name}"
        variable.follows_device = True  # metric state lives where the data is (assign moves it there)
        self._variables.append(variable)
        return variable

    def add_weight(self, shape: Sequence[int] = (), initializer: Any = None, dtype: str | torch.dtype | None = None,
                   name: str | None = None) -> Variable:
        """``add_variable`` under its older Keras name."""
        return self.add_variable(shape, initializer or "zeros", dtype=dtype, name=name)

    @property
    def dtype(self) -> str:
        """The name of the dtype of the state and the result (floatx unless given)."""
        return config.dtype_name(self._dtype)

    # ----------------------------------------------------------------------------- state
    def add_state(self, name: str, shape: Sequence[int] | None = (), dtype: str | torch.dtype | None = None) -> None:
        """Declare an accumulator starting at 0, created lazily on the device of the first tensor added.

        ``shape=None`` means "the shape of the first tensor added" (e.g. one entry per class, known from the data).
        """
        self._specs[name] = (None if shape is None else tuple(shape),
                             self._dtype if dtype is None else config.standardize_dtype(dtype))
        self._state[name] = 0.0

    def accumulate(self, name: str, value: torch.Tensor | float, scale: float = 1.0) -> None:
        """Add ``value * scale`` to an accumulator, on the device, without synchronising."""
        current = self._state[name]
        if isinstance(value, torch.Tensor):
            if value.requires_grad:
                value = value.detach()
            if type(current) is torch.Tensor:
                # In place when the value fits the accumulator (its shape, a broadcast to it, a scalar; a device and
                # dtype it can take): add_ checks all of that before it computes anything, and fails cleanly.
                try:
                    if scale == 1.0:
                        current.add_(value)
                    else:
                        current.add_(value, alpha=scale)
                    return
                except RuntimeError:
                    if value.is_floating_point() and not current.is_floating_point():
                        raise  # a metric adding fractions to a counter: its bug, not something to round away
                    # a bigger shape, or another device: a new accumulator (below)
            fresh = value.to(self._specs[name][1], copy=True)
            if scale != 1.0:
                fresh.mul_(scale)
            if isinstance(current, torch.Tensor):
                fresh = fresh + current.to(fresh.device)
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

    def state_tensor(self, name: str, device: torch.device | None = None) -> torch.Tensor:
        """An accumulator as a tensor: the live one, or (still lazy) a new one of its shape filled with its value."""
        value = self._state[name]
        if isinstance(value, torch.Tensor):
            return value
        shape, dtype = self._specs[name]
        if device is None:
            device = next((v.device for v in self._state.values() if isinstance(v, torch.Tensor)), None)
        return torch.full(shape or (), float(value), dtype=dtype, device=device)

    @property
    def variables(self) -> list[torch.Tensor]:
        """The accumulators as live tensors, in declaration order.

        Accumulators still held as Python numbers become tensors of their shape and dtype on the device of the
        other accumulators (CPU when none is a tensor yet), so in-place changes to the returned tensors (for
        example a cross-process sum) change the metric's state.
        """
        for name in self._state:
            self._state[name] = self.state_tensor(name)
        return [*self._state.values(), *self.__dict__.get("_variables", ())]

    def reset_state(self) -> None:
        """Forget everything seen: accumulators of a declared shape that are tensors already are zeroed in
        place (as Keras assigns zeros to its variables; the next update then adds to them directly); the others
        go back to a lazy 0."""
        for name, value in self._state.items():
            if type(value) is torch.Tensor and self._specs[name][0] == tuple(value.shape):
                value.zero_()
            else:
                self._state[name] = 0.0
        for variable in self.__dict__.get("_variables", ()):
            variable.assign(torch.zeros_like(variable))  # Keras: every variable back to zeros

    def __getattr__(self, name: str) -> Any:
        """An accumulator by its name (``mean.total``, ``mean.count``), as Keras's metrics hold their variables
        as attributes: the live tensor (a lazy one becomes a tensor first)."""
        state = self.__dict__.get("_state")
        if not name.startswith("__") and isinstance(state, dict) and name in state:
            state[name] = self.state_tensor(name)
            return state[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        state = self.__dict__.get("_state")
        return sorted({*super().__dir__(), *(state if isinstance(state, dict) else ())})

    def _zero(self, like: Any = None) -> torch.Tensor:
        device = like.device if isinstance(like, torch.Tensor) else None
        return torch.zeros((), dtype=self._dtype, device=device)

    # ------------------------------------------------------------------------ protocol
    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Fold one batch into the state (subclasses implement this)."""
        raise NotImplementedError(f"abstract: {type(self).__name__} must implement update_state.")

    def result(self) -> torch.Tensor:
        """The metric value over everything seen since the last reset, as a tensor."""
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


# ---------------------------------------------------------------------------------- reductions


def _host_number(sample_weight: Any) -> bool:
    """Whether a sample weight is one number held by the host (a Python or NumPy scalar)."""
    if sample_weight is None or isinstance(sample_weight, torch.Tensor):
        return False
    return type(sample_weight) in (int, float) or np.ndim(sample_weight) == 0


def _samplewise(values: torch.Tensor, sample_weight: Any, dtype: torch.dtype,
                reduce: Callable[..., torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's weighting: reduce values to the weight's rank, weight them, then reduce per sample."""
    values = values.to(dtype)
    weight = as_tensor(sample_weight, dtype=dtype, device=values.device)
    values, weight = match_rank(values, weight)
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
        if type(values) is not torch.Tensor or values.requires_grad:
            values = as_tensor(values)
        if self._added_in_place(values, sample_weight):
            return
        dtype = self._dtype
        if sample_weight is None:
            if values.ndim == 0:
                self.accumulate("total", values.to(dtype) if values.dtype is not dtype and
                                values.is_floating_point() else values)
                self.accumulate("count", 1)
                return
            n = values.shape[0]
            per_sample = values.numel() // n if n else 1
            # summed straight into the metric's dtype (0/1 hits, other precisions): no separate cast
            total = values.sum() if values.dtype is dtype else values.sum(dtype=dtype)
            self.accumulate("total", total, scale=1.0 / per_sample if per_sample > 1 else 1.0)
            self.accumulate("count", n)
            return
        if _host_number(sample_weight):  # e.g. the batch size: weigh the batch mean, count on the host
            if values.dtype is not dtype:
                values = values.to(dtype)
            self.accumulate("total", values.mean() if values.ndim else values, scale=float(sample_weight))
            self.accumulate("count", float(sample_weight))
            return
        values, weight = _samplewise(values, sample_weight, dtype, torch.mean)
        self.accumulate("total", values.sum())
        self.accumulate("count", weight.sum())

    def _added_in_place(self, values: torch.Tensor, sample_weight: Any) -> bool:
        """The two updates of every evaluation step, without the general path's checks: a batch mean weighted
        by the batch size (the loss tracker), and one 0/1 hit per sample (accuracies). False: not one of them,
        or no accumulator on this device yet."""
        total = self._state["total"]
        if type(total) is not torch.Tensor:
            return False
        try:  # (a value on another device than the accumulator fails before anything changes)
            if type(sample_weight) is int and values.ndim == 0 and values.is_floating_point():
                total.add_(values, alpha=sample_weight)
                self._state["count"] += sample_weight
                return True
            if sample_weight is None and values.dtype is torch.bool and values.ndim == 1:
                total.add_(torch.count_nonzero(values))  # exact: a count, as summing the 0/1 values would give
                self._state["count"] += values.shape[0]
                return True
        except RuntimeError:
            pass
        return False

    def result(self) -> torch.Tensor:
        total, count = self.state("total"), self.state("count")
        if not isinstance(total, torch.Tensor):
            return self._zero(count)
        if isinstance(count, torch.Tensor):
            return divide_no_nan(total, count)
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
        values = as_tensor(values)
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


@METRICS("MeanMetricWrapper", "mean_metric_wrapper")
class MeanMetricWrapper(Mean):
    """The running mean of a per-sample function ``fn(y_true, y_pred, **fn_kwargs)``.

    >>> import torch
    >>> m = MeanMetricWrapper(lambda t, p: (p - t).abs().mean(-1), name="mae")
    >>> m.name, m(torch.zeros(2, 1), torch.ones(2, 1))
    ('mae', tensor(1.))
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None,
                 dtype: str | torch.dtype | None = None, **fn_kwargs: Any):
        if not callable(fn):
            raise ValueError(f"MeanMetricWrapper needs a function fn(y_true, y_pred); received {fn!r}.")
        super().__init__(name=name or getattr(fn, "__name__", None) or "mean_metric_wrapper", dtype=dtype)
        self._fn = fn
        self._fn_kwargs = fn_kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if isinstance(y_pred, torch.Tensor) and y_pred.requires_grad:
            y_pred = y_pred.detach()
        if isinstance(y_true, torch.Tensor) and y_true.requires_grad:
            y_true = y_true.detach()
        values = self._fn(y_true, y_pred, **self._fn_kwargs) if self._fn_kwargs else self._fn(y_true, y_pred)
        if type(values) is torch.Tensor and not values.requires_grad and self._added_in_place(values, sample_weight):
            return
        super().update_state(values, sample_weight)

    def get_config(self) -> dict[str, Any]:
        fn = getattr(self._fn, "__name__", repr(self._fn))
        return {**super().get_config(), "fn": fn, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        config = dict(config)
        fn = config.pop("fn")
        return cls(FUNCTIONS.get(fn) if isinstance(fn, str) else fn, **config)


class FixedFunctionMetric(MeanMetricWrapper):
    """A MeanMetricWrapper whose function is fixed by the class (its config holds no ``fn``)."""

    _config_keys: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        return {**Metric.get_config(self), **{key: getattr(self, key) for key in self._config_keys}}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)


# ------------------------------------------------------------------------ lookup and configs


def get(identifier: Any) -> Metric | None:
    """A Metric instance from a name, class name, Metric, metric class, function or config dict.

    ``"accuracy"`` and ``"acc"`` give exact-match ``Accuracy`` here; ``compile`` picks the accuracy that fits the
    loss and label shapes (``resolve_accuracy``).

    >>> get("mse").name
    'mean_squared_error'
    >>> get({"class_name": "TopKCategoricalAccuracy", "config": {"k": 3}}).k
    3
    """
    return METRICS.resolve(identifier, Metric, wrap=MeanMetricWrapper)


def serialize(metric: Metric) -> dict[str, Any]:
    """The ``{"class_name", "config"}`` dict that ``deserialize`` (or ``get``) turns back into an equal metric.

    >>> serialize(Mean())
    {'class_name': 'Mean', 'config': {'name': 'mean', 'dtype': 'float32'}}
    """
    if not isinstance(metric, Metric):
        raise ValueError(f"serialize expects a lamina Metric; received {metric!r}.")
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: Mapping[str, Any] | str, custom_objects: Mapping[str, Any] | None = None) -> Metric:
    """A Metric from ``serialize``'s dict (extra keys such as Keras's ``module`` are ignored) or a name.

    Classes are looked up in ``custom_objects`` first, then in lamina's own registry; nothing is imported.

    >>> deserialize({"class_name": "AUC", "config": {"num_thresholds": 50}}).num_thresholds
    50
    """
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return custom_objects[config]()
        return get(config)
    if not isinstance(config, Mapping) or "class_name" not in config:
        raise ValueError(f"deserialize expects {{'class_name': ..., 'config': {{...}}}}; received {config!r}.")
    name, inner = config["class_name"], dict(config.get("config") or {})
    if custom_objects and name in custom_objects:
        return custom_objects[name].from_config(inner)
    return METRICS.get(name).from_config(inner)
