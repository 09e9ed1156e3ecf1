"""InceptionV3 against Keras 3 (its automatic layer names conv2d_N / batch_normalization_N included)."""

import numpy as np
from oracle import assert_matches_keras

from lamina.applications import inception_v3


def test_matches_keras(keras, tmp_path):
    assert_matches_keras(keras.applications.InceptionV3, inception_v3.InceptionV3, (75, 75, 3), tmp_path,
                         include_top=False, pooling="avg", rebuild=False)


def test_preprocess_input_as_keras(keras):
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 3, 3)).astype("float32")
    np.testing.assert_allclose(inception_v3.preprocess_input(x.copy()),
                               keras.applications.inception_v3.preprocess_input(x.copy()), rtol=1e-6)
