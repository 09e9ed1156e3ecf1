"""Xception (separable convolutions: depthwise and pointwise kernels through Keras's files) against Keras 3."""

import numpy as np
from oracle import assert_matches_keras

from lamina.applications import xception


def test_matches_keras(keras, tmp_path):
    assert_matches_keras(keras.applications.Xception, xception.Xception, (71, 71, 3), tmp_path,
                         include_top=True, classes=3, rebuild=False)


def test_preprocess_input_as_keras(keras):
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 3, 3)).astype("float32")
    np.testing.assert_allclose(xception.preprocess_input(x.copy()),
                               keras.applications.xception.preprocess_input(x.copy()), rtol=1e-6)
