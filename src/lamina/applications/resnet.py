"""``keras.applications.resnet``: ResNet50, ResNet101 and ResNet152 (He et al., 2015), with Keras's layer names
and published ImageNet weights; the builder and blocks ``resnet_v2`` shares.

Inputs are preprocessed with ``preprocess_input`` (``"caffe"`` mode: RGB -> BGR, ImageNet means subtracted).

>>> model = ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
>>> model.output_shape
(None, 2048)
"""

from __future__ import annotations

from collections.abc import Callable
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
    ZeroPadding2D,
)
from lamina.layers.symbolic import SymbolicTensor
from lamina.models.model import Model

__all__ = ["ResNet50", "ResNet101", "ResNet152", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# md5 of the published files: (with the top, without it)
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}

Tensor = SymbolicTensor


def _bn_axis() -> int:
    return 3 if config.image_data_format() == "channels_last" else 1


def _bn(name: str) -> BatchNormalization:
    return BatchNormalization(axis=_bn_axis(), epsilon=1.001e-5, name=name)


def ResNet(stack_fn: Callable[[Tensor], Tensor], preact: bool, use_bias: bool, include_top: bool = True,
           weights: Any = "imagenet", input_tensor: Any = None, input_shape: tuple | None = None,
           pooling: str | None = None, classes: int = 1000, classifier_activation: Any = "softmax",
           name: str = "resnet", weights_name: str | None = None) -> Model:
    """The ResNet / ResNetV2 body around ``stack_fn`` (the residual stacks): 7x7 stem, max pooling, the stacks,
    (for V2, ``preact=True``, a final BatchNormalization + ReLU), then the classifier or the pooling."""
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=config.image_data_format(),
                                                    require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = _bn("conv1_bn")(x)
        x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = _bn("post_bn")(x)
        x = Activation("relu", name="post_relu")(x)
    x = imagenet_utils.classifier_or_pool(x, include_top, pooling, classes, classifier_activation, weights,
                                          pool_names=("avg_pool", "max_pool"))
    model = Model(imagenet_utils.model_inputs(input_tensor, img_input), x, name=name)
    origin = file_name = file_hash = None
    if weights_name in WEIGHTS_HASHES:
        suffix = "" if include_top else "_notop"
        file_name = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        origin, file_hash = BASE_WEIGHTS_PATH + file_name, WEIGHTS_HASHES[weights_name][0 if include_top else 1]
    load_application_weights(model, weights, origin=origin, file_name=file_name, file_hash=file_hash)
    return model


def residual_block_v1(x: Tensor, filters: int, kernel_size: int = 3, stride: int = 1, conv_shortcut: bool = True,
                      name: str | None = None) -> Tensor:
    """A ResNet bottleneck block: 1x1 -> kxk -> 1x1 (4 * filters), added to the (projected) shortcut."""
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _bn(f"{name}_1_bn")(x)
    x = Activation("relu", name=f"{name}_1_relu")(x)
    x = Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = Activation("relu", name=f"{name}_2_relu")(x)
    x = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(f"{name}_3_bn")(x)
    x = Add(name=f"{name}_add")([shortcut, x])
    return Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x: Tensor, filters: int, blocks: int, stride1: int = 2,
                             name: str | None = None) -> Tensor:
    """``blocks`` V1 blocks; the first projects its shortcut and strides by ``stride1``."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def residual_block_v2(x: Tensor, filters: int, kernel_size: int = 3, stride: int = 1, conv_shortcut: bool = False,
                      name: str | None = None) -> Tensor:
    """A pre-activation (V2) bottleneck block: BN + ReLU first, the stride on the 3x3 convolution."""
    preact = _bn(f"{name}_preact_bn")(x)
    preact = Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = _bn(f"{name}_1_bn")(x)
    x = Activation("relu", name=f"{name}_1_relu")(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = Conv2D(filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = Activation("relu", name=f"{name}_2_relu")(x)
    x = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x: Tensor, filters: int, blocks: int, stride1: int = 2,
                             name: str | None = None) -> Tensor:
    """``blocks`` V2 blocks; the first projects its shortcut, the last strides by ``stride1``."""
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _v1(depths: tuple[int, int, int, int]) -> Callable[[Tensor], Tensor]:
    def stack_fn(x: Tensor) -> Tensor:
        x = stack_residual_blocks_v1(x, 64, depths[0], stride1=1, name="conv2")
        x = stack_residual_blocks_v1(x, 128, depths[1], name="conv3")
        x = stack_residual_blocks_v1(x, 256, depths[2], name="conv4")
        return stack_residual_blocks_v1(x, 512, depths[3], name="conv5")
    return stack_fn


def ResNet50(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
             input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax", name: str = "resnet50") -> Model:
    """ResNet50 as ``keras.applications.ResNet50``: ``weights`` is ``None``, ``"imagenet"`` or a weights file;
    ``include_top=False`` with ``pooling`` (``None``, ``"avg"``, ``"max"``) gives a feature extractor for any
    ``input_shape`` of at least 32x32. Preprocess inputs with ``lamina.applications.resnet.preprocess_input``.

    >>> base = ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))  # large build  # doctest: +SKIP
    >>> base.output_shape  # the model above  # doctest: +SKIP
    (None, 1, 1, 2048)
    """
    return ResNet(_v1((3, 4, 6, 3)), False, True, include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name=name, weights_name="resnet50")


def ResNet101(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
              input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
              classifier_activation: Any = "softmax", name: str = "resnet101") -> Model:
    """ResNet101 as ``keras.applications.ResNet101`` (arguments as :func:`ResNet50`).

    >>> model = ResNet101(weights=None, include_top=False, input_shape=(32, 32, 3))  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 1, 1, 2048)
    """
    return ResNet(_v1((3, 4, 23, 3)), False, True, include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation, name=name, weights_name="resnet101")


def ResNet152(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
              input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
              classifier_activation: Any = "softmax", name: str = "resnet152") -> Model:
    """ResNet152 as ``keras.applications.ResNet152`` (arguments as :func:`ResNet50`).

    >>> model = ResNet152(weights=None, include_top=False, input_shape=(32, 32, 3))  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 1, 1, 2048)
    """
    return ResNet(_v1((3, 8, 36, 3)), False, True, include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation, name=name, weights_name="resnet152")


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """ResNet's preprocessing: RGB -> BGR and ImageNet's channel means subtracted (``"caffe"`` mode), from
    pixels in ``[0, 255]``.

    >>> import numpy as np
    >>> preprocess_input(np.zeros((1, 1, 1, 3)))[0, 0, 0]
    array([-103.939, -116.779, -123.68 ])
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The top ImageNet classes of each prediction (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
