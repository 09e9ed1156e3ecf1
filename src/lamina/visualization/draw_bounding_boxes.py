"""``draw_bounding_boxes``: Keras's ``keras.visualization.draw_bounding_boxes``, drawn with NumPy (no OpenCV).

>>> import numpy as np
>>> images = np.zeros((1, 6, 8, 3), "uint8")
>>> boxes = {"boxes": np.array([[[1, 1, 6, 4]]]), "labels": np.array([[0]])}
>>> out = draw_bounding_boxes(images, boxes, "xyxy", color=(255, 0, 0), line_thickness=1)
>>> out.shape, out.dtype, out[0, 1, 1].tolist(), out[0, 2, 2].tolist()
((1, 6, 8, 3), dtype('uint8'), [255, 0, 0], [0, 0, 0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lamina.visualization.boxes import to_xyxy
from lamina.visualization.images import as_image_batch, to_numpy
from lamina.visualization.raster import draw_rectangle, draw_text


def _as_uint8(images: np.ndarray) -> np.ndarray:
    """A uint8 copy: floats in [0, 1] are scaled by 255, other values clipped to 0..255 and truncated."""
    if images.dtype.kind == "f" and images.size:
        images = np.clip(images, 0, 1) * 255 if images.max() <= 1.0 else np.clip(images, 0, 255)
    elif images.dtype.kind in "iu":
        images = np.clip(images, 0, 255)
    return images.astype("uint8")


def _label_origin(x: int, y: int, font_scale: float, thickness: int) -> tuple[int, int]:
    """Where a label's baseline starts: just above the box when it fits there, else inside it, below the top."""
    line_height = int(font_scale * 12)
    if y - 8 - 2 * line_height > 0:
        return x, y - 8
    return x + 3, y + 2 * line_height + thickness + 3


def _check_boxes(bounding_boxes: Any) -> None:
    if not isinstance(bounding_boxes, Mapping):
        raise TypeError(f"`bounding_boxes` must be a dict with 'boxes' and 'labels'; got "
                        f"{type(bounding_boxes).__name__}.")
    missing = [key for key in ("boxes", "labels") if key not in bounding_boxes]
    if missing:
        raise ValueError(f"`bounding_boxes` must be a dict with 'boxes' and 'labels' keys; missing {missing} "
                         f"(it has {sorted(map(str, bounding_boxes))}).")


def draw_bounding_boxes(
    images: Any,
    bounding_boxes: Mapping[str, Any],
    bounding_box_format: str,
    class_mapping: Mapping[int, str] | None = None,
    color: Sequence[int] = (128, 128, 128),
    line_thickness: int = 2,
    text_thickness: int = 1,
    font_scale: float = 1.0,
    data_format: str | None = None,
) -> np.ndarray:
    """Draw bounding boxes (and optionally their class names) on a batch of images.

    Args:
        images: ``(batch, height, width, channels)`` images (``(batch, channels, height, width)`` with
            ``data_format="channels_first"``): uint8, or floats in [0, 1] (scaled by 255) or [0, 255].
        bounding_boxes: ``{"boxes": (batch, num_boxes, 4), "labels": (batch, num_boxes)}``, optionally with
            ``"confidences": (batch, num_boxes)``. Boxes labelled -1 are padding and are not drawn.
        bounding_box_format: the boxes' format: ``"xyxy"``, ``"yxyx"``, ``"xywh"``, ``"center_xywh"``,
            ``"center_yxhw"``, or ``"rel_xyxy"``, ``"rel_yxyx"``, ``"rel_xywh"``, ``"rel_center_xywh"``.
        class_mapping: class id -> name. Boxes whose class is in it get their name (and confidence) written
            above them; writing text needs Pillow.
        color: the RGB color of boxes and text.
        line_thickness: the outline's thickness in pixels (a negative value fills the boxes).
        text_thickness: the thickness of the text's strokes (0 or None: ``line_thickness``).
        font_scale: the size of the text, 1.0 being about 22 pixels high.
        data_format: ``"channels_last"`` or ``"channels_first"``; None: ``keras.config.image_data_format()``.

    Returns:
        A new uint8 NumPy array of the images with the boxes drawn, in the layout of ``images``.

    Example:
        >>> import numpy as np
        >>> out = draw_bounding_boxes(np.zeros((2, 32, 32, 3)), {"boxes": np.array([[[4, 4, 20, 20]]] * 2),
        ...                           "labels": np.array([[1]] * 2)}, "xyxy", color=(255, 0, 0))
        >>> out.shape, int(out[0, 4, 10, 0])
        ((2, 32, 32, 3), 255)
    """
    batch, channels_first = as_image_batch(images, data_format)
    _check_boxes(bounding_boxes)
    class_mapping = class_mapping or {}
    text_thickness = text_thickness or line_thickness
    height, width = batch.shape[1:3]
    boxes = to_xyxy(to_numpy(bounding_boxes["boxes"]), bounding_box_format, height, width)
    labels = to_numpy(bounding_boxes["labels"])
    confidences = bounding_boxes.get("confidences")
    confidences = None if confidences is None else to_numpy(confidences)
    if boxes.shape[0] != batch.shape[0] or labels.shape[:2] != boxes.shape[:2]:
        raise ValueError(f"Expected boxes of shape (batch, num_boxes, 4) and labels of shape (batch, num_boxes) "
                         f"for {batch.shape[0]} images; got boxes {boxes.shape} and labels {labels.shape}.")
    result = _as_uint8(batch)
    for i, image in enumerate(result):
        for j, box in enumerate(boxes[i]):
            label = int(labels[i][j])
            if label == -1:
                continue
            x1, y1, x2, y2 = (int(v) for v in box.astype("int32"))
            draw_rectangle(image, (x1, y1), (x2, y2), color, line_thickness)
            if label in class_mapping:
                text = str(class_mapping[label])
                if confidences is not None:
                    text = f"{text} | {float(confidences[i][j]):.2f}"
                origin = _label_origin(x1, y1, font_scale, text_thickness)
                draw_text(image, text, origin, color, font_scale, text_thickness)
    return result.transpose(0, 3, 1, 2) if channels_first else result
