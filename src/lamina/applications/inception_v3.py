"""``keras.applications.inception_v3``: Inception V3 (Szegedy et al., 2015) with Keras's layer names and
published ImageNet weights.

Inputs are preprocessed with ``preprocess_input`` (``"tf"`` mode: pixels scaled to ``[-1, 1]``); the default
input is 299x299, the smallest 75x75.

>>> InceptionV3(weights=None, include_top=False, input_shape=(75, 75, 3)).output_shape
(None, 1, 1, 2048)
"""

from __future__ import annotations

from typing import Any

from lamina.applications import imagenet_utils
from lamina.applications.weights import load_application_weights
from lamina.core import config
from lamina.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    MaxPooling2D,
)
from lamina.layers.symbolic import SymbolicTensor
from lamina.models.model import Model

__all__ = ["InceptionV3", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
WEIGHTS_HASHES = ("9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63")  # md5: top, no top


def conv2d_bn(x: SymbolicTensor, filters: int, num_row: int, num_col: int, padding: str = "same",
              strides: tuple[int, int] = (1, 1), name: str | None = None) -> SymbolicTensor:
    """Convolution (no bias), BatchNormalization (no scale) and ReLU; ``name`` names the three
    ``<name>_conv``, ``<name>_bn``, ``<name>`` (otherwise they get automatic names, as in Keras)."""
    bn_axis = 1 if config.image_data_format() == "channels_first" else 3
    x = Conv2D(filters, (num_row, num_col), strides=strides, padding=padding, use_bias=False,
               name=None if name is None else f"{name}_conv")(x)
    x = BatchNormalization(axis=bn_axis, scale=False, name=None if name is None else f"{name}_bn")(x)
    return Activation("relu", name=name)(x)


def _avg_branch(x: SymbolicTensor, filters: int) -> SymbolicTensor:
    return conv2d_bn(AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x), filters, 1, 1)


def _block_a(x: SymbolicTensor, pool_filters: int, name: str, axis: int) -> SymbolicTensor:
    """35x35 block: 1x1, 5x5, double 3x3 and pooled branches."""
    b1 = conv2d_bn(x, 64, 1, 1)
    b5 = conv2d_bn(conv2d_bn(x, 48, 1, 1), 64, 5, 5)
    b3 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
    return Concatenate(axis=axis, name=name)([b1, b5, b3, _avg_branch(x, pool_filters)])


def _block_c(x: SymbolicTensor, width: int, name: str, axis: int) -> SymbolicTensor:
    """17x17 block: factorised 7x7 branches of ``width`` channels inside."""
    b1 = conv2d_bn(x, 192, 1, 1)
    b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, width, 1, 1), width, 1, 7), 192, 7, 1)
    d7 = conv2d_bn(x, width, 1, 1)
    for filters, (rows, cols) in ((width, (7, 1)), (width, (1, 7)), (width, (7, 1)), (192, (1, 7))):
        d7 = conv2d_bn(d7, filters, rows, cols)
    return Concatenate(axis=axis, name=name)([b1, b7, d7, _avg_branch(x, 192)])


def _block_e(x: SymbolicTensor, index: int, axis: int) -> SymbolicTensor:
    """8x8 block: branches split into parallel 1x3 and 3x1 convolutions."""
    b1 = conv2d_bn(x, 320, 1, 1)
    b3 = conv2d_bn(x, 384, 1, 1)
    b3 = Concatenate(axis=axis, name=f"mixed9_{index}")([conv2d_bn(b3, 384, 1, 3), conv2d_bn(b3, 384, 3, 1)])
    d3 = conv2d_bn(conv2d_bn(x, 448, 1, 1), 384, 3, 3)
    d3 = Concatenate(axis=axis)([conv2d_bn(d3, 384, 1, 3), conv2d_bn(d3, 384, 3, 1)])
    return Concatenate(axis=axis, name=f"mixed{9 + index}")([b1, b3, d3, _avg_branch(x, 192)])


def InceptionV3(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str = "inception_v3") -> Model:
    """InceptionV3 as ``keras.applications.InceptionV3``: ``weights`` is ``None``, ``"imagenet"`` or a weights
    file. Preprocess inputs with ``lamina.applications.inception_v3.preprocess_input``.

    >>> model = InceptionV3(weights=None, include_top=False, pooling="max")  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 2048)
    """
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=299, min_size=75,
                                                    data_format=config.image_data_format(),
                                                    require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    axis = 1 if config.image_data_format() == "channels_first" else 3

    x = conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = MaxPooling2D((3, 3), strides=(2, 2))(x)

    x = _block_a(x, 32, "mixed0", axis)
    x = _block_a(x, 64, "mixed1", axis)
    x = _block_a(x, 64, "mixed2", axis)
    # mixed3: reduction to 17x17
    b3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    d3 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, strides=(2, 2), padding="valid")
    x = Concatenate(axis=axis, name="mixed3")([b3, d3, MaxPooling2D((3, 3), strides=(2, 2))(x)])

    x = _block_c(x, 128, "mixed4", axis)
    x = _block_c(x, 160, "mixed5", axis)
    x = _block_c(x, 160, "mixed6", axis)
    x = _block_c(x, 192, "mixed7", axis)
    # mixed8: reduction to 8x8
    b3 = conv2d_bn(conv2d_bn(x, 192, 1, 1), 320, 3, 3, strides=(2, 2), padding="valid")
    b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
    b7 = conv2d_bn(b7, 192, 3, 3, strides=(2, 2), padding="valid")
    x = Concatenate(axis=axis, name="mixed8")([b3, b7, MaxPooling2D((3, 3), strides=(2, 2))(x)])
    x = _block_e(x, 0, axis)
    x = _block_e(x, 1, axis)

    x = imagenet_utils.classifier_or_pool(x, include_top, pooling, classes, classifier_activation, weights)
    model = Model(imagenet_utils.model_inputs(input_tensor, img_input), x, name=name)
    suffix = "" if include_top else "_notop"
    file_name = f"inception_v3_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    load_application_weights(model, weights, origin=BASE_WEIGHTS_PATH + file_name, file_name=file_name,
                             file_hash=WEIGHTS_HASHES[0 if include_top else 1])
    return model


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """InceptionV3's preprocessing: pixels in ``[0, 255]`` scaled to ``[-1, 1]`` (``"tf"`` mode).

    >>> import numpy as np
    >>> preprocess_input(np.array([[0.0, 255.0]]))
    array([[-1.,  1.]])
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The top ImageNet classes of each prediction (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
