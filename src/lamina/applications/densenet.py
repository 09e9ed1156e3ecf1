"""``keras.applications.densenet``: DenseNet121, DenseNet169 and DenseNet201 (Huang et al., 2017) with Keras's
layer names and published ImageNet weights.

Inputs are preprocessed with ``preprocess_input`` (``"torch"`` mode: pixels scaled to ``[0, 1]`` then
normalised by ImageNet's means and standard deviations). DenseNet is built channels-last only, as in Keras.

>>> DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3)).output_shape
(None, 1, 1, 1024)
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
    ZeroPadding2D,
)
from lamina.layers.symbolic import SymbolicTensor
from lamina.models.model import Model

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
# blocks per dense stage -> (weights name, md5 with the top, md5 without it)
WEIGHTS = {
    (6, 12, 24, 16): ("densenet121", "9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    (6, 12, 32, 32): ("densenet169", "d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    (6, 12, 48, 32): ("densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
BN_AXIS = 3  # channels-last only


def _bn(name: str) -> BatchNormalization:
    return BatchNormalization(axis=BN_AXIS, epsilon=1.001e-5, name=name)


def conv_block(x: SymbolicTensor, growth_rate: int, name: str) -> SymbolicTensor:
    """BN-ReLU-1x1 (4 * growth) then BN-ReLU-3x3 (growth), concatenated to the block's input."""
    y = Activation("relu", name=f"{name}_0_relu")(_bn(f"{name}_0_bn")(x))
    y = Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = Activation("relu", name=f"{name}_1_relu")(_bn(f"{name}_1_bn")(y))
    y = Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return Concatenate(axis=BN_AXIS, name=f"{name}_concat")([x, y])


def dense_block(x: SymbolicTensor, blocks: int, name: str) -> SymbolicTensor:
    """``blocks`` conv blocks, each adding 32 channels."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x: SymbolicTensor, reduction: float, name: str) -> SymbolicTensor:
    """BN-ReLU, a 1x1 convolution to ``reduction`` of the channels, 2x2 average pooling."""
    x = Activation("relu", name=f"{name}_relu")(_bn(f"{name}_bn")(x))
    x = Conv2D(int(x.shape[BN_AXIS] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def DenseNet(blocks: tuple[int, int, int, int] | list[int], include_top: bool = True, weights: Any = "imagenet",
             input_tensor: Any = None, input_shape: tuple | None = None, pooling: str | None = None,
             classes: int = 1000, classifier_activation: Any = "softmax", name: str = "densenet") -> Model:
    """A DenseNet of four dense stages of ``blocks`` conv blocks (growth rate 32) joined by transitions."""
    if config.image_data_format() == "channels_first":
        raise ValueError("DenseNet does not support the `channels_first` image data format (as in Keras). Call "
                         "lamina.config.set_image_data_format('channels_last') first.")
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=config.image_data_format(),
                                                    require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = Activation("relu", name="conv1_relu")(_bn("conv1_bn")(x))
    x = ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, start=2):
        x = dense_block(x, count, name=f"conv{stage}")
        if stage < 5:
            x = transition_block(x, 0.5, name=f"pool{stage}")
    x = Activation("relu", name="relu")(_bn("bn")(x))
    x = imagenet_utils.classifier_or_pool(x, include_top, pooling, classes, classifier_activation, weights,
                                          pool_names=("avg_pool", "max_pool"))
    model = Model(imagenet_utils.model_inputs(input_tensor, img_input), x, name=name)
    origin = file_name = file_hash = None
    if tuple(blocks) in WEIGHTS:
        weights_name, top_hash, notop_hash = WEIGHTS[tuple(blocks)]
        file_name = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
        origin, file_hash = BASE_WEIGHTS_PATH + file_name, top_hash if include_top else notop_hash
    load_application_weights(model, weights, origin=origin, file_name=file_name, file_hash=file_hash)
    return model


def DenseNet121(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str = "densenet121") -> Model:
    """DenseNet121 as ``keras.applications.DenseNet121``: ``weights`` is ``None``, ``"imagenet"`` or a weights
    file. Preprocess inputs with ``lamina.applications.densenet.preprocess_input``.

    >>> model = DenseNet121(weights=None, include_top=False, pooling="avg")  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 1024)
    """
    return DenseNet([6, 12, 24, 16], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def DenseNet169(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str = "densenet169") -> Model:
    """DenseNet169 as ``keras.applications.DenseNet169`` (arguments as :func:`DenseNet121`).

    >>> model = DenseNet169(weights=None, include_top=False, pooling="avg")  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 1664)
    """
    return DenseNet([6, 12, 32, 32], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def DenseNet201(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str = "densenet201") -> Model:
    """DenseNet201 as ``keras.applications.DenseNet201`` (arguments as :func:`DenseNet121`).

    >>> model = DenseNet201(weights=None, include_top=False, pooling="avg")  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 1920)
    """
    return DenseNet([6, 12, 48, 32], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """DenseNet's preprocessing: pixels in ``[0, 255]`` scaled to ``[0, 1]``, then normalised by ImageNet's
    channel means and standard deviations (``"torch"`` mode).

    >>> import numpy as np
    >>> preprocess_input(np.full((1, 1, 1, 3), 255.0)).round(3)[0, 0, 0]
    array([2.249, 2.429, 2.64 ])
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The top ImageNet classes of each prediction (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
