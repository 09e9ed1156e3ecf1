"""Utilities: seeds and label encoding.

>>> to_categorical([0, 2], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lamina.core.random import set_random_seed
from lamina.data.adapters import pack_x_y_sample_weight, unpack_x_y_sample_weight
from lamina.data.py_dataset import PyDataset, Sequence  # noqa: F401  (re-exported: keras.utils names)

__all__ = ["pack_x_y_sample_weight", "set_random_seed", "to_categorical", "unpack_x_y_sample_weight"]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer class ids (last axis added), as ``keras.utils.to_categorical``."""
    labels = np.asarray(x)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.size and (labels.min() < 0 or not np.issubdtype(labels.dtype, np.integer)
                        and not np.all(labels == np.round(labels))):
        raise ValueError("to_categorical expects non-negative integer class ids.")
    labels = labels.astype(np.int64)
    n = int(num_classes) if num_classes is not None else int(labels.max()) + 1 if labels.size else 0
    if labels.size and labels.max() >= n:
        raise ValueError(f"to_categorical: class id {int(labels.max())} does not fit num_classes={n}.")
    return np.eye(n, dtype="float32")[labels]
