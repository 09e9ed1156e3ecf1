"""Keras-style access to lamina's datasets: ``from lamina.datasets import mnist, cifar10, imdb``.

The modules live in :mod:`lamina.data.datasets`; this shim re-exports them and also registers them as
``lamina.datasets.<name>`` so ``import lamina.datasets.cifar10`` works.

>>> from lamina.datasets import fashion_mnist
>>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
"""

import sys as _sys

from lamina.data.datasets import (
    DatasetIntegrityError,
    DatasetUnavailableError,
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)

_MODULES = (boston_housing, california_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters)
for _module in _MODULES:
    _sys.modules.setdefault(f"{__name__}.{_module.__name__.rsplit('.', 1)[-1]}", _module)

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
