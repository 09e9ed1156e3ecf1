"""EfficientNetV2 B0-B3, S, M, L (Tan and Le, 2021, https://arxiv.org/abs/2104.00298), as Keras's.

The models embed their preprocessing (unless ``include_preprocessing=False``): B0-B3 rescale to ``[0, 1]`` and
normalize with ImageNet's mean and variance, S/M/L rescale to ``[-1, 1]``; so they take raw ``[0, 255]`` pixels
and :func:`preprocess_input` returns its input unchanged.

>>> from lamina.applications import efficientnet_v2
>>> model = efficientnet_v2.EfficientNetV2B0(weights=None, input_shape=(64, 64, 3), classes=10)
>>> model.name, model.output_shape
('efficientnetv2-b0', (None, 10))
"""

from __future__ import annotations

import math
from typing import Any

from lamina import initializers, layers
from lamina.applications import imagenet_utils
from lamina.applications.efficientnet import CONV_KERNEL_INITIALIZER, DENSE_KERNEL_INITIALIZER
from lamina.applications.weights import load_application_weights
from lamina.core.config import image_data_format
from lamina.models import Model

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"
# variant -> (hash of the file with the top, hash of the file without), Keras's published MD5s
WEIGHTS_HASHES = {
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "-s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "-m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "-l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}
_STAGE_KEYS = ("kernel_size", "num_repeat", "input_filters", "output_filters", "expand_ratio", "se_ratio",
               "strides", "conv_type")
# conv_type 1: fused MBConv (a full convolution expands), 0: MBConv (1x1 expansion, depthwise convolution)
_B_STAGES = ((3, 1, 32, 16, 1, 0, 1, 1), (3, 2, 16, 32, 4, 0, 2, 1), (3, 2, 32, 48, 4, 0, 2, 1),
             (3, 3, 48, 96, 4, 0.25, 2, 0), (3, 5, 96, 112, 6, 0.25, 1, 0), (3, 8, 112, 192, 6, 0.25, 2, 0))
_STAGES = {
    "efficientnetv2-s": ((3, 2, 24, 24, 1, 0.0, 1, 1), (3, 4, 24, 48, 4, 0.0, 2, 1), (3, 4, 48, 64, 4, 0, 2, 1),
                         (3, 6, 64, 128, 4, 0.25, 2, 0), (3, 9, 128, 160, 6, 0.25, 1, 0),
                         (3, 15, 160, 256, 6, 0.25, 2, 0)),
    "efficientnetv2-m": ((3, 3, 24, 24, 1, 0, 1, 1), (3, 5, 24, 48, 4, 0, 2, 1), (3, 5, 48, 80, 4, 0, 2, 1),
                         (3, 7, 80, 160, 4, 0.25, 2, 0), (3, 14, 160, 176, 6, 0.25, 1, 0),
                         (3, 18, 176, 304, 6, 0.25, 2, 0), (3, 5, 304, 512, 6, 0.25, 1, 0)),
    "efficientnetv2-l": ((3, 4, 32, 32, 1, 0, 1, 1), (3, 7, 32, 64, 4, 0, 2, 1), (3, 7, 64, 96, 4, 0, 2, 1),
                         (3, 10, 96, 192, 4, 0.25, 2, 0), (3, 19, 192, 224, 6, 0.25, 1, 0),
                         (3, 25, 224, 384, 6, 0.25, 2, 0), (3, 7, 384, 640, 6, 0.25, 1, 0)),
    **{f"efficientnetv2-b{i}": _B_STAGES for i in range(4)},
}
DEFAULT_BLOCKS_ARGS = {name: [dict(zip(_STAGE_KEYS, stage, strict=True)) for stage in stages]
                       for name, stages in _STAGES.items()}
# variant -> (width coefficient, depth coefficient, default size)
_VARIANTS = {"b0": (1.0, 1.0, 224), "b1": (1.0, 1.1, 240), "b2": (1.1, 1.2, 260), "b3": (1.2, 1.4, 300),
             "s": (1.0, 1.0, 384), "m": (1.0, 1.0, 480), "l": (1.0, 1.0, 480)}


def round_filters(filters: float, width_coefficient: float, min_depth: int | None, depth_divisor: int) -> int:
    """A stage's width scaled by ``width_coefficient``, rounded to a multiple of ``depth_divisor``."""
    filters *= width_coefficient
    return int(max(min_depth or depth_divisor, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor))


def round_repeats(repeats: int, depth_coefficient: float) -> int:
    """A stage's number of blocks scaled by ``depth_coefficient`` (rounded up)."""
    return int(math.ceil(depth_coefficient * repeats))


def _bn(name: str, momentum: float) -> layers.BatchNormalization:
    return layers.BatchNormalization(axis=_bn_axis(), momentum=momentum, name=name)


def _bn_axis() -> int:
    return 1 if image_data_format() == "channels_first" else 3


def _conv(filters: int, kernel_size: int, name: str, strides: int = 1, **kwargs: Any) -> layers.Conv2D:
    return layers.Conv2D(filters, kernel_size=kernel_size, strides=strides, kernel_initializer=CONV_KERNEL_INITIALIZER,
                         padding="same", use_bias=False, name=name, **kwargs)


def _squeeze_excite(x: Any, filters: int, filters_se: int, activation: Any, name: str) -> Any:
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = layers.Reshape((filters, 1, 1) if _bn_axis() == 1 else (1, 1, filters), name=f"{name}se_reshape")(se)
    se = layers.Conv2D(filters_se, 1, padding="same", activation=activation,
                       kernel_initializer=CONV_KERNEL_INITIALIZER, name=f"{name}se_reduce")(se)
    se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid", kernel_initializer=CONV_KERNEL_INITIALIZER,
                       name=f"{name}se_expand")(se)
    return layers.multiply([x, se], name=f"{name}se_excite")


