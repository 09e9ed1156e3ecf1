"""The callback protocol: ``Callback`` (the hooks), ``CallbackList`` (dispatch), ``History``, ``LambdaCallback``.

A ``CallbackList`` sends each hook only to the callbacks that use it, and ``wants(hook)`` tells the trainer
whether anyone listens, so a fit whose callbacks ignore batches never builds batch logs (a host sync).

>>> class PrintLoss(Callback):
...     def on_epoch_end(self, epoch, logs=None):
...         print(epoch, round(logs["loss"], 2))
>>> CallbackList([PrintLoss()]).wants("on_train_batch_end")
False
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from lamina.training.progress import Progress, resolve_verbose, to_floats

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)
BATCH_HOOKS = tuple(h for h in HOOKS if "_batch_" in h)
# Keras's older names for the training-batch hooks: overriding them counts as overriding the new ones.
ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


class Callback:
    """Base class: override any of the hooks. ``self.model`` and ``self.params`` are set by the trainer.

    Setting ``self.model.stop_training = True`` in any hook ends ``fit`` after the current batch (from a batch or
    epoch-begin hook) or after the current epoch (from an epoch-end or test hook), as in Keras.

    Two optional refinements keep the training loop free of host syncs:

    - ``reads_batch_logs = False``: this callback's batch hooks ignore ``logs`` (e.g. they only count batches),
      so the trainer may pass an empty dict instead of converting device values to floats.
    - ``_uses_hook(hook)``: whether this instance acts in ``hook``. By default a hook is used when the class
      overrides it; a callback whose batch hooks only matter for some settings (``ModelCheckpoint`` with an
      integer ``save_freq``) says so here, and the hook is not dispatched otherwise.
    """

    reads_batch_logs: bool = True

    def __init__(self) -> None:
        self._model: Any = None
        self.params: dict = {}

    @property
    def model(self) -> Any:
        """The model this callback serves (set by ``fit``/``evaluate``/``predict`` through ``set_model``; None
        before). Read-only, as Keras's: call ``set_model`` to change it.

        >>> Callback().model is None
        True
        """
        return self.__dict__.get("_model")

    def set_model(self, model: Any) -> None:
        self._model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def _uses_hook(self, hook: str) -> bool:
        alias = ALIASES.get(hook)
        return _overrides(self, hook) or (alias is not None and _overrides(self, alias))

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs)  # Keras: the older name, for callbacks written against it

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_end(batch, logs)

    def on_test_begin(self, logs: dict | None = None) -> None: ...
    def on_test_end(self, logs: dict | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_begin(self, logs: dict | None = None) -> None: ...
    def on_predict_end(self, logs: dict | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


def _overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback`` (its class, or the instance itself) defines ``hook`` differently from ``Callback``."""
    method = getattr(callback, hook, None)
    return getattr(method, "__func__", method) is not getattr(Callback, hook)


