"""Resizing one image array, as ``image_dataset_from_directory`` resizes what it reads: stretched to the size,
or centre-cropped (``crop_to_aspect_ratio``) or zero-padded (``pad_to_aspect_ratio``) to the target's aspect
ratio first. Interpolation by PyTorch (half-pixel centres, no antialiasing, as TensorFlow's ``tf.image.resize``).

>>> import numpy as np
>>> resize_image(np.arange(8, dtype="float32").reshape(2, 4, 1), (2, 2), crop_to_aspect_ratio=True)[..., 0]
array([[1., 2.],
       [5., 6.]], dtype=float32)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

#: Keras's interpolation names and the PyTorch mode that computes each.
TORCH_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic", "area": "area"}


def check_interpolation(interpolation: str) -> str:
    if interpolation not in TORCH_MODES:
        raise ValueError(f"Unsupported interpolation {interpolation!r}: lamina resizes with PyTorch and supports "
                         f"{', '.join(repr(m) for m in TORCH_MODES)}.")
    return interpolation


def crop_box(height: int, width: int, target_height: int, target_width: int) -> tuple[int, int, int, int]:
    """``(top, left, crop_height, crop_width)``: the largest centred box with the target's aspect ratio."""
    crop_height = min(height, (width * target_height) // target_width)
    crop_width = min(width, (height * target_width) // target_height)
    return (height - crop_height) // 2, (width - crop_width) // 2, crop_height, crop_width


def pad_box(height: int, width: int, target_height: int, target_width: int) -> tuple[int, int, int, int]:
    """``(top, left, padded_height, padded_width)``: the smallest canvas with the target's aspect ratio that
    holds the image, and where the image sits in it (centred)."""
    padded_height = max(height, (width * target_height) // target_width)
    padded_width = max(width, (height * target_width) // target_height)
    return (padded_height - height) // 2, (padded_width - width) // 2, padded_height, padded_width


def resize_image(image: np.ndarray, size: tuple[int, int], interpolation: str = "bilinear",
                 crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False) -> np.ndarray:
    """A ``(height, width, channels)`` image resized to ``size`` = ``(height, width)``, as float32."""
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True.")
    mode = TORCH_MODES[check_interpolation(interpolation)]
    target_height, target_width = (int(s) for s in size)
    x = np.asarray(image, dtype="float32")
    height, width = x.shape[:2]
    if crop_to_aspect_ratio:
        top, left, h, w = crop_box(height, width, target_height, target_width)
        x = x[top:top + h, left:left + w]
    elif pad_to_aspect_ratio:
        top, left, h, w = pad_box(height, width, target_height, target_width)
        canvas = np.zeros((h, w, x.shape[2]), dtype="float32")
        canvas[top:top + height, left:left + width] = x
        x = canvas
    if x.shape[:2] == (target_height, target_width):
        return np.ascontiguousarray(x)
    t = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None]
    extra = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    out = F.interpolate(t, size=(target_height, target_width), mode=mode, **extra)
    return out[0].permute(1, 2, 0).numpy()
