"""What the housing datasets share: reading ``x`` and ``y`` from the ``.npz``, the seeded shuffle and split.

>>> import numpy as np
>>> (x_train, y_train), (x_test, y_test) = shuffle_split(np.arange(10), np.arange(10), 0.2, 113)
>>> len(x_train), len(x_test)
(8, 2)
"""

from __future__ import annotations

import os

import numpy as np

from lamina.data.datasets._files import DatasetIntegrityError


def check_test_split(test_split: float) -> None:
    """Raise unless ``0 <= test_split < 1``."""
    if not 0 <= test_split < 1:
        raise ValueError(f"test_split={test_split} must be at least 0 and below 1 (a fraction of the samples)")


def shuffle_split(
    x: np.ndarray, y: np.ndarray, test_split: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Shuffle ``x`` and ``y`` together with ``np.random.RandomState(seed)``; the first
    ``int(n * (1 - test_split))`` samples train, the rest test."""
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def read_xy(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """The arrays ``x`` and ``y`` of the ``.npz`` at ``path``, read with ``allow_pickle=False``."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return arrays["x"], arrays["y"]
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetIntegrityError(
            f"{path} is not a housing .npz with arrays x and y ({exc}); delete it to download it again"
        ) from exc
