"""``draw_segmentation_masks``: Keras's ``keras.visualization.draw_segmentation_masks``.

>>> import numpy as np
>>> images = np.full((1, 2, 2, 3), 100, "uint8")
>>> masks = np.array([[[0, 1], [1, 2]]])
>>> out = draw_segmentation_masks(images, masks, num_classes=3, color_mapping={0: (0, 0, 0), 1: (255, 0, 0),
...                               2: (0, 255, 0)}, alpha=0.5, ignore_index=0)
>>> out[0, :, :, 0].tolist()
[[100, 177], [177, 50]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lamina.visualization.images import as_image_batch, to_numpy


def default_palette(num_classes: int) -> list[list[int]]:
    """The colors Keras gives classes 0, 1, ... when no ``color_mapping`` is given (class 0 is black).

    >>> default_palette(3)
    [[0, 0, 0], [1, 127, 31], [2, 254, 62]]
    """
    steps = np.array([2**25 - 1, 2**15 - 1, 2**21 - 1], dtype="int64")
    return [(k * steps % 255).tolist() for k in range(num_classes)]


def _masks_batch(masks: Any, batch: np.ndarray, channels_first: bool) -> np.ndarray:
    """``masks`` as an integer ``(batch, height, width)`` array matching ``batch``'s images."""
    array = to_numpy(masks)
    if array.dtype.kind not in "iu":
        raise TypeError(f"`segmentation_masks` must hold integer class indices; got dtype {array.dtype}.")
    if array.ndim == 4:
        if array.shape[1 if channels_first else 3] != 1:
            raise ValueError(f"4D segmentation masks must have one channel; got shape {array.shape}.")
        array = array[:, 0] if channels_first else array[..., 0]
    if array.shape != batch.shape[:3]:
        raise ValueError(f"`segmentation_masks` must be (batch, height, width) or (batch, height, width, 1) to match "
                         f"images of shape {batch.shape} (channels last); got shape {to_numpy(masks).shape}.")
    return array


def _class_colors(num_classes: int, color_mapping: Mapping[int, Sequence[float]] | None,
                  channels: int) -> np.ndarray:
    if color_mapping is None:
        colors = default_palette(num_classes)
    else:
        missing = [c for c in range(num_classes) if c not in color_mapping]
        if missing:
            raise KeyError(f"color_mapping must give a color to every class 0..{num_classes - 1}; missing {missing}.")
        colors = [color_mapping[c] for c in range(num_classes)]
    if not colors:
        return np.zeros((0, channels), "float32")
    table = np.asarray(colors, dtype="float32").reshape(num_classes, -1)
    if table.shape[1] not in (1, channels):
        raise ValueError(f"Colors must have 1 or {channels} components (the images' channels); got "
                         f"{table.shape[1]}.")
    return np.broadcast_to(table, (num_classes, channels))


def draw_segmentation_masks(
    images: Any,
    segmentation_masks: Any,
    num_classes: int | None = None,
    color_mapping: Mapping[int, Sequence[float]] | None = None,
    alpha: float = 0.8,
    blend: bool = True,
    ignore_index: int = -1,
    data_format: str | None = None,
) -> np.ndarray:
    """Overlay segmentation masks (class indices) on a batch of images, one color per class.

    Args:
        images: ``(batch, height, width, channels)`` images (channels first with ``data_format="channels_first"``).
        segmentation_masks: integer class indices, ``(batch, height, width)`` or ``(batch, height, width, 1)``
            (``(batch, 1, height, width)`` channels first). Pixels of class ``c`` get ``color_mapping[c]``; pixels
            outside ``0..num_classes - 1`` and pixels equal to ``ignore_index`` are left as they are.
        num_classes: the number of classes; None: the masks' largest value plus one.
        color_mapping: class index -> color for classes 0..num_classes - 1; None: a fixed palette in which
            class 0 is black (pass ``ignore_index=0`` to leave a background class 0 undrawn).
        alpha: the opacity of the colors when blending, in [0, 1].
        blend: True: ``image * (1 - alpha) + color * alpha`` on drawn pixels, as uint8. False: the colors
            replace the drawn pixels, and the float32 result is returned unblended (as Keras does).
        ignore_index: a class index never drawn.
        data_format: ``"channels_last"`` or ``"channels_first"``; None: ``keras.config.image_data_format()``.

    Returns:
        A new NumPy array of the images with the masks drawn, in the layout of ``images``.

    Example:
        >>> import numpy as np
        >>> out = draw_segmentation_masks(np.zeros((2, 8, 8, 3), "uint8"), np.ones((2, 8, 8, 1), "int32"),
        ...                               num_classes=2)
        >>> out.shape, out.dtype, out[0, 0, 0].tolist()
        ((2, 8, 8, 3), dtype('uint8'), [0, 101, 24])
    """
    batch, channels_first = as_image_batch(images, data_format)
    masks = _masks_batch(segmentation_masks, batch, channels_first)
    if num_classes is None:
        num_classes = int(masks.max()) + 1 if masks.size else 0
    num_classes = int(num_classes)
    base = batch.astype("float32")
    colors = _class_colors(num_classes, color_mapping, base.shape[-1])
    drawn = (masks >= 0) & (masks < num_classes) & (masks != ignore_index)
    painted = base.copy()
    painted[drawn] = colors[masks[drawn]]
    if blend:
        mixed = base * (1 - alpha) + painted * alpha
        out = np.where((masks != ignore_index)[..., None], mixed, base)
        out = np.clip(out, 0, 255).astype("uint8")
    else:
        out = painted
    return out.transpose(0, 3, 1, 2) if channels_first else out
