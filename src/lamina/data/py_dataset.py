"""``PyDataset`` (alias ``Sequence``): Keras's base class for data that hands out whole batches by index.

Subclass it, implement ``__len__`` (or the ``num_batches`` property) and ``__getitem__(index)`` returning
``(x, y)``, ``(x, y, sample_weight)`` or ``x``, and pass an instance to ``fit``/``evaluate``/``predict``.

>>> import numpy as np
>>> class Squares(PyDataset):
...     def __len__(self):
...         return 2
...     def __getitem__(self, i):
...         x = np.arange(3.0) + 3 * i
...         return x, x**2
>>> [y.tolist() for _, y in EpochBatches(Squares())]
[[0.0, 1.0, 4.0], [9.0, 16.0, 25.0]]

``workers > 1`` reads batches on that many threads, up to ``max_queue_size`` batches ahead, in order.
``use_multiprocessing=True`` is accepted for compatibility but also uses threads: batches are read in this
process (a ``__getitem__`` holding the GIL gains nothing from more workers).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch


class PyDataset:
    """Base class for batch-by-index data: override ``__getitem__`` and ``__len__`` (or ``num_batches``);
    ``on_epoch_begin``/``on_epoch_end`` run at the start/end of every pass over it."""

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index), returning one batch.")

    @property
    def num_batches(self) -> int | None:
        """How many batches one pass has: ``len(self)`` by default; ``None`` for endless data (then pass
        ``steps_per_epoch``)."""
        if hasattr(type(self), "__len__"):
            return len(self)  # type: ignore[arg-type]
        raise NotImplementedError(
            f"{type(self).__name__} must implement __len__ or the num_batches property (None for endless data).")

    def on_epoch_begin(self) -> None:
        """Called before each pass over the data."""

    def on_epoch_end(self) -> None:
        """Called after each pass over the data."""


Sequence = PyDataset


class EpochBatches:
    """A ``PyDataset`` as a re-iterable of batches: each iteration is one pass (``on_epoch_begin``, the batches in
    order or shuffled, ``on_epoch_end``), read on ``workers`` threads when there are several."""

    def __init__(self, dataset: PyDataset, shuffle: bool = False):
        self.dataset = dataset
        self.shuffle = shuffle

    def __len__(self) -> int:
        n = self.dataset.num_batches
        if n is None:
            raise TypeError("an endless PyDataset has no length")
        return int(n)

    def _indices(self) -> Iterator[int]:
        n = self.dataset.num_batches
        if n is None:
            return itertools.count()
        if self.shuffle:  # the global generator, so torch.manual_seed fixes the order
            return iter(torch.randperm(int(n)).tolist())
        return iter(range(int(n)))

    def __iter__(self) -> Iterator[Any]:
        ds = self.dataset
        ds.on_epoch_begin()
        endless = ds.num_batches is None
        workers = int(getattr(ds, "workers", 1) or 1)
        batches = self._threaded(workers) if workers > 1 else (ds[i] for i in self._indices())
        try:
            yield from batches
        except IndexError:
            if not endless:
                raise
            return  # an endless dataset that ran out after all
        ds.on_epoch_end()

    def _threaded(self, workers: int) -> Iterator[Any]:
        ds = self.dataset
        ahead = max(int(getattr(ds, "max_queue_size", 10) or 1), workers)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lamina-pydataset")
        pending: deque[Future] = deque()
        indices = self._indices()
        try:
            for i in itertools.islice(indices, ahead):
                pending.append(pool.submit(ds.__getitem__, i))
            while pending:
                batch = pending.popleft().result()
                nxt = next(indices, None)
                if nxt is not None:
                    pending.append(pool.submit(ds.__getitem__, nxt))
                yield batch
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
