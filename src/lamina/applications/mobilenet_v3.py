"""MobileNetV3 Small and Large (Howard et al., 2019, https://arxiv.org/abs/1905.02244), as Keras's.

The models embed their preprocessing (a ``Rescaling`` layer to ``[-1, 1]``, unless ``include_preprocessing=False``),
so they take raw ``[0, 255]`` pixels and :func:`preprocess_input` returns its input unchanged.

>>> from lamina.applications import mobilenet_v3
>>> model = mobilenet_v3.MobileNetV3Small(weights=None, input_shape=(64, 64, 3), classes=10)
>>> model.name, model.output_shape
('MobileNetV3Small', (None, 10))
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from lamina import layers
from lamina.applications import _blocks, imagenet_utils
from lamina.applications.weights import load_application_weights
from lamina.core.config import image_data_format
from lamina.models import Model
from lamina.utils import is_keras_tensor

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
# model name -> (hash of the file with the top, hash of the file without), Keras's published MD5s
WEIGHTS_HASHES = {
    "large_224_0.75_float": ("765b44a33ad4005b3ac83185abf1d0eb", "40af19a13ebea4e2ee0c676887f69a2e"),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": ("675e7b876c45c57e9e63e6d90a36599c", "ec5221f64a2f6d1ef965a614bdae7973"),
    "small_224_0.75_float": ("cb65d4e5be93758266aa0a7f2c6708b7", "ebdb5cc8e0b497cd13a7c275d475c819"),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": ("99cd97fb2fcdad2bf028eb838de69e37", "cde8136e733e811080d9fcd8a252f7e4"),
}
_BN = {"epsilon": 1e-3, "momentum": 0.999}
# (expansion, filters, kernel, stride, squeeze-excite?, activation) per block; kernel "k" and activation "a" take the
# model's (5 and hard-swish, or 3 and relu when minimalistic), "relu" is always relu
_SMALL = ((1, 16, 3, 2, True, "relu"), (72 / 16, 24, 3, 2, False, "relu"), (88 / 24, 24, 3, 1, False, "relu"),
          (4, 40, "k", 2, True, "a"), (6, 40, "k", 1, True, "a"), (6, 40, "k", 1, True, "a"),
          (3, 48, "k", 1, True, "a"), (3, 48, "k", 1, True, "a"), (6, 96, "k", 2, True, "a"),
          (6, 96, "k", 1, True, "a"), (6, 96, "k", 1, True, "a"))
_LARGE = ((1, 16, 3, 1, False, "relu"), (4, 24, 3, 2, False, "relu"), (3, 24, 3, 1, False, "relu"),
          (3, 40, "k", 2, True, "relu"), (3, 40, "k", 1, True, "relu"), (3, 40, "k", 1, True, "relu"),
          (6, 80, 3, 2, False, "a"), (2.5, 80, 3, 1, False, "a"), (2.3, 80, 3, 1, False, "a"),
          (2.3, 80, 3, 1, False, "a"), (6, 112, 3, 1, True, "a"), (6, 112, 3, 1, True, "a"),
          (6, 160, "k", 2, True, "a"), (6, 160, "k", 1, True, "a"), (6, 160, "k", 1, True, "a"))


def MobileNetV3Small(input_shape: tuple | None = None, alpha: float = 1.0, minimalistic: bool = False,  # noqa: N802
                     include_top: bool = True, weights: str | None = "imagenet", input_tensor: Any = None,
                     classes: int = 1000, pooling: str | None = None, dropout_rate: float = 0.2,
                     classifier_activation: Any = "softmax", include_preprocessing: bool = True,
                     name: str = "MobileNetV3Small") -> Model:
    """MobileNetV3Small with Keras's layer names and weight layout; ``weights="imagenet"`` loads Keras's file.

    ``alpha`` scales the blocks' widths (ImageNet weights: 0.75 or 1.0, or 1.0 when ``minimalistic``);
    ``minimalistic`` drops squeeze-excite, hard-swish and 5x5 kernels. Takes ``[0, 255]`` pixels when
    ``include_preprocessing`` (the default).

    >>> model = MobileNetV3Small(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
    >>> model.output_shape
    (None, 576)
    """
    return _mobilenet_v3(_SMALL, 1024, input_shape, alpha, "small", minimalistic, include_top, weights,
                         input_tensor, classes, pooling, dropout_rate, classifier_activation, include_preprocessing,
                         name)


def MobileNetV3Large(input_shape: tuple | None = None, alpha: float = 1.0, minimalistic: bool = False,  # noqa: N802
                     include_top: bool = True, weights: str | None = "imagenet", input_tensor: Any = None,
                     classes: int = 1000, pooling: str | None = None, dropout_rate: float = 0.2,
                     classifier_activation: Any = "softmax", include_preprocessing: bool = True,
                     name: str = "MobileNetV3Large") -> Model:
    """MobileNetV3Large with Keras's layer names and weight layout; ``weights="imagenet"`` loads Keras's file.

    Arguments as :func:`MobileNetV3Small`.

    >>> model = MobileNetV3Large(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
    >>> model.output_shape
    (None, 960)
    """
    return _mobilenet_v3(_LARGE, 1280, input_shape, alpha, "large", minimalistic, include_top, weights,
                         input_tensor, classes, pooling, dropout_rate, classifier_activation, include_preprocessing,
                         name)


def _mobilenet_v3(blocks: tuple, last_point_ch: int, input_shape: tuple | None, alpha: float, model_type: str,
                  minimalistic: bool, include_top: bool, weights: str | None, input_tensor: Any, classes: int,
                  pooling: str | None, dropout_rate: float, classifier_activation: Any,
                  include_preprocessing: bool, name: str | None) -> Model:
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    channels_first = image_data_format() == "channels_first"
    if input_tensor is not None and input_shape is not None:
        if not is_keras_tensor(input_tensor):
            raise ValueError(f"input_tensor {input_tensor!r} is not a Keras tensor. Pass a tensor made by "
                             "keras.Input / a layer, or give input_shape alone.")
        axis = 1 if channels_first else 2
        if input_tensor.shape[axis] != input_shape[1]:
            raise ValueError(f"input_shape[1] must equal input_tensor.shape[{axis}]. Received "
                             f"input_shape={input_shape}, input_tensor.shape={tuple(input_tensor.shape)}")
    if input_shape is None and input_tensor is not None and is_keras_tensor(input_tensor):
        # Keras's order: (cols, rows), which only matters for non-square tensors
        rows, cols = _blocks.spatial_size(tuple(input_tensor.shape)[1:])
        input_shape = (3, cols, rows) if channels_first else (cols, rows, 3)
    if input_shape is None:
        input_shape = (3, None, None) if channels_first else (None, None, 3)
    rows, cols = _blocks.spatial_size(input_shape)
    if rows and cols and (rows < 32 or cols < 32):
        raise ValueError(f"Input size must be at least 32x32; Received `input_shape={input_shape}`")
    if weights == "imagenet":
        if (not minimalistic and alpha not in (0.75, 1.0)) or (minimalistic and alpha != 1.0):
            raise ValueError("If imagenet weights are being loaded, alpha can be one of `0.75`, `1.0` for non "
                             f"minimalistic or `1.0` for minimalistic only; received alpha={alpha}, "
                             f"minimalistic={minimalistic}.")
        if rows != cols or rows != 224:
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not 224. Weights for input shape "
                          "(224, 224) will be loaded as the default.", stacklevel=3)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    axis = _blocks.channel_axis()
    kernel, activation, se_ratio = (3, _relu, None) if minimalistic else (5, _hard_swish, 0.25)
    x = img_input
    if include_preprocessing:
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1.0)(x)
    x = layers.Conv2D(16, kernel_size=3, strides=(2, 2), padding="same", use_bias=False, name="conv")(x)
    x = layers.BatchNormalization(axis=axis, name="conv_bn", **_BN)(x)
    x = activation(x)
    for block_id, (expansion, filters, block_kernel, stride, se, block_act) in enumerate(blocks):
        x = _inverted_res_block(x, expansion, _blocks.make_divisible(filters * alpha), kernel if block_kernel == "k"
                                else block_kernel, stride, se_ratio if se else None,
                                _relu if block_act == "relu" else activation, block_id)
    last_conv_ch = _blocks.make_divisible(x.shape[axis] * 6)
    if alpha > 1.0:
        last_point_ch = _blocks.make_divisible(last_point_ch * alpha)
    x = layers.Conv2D(last_conv_ch, kernel_size=1, padding="same", use_bias=False, name="conv_1")(x)
    x = layers.BatchNormalization(axis=axis, name="conv_1_bn", **_BN)(x)
    x = activation(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Conv2D(last_point_ch, kernel_size=1, padding="same", use_bias=True, name="conv_2")(x)
        x = activation(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate)(x)
        x = layers.Conv2D(classes, kernel_size=1, padding="same", name="logits")(x)
        x = layers.Flatten()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = Model(imagenet_utils.model_inputs(input_tensor, img_input), x, name=name)
    file_name = file_hash = None
    if weights == "imagenet":
        model_name = f"{model_type}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
        file_name = f"weights_mobilenet_v3_{model_name}{'' if include_top else '_no_top_v2'}.h5"
        file_hash = WEIGHTS_HASHES[model_name][0 if include_top else 1]
    load_application_weights(model, weights, origin=BASE_WEIGHT_PATH + (file_name or ""), file_name=file_name,
                             file_hash=file_hash)
    return model


def _relu(x: Any) -> Any:
    return layers.ReLU()(x)


def _hard_sigmoid(x: Any) -> Any:
    return layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def _hard_swish(x: Any) -> Any:
    return layers.Activation("hard_swish")(x)


def _se_block(inputs: Any, filters: int, se_ratio: float, prefix: str) -> Any:
    x = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")(inputs)
    x = layers.Conv2D(_blocks.make_divisible(filters * se_ratio), kernel_size=1, padding="same",
                      name=f"{prefix}squeeze_excite_conv")(x)
    x = layers.ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", name=f"{prefix}squeeze_excite_conv_1")(x)
    x = _hard_sigmoid(x)
    return layers.Multiply(name=f"{prefix}squeeze_excite_mul")([inputs, x])


def _inverted_res_block(x: Any, expansion: float, filters: int, kernel_size: int, stride: int,
                        se_ratio: float | None, activation: Callable, block_id: int) -> Any:
    axis = _blocks.channel_axis()
    shortcut = x
    prefix = "expanded_conv_"
    in_filters = x.shape[axis]
    if block_id:
        prefix = f"expanded_conv_{block_id}_"
        x = layers.Conv2D(_blocks.make_divisible(in_filters * expansion), kernel_size=1, padding="same",
                          use_bias=False, name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(axis=axis, name=f"{prefix}expand_bn", **_BN)(x)
        x = activation(x)
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size), name=f"{prefix}depthwise_pad")(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same" if stride == 1 else "valid",
                               use_bias=False, name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{prefix}depthwise_bn", **_BN)(x)
    x = activation(x)
    if se_ratio:
        x = _se_block(x, _blocks.make_divisible(in_filters * expansion), se_ratio, prefix)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{prefix}project_bn", **_BN)(x)
    if stride == 1 and in_filters == filters:
        x = layers.Add(name=f"{prefix}add")([shortcut, x])
    return x


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """The identity: MobileNetV3 models rescale their ``[0, 255]`` inputs themselves (Keras's rule).

    >>> preprocess_input([1.0, 2.0])
    [1.0, 2.0]
    """
    return x


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The ``top`` ImageNet classes of each prediction as ``(class_id, class_name, score)`` (Keras's)."""
    return imagenet_utils.decode_predictions(preds, top=top)