def _skip(x: Any, inputs: Any, survival_probability: float, name: str) -> Any:
    # Keras passes the block's drop-connect rate as the Dropout rate (named "survival_probability" there)
    if survival_probability:
        x = layers.Dropout(survival_probability, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
    return layers.add([x, inputs], name=f"{name}add")


def MBConvBlock(input_filters: int, output_filters: int, expand_ratio: int = 1, kernel_size: int = 3,  # noqa: N802
                strides: int = 1, se_ratio: float = 0.0, bn_momentum: float = 0.9, activation: Any = "swish",
                survival_probability: float = 0.8, name: str | None = None) -> Any:
    """A mobile inverted bottleneck: 1x1 expansion, depthwise convolution, squeeze-excite, 1x1 projection."""
    name = "block0" if name is None else name

    def apply(inputs: Any) -> Any:
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = _conv(filters, 1, f"{name}expand_conv", data_format=image_data_format())(x)
            x = _bn(f"{name}expand_bn", bn_momentum)(x)
            x = layers.Activation(activation, name=f"{name}expand_activation")(x)
        x = layers.DepthwiseConv2D(kernel_size=kernel_size, strides=strides,
                                   depthwise_initializer=CONV_KERNEL_INITIALIZER, padding="same",
                                   data_format=image_data_format(), use_bias=False, name=f"{name}dwconv2")(x)
        x = _bn(f"{name}bn", bn_momentum)(x)
        x = layers.Activation(activation, name=f"{name}activation")(x)
        if 0 < se_ratio <= 1:
            x = _squeeze_excite(x, filters, max(1, int(input_filters * se_ratio)), activation, name)
        x = _conv(output_filters, 1, f"{name}project_conv", data_format=image_data_format())(x)
        x = _bn(f"{name}project_bn", bn_momentum)(x)
        if strides == 1 and input_filters == output_filters:
            x = _skip(x, inputs, survival_probability, name)
        return x

    return apply


def FusedMBConvBlock(input_filters: int, output_filters: int, expand_ratio: int = 1,  # noqa: N802
                     kernel_size: int = 3, strides: int = 1, se_ratio: float = 0.0, bn_momentum: float = 0.9,
                     activation: Any = "swish", survival_probability: float = 0.8, name: str | None = None) -> Any:
    """A fused inverted bottleneck: one full convolution expands (or, without expansion, does the whole work)."""
    name = "block0" if name is None else name

    def apply(inputs: Any) -> Any:
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = _conv(filters, kernel_size, f"{name}expand_conv", strides=strides, data_format=image_data_format())(x)
            x = _bn(f"{name}expand_bn", bn_momentum)(x)
            x = layers.Activation(activation=activation, name=f"{name}expand_activation")(x)
        if 0 < se_ratio <= 1:
            x = _squeeze_excite(x, filters, max(1, int(input_filters * se_ratio)), activation, name)
        expanded = expand_ratio != 1
        x = _conv(output_filters, 1 if expanded else kernel_size, f"{name}project_conv",
                  strides=1 if expanded else strides)(x)
        x = _bn(f"{name}project_bn", bn_momentum)(x)
        if not expanded:
            x = layers.Activation(activation=activation, name=f"{name}project_activation")(x)
        if strides == 1 and input_filters == output_filters:
            x = _skip(x, inputs, survival_probability, name)
        return x

    return apply


def EfficientNetV2(width_coefficient: float, depth_coefficient: float, default_size: int,  # noqa: N802
                   dropout_rate: float = 0.2, drop_connect_rate: float = 0.2, depth_divisor: int = 8,
                   min_depth: int = 8, bn_momentum: float = 0.9, activation: Any = "swish",
                   blocks_args: Any = "default", name: str = "efficientnetv2", include_top: bool = True,
                   weights: str | None = "imagenet", input_tensor: Any = None, input_shape: tuple | None = None,
                   pooling: str | None = None, classes: int = 1000, classifier_activation: Any = "softmax",
                   include_preprocessing: bool = True, weights_name: str | None = None) -> Model:
    """The EfficientNetV2 family's builder (Keras's ``efficientnet_v2.EfficientNetV2``).

    ``blocks_args="default"`` takes the stages of the variant ``name`` names (``"efficientnetv2-s"``, ...); as in
    Keras, a name ending in ``-b<i>`` selects the ``[0, 1]`` + ImageNet-normalization preprocessing, any other the
    ``[-1, 1]`` rescaling.
    """
    if isinstance(blocks_args, str) and blocks_args == "default":
        if name not in DEFAULT_BLOCKS_ARGS:
            raise ValueError(f"blocks_args='default' needs the name of a variant ({sorted(DEFAULT_BLOCKS_ARGS)}); "
                             f"received name={name!r}. Pass blocks_args=DEFAULT_BLOCKS_ARGS[<variant>] explicitly.")
        blocks_args = DEFAULT_BLOCKS_ARGS[name]
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                                    data_format=image_data_format(), require_flatten=include_top,
                                                    weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    bn_axis = _bn_axis()
    x = img_input
    if include_preprocessing:
        if name.split("-")[-1].startswith("b") and input_shape[bn_axis - 1] == 3:
            x = layers.Rescaling(scale=1.0 / 255)(x)
            x = layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229**2, 0.224**2, 0.225**2],
                                     axis=bn_axis)(x)
        else:
            x = layers.Rescaling(scale=1.0 / 128.0, offset=-1)(x)

    def width(filters: float) -> int:
        return round_filters(filters, width_coefficient, min_depth, depth_divisor)

    x = _conv(width(blocks_args[0]["input_filters"]), 3, "stem_conv", strides=2)(x)
    x = _bn("stem_bn", bn_momentum)(x)
    x = layers.Activation(activation, name="stem_activation")(x)
    total = float(sum(args["num_repeat"] for args in blocks_args))
    b = 0
    for i, stage in enumerate(blocks_args):
        if stage["num_repeat"] <= 0:
            raise ValueError(f"The number of repeats in `EfficientNetV2` must be > 0. Received: "
                             f"num_repeat={stage['num_repeat']}")
        args = {k: v for k, v in stage.items() if k not in ("num_repeat", "conv_type")}
        args["input_filters"], args["output_filters"] = width(args["input_filters"]), width(args["output_filters"])
        make_block = FusedMBConvBlock if stage["conv_type"] == 1 else MBConvBlock
        for j in range(round_repeats(stage["num_repeat"], depth_coefficient)):
            if j > 0:
                args["strides"], args["input_filters"] = 1, args["output_filters"]
            x = make_block(activation=activation, bn_momentum=bn_momentum,
                           survival_probability=drop_connect_rate * b / total, name=f"block{i + 1}{chr(j + 97)}_",
                           **args)(x)
            b += 1
    x = _conv(width(1280), 1, "top_conv", data_format=image_data_format())(x)
    x = _bn("top_bn", bn_momentum)(x)
    x = layers.Activation(activation=activation, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, kernel_initializer=DENSE_KERNEL_INITIALIZER,
                         bias_initializer=initializers.Constant(0.0), name="predictions")(x)
    else:
        x = imagenet_utils.global_pool(x, pooling, avg_name="avg_pool", max_name="max_pool")
    model = Model(imagenet_utils.model_inputs(input_tensor, img_input), x, name=name)
    file_name = file_hash = None
    if weights == "imagenet":
        file_name = name + (".h5" if include_top else "_notop.h5")
        file_hash = WEIGHTS_HASHES[weights_name][0 if include_top else 1]
    load_application_weights(model, weights, origin=BASE_WEIGHTS_PATH + (file_name or ""), file_name=file_name,
                             file_hash=file_hash)
    return model


