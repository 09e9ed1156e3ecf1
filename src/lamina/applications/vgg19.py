"""``keras.applications.vgg19``: VGG19 with Keras's layer names and published ImageNet weights.

>>> VGG19(weights=None, include_top=False, input_shape=(32, 32, 3)).output_shape
(None, 1, 1, 512)
"""

from __future__ import annotations

from typing import Any

from lamina.applications.vgg16 import VGG, decode_predictions, preprocess_input
from lamina.models.model import Model

__all__ = ["VGG19", "decode_predictions", "preprocess_input"]


def VGG19(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
          input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
          classifier_activation: Any = "softmax", name: str = "vgg19") -> Model:
    """VGG19 as ``keras.applications.VGG19`` (arguments as ``VGG16``); preprocess inputs with
    ``lamina.applications.vgg19.preprocess_input`` (``"caffe"`` mode).

    >>> model = VGG19(weights=None, include_top=False, pooling="avg")  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 512)
    """
    return VGG((2, 2, 4, 4, 4), "vgg19", include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)
