"""MobileNetV2 (Sandler et al., 2018, https://arxiv.org/abs/1801.04381), as ``keras.applications.mobilenet_v2``.

>>> from lamina.applications import mobilenet_v2
>>> model = mobilenet_v2.MobileNetV2(weights=None, input_shape=(96, 96, 3), classes=10)
>>> model.name, model.output_shape
('mobilenetv2_1.00_96', (None, 10))
"""

from __future__ import annotations

import warnings
from typing import Any

from lamina import layers
from lamina.applications import _blocks, imagenet_utils
from lamina.applications.weights import load_application_weights
from lamina.core.config import image_data_format
from lamina.models import Model
from lamina.utils import is_keras_tensor

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
# (filters, stride, expansion) of the 17 inverted residual blocks
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6),
           (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6),
           (320, 1, 6))
_IMAGENET_SIZES = (96, 128, 160, 192, 224)
_IMAGENET_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
_BN = {"epsilon": 1e-3, "momentum": 0.999}


def MobileNetV2(input_shape: tuple | None = None, alpha: float = 1.0, include_top: bool = True,  # noqa: N802
                weights: str | None = "imagenet", input_tensor: Any = None, pooling: str | None = None,
                classes: int = 1000, classifier_activation: Any = "softmax", name: str | None = None) -> Model:
    """MobileNetV2 with Keras's layer names and weight layout; ``weights="imagenet"`` loads Keras's published file.

    ``alpha`` scales every layer's width. ImageNet weights exist for ``alpha`` in 0.35, 0.5, 0.75, 1.0, 1.3, 1.4
    and square inputs of 96, 128, 160, 192 or 224 pixels (other sizes load the 224 weights, with a warning).
    Inputs are expected in ``[-1, 1]``: see :func:`preprocess_input`.

    >>> model = MobileNetV2(weights=None, include_top=False, input_shape=(64, 64, 3), alpha=0.35)
    >>> model.output_shape
    (None, 2, 2, 1280)
    """
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    _check_input_tensor(input_tensor, input_shape)
    if input_shape is not None:
        rows, cols = _blocks.spatial_size(input_shape)
    elif input_tensor is not None and is_keras_tensor(input_tensor):
        rows, cols = _blocks.spatial_size(tuple(input_tensor.shape)[1:])
    else:
        rows = cols = None
    default_size = rows if rows == cols and rows in _IMAGENET_SIZES else 224
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                                    data_format=image_data_format(), require_flatten=include_top,
                                                    weights=weights)
    rows, cols = _blocks.spatial_size(input_shape)
    if weights == "imagenet":
        if alpha not in _IMAGENET_ALPHAS:
            raise ValueError("MobileNetV2's ImageNet weights exist for alpha in 0.35, 0.50, 0.75, 1.0, 1.3 and 1.4 "
                             f"only; received alpha={alpha}. Pass one of those or weights=None.")
        if rows != cols or rows not in _IMAGENET_SIZES:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in [96, 128, 160, 192, 224]. "
                          "Weights for input shape (224, 224) will be loaded as the default.", stacklevel=2)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    axis = _blocks.channel_axis()
    x = layers.Conv2D(_blocks.make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same",
                      use_bias=False, name="Conv1")(img_input)
    x = layers.BatchNormalization(axis=axis, name="bn_Conv1", **_BN)(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion=expansion, stride=stride, alpha=alpha, filters=filters,
                                block_id=block_id)
    last_filters = _blocks.make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(axis=axis, name="Conv_1_bn", **_BN)(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    x = imagenet_utils.classifier_or_pool(x, include_top, pooling, classes, classifier_activation, weights,
                                          top_pool_name=None)
    model = Model(imagenet_utils.model_inputs(input_tensor, img_input), x,
                  name=f"mobilenetv2_{alpha:0.2f}_{rows}" if name is None else name)
    file_name = None
    if weights == "imagenet":
        file_name = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
                     f"{'' if include_top else '_no_top'}.h5")
    load_application_weights(model, weights, origin=BASE_WEIGHT_PATH + (file_name or ""), file_name=file_name,
                             file_hash=None)  # Keras publishes no hash for MobileNetV2's files
    return model


def _check_input_tensor(input_tensor: Any, input_shape: tuple | None) -> None:
    # Keras's rule when both are given: the tensor must be symbolic and its width must match input_shape's
    if input_tensor is None or input_shape is None:
        return
    if not is_keras_tensor(input_tensor):
        raise ValueError(f"input_tensor is not a Keras tensor; Received `input_tensor={input_tensor}`. Pass a "
                         "tensor made by keras.Input / a layer, or give input_shape alone.")
    axis = 1 if image_data_format() == "channels_first" else 2
    if input_tensor.shape[axis] != input_shape[1]:
        raise ValueError(f"input_tensor.shape[{axis}] must equal input_shape[1]; Received "
                         f"`input_tensor.shape={tuple(input_tensor.shape)}`, `input_shape={input_shape}`")


def _inverted_res_block(inputs: Any, expansion: int, stride: int, alpha: float, filters: int, block_id: int) -> Any:
    axis = _blocks.channel_axis()
    in_channels = inputs.shape[axis]
    pointwise_filters = _blocks.make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same", use_bias=False, activation=None,
                          name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(axis=axis, name=f"{prefix}expand_BN", **_BN)(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid", name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{prefix}depthwise_BN", **_BN)(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None,
                      name=f"{prefix}project")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{prefix}project_BN", **_BN)(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Scale pixels from ``[0, 255]`` to ``[-1, 1]`` (Keras's ``"tf"`` mode), for NumPy arrays and tensors.

    >>> import numpy as np
    >>> preprocess_input(np.array([[0.0, 255.0]]))
    array([[-1.,  1.]])
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The ``top`` ImageNet classes of each prediction as ``(class_id, class_name, score)`` (Keras's)."""
    return imagenet_utils.decode_predictions(preds, top=top)