def _variant(variant: str) -> Any:
    width, depth, size = _VARIANTS[variant]
    key = f"efficientnetv2-{variant}"
    weights_name = variant if variant.startswith("b") else f"-{variant}"

    def build(include_top: bool = True, weights: str | None = "imagenet", input_tensor: Any = None,
              input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
              classifier_activation: Any = "softmax", include_preprocessing: bool = True, name: str = key) -> Model:
        return EfficientNetV2(width, depth, size, blocks_args=DEFAULT_BLOCKS_ARGS[key], name=name,
                              include_top=include_top, weights=weights, input_tensor=input_tensor,
                              input_shape=input_shape, pooling=pooling, classes=classes,
                              classifier_activation=classifier_activation,
                              include_preprocessing=include_preprocessing, weights_name=weights_name)

    build.__name__ = build.__qualname__ = f"EfficientNetV2{variant.upper()}"
    # (only B0's example runs as a doctest: building every variant would take minutes of the test suite)
    skip = "" if variant == "b0" else "  # large build  # doctest: +SKIP"
    skip_result = "" if variant == "b0" else "  # the model above  # doctest: +SKIP"
    build.__doc__ = f"""EfficientNetV2{variant.upper()} ({size}x{size} by default) with Keras's layer names and
    weight layout; ``weights="imagenet"`` loads Keras's published file.

    Takes ``[0, 255]`` pixels when ``include_preprocessing`` (the default).

    >>> model = EfficientNetV2{variant.upper()}(weights=None, include_top=False, input_shape=(64, 64, 3)){skip}
    >>> model.output_shape[-1] > 0{skip_result}
    True
    """
    return build


EfficientNetV2B0 = _variant("b0")
EfficientNetV2B1 = _variant("b1")
EfficientNetV2B2 = _variant("b2")
EfficientNetV2B3 = _variant("b3")
EfficientNetV2S = _variant("s")
EfficientNetV2M = _variant("m")
EfficientNetV2L = _variant("l")


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """The identity: EfficientNetV2 models preprocess their ``[0, 255]`` inputs themselves (Keras's rule).

    >>> preprocess_input([0.0, 255.0])
    [0.0, 255.0]
    """
    return x


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The ``top`` ImageNet classes of each prediction as ``(class_id, class_name, score)`` (Keras's)."""
    return imagenet_utils.decode_predictions(preds, top=top)
