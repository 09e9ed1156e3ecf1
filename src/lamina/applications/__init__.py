"""``lamina.applications``: Keras's model zoo (``keras.applications``) with Keras's published weights.

Each architecture is a function with Keras's signature that builds a functional :class:`lamina.Model` with
Keras's layer names, order and weight layout; ``weights="imagenet"`` fetches the file Keras publishes (checked
against its published hash, cached through :func:`lamina.utils.get_file`). Family modules (``resnet``,
``mobilenet_v2``, ...) are imported on first use, so ``import lamina`` stays fast.

>>> import lamina
>>> model = lamina.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), classes=10)
>>> model.output_shape
(None, 10)
"""

from __future__ import annotations

import importlib

# public name -> family module (Keras's own module names)
_FAMILY = {
    "ConvNeXtTiny": "convnext", "ConvNeXtSmall": "convnext", "ConvNeXtBase": "convnext",
    "ConvNeXtLarge": "convnext", "ConvNeXtXLarge": "convnext",
    "DenseNet121": "densenet", "DenseNet169": "densenet", "DenseNet201": "densenet",
    **{f"EfficientNetB{i}": "efficientnet" for i in range(8)},
    **{f"EfficientNetV2{s}": "efficientnet_v2" for s in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    "InceptionResNetV2": "inception_resnet_v2", "InceptionV3": "inception_v3",
    "MobileNet": "mobilenet", "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": "mobilenet_v3", "MobileNetV3Large": "mobilenet_v3",
    "NASNetMobile": "nasnet", "NASNetLarge": "nasnet",
    "ResNet50": "resnet", "ResNet101": "resnet", "ResNet152": "resnet",
    "ResNet50V2": "resnet_v2", "ResNet101V2": "resnet_v2", "ResNet152V2": "resnet_v2",
    "VGG16": "vgg16", "VGG19": "vgg19", "Xception": "xception",
}
_MODULES = ("convnext", "densenet", "efficientnet", "efficientnet_v2", "imagenet_utils", "inception_resnet_v2",
            "inception_v3", "mobilenet", "mobilenet_v2", "mobilenet_v3", "nasnet", "resnet", "resnet50",
            "resnet_v2", "vgg16", "vgg19", "xception")


def __getattr__(name: str) -> object:
    if name in _FAMILY:
        return getattr(importlib.import_module(f"lamina.applications.{_FAMILY[name]}"), name)
    if name in _MODULES:
        return importlib.import_module(f"lamina.applications.{name}")
    raise AttributeError(f"module 'lamina.applications' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*_FAMILY, *_MODULES})


__all__ = sorted(_FAMILY)
