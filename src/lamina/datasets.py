"""Keras-style access to lamina's datasets: ``from lamina.datasets import mnist``.

The modules live in :mod:`lamina.data.datasets`; this shim re-exports them and also registers them as
``lamina.datasets.mnist`` / ``lamina.datasets.fashion_mnist`` so ``import lamina.datasets.mnist`` works.

>>> from lamina.datasets import fashion_mnist
>>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
"""

import sys

from lamina.data.datasets import DatasetIntegrityError, DatasetUnavailableError, fashion_mnist, mnist

for _module in (fashion_mnist, mnist):
    sys.modules.setdefault(f"{__name__}.{_module.__name__.rsplit('.', 1)[-1]}", _module)

__all__ = ["DatasetIntegrityError", "DatasetUnavailableError", "fashion_mnist", "mnist"]
