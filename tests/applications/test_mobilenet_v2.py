"""MobileNetV2 against Keras 3 (the oracle): layer names, parameter counts and predictions through a Keras weights
file; Keras's rules for ImageNet weights; preprocessing."""

import numpy as np
import pytest
from oracle import assert_matches_keras

keras = pytest.importorskip("keras")

from lamina.applications import mobilenet_v2  # noqa: E402


def test_mobilenet_v2_matches_keras(tmp_path):
    assert_matches_keras(keras.applications.MobileNetV2, mobilenet_v2.MobileNetV2, (64, 64, 3), tmp_path, classes=5)


def test_mobilenet_v2_wide_headless(tmp_path):
    # alpha > 1 widens the last convolution too; odd sizes exercise correct_pad
    assert_matches_keras(keras.applications.MobileNetV2, mobilenet_v2.MobileNetV2, (45, 51, 3), tmp_path, alpha=1.3,
                         include_top=False, pooling="avg", file_format="weights.h5")


def test_imagenet_rules():
    with pytest.raises(ValueError, match="alpha"):
        mobilenet_v2.MobileNetV2(alpha=0.6)
    with pytest.raises(ValueError, match="classes"):
        mobilenet_v2.MobileNetV2(classes=10)


def test_preprocess_input_is_keras_tf_mode():
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(mobilenet_v2.preprocess_input(x.copy()),
                               keras.applications.mobilenet_v2.preprocess_input(x.copy()), atol=1e-6)


def test_imagenet_file_as_keras(monkeypatch):
    from imagenet_files import assert_same_weights_file

    name, _, _ = assert_same_weights_file(keras.applications.MobileNetV2, mobilenet_v2.MobileNetV2, monkeypatch,
                                          alpha=0.35, input_shape=(96, 96, 3), include_top=False)
    assert name == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
