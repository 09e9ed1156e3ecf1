"""MobileNet (Howard et al., 2017, https://arxiv.org/abs/1704.04861), as ``keras.applications.mobilenet``.

>>> from lamina.applications import mobilenet
>>> model = mobilenet.MobileNet(weights=None, input_shape=(128, 128, 3), alpha=0.5, classes=10)
>>> model.name, model.output_shape
('mobilenet_0.50_128', (None, 10))
"""

from __future__ import annotations

import warnings
from typing import Any

from lamina import layers
from lamina.applications import _blocks, imagenet_utils
from lamina.applications.weights import load_application_weights
from lamina.core.config import image_data_format
from lamina.models import Model

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
# (filters, stride) of the 13 depthwise-separable blocks after the stem
_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
           (512, 1), (1024, 2), (1024, 1))
_IMAGENET_SIZES = (128, 160, 192, 224)
_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}


def MobileNet(input_shape: tuple | None = None, alpha: float = 1.0, depth_multiplier: int = 1,  # noqa: N802
              dropout: float = 1e-3, include_top: bool = True, weights: str | None = "imagenet",
              input_tensor: Any = None, pooling: str | None = None, classes: int = 1000,
              classifier_activation: Any = "softmax", name: str | None = None) -> Model:
    """MobileNet with Keras's layer names and weight layout; ``weights="imagenet"`` loads Keras's published file.

    ``alpha`` scales every layer's width; ``depth_multiplier`` the depthwise convolutions' channels. ImageNet
    weights exist for ``alpha`` in 0.25, 0.5, 0.75, 1.0, ``depth_multiplier=1`` and square inputs of 128, 160,
    192 or 224 pixels (other sizes load the 224 weights, with a warning). Inputs are expected in ``[-1, 1]``:
    see :func:`preprocess_input`.

    >>> model = MobileNet(weights=None, include_top=False, input_shape=(96, 96, 3), pooling="avg")
    >>> model.output_shape
    (None, 1024)
    """
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    rows, cols = _blocks.spatial_size(input_shape) if input_shape is not None else (None, None)
    default_size = rows if rows == cols and rows in _IMAGENET_SIZES else 224
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                                    data_format=image_data_format(), require_flatten=include_top,
                                                    weights=weights)
    rows, cols = _blocks.spatial_size(input_shape)
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError("MobileNet's ImageNet weights exist for depth_multiplier=1 only; received "
                             f"depth_multiplier={depth_multiplier}. Pass weights=None to train another.")
        if alpha not in _ALPHA_TEXT:
            raise ValueError("MobileNet's ImageNet weights exist for alpha in 0.25, 0.50, 0.75 and 1.0 only; "
                             f"received alpha={alpha}. Pass one of those or weights=None.")
        if rows != cols or rows not in _IMAGENET_SIZES:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in [128, 160, 192, 224]. "
                          "Weights for input shape (224, 224) will be loaded as the default.", stacklevel=2)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = _conv_block(img_input, 32, alpha, strides=(2, 2))
    for block_id, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, strides=(stride, stride), block_id=block_id)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    model = Model(imagenet_utils.model_inputs(input_tensor, img_input), x,
                  name=f"mobilenet_{alpha:0.2f}_{rows}" if name is None else name)
    file_name = None
    if weights == "imagenet":
        file_name = f"mobilenet_{_ALPHA_TEXT[alpha]}_{rows}_tf{'' if include_top else '_no_top'}.h5"
    load_application_weights(model, weights, origin=BASE_WEIGHT_PATH + (file_name or ""), file_name=file_name,
                             file_hash=None)  # Keras publishes no hash for MobileNet's files
    return model


def _conv_block(inputs: Any, filters: int, alpha: float, kernel: tuple = (3, 3), strides: tuple = (1, 1)) -> Any:
    x = layers.Conv2D(int(filters * alpha), kernel, padding="same", use_bias=False, strides=strides,
                      name="conv1")(inputs)
    x = layers.BatchNormalization(axis=_blocks.channel_axis(), name="conv1_bn")(x)
    return layers.ReLU(6.0, name="conv1_relu")(x)


def _depthwise_conv_block(inputs: Any, pointwise_filters: int, alpha: float, depth_multiplier: int = 1,
                          strides: tuple = (1, 1), block_id: int = 1) -> Any:
    axis = _blocks.channel_axis()
    x = inputs
    if strides != (1, 1):
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D((3, 3), padding="same" if strides == (1, 1) else "valid",
                               depth_multiplier=depth_multiplier, strides=strides, use_bias=False,
                               name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(axis=axis, name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(int(pointwise_filters * alpha), (1, 1), padding="same", use_bias=False, strides=(1, 1),
                      name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(axis=axis, name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Scale pixels from ``[0, 255]`` to ``[-1, 1]`` (Keras's ``"tf"`` mode), for NumPy arrays and tensors.

    >>> import numpy as np
    >>> preprocess_input(np.array([[0.0, 127.5, 255.0]]))
    array([[-1.,  0.,  1.]])
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The ``top`` ImageNet classes of each prediction as ``(class_id, class_name, score)`` (Keras's)."""
    return imagenet_utils.decode_predictions(preds, top=top)
