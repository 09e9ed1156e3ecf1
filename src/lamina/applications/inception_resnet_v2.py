"""``keras.applications.inception_resnet_v2``: Inception-ResNet-v2 (Szegedy et al., 2016) with Keras's layer
names and published ImageNet weights.

Inputs are preprocessed with ``preprocess_input`` (``"tf"`` mode: pixels scaled to ``[-1, 1]``); the default
input is 299x299, the smallest 75x75.

>>> InceptionResNetV2(weights=None, include_top=False, input_shape=(75, 75, 3)).output_shape
(None, 1, 1, 1536)
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.applications import imagenet_utils
from lamina.applications.weights import load_application_weights
from lamina.core import config
from lamina.core.serialization import register_serializable
from lamina.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    MaxPooling2D,
)
from lamina.layers.layer import Layer
from lamina.layers.symbolic import SymbolicTensor
from lamina.models.model import Model

__all__ = ["InceptionResNetV2", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/inception_resnet_v2/"
WEIGHTS_HASHES = ("e693bd0210a403b3192acc6073ad2e96", "d19885ff4a710c122648d3b5c3b684e4")  # md5: top, no top


@register_serializable(package="lamina.applications")
class CustomScaleLayer(Layer):
    """``inputs[0] + inputs[1] * scale``: the scaled residual of an Inception-ResNet block (Keras's layer of the
    same name).

    >>> CustomScaleLayer(0.5)([torch.ones(2), torch.ones(2)])
    tensor([1.5000, 1.5000])
    """

    def __init__(self, scale: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.scale = scale

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}

    def call(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return inputs[0] + inputs[1] * self.scale


def conv2d_bn(x: SymbolicTensor, filters: int, kernel_size: int | list[int], strides: int = 1,
              padding: str = "same", activation: str | None = "relu", use_bias: bool = False,
              name: str | None = None) -> SymbolicTensor:
    """Convolution, then (without a bias) BatchNormalization without scale, then ``activation``; ``name``
    names ``<name>``, ``<name>_bn``, ``<name>_ac`` (otherwise automatic names, as in Keras)."""
    x = Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=name)(x)
    if not use_bias:
        bn_axis = 1 if config.image_data_format() == "channels_first" else 3
        x = BatchNormalization(axis=bn_axis, scale=False, name=None if name is None else f"{name}_bn")(x)
    if activation is not None:
        x = Activation(activation, name=None if name is None else f"{name}_ac")(x)
    return x


def inception_resnet_block(x: SymbolicTensor, scale: float, block_type: str, block_idx: int,
                           activation: str | None = "relu") -> SymbolicTensor:
    """An Inception-ResNet block (``"block35"``, ``"block17"`` or ``"block8"``): parallel branches,
    concatenated, projected back by a 1x1 convolution and added to ``x`` scaled by ``scale``."""
    if block_type == "block35":
        branches = [conv2d_bn(x, 32, 1),
                    conv2d_bn(conv2d_bn(x, 32, 1), 32, 3),
                    conv2d_bn(conv2d_bn(conv2d_bn(x, 32, 1), 48, 3), 64, 3)]
    elif block_type == "block17":
        branches = [conv2d_bn(x, 192, 1),
                    conv2d_bn(conv2d_bn(conv2d_bn(x, 128, 1), 160, [1, 7]), 192, [7, 1])]
    elif block_type == "block8":
        branches = [conv2d_bn(x, 192, 1),
                    conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1), 224, [1, 3]), 256, [3, 1])]
    else:
        raise ValueError('Unknown Inception-ResNet block type. Expects "block35", "block17" or "block8", '
                         f"but got: {block_type}")
    block_name = f"{block_type}_{block_idx}"
    axis = 1 if config.image_data_format() == "channels_first" else 3
    mixed = Concatenate(axis=axis, name=f"{block_name}_mixed")(branches)
    up = conv2d_bn(mixed, x.shape[axis], 1, activation=None, use_bias=True, name=f"{block_name}_conv")
    x = CustomScaleLayer(scale)([x, up])
    if activation is not None:
        x = Activation(activation, name=f"{block_name}_ac")(x)
    return x


def InceptionResNetV2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                      input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
                      classifier_activation: Any = "softmax", name: str = "inception_resnet_v2") -> Model:
    """InceptionResNetV2 as ``keras.applications.InceptionResNetV2``: ``weights`` is ``None``, ``"imagenet"``
    or a weights file. Preprocess inputs with ``lamina.applications.inception_resnet_v2.preprocess_input``.

    >>> model = InceptionResNetV2(weights=None, include_top=False, pooling="avg")  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 1536)
    """
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=299, min_size=75,
                                                    data_format=config.image_data_format(),
                                                    require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    axis = 1 if config.image_data_format() == "channels_first" else 3

    x = conv2d_bn(img_input, 32, 3, strides=2, padding="valid")  # stem
    x = conv2d_bn(x, 32, 3, padding="valid")
    x = conv2d_bn(x, 64, 3)
    x = MaxPooling2D(3, strides=2)(x)
    x = conv2d_bn(x, 80, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, padding="valid")
    x = MaxPooling2D(3, strides=2)(x)

    branches = [conv2d_bn(x, 96, 1),  # mixed 5b (Inception-A block)
                conv2d_bn(conv2d_bn(x, 48, 1), 64, 5),
                conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1), 96, 3), 96, 3),
                conv2d_bn(AveragePooling2D(3, strides=1, padding="same")(x), 64, 1)]
    x = Concatenate(axis=axis, name="mixed_5b")(branches)
    for block_idx in range(1, 11):
        x = inception_resnet_block(x, scale=0.17, block_type="block35", block_idx=block_idx)

    branches = [conv2d_bn(x, 384, 3, strides=2, padding="valid"),  # mixed 6a (Reduction-A block)
                conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 256, 3), 384, 3, strides=2, padding="valid"),
                MaxPooling2D(3, strides=2, padding="valid")(x)]
    x = Concatenate(axis=axis, name="mixed_6a")(branches)
    for block_idx in range(1, 21):
        x = inception_resnet_block(x, scale=0.1, block_type="block17", block_idx=block_idx)

    branches = [conv2d_bn(conv2d_bn(x, 256, 1), 384, 3, strides=2, padding="valid"),  # mixed 7a (Reduction-B)
                conv2d_bn(conv2d_bn(x, 256, 1), 288, 3, strides=2, padding="valid"),
                conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 288, 3), 320, 3, strides=2, padding="valid"),
                MaxPooling2D(3, strides=2, padding="valid")(x)]
    x = Concatenate(axis=axis, name="mixed_7a")(branches)
    for block_idx in range(1, 10):
        x = inception_resnet_block(x, scale=0.2, block_type="block8", block_idx=block_idx)
    x = inception_resnet_block(x, scale=1.0, activation=None, block_type="block8", block_idx=10)
    x = conv2d_bn(x, 1536, 1, name="conv_7b")

    x = imagenet_utils.classifier_or_pool(x, include_top, pooling, classes, classifier_activation, weights)
    model = Model(imagenet_utils.model_inputs(input_tensor, img_input), x, name=name)
    suffix = "" if include_top else "_notop"
    file_name = f"inception_resnet_v2_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    load_application_weights(model, weights, origin=BASE_WEIGHTS_PATH + file_name, file_name=file_name,
                             file_hash=WEIGHTS_HASHES[0 if include_top else 1])
    return model


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """InceptionResNetV2's preprocessing: pixels in ``[0, 255]`` scaled to ``[-1, 1]`` (``"tf"`` mode).

    >>> import numpy as np
    >>> preprocess_input(np.array([[0.0, 255.0]]))
    array([[-1.,  1.]])
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The top ImageNet classes of each prediction (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
