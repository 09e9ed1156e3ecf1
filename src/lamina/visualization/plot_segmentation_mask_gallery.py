"""``plot_segmentation_mask_gallery``: Keras's ``keras.visualization.plot_segmentation_mask_gallery``, one row
per image: the image, then its true and/or predicted masks drawn on it (``draw_segmentation_masks``).

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np
>>> masks = np.ones((2, 8, 8, 1), "int32")
>>> plot_segmentation_mask_gallery(np.zeros((2, 8, 8, 3)), 2, y_true=masks, y_pred=masks, show=False)
>>> import matplotlib.pyplot as plt
>>> len(plt.gcf().axes)
6
>>> plt.close("all")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lamina.visualization.draw_segmentation_masks import draw_segmentation_masks
from lamina.visualization.images import as_image_batch, require_pyplot, resolve_data_format, to_numpy, to_uint8_range
from lamina.visualization.plot_image_gallery import plot_image_gallery


def plot_segmentation_mask_gallery(
    images: Any,
    num_classes: int,
    value_range: tuple[float, float] = (0, 255),
    y_true: Any = None,
    y_pred: Any = None,
    color_mapping: Mapping[int, Sequence[float]] | None = None,
    blend: bool = True,
    alpha: float = 0.8,
    ignore_index: int = -1,
    data_format: str | None = None,
    **kwargs: Any,
) -> None:
    """Plot a batch of images beside their ground-truth and/or predicted segmentation masks.

    The grid has one row per image and a column each for the image, ``y_true`` and ``y_pred`` (those given).

    Args:
        images: ``(batch, height, width, channels)`` images (channels first with ``data_format="channels_first"``).
        num_classes: the number of classes (see ``draw_segmentation_masks``).
        value_range: the images' range of values, mapped to 0..255 before the masks are drawn.
        y_true: ground-truth masks, ``(batch, height, width)`` or ``(batch, height, width, 1)`` class indices.
        y_pred: predicted masks, in the same form.
        color_mapping: class index -> color; None: a fixed palette.
        blend: blend colors with the image (``alpha``) rather than replacing it.
        alpha: the colors' opacity when blending.
        ignore_index: a class index never drawn.
        data_format: ``"channels_last"`` or ``"channels_first"``; None: ``keras.config.image_data_format()``.
        **kwargs: passed to ``plot_image_gallery`` (``path``, ``show``, ``scale``, ``dpi``, ``transparent``...).

    Example:
        >>> import numpy as np
        >>> masks = np.random.randint(0, 3, (2, 32, 32, 1))
        >>> plot_segmentation_mask_gallery(np.random.rand(2, 32, 32, 3), 3, value_range=(0, 1), y_true=masks,
        ...                                ignore_index=0, path="masks.png")  # writes a file  # doctest: +SKIP
    """
    require_pyplot("plot_segmentation_mask_gallery")
    channels_first = resolve_data_format(data_format) == "channels_first"
    batch, _ = as_image_batch(images, data_format)
    base = to_uint8_range(batch, value_range)
    columns = [base]
    for masks in (y_true, y_pred):
        if masks is not None:
            masks = to_numpy(masks)
            if channels_first and masks.ndim == 4:
                masks = masks.transpose(0, 2, 3, 1)
            drawn = draw_segmentation_masks(base, masks.astype("int32"), num_classes=num_classes,
                                            color_mapping=color_mapping, alpha=alpha, blend=blend,
                                            ignore_index=ignore_index, data_format="channels_last")
            columns.append(np.clip(drawn, 0, 255).astype("uint8"))
    gallery = np.stack(columns, axis=1).reshape((-1, *base.shape[1:]))
    plot_image_gallery(gallery, value_range=(0, 255), rows=len(base), cols=len(columns),
                       data_format="channels_last", **kwargs)
