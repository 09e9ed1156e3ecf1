"""The train, test and predict steps: the one implementation of each, built once per ``fit``/``evaluate``/
``predict`` (and ``*_on_batch``) by ``build``.

``build(trainer, kind)`` decides, once, what the step of that kind is: the user's override of ``train_step``/
``test_step``/``predict_step`` (given ``x`` alone when there are no targets, as Keras does), or lamina's default.
The default steps (``DefaultSteps``) decide, once, whether the model overrides ``compute_loss`` or
``compute_metrics``; when it keeps Keras's and has one output, the loss is the loss object's fused mean kernel
plus the layers' penalties and the metrics are updated directly, with the checks the general path makes at each
batch done once. ``Model.train_step`` and friends (what an override's ``super().train_step(data)`` reaches) call
the same default steps. Compilation (``training/jit.py``) and distribution (``training/strategy.py``) wrap the
built functions; neither has a step of its own.

Everything stays on the device: the returned logs are a lazy mapping whose values are computed from the
metrics only when somebody reads them (the progress bar at its refresh, a callback that asked for batches).

>>> import torch, lamina
>>> model = lamina.Sequential([lamina.Input(shape=(3,)), lamina.layers.Dense(2)])
>>> model.compile(loss="mse")
>>> round(model.evaluate(torch.zeros(4, 3), torch.zeros(4, 2), verbose=0), 4)
0.0
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from lamina.core import config, tree
from lamina.data.adapters import unpack_x_y_sample_weight
from lamina.losses.base import MEAN_REDUCTIONS, Loss

KINDS = ("train", "test", "predict")


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


def takes_training(model: Any) -> bool:
    """Whether ``model.compute_loss`` accepts ``training`` (Keras passes it only then); remembered per method,
    so that a compiled step reads a settled answer."""
    fn = type(model).compute_loss
    takes = _TAKES_TRAINING.get(fn)
    if takes is None:
        params = inspect.signature(fn).parameters
        takes = _TAKES_TRAINING[fn] = "training" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values())
    return takes


def compute_loss(model: Any, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool) -> Any:
    """``model.compute_loss(...)``, passing ``training`` only to an override that accepts it (as Keras does)."""
    if takes_training(model):
        return model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
    return model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)


def batch_size_of(x: Any) -> int:
    if type(x) is torch.Tensor:
        return x.shape[0]
    leaves = tree.flatten(x)
    return int(leaves[0].shape[0]) if leaves and hasattr(leaves[0], "shape") else 1


def is_default(model: Any, name: str) -> bool:
    """Whether ``model`` keeps lamina's ``train_step``/``test_step``/``predict_step``/``compute_loss``/
    ``compute_metrics`` (its class does not override it)."""
    return getattr(getattr(type(model), name, None), "_lamina_default", False)


def as_keras_data(step: Any) -> Any:
    """A user's step as the trainer calls it: an overridden ``train_step``/``test_step``/``predict_step`` gets
    what Keras gives it, ``x`` alone when there are no targets (``fit(x)``), never a 1-tuple ``(x,)``."""

    def call(data: Any) -> Any:
        return step(data[0] if type(data) is tuple and len(data) == 1 else data)

    return call


# ---------------------------------------------------------------------------------------------- building
def build(trainer: Any, kind: str) -> Callable[[Any], Any]:
    """The step of ``kind`` (``"train"``, ``"test"`` or ``"predict"``) for ``trainer``'s model, as the loops call
    it on each batch: the model's override if it has one, else the default step. The default steps are rebuilt
    here, so that what they decided (overrides, the fused loss) reflects the model as it is now."""
    model = trainer.model
    defaults = trainer.default_steps = DefaultSteps(model, trainer)
    if not is_default(model, f"{kind}_step"):
        return as_keras_data(getattr(model, f"{kind}_step"))
    return getattr(defaults, kind)


def default_steps(model: Any) -> DefaultSteps:
    """The default steps of ``model``: its trainer's (built for the current run), or made now."""
    trainer = model.__dict__.get("_trainer")
    if trainer is None:
        return DefaultSteps(model, None)  # (predict without compile; a loss or metrics ask for compile())
    if trainer.default_steps is None:
        trainer.default_steps = DefaultSteps(model, trainer)
    return trainer.default_steps


