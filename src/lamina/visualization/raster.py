"""Pixel drawing on NumPy images, ``(height, width, channels)`` uint8: box outlines and text labels.

Box outlines cover the same pixels as OpenCV's ``cv2.rectangle`` (which Keras's ``draw_bounding_boxes`` calls)
without needing OpenCV: a 1-pixel outline for a thickness of 0 or 1, a filled box for a negative thickness, and
otherwise a band of half-width ``(thickness + 1) // 2`` around each edge with a disk of that radius on each corner.

>>> import numpy as np
>>> image = np.zeros((6, 7, 1), "uint8")
>>> draw_rectangle(image, (1, 1), (5, 4), (9,), thickness=1)
>>> image[..., 0]
array([[0, 0, 0, 0, 0, 0, 0],
       [0, 9, 9, 9, 9, 9, 0],
       [0, 9, 0, 0, 0, 9, 0],
       [0, 9, 0, 0, 0, 9, 0],
       [0, 9, 9, 9, 9, 9, 0],
       [0, 0, 0, 0, 0, 0, 0]], dtype=uint8)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def channel_color(color: Sequence[float], channels: int) -> np.ndarray:
    """``color`` fitted to ``channels`` as OpenCV does: extra components dropped, missing ones set to 0."""
    values = [float(c) for c in color][:channels]
    values += [0.0] * (channels - len(values))
    return np.clip(np.asarray(values), 0, 255).astype("uint8")


def _fill(image: np.ndarray, x1: int, y1: int, x2: int, y2: int, color: np.ndarray) -> None:
    """Paint the pixels of columns x1..x2 and rows y1..y2 (inclusive), clipped to the image."""
    height, width = image.shape[:2]
    x1, x2 = max(x1, 0), min(x2, width - 1)
    y1, y2 = max(y1, 0), min(y2, height - 1)
    if x1 <= x2 and y1 <= y2:
        image[y1:y2 + 1, x1:x2 + 1] = color


def _disk(image: np.ndarray, cx: int, cy: int, radius: int, color: np.ndarray) -> None:
    """Paint the pixels whose distance to (cx, cy) is at most ``radius``."""
    for dy in range(-radius, radius + 1):
        half = math.isqrt(radius * radius - dy * dy)  # the widest dx with dx² + dy² <= radius²
        _fill(image, cx - half, cy + dy, cx + half, cy + dy, color)


def draw_rectangle(image: np.ndarray, corner: tuple[int, int], opposite: tuple[int, int],
                   color: Sequence[float], thickness: int = 1) -> None:
    """Draw, in place, the outline of the axis-aligned box with corners ``corner`` and ``opposite`` (``(x, y)``
    pixel coordinates, inclusive, in any order) on ``image`` (``(height, width, channels)``)."""
    paint = channel_color(color, image.shape[-1])
    x1, x2 = sorted((int(corner[0]), int(opposite[0])))
    y1, y2 = sorted((int(corner[1]), int(opposite[1])))
    if thickness < 0:
        _fill(image, x1, y1, x2, y2, paint)
        return
    half = 0 if thickness <= 1 else (int(thickness) + 1) // 2
    _fill(image, x1, y1 - half, x2, y1 + half, paint)  # top
    _fill(image, x1, y2 - half, x2, y2 + half, paint)  # bottom
    _fill(image, x1 - half, y1, x1 + half, y2, paint)  # left
    _fill(image, x2 - half, y1, x2 + half, y2, paint)  # right
    if half:
        for cx in (x1, x2):
            for cy in (y1, y2):
                _disk(image, cx, cy, half, paint)


def _require_pil() -> Any:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise ImportError("Drawing class labels on bounding boxes needs Pillow (`pip install pillow`); boxes "
                          "without labels (class_mapping=None) need nothing.") from None
    return Image, ImageDraw, ImageFont


def _font(image_font: Any, size: int) -> Any:
    try:
        return image_font.truetype("DejaVuSans.ttf", size)
    except OSError:
        pass
    try:
        return image_font.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return image_font.load_default()


def draw_text(image: np.ndarray, text: str, origin: tuple[int, int], color: Sequence[float],
              font_scale: float = 1.0, thickness: int = 1) -> None:
    """Write ``text`` in place on ``image`` with Pillow, ``origin`` being the ``(x, y)`` of the left end of its
    baseline (as OpenCV's ``putText`` places text). Pixels are either painted or left: no anti-aliasing."""
    image_module, image_draw, image_font = _require_pil()
    height, width = image.shape[:2]
    mask = image_module.new("L", (width, height), 0)
    draw = image_draw.Draw(mask)
    draw.fontmode = "1"
    font = _font(image_font, max(int(round(22 * float(font_scale))), 6))
    stroke = max(int(thickness) - 1, 0) // 2
    draw.text((int(origin[0]), int(origin[1])), text, fill=255, font=font, anchor="ls", stroke_width=stroke,
              stroke_fill=255)
    image[np.asarray(mask) >= 128] = channel_color(color, image.shape[-1])
