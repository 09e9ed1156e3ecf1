"""``keras.applications.vgg16``: VGG16 (Simonyan and Zisserman, 2014) with Keras's layer names and published
ImageNet weights; the builder ``vgg19`` shares.

Inputs are preprocessed with ``preprocess_input`` (``"caffe"`` mode: RGB -> BGR, ImageNet means subtracted).

>>> VGG16(weights=None, include_top=False, input_shape=(32, 32, 3)).output_shape
(None, 1, 1, 512)
"""

from __future__ import annotations

from typing import Any

from lamina.applications import imagenet_utils
from lamina.applications.weights import load_application_weights
from lamina.core import config
from lamina.layers import Conv2D, Dense, Flatten, MaxPooling2D
from lamina.models.model import Model

__all__ = ["VGG16", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/"
# md5 of the published files: (with the top, without it)
WEIGHTS_HASHES = {
    "vgg16": ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    "vgg19": ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
}


def VGG(convs: tuple[int, int, int, int, int], weights_name: str, include_top: bool = True,
        weights: Any = "imagenet", input_tensor: Any = None, input_shape: tuple | None = None,
        pooling: str | None = None, classes: int = 1000, classifier_activation: Any = "softmax",
        name: str = "vgg") -> Model:
    """Five blocks of ``convs[i]`` 3x3 ReLU convolutions (64, 128, 256, 512, 512 filters) each closed by 2x2 max
    pooling, then two 4096-unit layers and the classifier (or the pooling)."""
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=config.image_data_format(),
                                                    require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = img_input
    for block, (count, filters) in enumerate(zip(convs, (64, 128, 256, 512, 512), strict=True), start=1):
        for i in range(1, count + 1):
            x = Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="fc1")(x)
        x = Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.global_pool(x, pooling)
    model = Model(imagenet_utils.model_inputs(input_tensor, img_input), x, name=name)
    suffix = "" if include_top else "_notop"
    file_name = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    load_application_weights(model, weights, origin=f"{BASE_WEIGHTS_PATH}{weights_name}/{file_name}",
                             file_name=file_name, file_hash=WEIGHTS_HASHES[weights_name][0 if include_top else 1])
    return model


def VGG16(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
          input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
          classifier_activation: Any = "softmax", name: str = "vgg16") -> Model:
    """VGG16 as ``keras.applications.VGG16``: ``weights`` is ``None``, ``"imagenet"`` or a weights file; with
    ``include_top`` the input must be 224x224 (the classifier flattens a 7x7 map). Preprocess inputs with
    ``lamina.applications.vgg16.preprocess_input``.

    >>> model = VGG16(weights=None, include_top=False, pooling="max")  # large build  # doctest: +SKIP
    >>> model.output_shape  # the model above  # doctest: +SKIP
    (None, 512)
    """
    return VGG((2, 2, 3, 3, 3), "vgg16", include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """VGG's preprocessing: RGB -> BGR and ImageNet's channel means subtracted (``"caffe"`` mode).

    >>> import numpy as np
    >>> preprocess_input(np.zeros((1, 1, 1, 3)))[0, 0, 0]
    array([-103.939, -116.779, -123.68 ])
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds: Any, top: int = 5) -> list:
    """The top ImageNet classes of each prediction (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