class CallbackList(Callback):
    """Dispatches each hook to a list of callbacks, only to those that use it.

    ``add_history=True`` appends a ``History`` (as ``fit`` does); ``add_progbar=True`` a ``ProgbarLogger`` (for
    a custom training loop: ``fit``, ``evaluate`` and ``predict`` draw their own bar, by ``verbose=``). Extra
    keyword arguments become ``params`` (e.g. ``verbose=1, epochs=3, steps=100``).

    >>> from lamina.callbacks import EarlyStopping
    >>> cbs = CallbackList([EarlyStopping(patience=2)], add_history=True)
    >>> cbs.wants("on_epoch_end"), cbs.wants("on_train_batch_end")
    (True, False)
    """

    def __init__(self, callbacks: Iterable[Callback] | None = None, add_history: bool = False,
                 add_progbar: bool = False, model: Any = None, **params: Any):
        super().__init__()
        self.callbacks: list[Callback] = []
        self._wanting: dict[str, list[Callback]] = {hook: [] for hook in HOOKS}
        for cb in callbacks or []:
            self.append(cb)
        if add_history and not any(isinstance(cb, History) for cb in self.callbacks):
            self.append(History())
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.append(ProgbarLogger())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback: Callback) -> None:
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks must be Callback instances (lamina.callbacks.Callback subclasses); received "
                f"{type(callback).__name__}. Wrap a plain function as LambdaCallback(on_epoch_end=fn)."
            )
        self.callbacks.append(callback)
        for hook in HOOKS:
            if callback._uses_hook(hook):
                self._wanting[hook].append(callback)

    def wants(self, hook: str) -> bool:
        """Whether any callback uses ``hook`` (so the trainer can skip building its logs)."""
        if hook not in self._wanting:
            raise ValueError(f"Unknown hook {hook!r}; hooks are {list(HOOKS)}.")
        return bool(self._wanting[hook])

    def reads_batch_logs(self, hook: str) -> bool:
        """Whether a callback that uses ``hook`` reads its ``logs`` (converting them to floats costs a sync)."""
        return any(cb.reads_batch_logs for cb in self._wanting[hook])

    def _uses_hook(self, hook: str) -> bool:  # a CallbackList nested in another one
        return self.wants(hook)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def _fire(self, hook: str, *args: Any) -> None:
        wanting = self._wanting[hook]
        if wanting and args[-1] is None:  # Keras passes a dict, never None: callbacks may call logs.keys()
            args = (*args[:-1], {})
        for cb in wanting:
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

    ``fit`` returns the model's History. ``resumed_from`` (lamina only) is ``None`` for a run that started
    afresh, or, when ``BackupAndRestore`` resumed it, ``{"epoch": e, "step": s, "backup": path}``: the run went
    on in epoch ``e`` (counted from 0) after ``s`` of its steps, from the backup file ``path``.

    >>> h = History()
    >>> h.on_train_begin(); h.on_epoch_end(0, {"loss": 0.5}); h.history
    {'loss': [0.5]}
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.resumed_from: dict | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


