"""Ray Train: report each epoch's global logs and a checkpoint to Ray, and resume from Ray's checkpoint.

Inside ``TorchTrainer``'s training function, ``set_distribution(DataParallel())`` adopts the process group Ray
made, ``fit`` runs as under torchrun, and :class:`ReportCheckpointCallback` calls ``ray.train.report`` on every
worker at each epoch's end, as Ray requires: the same global logs everywhere, and a checkpoint (the full weights,
the optimizer state and the epoch, written by rank 0 in lamina's safetensors files: data, no pickle) from rank 0.
:func:`restore` puts a checkpoint back into a compiled model and returns the epoch to continue from.

>>> def train_func(config):  # doctest: +SKIP
...     import lamina
...     from lamina.distribution import DataParallel, set_distribution
...     from lamina.distribution.ray import ReportCheckpointCallback, restore
...     set_distribution(DataParallel())
...     model = build_model()
...     model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
...     model.fit(x, y, epochs=10, initial_epoch=restore(model), callbacks=[ReportCheckpointCallback()])
>>> from ray.train import ScalingConfig  # doctest: +SKIP
>>> from ray.train.torch import TorchTrainer  # doctest: +SKIP
>>> TorchTrainer(train_func, scaling_config=ScalingConfig(num_workers=4, use_gpu=True)).fit()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from safetensors import safe_open
from safetensors.torch import load_file, save_file

from lamina.saving import format as fmt
from lamina.saving import model_config
from lamina.training import strategy as strategy_module
from lamina.training.callbacks import Callback

WEIGHTS = "model.weights.safetensors"
OPTIMIZER = "optimizer.safetensors"
STATE = "lamina_checkpoint.json"


def _ray_train() -> Any:
    try:
        import ray.train
    except ImportError:
        raise ImportError("lamina.distribution.ray needs Ray Train: pip install 'lamina[ray]' "
                          "(or pip install 'ray[train]').") from None
    return ray.train


class ReportCheckpointCallback(Callback):
    """Report each epoch's logs (global: the same on every worker) to Ray, with a checkpoint from rank 0.

    Args:
        metrics: which logs to report: ``None`` for all, a list of log names, or a dict ``{name in Ray: log
            name}`` (as Ray's own Keras callback takes).
        checkpoint_on: ``"epoch_end"`` (a checkpoint with every report), ``"train_end"`` (only with the last
            epoch's), or ``None`` (metrics only).
        checkpoint_every: with ``"epoch_end"``, a checkpoint every this many epochs.
    """

    def __init__(self, metrics: Sequence[str] | Mapping[str, str] | None = None,
                 checkpoint_on: str | None = "epoch_end", checkpoint_every: int = 1):
        super().__init__()
        if checkpoint_on not in ("epoch_end", "train_end", None):
            raise ValueError(f"checkpoint_on must be 'epoch_end', 'train_end' or None; received {checkpoint_on!r}.")
        if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer; received {checkpoint_every!r}.")
        self.metrics, self.checkpoint_on, self.checkpoint_every = metrics, checkpoint_on, checkpoint_every
        self._last_epoch: int | None = None

    def _chosen(self, logs: Mapping[str, Any]) -> dict[str, float]:
        if self.metrics is None:
            return {k: float(v) for k, v in logs.items()}
        names = dict(self.metrics) if isinstance(self.metrics, Mapping) else {m: m for m in self.metrics}
        missing = [log for log in names.values() if log not in logs]
        if missing:
            raise KeyError(f"ReportCheckpointCallback: the logs have no {missing}; they have {sorted(logs)}.")
        return {name: float(logs[log]) for name, log in names.items()}

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._last_epoch = self.params.get("epochs") if isinstance(self.params, dict) else None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        last = self._last_epoch is not None and epoch + 1 >= self._last_epoch
        with_checkpoint = (self.checkpoint_on == "epoch_end" and (epoch + 1) % self.checkpoint_every == 0) or (
            self.checkpoint_on == "train_end" and last)
        report(self.model, self._chosen(dict(logs or {}, epoch=epoch)), epoch=epoch + 1 if with_checkpoint else None)


def report(model: Any, metrics: Mapping[str, float], epoch: int | None = None) -> None:
    """``ray.train.report(metrics)`` on every worker; with ``epoch`` (the number of epochs done), rank 0 attaches a
    checkpoint of ``model`` (weights, optimizer state, ``epoch``). A collective under a distribution: call it on
    every worker."""
    train = _ray_train()
    if epoch is None:
        train.report(dict(metrics))
        return
    with tempfile.TemporaryDirectory(prefix="lamina-ray-") as directory:
        save_checkpoint(model, directory, epoch=epoch, logs=metrics)
        strategy = strategy_module.current()
        chief = strategy.is_chief
        train.report(dict(metrics), checkpoint=train.Checkpoint.from_directory(directory) if chief else None)


def save_checkpoint(model: Any, directory: str, *, epoch: int, logs: Mapping[str, float] | None = None) -> None:
    """Write ``model``'s full weights, its optimizer's state and ``epoch`` into ``directory`` (rank 0 writes; a
    collective under a distribution)."""
    model.save_weights(os.path.join(directory, WEIGHTS))
    strategy = strategy_module.current()

    def write() -> None:
        state = model_config.optimizer_state(getattr(model, "optimizer", None))
        if state is not None:
            tensors, meta = state
            save_file(tensors, os.path.join(directory, OPTIMIZER), metadata={"optimizer": json.dumps(meta)})
        with open(os.path.join(directory, STATE), "w", encoding="utf-8") as f:
            json.dump({"epoch": int(epoch), "logs": dict(logs or {})}, f)

    strategy.save(model, write)


def restore(model: Any, checkpoint: Any = None) -> int:
    """Load ``checkpoint`` (by default ``ray.train.get_checkpoint()``, the one Ray resumes from) into the compiled
    ``model``: weights and optimizer state. Returns the number of epochs it had done (``0`` when there is no
    checkpoint), to pass as ``fit(initial_epoch=...)``."""
    if checkpoint is None:
        checkpoint = _ray_train().get_checkpoint()
        if checkpoint is None:
            return 0
    if hasattr(checkpoint, "as_directory"):  # a ray.train.Checkpoint (local or in remote storage)
        with checkpoint.as_directory() as directory:
            return load_checkpoint(model, directory)
    return load_checkpoint(model, os.fspath(checkpoint))


def load_checkpoint(model: Any, directory: str) -> int:
    """Read a directory written by :func:`save_checkpoint` into ``model``; returns its epoch."""
    state_path = os.path.join(directory, STATE)
    if not os.path.isfile(state_path):
        raise FileNotFoundError(f"{directory!r} is not a lamina checkpoint: it has no {STATE}. It must come from "
                                "lamina.distribution.ray.ReportCheckpointCallback (or save_checkpoint).")
    with open(state_path, "rb") as f:
        state = fmt.parse_json(f.read(), STATE)  # bounded: a checkpoint may come from shared storage
    model.load_weights(os.path.join(directory, WEIGHTS))
    optimizer_path = os.path.join(directory, OPTIMIZER)
    if os.path.isfile(optimizer_path):
        if getattr(model, "_trainer", None) is None:
            raise ValueError("restore(model): compile the model first, so that its optimizer state can be restored.")
        with safe_open(optimizer_path, "pt") as f:
            meta = fmt.parse_json(f.metadata()["optimizer"], "the optimizer state's metadata")
        model_config.load_optimizer_state(model, load_file(optimizer_path), meta)
    return int(state["epoch"])
