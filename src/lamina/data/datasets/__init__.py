"""Ready-made datasets, loaded as NumPy arrays the way ``keras.datasets`` loads them.

Environment variables:

- ``LAMINA_HOME``: cache root (default ``~/.lamina``); files go to ``$LAMINA_HOME/datasets/``.
- ``LAMINA_DEBIAN_DATASETS``: root of Debian's dataset packages (default ``/usr/share/datasets``).
- ``LAMINA_DATASETS_MIRROR``: base URL(s), space-separated, to download from instead of the defaults.

Every file is checked against the hash Keras (or upstream) publishes; pickled content (CIFAR batches, the
sequence arrays of IMDB and Reuters) is read by :mod:`lamina.data.safe_pickle`, which runs no code.

>>> from lamina.data.datasets import cifar10, fashion_mnist, imdb, mnist
>>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
"""

from lamina.data.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)
from lamina.data.datasets._files import DatasetIntegrityError, DatasetUnavailableError

__all__ = [
    "DatasetIntegrityError",
    "DatasetUnavailableError",
    "boston_housing",
    "california_housing",
    "cifar10",
    "cifar100",
    "fashion_mnist",
    "imdb",
    "mnist",
    "reuters",
]