def _inside_lamina_loop() -> bool:
    """Whether the hook now running was called from lamina's fit/evaluate/predict loops (which draw their own
    bar): a caller in ``lamina.training`` outside this callbacks package. Checked once per loop, not per step."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("lamina.training.") and not module.startswith("lamina.training.callbacks"):
            return True
        frame = frame.f_back
    return False


class ProgbarLogger(Callback):
    """Keras's progress-bar callback: draws ``lamina.training.progress.Progress`` (the bar ``fit`` draws) from
    the callback hooks, for custom training loops; ``params["verbose"]`` (0, 1, 2 or "auto") chooses the style.

    ``fit``, ``evaluate`` and ``predict`` draw that same bar themselves (``verbose=``), so a ProgbarLogger in
    their callbacks adds no second one, as in Keras where fit's own bar is a ProgbarLogger.

    >>> bar = ProgbarLogger(); bar.set_params({"verbose": 2, "epochs": 1, "steps": 2})
    >>> bar.on_epoch_begin(0); bar.on_train_batch_end(0, {"loss": 1.0}); bar.on_train_batch_end(1, {"loss": 0.5})
    Epoch 1/1
    >>> bar.on_epoch_end(0, {"loss": 0.5})  # doctest: +ELLIPSIS
    2/2 - 0s - ...us/step - loss: 0.5000
    """

    reads_batch_logs = False  # logs are read by Progress only when it draws

    def __init__(self) -> None:
        super().__init__()
        self._progress: Progress | None = None
        self._kind = ""  # which loop the open bar shows: "train", "test" or "predict"
        self._steps = 0
        self._logs: dict = {}

    def _begin(self, kind: str, header: tuple[int, int] | None = None) -> None:
        if self._progress is not None or _inside_lamina_loop():
            return  # fit draws its own bars; validation inside a custom loop's epoch keeps the epoch's bar
        self._progress, self._kind = Progress(resolve_verbose(self.params.get("verbose", 1)),
                                              self.params.get("steps")), kind
        if header is not None:
            self._progress.epoch_header(*header)
        self._progress.start()
        self._steps, self._logs = 0, {}

    def _batch(self, kind: str, batch: int, logs: dict | None) -> None:
        if self._progress is not None and self._kind == kind:
            self._steps, self._logs = batch + 1, logs or {}
            self._progress.update(self._steps, self._logs)

    def _end(self, kind: str, logs: dict | None) -> None:
        if self._progress is not None and self._kind == kind:
            self._progress.finish(self._steps, to_floats(logs if logs else self._logs))
            self._progress = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._begin("train", (epoch, self.params.get("epochs", 1)))

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._batch("train", batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._end("train", logs)

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._begin("test")

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._batch("test", batch, logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        self._end("test", logs)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._begin("predict")

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._batch("predict", batch, None)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._end("predict", {})


LAMBDA_HOOKS = (*HOOKS, "on_batch_begin", "on_batch_end")


class LambdaCallback(Callback):
    """A callback from plain functions, called with the hook's arguments: ``(epoch, logs)`` or ``(batch, logs)``
    for epoch and batch hooks, ``(logs)`` for the begin/end hooks. Only the given hooks are dispatched, so
    ``LambdaCallback(on_epoch_end=...)`` adds nothing to the batch loop.

    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, sorted(logs)))
    >>> CallbackList([cb]).wants("on_train_batch_end")
    False
    """

    def __init__(self, on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None, on_train_batch_end: Callable | None = None,
                 **kwargs: Callable):
        super().__init__()
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, **kwargs}
        unknown = sorted(k for k in given if k not in LAMBDA_HOOKS)
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hook(s) {unknown}; hooks are {list(LAMBDA_HOOKS)}.")
        for hook, fn in given.items():
            if fn is not None and not callable(fn):
                raise TypeError(f"LambdaCallback({hook}=...) takes a function; received {type(fn).__name__}.")
        self._functions = {hook: fn for hook, fn in given.items() if fn is not None}
        for old, new in (("on_batch_begin", "on_train_batch_begin"), ("on_batch_end", "on_train_batch_end")):
            if old in self._functions:
                self._functions.setdefault(new, self._functions.pop(old))

    @property
    def reads_batch_logs(self) -> bool:  # type: ignore[override]
        return any(h in self._functions for h in BATCH_HOOKS if h.endswith("_end"))

    def _uses_hook(self, hook: str) -> bool:
        return hook in self._functions

    def _call(self, hook: str, *args: Any) -> None:
        fn = self._functions.get(hook)
        if fn is not None:
            fn(*args)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)  # noqa: E704
    def on_train_end(self, logs=None): self._call("on_train_end", logs)  # noqa: E704
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs)  # noqa: E704
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs)  # noqa: E704
    def on_train_batch_begin(self, batch, logs=None): self._call("on_train_batch_begin", batch, logs)  # noqa: E704
    def on_train_batch_end(self, batch, logs=None): self._call("on_train_batch_end", batch, logs)  # noqa: E704
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs)  # noqa: E704
    def on_test_end(self, logs=None): self._call("on_test_end", logs)  # noqa: E704
    def on_test_batch_begin(self, batch, logs=None): self._call("on_test_batch_begin", batch, logs)  # noqa: E704
    def on_test_batch_end(self, batch, logs=None): self._call("on_test_batch_end", batch, logs)  # noqa: E704
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs)  # noqa: E704
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs)  # noqa: E704
    def on_predict_batch_begin(self, batch, logs=None): self._call("on_predict_batch_begin", batch, logs)  # noqa: E704
    def on_predict_batch_end(self, batch, logs=None): self._call("on_predict_batch_end", batch, logs)  # noqa: E704
