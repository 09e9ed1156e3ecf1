"""ConvNeXt Tiny, Small, Base, Large, XLarge (Liu et al., 2022, https://arxiv.org/abs/2201.03545), as Keras's.

The models embed their preprocessing (a ``Normalization`` by ImageNet's mean and variance on ``[0, 255]`` pixels,
unless ``include_preprocessing=False``), so :func:`preprocess_input` returns its input unchanged. Each block ends
in a :class:`LayerScale` and, where ``drop_path_rate`` asks for it, a :class:`StochasticDepth`.

>>> from lamina.applications import convnext
>>> model = convnext.ConvNeXtTiny(weights=None, input_shape=(32, 32, 3), classes=10)
>>> model.name, model.output_shape
('convnext_tiny', (None, 10))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lamina import initializers, layers
from lamina.applications import imagenet_utils
from lamina.applications.weights import load_application_weights
from lamina.core.config import image_data_format
from lamina.core.random import SeedGenerator
from lamina.core.serialization import register_serializable
from lamina.layers.layer import Layer
from lamina.models import Model, Sequential

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"
# variant -> (hash of the file with the top, hash of the file without), Keras's published SHA-256s
WEIGHTS_HASHES = {
    "convnext_tiny": ("8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
                      "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
    "convnext_small": ("ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
                       "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab"),
    "convnext_base": ("52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
                      "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45"),
    "convnext_large": ("070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
                       "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd"),
    "convnext_xlarge": ("c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
                        "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05"),
}
MODEL_CONFIGS = {
    "tiny": {"depths": [3, 3, 9, 3], "projection_dims": [96, 192, 384, 768], "default_size": 224},
    "small": {"depths": [3, 3, 27, 3], "projection_dims": [96, 192, 384, 768], "default_size": 224},
    "base": {"depths": [3, 3, 27, 3], "projection_dims": [128, 256, 512, 1024], "default_size": 224},
    "large": {"depths": [3, 3, 27, 3], "projection_dims": [192, 384, 768, 1536], "default_size": 224},
    "xlarge": {"depths": [3, 3, 27, 3], "projection_dims": [256, 512, 1024, 2048], "default_size": 224},
}


@register_serializable(package="lamina.applications")
class StochasticDepth(Layer):
    """Drops a whole residual branch per sample with probability ``drop_path_rate`` while training (and scales the
    kept ones by ``1 / (1 - drop_path_rate)``); the identity at inference (Keras's ConvNeXt layer).

    >>> StochasticDepth(0.5)(torch.ones(2, 3), training=False)
    tensor([[1., 1., 1.],
            [1., 1., 1.]])
    """

    def __init__(self, drop_path_rate: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.drop_path_rate = drop_path_rate
        self._seed_generator = SeedGenerator(None)
        self.built = True

    def call(self, x: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training:
            return x
        keep_prob = 1 - self.drop_path_rate
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)  # one draw per sample
        draw = torch.rand(shape, dtype=x.dtype, device=x.device,
                          generator=self._seed_generator.for_device(x.device))
        return x / keep_prob * torch.floor(keep_prob + draw)

    def get_config(self) -> dict:
        return {**super().get_config(), "drop_path_rate": self.drop_path_rate}


@register_serializable(package="lamina.applications")
class LayerScale(Layer):
    """Multiplies the last axis by a learned per-channel ``gamma`` that starts at ``init_values`` (Keras's
    ConvNeXt layer).

    >>> LayerScale(0.5, 3)(torch.ones(1, 3))
    tensor([[0.5000, 0.5000, 0.5000]], grad_fn=<MulBackward0>)
    """

    def __init__(self, init_values: float, projection_dim: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape: tuple) -> None:
        self.gamma = self.add_weight(shape=(self.projection_dim,), initializer=initializers.Constant(self.init_values),
                                     trainable=True)

    def call(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma

    def get_config(self) -> dict:
        return {**super().get_config(), "init_values": self.init_values, "projection_dim": self.projection_dim}


def ConvNeXtBlock(projection_dim: int, drop_path_rate: float = 0.0, layer_scale_init_value: float | None = 1e-6,  # noqa: N802
                  name: str | None = None) -> Any:
    """One ConvNeXt block: 7x7 depthwise convolution, LayerNormalization, an inverted MLP (GELU), LayerScale,
    stochastic depth, residual sum."""
    name = "prestem" if name is None else name

    def apply(inputs: Any) -> Any:
        x = layers.Conv2D(filters=projection_dim, kernel_size=7, padding="same", groups=projection_dim,
                          name=f"{name}_depthwise_conv")(inputs)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_layernorm")(x)
        x = layers.Dense(4 * projection_dim, name=f"{name}_pointwise_conv_1")(x)
        x = layers.Activation("gelu", name=f"{name}_gelu")(x)
        x = layers.Dense(projection_dim, name=f"{name}_pointwise_conv_2")(x)
        if layer_scale_init_value is not None:
            x = LayerScale(layer_scale_init_value, projection_dim, name=f"{name}_layer_scale")(x)
        if drop_path_rate:
            last = StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")
        else:
            last = layers.Activation("linear", name=f"{name}_identity")
        return inputs + last(x)

    return apply


def PreStem(name: str | None = None) -> Any:  # noqa: N802
    """Normalization of ``[0, 255]`` pixels by ImageNet's mean and variance (as constants, not weights)."""
    name = "prestem" if name is None else name

    def apply(x: Any) -> Any:
        return layers.Normalization(mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
                                    variance=[(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2],
                                    name=f"{name}_prestem_normalization")(x)

    return apply


def Head(num_classes: int = 1000, classifier_activation: Any = None, name: str | None = None) -> Any:  # noqa: N802
    """The classification head: global average pooling, LayerNormalization, Dense."""
    name = "head" if name is None else name

    def apply(x: Any) -> Any:
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_head_layernorm")(x)
        return layers.Dense(num_classes, activation=classifier_activation, name=f"{name}_head_dense")(x)

    return apply


def ConvNeXt(depths: list, projection_dims: list, drop_path_rate: float = 0.0,  # noqa: N802
             layer_scale_init_value: float | None = 1e-6, default_size: int = 224, name: str = "convnext",
             include_preprocessing: bool = True, include_top: bool = True, weights: str | None = None,
             input_tensor: Any = None, input_shape: tuple | None = None, pooling: str | None = None,
             classes: int = 1000, classifier_activation: Any = "softmax", weights_name: str | None = None) -> Model:
    """The ConvNeXt family's builder (Keras's ``convnext.ConvNeXt``): four stages of ``depths[i]`` blocks of width
    ``projection_dims[i]``, a patchify stem and LayerNormalization + 2x2 convolution downsampling between stages."""
    if image_data_format() == "channels_first":
        raise ValueError("ConvNeXt does not support the `channels_first` image data format. Switch to "
                         "`channels_last`: lamina.config.set_image_data_format('channels_last').")
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                                    data_format=image_data_format(), require_flatten=include_top,
                                                    weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    inputs = img_input if input_tensor is None else imagenet_utils.model_inputs(input_tensor, img_input)
    x = img_input
    if include_preprocessing and input_shape[-1] == 3:
        x = PreStem(name=name)(x)
    stem = Sequential([layers.Conv2D(projection_dims[0], kernel_size=4, strides=4, name=f"{name}_stem_conv"),
                       layers.LayerNormalization(epsilon=1e-6, name=f"{name}_stem_layernorm")],
                      name=f"{name}_stem")
    downsampling = [stem] + [
        Sequential([layers.LayerNormalization(epsilon=1e-6, name=f"{name}_downsampling_layernorm_{i}"),
                    layers.Conv2D(projection_dims[i + 1], kernel_size=2, strides=2,
                                  name=f"{name}_downsampling_conv_{i}")],
                   name=f"{name}_downsampling_block_{i}")
        for i in range(3)]
    drop_rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
    cur = 0
    for i in range(4):
        x = downsampling[i](x)
        for j in range(depths[i]):
            x = ConvNeXtBlock(projection_dim=projection_dims[i], drop_path_rate=drop_rates[cur + j],
                              layer_scale_init_value=layer_scale_init_value, name=f"{name}_stage_{i}_block_{j}")(x)
        cur += depths[i]
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Head(num_classes=classes, classifier_activation=classifier_activation, name=name)(x)
    else:
        if pooling == "avg":
            x = layers.GlobalAveragePooling2D()(x)
        elif pooling == "max":
            x = layers.GlobalMaxPooling2D()(x)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
    model = Model(inputs=inputs, outputs=x, name=name)
    file_name = file_hash = None
    if weights == "imagenet":
        variant = weights_name.split("convnext_")[-1]
        expected = MODEL_CONFIGS[variant]
        if depths != expected["depths"] or projection_dims != expected["projection_dims"]:
            raise ValueError(f"Architecture configuration does not match {weights_name} variant: the ImageNet "
                             f"weights need depths {expected['depths']} (got {depths}) and projection_dims "
                             f"{expected['projection_dims']} (got {projection_dims}). Pass weights=None to train "
                             "another configuration.")
        if weights_name not in name:
            raise ValueError(f'Model name "{name}" does not match weights variant "{weights_name}". With imagenet '
                             f'weights the model name must contain the variant (e.g. "convnext_{variant}").')
        file_name = name + (".h5" if include_top else "_notop.h5")
        file_hash = WEIGHTS_HASHES[weights_name][0 if include_top else 1]
    load_application_weights(model, weights, origin=BASE_WEIGHTS_PATH + (file_name or ""), file_name=file_name,
                             file_hash=file_hash)
    return model


def _variant(variant: str, public: str) -> Any:
    config = MODEL_CONFIGS[variant]

    def build(include_top: bool = True, include_preprocessing: bool = True, weights: str | None = "imagenet",
              input_tensor: Any = None, input_shape: tuple | None = None, pooling: str | None = None,
              classes: int = 1000, classifier_activation: Any = "softmax", name: str = f"convnext_{variant}") -> Model:
        return ConvNeXt(weights_name=f"convnext_{variant}", depths=config["depths"],
                        projection_dims=config["projection_dims"], drop_path_rate=0.0, layer_scale_init_value=1e-6,
                        default_size=config["default_size"], name=name, include_top=include_top,
                        include_preprocessing=include_preprocessing, weights=weights, input_tensor=input_tensor,
                        input_shape=input_shape, pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation)

    build.__name__ = build.__qualname__ = public
    # (only ConvNeXtTiny's example runs as a doctest: building every variant would take minutes of the suite)
    skip = "" if public == "ConvNeXtTiny" else "  # large build  # doctest: +SKIP"
    skip_result = "" if public == "ConvNeXtTiny" else "  # the model above  # doctest: +SKIP"
    build.__doc__ = f"""{public} (depths {config['depths']}, widths {config['projection_dims']}) with Keras's layer
    names and weight layout; ``weights="imagenet"`` loads Keras's published file.

    Takes ``[0, 255]`` pixels when ``include_preprocessing`` (the default).

    >>> model = {public}(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg"){skip}
    >>> model.output_shape{skip_result}
    (None, {config['projection_dims'][-1]})
    """
    return build


ConvNeXtTiny = _variant("tiny", "ConvNeXtTiny")
ConvNeXtSmall = _variant("small", "ConvNeXtSmall")
ConvNeXtBase = _variant("base", "ConvNeXtBase")
ConvNeXtLarge = _variant("large", "ConvNeXtLarge")
ConvNeXtXLarge = _variant("xlarge", "ConvNeXtXLarge")


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """The identity: ConvNeXt models normalize their ``[0, 255]`` inputs themselves (Keras's rule).

    >>> preprocess_input([0.0, 255.0])
    [0.0, 255.0]
    """
    return x


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The ``top`` ImageNet classes of each prediction as ``(class_id, class_name, score)`` (Keras's)."""
    return imagenet_utils.decode_predictions(preds, top=top)
