"""``timeseries_dataset_from_array``: sliding windows over an array, in batches, as Keras's.

Keras returns a ``tf.data.Dataset``; lamina returns a ``TimeseriesDataset``: a ``PyDataset`` of NumPy batches
``(batch, sequence_length, ...)`` (with the targets of each window's first step when ``targets`` is given).

>>> import numpy as np
>>> ds = timeseries_dataset_from_array(np.arange(10), None, sequence_length=3, sequence_stride=3, batch_size=2)
>>> [batch.tolist() for batch in (ds[0], ds[1])]
[[[0, 1, 2], [3, 4, 5]], [[6, 7, 8]]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lamina.data.sample_batches import SampleBatches


class TimeseriesDataset(SampleBatches):
    """Windows ``data[start + p : start + p + sequence_length * sampling_rate : sampling_rate]`` for each start
    position ``p`` in ``start_positions`` (in that order on the first pass), each with ``targets[start + p]``."""

    def __init__(self, data: Any, targets: Any, start_positions: np.ndarray, start_index: int,
                 sequence_length: int, sampling_rate: int, batch_size: int | None, shuffle: bool,
                 seed: int | None):
        super().__init__(len(start_positions), batch_size=batch_size, shuffle=shuffle, seed=seed)
        self.data, self.targets = data, targets
        self.start_positions = start_positions
        self.start_index = start_index
        self.sequence_length, self.sampling_rate = sequence_length, sampling_rate

    def load(self, i: int) -> Any:
        first = self.start_index + int(self.start_positions[i])
        window = self.data[first:first + self.sequence_length * self.sampling_rate:self.sampling_rate]
        return window if self.targets is None else (window, self.targets[first])


def timeseries_dataset_from_array(
    data: Any,
    targets: Any,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
    format: str = "tf",
) -> TimeseriesDataset:
    """Sliding windows over ``data`` (time along the first axis), as ``keras.utils.timeseries_dataset_from_array``.

    Args:
        data: array-like, time steps along axis 0.
        targets: the target of each time step (the window starting at step ``i`` gets ``targets[i]``), or None.
            Targets shorter than ``data`` leave out the windows whose start has no target.
        sequence_length: time steps per window.
        sequence_stride: steps between the starts of consecutive windows.
        sampling_rate: take every ``sampling_rate``-th step inside a window.
        batch_size: windows per batch (the last may be smaller); None for single windows.
        shuffle, seed: shuffle the windows with ``np.random.RandomState(seed)`` (reshuffled on later passes).
        start_index, end_index: use only ``data[start_index:end_index]`` (default: all of it).
        format: accepted for Keras compatibility; lamina always returns its own dataset.

    Returns:
        A ``TimeseriesDataset``: a ``PyDataset`` of ``windows`` or ``(windows, targets)`` NumPy batches, windows
        of shape ``(batch, sequence_length, *data.shape[1:])`` in ``data``'s dtype.

    >>> data = np.arange(20)
    >>> x, y = timeseries_dataset_from_array(data[:-5], data[5:], sequence_length=5)[0]
    >>> x[0].tolist(), int(y[0])
    ([0, 1, 2, 3, 4], 5)
    """
    data = np.asarray(data)
    targets = None if targets is None else np.asarray(targets)
    for name, value in (("sequence_length", sequence_length), ("sequence_stride", sequence_stride),
                        ("sampling_rate", sampling_rate)):
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer; received {name}={value!r}.")
        if name != "sequence_length" and value >= len(data):
            raise ValueError(f"`{name}` must be lower than the length of the data. Received: {name}={value}, for "
                             f"data of length {len(data)}")
    if start_index is not None and (start_index < 0 or start_index >= len(data)):
        raise ValueError(f"`start_index` must be 0 or greater and strictly lower than the number of samples "
                         f"(len(data)={len(data)}); received start_index={start_index}.")
    start = 0 if start_index is None else int(start_index)
    if end_index is not None and (end_index <= start or end_index > len(data)):
        raise ValueError(f"`end_index` must be higher than `start_index` ({start}) and at most the number of "
                         f"samples (len(data)={len(data)}); received end_index={end_index}.")
    end = len(data) if end_index is None else int(end_index)
    num_windows = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:  # shorter targets: only the windows that have one
        num_windows = min(num_windows, len(targets) - start)
    positions = np.arange(0, max(num_windows, 0), sequence_stride)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(positions)
    return TimeseriesDataset(data, targets, positions, start, int(sequence_length), int(sampling_rate),
                             batch_size, shuffle, seed)
