"""Report: write the HTML training report (``model.report``) when ``fit`` ends."""

from __future__ import annotations

import os
from typing import Any

from lamina.training.callbacks.base import Callback


class Report(Callback):
    """Record each epoch's logs and the learning rate, and write ``model.report(path, ...)`` at the end of
    ``fit``: one self-contained HTML file with the learning curves, the learning rate, gradient norms (from a
    ``TrainingMonitor`` given as ``monitor``), the lr_find curve, and, on ``validation_data``, the confusion
    matrix, per-class precision/recall and the most confidently wrong examples. See docs/report.md.

    Args:
        path: the ``.html`` file to write (atomically: a half-written report never replaces a whole one).
        validation_data: ``(x, y)`` to judge a classifier on (the classifier sections stay empty without it).
        monitor: the ``TrainingMonitor`` in the same ``fit``, for its gradient and weight norms.
        lr_find: the result of ``model.lr_find(x, y)``, to show its curve.
        class_names: one name per class, in class-index order.
        every_epoch: also rewrite the report after each epoch (to watch a long run in a browser).
        **report_kwargs: ``model.report``'s other arguments (``plots``, ``max_examples``, ``title``, ...).

    >>> report = Report("report.html", validation_data=(x_val, y_val), class_names=names)  # doctest: +SKIP
    >>> model.fit(x, y, epochs=5, callbacks=[report])  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike, validation_data: Any = None, *, monitor: Any = None,
                 lr_find: Any = None, class_names: Any = None, every_epoch: bool = False, **report_kwargs: Any):
        super().__init__()
        if validation_data is not None and not (isinstance(validation_data, tuple | list)
                                                and len(validation_data) == 2):
            raise ValueError("Report(validation_data=...) takes a pair (x, y) of samples and labels; received "
                             f"{type(validation_data).__name__}"
                             f"{f' of length {len(validation_data)}' if hasattr(validation_data, '__len__') else ''}.")
        self.path = os.fspath(path)
        self.validation_data = validation_data
        self.monitor, self.lr_find, self.class_names = monitor, lr_find, class_names
        self.every_epoch = every_epoch
        self.report_kwargs = report_kwargs
        self.records: list[dict] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.records = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        record = {"epoch": epoch, **(logs or {})}
        optimizer = getattr(self.model, "optimizer", None)
        if "learning_rate" not in record and hasattr(optimizer, "learning_rate"):
            record["learning_rate"] = float(optimizer.learning_rate)  # once per epoch, not per step
        self.records.append(record)
        if self.every_epoch:
            self.write()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.write()

    def write(self) -> str:
        """Write the report now (``fit`` calls this at its end); returns its path."""
        x, y = self.validation_data if self.validation_data is not None else (None, None)
        return self.model.report(self.path, x, y, history=self.records, monitor=self.monitor, lr_find=self.lr_find,
                                 class_names=self.class_names, **self.report_kwargs)

    def state_dict(self) -> dict:  # resumable state (BackupAndRestore): the epochs recorded so far
        return {"records": list(self.records)}

    def load_state_dict(self, state: dict) -> None:
        self.records = list(state["records"])
