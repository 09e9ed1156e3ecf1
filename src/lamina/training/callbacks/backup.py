"""``BackupAndRestore``: survive a crash or a kill. The run's whole state (see ``training/state.py``) is written
to ``backup_dir`` every ``save_freq`` batches or at each epoch's end; rerunning the same script resumes from the
last backup, at that very step, and continues exactly as the uninterrupted run would have (same data order, same
random numbers, same optimizer and metric state), where Keras resumes whole epochs only.

Not run as a doctest (it writes the backup files):

>>> model.fit(x, y, epochs=10, callbacks=[lamina.callbacks.BackupAndRestore("backup", save_freq=100)])  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

from lamina.training import state
from lamina.training.callbacks.base import Callback

LATEST, PREVIOUS = "latest.safetensors", "previous.safetensors"


class BackupAndRestore(Callback):
    """Back up the training state to ``backup_dir`` and resume from it after an interruption.

    Args:
        backup_dir: folder for the backup files (created if missing). Use one folder per training run.
        save_freq: ``"epoch"`` to back up at the end of each epoch, or an int ``n`` to back up every ``n`` batches
            (then a resume continues mid-epoch, at the step after the last backup).
        double_checkpoint: keep the previous backup too, used if the latest one cannot be read.
        delete_checkpoint: delete the backups when training ends normally (Keras's default).

    A resumed ``fit`` says so: it logs (and, with ``verbose``, prints) the backup, epoch and step it resumed from,
    and its ``History`` has ``resumed_from = {"epoch": e, "step": s, "backup": path}`` (``e`` counted from 0 as in
    ``history.epoch``; ``s`` the steps of that epoch done before the interruption, so training went on with
    step ``s``), or ``None`` when it started afresh. A test can tell a real resume from a fresh start that happens
    to use the same seed.
    """

    reads_batch_logs = False  # counts batches only: the trainer need not fetch the batch's logs for it

    def __init__(self, backup_dir: str, save_freq: str | int = "epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore needs a backup_dir, e.g. BackupAndRestore('backup').")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"save_freq must be 'epoch' or a positive int (batches); received {save_freq!r}.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._batches_since_save = 0
        self.restored_path: str | None = None  # the backup file the last fit resumed from (None: a fresh start)

    # the trainer drives the saving (after every callback has seen the step) through these three methods
    def _step_done(self, trainer: Any, adapter: Any, callbacks: list, epoch: int, epoch_steps: int) -> None:
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(trainer, adapter, callbacks, epoch, epoch_steps)

    def _epoch_done(self, trainer: Any, adapter: Any, callbacks: list, epoch: int) -> None:
        if self.save_freq == "epoch":
            self._save(trainer, adapter, callbacks, epoch + 1, 0)

    def _save(self, trainer: Any, adapter: Any, callbacks: list, epoch: int, epoch_steps: int) -> None:
        tensors, meta = state.capture(trainer, adapter, callbacks, epoch, epoch_steps)
        latest = os.path.join(self.backup_dir, LATEST)
        if self.double_checkpoint and os.path.exists(latest):
            os.replace(latest, os.path.join(self.backup_dir, PREVIOUS))
        state.write(latest, tensors, meta)

    def _load(self) -> tuple[dict, dict] | None:
        """The newest readable backup, or None when there is none (a fresh start)."""
        self.restored_path = None
        names = [LATEST, PREVIOUS] if self.double_checkpoint else [LATEST]
        errors = []
        for name in names:
            path = os.path.join(self.backup_dir, name)
            if os.path.exists(path):
                try:
                    saved = state.read(path)
                    self.restored_path = path
                    return saved
                except Exception as error:  # noqa: BLE001  (a damaged file: try the previous one)
                    errors.append(f"{path}: {error}")
        if errors:
            raise ValueError("BackupAndRestore could not read its backup: " + "; ".join(errors) +
                             ". Delete the backup folder to start over.")
        return None

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.delete_checkpoint:
            for name in (LATEST, PREVIOUS):
                path = os.path.join(self.backup_dir, name)
                if os.path.exists(path):
                    os.unlink(path)

    def state_dict(self) -> dict:
        return {"batches_since_save": self._batches_since_save}

    def load_state_dict(self, saved: dict) -> None:
        self._batches_since_save = int(saved["batches_since_save"])
