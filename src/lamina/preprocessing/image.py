"""``keras.preprocessing.image``: loading, saving and converting images, and ``smart_resize``.

>>> import numpy as np
>>> smart_resize(np.zeros((4, 6, 3), "float32"), (3, 3)).shape
(3, 3, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lamina.data.image_resize import resize_image
from lamina.data.images import array_to_img, img_to_array, load_img, save_img


def smart_resize(x: Any, size: tuple[int, int], interpolation: str = "bilinear",
                 data_format: str = "channels_last", **kwargs: Any) -> np.ndarray:
    """An image ``(height, width, channels)`` or a batch of them resized to ``size`` without distortion: the
    largest centred window of the target's aspect ratio is cropped, then resized (Keras's ``smart_resize``)."""
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first'; received {data_format!r}.")
    array = np.asarray(x)
    if array.ndim not in (3, 4):
        raise ValueError(f"smart_resize expects an image (height, width, channels) or a batch of them; received "
                         f"an array of shape {array.shape}.")
    batch = array if array.ndim == 4 else array[None]
    if data_format == "channels_first":
        batch = batch.transpose(0, 2, 3, 1)
    out = np.stack([resize_image(image, size, interpolation, crop_to_aspect_ratio=True) for image in batch])
    if data_format == "channels_first":
        out = out.transpose(0, 3, 1, 2)
    return out if array.ndim == 4 else out[0]


__all__ = ["array_to_img", "img_to_array", "load_img", "save_img", "smart_resize"]
