"""VGG19 against Keras 3."""

import numpy as np
from oracle import assert_matches_keras

from lamina.applications import vgg19


def test_matches_keras(keras, tmp_path):
    assert_matches_keras(keras.applications.VGG19, vgg19.VGG19, (32, 32, 3), tmp_path, include_top=False,
                         pooling="avg")


def test_preprocess_input_as_keras(keras):
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 3, 3)).astype("float32")
    np.testing.assert_allclose(vgg19.preprocess_input(x.copy()),
                               keras.applications.vgg19.preprocess_input(x.copy()), rtol=1e-6)
