"""lamina/data/prefetch.py and the prefetching IterableAdapter: same batches in the same order, errors surface in
the training thread, an early stop ends the reader thread, and resume positions count trained batches only."""

import threading
import time

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lamina.data.adapters import IterableAdapter
from lamina.data.prefetch import prefetch


def test_order_and_completeness():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_reads_ahead_while_the_consumer_works():
    produced = []

    def source():
        for i in range(4):
            produced.append(i)
            yield i

    it = prefetch(source(), depth=2)
    assert next(it) == 0
    time.sleep(0.2)
    assert produced == [0, 1, 2, 3]  # items 1..3 read while the consumer held item 0 (1 handed out + 2 queued)
    assert list(it) == [1, 2, 3]


def test_errors_surface_in_the_consumer():
    def source():
        yield 1
        raise KeyError("broken sample 7")

    it = prefetch(source(), depth=2)
    assert next(it) == 1
    with pytest.raises(KeyError, match="broken sample 7"):
        next(it)


def test_an_early_stop_ends_the_thread():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    before = threading.active_count()
    it = prefetch(endless(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before


def test_depth_is_checked():
    with pytest.raises(ValueError, match="prefetch depth must be >= 1"):
        next(prefetch(iter([1]), depth=0))


def loader():
    data = TensorDataset(torch.arange(40, dtype=torch.float32).reshape(20, 2), torch.arange(20))
    return DataLoader(data, batch_size=3, shuffle=True)


def test_prefetching_adapter_gives_the_same_batches_and_positions():
    torch.manual_seed(0)
    plain = [b[1].tolist() for b in IterableAdapter(loader(), prefetch_depth=0).epoch()]
    torch.manual_seed(0)
    adapter = IterableAdapter(loader(), prefetch_depth=2)
    seen = []
    for i, batch in enumerate(adapter.epoch()):
        seen.append(batch[1].tolist())
        if i == 2:
            time.sleep(0.1)  # the reader is ahead now
            assert adapter.position(3)["drawn"] == 3
    assert seen == plain
    assert len(seen) == 7
