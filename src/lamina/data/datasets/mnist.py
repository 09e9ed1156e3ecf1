"""The MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28 grey pixels, labels 0-9.

Files come from the cache (``$LAMINA_HOME/datasets/mnist``), else a download from :data:`MIRRORS` (or
``LAMINA_DATASETS_MIRROR``), checked against the upstream SHA-256 of each ``.gz`` file and its IDX header.

>>> from lamina.datasets import mnist
>>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
>>> x_train.shape, x_train.dtype  # doctest: +SKIP
((60000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from lamina.data.datasets._files import Arrays, DatasetSpec, IdxFile, load

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
"""Base URLs tried in order when a file is neither cached nor given by ``LAMINA_DATASETS_MIRROR``."""

FILES: tuple[IdxFile, IdxFile, IdxFile, IdxFile] = (
    IdxFile(
        "train-images-idx3-ubyte.gz",
        (60000, 28, 28),
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    IdxFile(
        "train-labels-idx1-ubyte.gz",
        (60000,),
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    IdxFile(
        "t10k-images-idx3-ubyte.gz",
        (10000, 28, 28),
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    IdxFile(
        "t10k-labels-idx1-ubyte.gz",
        (10000,),
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
)
"""Train images, train labels, test images, test labels, with their upstream ``.gz`` SHA-256."""


def load_data(
    path: str | os.PathLike[str] = "mnist.npz", *, mirror: str | Sequence[str] | None = None
) -> Arrays:
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)`` uint8 NumPy arrays.

    Args:
        path: the cache folder, relative to ``$LAMINA_HOME/datasets`` (a ``.npz`` suffix is dropped, so
            Keras's default ``"mnist.npz"`` means the folder ``mnist``).
        mirror: base URL(s) to download from instead of ``LAMINA_DATASETS_MIRROR`` or :data:`MIRRORS`.

    Returns:
        ``x_train`` (60000, 28, 28), ``y_train`` (60000,), ``x_test`` (10000, 28, 28), ``y_test`` (10000,).

    Raises:
        DatasetUnavailableError: no source could supply a file that passes its check.

    >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
    >>> y_test.shape  # doctest: +SKIP
    (10000,)
    """
    return load(DatasetSpec("MNIST", FILES, MIRRORS), path, mirror)
