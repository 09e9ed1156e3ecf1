"""Reading the CIFAR "python version" batch files without :mod:`pickle`.

Each batch file is a Python 2 pickle of a dict: ``data`` (a uint8 array, one 3072-byte row per image: 1024 red,
then 1024 green, then 1024 blue values, row-major), the labels (``labels`` for CIFAR-10, ``fine_labels`` and
``coarse_labels`` for CIFAR-100, lists of ints), plus names and filenames. ``pickle.load`` would run whatever
callables a tampered file names; :func:`lamina.data.safe_pickle.loads` builds only plain data and NumPy arrays,
which is all a batch holds.

>>> import numpy as np, pickle
>>> raw = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 5]}, protocol=2)
>>> x, y = parse_batch(raw, "labels", "example")
>>> x.shape, y.tolist()
((2, 3, 32, 32), [3, 5])
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lamina.core.config import image_data_format
from lamina.data.datasets._files import DatasetIntegrityError
from lamina.data.safe_pickle import UnsafePickleError, loads

PIXELS = 3 * 32 * 32
"""Bytes per CIFAR image: 3 channels of 32x32."""


def _key(key: object) -> object:
    return key.decode("utf-8") if isinstance(key, bytes) else key


def parse_batch(raw: bytes, label_key: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 3, 32, 32)`` uint8 and labels ``(n,)`` from the bytes of one batch file."""
    try:
        batch = loads(raw)
    except UnsafePickleError as exc:
        raise DatasetIntegrityError(f"CIFAR batch {where} is not plain data, refusing to load it: {exc}") from exc
    if not isinstance(batch, dict):
        raise DatasetIntegrityError(f"CIFAR batch {where} should hold a dict, got {type(batch).__name__}")
    batch = {_key(k): v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetIntegrityError(f"CIFAR batch {where}: 'data' should be uint8 of shape (n, {PIXELS}), got {got}")
    if not isinstance(labels, list) or len(labels) != len(data) or not all(type(v) is int for v in labels):
        raise DatasetIntegrityError(
            f"CIFAR batch {where}: {label_key!r} should be a list of {len(data)} ints (keys: {sorted(map(str, batch))})"
        )
    return data.reshape(len(data), 3, 32, 32), np.asarray(labels)


def read_batch(path: str | os.PathLike[str], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 3, 32, 32)`` uint8 and labels ``(n,)`` from the batch file at ``path``."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise DatasetIntegrityError(
            f"CIFAR batch {path} is missing from the extracted archive; delete its folder to extract it again"
        ) from exc
    return parse_batch(raw, label_key, str(path))


def finish(
    train: list[tuple[np.ndarray, np.ndarray]], test: tuple[np.ndarray, np.ndarray], label_dtype: str
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Stack the training batches, make labels ``(n, 1)`` and images channels-last unless configured otherwise."""
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train]).astype(label_dtype).reshape(-1, 1)
    x_test, y_test = test[0], test[1].astype(label_dtype).reshape(-1, 1)
    if image_data_format() == "channels_last":
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test, y_test)
