"""CIFAR-10: 50,000 training and 10,000 test colour images, 32x32, in 10 classes.

Downloaded as Keras publishes it (the Toronto archive, checked against Keras's SHA-256) into
``$LAMINA_HOME/datasets/cifar-10-batches-py-target`` (Keras's layout), extracted with the archive checks of
:mod:`lamina.data.archives`, and read with :mod:`lamina.data.safe_pickle` (never :mod:`pickle`).

Labels: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck.

>>> from lamina.datasets import cifar10
>>> (x_train, y_train), (x_test, y_test) = cifar10.load_data()  # doctest: +SKIP
>>> x_train.shape, y_train.shape, y_train.dtype  # doctest: +SKIP
((50000, 32, 32, 3), (50000, 1), dtype('uint8'))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lamina.data.datasets._cifar import finish, read_batch
from lamina.data.datasets._files import Arrays, dataset_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
"""Where Keras downloads CIFAR-10 from."""

FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
"""The SHA-256 of the archive, as Keras publishes it."""

FOLDER = "cifar-10-batches-py-target"
"""The cache entry: the archive is kept as ``<FOLDER>_archive`` and extracted to ``<FOLDER>/``."""


def load_data(*, mirror: str | Sequence[str] | None = None) -> Arrays:
    """Load CIFAR-10 as ``(x_train, y_train), (x_test, y_test)`` uint8 NumPy arrays.

    Args:
        mirror: base URL(s) serving ``cifar-10-python.tar.gz``, instead of ``LAMINA_DATASETS_MIRROR`` or Toronto.

    Returns:
        ``x_train`` (50000, 32, 32, 3), ``y_train`` (50000, 1), ``x_test`` (10000, 32, 32, 3), ``y_test``
        (10000, 1); images are (n, 3, 32, 32) when ``image_data_format()`` is ``"channels_first"``.

    Raises:
        DatasetUnavailableError: the archive is neither cached nor downloadable.
        DatasetIntegrityError: the archive or a batch in it is not what it should be.

    >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
    >>> int(y_test.max())  # doctest: +SKIP
    9
    """
    folder = Path(dataset_file("CIFAR-10", FOLDER, ORIGIN, FILE_HASH, mirror, extract=True)) / "cifar-10-batches-py"
    train = [read_batch(folder / f"data_batch_{i}", "labels") for i in range(1, 6)]
    return finish(train, read_batch(folder / "test_batch", "labels"), "uint8")
