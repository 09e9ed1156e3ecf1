"""CSVLogger: one row of epoch logs per epoch, in a CSV file."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from lamina.training.callbacks.base import Callback


class CSVLogger(Callback):
    """Write the epoch logs to ``filename``: a header ``epoch,<sorted keys>`` and one row per epoch (``epoch``
    0-based, as Keras writes it). Without validation values in the first epoch's logs, ``val_`` columns are
    added anyway and filled with ``NA`` until they appear.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: add rows to an existing file (its header is kept; a header is written only to an empty or new
            file) instead of overwriting it.

    >>> logger = CSVLogger("training.log", separator=",", append=True)
    >>> # model.fit(x, y, epochs=5, callbacks=[logger])
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__()
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be a single character; received {separator!r}.")
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer: Any = None
        self.keys: list[str] | None = None
        self.append_header = True
        self.csv_file: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.append_header = not f.readline()
        else:
            self.append_header = True
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, "a" if self.append else "w")  # noqa: SIM115 (closed in on_train_end)
        self.writer, self.keys = None, None

    def state_dict(self) -> dict:  # resumable state (BackupAndRestore): the columns chosen so far
        return {"keys": self.keys}

    def load_state_dict(self, state: dict) -> None:
        self.keys = state["keys"]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.csv_file is None or self.csv_file.closed:
            raise RuntimeError("CSVLogger.on_epoch_end ran before on_train_begin; pass the logger to fit(callbacks=).")
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            dialect = type("Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys], dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch, **{k: _cell(logs.get(k, "NA")) for k in self.keys}}
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _cell(value: Any) -> Any:
    """Scalars as they are; sequences (and arrays with dimensions) as a quoted ``"[a, b]"`` list."""
    if isinstance(value, str) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value
    if isinstance(value, Iterable):
        return f'"[{", ".join(map(str, value))}]"'
    return value
