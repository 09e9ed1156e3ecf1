"""Each process's share of the data.

In-memory arrays: every process holds the data (moved to its device once) and the same shuffle generator
(its state is broadcast from rank 0, so with the same seed the order is even the single-process order). Each
*global* batch of ``batch_size`` samples is cut into ``world_size`` contiguous parts, as even as possible (the
first ``m % world_size`` processes take one more sample). Nothing is padded or dropped: every sample is used once
per epoch, so summed metric states are exact, and the gradient of each process is weighted by its share of the
batch (``grad_factor``), which makes the averaged gradient the gradient of the global batch's mean loss.

A last batch with fewer samples than processes leaves some processes without a sample: they run one step on a
copy of a sample with a zero gradient weight, and their metrics are restored after it (``filler``).

``DataLoader``s get a ``DistributedSampler`` (with the loader's batch size as the global one); a ``Dataset`` is
batched the same way. Python generators are not split: each process trains on what its own generator yields.

>>> local_range(0, 10, rank=1, world_size=4)   # samples 0..9 over 4 processes: 3, 3, 2, 2
(3, 6, False)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Sampler

from lamina.data.adapters import ArrayAdapter, Batch, DataError


def local_range(start: int, stop: int, rank: int, world_size: int) -> tuple[int, int, bool]:
    """``(a, b, filler)``: this process's rows ``[a, b)`` of the global batch ``[start, stop)``; when the batch
    has no row for it, ``filler`` is True and ``[a, b)`` is the batch's first row (a stand-in with no weight)."""
    m = stop - start
    base, extra = divmod(m, world_size)
    n = base + (1 if rank < extra else 0)
    if n == 0:
        return start, start + 1, True
    a = start + rank * base + min(rank, extra)
    return a, a + n, False


