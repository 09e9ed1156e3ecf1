"""``keras.applications.xception``: Xception (Chollet, 2017), depthwise-separable convolutions with residual
connections, with Keras's layer names and published ImageNet weights.

Inputs are preprocessed with ``preprocess_input`` (``"tf"`` mode: pixels scaled to ``[-1, 1]``); the smallest
input is 71x71.

>>> Xception(weights=None, include_top=False, input_shape=(71, 71, 3)).output_shape
(None, 3, 3, 2048)
"""

from __future__ import annotations

from typing import Any

from lamina.applications import imagenet_utils
from lamina.applications.weights import load_application_weights
from lamina.core import config
from lamina.layers import (
    Activation,
    Add,
    BatchNormalization,
    Conv2D,
    MaxPooling2D,
    SeparableConv2D,
)
from lamina.layers.symbolic import SymbolicTensor
from lamina.models.model import Model

__all__ = ["Xception", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
WEIGHTS_HASHES = ("0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97")  # md5: top, no top


def _sep_bn(x: SymbolicTensor, filters: int, name: str, axis: int) -> SymbolicTensor:
    x = SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return BatchNormalization(axis=axis, name=f"{name}_bn")(x)


def _shortcut(x: SymbolicTensor, filters: int, axis: int) -> SymbolicTensor:
    """The strided 1x1 projection of a downsampling block's residual (unnamed in Keras: conv2d, conv2d_1...)."""
    residual = Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
    return BatchNormalization(axis=axis)(residual)


def _down_block(x: SymbolicTensor, filters: tuple[int, int], block: int, axis: int,
                first_act: bool = True) -> SymbolicTensor:
    """Two separable convolutions and a strided max pooling, added to the projected residual."""
    residual = _shortcut(x, filters[1], axis)
    if first_act:
        x = Activation("relu", name=f"block{block}_sepconv1_act")(x)
    x = _sep_bn(x, filters[0], f"block{block}_sepconv1", axis)
    x = Activation("relu", name=f"block{block}_sepconv2_act")(x)
    x = _sep_bn(x, filters[1], f"block{block}_sepconv2", axis)
    x = MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"block{block}_pool")(x)
    return Add()([x, residual])


def Xception(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
             input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax", name: str = "xception") -> Model:
    """Xception as ``keras.applications.Xception``: ``weights`` is ``None``, ``"imagenet"`` or a weights file;
    the default input is 299x299, the smallest 71x71. Preprocess inputs with
    ``lamina.applications.xception.preprocess_input``.

    >>> model = Xception(weights=None, include_top=False, pooling="avg")  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 2048)
    """
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=299, min_size=71,
                                                    data_format=config.image_data_format(),
                                                    require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    axis = 1 if config.image_data_format() == "channels_first" else -1

    x = Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = BatchNormalization(axis=axis, name="block1_conv1_bn")(x)
    x = Activation("relu", name="block1_conv1_act")(x)
    x = Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = BatchNormalization(axis=axis, name="block1_conv2_bn")(x)
    x = Activation("relu", name="block1_conv2_act")(x)

    x = _down_block(x, (128, 128), 2, axis, first_act=False)  # entry flow
    x = _down_block(x, (256, 256), 3, axis)
    x = _down_block(x, (728, 728), 4, axis)
    for block in range(5, 13):  # middle flow: eight identity-residual blocks
        residual = x
        for i in (1, 2, 3):
            x = Activation("relu", name=f"block{block}_sepconv{i}_act")(x)
            x = _sep_bn(x, 728, f"block{block}_sepconv{i}", axis)
        x = Add()([x, residual])
    x = _down_block(x, (728, 1024), 13, axis)  # exit flow

    x = _sep_bn(x, 1536, "block14_sepconv1", axis)
    x = Activation("relu", name="block14_sepconv1_act")(x)
    x = _sep_bn(x, 2048, "block14_sepconv2", axis)
    x = Activation("relu", name="block14_sepconv2_act")(x)
    x = imagenet_utils.classifier_or_pool(x, include_top, pooling, classes, classifier_activation, weights)
    model = Model(imagenet_utils.model_inputs(input_tensor, img_input), x, name=name)
    suffix = "" if include_top else "_notop"
    file_name = f"xception_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    load_application_weights(model, weights, origin=BASE_WEIGHTS_PATH + file_name, file_name=file_name,
                             file_hash=WEIGHTS_HASHES[0 if include_top else 1])
    return model


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Xception's preprocessing: pixels in ``[0, 255]`` scaled to ``[-1, 1]`` (``"tf"`` mode).

    >>> import numpy as np
    >>> preprocess_input(np.array([[0.0, 255.0]]))
    array([[-1.,  1.]])
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The top ImageNet classes of each prediction (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
