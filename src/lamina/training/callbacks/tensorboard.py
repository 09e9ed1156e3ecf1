"""TensorBoard: scalars, learning rate, weight histograms and images, embeddings and a profile, written as
TensorBoard event files through ``torch.utils.tensorboard`` (needs ``pip install tensorboard``).

Layout as in Keras: ``<log_dir>/train`` holds ``epoch_<name>`` (epoch logs and ``epoch_learning_rate``, step =
epoch) and ``batch_<name>`` (every ``update_freq`` batches, step = global batch number, 1-based);
``<log_dir>/validation`` holds ``epoch_<name>`` for the ``val_`` logs and ``evaluation_<name>_vs_iterations``
(step = optimizer iterations).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch

from lamina.training.callbacks.base import Callback


def _summary_writer_class() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ImportError(
            "lamina.callbacks.TensorBoard writes event files with torch.utils.tensorboard, which needs the "
            "tensorboard package: pip install tensorboard (or pip install 'lamina[tensorboard]')."
        ) from error
    return SummaryWriter


def _profile_range(profile_batch: Any) -> tuple[int, int]:
    value = profile_batch
    if isinstance(value, str):
        try:
            value = [int(v) for v in value.split(",")]
        except ValueError:
            value = None
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2 or not all(isinstance(v, int) for v in value)
            or value[0] < 0 or value[1] < value[0] or (value[0] == 0 and value[1] != 0)):
        raise ValueError(f"TensorBoard: profile_batch must be an int >= 0 (0 = no profiling) or a pair of positive "
                         f"ints (first, last) or a string 'first,last'; received {profile_batch!r}.")
    return int(value[0]), int(value[1])


class TensorBoard(Callback):
    """Log training to TensorBoard: ``tensorboard --logdir logs`` shows it.

    Args:
        log_dir: where the event files go (``train/`` and ``validation/`` inside it).
        histogram_freq: every this many epochs, histograms of every weight (0 = never).
        write_graph: write the model's summary (its layers, shapes and parameter counts) as text, at step 0.
        write_images: with ``histogram_freq``, also weights as images (kernels of Dense and Conv1D layers,
            biases, one value per pixel), as Keras draws them.
        write_steps_per_second: also log training steps per second.
        update_freq: ``"epoch"``, ``"batch"`` or an int: also log the batch logs (running means of the epoch)
            every this many batches, which costs a host sync per batch.
        profile_batch: profile batches with ``torch.profiler`` (an int: that global batch; a pair or
            ``"first,last"``: that range; 0: no profiling); the trace goes to ``<log_dir>/train``.
        embeddings_freq: every this many epochs, write the ``Embedding`` layers' matrices for the projector.
        embeddings_metadata: a label file (one label per line, tab-separated columns with a header row), or a
            dict from Embedding layer name to such a file.

    >>> tensorboard = TensorBoard(log_dir="logs/run1", histogram_freq=1, update_freq=100)  # writes once fit runs
    >>> # model.fit(x, y, epochs=5, callbacks=[tensorboard])
    """

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, write_steps_per_second: bool = False, update_freq: str | int = "epoch",
                 profile_batch: int | str | tuple = 0, embeddings_freq: int = 0,
                 embeddings_metadata: str | dict | None = None):
        super().__init__()
        self._writer_class = _summary_writer_class()
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int (a number of "
                             f"batches); received {update_freq!r}.")
        for name, value in (("histogram_freq", histogram_freq), ("embeddings_freq", embeddings_freq)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"TensorBoard: {name} must be an int >= 0 (0 = off); received {value!r}.")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._start_batch, self._stop_batch = _profile_range(profile_batch)
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers: dict[str, Any] = {}
        self._global_train_batch = 0
        self._epoch_first_batch = 0
        self._graph_written = False
        self._profiler: Any = None
        self._clock = (0.0, 0)  # (time, global batch) of the last steps-per-second measurement
        self._epoch_clock = (0.0, 0)

    # ------------------------------------------------------------------ which hooks this instance needs
    @property
    def reads_batch_logs(self) -> bool:  # type: ignore[override]
        return self.update_freq != "epoch"

    def _uses_hook(self, hook: str) -> bool:
        profiling = self._start_batch > 0
        if hook == "on_train_batch_end":
            return self.update_freq != "epoch" or profiling
        if hook == "on_train_batch_begin":
            return profiling
        return super()._uses_hook(hook)

    def state_dict(self) -> dict:  # resumable state (BackupAndRestore): where the batch steps stand
        return {"global_train_batch": self._global_train_batch, "epoch_first_batch": self._epoch_first_batch}

    def load_state_dict(self, state: dict) -> None:
        self._global_train_batch, self._epoch_first_batch = state["global_train_batch"], state["epoch_first_batch"]

    def _writer(self, which: str) -> Any:
        if which not in self._writers:
            self._writers[which] = self._writer_class(self._train_dir if which == "train" else self._val_dir)
        return self._writers[which]

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs: dict | None = None) -> None:
        self._global_train_batch = 0
        self._epoch_first_batch = 0
        if self.write_graph and not self._graph_written:
            self._write_model_summary()
            self._graph_written = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_first_batch = self._global_train_batch
        now = time.perf_counter()
        self._clock = self._epoch_clock = (now, self._global_train_batch)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        step = self._epoch_first_batch + batch + 1
        if self._profiler is None and self._start_batch <= step <= self._stop_batch:
            activities = [torch.profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available():
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self._profiler = torch.profiler.profile(
                activities=activities, on_trace_ready=torch.profiler.tensorboard_trace_handler(self._train_dir))
            self._profiler.start()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        previous = self._global_train_batch
        self._global_train_batch = step = self._epoch_first_batch + batch + 1
        if self.update_freq != "epoch" and step // self.update_freq > previous // self.update_freq:
            writer = self._writer("train")
            for name, value in (logs or {}).items():
                writer.add_scalar(f"batch_{name}", value, global_step=step)
            if self.write_steps_per_second:
                now = time.perf_counter()
                then, then_step = self._clock
                writer.add_scalar("batch_steps_per_second", (step - then_step) / max(now - then, 1e-9),
                                  global_step=step)
                self._clock = (now, step)
        if self._profiler is not None and step >= self._stop_batch:
            self._stop_profiler()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k.removeprefix("val_"): v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            train_logs["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            then, then_step = self._epoch_clock
            train_logs["steps_per_second"] = (self._global_train_batch - then_step) / max(
                time.perf_counter() - then, 1e-9)
        for which, values in (("train", train_logs), ("val", val_logs)):
            if values:
                writer = self._writer(which)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", value, global_step=epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._log_embeddings(epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs: dict | None = None) -> None:
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        if iterations is None or not logs:
            return
        writer = self._writer("val")
        for name, value in logs.items():
            writer.add_scalar(f"evaluation_{name}_vs_iterations", value, global_step=int(iterations))
        writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._profiler is not None:
            self._stop_profiler()
        self._close_writers()

    # ------------------------------------------------------------------ what gets written
    def _stop_profiler(self) -> None:
        profiler, self._profiler = self._profiler, None
        profiler.stop()  # calls on_trace_ready: the trace file lands in <log_dir>/train

    def _write_model_summary(self) -> None:
        summary = getattr(self.model, "summary", None)
        if summary is None:
            return
        lines: list[str] = []
        summary(print_fn=lambda line, *args, **kwargs: lines.append(str(line)))
        # Indented four spaces: TensorBoard's text plugin renders markdown, and this keeps the table as is.
        self._writer("train").add_text("model_summary", "\n".join("    " + line for line in lines), global_step=0)

    def _named_weights(self) -> list[tuple[Any, str, np.ndarray]]:
        """(layer, path, array in Keras layout) for every weight, the path as Keras names it: model/layer/name."""
        model = self.model
        out = []
        for layer in getattr(model, "layers", None) or [model]:
            owners = getattr(layer, "_weights_with_owner", None)
            if owners is None:
                continue
            for (owner, name, _), array in zip(owners(), layer.get_weights(), strict=True):
                parts = [getattr(model, "name", "model"), layer.name]
                if owner is not layer and getattr(owner, "name", None):
                    parts.append(owner.name)
                out.append((layer, "/".join([*parts, name]), array))
        return out

    def _log_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for _, path, array in self._named_weights():
            writer.add_histogram(f"{path}/histogram", array, global_step=epoch)
            if self.write_images:
                image = _weight_image(array)
                if image is not None:
                    writer.add_images(f"{path}/image", image, global_step=epoch, dataformats="NHWC")

    def _log_embeddings(self, epoch: int) -> None:
        # Embedding layers, known by their `embeddings` matrix (training knows no layer types).
        layers = [layer for layer in getattr(self.model, "layers", [])
                  if isinstance(getattr(layer, "embeddings", None), torch.Tensor)]
        metadata = self.embeddings_metadata
        if isinstance(metadata, dict):
            unknown = sorted(set(metadata) - {layer.name for layer in layers})
            if unknown:
                raise ValueError(f"TensorBoard(embeddings_metadata=...) names {unknown}, which are not Embedding "
                                 f"layers of the model (those are {[layer.name for layer in layers]}).")
        writer = self._writer("train")
        for layer in layers:
            path = metadata.get(layer.name) if isinstance(metadata, dict) else metadata
            labels, header = _read_metadata(path) if path else (None, None)
            writer.add_embedding(layer.get_weights()[0], metadata=labels, metadata_header=header, tag=layer.name,
                                 global_step=epoch)


def _read_metadata(path: str) -> tuple[list, list | None]:
    with open(path) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    if rows and len(rows[0]) > 1:  # several columns: the first row names them
        return rows[1:], rows[0]
    return [row[0] for row in rows], None


def _weight_image(array: np.ndarray) -> np.ndarray | None:
    """A weight as a batch of grey NHWC images (Keras's rule), or None when it has no image form."""
    w = np.squeeze(array)
    if w.ndim == 1:  # a bias: one row
        w = w.reshape(1, w.shape[0], 1, 1)
    elif w.ndim == 2:  # a Dense kernel, wide side horizontal
        if w.shape[0] > w.shape[1]:
            w = w.T
        w = w.reshape(1, w.shape[0], w.shape[1], 1)
    elif w.ndim == 3:  # a Conv1D kernel (width, in, out): one image per output channel
        w = np.transpose(w, (2, 0, 1))[..., None]
    else:
        return None
    return w if w.shape[-1] in (1, 3, 4) else None
