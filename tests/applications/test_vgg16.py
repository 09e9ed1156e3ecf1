"""VGG16 against Keras 3: the full classifier (flatten, fc1, fc2) and the headless base."""

import numpy as np
import pytest
from oracle import assert_matches_keras

from lamina.applications import vgg16


@pytest.mark.parametrize("kwargs", [dict(include_top=False, pooling="max"), dict(include_top=True, classes=4)])
def test_matches_keras(keras, kwargs, tmp_path):
    assert_matches_keras(keras.applications.VGG16, vgg16.VGG16, (32, 32, 3), tmp_path, scale=255.0, atol=1e-3,
                         **kwargs)


def test_preprocess_input_as_keras(keras):
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 3, 3)).astype("float32")
    np.testing.assert_allclose(vgg16.preprocess_input(x.copy()),
                               keras.applications.vgg16.preprocess_input(x.copy()), rtol=1e-6)
