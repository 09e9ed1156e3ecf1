"""ResNet50V2/101V2/152V2 against Keras 3 (Keras 3 ``.weights.h5`` for one, legacy ``.h5`` for the others)."""

import numpy as np
import pytest
from oracle import assert_matches_keras

from lamina.applications import resnet_v2


@pytest.mark.parametrize(("fn", "file_format", "kwargs"), [
    ("ResNet50V2", "weights.h5", dict(include_top=True, classes=5, classifier_activation=None)),
    ("ResNet101V2", "h5", dict(include_top=False, rebuild=False)),
    ("ResNet152V2", "h5", dict(include_top=False, pooling="avg", rebuild=False)),
])
def test_matches_keras(keras, fn, file_format, kwargs, tmp_path):
    assert_matches_keras(getattr(keras.applications, fn), getattr(resnet_v2, fn), (32, 32, 3), tmp_path,
                         file_format=file_format, **kwargs)


def test_preprocess_input_as_keras(keras):
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 3, 3)).astype("float32")
    np.testing.assert_allclose(resnet_v2.preprocess_input(x.copy()),
                               keras.applications.resnet_v2.preprocess_input(x.copy()), rtol=1e-6)
