"""CIFAR-100: 50,000 training and 10,000 test colour images, 32x32, in 100 classes grouped into 20 superclasses.

Downloaded as Keras publishes it (the Toronto archive, checked against Keras's SHA-256) into
``$LAMINA_HOME/datasets/cifar-100-python-target`` (Keras's layout), extracted with the archive checks of
:mod:`lamina.data.archives`, and read with :mod:`lamina.data.safe_pickle` (never :mod:`pickle`).

>>> from lamina.datasets import cifar100
>>> (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode="coarse")  # doctest: +SKIP
>>> x_test.shape, int(y_test.max())  # doctest: +SKIP
((10000, 32, 32, 3), 19)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lamina.data.datasets._cifar import finish, read_batch
from lamina.data.datasets._files import Arrays, dataset_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
"""Where Keras downloads CIFAR-100 from."""

FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
"""The SHA-256 of the archive, as Keras publishes it."""

FOLDER = "cifar-100-python-target"
"""The cache entry: the archive is kept as ``<FOLDER>_archive`` and extracted to ``<FOLDER>/``."""


def load_data(label_mode: str = "fine", *, mirror: str | Sequence[str] | None = None) -> Arrays:
    """Load CIFAR-100 as ``(x_train, y_train), (x_test, y_test)`` NumPy arrays.

    Args:
        label_mode: ``"fine"`` for the 100 classes (0-99), ``"coarse"`` for the 20 superclasses (0-19).
        mirror: base URL(s) serving ``cifar-100-python.tar.gz``, instead of ``LAMINA_DATASETS_MIRROR`` or
            Toronto.

    Returns:
        uint8 images ``x_train`` (50000, 32, 32, 3) and ``x_test`` (10000, 32, 32, 3) ((n, 3, 32, 32) when
        ``image_data_format()`` is ``"channels_first"``), int64 labels ``y_train`` (50000, 1) and ``y_test``
        (10000, 1).

    Raises:
        ValueError: ``label_mode`` is neither ``"fine"`` nor ``"coarse"``.
        DatasetUnavailableError: the archive is neither cached nor downloadable.
        DatasetIntegrityError: the archive or a batch in it is not what it should be.

    >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
    >>> int(y_train.max())  # doctest: +SKIP
    99
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'label_mode must be "fine" or "coarse", got {label_mode!r}')
    folder = Path(dataset_file("CIFAR-100", FOLDER, ORIGIN, FILE_HASH, mirror, extract=True)) / "cifar-100-python"
    key = f"{label_mode}_labels"
    return finish([read_batch(folder / "train", key)], read_batch(folder / "test", key), "int64")
