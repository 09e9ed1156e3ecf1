"""Images as files, PIL images and arrays: ``load_img``, ``img_to_array``, ``array_to_img`` and ``save_img``, as
``keras.utils`` has them. They need Pillow (``pip install lamina[images]``), imported when first called.

>>> import numpy as np
>>> img = array_to_img(np.zeros((2, 3, 3)), scale=False)
>>> img.size, img.mode
((3, 2), 'RGB')
>>> img_to_array(img).shape
(2, 3, 3)
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from lamina.core import config

#: Pillow's resampling filters by Keras's names (``load_img``'s ``interpolation``).
PIL_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}


def require_pil() -> Any:
    """The ``PIL.Image`` module, or an ImportError saying how to install Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("Reading and writing images needs Pillow: `pip install pillow` "
                          "(or `pip install lamina[images]`).") from None
    return Image


def _data_format(data_format: str | None) -> str:
    data_format = data_format or config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f'`data_format` must be "channels_last" or "channels_first"; received {data_format!r}.')
    return data_format


def convert_color(img: Any, color_mode: str) -> Any:
    """``img`` in the mode ``color_mode`` asks for (grayscale keeps Pillow's 16/32-bit integer modes)."""
    if color_mode not in COLOR_MODES:
        raise ValueError(f'color_mode must be "grayscale", "rgb", or "rgba"; received {color_mode!r}.')
    if color_mode == "grayscale":
        return img if img.mode in ("L", "I;16", "I") else img.convert("L")
    mode = COLOR_MODES[color_mode]
    return img if img.mode == mode else img.convert(mode)


def load_img(path: Any, color_mode: str = "rgb", target_size: tuple[int, int] | None = None,
             interpolation: str = "nearest", keep_aspect_ratio: bool = False) -> Any:
    """Load an image file into a PIL image, as ``keras.utils.load_img``.

    Args:
        path: a file path (``str`` or ``pathlib.Path``) or a binary file object (e.g. ``io.BytesIO``).
        color_mode: ``"rgb"``, ``"rgba"`` or ``"grayscale"``: the image is converted to that mode.
        target_size: ``(height, width)`` to resize to, or None to keep the file's size.
        interpolation: Pillow's filter for the resize: ``"nearest"``, ``"bilinear"``, ``"bicubic"``,
            ``"hamming"``, ``"box"`` or ``"lanczos"``.
        keep_aspect_ratio: resize the largest centered crop with ``target_size``'s aspect ratio instead of
            stretching the whole image.

    Returns:
        A ``PIL.Image.Image``.

    >>> img = load_img("photo.jpg", target_size=(224, 224))  # needs an image file  # doctest: +SKIP
    """
    image_module = require_pil()
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as f:
            img = image_module.open(f)
            img.load()
    elif hasattr(path, "read"):
        img = image_module.open(path)
    else:
        raise TypeError(f"path should be a path-like or a binary file object (io.BytesIO); received {type(path)}.")
    img = convert_color(img, color_mode)
    if target_size is None:
        return img
    height, width = (int(s) for s in target_size)
    if img.size == (width, height):
        return img
    if interpolation not in PIL_INTERPOLATIONS:
        raise ValueError(f"Invalid interpolation method {interpolation!r}: supported are "
                         f"{', '.join(PIL_INTERPOLATIONS)}.")
    resample = getattr(image_module.Resampling, interpolation.upper())
    box = None
    if keep_aspect_ratio:
        src_w, src_h = img.size
        crop_h = min(src_h, (src_w * height) // width)
        crop_w = min(src_w, (src_h * width) // height)
        top, left = (src_h - crop_h) // 2, (src_w - crop_w) // 2
        box = (left, top, left + crop_w, top + crop_h)
    return img.resize((width, height), resample, box=box)


def img_to_array(img: Any, data_format: str | None = None, dtype: Any = None) -> np.ndarray:
    """A PIL image as a 3-D array, ``(height, width, channels)`` (or channels first), as
    ``keras.utils.img_to_array``; ``dtype`` defaults to ``floatx()`` (float32).

    >>> img_to_array(array_to_img(np.ones((2, 2, 1)), scale=False), data_format="channels_first").shape
    (1, 2, 2)
    """
    data_format = _data_format(data_format)
    x = np.asarray(img, dtype=dtype or config.floatx())
    if x.ndim == 2:
        return x.reshape((1, *x.shape) if data_format == "channels_first" else (*x.shape, 1))
    if x.ndim == 3:
        return x.transpose(2, 0, 1) if data_format == "channels_first" else x
    raise ValueError(f"Unsupported image shape: {x.shape}. Expected a 2-D (grayscale) or 3-D image.")


def array_to_img(x: Any, data_format: str | None = None, scale: bool = True, dtype: Any = None) -> Any:
    """A 3-D array as a PIL image, as ``keras.utils.array_to_img``: 1 channel gives mode ``"L"`` (``"I"``
    when values exceed 255 after scaling), 3 ``"RGB"``, 4 ``"RGBA"``. ``scale=True`` first maps the values
    linearly onto ``[0, 255]`` (minimum to 0, maximum to 255)."""
    image_module = require_pil()
    data_format = _data_format(data_format)
    x = np.asarray(x, dtype=dtype or config.floatx())
    if x.ndim != 3:
        raise ValueError(f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x = x / top
        x = x * 255
    channels = x.shape[2]
    if channels == 4:
        return image_module.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return image_module.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return image_module.fromarray(x[:, :, 0].astype("int32"), "I")
        return image_module.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}. An image has 1, 3 or 4 channels.")


def save_img(path: Any, x: Any, data_format: str | None = None, file_format: str | None = None,
             scale: bool = True, **kwargs: Any) -> None:
    """Save a 3-D array as an image file, as ``keras.utils.save_img``: ``file_format`` (e.g. ``"png"``) defaults
    to the file's extension; ``kwargs`` go to ``PIL.Image.Image.save``. An RGBA array saved as JPEG is converted
    to RGB with a warning.

    >>> save_img("out.png", np.zeros((8, 8, 3)))  # writes a file  # doctest: +SKIP
    """
    img = array_to_img(x, data_format=data_format, scale=scale)
    if file_format is None and isinstance(path, (str, os.PathLike)):
        file_format = os.path.splitext(os.fspath(path))[1][1:].lower() or None
    if file_format is not None and file_format.lower() == "jpg":
        file_format = "jpeg"
    if img.mode == "RGBA" and file_format is not None and file_format.lower() == "jpeg":
        warnings.warn("The JPG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)
