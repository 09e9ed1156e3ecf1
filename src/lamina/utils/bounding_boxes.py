"""``keras.utils.bounding_boxes`` for lamina: convert, clip, crop, pad and affine-map bounding boxes, encode and
decode anchor deltas, and compute IoU and CIoU, on torch tensors or NumPy arrays (results are torch tensors).

Formats: ``xyxy``, ``yxyx``, ``xywh``, ``center_xywh``, ``center_yxhw`` and the relative ``rel_xyxy``,
``rel_yxyx``, ``rel_xywh``, ``rel_center_xywh``. The arithmetic lives in :mod:`lamina.layers.bounding_box_ops`,
where the augmentation layers use it too.

>>> import numpy as np
>>> convert_format(np.array([[10, 20, 30, 40]]), source="xyxy", target="center_xywh")
tensor([[20., 30., 20., 20.]])
"""

from lamina.layers.bounding_box_ops import (
    affine_transform,
    clip_to_image_size,
    compute_ciou,
    compute_iou,
    convert_format,
    crop,
    decode_deltas_to_boxes,
    encode_box_to_deltas,
    pad,
)

__all__ = ["affine_transform", "clip_to_image_size", "compute_ciou", "compute_iou", "convert_format", "crop",
           "decode_deltas_to_boxes", "encode_box_to_deltas", "pad"]
