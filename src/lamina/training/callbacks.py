"""Callbacks: hooks the trainer fires during fit, evaluate and predict (Keras's names and order).

>>> class PrintLoss(Callback):
...     def on_epoch_end(self, epoch, logs=None):
...         print(epoch, round(logs["loss"], 2))
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)
BATCH_HOOKS = tuple(h for h in HOOKS if "_batch_" in h)


class Callback:
    """Base class: override any of the hooks. ``self.model`` and ``self.params`` are set by the trainer."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_begin(self, logs: dict | None = None) -> None: ...
    def on_test_end(self, logs: dict | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_begin(self, logs: dict | None = None) -> None: ...
    def on_predict_end(self, logs: dict | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


def _overrides(callback: Callback, hook: str) -> bool:
    method = getattr(callback, hook, None)
    return getattr(method, "__func__", method) is not getattr(Callback, hook)


class CallbackList(Callback):
    """Dispatches each hook to a list of callbacks; batch hooks only to callbacks that override them."""

    def __init__(self, callbacks: Iterable[Callback] | None = None, model: Any = None, **params: Any):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances; received {type(cb).__name__}.")
        self._wanting = {hook: [cb for cb in self.callbacks if _overrides(cb, hook)] for hook in HOOKS}
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)
        for hook in HOOKS:
            if _overrides(callback, hook):
                self._wanting[hook].append(callback)

    def wants(self, hook: str) -> bool:
        """Whether any callback overrides ``hook`` (so the trainer can skip building its logs)."""
        return bool(self._wanting[hook])

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def _fire(self, hook: str, *args: Any) -> None:
        for cb in self._wanting[hook]:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None): self._fire("on_train_begin", logs)  # noqa: E704
    def on_train_end(self, logs=None): self._fire("on_train_end", logs)  # noqa: E704
    def on_epoch_begin(self, epoch, logs=None): self._fire("on_epoch_begin", epoch, logs)  # noqa: E704
    def on_epoch_end(self, epoch, logs=None): self._fire("on_epoch_end", epoch, logs)  # noqa: E704
    def on_train_batch_begin(self, batch, logs=None): self._fire("on_train_batch_begin", batch, logs)  # noqa: E704
    def on_train_batch_end(self, batch, logs=None): self._fire("on_train_batch_end", batch, logs)  # noqa: E704
    def on_test_begin(self, logs=None): self._fire("on_test_begin", logs)  # noqa: E704
    def on_test_end(self, logs=None): self._fire("on_test_end", logs)  # noqa: E704
    def on_test_batch_begin(self, batch, logs=None): self._fire("on_test_batch_begin", batch, logs)  # noqa: E704
    def on_test_batch_end(self, batch, logs=None): self._fire("on_test_batch_end", batch, logs)  # noqa: E704
    def on_predict_begin(self, logs=None): self._fire("on_predict_begin", logs)  # noqa: E704
    def on_predict_end(self, logs=None): self._fire("on_predict_end", logs)  # noqa: E704
    def on_predict_batch_begin(self, batch, logs=None): self._fire("on_predict_batch_begin", batch, logs)  # noqa: E704
    def on_predict_batch_end(self, batch, logs=None): self._fire("on_predict_batch_end", batch, logs)  # noqa: E704


class History(Callback):
    """Records the epoch logs: ``history.history["loss"]`` is the list of epoch losses.

    ``fit`` returns the model's History.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None, on_train_batch_end: Callable | None = None,
                 **kwargs: Callable):
        super().__init__()
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, **kwargs}
        unknown = sorted(k for k in given if k not in HOOKS)
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hook(s) {unknown}; hooks are {list(HOOKS)}.")
        # A subclass per instance, so that only the given hooks count as overridden (batch hooks stay free).
        self.__class__ = type("LambdaCallback", (LambdaCallback,),
                              {k: _as_method(fn) for k, fn in given.items() if fn is not None})


def _as_method(fn: Callable) -> Callable:
    def method(self: Any, *args: Any) -> Any:
        return fn(*args)

    return method


def _monitor_op(mode: str, monitor: str) -> Callable[[float, float], bool]:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; received {mode!r}.")
    if mode == "max" or (mode == "auto" and ("acc" in monitor or monitor.endswith("auc") or "f1" in monitor)):
        return np.greater
    return np.less


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving for ``patience`` epochs.

    >>> EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True).patience
    3
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.monitor_op = _monitor_op(mode, monitor)
        self.min_delta = abs(min_delta) if self.monitor_op is np.greater else -abs(min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float = math.inf
        self.best_weights: list | None = None
        self.best_epoch = 0

    def _improved(self, value: float, reference: float) -> bool:
        if reference is None or (isinstance(reference, float) and math.isinf(reference)):
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait, self.stopped_epoch, self.best_epoch, self.best_weights = 0, 0, 0, None
        self.best = math.inf if self.monitor_op is np.less else -math.inf

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"EarlyStopping is conditioned on '{self.monitor}', which is not in the logs (available: "
                f"{sorted(logs or {})}). Set monitor= to one of those.", UserWarning, stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the weights after each epoch (or every ``save_freq`` batches), optionally only the best.

    ``filepath`` may hold ``{epoch}`` and any log key, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.2f}.weights.safetensors"``.
    Until lamina's model file format lands, checkpoints hold weights (``save_weights_only=True``).
    """

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = True, mode: str = "auto", save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None):
        super().__init__()
        if not save_weights_only:
            raise ValueError(
                "ModelCheckpoint(save_weights_only=False) needs whole-model files, which lamina does not write yet; "
                "use save_weights_only=True with a '.weights.safetensors' filepath."
            )
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"save_freq must be 'epoch' or a positive int; received {save_freq!r}.")
        self.filepath = str(filepath)
        self.monitor, self.verbose, self.save_best_only = monitor, verbose, save_best_only
        self.save_weights_only, self.save_freq = save_weights_only, save_freq
        self.monitor_op = _monitor_op(mode, monitor)
        self.best = initial_value_threshold if initial_value_threshold is not None else (
            math.inf if self.monitor_op is np.less else -math.inf)
        self._batches_seen = 0
        self._epoch = 0
        if save_freq != "epoch":
            self.on_train_batch_end = self._on_batch  # type: ignore[method-assign]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def _on_batch(self, batch: int, logs: dict | None = None) -> None:
        self._batches_seen += 1
        if self._batches_seen % self.save_freq == 0:
            self._save(self._epoch, logs, batch)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def _save(self, epoch: int, logs: dict | None, batch: int | None = None) -> None:
        logs = dict(logs or {})
        try:
            path = self.filepath.format(epoch=epoch + 1, batch=None if batch is None else batch + 1, **logs)
        except KeyError as error:
            raise KeyError(
                f"ModelCheckpoint filepath {self.filepath!r} names {error} which is not in the logs "
                f"{sorted(logs)}; use '{{epoch}}' or one of those keys."
            ) from None
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                warnings.warn(f"ModelCheckpoint: '{self.monitor}' is not in the logs {sorted(logs)}; not saving.",
                              UserWarning, stacklevel=2)
                return
            if not self.monitor_op(value, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {value:.5f}, "
                      f"saving model to {path}")
            self.best = value
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        self.model.save_weights(path)


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss is NaN or infinite (checks each batch, so it syncs each batch)."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
