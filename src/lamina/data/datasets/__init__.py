"""Ready-made datasets, loaded as NumPy arrays the way ``keras.datasets`` loads them.

Environment variables:

- ``LAMINA_HOME``: cache root (default ``~/.lamina``); files go to ``$LAMINA_HOME/datasets/<name>/``.
- ``LAMINA_DEBIAN_DATASETS``: root of Debian's dataset packages (default ``/usr/share/datasets``).
- ``LAMINA_DATASETS_MIRROR``: base URL(s), space-separated, to download from instead of the defaults.

>>> from lamina.data.datasets import fashion_mnist, mnist
>>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
"""

from lamina.data.datasets import fashion_mnist, mnist
from lamina.data.datasets._files import DatasetIntegrityError, DatasetUnavailableError

__all__ = ["DatasetIntegrityError", "DatasetUnavailableError", "fashion_mnist", "mnist"]
