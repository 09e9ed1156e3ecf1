"""The California Housing regression dataset: 20,640 census block groups, 8 features, values in dollars.

Features: MedInc, HouseAge, AveRooms, AveBedrms, Population, AveOccup, Latitude, Longitude. The file is the
``california_housing.npz`` Keras publishes, checked against Keras's SHA-256, cached as
``$LAMINA_HOME/datasets/california_housing.npz``, read with ``allow_pickle=False``.

>>> from lamina.datasets import california_housing
>>> (x_train, y_train), (x_test, y_test) = california_housing.load_data(version="small")  # doctest: +SKIP
>>> x_train.shape, x_test.shape  # doctest: +SKIP
((480, 8), (120, 8))
"""

from __future__ import annotations

from collections.abc import Sequence

from lamina.data.datasets._files import Arrays, dataset_file
from lamina.data.datasets._split import check_test_split, read_xy, shuffle_split

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/california_housing.npz"
FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"
"""Keras's URL and SHA-256."""

SMALL_SIZE = 600
"""How many samples (the first ones in the file) ``version="small"`` keeps."""


def load_data(
    version: str = "large", path: str = "california_housing.npz", test_split: float = 0.2, seed: int = 113, *,
    mirror: str | Sequence[str] | None = None,
) -> Arrays:
    """Load California Housing as ``(x_train, y_train), (x_test, y_test)`` NumPy arrays.

    Args:
        version: ``"large"`` for all 20,640 samples, ``"small"`` for the first 600 (a stand-in for Boston).
        path: the file's name in ``$LAMINA_HOME/datasets``.
        test_split: the fraction for the test set, in ``[0, 1)``; training gets the first
            ``int(n * (1 - test_split))`` samples after the shuffle.
        seed: seeds the ``np.random.RandomState`` shuffle done before the split.
        mirror: base URL(s) serving the file, instead of ``LAMINA_DATASETS_MIRROR`` or Keras's bucket.

    >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
    >>> x_train.shape  # doctest: +SKIP
    (16512, 8)
    """
    check_test_split(test_split)
    if version not in ("small", "large"):
        raise ValueError(f'version must be "small" or "large", got {version!r}')
    file = dataset_file("California Housing", path, ORIGIN, FILE_HASH, mirror)
    x, y = read_xy(file)
    if version == "small":
        x, y = x[:SMALL_SIZE], y[:SMALL_SIZE]
    return shuffle_split(x, y, test_split, seed)