class ShardedArrayAdapter(ArrayAdapter):
    """An ``ArrayAdapter`` whose batches are this process's part of each global batch."""

    def __init__(self, *args: Any, rank: int, world_size: int, generator_state: torch.Tensor | None,
                 on_batch: Callable[[int, int], None], filler_guard: Callable[[], Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.batch_size < world_size:
            raise DataError(
                f"batch_size is the global batch, split across the {world_size} processes; received batch_size="
                f"{self.batch_size}, fewer than one sample per process. Pass batch_size >= {world_size} (e.g. "
                f"{world_size * 32} for 32 samples per process)."
            )
        self.rank, self.world_size = rank, world_size
        if generator_state is not None:
            self._generator.set_state(generator_state)
            self._pass_rng = self._generator.get_state()
        self._on_batch = on_batch
        self._filler_guard = filler_guard

    def _one_pass(self, skip: int = 0) -> Iterator[Batch]:
        self._pass_rng = self._generator.get_state()
        self._pass_batches = skip
        order = None
        if self.shuffle and self.shuffle != "batch":
            order = torch.randperm(self.num_samples, generator=self._generator).to(self.device, non_blocking=True)
        for start, stop in self._slices()[skip:]:
            a, b, filler = local_range(start, stop, self.rank, self.world_size)
            if order is None:
                take = lambda t, a=a, b=b: t[a:b]  # noqa: E731  (views, no copy)
            else:
                idx = order[a:b]
                take = lambda t, i=idx: t.index_select(0, i)  # noqa: E731
            self._pass_batches += 1
            self._on_batch(0 if filler else b - a, stop - start)
            if filler:
                with self._filler_guard():
                    yield self._batch(take)
            else:
                yield self._batch(take)

    def first_batch(self) -> Batch:
        a, b, _ = local_range(0, min(self.batch_size, self.num_samples), self.rank, self.world_size)
        return self._batch(lambda t: t[a:b])

    def positions(self, rank: int) -> np.ndarray:
        """For predict (no shuffle, one pass): the input index of each output row of process ``rank``, -1 for
        filler rows."""
        out = []
        for start, stop in self._slices():
            a, b, filler = local_range(start, stop, rank, self.world_size)
            out.append(np.full(1, -1) if filler else np.arange(a, b))
        return np.concatenate(out)


class _EpochSampler(DistributedSampler):
    """A ``DistributedSampler`` that moves to the next epoch (a new shuffle) each time it is iterated, so the
    loader needs no ``set_epoch`` calls."""

    def __iter__(self) -> Iterator:
        it = super().__iter__()
        self.set_epoch(self.epoch + 1)
        return it


class ExactShardSampler(Sampler):
    """Every ``world_size``-th index from ``rank``, in order, without padding (evaluation and predict: each sample
    counted exactly once; process ``r`` gets samples ``r, r + world, ...``)."""

    def __init__(self, length: int, rank: int, world_size: int):
        self.length, self.rank, self.world_size = length, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


def local_batch_size(global_batch: int, world_size: int, what: str) -> int:
    if global_batch % world_size:
        raise DataError(
            f"{what}: the batch size {global_batch} is the global batch, split evenly across {world_size} processes, "
            f"so it must be a multiple of {world_size}; use {math.ceil(global_batch / world_size) * world_size}."
        )
    return global_batch // world_size


def distributed_loader(data: Any, batch_size: int | None, shuffle: bool, rank: int, world_size: int, seed: int,
                       for_training: bool) -> Any:
    """This process's ``DataLoader`` for a ``Dataset`` or a map-style ``DataLoader``: a ``DistributedSampler``
    while training (shuffled with the shared ``seed``, padded to equal lengths), exact shards for evaluation."""
    if isinstance(data, DataLoader):
        if batch_size is not None:
            raise DataError("Do not pass batch_size with a DataLoader: its batch_size is the global batch.")
        loader = data
        if loader.batch_size is None:
            raise DataError("Under set_distribution(), a DataLoader needs a batch_size (the global batch) to split; "
                            "it has batch_size=None (a custom batch_sampler).")
        dataset, shuffle, global_batch = loader.dataset, isinstance(loader.sampler, RandomSampler), loader.batch_size
        extra = {"num_workers": loader.num_workers, "collate_fn": loader.collate_fn, "pin_memory": loader.pin_memory,
                 "drop_last": loader.drop_last, "worker_init_fn": loader.worker_init_fn,
                 "persistent_workers": loader.persistent_workers, "timeout": loader.timeout}
        if loader.num_workers:
            extra["prefetch_factor"] = loader.prefetch_factor
    else:
        dataset, global_batch, extra = data, batch_size or 32, {}
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise DataError("Under set_distribution(), a DataLoader must read a map-style Dataset (with __len__ and "
                        "__getitem__) so each process can take its share; an IterableDataset must shard itself "
                        "(use torch.utils.data.get_worker_info and torch.distributed.get_rank()).")
    per_rank = local_batch_size(global_batch, world_size, "DataLoader")
    sampler: Sampler
    if for_training:
        sampler = _EpochSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed,
                                drop_last=bool(extra.get("drop_last", False)))
    else:
        sampler = ExactShardSampler(len(dataset), rank, world_size)
    return DataLoader(dataset, batch_size=per_rank, sampler=sampler, **extra)


def is_map_style(x: Any) -> bool:
    return isinstance(x, Dataset | DataLoader) and hasattr(getattr(x, "dataset", x), "__getitem__") and \
        hasattr(getattr(x, "dataset", x), "__len__")


@contextlib.contextmanager
def restored_metrics(metrics_of: Callable[[], list]) -> Iterator[None]:
    """Whatever happens to the metrics inside (a filler step), their states are put back afterwards: the
    accumulators (``_state``, also a compiled container's view of its children's) and ``add_variable`` state."""
    states, variables = [], []
    for metric in _every_metric(metrics_of()):
        state = getattr(metric, "_state", None)
        if isinstance(state, MutableMapping):
            states.append((state, {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}))
        variables += [(v, v.detach().clone()) for v in metric.__dict__.get("_variables", ())]
    try:
        yield
    finally:
        for state, values in states:
            state.update(values)
        with torch.no_grad():
            for variable, value in variables:
                variable.copy_(value)


def _every_metric(metrics: list) -> Iterator[Any]:
    for metric in metrics:
        yield metric
        children = getattr(metric, "metrics", None)
        if isinstance(children, list):
            yield from _every_metric(children)
