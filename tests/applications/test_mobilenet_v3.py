"""MobileNetV3Small/Large against Keras 3 (the oracle): layer names, parameter counts and predictions through a
Keras weights file (the embedded Rescaling, hard-swish and squeeze-excite included); Keras's rules."""

import numpy as np
import pytest
from oracle import assert_matches_keras

keras = pytest.importorskip("keras")

from lamina.applications import mobilenet_v3  # noqa: E402


def test_small_matches_keras(tmp_path):
    assert_matches_keras(keras.applications.MobileNetV3Small, mobilenet_v3.MobileNetV3Small, (64, 64, 3), tmp_path,
                         classes=6, scale=255.0)


def test_large_matches_keras(tmp_path):
    assert_matches_keras(keras.applications.MobileNetV3Large, mobilenet_v3.MobileNetV3Large, (64, 64, 3), tmp_path,
                         classes=6, scale=255.0, file_format="weights.h5")


def test_minimalistic_headless_without_preprocessing(tmp_path):
    assert_matches_keras(keras.applications.MobileNetV3Small, mobilenet_v3.MobileNetV3Small, (None, None, 3),
                         tmp_path, minimalistic=True, alpha=0.75, include_top=False, pooling="avg",
                         include_preprocessing=False)


def test_imagenet_rules():
    with pytest.raises(ValueError, match="alpha"):
        mobilenet_v3.MobileNetV3Small(alpha=0.75, minimalistic=True)
    with pytest.raises(ValueError, match="32x32"):
        mobilenet_v3.MobileNetV3Large(weights=None, input_shape=(16, 16, 3))


def test_preprocess_input_is_the_identity():
    x = np.arange(6.0)
    assert mobilenet_v3.preprocess_input(x) is x


def test_imagenet_file_as_keras(monkeypatch):
    from imagenet_files import assert_same_weights_file

    name, _, file_hash = assert_same_weights_file(keras.applications.MobileNetV3Small, mobilenet_v3.MobileNetV3Small,
                                                  monkeypatch, alpha=0.75, input_shape=(224, 224, 3),
                                                  include_top=False)
    assert name == "weights_mobilenet_v3_small_224_0.75_float_no_top_v2.h5"
    assert file_hash == "ebdb5cc8e0b497cd13a7c275d475c819"
