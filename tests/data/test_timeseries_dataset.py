"""timeseries_dataset_from_array: windows, targets, strides, shuffling and bounds.

Keras's version needs TensorFlow (absent here), so windows are checked against the formula Keras documents
(window ``i`` is ``data[start + p_i : start + p_i + sequence_length * sampling_rate : sampling_rate]`` with target
``targets[start + p_i]``, ``p_i = i * sequence_stride``, shuffled with ``np.random.RandomState(seed)``) and
against the examples of Keras's documentation.
"""

from __future__ import annotations

import numpy as np
import pytest

import lamina
from lamina.utils import timeseries_dataset_from_array


def _all(ds):
    batches = [ds[i] for i in range(len(ds))]
    if isinstance(batches[0], tuple):
        return tuple(np.concatenate([b[k] for b in batches]) for k in range(len(batches[0])))
    return np.concatenate(batches)


def _reference(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, start=0, end=None, seed=None):
    end = len(data) if end is None else end
    n = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        n = min(n, len(targets))
    positions = np.arange(0, max(n, 0), sequence_stride)
    if seed is not None:
        np.random.RandomState(seed).shuffle(positions)
    windows = np.stack([data[start + p:start + p + sequence_length * sampling_rate:sampling_rate] for p in positions])
    return windows, (None if targets is None else targets[start + positions])


@pytest.mark.parametrize(("length", "stride", "rate", "start", "end"), [
    (10, 1, 1, None, None), (5, 3, 2, None, None), (4, 2, 3, 7, 60), (1, 1, 1, 0, 10), (7, 5, 1, 3, None)])
@pytest.mark.parametrize("batch_size", [1, 8, 128])
def test_windows_and_targets_follow_the_formula(length, stride, rate, start, end, batch_size):
    data = np.arange(200).reshape(100, 2).astype("float32")
    targets = np.arange(100) * 10
    ds = timeseries_dataset_from_array(data, targets, length, sequence_stride=stride, sampling_rate=rate,
                                       batch_size=batch_size, start_index=start, end_index=end)
    x, y = _all(ds)
    rx, ry = _reference(data, targets, length, stride, rate, start or 0, end)
    np.testing.assert_array_equal(x, rx)
    np.testing.assert_array_equal(y, ry)
    assert x.dtype == np.float32 and y.dtype == targets.dtype
    assert ds[0][0].shape == (min(batch_size, len(rx)), length, 2)


def test_keras_documentation_examples():
    # "Consider indices [0, 1, ... 98]. With sequence_length=10, sampling_rate=2, sequence_stride=3,
    # shuffle=False, the dataset will yield batches of sequences composed of: First sequence: [0 2 4 6 8 10 12 14
    # 16 18], Second sequence: [3 5 7 9 11 13 15 17 19 21], ..., Last sequence: [78 80 82 84 86 88 90 92 94 96]"
    ds = timeseries_dataset_from_array(np.arange(99), None, 10, sequence_stride=3, sampling_rate=2)
    x = _all(ds)
    assert x[0].tolist() == list(range(0, 20, 2)) and x[1].tolist() == list(range(3, 23, 2))
    assert x[-1].tolist() == list(range(78, 98, 2))
    # Example 2: targets are the value 10 steps after each window's start.
    data = np.arange(100)
    inputs, targets = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)[0]
    np.testing.assert_array_equal(inputs[0], data[:10])
    assert targets[0] == data[10]
    # Example 3: sequence to sequence, inputs and targets as two datasets of non-overlapping windows.
    X = np.arange(100)
    Y = X * 2
    inputs = _all(timeseries_dataset_from_array(X, None, sequence_length=20, sequence_stride=20))
    targets = _all(timeseries_dataset_from_array(Y, None, sequence_length=20, sequence_stride=20))
    np.testing.assert_array_equal(inputs[0], X[:20])
    np.testing.assert_array_equal(targets[0], Y[:20])
    assert len(inputs) == 5


def test_shuffle_uses_numpy_random_state_and_reshuffles_later_passes():
    data = np.arange(50)
    ds = timeseries_dataset_from_array(data, None, 5, batch_size=None, shuffle=True, seed=13)
    first = np.stack([ds[i] for i in range(len(ds))])
    np.testing.assert_array_equal(first, _reference(data, None, 5, seed=13)[0])
    ds.on_epoch_end()
    second = np.stack([ds[i] for i in range(len(ds))])
    assert not np.array_equal(first, second)
    assert sorted(map(tuple, first)) == sorted(map(tuple, second))


def test_batch_size_none_gives_single_windows():
    ds = timeseries_dataset_from_array(np.arange(6), np.arange(6), 3, batch_size=None)
    x, y = ds[0]
    assert x.shape == (3,) and y == 0 and len(ds) == 4


def test_too_short_data_gives_an_empty_dataset():
    assert len(timeseries_dataset_from_array(np.arange(3), None, 5)) == 0


def test_shorter_targets_limit_the_windows():
    x, y = _all(timeseries_dataset_from_array(np.arange(20), np.arange(4) * 10, 3))
    assert len(x) == 4 and y.tolist() == [0, 10, 20, 30]


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(sequence_stride=20), "lower than the length of the data"),
    (dict(sequence_stride=0), "sequence_stride"),
    (dict(sampling_rate=-1), "sampling_rate"),
    (dict(start_index=20), "start_index"),
    (dict(start_index=5, end_index=5), "end_index"),
    (dict(end_index=21), "end_index"),
])
def test_errors(kwargs, message):
    kwargs.setdefault("targets", None)
    with pytest.raises(ValueError, match=message):
        timeseries_dataset_from_array(np.arange(20), sequence_length=3, **kwargs)


def test_fit_on_windows():
    data = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    ds = timeseries_dataset_from_array(data[:-4], data[4:, 0], 4, batch_size=16, shuffle=True, seed=0)
    model = lamina.Sequential([lamina.Input((4, 3)), lamina.layers.Flatten(), lamina.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(ds, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
