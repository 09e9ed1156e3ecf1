"""``plot_bounding_box_gallery``: Keras's ``keras.visualization.plot_bounding_box_gallery``, images with their
true and predicted boxes drawn (``draw_bounding_boxes``), plotted as a grid (``plot_image_gallery``).

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np
>>> boxes = {"boxes": np.array([[[2, 2, 10, 10]]] * 2), "labels": np.array([[0]] * 2)}
>>> plot_bounding_box_gallery(np.zeros((2, 16, 16, 3)), "xyxy", y_true=boxes, rows=1, show=False)
>>> import matplotlib.pyplot as plt
>>> len(plt.gcf().axes)
2
>>> plt.close("all")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lamina.visualization.draw_bounding_boxes import draw_bounding_boxes
from lamina.visualization.images import as_image_batch, require_pyplot, to_uint8_range
from lamina.visualization.plot_image_gallery import plot_image_gallery


def plot_bounding_box_gallery(
    images: Any,
    bounding_box_format: str,
    y_true: Mapping[str, Any] | None = None,
    y_pred: Mapping[str, Any] | None = None,
    value_range: tuple[float, float] = (0, 255),
    true_color: Sequence[int] = (0, 188, 212),
    pred_color: Sequence[int] = (255, 235, 59),
    line_thickness: int = 2,
    font_scale: float = 1.0,
    text_thickness: int | None = None,
    class_mapping: Mapping[int, str] | None = None,
    ground_truth_mapping: Mapping[int, str] | None = None,
    prediction_mapping: Mapping[int, str] | None = None,
    legend: bool = False,
    legend_handles: Sequence[Any] | None = None,
    rows: int | None = None,
    cols: int | None = None,
    data_format: str | None = None,
    **kwargs: Any,
) -> None:
    """Plot a batch of images with their ground-truth and/or predicted bounding boxes drawn on them.

    Args:
        images: ``(batch, height, width, channels)`` images (channels first with ``data_format="channels_first"``).
        bounding_box_format: the boxes' format (see ``draw_bounding_boxes``).
        y_true: ground-truth boxes, ``{"boxes": ..., "labels": ...}`` as ``draw_bounding_boxes`` takes them.
        y_pred: predicted boxes, in the same form (``"confidences"`` are written after the class names).
        value_range: the images' range of values, mapped to 0..255 before drawing.
        true_color: the RGB color of ground-truth boxes.
        pred_color: the RGB color of predicted boxes.
        line_thickness: the boxes' line thickness in pixels.
        font_scale: the size of the labels' text.
        text_thickness: the thickness of the labels' text; None: ``line_thickness``.
        class_mapping: class id -> name for both kinds of boxes (labels need Pillow).
        ground_truth_mapping: class id -> name for ground-truth boxes, instead of ``class_mapping``.
        prediction_mapping: class id -> name for predicted boxes, instead of ``class_mapping``.
        legend: add a "Ground Truth" / "Prediction" legend.
        legend_handles: matplotlib artists for a legend of your own (not with ``legend=True``).
        rows: rows of the grid (see ``plot_image_gallery``).
        cols: columns of the grid.
        data_format: ``"channels_last"`` or ``"channels_first"``; None: ``keras.config.image_data_format()``.
        **kwargs: passed to ``plot_image_gallery`` (``path``, ``show``, ``scale``, ``dpi``, ``transparent``...).

    Example:
        >>> import numpy as np
        >>> boxes = {"boxes": np.array([[[0.1, 0.1, 0.6, 0.8]]]), "labels": np.array([[1]])}
        >>> images = np.random.rand(1, 64, 64, 3)
        >>> plot_bounding_box_gallery(images, "rel_xyxy", y_true=boxes, value_range=(0, 1), class_mapping={1: "cat"},
        ...                           legend=True, path="boxes.png")  # writes a file  # doctest: +SKIP
    """
    require_pyplot("plot_bounding_box_gallery")
    if legend and legend_handles:
        raise ValueError("plot_bounding_box_gallery: pass `legend=True` or `legend_handles`, not both.")
    batch, _ = as_image_batch(images, data_format)
    plotted = to_uint8_range(batch, value_range)
    for boxes, color, mapping in ((y_true, true_color, ground_truth_mapping or class_mapping),
                                  (y_pred, pred_color, prediction_mapping or class_mapping)):
        if boxes is not None:
            plotted = draw_bounding_boxes(plotted, boxes, bounding_box_format, class_mapping=mapping, color=color,
                                          line_thickness=line_thickness, text_thickness=text_thickness,
                                          font_scale=font_scale, data_format="channels_last")
    if legend:
        from matplotlib import patches

        legend_handles = [patches.Patch(color=np.asarray(true_color) / 255.0, label="Ground Truth"),
                          patches.Patch(color=np.asarray(pred_color) / 255.0, label="Prediction")]
    plot_image_gallery(plotted, value_range=(0, 255), legend_handles=legend_handles, rows=rows, cols=cols,
                       data_format="channels_last", **kwargs)
