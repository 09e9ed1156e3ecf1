"""Fashion-MNIST: 60,000 training and 10,000 test images of clothing, 28x28 grey pixels, 10 classes.

Files come from the cache (``$LAMINA_HOME/datasets/fashion-mnist``), else the Debian package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``, root overridable with
``LAMINA_DEBIAN_DATASETS``), else a download from :data:`MIRRORS` (or ``LAMINA_DATASETS_MIRROR``). Each
file is checked against the upstream ``.gz`` SHA-256 or the SHA-256 of its decompressed content (Debian
recompresses the files), and its IDX header.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag,
9 Ankle boot.

>>> from lamina.datasets import fashion_mnist
>>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
>>> x_test.shape, y_test.dtype  # doctest: +SKIP
((10000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from lamina.data.datasets._files import Arrays, DatasetSpec, IdxFile, load

MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
"""Base URLs tried in order when a file is in neither the cache nor the Debian folder."""

DEBIAN_SUBDIR = "fashion-mnist"
DEBIAN_PACKAGE = "dataset-fashion-mnist"

FILES: tuple[IdxFile, IdxFile, IdxFile, IdxFile] = (
    IdxFile(
        "train-images-idx3-ubyte.gz",
        (60000, 28, 28),
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    IdxFile(
        "train-labels-idx1-ubyte.gz",
        (60000,),
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    IdxFile(
        "t10k-images-idx3-ubyte.gz",
        (10000, 28, 28),
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    IdxFile(
        "t10k-labels-idx1-ubyte.gz",
        (10000,),
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
)
"""Train images, train labels, test images, test labels: upstream ``.gz`` and decompressed SHA-256."""


def load_data(
    path: str | os.PathLike[str] = "fashion-mnist", *, mirror: str | Sequence[str] | None = None
) -> Arrays:
    """Load Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)`` uint8 NumPy arrays.

    Args:
        path: the cache folder, relative to ``$LAMINA_HOME/datasets`` (Keras's folder name by default).
        mirror: base URL(s) to download from instead of ``LAMINA_DATASETS_MIRROR`` or :data:`MIRRORS`.

    Returns:
        ``x_train`` (60000, 28, 28), ``y_train`` (60000,), ``x_test`` (10000, 28, 28), ``y_test`` (10000,).

    Raises:
        DatasetUnavailableError: no source could supply a file that passes its check.

    >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
    >>> int(y_train.max())  # doctest: +SKIP
    9
    """
    dataset = DatasetSpec("Fashion-MNIST", FILES, MIRRORS, DEBIAN_SUBDIR, DEBIAN_PACKAGE)
    return load(dataset, path, mirror)
