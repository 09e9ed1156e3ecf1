"""ModelCheckpoint: save the model or its weights during training, every epoch or every N batches."""

from __future__ import annotations

import os
import warnings
from typing import Any

from lamina.training.callbacks.monitor import MonitorCallback

WEIGHTS_SUFFIX = ".weights.safetensors"
MODEL_SUFFIX = ".lamina"
KERAS_WEIGHTS_SUFFIX, KERAS_MODEL_SUFFIX = ".weights.h5", ".keras"  # Keras 3's formats, which Keras reads back
WEIGHTS_SUFFIXES = (WEIGHTS_SUFFIX, KERAS_WEIGHTS_SUFFIX)
MODEL_SUFFIXES = (MODEL_SUFFIX, KERAS_MODEL_SUFFIX, ".h5")  # ".h5": the legacy HDF5 model format, as Keras 3 allows


class ModelCheckpoint(MonitorCallback):
    """Save the model (``model.save``: a ``.lamina`` file, Keras 3's ``.keras``, or a legacy ``.h5``) or its weights
    (``model.save_weights``: ``.weights.safetensors``, or Keras 3's ``.weights.h5``) at the end of every epoch, or
    every ``save_freq`` batches.

    ``filepath`` is a Python format string filled with ``epoch`` (1-based), ``batch`` (1-based, batch-level saves
    only) and the logs, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.weights.safetensors"``.

    Args:
        filepath: where to save; the suffix must match ``save_weights_only`` (``"best.keras"``,
            ``"ckpt-{epoch:02d}.weights.h5"``...).
        monitor: the logs key ``save_best_only`` compares.
        verbose: 1 prints a line per save decision.
        save_best_only: save only when ``monitor`` improved on the best value so far (with a fixed filepath
            the file always holds the best model).
        save_weights_only: write weights only (``.weights.safetensors``) instead of the whole model
            (``.lamina``).
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        save_freq: ``"epoch"``, or an int: save after that many batches (the batch logs are then the running
            means of the epoch so far, and reading them costs a host sync per batch).
        initial_value_threshold: the value to beat before the first save when ``save_best_only``.

    >>> ckpt = ModelCheckpoint("best.weights.safetensors", monitor="val_loss", save_best_only=True,
    ...                        save_weights_only=True)
    >>> # model.fit(x, y, validation_data=(vx, vy), epochs=10, callbacks=[ckpt])
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch", initial_value_threshold: float | None = None):
        super().__init__(monitor, mode, initial_value_threshold)
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int (a number of batches); "
                             f"received {save_freq!r}.")
        self.filepath = os.fspath(filepath)
        if save_weights_only and not self.filepath.endswith(WEIGHTS_SUFFIXES):
            raise ValueError(
                f"ModelCheckpoint(save_weights_only=True) writes weights files, so the filepath must end in "
                f"'{WEIGHTS_SUFFIX}' (lamina's format) or '{KERAS_WEIGHTS_SUFFIX}' (Keras 3's); received "
                f"filepath={self.filepath!r}. For the whole model use save_weights_only=False and a "
                f"'{MODEL_SUFFIX}' or '{KERAS_MODEL_SUFFIX}' filepath."
            )
        if not save_weights_only and (not self.filepath.endswith(MODEL_SUFFIXES) or
                                      self.filepath.endswith(KERAS_WEIGHTS_SUFFIX)):
            raise ValueError(
                f"ModelCheckpoint(save_weights_only=False) saves the whole model, so the filepath must end in "
                f"'{MODEL_SUFFIX}' (lamina's format) or '{KERAS_MODEL_SUFFIX}' (Keras 3's; '.h5' for the legacy "
                f"HDF5 format); received filepath={self.filepath!r}. For weights only pass save_weights_only=True "
                "and a "
                f"'{WEIGHTS_SUFFIX}' or '{KERAS_WEIGHTS_SUFFIX}' filepath."
            )
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen: int | None = None
        self._current_epoch = 0

    # Batch hooks only matter with an integer save_freq; otherwise the trainer need not call them.
    @property
    def reads_batch_logs(self) -> bool:  # type: ignore[override]
        return self.save_freq != "epoch"

    def _uses_hook(self, hook: str) -> bool:
        if hook == "on_train_batch_end":
            return self.save_freq != "epoch"
        return super()._uses_hook(hook)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "batches_seen_since_last_saving": self._batches_seen_since_last_saving,
                "last_batch_seen": self._last_batch_seen, "current_epoch": self._current_epoch}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._batches_seen_since_last_saving = state["batches_seen_since_last_saving"]
        self._last_batch_seen, self._current_epoch = state["last_batch_seen"], state["current_epoch"]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch: int) -> bool:
        """Count batches across epochs; with steps_per_execution the hook sees every k-th index only."""
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:  # a new epoch started
            self._batches_seen_since_last_saving += batch + 1
        else:
            self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _file_path(self, epoch: int, batch: int | None, logs: dict) -> str:
        fields: dict[str, Any] = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as error:
            available = list(dict.fromkeys(["epoch", *(["batch"] if "batch" in fields else []), *logs]))
            raise KeyError(
                f"ModelCheckpoint cannot fill in filepath {self.filepath!r}: it names {error}, which is not "
                f"available here (available: {', '.join(available)}). Use one of those names, or log {error} "
                "before ModelCheckpoint runs."
            ) from None

    def _should_save(self, epoch: int, logs: dict, filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"ModelCheckpoint(save_best_only=True) monitors '{self.monitor}', which is not in the logs "
                f"(available: {', '.join(logs)}); saving anyway. Set monitor= to one of those.",
                UserWarning, stacklevel=4)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                      f"saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        logs = dict(logs or {})
        filepath = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            suffix = self.filepath.endswith(KERAS_WEIGHTS_SUFFIX) and KERAS_WEIGHTS_SUFFIX or \
                self.filepath.endswith(KERAS_MODEL_SUFFIX) and KERAS_MODEL_SUFFIX or \
                (WEIGHTS_SUFFIX if self.save_weights_only else MODEL_SUFFIX)
            example = os.path.join(filepath, "ckpt" + suffix)
            raise IsADirectoryError(f"ModelCheckpoint: the filepath {filepath!r} is an existing directory; give a "
                                    f"file path (e.g. {example!r}).")
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")
