"""Fashion-MNIST from the Debian package (read there, cached in a temporary folder, never downloaded) and the
README's classifier, shared by the doctor's tests."""

from pathlib import Path

import numpy as np
import pytest

from lamina.data.datasets import fashion_mnist
from lamina.data.datasets._files import DatasetUnavailableError

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def fmnist(tmp_path_factory):
    """((x_train, y_train), (x_test, y_test)) as uint8 images (N, 28, 28, 1) and int labels: unscaled, so that
    tests can plant the 0-255 fault."""
    if not all((DEBIAN / f.name).is_file() for f in fashion_mnist.FILES):
        pytest.skip("apt-get install dataset-fashion-mnist")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAMINA_HOME", str(tmp_path_factory.mktemp("lamina_home")))
        patch.setenv("LAMINA_DEBIAN_DATASETS", str(DEBIAN.parent))
        try:
            (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
        except DatasetUnavailableError as error:
            pytest.skip(str(error))
    return (x_train.reshape(-1, 28, 28, 1), y_train.astype(np.int64)), (x_test.reshape(-1, 28, 28, 1),
                                                                        y_test.astype(np.int64))
