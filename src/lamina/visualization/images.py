"""Image batches as the visualization functions take them: any array-like (NumPy, torch tensor, nested lists)
made a 4D NumPy array, channels last, with helpers for value ranges and the optional matplotlib.

>>> import numpy as np
>>> batch, channels_first = as_image_batch(np.zeros((2, 3, 4, 5)), "channels_first")
>>> batch.shape, channels_first
((2, 4, 5, 3), True)
>>> to_uint8_range(np.array([0.0, 0.5, 1.0]), (0, 1)).tolist()
[0, 127, 255]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lamina.core.config import image_data_format
from lamina.ops import convert_to_numpy


def to_numpy(x: Any) -> np.ndarray:
    """``x`` (a tensor, variable, array or nested list) as a NumPy array."""
    return np.asarray(convert_to_numpy(x))


def resolve_data_format(data_format: str | None) -> str:
    """``data_format``, or the configured ``image_data_format()`` when None; a ValueError for anything else."""
    value = image_data_format() if data_format is None else str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first'; got {data_format!r}.")
    return value


def as_image_batch(images: Any, data_format: str | None, name: str = "images") -> tuple[np.ndarray, bool]:
    """``images`` as a channels-last ``(batch, height, width, channels)`` array, and whether it was channels first
    (so a result can be given back in the caller's layout)."""
    array = to_numpy(images)
    if array.ndim != 4:
        raise ValueError(f"`{name}` must be a batch of images, a 4D array (batch, height, width, channels); got "
                         f"shape {array.shape}.")
    channels_first = resolve_data_format(data_format) == "channels_first"
    if channels_first:
        array = array.transpose(0, 2, 3, 1)
    return array, channels_first


def to_uint8_range(images: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """``images`` mapped linearly from ``value_range`` to 0..255, clipped, as uint8 (truncated, as Keras casts)."""
    low, high = (float(v) for v in value_range)
    if high == low:
        raise ValueError(f"value_range must span some values; got {tuple(value_range)}.")
    scaled = (np.asarray(images, dtype="float32") - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype("uint8")


def require_pyplot(function: str) -> Any:
    """``matplotlib.pyplot``, or an ImportError saying that ``function`` needs matplotlib."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(f"`{function}` draws with matplotlib, which is not installed: `pip install matplotlib` "
                          "(or `pip install lamina[plots]`).") from None
    return plt