class DefaultSteps:
    """Keras's default ``train_step``/``test_step``/``predict_step`` for one model, with the questions whose
    answer does not change during a run (overrides, one output, a fused loss kernel) answered once."""

    def __init__(self, model: Any, trainer: Any):
        self.model, self.trainer = model, trainer
        self.own_loss = not is_default(model, "compute_loss")
        self.own_metrics = not is_default(model, "compute_metrics")
        self.fast_loss = self.fast_metrics = None
        # Callbacks' ``on_after_backward(loss)`` (e.g. TrainingMonitor): called between backward and the
        # optimizer step; fit collects them for its run, and an empty tuple costs one truth test a step.
        self.after_backward: tuple = getattr(trainer, "after_backward", ()) if trainer is not None else ()
        if trainer is not None:
            self._plan_fast_paths(trainer)

    def _plan_fast_paths(self, trainer: Any) -> None:
        """One output with a loss object and Keras's ``compute_loss``: the loss's fused kernel where it applies.
        One output and Keras's ``compute_metrics``: the metrics' own ``update_state``."""
        compiled_loss = trainer.compiled_loss
        if not self.own_loss and compiled_loss is not None and compiled_loss.built \
                and len(compiled_loss.names) == 1 and compiled_loss.losses[0] is not None:
            loss = compiled_loss.losses[0]
            fused = type(loss).__call__ is Loss.__call__ and loss._fused_ok and loss.reduction in MEAN_REDUCTIONS
            self.fast_loss = (loss, compiled_loss.weights[0], fused, loss._dtype if isinstance(loss, Loss) else None,
                              getattr(loss, "_float_labels", True))
        metrics = trainer.compiled_metrics
        if not self.own_metrics and metrics.built and len(metrics.names) <= 1:
            self.fast_metrics = [(metric, weighted) for _, metric, weighted in metrics.entries]

    # ------------------------------------------------------------------ the parts
    def loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool) -> torch.Tensor:
        """The loss of a batch: the model's ``compute_loss`` (or, kept as Keras's, the compiled loss plus the
        layers' penalties)."""
        if self.own_loss:
            return compute_loss(self.model, x, y, y_pred, sample_weight, training)
        trainer = self.trainer or self.model._require_trainer("compute_loss")
        fast = self.fast_loss
        if fast is not None and type(y) is torch.Tensor and type(y_pred) is torch.Tensor:
            loss, weight, fused, dtype, float_labels = fast
            value = None
            if sample_weight is None and fused and y_pred.dtype is dtype and (y.dtype is dtype or not float_labels):
                value = loss._fused_mean(y, y_pred)  # what Loss.__call__ returns, without its per-batch checks
            if value is None:
                value = loss(y, y_pred, sample_weight=sample_weight)
            if weight != 1.0:
                value = value * weight
            return trainer.add_penalties(value)
        return trainer.compute_loss(y, y_pred, sample_weight, training)

    def metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any) -> Mapping:
        """Update the metrics with a batch; returns the logs (the model's ``compute_metrics``, or Keras's)."""
        if self.own_metrics:
            return self.model.compute_metrics(x, y, y_pred, sample_weight)
        fast = self.fast_metrics
        if fast is not None and type(y) is torch.Tensor and type(y_pred) is torch.Tensor and (
                sample_weight is None or type(sample_weight) is torch.Tensor):
            for metric, weighted in fast:
                metric.update_state(y, y_pred, sample_weight=sample_weight if weighted else None)
        else:
            (self.trainer or self.model._require_trainer("compute_metrics")).update_metrics(y, y_pred, sample_weight)
        return MetricLogs(self.model.metrics)

    def track_loss(self, loss: torch.Tensor, x: Any) -> None:
        self.model._loss_tracker.update_state(loss, sample_weight=batch_size_of(x))  # (metrics detach what they keep)

    # ------------------------------------------------------------------ the steps
    def train(self, data: Any) -> Mapping:
        """Forward, loss, backward, optimizer step, metric updates; no host synchronization."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        model = self.model
        y_pred = model(x, training=True)
        loss = self.loss(x, y, y_pred, sample_weight, True)
        self.track_loss(loss, x)
        optimizer = model.optimizer
        if optimizer.built:  # (built in fit's preparation whenever the model has trainable weights)
            optimizer.zero_grad()
            optimizer.scale_loss(loss).backward()  # the loss unchanged unless the optimizer has a loss_scale_factor
            if self.after_backward:
                for hook in self.after_backward:
                    hook(loss)
            optimizer.step()
        else:  # Keras: nothing to train, the step only computes the loss and the metrics
            warnings.warn("The model does not have any trainable weights.", UserWarning, stacklevel=2)
        return self.metrics(x, y, y_pred, sample_weight)

    def test(self, data: Any) -> Mapping:
        """Forward in inference mode, loss and metric updates."""
        if torch.is_grad_enabled():  # evaluate turns gradients off for its whole loop; anybody else gets it here
            with torch.no_grad():
                return self.test(data)
        if type(data) is tuple and len(data) == 2:
            x, y = data
            sample_weight = None
        else:
            x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self.forward(x)
        loss = self.loss(x, y, y_pred, sample_weight, False)
        self.track_loss(loss, x)
        return self.metrics(x, y, y_pred, sample_weight)

    def predict(self, data: Any) -> Any:
        """Forward in inference mode; returns the model's outputs."""
        if torch.is_grad_enabled():  # predict turns gradients off for its whole loop; anybody else gets it here
            with torch.no_grad():
                return self.predict(data)
        x = data[0] if type(data) is tuple and len(data) == 1 else unpack_x_y_sample_weight(data)[0]
        return self.forward(x)

    def forward(self, x: Any) -> Any:
        """``model(x, training=False)``; a model already in inference mode (``eval()`` sets every module's flag)
        is called without the flag, which spares setting and resetting its context variable."""
        model = self.model
        if not model.training and config.TRAINING.get() is None:
            return model(x)
        return model(x, training=False)


# What ``Model.train_step`` and friends run: the same default steps the trainer builds.
def train_step(model: Any, data: Any) -> Mapping:
    return default_steps(model).train(data)


def test_step(model: Any, data: Any) -> Mapping:
    return default_steps(model).test(data)


def predict_step(model: Any, data: Any) -> Any:
    return default_steps(model).predict(data)
