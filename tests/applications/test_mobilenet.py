"""MobileNet against Keras 3 (the oracle): layer names, parameter counts and predictions through a Keras weights
file; Keras's rules for ImageNet weights; preprocessing."""

import numpy as np
import pytest
from oracle import assert_matches_keras

keras = pytest.importorskip("keras")

from lamina.applications import mobilenet  # noqa: E402


def test_mobilenet_matches_keras(tmp_path):
    assert_matches_keras(keras.applications.MobileNet, mobilenet.MobileNet, (64, 64, 3), tmp_path, classes=7)


def test_mobilenet_alpha_depth_multiplier_headless(tmp_path):
    assert_matches_keras(keras.applications.MobileNet, mobilenet.MobileNet, (48, 40, 3), tmp_path, alpha=0.5,
                         depth_multiplier=2, include_top=False, pooling="max", file_format="weights.h5")


def test_imagenet_rules():
    with pytest.raises(ValueError, match="depth_multiplier"):
        mobilenet.MobileNet(depth_multiplier=2)
    with pytest.raises(ValueError, match="alpha"):
        mobilenet.MobileNet(alpha=0.3)
    with pytest.raises(ValueError, match="classes"):
        mobilenet.MobileNet(classes=10)
    with pytest.raises(ValueError, match="weights"):
        mobilenet.MobileNet(weights="no/such/file.h5")


def test_preprocess_input_is_keras_tf_mode():
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(mobilenet.preprocess_input(x.copy()),
                               keras.applications.mobilenet.preprocess_input(x.copy()), atol=1e-6)


def test_imagenet_file_as_keras(monkeypatch):
    from imagenet_files import assert_same_weights_file

    name, origin, _ = assert_same_weights_file(keras.applications.MobileNet, mobilenet.MobileNet, monkeypatch,
                                               alpha=0.25, input_shape=(128, 128, 3), include_top=False)
    assert name == "mobilenet_2_5_128_tf_no_top.h5" and origin.endswith("/mobilenet/" + name)
