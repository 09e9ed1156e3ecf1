"""Bounding-box arithmetic on PyTorch tensors: format conversion, clipping, affine maps, crop/pad, anchor deltas and
IoU, with Keras 3's formats, arguments and numbers (``keras.utils.bounding_boxes``).

Formats (case-insensitive): ``xyxy`` (left, top, right, bottom), ``yxyx``, ``xywh`` (left, top, width, height),
``center_xywh``, ``center_yxhw`` and the relative ``rel_xyxy``, ``rel_yxyx``, ``rel_xywh``, ``rel_center_xywh``
(fractions of the image's width and height). Boxes are ``(..., 4)`` tensors or arrays (NumPy in, torch out) or a
dict ``{"boxes": ..., "labels": ...}``. The augmentation layers transform boxes with these functions; the public
surface is :mod:`lamina.utils.bounding_boxes` (utils sits above layers, so the arithmetic lives here).

>>> convert_format(torch.tensor([[10.0, 20.0, 30.0, 40.0]]), "xyxy", "xywh")
tensor([[10., 20., 20., 20.]])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from lamina.core import config

__all__ = ["SUPPORTED_FORMATS", "affine_transform", "clip_to_image_size", "compute_ciou", "compute_iou",
           "convert_format", "crop", "decode_deltas_to_boxes", "encode_box_to_deltas", "pad"]

SUPPORTED_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy", "rel_yxyx", "rel_xywh",
                     "rel_center_xywh")


def as_tensor(value: Any, dtype: Any = None, device: Any = None) -> torch.Tensor:
    """A tensor from a tensor, array, list or number (NumPy arrays share memory where they can)."""
    if isinstance(value, torch.Tensor):
        t = value
    elif isinstance(value, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(value))
    else:
        t = torch.as_tensor(np.asarray(value))
    dtype = config.standardize_dtype(dtype) if isinstance(dtype, str) else dtype
    return t.to(device=device if device is not None else t.device, dtype=dtype or t.dtype)


def check_format(fmt: Any, name: str = "bounding_box_format") -> str:
    """``fmt`` lower-cased, or a ValueError naming the supported formats."""
    if not isinstance(fmt, str) or fmt.lower() not in SUPPORTED_FORMATS:
        raise ValueError(f"{name} must be one of {SUPPORTED_FORMATS}; received {fmt!r}.")
    return fmt.lower()


def _size(value: Any, like: torch.Tensor) -> torch.Tensor | None:
    return None if value is None else as_tensor(value, like.dtype, like.device)


def _to_xyxy(b: torch.Tensor, fmt: str, h: torch.Tensor | None, w: torch.Tensor | None) -> torch.Tensor:
    a, b1, c, d = b.split(1, dim=-1)  # (..., 1) columns: sizes broadcast as in Keras (e.g. (batch, 1, 1))
    if fmt == "xyxy":
        return b
    if fmt == "yxyx":
        x1, y1, x2, y2 = b1, a, d, c
    elif fmt == "xywh":
        x1, y1, x2, y2 = a, b1, a + c, b1 + d
    elif fmt == "center_xywh":
        x1, y1, x2, y2 = a - c / 2.0, b1 - d / 2.0, a + c / 2.0, b1 + d / 2.0
    elif fmt == "center_yxhw":
        x1, y1, x2, y2 = b1 - d / 2.0, a - c / 2.0, b1 + d / 2.0, a + c / 2.0
    elif fmt == "rel_xyxy":
        x1, y1, x2, y2 = a * w, b1 * h, c * w, d * h
    elif fmt == "rel_yxyx":
        x1, y1, x2, y2 = b1 * w, a * h, d * w, c * h
    elif fmt == "rel_xywh":
        x1, y1, x2, y2 = a * w, b1 * h, (a + c) * w, (b1 + d) * h
    else:  # rel_center_xywh
        x1, y1, x2, y2 = (a - c / 2.0) * w, (b1 - d / 2.0) * h, (a + c / 2.0) * w, (b1 + d / 2.0) * h
    return torch.cat(torch.broadcast_tensors(x1, y1, x2, y2), dim=-1)


def _from_xyxy(b: torch.Tensor, fmt: str, h: torch.Tensor | None, w: torch.Tensor | None) -> torch.Tensor:
    x1, y1, x2, y2 = b.split(1, dim=-1)
    if fmt == "xyxy":
        return b
    if fmt == "yxyx":
        out = (y1, x1, y2, x2)
    elif fmt == "xywh":
        out = (x1, y1, x2 - x1, y2 - y1)
    elif fmt == "center_xywh":
        out = (x1 + (x2 - x1) / 2.0, y1 + (y2 - y1) / 2.0, x2 - x1, y2 - y1)
    elif fmt == "center_yxhw":
        out = (y1 + (y2 - y1) / 2.0, x1 + (x2 - x1) / 2.0, y2 - y1, x2 - x1)
    elif fmt == "rel_xyxy":
        out = (x1 / w, y1 / h, x2 / w, y2 / h)
    elif fmt == "rel_yxyx":
        out = (y1 / h, x1 / w, y2 / h, x2 / w)
    elif fmt == "rel_xywh":
        out = (x1 / w, y1 / h, (x2 - x1) / w, (y2 - y1) / h)
    else:  # rel_center_xywh
        out = ((x1 + (x2 - x1) / 2.0) / w, (y1 + (y2 - y1) / 2.0) / h, (x2 - x1) / w, (y2 - y1) / h)
    return torch.cat(torch.broadcast_tensors(*out), dim=-1)


def convert_format(boxes: Any, source: str, target: str, height: Any = None, width: Any = None,
                   dtype: Any = "float32") -> Any:
    """Convert boxes (a ``(..., 4)`` tensor/array, or a dict whose ``"boxes"`` is converted) from ``source`` to
    ``target`` format; ``height`` and ``width`` (numbers or broadcastable tensors) are needed when exactly one
    side is relative.

    >>> convert_format(np.array([[10, 20, 30, 40]]), "xyxy", "rel_xyxy", height=200, width=100)
    tensor([[0.1000, 0.1000, 0.3000, 0.2000]])
    """
    if isinstance(boxes, dict):
        return {**boxes, "boxes": convert_format(boxes["boxes"], source, target, height, width, dtype)}
    b = as_tensor(boxes)
    if b.ndim == 0 or b.shape[-1] != 4:
        raise ValueError(f"`boxes` must be a tensor with the last dimension of 4. Received: boxes.shape="
                         f"{tuple(b.shape)}")
    source, target = check_format(source, "source"), check_format(target, "target")
    if source.startswith("rel_") != target.startswith("rel_") and (height is None or width is None):
        raise ValueError(f"convert_format() needs `height` and `width` to convert between relative and absolute "
                         f"formats; received source={source!r}, target={target!r}, height={height}, width={width}.")
    b = b.to(config.standardize_dtype(dtype) if isinstance(dtype, str) else dtype)
    if source == target:
        return b
    h, w = _size(height, b), _size(width, b)
    if source.startswith("rel_") and target.startswith("rel_"):  # rel -> rel needs no image size
        source, target = source[4:], target[4:]
    return _from_xyxy(_to_xyxy(b, source, h, w), target, h, w)


def _area(xyxy: torch.Tensor) -> torch.Tensor:
    return (xyxy[..., 2] - xyxy[..., 0]) * (xyxy[..., 3] - xyxy[..., 1])


def clip_to_image_size(bounding_boxes: dict, height: Any = None, width: Any = None,
                       bounding_box_format: str = "xyxy") -> dict:
    """Clip ``bounding_boxes["boxes"]`` to the image (``[0, width] x [0, height]``; ``[0, 1]`` for relative
    formats); boxes left with no area get the label -1.

    >>> out = clip_to_image_size({"boxes": np.array([[-10, -20, 150, 160], [130, 40, 140, 80]]),
    ...                           "labels": np.array([0, 1])}, height=100, width=120)
    >>> out["boxes"], out["labels"]
    (tensor([[  0.,   0., 120., 100.],
            [120.,  40., 120.,  80.]]), tensor([ 0, -1]))
    """
    fmt = check_format(bounding_box_format)
    relative = fmt.startswith("rel_")
    if not relative and (height is None or width is None):
        raise ValueError(f"clip_to_image_size needs `height` and `width` for the absolute format {fmt!r}; "
                         f"received height={height}, width={width}.")
    boxes = as_tensor(bounding_boxes["boxes"])
    if not boxes.is_floating_point():
        boxes = boxes.to(torch.float32)
    work = "rel_xyxy" if relative else "xyxy"
    xyxy = convert_format(boxes, fmt, work, dtype=boxes.dtype) if fmt != work else boxes
    if relative:
        hi_x = hi_y = torch.ones((), dtype=xyxy.dtype, device=xyxy.device)
    else:
        hi_x, hi_y = _size(width, xyxy), _size(height, xyxy)
    zero = torch.zeros((), dtype=xyxy.dtype, device=xyxy.device)
    x1, y1, x2, y2 = xyxy.split(1, dim=-1)
    xyxy = torch.cat(torch.broadcast_tensors(torch.clamp(x1, zero, hi_x), torch.clamp(y1, zero, hi_y),
                                             torch.clamp(x2, zero, hi_x), torch.clamp(y2, zero, hi_y)), dim=-1)
    result = dict(bounding_boxes)
    result["boxes"] = convert_format(xyxy, work, fmt, dtype=xyxy.dtype) if fmt != work else xyxy
    if bounding_boxes.get("labels") is not None:
        labels = as_tensor(bounding_boxes["labels"], device=xyxy.device)
        keep = _area(xyxy) > 0
        keep = keep.reshape(*keep.shape, *([1] * (labels.ndim - keep.ndim)))  # one-hot labels: (..., classes)
        result["labels"] = torch.where(keep, labels, torch.full_like(labels, -1))
    return result


def _inverse_affine(center_x, center_y, angle, translate_x, translate_y, scale, shear_x, shear_y, height, width):
    """Per box set, the 3x3 map from input pixels to output pixels of the image affine transform that the
    parameters describe (angles in degrees; center and translation as fractions of ``size - 1``)."""
    rot, sx, sy = -angle * (math.pi / 180.0), -shear_x * (math.pi / 180.0), -shear_y * (math.pi / 180.0)
    cx, cy = center_x * (width - 1), center_y * (height - 1)
    tx, ty = -translate_x * (width - 1), -translate_y * (height - 1)
    cos_sy, tan_sx = torch.cos(sy), torch.tan(sx)
    a = torch.cos(rot - sy) / cos_sy  # rotation and shear without scale; det([[a, b], [c, d]]) == 1
    b = a * tan_sx + torch.sin(rot)
    c = -torch.sin(rot - sy) / cos_sy
    d = torch.cos(rot) - c * tan_sx
    a0, a1, b0, b1 = d * scale, -b * scale, -c * scale, a * scale
    a2 = cx - a0 * (cx + tx) - a1 * (cy + ty)
    b2 = cy - b0 * (cx + tx) - b1 * (cy + ty)
    return torch.stack([torch.stack([a0, a1, a2], -1), torch.stack([b0, b1, b2], -1)], dim=1)  # (batch, 2, 3)


def transform_corners(xyxy: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """The axis-aligned hull of each box's four corners mapped by ``matrix`` (batch, 2, 3): ``(batch, n, 4)``."""
    x1, y1, x2, y2 = xyxy.unbind(-1)
    xs = torch.stack([x1, x2, x2, x1], dim=-1)  # (batch, n, 4 corners)
    ys = torch.stack([y1, y1, y2, y2], dim=-1)
    m = matrix.to(xyxy.dtype).unsqueeze(1)  # (batch, 1, 2, 3)
    px = m[..., 0, 0:1] * xs + m[..., 0, 1:2] * ys + m[..., 0, 2:3]
    py = m[..., 1, 0:1] * xs + m[..., 1, 1:2] * ys + m[..., 1, 2:3]
    return torch.stack([px.amin(-1), py.amin(-1), px.amax(-1), py.amax(-1)], dim=-1)


