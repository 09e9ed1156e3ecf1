"""``keras.applications.imagenet_utils``: ImageNet preprocessing and decoding, and the argument checks every
architecture shares.

``preprocess_input(x, mode=...)`` scales images as the published weights expect: ``"caffe"`` (RGB -> BGR, minus
the ImageNet channel means, no scaling), ``"tf"`` (to ``[-1, 1]``), ``"torch"`` (to ``[0, 1]``, then ImageNet's
means and standard deviations). ``decode_predictions`` names the top classes; the class index is data (a JSON
file fetched once with its published hash through :func:`lamina.utils.get_file`), never code.

>>> import numpy as np
>>> preprocess_input(np.full((1, 2, 2, 3), 255.0), mode="tf")[0, 0, 0]
array([1., 1., 1.])
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch

from lamina import activations, ops
from lamina.core import bounded_json, config
from lamina.data.download import get_file
from lamina.layers.core import Dense, Input
from lamina.layers.pooling import GlobalAveragePooling2D, GlobalMaxPooling2D
from lamina.layers.symbolic import SymbolicTensor
from lamina.utils.graph_sources import get_source_inputs

__all__ = ["decode_predictions", "preprocess_input"]

CLASS_INDEX_PATH = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"  # md5, as Keras publishes it
_CLASS_INDEX: dict[str, list[str]] | None = None

CAFFE_MEAN = (103.939, 116.779, 123.68)  # BGR order
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


def _check_format(data_format: str | None) -> str:
    if data_format is None:
        return config.image_data_format()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("Expected data_format to be one of `channels_first` or `channels_last`. "
                         f"Received: data_format={data_format!r}")
    return data_format


def preprocess_input(x: Any, data_format: str | None = None, mode: str = "caffe") -> Any:
    """Preprocess a batch of images (values in ``[0, 255]``, 3 channels, 3-D or 4-D) as ImageNet weights expect.

    A float NumPy array is written over (as Keras does; pass ``np.copy(x)`` to keep it), other NumPy arrays are
    converted to float32; tensors (eager or symbolic, e.g. ``lamina.Input``) give a new tensor.

    Args:
        x: the images, NumPy array or tensor.
        data_format: ``"channels_last"`` or ``"channels_first"``; ``None`` means the global image data format.
        mode: ``"caffe"`` (RGB -> BGR, zero-centred by ImageNet's means, no scaling), ``"tf"`` (scaled to
            ``[-1, 1]``) or ``"torch"`` (scaled to ``[0, 1]``, then normalised by ImageNet's means and stds).

    >>> preprocess_input(np.zeros((1, 1, 1, 3)))[0, 0, 0]  # caffe: BGR minus the means
    array([-103.939, -116.779, -123.68 ])
    """
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError(f"Expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode!r}")
    data_format = _check_format(data_format)
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    if isinstance(x, SymbolicTensor):
        return _preprocess_symbolic(x, data_format, mode)
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x, dtype=config.floatx()))
    return _preprocess_tensor(x, data_format, mode)


def _channel_axis(ndim: int, data_format: str) -> int:
    if data_format == "channels_last":
        return ndim - 1
    return 0 if ndim == 3 else 1


def _constants(mode: str) -> tuple[float, tuple[float, ...], tuple[float, ...] | None, bool]:
    """(scale, mean, std, flip to BGR) for ``mode`` other than ``"tf"``."""
    if mode == "torch":
        return 255.0, TORCH_MEAN, TORCH_STD, False
    return 1.0, CAFFE_MEAN, None, True


def _preprocess_numpy(x: np.ndarray, data_format: str, mode: str) -> np.ndarray:
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(config.floatx())
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    scale, mean, std, flip = _constants(mode)
    axis = _channel_axis(x.ndim, data_format)
    if flip:
        x = np.flip(x, axis=axis)
    if scale != 1.0:
        x /= scale
    shape = [1] * x.ndim
    shape[axis] = 3
    x -= np.asarray(mean, dtype=x.dtype).reshape(shape)
    if std is not None:
        x /= np.asarray(std, dtype=x.dtype).reshape(shape)
    return x


def _preprocess_tensor(x: torch.Tensor, data_format: str, mode: str) -> torch.Tensor:
    if not x.is_floating_point():
        x = x.to(config.floatx())
    if mode == "tf":
        return x / 127.5 - 1.0
    scale, mean, std, flip = _constants(mode)
    axis = _channel_axis(x.dim(), data_format)
    if flip:
        x = x.flip(axis)
    shape = [1] * x.dim()
    shape[axis] = 3
    x = x / scale - torch.tensor(mean, dtype=x.dtype, device=x.device).reshape(shape)
    if std is not None:
        x = x / torch.tensor(std, dtype=x.dtype, device=x.device).reshape(shape)
    return x


def _preprocess_symbolic(x: SymbolicTensor, data_format: str, mode: str) -> SymbolicTensor:
    """The same arithmetic through ``lamina.ops`` with Python scalars only, so it records into a functional
    model (one op per channel)."""
    if mode == "tf":
        return x / 127.5 - 1.0
    scale, mean, std, flip = _constants(mode)
    axis = _channel_axis(len(x.shape), data_format)
    order = (2, 1, 0) if flip else (0, 1, 2)
    channels = []
    for out, c in enumerate(order):
        channel = ops.take(x, c, axis=axis) / scale - mean[out]
        channels.append(channel if std is None else channel / std[out])
    return ops.stack(channels, axis=axis)


def decode_predictions(preds: Any, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """The ``top`` ImageNet classes of each prediction, as ``(class_id, class_name, score)`` tuples, best first.

    The class index (``imagenet_class_index.json``, Keras's URL and hash) is fetched once into lamina's cache
    (``~/.lamina/models``) and read as JSON.

    >>> decode_predictions(model.predict(images), top=3)[0]  # doctest: +SKIP
    [('n02504458', 'African_elephant', 0.82), ...]
    """
    global _CLASS_INDEX
    if isinstance(preds, torch.Tensor):
        preds = preds.detach().cpu().numpy()
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
                         f"(samples, 1000)). Received array with shape: {preds.shape}")
    if _CLASS_INDEX is None:
        path = get_file("imagenet_class_index.json", CLASS_INDEX_PATH, cache_subdir="models",
                        file_hash=CLASS_INDEX_HASH)
        with open(path, "rb") as f:
            index = bounded_json.loads(f.read(), "ImageNet's class index")
        if not isinstance(index, dict) or len(index) != 1000:
            raise ValueError(f"{path} is not ImageNet's class index (a JSON object of 1000 classes).")
        _CLASS_INDEX = index
    results = []
    for pred in preds:
        best = np.argsort(pred, kind="stable")[-top:][::-1]
        results.append([(*_CLASS_INDEX[str(i)], pred[i]) for i in best])
    return results


def obtain_input_shape(input_shape: tuple | None, default_size: int, min_size: int, data_format: str,
                       require_flatten: bool, weights: str | None = None) -> tuple:
    """The model's input shape (no batch dimension): ``input_shape`` checked against the family's minimum size
    and, with ImageNet weights, 3 channels (and the default size when the top is included), or the default.

    >>> obtain_input_shape(None, 224, 32, "channels_last", require_flatten=True)
    (224, 224, 3)
    >>> obtain_input_shape(None, 224, 32, "channels_last", require_flatten=False)
    (None, None, 3)
    """
    first = data_format == "channels_first"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if first else input_shape[-1]
        if channels not in (1, 3):
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was passed an "
                          f"input_shape with {channels} input channels.", stacklevel=3)
        default_shape = (channels, default_size, default_size) if first else (default_size, default_size, channels)
    else:
        default_shape = (3, default_size, default_size) if first else (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(f"When setting `include_top=True` and loading `imagenet` weights, `input_shape` should "
                             f"be {default_shape}.  Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be a tuple of three integers. Received: input_shape={input_shape}")
        channels, spatial = (input_shape[0], input_shape[1:]) if first else (input_shape[-1], input_shape[:2])
        if channels != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
        if any(s is not None and s < min_size for s in spatial):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if first else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static `input_shape`. "
                         f"Received: input_shape={input_shape}")
    return input_shape


def correct_pad(inputs: SymbolicTensor, kernel_size: int | tuple[int, int]) -> tuple:
    """The ``ZeroPadding2D`` padding that makes a strided ``valid`` convolution see the input as TensorFlow's
    ``same`` padding would (what the published weights were trained with).

    >>> correct_pad(Input((224, 224, 3)), 3)
    ((0, 1), (0, 1))
    """
    axis = 2 if config.image_data_format() == "channels_first" else 1
    size = tuple(inputs.shape[axis:axis + 2])
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = (kernel_size[0] // 2, kernel_size[1] // 2)
    return (half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1])


def validate_activation(classifier_activation: Any, weights: Any) -> None:
    """With pretrained weights the classifier's activation may only be ``None`` or ``"softmax"`` (the weights
    were trained for a softmax top)."""
    if weights is None:
        return
    fn = activations.get(classifier_activation)
    if fn not in (activations.get("softmax"), activations.get(None)):
        raise ValueError("Only `None` and `softmax` activations are allowed for the `classifier_activation` argument "
                         "when using pretrained weights, with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")


def check_weights_argument(weights: Any, include_top: bool, classes: int) -> None:
    """Keras's checks of ``weights`` and ``classes``, before any layer is built: ``weights`` is ``None``,
    ``"imagenet"`` or the path of an existing file; ImageNet weights with the top need ``classes=1000``."""
    if not (weights in (None, "imagenet") or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError("The `weights` argument should be either `None` (random initialization), 'imagenet' "
                         "(pre-training on ImageNet), or the path to the weights file to be loaded.  Received: "
                         f"weights={weights}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
                         f"Received classes={classes}")


def image_input(input_tensor: Any, input_shape: tuple) -> SymbolicTensor:
    """The architecture's image input: ``Input(shape=input_shape)``, or ``input_tensor`` itself when given (a
    symbolic tensor, e.g. the output of another model's layer)."""
    if input_tensor is None:
        return Input(shape=input_shape)
    if not isinstance(input_tensor, SymbolicTensor):
        raise ValueError("`input_tensor` must be a symbolic tensor (the output of `lamina.Input(...)` or of layers "
                         f"called on one); received {type(input_tensor).__name__}. Pass input_shape= instead, or "
                         "wrap your tensor: input_tensor=lamina.Input(tensor.shape[1:]).")
    return input_tensor


def model_inputs(input_tensor: Any, img_input: SymbolicTensor) -> Any:
    """The model's inputs: the sources of ``input_tensor`` when one was given (so its predecessors stay part of
    the model), else the image input."""
    if input_tensor is None:
        return img_input
    sources = get_source_inputs(input_tensor)
    return sources[0] if len(sources) == 1 else sources


def global_pool(x: SymbolicTensor, pooling: str | None, avg_name: str | None = None,
                max_name: str | None = None) -> SymbolicTensor:
    """``pooling="avg"`` / ``"max"`` of a headless model (global pooling named as the family's Keras module
    names it: ``avg_pool`` / ``max_pool``, or automatic names where Keras gives none)."""
    if pooling == "avg":
        return GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return GlobalMaxPooling2D(name=max_name)(x)
    return x


def classifier_or_pool(x: SymbolicTensor, include_top: bool, pooling: str | None, classes: int,
                       classifier_activation: Any, weights: Any, top_pool_name: str | None = "avg_pool",
                       pool_names: tuple[str | None, str | None] = (None, None)) -> SymbolicTensor:
    """The common end of an architecture: with ``include_top``, global average pooling (``top_pool_name``) and
    the ``"predictions"`` Dense layer (``classifier_activation`` checked against ``weights`` first); else
    ``global_pool`` (``pool_names``: the avg and max layers' names where the family's Keras module names them)."""
    if not include_top:
        return global_pool(x, pooling, *pool_names)
    validate_activation(classifier_activation, weights)
    x = GlobalAveragePooling2D(name=top_pool_name)(x)
    return Dense(classes, activation=classifier_activation, name="predictions")(x)
