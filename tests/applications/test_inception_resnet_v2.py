"""InceptionResNetV2 against Keras 3, and its CustomScaleLayer."""

import numpy as np
import torch
from oracle import assert_matches_keras

import lamina
from lamina.applications import inception_resnet_v2


def test_matches_keras(keras, tmp_path):
    assert_matches_keras(keras.applications.InceptionResNetV2, inception_resnet_v2.InceptionResNetV2, (75, 75, 3),
                         tmp_path, include_top=False, rebuild=False)


def test_custom_scale_layer():
    layer = inception_resnet_v2.CustomScaleLayer(0.17, name="scale")
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    torch.testing.assert_close(layer([a, b]), a + 0.17 * b)
    again = lamina.utils.deserialize_keras_object(lamina.utils.serialize_keras_object(layer))
    assert isinstance(again, inception_resnet_v2.CustomScaleLayer) and again.scale == 0.17


def test_preprocess_input_as_keras(keras):
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 3, 3)).astype("float32")
    np.testing.assert_allclose(inception_resnet_v2.preprocess_input(x.copy()),
                               keras.applications.inception_resnet_v2.preprocess_input(x.copy()), rtol=1e-6)
