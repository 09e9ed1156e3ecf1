"""The Boston Housing regression dataset: 506 samples of 13 features, targets in thousands of dollars.

It carries a feature (``B``) built on a racist assumption; prefer :mod:`california_housing` (``version="small"``
is its stand-in) except to discuss exactly that. The file is the ``boston_housing.npz`` Keras publishes,
checked against Keras's SHA-256, cached as ``$LAMINA_HOME/datasets/boston_housing.npz``, read with
``allow_pickle=False``.

>>> from lamina.datasets import boston_housing
>>> (x_train, y_train), (x_test, y_test) = boston_housing.load_data()  # doctest: +SKIP
>>> x_train.shape, x_test.shape  # doctest: +SKIP
((404, 13), (102, 13))
"""

from __future__ import annotations

from collections.abc import Sequence

from lamina.data.datasets._files import Arrays, dataset_file
from lamina.data.datasets._split import check_test_split, read_xy, shuffle_split

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"
"""Keras's URL and SHA-256."""


def load_data(
    path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113, *,
    mirror: str | Sequence[str] | None = None,
) -> Arrays:
    """Load Boston Housing as ``(x_train, y_train), (x_test, y_test)`` float64 NumPy arrays.

    Args:
        path: the file's name in ``$LAMINA_HOME/datasets``.
        test_split: the fraction for the test set, in ``[0, 1)``; training gets the first
            ``int(n * (1 - test_split))`` samples after the shuffle.
        seed: seeds the ``np.random.RandomState`` shuffle done before the split.
        mirror: base URL(s) serving the file, instead of ``LAMINA_DATASETS_MIRROR`` or Keras's bucket.

    >>> (x_train, y_train), (x_test, y_test) = load_data(test_split=0.1, seed=0)  # doctest: +SKIP
    """
    check_test_split(test_split)
    file = dataset_file("Boston Housing", path, ORIGIN, FILE_HASH, mirror)
    x, y = read_xy(file)
    return shuffle_split(x, y, test_split, seed)
