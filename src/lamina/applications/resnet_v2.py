"""``keras.applications.resnet_v2``: ResNet50V2, ResNet101V2 and ResNet152V2 (pre-activation ResNets, He et
al., 2016) with Keras's layer names and published ImageNet weights.

Inputs are preprocessed with ``preprocess_input`` (``"tf"`` mode: pixels scaled to ``[-1, 1]``).

>>> ResNet50V2(weights=None, include_top=False, input_shape=(32, 32, 3)).output_shape
(None, 1, 1, 2048)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lamina.applications import imagenet_utils
from lamina.applications.resnet import ResNet, Tensor, stack_residual_blocks_v2
from lamina.models.model import Model

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "decode_predictions", "preprocess_input"]


def _v2(depths: tuple[int, int, int, int]) -> Callable[[Tensor], Tensor]:
    def stack_fn(x: Tensor) -> Tensor:
        x = stack_residual_blocks_v2(x, 64, depths[0], name="conv2")
        x = stack_residual_blocks_v2(x, 128, depths[1], name="conv3")
        x = stack_residual_blocks_v2(x, 256, depths[2], name="conv4")
        return stack_residual_blocks_v2(x, 512, depths[3], stride1=1, name="conv5")
    return stack_fn


def ResNet50V2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
               input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
               classifier_activation: Any = "softmax", name: str = "resnet50v2") -> Model:
    """ResNet50V2 as ``keras.applications.ResNet50V2`` (arguments as ``ResNet50``); preprocess inputs with
    ``lamina.applications.resnet_v2.preprocess_input``.

    >>> model = ResNet50V2(weights=None, classes=10, classifier_activation=None)  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 10)
    """
    return ResNet(_v2((3, 4, 6, 3)), True, True, include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name=name, weights_name="resnet50v2")


def ResNet101V2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str = "resnet101v2") -> Model:
    """ResNet101V2 as ``keras.applications.ResNet101V2`` (arguments as ``ResNet50``).

    >>> model = ResNet101V2(weights=None, include_top=False, input_shape=(32, 32, 3))  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 1, 1, 2048)
    """
    return ResNet(_v2((3, 4, 23, 3)), True, True, include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation, name=name, weights_name="resnet101v2")


def ResNet152V2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str = "resnet152v2") -> Model:
    """ResNet152V2 as ``keras.applications.ResNet152V2`` (arguments as ``ResNet50``).

    >>> model = ResNet152V2(weights=None, include_top=False, input_shape=(32, 32, 3))  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 1, 1, 2048)
    """
    return ResNet(_v2((3, 8, 36, 3)), True, True, include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation, name=name, weights_name="resnet152v2")


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """ResNetV2's preprocessing: pixels in ``[0, 255]`` scaled to ``[-1, 1]`` (``"tf"`` mode).

    >>> import numpy as np
    >>> preprocess_input(np.array([[0.0, 127.5, 255.0]]))
    array([[-1.,  0.,  1.]])
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The top ImageNet classes of each prediction (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
