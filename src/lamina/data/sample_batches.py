"""``SampleBatches``: a ``PyDataset`` that reads samples one by one (files, windows of an array) and stacks them
into NumPy batches; the base of the datasets ``lamina.utils`` makes from directories and arrays.

>>> import numpy as np
>>> class Squares(SampleBatches):
...     def load(self, i):
...         return np.float32(i), np.float32(i * i)
>>> ds = Squares(5, batch_size=2)
>>> len(ds), [y.tolist() for _, y in (ds[i] for i in range(len(ds)))]
(3, [[0.0, 1.0], [4.0, 9.0], [16.0]])
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from lamina.data.py_dataset import PyDataset


class SampleBatches(PyDataset):
    """Batches of ``batch_size`` samples (the last one may be smaller; ``batch_size=None`` hands out single
    samples), each sample made by ``load(i)`` for ``i`` in ``range(num_samples)``, stacked leaf by leaf by
    ``collate``. The first pass reads the samples in index order; with ``shuffle=True`` every later pass reads
    them in a new order drawn from ``seed`` (as Keras's ``tf.data`` datasets reshuffle on each iteration)."""

    def __init__(self, num_samples: int, batch_size: int | None = 32, shuffle: bool = False,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"`batch_size` must be a positive integer or None (single samples); received "
                             f"{batch_size!r}.")
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self._indices = np.arange(int(num_samples))  # which samples this dataset holds (a split holds some)
        self._order = self._indices.copy()
        self._passes = 0

    @property
    def num_samples(self) -> int:
        return len(self._indices)

    def __len__(self) -> int:
        if self.batch_size is None:
            return self.num_samples
        return math.ceil(self.num_samples / self.batch_size)

    def __getitem__(self, index: int) -> Any:
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch index {index} out of range for a dataset of {len(self)} batches")
        index %= len(self)
        if self.batch_size is None:
            return self.load(int(self._order[index]))
        take = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        return self.collate([self.load(int(i)) for i in take])

    def load(self, i: int) -> Any:
        """Sample ``i``: an array, or a tuple ``(x, y)`` of them."""
        raise NotImplementedError(f"{type(self).__name__} must implement load(i), returning sample i.")

    def collate(self, samples: list[Any]) -> Any:
        """One batch from a list of samples: arrays stacked along a new first axis, tuples item by item,
        strings into a 1-D object array."""
        if isinstance(samples[0], tuple):
            return tuple(self.collate(list(column)) for column in zip(*samples, strict=True))
        if isinstance(samples[0], (str, bytes)):
            strings = np.empty(len(samples), dtype=object)
            strings[:] = samples
            return strings
        return np.stack(samples)

    def on_epoch_end(self) -> None:
        self._passes += 1
        if self.shuffle:
            seed = None if self.seed is None else (int(self.seed) + self._passes) % 2**32
            self._order = np.random.RandomState(seed).permutation(self._indices)

    def subset(self, positions: Any) -> SampleBatches:
        """A dataset of the same kind holding the samples at ``positions`` (of this dataset's current order),
        in that order, with the same batch size: how ``split_dataset`` splits one without reading it."""
        part = copy.copy(self)
        part._indices = self._order[np.asarray(positions, dtype="int64")]
        part._order = part._indices.copy()
        part._passes = 0
        return part

    def sample_at(self, position: int) -> Any:
        """The sample at ``position`` of the current order."""
        return self.load(int(self._order[position]))


class FileBatches(SampleBatches):
    """Samples read from files: ``read(path)`` makes one, paired with its label when there are labels.
    ``file_paths``, ``labels`` (encoded) and ``class_names`` are those of the samples this dataset holds, in
    its first-pass order (a split by ``split_dataset`` holds some of them)."""

    def __init__(self, paths: list[str], labels: np.ndarray | None, class_names: list[str] | None,
                 batch_size: int | None, shuffle: bool = False, seed: int | None = None):
        super().__init__(len(paths), batch_size=batch_size, shuffle=shuffle, seed=seed)
        self._paths = list(paths)
        self._labels = labels
        self.class_names = class_names

    @property
    def file_paths(self) -> list[str]:
        return [self._paths[i] for i in self._indices]

    @property
    def labels(self) -> np.ndarray | None:
        return None if self._labels is None else self._labels[self._indices]

    def read(self, path: str) -> Any:
        """The sample stored in the file ``path``."""
        raise NotImplementedError(f"{type(self).__name__} must implement read(path).")

    def load(self, i: int) -> Any:
        sample = self.read(self._paths[i])
        return sample if self._labels is None else (sample, self._labels[i])
