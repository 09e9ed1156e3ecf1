"""How the image layers take their inputs: channels-last batches, and Keras's dict
``{"images": ..., "bounding_boxes": {"boxes": ..., "labels": ...}, ...}``.

A dict comes back as a dict: its images transformed, its boxes moved with them (layers that move pixels) or
passed through (layers that change colours only), every other entry unchanged. Boxes are in the layer's
``bounding_box_format``; internally a layer sees them as ``(batch, k, 4)`` absolute ``xyxy`` tensors on the
images' device, and the result is clipped to the output image (boxes left empty get the label -1), as Keras does.

>>> import torch
>>> x, unbatched = to_nhwc(torch.zeros(3, 4, 5), "channels_first")
>>> tuple(x.shape), unbatched
((1, 4, 5, 3), True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lamina.layers import bounding_box_ops as ops

__all__ = ["as_float", "call_dict", "check_boxes", "from_nhwc", "to_nhwc"]

#: (images (n, h, w, c), boxes dict with (n, k, 4) xyxy boxes, or None) -> the same, transformed
Transform = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]


def to_nhwc(x: torch.Tensor, data_format: str) -> tuple[torch.Tensor, bool]:
    """The images as a channels-last batch, and whether a batch axis was added."""
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    if x.ndim != 4:
        raise ValueError(f"Image layers expect (batch, height, width, channels) inputs; received shape "
                         f"{tuple(x.shape)}.")
    if data_format == "channels_first":
        x = x.permute(0, 2, 3, 1)
    return x, unbatched


def from_nhwc(x: torch.Tensor, unbatched: bool, data_format: str) -> torch.Tensor:
    if data_format == "channels_first":
        x = x.permute(0, 3, 1, 2)
    return x.squeeze(0) if unbatched else x


def as_float(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return x if x.is_floating_point() else x.to(dtype)


def _dense(values: Any, fill: float, dtype: torch.dtype | None) -> torch.Tensor:
    """A tensor from a tensor, an array, or (possibly ragged) nested lists padded with ``fill``."""
    if isinstance(values, list) and values and isinstance(values[0], list) and values[0] \
            and isinstance(values[0][0], (list, tuple)) and len({len(v) for v in values}) > 1:
        longest = max(len(v) for v in values)
        width = len(values[0][0])
        values = [list(v) + [[fill] * width] * (longest - len(v)) for v in values]
    elif isinstance(values, list) and values and isinstance(values[0], list) and len({len(v) for v in values}) > 1:
        longest = max(len(v) for v in values)
        values = [list(v) + [fill] * (longest - len(v)) for v in values]
    return ops.as_tensor(values, dtype)


def check_boxes(layer: Any, boxes: Any) -> dict:
    if not getattr(layer, "bounding_box_format", None):
        raise ValueError(f"You passed an input with a 'bounding_boxes' key, but {type(layer).__name__} has no "
                         f"bounding box format. Pass one, e.g. {type(layer).__name__}(..., "
                         f"bounding_box_format='xyxy').")
    if not isinstance(boxes, dict) or "boxes" not in boxes or "labels" not in boxes:
        raise ValueError(f"{type(layer).__name__}: 'bounding_boxes' must be a dict with keys 'boxes' and 'labels'; "
                         f"received {type(boxes).__name__} {sorted(boxes) if isinstance(boxes, dict) else ''}.")
    out = dict(boxes)
    out["boxes"] = _dense(boxes["boxes"], 0.0, torch.float32)
    out["labels"] = _dense(boxes["labels"], -1, None)
    if out["boxes"].ndim not in (2, 3) or out["boxes"].shape[-1] != 4:
        raise ValueError(f"{type(layer).__name__}: bounding_boxes['boxes'] must be (num_boxes, 4) or (batch, "
                         f"num_boxes, 4); received shape {tuple(out['boxes'].shape)}.")
    return out


def call_dict(layer: Any, inputs: dict, transform: Transform, moves_boxes: bool) -> dict:
    """Run ``transform`` on a dict input's images (and, when ``moves_boxes``, its boxes); see the module's
    docstring. ``layer`` supplies ``data_format``, ``bounding_box_format`` and the float dtype."""
    name = type(layer).__name__
    if "images" not in inputs:
        raise ValueError(f"{name}: a dict input needs an 'images' entry; received keys {sorted(inputs)}.")
    if moves_boxes and inputs.get("segmentation_masks") is not None:
        raise ValueError(f"{name} moves pixels, and lamina does not move 'segmentation_masks' with them; apply the "
                         f"layer to the masks as images (interpolation='nearest') with the same seed instead.")
    x = ops.as_tensor(inputs["images"])
    x, unbatched = to_nhwc(as_float(x, layer._dtype), layer.data_format)
    boxes = inputs.get("bounding_boxes")
    if boxes is not None:
        boxes = check_boxes(layer, boxes)
    fmt = getattr(layer, "bounding_box_format", None)
    h, w = x.shape[1], x.shape[2]
    work = None
    if boxes is not None and moves_boxes:
        work = dict(boxes)
        b, labels = boxes["boxes"].to(x.device), boxes["labels"].to(x.device)
        if unbatched:
            b, labels = b.unsqueeze(0), labels.unsqueeze(0)
        work["boxes"] = ops.convert_format(b, fmt, "xyxy", height=h, width=w)
        work["labels"] = labels
    images, work = transform(x, work)
    out = dict(inputs)
    out["images"] = from_nhwc(images, unbatched, layer.data_format)
    if boxes is not None and moves_boxes:
        oh, ow = images.shape[1], images.shape[2]
        work = ops.clip_to_image_size(work, height=oh, width=ow, bounding_box_format="xyxy")
        work["boxes"] = ops.convert_format(work["boxes"], "xyxy", fmt, height=oh, width=ow)
        if unbatched:
            work["boxes"], work["labels"] = work["boxes"].squeeze(0), work["labels"].squeeze(0)
        boxes = work
    if boxes is not None:
        out["bounding_boxes"] = boxes
    return out

