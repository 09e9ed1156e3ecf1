"""``lamina.ops.image``: Keras's image ops on torch tensors (reached as ``lamina.ops.image``, not re-exported at
the top of ``lamina.ops``, as in Keras).

Images are 3-D (unbatched) or 4-D (batched), channels_last unless ``data_format`` (or, when it is None, the
configured image data format) says channels_first.

>>> import numpy as np
>>> from lamina.ops import image
>>> tuple(image.resize(np.zeros((2, 4, 4, 3)), (2, 2)).shape)
(2, 2, 2, 3)
"""

from __future__ import annotations

from lamina.ops._image_color import hsv_to_rgb, rgb_to_grayscale, rgb_to_hsv
from lamina.ops._image_filters import (
    crop_images,
    extract_patches,
    extract_patches_3d,
    gaussian_blur,
    pad_images,
    sobel_edges,
    ssim,
)
from lamina.ops._image_resize import resize, scale_and_translate
from lamina.ops._image_warp import affine_transform, elastic_transform, map_coordinates, perspective_transform

__all__ = [
    "affine_transform", "crop_images", "elastic_transform", "extract_patches", "extract_patches_3d",
    "gaussian_blur", "hsv_to_rgb", "map_coordinates", "pad_images", "perspective_transform", "resize",
    "rgb_to_grayscale", "rgb_to_hsv", "scale_and_translate", "sobel_edges", "ssim",
]
