"""``plot_image_gallery``: Keras's ``keras.visualization.plot_image_gallery``, a grid of images drawn with
matplotlib (an optional dependency: ``pip install lamina[plots]``).

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np
>>> plot_image_gallery(np.zeros((4, 8, 8, 3)), show=False)
>>> import matplotlib.pyplot as plt
>>> len(plt.gcf().axes)
4
>>> plt.close("all")
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lamina.visualization.images import as_image_batch, require_pyplot, to_numpy, to_uint8_range


def grid_shape(count: int, rows: int | None, cols: int | None) -> tuple[int, int]:
    """Rows and columns for ``count`` images: a near-square grid unless given (missing ones made to fit).

    >>> grid_shape(5, None, None), grid_shape(5, 1, None), grid_shape(5, None, 2)
    ((3, 2), (1, 5), (3, 2))
    """
    count = max(int(count), 1)
    if rows is None and cols is None:
        rows = math.ceil(math.sqrt(count))
    if rows is None:
        rows = math.ceil(count / cols)
    if cols is None:
        cols = math.ceil(count / rows)
    if int(rows) < 1 or int(cols) < 1:
        raise ValueError(f"rows and cols must be positive; got rows={rows}, cols={cols}.")
    return int(rows), int(cols)


def _title(index: int, y_true: np.ndarray | None, y_pred: np.ndarray | None, label_map: Mapping) -> str:
    parts = []
    for prefix, labels in (("Label", y_true), ("Pred", y_pred)):
        if labels is not None and index < len(labels):
            value = labels[index]
            value = value.item() if isinstance(value, np.generic) else value
            parts.append(f"{prefix}: {label_map.get(value, 'Unknown')}")
    return "  ".join(parts)


def plot_image_gallery(
    images: Any,
    y_true: Any = None,
    y_pred: Any = None,
    label_map: Mapping[Any, str] | None = None,
    rows: int | None = None,
    cols: int | None = None,
    value_range: tuple[float, float] = (0, 255),
    scale: float = 2,
    path: str | None = None,
    show: bool | None = None,
    transparent: bool = True,
    dpi: int = 60,
    legend_handles: Sequence[Any] | None = None,
    data_format: str | None = None,
) -> None:
    """Plot a batch of images as a grid with matplotlib, optionally titled with true and predicted labels.

    Args:
        images: ``(batch, height, width, channels)`` images (channels first with ``data_format="channels_first"``).
        y_true: class indices, one per image, shown as "Label: <name>".
        y_pred: predicted class indices, shown as "Pred: <name>".
        label_map: class index -> name; required with ``y_true`` or ``y_pred``.
        rows: rows of the grid; None: ``ceil(sqrt(batch))``, or enough for ``cols``.
        cols: columns of the grid; None: enough for every image.
        value_range: the images' range of values, mapped to 0..255 for display.
        scale: inches of figure per image.
        path: a file to save the figure to (its extension picks the format); the figure is then closed.
        show: whether to call ``plt.show()``; default: when ``path`` is None. Passing both is an error. With
            neither, the figure stays open as pyplot's current figure.
        transparent: save with a transparent background.
        dpi: the resolution of the saved file.
        legend_handles: matplotlib artists (e.g. ``matplotlib.patches.Patch``) for a legend under the grid.
        data_format: ``"channels_last"`` or ``"channels_first"``; None: ``keras.config.image_data_format()``.

    Example:
        >>> import numpy as np
        >>> names = {i: f"class {i}" for i in range(6)}
        >>> plot_image_gallery(np.random.rand(6, 16, 16, 3), value_range=(0, 1), y_true=np.arange(6), label_map=names,
        ...                    path="gallery.png")  # writes a file  # doctest: +SKIP
    """
    plt = require_pyplot("plot_image_gallery")
    if path is not None and show:
        raise ValueError("plot_image_gallery: pass either `path` (save the figure) or `show=True`, not both.")
    if (y_true is not None or y_pred is not None) and label_map is None:
        raise ValueError("plot_image_gallery: `y_true` and `y_pred` need a `label_map` (class index -> name).")
    show = path is None if show is None else bool(show)
    batch, _ = as_image_batch(images, data_format)
    rows, cols = grid_shape(len(batch), rows, cols)
    pixels = to_uint8_range(batch[: rows * cols], value_range)
    if pixels.shape[-1] == 1:
        pixels = pixels[..., 0]  # matplotlib shows (h, w) arrays, not (h, w, 1)
    y_true = None if y_true is None else to_numpy(y_true).reshape(-1)
    y_pred = None if y_pred is None else to_numpy(y_pred).reshape(-1)

    fig, axes = plt.subplots(nrows=rows, ncols=cols, figsize=(cols * scale, rows * scale), frameon=False,
                             layout="tight", squeeze=False, sharex="row", sharey="col")
    if legend_handles is not None:
        fig.legend(handles=legend_handles, loc="lower center")
    for index, axis in enumerate(axes.reshape(-1)):
        axis.axis("off")
        if index >= len(pixels):
            continue
        if pixels.ndim == 3:  # one channel
            axis.imshow(pixels[index], cmap="gray", vmin=0, vmax=255)
        else:
            axis.imshow(pixels[index])
        axis.margins(x=0, y=0)
        title = _title(index, y_true, y_pred, label_map or {})
        if title:
            axis.set_title(title, fontsize=8)
    if path is not None:
        fig.savefig(path, pad_inches=0, bbox_inches="tight", transparent=transparent, dpi=dpi)
        plt.close(fig)
    elif show:
        plt.show()
        plt.close(fig)
