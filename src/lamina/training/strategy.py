"""How a run is spread over processes: the ``Strategy`` the trainer asks, with a single-process default.

The trainer calls every hook at its place in ``fit``/``evaluate``/``predict`` and never asks whether a run is
distributed; ``lamina.distribution`` implements the hooks for DDP and FSDP (``Distribution``) and installs one
with ``set_distribution``, which lands here (``set_current``). The hooks, in the order a run meets them:

- ``adapter``: this process's share of the data (``predict_adapter`` for ``predict``);
- ``prepare_model``: wrap the built model (before the optimizer is built);
- ``wrap_step``: a built step as this process runs it;
- ``reporting``: the verbosity and callbacks of this process (which rank prints and writes files);
- ``restore_backup``: the state ``BackupAndRestore`` resumes from;
- ``reduce_logs``: the logs of a finished loop with every value global;
- ``gather_predictions``: ``predict``'s outputs for all the data;
- ``save``/``load``: checkpoints written once, read by every process; ``barrier``.

>>> current().is_chief, current().world_size
(True, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lamina.core import config
from lamina.data.adapters import make_adapter
from lamina.training.progress import to_floats


class Strategy:
    """One process: the data as given, the model as it is, the logs as they are (the default strategy)."""

    #: Whether ``prepare_model`` wraps the model so that its backward pass is the wrapper's (DDP, FSDP): the
    #: whole-step compilation of ``jit_compile=True``, which runs its own backward pass, is then left out.
    wraps_model = False
    rank = 0
    world_size = 1

    @property
    def is_chief(self) -> bool:
        """Whether this process prints progress and writes files."""
        return self.rank == 0

    # ------------------------------------------------------------------ data
    def adapter(self, trainer: Any, x: Any, y: Any, sample_weight: Any, batch_size: Any, shuffle: Any,
                class_weight: Any, steps: Any, training: bool, check_finite: bool) -> Any:
        """The batches of ``x``/``y`` this process runs."""
        return make_adapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, device=trainer.device,
                            class_weight=class_weight, steps_per_epoch=steps, check_finite=check_finite)

    def predict_adapter(self, trainer: Any, x: Any, batch_size: Any, steps: Any) -> Any:
        """The batches of ``x`` this process predicts (streamed: converted batch by batch)."""
        return make_adapter(x, batch_size=batch_size, device=trainer.device, steps_per_epoch=steps, stream=True,
                            check_finite=False)

    # ------------------------------------------------------------------ model and steps
    def prepare_model(self, trainer: Any) -> None:
        """Called once the model is built and before its optimizer is."""

    def wrap_step(self, step_fn: Callable[[Any], Any], kind: str) -> Callable[[Any], Any]:
        """``step_fn`` (a built ``kind`` step) as this process runs it."""
        return step_fn

    # ------------------------------------------------------------------ reporting
    def reporting(self, verbose: int, callbacks: list | None) -> tuple[int, list | None]:
        """The verbosity and callbacks of this process."""
        return verbose, callbacks

    def reduce_logs(self, model: Any, logs: Any) -> dict[str, float]:
        """A finished loop's logs as floats, with every value over all processes."""
        return to_floats(logs)

    def gather_predictions(self, adapter: Any, outputs: Any) -> Any:
        """``predict``'s outputs for all of ``adapter``'s data, in input order."""
        return outputs

    # ------------------------------------------------------------------ state
    def restore_backup(self, backup: Any, trainer: Any) -> tuple[dict, dict] | None:
        """The state ``backup`` (a ``BackupAndRestore``) resumes from, or None for a fresh start; also makes it
        save as this strategy needs."""
        return backup._load()

    def save(self, model: Any, write: Callable[[], Any]) -> None:
        """Write a checkpoint of ``model`` (``write`` does the writing)."""
        write()

    def load(self, model: Any, read: Callable[[], Any]) -> None:
        """Read a checkpoint into ``model`` (``read`` does the reading)."""
        read()

    def barrier(self) -> None:
        """Wait for every process."""


SINGLE_PROCESS = Strategy()


def current() -> Strategy:
    """The strategy runs use now (``SINGLE_PROCESS`` unless ``lamina.distribution.set_distribution`` set one)."""
    return config.STRATEGY if config.STRATEGY is not None else SINGLE_PROCESS


def set_current(strategy: Strategy | None) -> None:
    """Make ``strategy`` (None: the single process) the one every run uses (kept in ``core.config.STRATEGY``)."""
    if strategy is not None and not isinstance(strategy, Strategy):
        raise TypeError(f"Expected a lamina.training.strategy.Strategy (or None); received {strategy!r}.")
    config.STRATEGY = strategy if strategy is not SINGLE_PROCESS else None
