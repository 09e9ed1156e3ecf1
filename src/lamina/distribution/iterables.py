"""Generators, ``PyDataset``s and other iterables under a distribution: each process trains on the batches its
own iterable yields, and the processes agree at every training step.

Before each step the processes exchange two numbers (one small ``all_gather``): whether each still has a batch,
and how many rows it has. From them:

- **The epoch ends together.** With ``uneven_batches="pad"`` (the default) it goes on while any process has a
  batch; a process that ran out takes part with a copy of its last batch, a zero gradient weight and its metrics
  restored afterwards, so every batch of every process is used once. With ``"drop"`` it ends as soon as one
  process runs out (the others' extra batch is not trained on).
- **Each process's gradient is weighted by its share of the global batch** (``rows * world_size / total``), so
  DDP's average is the gradient of the mean loss over the concatenated batch even when the local batches differ
  in size. Metrics are sums over samples, so the epoch's summed states are exact too.

Evaluation needs no agreement (nothing is exchanged per step): each process evaluates all its batches and the
states are summed at the end. The exchange is one host sync per training step, the price of data that each
process reads on its own; arrays and map-style datasets are split without it (``sharding.py``).

>>> shares([[1, 150, 0], [1, 50, 0]], rank=1)  # rank 1 has 50 of the step's 200 rows, in a job of 2
(True, 50, 200)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from lamina.data.adapters import Batch, DataError
from lamina.distribution import reduce
from lamina.distribution.launch import DistributedError
from lamina.training.step import batch_size_of

UNEVEN_BATCHES = ("pad", "drop")


def shares(table: list[list[int]], rank: int) -> tuple[bool, int, int]:
    """``(any process has a batch, this process's rows, all rows)`` from the exchanged ``[has, rows, exhausted]``."""
    return any(row[0] for row in table), table[rank][1], sum(row[1] for row in table)


class AgreedBatches:
    """An iterable adapter (``IterableAdapter``) whose training epochs the processes run step by step together.

    Everything but ``epoch`` and ``exhausted`` is the wrapped adapter's (batch counts, positions, first batch).
    """

    def __init__(self, inner: Any, *, rank: int, device: torch.device, uneven_batches: str,
                 on_batch: Callable[[int, int], None], filler_guard: Callable[[], Any]):
        self.inner = inner
        self.rank, self.device, self.uneven_batches = rank, device, uneven_batches
        self._on_batch, self._filler_guard = on_batch, filler_guard
        self._exhausted = False
        self._stand_in: Batch | None = None  # the last batch this process had (a zero-weight filler)
        self._epochs = 0  # training epochs begun: the processes must agree on it at every step

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["inner"], name)

    @property
    def exhausted(self) -> bool:
        """Whether some process's one-shot generator ran out (then every process stops after this epoch)."""
        return self._exhausted

    def epoch(self) -> Iterator[Batch]:
        batches = self.inner.epoch()
        self._epochs += 1
        step = 0
        while True:
            batch = next(batches, None)
            mine = batch is not None
            table = reduce.gather_ints(
                [int(mine), batch_size_of(batch[0]) if mine else 0, int(bool(getattr(self.inner, "exhausted", 0))),
                 self._epochs, step + 1],
                self.device, f"agreeing on training step {step + 1} (whether each process has a batch, and its rows)")
            if any(row[3:] != table[0][3:] for row in table):
                where = ", ".join(f"rank {r}: epoch {row[3]} step {row[4]}" for r, row in enumerate(table))
                raise DistributedError(
                    f"The processes disagree on where training stands ({where}): they ran different numbers of "
                    "fit calls, epochs or steps. Every process must run the same fit calls with the same epochs "
                    "and steps_per_epoch.")
            anyone, rows, total = shares(table, self.rank)
            if not anyone or (self.uneven_batches == "drop" and not all(row[0] for row in table)):
                self._exhausted = any(row[2] for row in table)
                if mine:  # "drop": this process's extra batch and the rest of its pass are not trained on
                    batches.close()
                    self.inner.end_pass()
                return
            step += 1
            if mine:
                self._stand_in = batch
                self._on_batch(rows, total)
                yield batch
                continue
            if self._stand_in is None:
                self._stand_in = self._first_or_fail(table)
            self._on_batch(0, total)
            with self._filler_guard():
                yield self._stand_in

    def _first_or_fail(self, table: list[list[int]]) -> Batch:
        try:
            return self.inner.first_batch()
        except (DataError, StopIteration):
            counts = ", ".join(f"rank {r}: {'a batch' if row[0] else 'none'}" for r, row in enumerate(table))
            raise DataError(
                f"Process rank {self.rank}'s data yielded no batch at all while other processes had some ({counts}). "
                "With uneven_batches='pad' a process that runs out repeats its last batch with zero weight, so it "
                "needs at least one; give every process data, or use DataParallel(uneven_batches='drop')."
            ) from None
