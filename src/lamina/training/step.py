"""The default train, test and predict steps (what ``Model.train_step`` and friends do unless overridden).

Everything stays on the device: the returned logs are a lazy mapping whose values are computed from the
metrics only when somebody reads them (the progress bar at its refresh, a callback that asked for batches).
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from lamina.core import config, tree
from lamina.data.adapters import unpack_x_y_sample_weight

_AS_IS = contextlib.nullcontext()  # reusable: a context that changes nothing


class MetricLogs(Mapping):
    """``{metric name: result}`` for a list of metrics, computed on first access (Keras's step logs)."""

    __slots__ = ("_metrics", "_values")

    def __init__(self, metrics: list):
        self._metrics = metrics
        self._values: dict | None = None

    def _resolve(self) -> dict:
        if self._values is None:
            values: dict = {}
            nested = False
            for m in self._metrics:
                result = m.result()
                if isinstance(result, dict):
                    values.update(result)
                    nested = True
                else:
                    values[m.name] = result
            if nested:  # (the compiled metrics' container) in the order evaluate lists them
                values = {k: values[k] for k in keras_order(self._metrics, values)}
            self._values = values
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._resolve()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolve())

    def __len__(self) -> int:
        return len(self._resolve())

    def items(self) -> Any:  # the resolved dict's own views: faster than Mapping's, which look up every key
        return self._resolve().items()

    def keys(self) -> Any:
        return self._resolve().keys()

    def values(self) -> Any:
        return self._resolve().values()


def flat_logs(logs: dict) -> dict:
    """``logs`` with nested mappings (e.g. ``compile_metrics``'s result in a custom step's logs) merged in, as
    Keras flattens them."""
    if not any(isinstance(v, Mapping) for v in logs.values()):
        return logs
    out: dict = {}
    for key, value in logs.items():
        if isinstance(value, Mapping):
            out.update(flat_logs(dict(value)))
        else:
            out[key] = value
    return out


def keras_order(metrics: list, logs: Mapping) -> list[str]:
    """The keys of ``logs`` in the order Keras lists their values (evaluate, train_on_batch without return_dict):
    the order of ``metrics`` (a container contributing its metrics' own names), then the other keys sorted."""
    names: list = []
    for metric in metrics:
        inner = getattr(metric, "metrics", None)
        names += [m.name for m in inner] if isinstance(inner, list) else [metric.name]
    known = [n for n in dict.fromkeys(names) if n in logs]
    seen = set(known)
    return known + sorted(k for k in logs if k not in seen)


def in_keras_order(metrics: list, logs: Mapping) -> list:
    """The values of ``logs`` in Keras's order (see ``keras_order``)."""
    return [logs[k] for k in keras_order(metrics, logs)]


_TAKES_TRAINING: dict[Any, bool] = {}


def compute_loss(model: Any, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool) -> Any:
    """``model.compute_loss(...)``, passing ``training`` only to an override that accepts it (as Keras does)."""
    fn = type(model).compute_loss
    takes = _TAKES_TRAINING.get(fn)
    if takes is None:
        params = inspect.signature(fn).parameters
        takes = _TAKES_TRAINING[fn] = "training" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values())
    if takes:
        return model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
    return model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)


def batch_size_of(x: Any) -> int:
    if type(x) is torch.Tensor:
        return x.shape[0]
    leaves = tree.flatten(x)
    return int(leaves[0].shape[0]) if leaves and hasattr(leaves[0], "shape") else 1


def as_keras_data(step: Any) -> Any:
    """A step as the trainer calls it: a user's overridden ``train_step``/``test_step``/``predict_step`` gets
    what Keras gives it, ``x`` alone when there are no targets (``fit(x)``), never a 1-tuple ``(x,)``."""
    if getattr(step, "_lamina_default", False):
        return step

    def call(data: Any) -> Any:
        return step(data[0] if type(data) is tuple and len(data) == 1 else data)

    return call


def train_step(model: Any, data: Any) -> Mapping:
    """Forward, loss, backward, optimizer step, metric updates; no host synchronization."""
    x, y, sample_weight = unpack_x_y_sample_weight(data)
    y_pred = model(x, training=True)
    loss = compute_loss(model, x, y, y_pred, sample_weight, True)
    model._loss_tracker.update_state(loss, sample_weight=batch_size_of(x))  # (metrics detach what they keep)
    optimizer = model.optimizer
    if optimizer.built:  # (built in fit's preparation whenever the model has trainable weights)
        optimizer.zero_grad()
        optimizer.scale_loss(loss).backward()  # the loss unchanged unless the optimizer has a loss_scale_factor
        optimizer.step()
    else:  # Keras: nothing to train, the step only computes the loss and the metrics
        warnings.warn("The model does not have any trainable weights.", UserWarning, stacklevel=2)
    return model.compute_metrics(x, y, y_pred, sample_weight)


def test_step(model: Any, data: Any) -> Mapping:
    """Forward in inference mode, loss and metric updates."""
    x, y, sample_weight = unpack_x_y_sample_weight(data)
    with torch.no_grad() if torch.is_grad_enabled() else _AS_IS:  # evaluate's loop has turned gradients off
        return score(model, x, y, model(x, training=False), sample_weight)


def score(model: Any, x: Any, y: Any, y_pred: Any, sample_weight: Any) -> Mapping:
    """The evaluation part of ``test_step``: loss (tracked) and metric updates for a forward pass done."""
    loss = compute_loss(model, x, y, y_pred, sample_weight, False)
    model._loss_tracker.update_state(loss, sample_weight=batch_size_of(x))
    return model.compute_metrics(x, y, y_pred, sample_weight)


def infer(model: Any, x: Any) -> Any:
    """``model(x, training=False)``; a model already in inference mode (``eval()`` sets every module's flag) is
    called without the flag, which spares setting and resetting its context variable."""
    if not model.training and config.TRAINING.get() is None:
        return model(x)
    return model(x, training=False)


def predict_step(model: Any, data: Any) -> Any:
    """Forward in inference mode; returns the model's outputs."""
    x, _, _ = unpack_x_y_sample_weight(data)
    if torch.is_grad_enabled():  # predict's loop has turned gradients off; anybody else gets it here
        with torch.no_grad():
            return model(x, training=False)
    return model(x, training=False)
