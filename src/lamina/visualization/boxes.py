"""Bounding-box formats, converted to absolute ``xyxy`` pixel corners (the form the drawing functions use).

The formats are Keras's (``keras.utils.bounding_boxes.convert_format``), case-insensitive:

- ``"xyxy"``: ``[left, top, right, bottom]``; ``"yxyx"``: ``[top, left, bottom, right]``
- ``"xywh"``: ``[left, top, width, height]``
- ``"center_xywh"``: ``[center_x, center_y, width, height]``; ``"center_yxhw"``: ``[center_y, center_x, height,
  width]``
- ``"rel_xyxy"``, ``"rel_yxyx"``, ``"rel_xywh"``, ``"rel_center_xywh"``: the same with coordinates as fractions
  of the image's width and height.

Arithmetic is done in float32, as Keras does, so that boxes land on the same pixels.

>>> to_xyxy([[10, 20, 4, 6]], "xywh").tolist()
[[10.0, 20.0, 14.0, 26.0]]
>>> to_xyxy([[0.5, 0.5, 0.5, 0.5]], "rel_center_xywh", height=10, width=20).tolist()
[[5.0, 2.5, 15.0, 7.5]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

ABSOLUTE_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw")
RELATIVE_FORMATS = ("rel_xyxy", "rel_yxyx", "rel_xywh", "rel_center_xywh")
SUPPORTED_FORMATS = ABSOLUTE_FORMATS + RELATIVE_FORMATS


def check_format(bounding_box_format: Any) -> str:
    """The format's lower-case name; a ValueError naming the supported ones for anything else."""
    name = str(bounding_box_format).lower() if isinstance(bounding_box_format, str) else None
    if name not in SUPPORTED_FORMATS:
        raise ValueError(f"Unsupported bounding_box_format {bounding_box_format!r}; expected one of "
                         f"{', '.join(repr(f) for f in SUPPORTED_FORMATS)}.")
    return name


def _corners(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, kind: str) -> tuple[np.ndarray, ...]:
    """(x1, y1, x2, y2) from the four columns of a format without its ``rel_`` prefix."""
    if kind == "xyxy":
        return a, b, c, d
    if kind == "yxyx":
        return b, a, d, c
    if kind == "xywh":
        return a, b, a + c, b + d
    if kind == "center_xywh":
        return a - c / 2.0, b - d / 2.0, a + c / 2.0, b + d / 2.0
    # center_yxhw: [cy, cx, h, w]
    return b - d / 2.0, a - c / 2.0, b + d / 2.0, a + c / 2.0


def to_xyxy(boxes: Any, bounding_box_format: str, height: int | None = None, width: int | None = None) -> np.ndarray:
    """``boxes`` (``(..., 4)``, array-like) in ``bounding_box_format`` as absolute ``xyxy`` float32 corners.

    ``height`` and ``width`` (the image's, in pixels) are needed by the ``rel_*`` formats only.
    """
    kind = check_format(bounding_box_format)
    array = np.asarray(boxes, dtype="float32")
    if array.ndim == 0 or array.shape[-1] != 4:
        raise ValueError(f"Bounding boxes must have a last dimension of 4; got shape {array.shape}.")
    relative = kind.startswith("rel_")
    if relative and (height is None or width is None):
        raise ValueError(f"The relative format {kind!r} needs the image's `height` and `width`.")
    columns = [array[..., i] for i in range(4)]
    x1, y1, x2, y2 = _corners(*columns, kind.removeprefix("rel_"))
    if relative:
        w, h = np.float32(width), np.float32(height)
        x1, y1, x2, y2 = x1 * w, y1 * h, x2 * w, y2 * h
    return np.stack([x1, y1, x2, y2], axis=-1).astype("float32")
