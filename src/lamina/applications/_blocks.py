"""Small pieces shared by the mobile and EfficientNet-style families (MobileNet*, EfficientNet*, ConvNeXt, NASNet).

Private: the public helpers live in :mod:`lamina.applications.imagenet_utils`; this module keeps the few lines
those families repeat (the channel axis, an image shape's rows and columns, MobileNet's channel rounding).
"""

from __future__ import annotations

from lamina.core.config import image_data_format


def channel_axis() -> int:
    """The channel axis of an image batch under the global image data format (``-1`` or ``1``)."""
    return 1 if image_data_format() == "channels_first" else -1


def spatial_size(shape: tuple) -> tuple:
    """``(rows, cols)`` of an image shape without its batch axis, under the global image data format."""
    return (shape[1], shape[2]) if image_data_format() == "channels_first" else (shape[0], shape[1])


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor``, never below 90% of ``value`` (MobileNet's rule)."""
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded
