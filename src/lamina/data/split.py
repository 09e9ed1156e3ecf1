"""``split_dataset``: one dataset into two, by sample count or fraction, as ``keras.utils.split_dataset``.

>>> import numpy as np
>>> left, right = split_dataset(np.arange(10), left_size=0.8)
>>> left.tolist(), right.tolist()
([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
>>> (x1, y1), (x2, y2) = split_dataset((np.zeros((5, 2)), np.arange(5)), right_size=2)
>>> x1.shape, y2.tolist()
((3, 2), [3, 4])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from lamina import tree
from lamina.data.adapters import DataError
from lamina.data.py_dataset import PyDataset
from lamina.data.sample_batches import SampleBatches


class InMemoryBatches(SampleBatches):
    """Samples held in memory (arrays, or a tuple of arrays, indexed along axis 0), handed out in batches."""

    def __init__(self, samples: Any, batch_size: int | None):
        self.samples = samples
        first = samples[0] if isinstance(samples, tuple) else samples
        super().__init__(len(first), batch_size=batch_size)

    def load(self, i: int) -> Any:
        if isinstance(self.samples, tuple):
            return tuple(part[i] for part in self.samples)
        return self.samples[i]


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, torch.Tensor))


def _size(name: str, value: Any, total: int) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Invalid `{name}` Type. Expected: int or float or None, Received: type({name})="
                        f"{type(value)}.")
    if isinstance(value, (int, np.integer)) and not 0 < value < total:
        raise ValueError(f"`{name}` should be either a positive integer smaller than {total}, or a float within "
                         f"the range `[0, 1]`. Received: {name}={value}")
    if isinstance(value, (float, np.floating)) and not 0 < value < 1:
        raise ValueError(f"`{name}` should be either a positive integer smaller than {total}, or a float within "
                         f"the range `[0, 1]`. Received: {name}={value}")
    return value


def split_sizes(total: int, left_size: Any, right_size: Any) -> tuple[int, int]:
    """``(left, right)`` sample counts: an int is a count, a float a fraction of ``total`` (rounded with Python's
    ``round``); the missing side is the rest. Both sides must hold samples and add up to ``total``."""
    left, right = _size("left_size", left_size, total), _size("right_size", right_size, total)
    if left is None and right is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. Received: "
                         "left_size=None and right_size=None")
    if isinstance(left, float) and isinstance(right, float) and left + right > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be less than or "
                         "equal to 1.")
    left_n = None if left is None else round(left * total) if isinstance(left, float) else int(left)
    right_n = None if right is None else round(right * total) if isinstance(right, float) else int(right)
    left_n = total - right_n if left_n is None else left_n
    right_n = total - left_n if right_n is None else right_n
    if left_n + right_n != total:
        raise ValueError(f"left_size and right_size give {left_n} + {right_n} samples, but the dataset has {total}: "
                         "give one of them (the other side gets the rest), or sizes that add up to the length.")
    for side, n in (("left", left_n), ("right", right_n)):
        if n == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left_n} and `right_size`={right_n}."
                             f"Resulting {side} side dataset split will be empty. Adjust any of the "
                             "aforementioned parameters")
    return left_n, right_n


def _order(total: int, shuffle: bool, seed: int | None) -> np.ndarray:
    """Sample positions: in order, or ``torch.randperm`` under a generator seeded with ``seed`` (the order Keras's
    torch backend gives for the same seed)."""
    if not shuffle:
        return np.arange(total)
    if seed is None:
        seed = int(np.random.randint(1e6))
    return torch.randperm(total, generator=torch.Generator().manual_seed(int(seed))).numpy()


def _take(x: Any, positions: np.ndarray) -> Any:
    if isinstance(x, torch.Tensor):
        return x[torch.as_tensor(positions, dtype=torch.long)]
    return x[positions]


def _unbatched(dataset: PyDataset) -> tuple[Any, int | None]:
    """Every sample of a ``PyDataset`` (its batches concatenated) and the size of its first batch."""
    batches = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]
    if not batches:
        raise ValueError("Cannot split an empty PyDataset.")
    first = batches[0]
    if isinstance(first, (tuple, list)):
        columns = tuple(np.concatenate([np.asarray(b[k]) for b in batches]) for k in range(len(first)))
        return columns, len(np.asarray(first[0]))
    return np.concatenate([np.asarray(b) for b in batches]), len(np.asarray(first))


def split_dataset(dataset: Any, left_size: int | float | None = None, right_size: int | float | None = None,
                  shuffle: bool = False, seed: int | None = None, preferred_backend: str | None = None) -> tuple:
    """Split ``dataset`` into ``(left, right)``, as ``keras.utils.split_dataset``.

    Args:
        dataset: a NumPy array or tensor (split along axis 0); a tuple or list of them, or a dict of them (each
            split alike); a list of samples; a ``torch.utils.data.Dataset`` (split into ``Subset``s, as Keras's
            torch backend does); or a lamina ``PyDataset`` such as ``image_dataset_from_directory`` returns
            (split sample by sample, each side batched like the input).
        left_size, right_size: an int is a number of samples, a float in ``(0, 1)`` a fraction of them; give one
            (the other side gets the rest) or both adding up to the length.
        shuffle, seed: shuffle the samples first, with ``torch.randperm`` seeded by ``seed`` (so a seed picks the
            same samples as Keras's torch backend). ``shuffle=False`` keeps the order (Keras 3.15's torch backend
            shuffles anyway).
        preferred_backend: accepted for Keras compatibility.

    Returns:
        ``(left, right)``, each of the input's kind: arrays, tuples/lists/dicts of arrays, lists, ``Subset``s or
        ``PyDataset``s. (Keras's torch backend returns ``Subset``s of tensors for arrays too.)
    """
    if isinstance(dataset, SampleBatches):
        left_n, _ = split_sizes(dataset.num_samples, left_size, right_size)
        order = _order(dataset.num_samples, shuffle, seed)
        return dataset.subset(order[:left_n]), dataset.subset(order[left_n:])
    if isinstance(dataset, PyDataset):
        samples, batch_size = _unbatched(dataset)
        return split_dataset(InMemoryBatches(samples, batch_size), left_size, right_size, shuffle, seed)
    if isinstance(dataset, Dataset):
        total = len(dataset)  # type: ignore[arg-type]
        left_n, _ = split_sizes(total, left_size, right_size)
        order = _order(total, shuffle, seed).tolist()
        return Subset(dataset, order[:left_n]), Subset(dataset, order[left_n:])
    if _is_array(dataset):
        parts, rebuild = [dataset], lambda p: p[0]
    elif isinstance(dataset, dict) and dataset and all(_is_array(v) for v in dataset.values()):
        keys = list(dataset)
        parts, rebuild = [dataset[k] for k in keys], lambda p: dict(zip(keys, p, strict=True))
    elif isinstance(dataset, (tuple, list)) and dataset and all(_is_array(v) for v in dataset):
        kind = type(dataset)
        parts, rebuild = list(dataset), lambda p: kind(p)
    elif isinstance(dataset, list):
        total = len(dataset)
        left_n, _ = split_sizes(total, left_size, right_size)
        order = _order(total, shuffle, seed)
        return [dataset[i] for i in order[:left_n]], [dataset[i] for i in order[left_n:]]
    else:
        raise TypeError(f"split_dataset takes an array, a tuple/list/dict of arrays, a list of samples, a torch "
                        f"Dataset or a lamina PyDataset; received {type(dataset).__name__}.")
    lengths = {len(p) for p in parts}
    if len(lengths) != 1:
        raise ValueError(f"The arrays of `dataset` have different lengths {sorted(lengths)}: they must hold one "
                         "entry per sample.")
    total = lengths.pop()
    left_n, _ = split_sizes(total, left_size, right_size)
    order = _order(total, shuffle, seed)
    return (rebuild([_take(p, order[:left_n]) for p in parts]),
            rebuild([_take(p, order[left_n:]) for p in parts]))


def split_arrays(x: Any, y: Any, sample_weight: Any, fraction: float) -> tuple[tuple, tuple]:
    """Keras's validation_split: the last ``fraction`` of the samples (before any shuffling) for validation."""
    if not 0 < fraction < 1:
        raise DataError(f"validation_split must be in (0, 1); received {fraction!r}.")
    leaves = tree.flatten(x)
    n = int(leaves[0].shape[0])
    cut = int(math.floor(n * (1 - fraction)))
    if cut == 0 or cut == n:
        raise DataError(
            f"validation_split={fraction} leaves {'no training' if cut == 0 else 'no validation'} samples out of {n}."
        )

    def part(a: slice) -> Any:
        return tuple(None if v is None else tree.map_structure(lambda t: t[a], v) for v in (x, y, sample_weight))

    return part(slice(0, cut)), part(slice(cut, n))
