"""SampleBatches: batching by index, single samples, reshuffling, subsets, and what the batches are made of."""

from __future__ import annotations

import numpy as np
import pytest

from lamina.data.py_dataset import EpochBatches
from lamina.data.sample_batches import SampleBatches


class Numbers(SampleBatches):
    def load(self, i):
        return np.float32(i), f"n{i}"


def test_batches_by_index_with_a_smaller_last_one():
    ds = Numbers(7, batch_size=3)
    assert len(ds) == 3
    x, names = ds[2]
    assert x.tolist() == [6.0] and names.dtype == object and names.tolist() == ["n6"]
    assert ds[-1][0].tolist() == [6.0]
    with pytest.raises(IndexError):
        ds[3]


def test_batch_size_none_hands_out_single_samples():
    ds = Numbers(4, batch_size=None)
    assert len(ds) == 4 and ds[1] == (1.0, "n1")


@pytest.mark.parametrize("bad", [0, -2, 1.5, "8"])
def test_batch_size_must_be_positive(bad):
    with pytest.raises(ValueError, match="batch_size"):
        Numbers(4, batch_size=bad)


def test_reshuffles_after_each_pass_reproducibly():
    passes = []
    for _ in range(2):
        ds = Numbers(10, batch_size=10, shuffle=True, seed=3)
        orders = [[int(v) for v in batch[0]] for batch in EpochBatches(ds)]
        orders += [[int(v) for v in batch[0]] for batch in EpochBatches(ds)]
        passes.append(orders)
    assert passes[0] == passes[1]  # the seed fixes every pass
    first, second = passes[0]
    assert first == list(range(10)) and sorted(second) == first and second != first


def test_subset_keeps_the_kind_and_batch_size():
    ds = Numbers(10, batch_size=4)
    part = ds.subset([9, 0, 5])
    assert type(part) is Numbers and part.num_samples == 3 and len(part) == 1
    assert part[0][0].tolist() == [9.0, 0.0, 5.0] and ds.num_samples == 10
