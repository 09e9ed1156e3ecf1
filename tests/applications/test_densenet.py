"""DenseNet121/169/201 against Keras 3, and DenseNet's channels-last rule."""

import numpy as np
import pytest
from oracle import assert_matches_keras

import lamina
from lamina.applications import densenet


@pytest.mark.parametrize(("fn", "kwargs"), [
    ("DenseNet121", dict(include_top=True, classes=6)),
    ("DenseNet169", dict(include_top=False, pooling="max", rebuild=False)),
    ("DenseNet201", dict(include_top=False, rebuild=False)),
])
def test_matches_keras(keras, fn, kwargs, tmp_path):
    assert_matches_keras(getattr(keras.applications, fn), getattr(densenet, fn), (32, 32, 3), tmp_path, **kwargs)


def test_channels_first_is_refused():
    lamina.config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="channels_first"):
            densenet.DenseNet121(weights=None)
    finally:
        lamina.config.set_image_data_format("channels_last")


def test_preprocess_input_as_keras(keras):
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 3, 3)).astype("float32")
    np.testing.assert_allclose(densenet.preprocess_input(x.copy()),
                               keras.applications.densenet.preprocess_input(x.copy()), rtol=1e-6)