def affine_boxes(xyxy: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Boxes ``(n, k, 4)`` moved with images resampled by ``matrix`` ``(n, 2, 3)`` (output pixel -> input pixel,
    as the augmentation layers build it): the hull of each box's corners under the inverse map."""
    m = matrix.to(torch.float64)
    a, b, c, d = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
    det = a * d - b * c
    inv = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], dim=1) / det.reshape(-1, 1, 1)
    shift = -(inv @ m[:, :, 2:])  # (n, 2, 1)
    return transform_corners(xyxy, torch.cat([inv, shift], dim=2))


def homography_boxes(xyxy: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Boxes ``(n, k, 4)`` moved with images resampled by the homography ``coeffs`` ``(n, 8)`` (output pixel ->
    input pixel: ``((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1))``): the hull of each
    box's corners under the inverse homography (straight edges stay straight, so the hull is exact)."""
    n = coeffs.shape[0]
    full = torch.cat([coeffs.to(torch.float64), torch.ones(n, 1, dtype=torch.float64, device=coeffs.device)], 1)
    inv = torch.linalg.inv(full.reshape(n, 3, 3)).unsqueeze(1)  # (n, 1, 3, 3): input pixel -> output pixel
    x1, y1, x2, y2 = xyxy.to(torch.float64).unbind(-1)
    xs = torch.stack([x1, x2, x2, x1], dim=-1)  # (n, k, 4 corners)
    ys = torch.stack([y1, y1, y2, y2], dim=-1)
    row = [inv[..., i, 0:1] * xs + inv[..., i, 1:2] * ys + inv[..., i, 2:3] for i in range(3)]
    px, py = row[0] / row[2], row[1] / row[2]
    return torch.stack([px.amin(-1), py.amin(-1), px.amax(-1), py.amax(-1)], dim=-1).to(xyxy.dtype)


def warped_boxes(xyxy: torch.Tensor, src_x: torch.Tensor, src_y: torch.Tensor) -> torch.Tensor:
    """Boxes ``(n, k, 4)`` moved with images resampled at ``(src_x, src_y)`` ``(n, h, w)`` (any warp): the
    extent of the output pixels whose source lies in each box (pixel ``i`` covers ``[i, i + 1)``); a box no
    output pixel samples from becomes all zeros."""
    n, h, w = src_x.shape
    b = xyxy.to(src_x.dtype).reshape(n, -1, 4, 1, 1)  # (n, k, 4, 1, 1)
    sx, sy = src_x.unsqueeze(1), src_y.unsqueeze(1)  # (n, 1, h, w)
    inside = (sx >= b[:, :, 0]) & (sx < b[:, :, 2]) & (sy >= b[:, :, 1]) & (sy < b[:, :, 3])  # (n, k, h, w)
    rows, cols = inside.any(dim=3), inside.any(dim=2)  # (n, k, h), (n, k, w)
    xs = torch.arange(w, device=src_x.device, dtype=xyxy.dtype)
    ys = torch.arange(h, device=src_x.device, dtype=xyxy.dtype)
    big = torch.tensor(float(max(h, w) + 1), dtype=xyxy.dtype, device=src_x.device)
    out = torch.stack([torch.where(cols, xs, big).amin(-1), torch.where(rows, ys, big).amin(-1),
                       torch.where(cols, xs + 1, -big).amax(-1), torch.where(rows, ys + 1, -big).amax(-1)], dim=-1)
    return torch.where(cols.any(-1, keepdim=True), out, torch.zeros_like(out))


def window_boxes(boxes: dict | None, window: tuple, height: int, width: int) -> dict | None:
    """Boxes (dict, xyxy) in the frame of ``window`` = (top, left, crop_h, crop_w) resized to height x width."""
    if boxes is None:
        return None
    top, left, crop_h, crop_w = window
    shift = torch.tensor([left, top, left, top], dtype=boxes["boxes"].dtype, device=boxes["boxes"].device)
    scale = torch.tensor([width / crop_w, height / crop_h] * 2, dtype=shift.dtype, device=shift.device)
    return {**boxes, "boxes": (boxes["boxes"] - shift) * scale}


def affine_transform(boxes: Any, angle: Any, translate_x: Any, translate_y: Any, scale: Any, shear_x: Any,
                     shear_y: Any, height: int, width: int, center_x: Any = None, center_y: Any = None,
                     bounding_box_format: str = "xyxy") -> torch.Tensor:
    """Move ``(batch, n, 4)`` boxes as an image is moved by rotating ``angle`` degrees about the center
    (``center_x``, ``center_y``: fractions, default 0.5), scaling, shearing (degrees) and translating (fractions
    of the size); every parameter is a ``(batch,)`` vector. The result is each moved box's axis-aligned hull.

    >>> affine_transform(torch.tensor([[[0.0, 0.0, 2.0, 2.0]]]), *[torch.zeros(1)] * 3, torch.ones(1),
    ...                  *[torch.zeros(1)] * 2, height=5, width=5)
    tensor([[[0., 0., 2., 2.]]])
    """
    fmt = check_format(bounding_box_format)
    if fmt.startswith("rel_"):
        raise ValueError(f"affine_transform works in pixels; convert {fmt!r} boxes with convert_format(..., "
                         f"height=..., width=...) first.")
    b = as_tensor(boxes)
    b = b if b.is_floating_point() else b.to(torch.float32)
    unbatched = b.ndim == 2
    b = b.unsqueeze(0) if unbatched else b
    angle = as_tensor(angle, b.dtype, b.device).reshape(-1)
    params = [as_tensor(p, angle.dtype, b.device) for p in (translate_x, translate_y, scale, shear_x, shear_y)]
    matrix = _inverse_affine(0.5 if center_x is None else center_x, 0.5 if center_y is None else center_y,
                             angle, *params, height, width)
    out = transform_corners(convert_format(b, fmt, "xyxy", dtype=angle.dtype), matrix)
    out = convert_format(out, "xyxy", fmt, dtype=out.dtype)
    return out.squeeze(0) if unbatched else out


def _shift(boxes: Any, fmt: str, dx: Any, dy: Any, width: Any, height: Any, name: str) -> torch.Tensor:
    fmt = check_format(fmt)
    if fmt.startswith("rel_"):
        raise ValueError(f"{name} works in pixels; convert {fmt!r} boxes with convert_format(..., height=..., "
                         f"width=...) first.")
    b = as_tensor(boxes)
    b = b if b.is_floating_point() else b.to(torch.float32)
    x1, y1, x2, y2 = convert_format(b, fmt, "xyxy", dtype=b.dtype).split(1, dim=-1)
    dx, dy = as_tensor(dx, b.dtype, b.device), as_tensor(dy, b.dtype, b.device)
    x1, x2, y1, y2 = x1 + dx, x2 + dx, y1 + dy, y2 + dy
    if name == "crop":
        zero = torch.zeros((), dtype=b.dtype, device=b.device)
        hx, hy = _size(width, b), _size(height, b)
        x1, x2 = (torch.clamp(v, zero, hx) for v in (x1, x2))
        y1, y2 = (torch.clamp(v, zero, hy) for v in (y1, y2))
    return convert_format(torch.cat(torch.broadcast_tensors(x1, y1, x2, y2), dim=-1), "xyxy", fmt, dtype=b.dtype)


def crop(boxes: Any, top: Any, left: Any, height: Any, width: Any, bounding_box_format: str = "xyxy"):
    """Boxes in the frame of the ``height`` x ``width`` window at (``top``, ``left``), clipped to it (``None``:
    no clipping on that axis's far side).

    >>> crop(np.array([[10, 20, 50, 60], [70, 80, 100, 120]]), top=10, left=20, height=40, width=30)
    tensor([[ 0., 10., 30., 40.],
            [30., 40., 30., 40.]])
    """
    return _shift(boxes, bounding_box_format, -as_tensor(left), -as_tensor(top), width, height, "crop")


def pad(boxes: Any, top: Any, left: Any, height: Any = None, width: Any = None, bounding_box_format: str = "xyxy"):
    """Boxes moved by the ``top`` and ``left`` padding added to their image (``height``/``width`` unused, as
    Keras).

    >>> pad(np.array([[10, 20, 30, 40]]), top=5, left=3)
    tensor([[13., 25., 33., 45.]])
    """
    return _shift(boxes, bounding_box_format, as_tensor(left), as_tensor(top), None, None, "pad")


def _variance(variance: Any) -> torch.Tensor | None:
    if variance is None:
        return None
    v = as_tensor(variance, torch.float32)
    if v.shape[-1] != 4:
        raise ValueError(f"`variance` must be length 4, got {variance}")
    return v


def _check_encoding(fmt: str, name: str) -> None:
    if fmt not in ("center_xywh", "center_yxhw"):
        raise ValueError(f"`{name}` should be 'center_xywh' or 'center_yxhw', but got {fmt!r}.")


def encode_box_to_deltas(anchors: Any, boxes: Any, anchor_format: str, box_format: str,
                         encoding_format: str = "center_yxhw", variance: Any = None, image_shape: Any = None):
    """The deltas that take ``anchors`` ``(n, 4)`` to ``boxes`` (``(n, 4)`` or ``(batch, n, 4)``): center offsets
    over the anchor's size and log size ratios, in ``encoding_format``, divided by ``variance`` when given.

    >>> encode_box_to_deltas(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10]]), "xyxy", "xyxy")
    tensor([[0., 0., 0., 0.]])
    """
    v = _variance(variance)
    _check_encoding(encoding_format, "encoding_format")
    h, w = (None, None) if image_shape is None else tuple(image_shape)[:2]
    a = convert_format(anchors, anchor_format, encoding_format, height=h, width=w)
    b = convert_format(boxes, box_format, encoding_format, height=h, width=w).to(a.device)
    eps = config.epsilon()
    a_size, b_size = a[..., 2:].clamp_min(eps), b[..., 2:].clamp_min(eps)
    deltas = torch.cat([(b[..., :2] - a[..., :2]) / a_size, torch.log(b_size / a_size)], dim=-1)
    return deltas if v is None else deltas / v.to(deltas.device)


def decode_deltas_to_boxes(anchors: Any, boxes_delta: Any, anchor_format: str, box_format: str,
                           encoded_format: str = "center_yxhw", variance: Any = None, image_shape: Any = None):
    """The inverse of :func:`encode_box_to_deltas`: boxes in ``box_format`` from anchors and deltas (each a
    tensor, or dicts of them keyed by feature level).

    >>> decode_deltas_to_boxes(np.array([[0, 0, 10, 10]]), np.zeros((1, 4)), "xyxy", "xyxy")
    tensor([[ 0.,  0., 10., 10.]])
    """
    v = _variance(variance)
    _check_encoding(encoded_format, "encoded_format")
    h, w = (None, None) if image_shape is None else tuple(image_shape)[:2]

    def level(anchor: Any, delta: Any) -> torch.Tensor:
        a = convert_format(anchor, anchor_format, encoded_format, height=h, width=w)
        d = as_tensor(delta, a.dtype, a.device)
        d = d if v is None else d * v.to(d.device)
        box = torch.cat([d[..., :2] * a[..., 2:] + a[..., :2], torch.exp(d[..., 2:]) * a[..., 2:]], dim=-1)
        return convert_format(box, encoded_format, box_format, height=h, width=w)

    if isinstance(anchors, dict) and isinstance(boxes_delta, dict):
        return {key: level(anchor, boxes_delta[key]) for key, anchor in anchors.items()}
    return level(anchors, boxes_delta)


def compute_iou(boxes1: Any, boxes2: Any, bounding_box_format: str, use_masking: bool = False, mask_val: int = -1,
                image_shape: Any = None) -> torch.Tensor:
    """Pairwise IoU of ``boxes1`` ``([batch,] m, 4)`` and ``boxes2`` ``([batch,] n, 4)``: ``([batch,] m, n)``.
    With ``use_masking``, pairs where either box is all-negative (padding) get ``mask_val``.

    >>> compute_iou(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2], [5, 5, 6, 6]]), "xyxy")
    tensor([[0.3333, 0.0000]])
    """
    b1, b2 = as_tensor(boxes1), as_tensor(boxes2)
    for name, b in (("boxes1", b1), ("boxes2", b2)):
        if b.ndim not in (2, 3):
            raise ValueError(f"compute_iou() expects {name} of shape (n, 4) or (batch, n, 4); received "
                             f"{tuple(b.shape)}.")
    fmt = check_format(bounding_box_format)
    if fmt.startswith("rel") and image_shape is None:
        raise ValueError(f"Relative bounding box formats need the `image_shape` argument; received image_shape="
                         f"{image_shape} with bounding_box_format={fmt!r}.")
    h, w = (None, None) if image_shape is None else tuple(image_shape)[:2]
    b1 = convert_format(b1, fmt, "yxyx", height=h, width=w)
    b2 = convert_format(b2, fmt, "yxyx", height=h, width=w).to(b1.device)
    top = torch.maximum(b1[..., :, None, 0], b2[..., None, :, 0])
    left = torch.maximum(b1[..., :, None, 1], b2[..., None, :, 1])
    bottom = torch.minimum(b1[..., :, None, 2], b2[..., None, :, 2])
    right = torch.minimum(b1[..., :, None, 3], b2[..., None, :, 3])
    inter = (bottom - top).clamp_min(0) * (right - left).clamp_min(0)  # ([batch,] m, n)
    area1 = (b1[..., 2] - b1[..., 0]) * (b1[..., 3] - b1[..., 1])
    area2 = (b2[..., 2] - b2[..., 0]) * (b2[..., 3] - b2[..., 1])
    iou = inter / (area1[..., :, None] + area2[..., None, :] - inter + config.epsilon())
    if not use_masking:
        return iou
    background = (b1.amax(-1) < 0)[..., :, None] | (b2.amax(-1) < 0)[..., None, :]
    return torch.where(background, torch.full_like(iou, float(mask_val)), iou)


def compute_ciou(boxes1: Any, boxes2: Any, bounding_box_format: str, image_shape: Any = None) -> torch.Tensor:
    """Complete IoU (Zheng et al.) of matching boxes ``(..., 4)``: IoU minus the squared center distance over the
    enclosing box's squared diagonal, minus an aspect-ratio term. Relative formats need ``image_shape``.

    >>> compute_ciou(np.array([[0, 0, 2, 2]]), np.array([[0, 0, 2, 2]]), "xyxy")
    tensor([1.])
    """
    fmt = check_format(bounding_box_format)
    if fmt.startswith("rel") and image_shape is None:
        raise ValueError(f"Relative bounding box formats need the `image_shape` argument; received image_shape="
                         f"{image_shape} with bounding_box_format={fmt!r}.")
    h, w = (None, None) if image_shape is None else tuple(image_shape)[:2]
    b1 = convert_format(boxes1, fmt, "xyxy", height=h, width=w)
    b2 = convert_format(boxes2, fmt, "xyxy", height=h, width=w).to(b1.device)
    eps = config.epsilon()
    x1a, y1a, x2a, y2a = b1.unbind(-1)
    x1b, y1b, x2b, y2b = b2.unbind(-1)
    w1, h1 = x2a - x1a, y2a - y1a + eps
    w2, h2 = x2b - x1b, y2b - y1b + eps
    inter = ((torch.minimum(x2a, x2b) - torch.maximum(x1a, x1b)).clamp_min(0)
             * (torch.minimum(y2a, y2b) - torch.maximum(y1a, y1b)).clamp_min(0))
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / (union + eps)
    diagonal = ((torch.maximum(x2a, x2b) - torch.minimum(x1a, x1b)) ** 2
                + (torch.maximum(y2a, y2b) - torch.minimum(y1a, y1b)) ** 2 + eps)
    centers = ((x1a + x2a) / 2 - (x1b + x2b) / 2) ** 2 + ((y1a + y2a) / 2 - (y1b + y2b) / 2) ** 2
    v = (4 / math.pi**2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
    alpha = v / (v - iou + (1 + eps))
    return iou - (centers / diagonal + v * alpha)
