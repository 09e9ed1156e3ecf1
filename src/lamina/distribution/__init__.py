"""Distributed training on ``torch.distributed``, from one line: an unchanged Keras-style script becomes data
parallel (``DataParallel``, DDP), fully sharded (``FullyShardedDataParallel``, FSDP2) or model parallel
(``ModelParallel`` with a ``LayoutMap``, DTensor) when started by torchrun. Keras's names are here too:
``list_devices``, ``get_device_count``, ``initialize``, ``DeviceMesh``, ``TensorLayout``, ``LayoutMap``,
``distribute_tensor``.

>>> import lamina
>>> from lamina.distribution import DataParallel, set_distribution
>>> set_distribution(DataParallel())  # torchrun --nproc_per_node=2 train.py  # doctest: +SKIP
>>> model.fit(x, y, batch_size=128, epochs=3)  # 64 samples per process and step  # doctest: +SKIP

What changes under a distribution (see docs/distributed.md): ``batch_size`` is the global batch, split across
processes; each epoch's order is shared; metrics and losses in the logs are the global ones on every rank;
``evaluate``/``predict`` return results for all the data (``predict`` in input order); only rank 0 prints
progress and writes files (checkpoints, CSV, TensorBoard, backups).
"""

from __future__ import annotations

from lamina.distribution.base import DataParallel, Distribution
from lamina.distribution.devices import get_device_count, initialize, list_devices
from lamina.distribution.fsdp import FullyShardedDataParallel
from lamina.distribution.launch import DistributedError, LaunchError, shutdown
from lamina.distribution.mesh import DeviceMesh, LayoutMap, TensorLayout, distribute_tensor
from lamina.distribution.model_parallel import ModelParallel
from lamina.training import strategy


def set_distribution(value: Distribution | None) -> None:
    """Train every model of this process with ``value`` (None: back to a single process).

    Joins torchrun's process group right away, so a script started without torchrun fails here, saying how
    to launch it.
    """
    if value is not None and not isinstance(value, Distribution):
        raise TypeError(f"set_distribution expects DataParallel(), FullyShardedDataParallel() or ModelParallel(...) "
                        f"(or None); "
                        f"received {value!r}.")
    if value is not None:
        value.initialize()
    strategy.set_current(value)  # the trainer's strategy from now on (training/strategy.py holds the setting)


def distribution() -> Distribution | None:
    """The distribution set with ``set_distribution`` (None when training in a single process)."""
    current = strategy.current()
    return current if isinstance(current, Distribution) else None


current = distribution


def rank() -> int:
    """This process's rank (0 without a distribution)."""
    return strategy.current().rank


def world_size() -> int:
    """The number of processes (1 without a distribution)."""
    return strategy.current().world_size


def is_chief() -> bool:
    """Whether this process writes files and prints: rank 0, or the only process."""
    return rank() == 0


__all__ = ["DataParallel", "DeviceMesh", "DistributedError", "Distribution", "FullyShardedDataParallel", "LaunchError",
           "LayoutMap", "ModelParallel", "TensorLayout", "distribute_tensor", "distribution", "get_device_count",
           "initialize", "is_chief", "list_devices", "rank", "set_distribution", "shutdown", "world_size"]


def __dir__() -> list[str]:
    """The public names only (as ``dir(keras.<namespace>)``): not the tools this module imports."""
    return sorted(__all__)
