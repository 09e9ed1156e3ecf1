"""Preprocessing layers: rescaling, normalization, resizing, cropping and seeded image augmentation.

Images are channels-last ``(batch, height, width, channels)`` (an unbatched ``(h, w, c)`` image works too).
Augmentation layers change their input only when called with ``training=True``; at inference they pass it
through (``RandomCrop`` center-crops/resizes to its target size instead, so the output shape never changes).

>>> import torch
>>> Rescaling(1 / 255)(torch.full((1, 2), 255.0))
tensor([[1., 1.]])
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.core.random import SeedGenerator
from lamina.layers.augmentation_utils import plain
from lamina.layers.bounding_box_ops import affine_boxes
from lamina.layers.bounding_box_ops import window_boxes as _window_boxes
from lamina.layers.image_inputs import as_float as _float
from lamina.layers.image_inputs import call_dict
from lamina.layers.image_inputs import from_nhwc as _from_nhwc
from lamina.layers.image_inputs import to_nhwc as _to_nhwc
from lamina.layers.image_sampling import affine as _affine
from lamina.layers.layer import Layer

_EPSILON = 1e-7  # Keras's backend.epsilon(): the smallest standard deviation Normalization divides by
_FILL_MODES = ("reflect", "wrap", "constant", "nearest")


# ------------------------------------------------------------------------------------------------ helpers
def _check_data_format(data_format: str | None) -> str:
    return config.standardize_data_format(data_format)  # None: lamina.config.image_data_format()


def _resize_nhwc(x: torch.Tensor, height: int, width: int, interpolation: str, antialias: bool = False):
    """F.interpolate on channels-last images (half-pixel centers, as Keras's torch backend)."""
    modes = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic", "area": "area"}
    if interpolation not in modes:
        raise ValueError(f"interpolation must be one of {sorted(modes)}; received {interpolation!r}.")
    mode = modes[interpolation]
    nchw = x.permute(0, 3, 1, 2)  # (n, c, h, w)
    kwargs: dict[str, Any] = {}
    if mode in ("bilinear", "bicubic"):
        kwargs = {"align_corners": False, "antialias": antialias}
    out = F.interpolate(nchw, size=(height, width), mode=mode, **kwargs)
    return out.permute(0, 2, 3, 1)


def _aspect_window(h: int, w: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, crop_h, crop_w): the largest centered window of an h x w image with aspect height:width."""
    crop_h = max(min(h, int(w * height / width)), 1)
    crop_w = max(min(w, int(h * width / height)), 1)
    return (h - crop_h) // 2, (w - crop_w) // 2, crop_h, crop_w


def _center_crop_to_aspect(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The largest centered window of ``x`` (n, h, w, c) with the aspect ratio height:width."""
    top, left, crop_h, crop_w = _aspect_window(x.shape[1], x.shape[2], height, width)
    return x[:, top:top + crop_h, left:left + crop_w, :]


def _smart_resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop the largest centered window of the target aspect ratio, then resize it (bilinear)."""
    x = _center_crop_to_aspect(x, height, width)
    if x.shape[1] == height and x.shape[2] == width:
        return x
    return _resize_nhwc(x, height, width, "bilinear")


def _symmetric_range(factor: Any, name: str, bound: float | None = 1.0) -> tuple[float, float]:
    """A float f means (-f, f); a pair (lower, upper) is taken as is."""
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(f"{name} must be a float or a pair (lower, upper); received {factor!r}.")
        lower, upper = float(factor[0]), float(factor[1])
    else:
        lower, upper = -abs(float(factor)), abs(float(factor))
    if lower > upper:
        raise ValueError(f"{name}: lower bound {lower} exceeds upper bound {upper}; pass (lower, upper).")
    if bound is not None and (abs(lower) > bound or abs(upper) > bound):
        raise ValueError(f"{name} values must lie in [-{bound}, {bound}]; received {factor!r}.")
    return lower, upper


def _check_fill(fill_mode: str, interpolation: str) -> None:
    if fill_mode not in _FILL_MODES:
        raise ValueError(f"fill_mode must be one of {_FILL_MODES}; received {fill_mode!r}.")
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest'; received {interpolation!r}.")


# ------------------------------------------------------------------------------------------- deterministic
class Rescaling(Layer):
    """``inputs * scale + offset`` (e.g. ``Rescaling(1 / 255)`` maps pixels to [0, 1]).

    ``scale``/``offset`` may be floats or per-channel lists; integer inputs come out as floats.
    """

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.scale = scale
        self.offset = offset
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = _float(inputs, self._dtype)
        scale = torch.as_tensor(self.scale, dtype=x.dtype, device=x.device)
        offset = torch.as_tensor(self.offset, dtype=x.dtype, device=x.device)
        return x * scale + offset

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """``(inputs - mean) / sqrt(variance)`` per feature along ``axis`` (``invert=True`` undoes it).

    Give ``mean`` and ``variance``, or learn them from data with ``adapt(data)`` before use.

    >>> import numpy as np
    >>> norm = Normalization(); norm.adapt(np.array([[0.0], [2.0]]))
    >>> norm(torch.tensor([[0.0], [2.0]])).flatten()
    tensor([-1.,  1.])
    """

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None, invert: bool = False,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        if axis is None:
            self.axis: tuple = ()
        elif isinstance(axis, int):
            self.axis = (axis,)
        else:
            self.axis = tuple(int(a) for a in axis)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: pass both `mean` and `variance`, or neither (then call adapt()).")
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self._broadcast_shape: tuple | None = None
        self._adapted = mean is not None

    def _kept_axes(self, ndim: int) -> list[int]:
        kept = sorted(a % ndim for a in self.axis)
        if len(set(kept)) != len(kept):
            raise ValueError(f"Normalization: repeated axis in {self.axis}.")
        return kept

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        kept = self._kept_axes(ndim)
        for a in kept:
            if input_shape[a] is None:
                raise ValueError(f"Normalization normalizes along axis {a}, whose size must be known; received "
                                 f"input shape {tuple(input_shape)}.")
        self._broadcast_shape = tuple(input_shape[d] if d in kept else 1 for d in range(ndim))
        feature_shape = tuple(input_shape[a] for a in kept)
        if self.input_mean is None:
            self.mean = self.add_weight(shape=feature_shape, initializer="zeros", trainable=False, name="mean")
            self.variance = self.add_weight(shape=feature_shape, initializer="ones", trainable=False,
                                            name="variance")
            self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False,
                                         name="count")
        else:  # fixed statistics are configuration, not weights (as in Keras): non-persistent buffers
            for key, value in (("mean", self.input_mean), ("variance", self.input_variance)):
                t = torch.as_tensor(np.asarray(value, dtype="float32"), dtype=self._dtype)
                t = torch.broadcast_to(t.reshape(-1) if t.ndim == 1 and len(kept) == 1 else t, feature_shape)
                self.register_buffer(key, t.clone().to(self._build_device), persistent=False)
        self.built = True

    def adapt(self, data: Any) -> None:
        """Compute mean and variance over every axis but ``axis`` from ``data``: an array or tensor, or an
        iterable of batches (e.g. a DataLoader; for ``(x, y)`` batches ``x`` is used), in one streaming pass."""
        batches: Iterable = [data] if isinstance(data, (np.ndarray, torch.Tensor)) else data
        total, mean, m2 = 0, None, None
        for batch in batches:
            if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], (np.ndarray, torch.Tensor)):
                batch = batch[0]
            x = torch.as_tensor(np.asarray(batch) if not isinstance(batch, torch.Tensor) else batch)
            x = x.detach().to("cpu", torch.float64)
            if not self.built:
                self._build_device = torch.device("cpu")
                self.build(tuple(x.shape))
            kept = self._kept_axes(x.ndim)
            reduce = [d for d in range(x.ndim) if d not in kept]
            n = int(np.prod([x.shape[d] for d in reduce])) if reduce else 1
            b_mean = x.mean(dim=reduce) if reduce else x
            b_m2 = ((x - x.mean(dim=reduce, keepdim=True)) ** 2).sum(dim=reduce) if reduce else torch.zeros_like(x)
            if mean is None:
                total, mean, m2 = n, b_mean, b_m2
            else:  # Chan et al.'s pairwise update: exact and stable across batches
                delta = b_mean - mean
                new_total = total + n
                mean = mean + delta * (n / new_total)
                m2 = m2 + b_m2 + delta**2 * (total * n / new_total)
                total = new_total
        if mean is None:
            raise ValueError("Normalization.adapt received no data.")
        variance = m2 / total
        with torch.no_grad():
            self.mean.copy_(mean.reshape(self.mean.shape))
            self.variance.copy_(variance.reshape(self.variance.shape))
            if self.input_mean is None:
                self.count.fill_(min(total, 2**31 - 1))
        self._adapted = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = _float(inputs, self._dtype)
        shape = [1 if b == 1 else s for b, s in zip(self._broadcast_shape, x.shape, strict=True)]
        mean = self.mean.to(x.dtype).reshape(shape)
        std = torch.sqrt(self.variance.to(x.dtype)).clamp_min(_EPSILON).reshape(shape)
        if self.invert:
            return mean + x * std
        return (x - mean) / std

    def get_config(self) -> dict:
        def as_list(v: Any) -> Any:
            return np.asarray(v).tolist() if v is not None else None

        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": as_list(self.input_mean), "variance": as_list(self.input_variance)}


class Resizing(Layer):
    """Resize images to ``(height, width)``; ``crop_to_aspect_ratio`` first crops the largest centered window
    with the target aspect ratio, ``pad_to_aspect_ratio`` pads to the smallest centered canvas of that ratio
    (with ``fill_value``), so the image is not distorted."""

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", crop_to_aspect_ratio: bool = False,
                 pad_to_aspect_ratio: bool = False, fill_mode: str = "constant", fill_value: float = 0.0,
                 antialias: bool = False, data_format: str | None = None, bounding_box_format: str | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if crop_to_aspect_ratio and pad_to_aspect_ratio or fill_mode != "constant":
            raise ValueError(f"Resizing: pass one of crop_/pad_to_aspect_ratio at most, and fill_mode='constant'; "
                             f"received {crop_to_aspect_ratio=}, {pad_to_aspect_ratio=}, {fill_mode=}.")
        self.pad_to_aspect_ratio, self.fill_mode, self.fill_value = bool(pad_to_aspect_ratio), fill_mode, fill_value
        self.bounding_box_format = bounding_box_format
        self.height, self.width = int(height), int(width)
        if interpolation not in ("bilinear", "nearest", "bicubic", "area"):
            raise ValueError(f"Resizing: interpolation must be 'bilinear', 'nearest', 'bicubic' or 'area'; "
                             f"received {interpolation!r}.")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.antialias = bool(antialias)
        self.data_format = _check_data_format(data_format)
        self.built = True

    def call(self, inputs: Any) -> Any:
        if isinstance(inputs, dict):  # Keras's {"images", "bounding_boxes", ...}: boxes follow the resize
            return call_dict(self, inputs, self._resize, moves_boxes=True)
        x, unbatched = _to_nhwc(_float(inputs, self._dtype), self.data_format)
        return _from_nhwc(self._resize(x, None)[0], unbatched, self.data_format)

    def _resize(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        h, w = x.shape[1], x.shape[2]
        window = _aspect_window(h, w, self.height, self.width) if self.crop_to_aspect_ratio else (0, 0, h, w)
        if self.pad_to_aspect_ratio:  # as Keras: the same margin on both sides (an odd surplus loses one)
            top = int((max(h, int(w * self.height / self.width)) - h) / 2)
            left = int((max(w, int(h * self.width / self.height)) - w) / 2)
            x = F.pad(x, (0, 0, left, left, top, top), value=float(self.fill_value))
            window = (-top, -left, h + 2 * top, w + 2 * left)  # the canvas, in the image's frame
        top, left, crop_h, crop_w = (max(v, 0) for v in window)  # (padded: the whole canvas)
        x = x[:, top:top + crop_h, left:left + crop_w]
        x = _resize_nhwc(x, self.height, self.width, self.interpolation, self.antialias)
        return x, _window_boxes(boxes, window, self.height, self.width)

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "antialias": self.antialias, "data_format": self.data_format, "fill_value": self.fill_value,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                **({"bounding_box_format": self.bounding_box_format} if self.bounding_box_format else {})}


class CenterCrop(Layer):
    """Crop the central ``(height, width)`` window; an image smaller than that is crop-to-aspect resized."""

    def __init__(self, height: int, width: int, data_format: str | None = None, bounding_box_format: str | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)
        self.data_format = _check_data_format(data_format)
        self.bounding_box_format = bounding_box_format
        self.built = True

    def call(self, inputs: Any) -> Any:
        if isinstance(inputs, dict):  # Keras's {"images", "bounding_boxes", ...}: boxes follow the crop
            return call_dict(self, inputs, self._crop, moves_boxes=True)
        x, unbatched = _to_nhwc(_float(inputs, self._dtype), self.data_format)
        return _from_nhwc(self._crop(x, None)[0], unbatched, self.data_format)

    def _crop(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        h, w = x.shape[1], x.shape[2]
        if h >= self.height and w >= self.width:
            window = ((h - self.height) // 2, (w - self.width) // 2, self.height, self.width)
            top, left = window[:2]
            return x[:, top:top + self.height, left:left + self.width, :], _window_boxes(boxes, window, *window[2:])
        window = _aspect_window(h, w, self.height, self.width)
        return _smart_resize(x, self.height, self.width), _window_boxes(boxes, window, self.height, self.width)

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width, "data_format": self.data_format,
                **({"bounding_box_format": self.bounding_box_format} if self.bounding_box_format else {})}


# ------------------------------------------------------------------------------------------- augmentation
class _RandomLayer(Layer):
    """Base of the augmentation layers: a seed, a private random stream, identity unless training.

    A dict input ``{"images", "bounding_boxes", ...}`` (Keras's) goes through :func:`call_dict`: layers that move
    pixels set ``_moves_boxes`` and implement ``augment_with_boxes``; the others pass the boxes through."""

    _moves_boxes = False  # training moves the pixels (and so the boxes)
    _moves_boxes_at_inference = False

    def __init__(self, seed: int | None = None, data_format: str | None = None,
                 bounding_box_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.seed = seed
        self.bounding_box_format = bounding_box_format
        self.data_format = _check_data_format(data_format)
        self._seed_generator = SeedGenerator(seed)
        self.built = True

    def _uniform(self, n: int, lower: float, upper: float, device: torch.device, dtype: torch.dtype):
        u = torch.rand(n, generator=self._seed_generator.for_device(device), device=device, dtype=dtype)
        return lower + (upper - lower) * u  # (n,)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if isinstance(inputs, dict):
            if training:
                return call_dict(self, inputs, self.augment_with_boxes, self._moves_boxes)
            return call_dict(self, inputs, self.inference_with_boxes, self._moves_boxes_at_inference)
        if not training:
            return self.inference(inputs)
        x, unbatched = _to_nhwc(_float(inputs, self._dtype), self.data_format)
        return _from_nhwc(self.augment(x), unbatched, self.data_format)

    def inference(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs

    def inference_with_boxes(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        return x, boxes

    def augment(self, x: torch.Tensor) -> torch.Tensor:  # x: (n, h, w, c)
        raise NotImplementedError("abstract: each augmentation layer implements augment")

    def augment_with_boxes(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        """The augmented images and, for layers that move pixels, the boxes (dict, ``(n, k, 4)`` xyxy) moved
        with the same draws."""
        return self.augment(x), boxes

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format,
                **({"bounding_box_format": self.bounding_box_format} if self.bounding_box_format else {})}


class RandomFlip(_RandomLayer):
    """Flip each image left-right and/or up-down, each with probability 1/2 (``mode``: 'horizontal',
    'vertical' or 'horizontal_and_vertical')."""

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(f"RandomFlip: mode must be 'horizontal', 'vertical' or 'horizontal_and_vertical'; "
                             f"received {mode!r}.")
        self.mode = mode

    _moves_boxes = True

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment_with_boxes(x, None)[0]

    def augment_with_boxes(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        n, h, w, _ = x.shape
        b = None if boxes is None else boxes["boxes"]  # (n, k, 4) xyxy
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            flip = self._uniform(n, 0, 1, x.device, torch.float32) < 0.5  # (n,)
            x = torch.where(flip.reshape(n, 1, 1, 1), x.flip(2), x)
            if b is not None:  # x -> w - x: left and right swap
                b = torch.where(flip.reshape(n, 1, 1), torch.stack([w - b[..., 2], b[..., 1], w - b[..., 0],
                                                                    b[..., 3]], dim=-1), b)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            flip = self._uniform(n, 0, 1, x.device, torch.float32) < 0.5
            x = torch.where(flip.reshape(n, 1, 1, 1), x.flip(1), x)
            if b is not None:
                b = torch.where(flip.reshape(n, 1, 1), torch.stack([b[..., 0], h - b[..., 3], b[..., 2],
                                                                    h - b[..., 1]], dim=-1), b)
        return x, None if boxes is None else {**boxes, "boxes": b}

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}


class RandomCrop(_RandomLayer):
    """Crop a random ``(height, width)`` window per batch in training; at inference (or for images smaller
    than the target) crop the largest centered window of the target aspect ratio and resize it."""

    def __init__(self, height: int, width: int, seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.height, self.width = int(height), int(width)

    _moves_boxes = _moves_boxes_at_inference = True

    def inference(self, inputs: torch.Tensor) -> torch.Tensor:
        x, unbatched = _to_nhwc(_float(inputs, self._dtype), self.data_format)
        return _from_nhwc(_smart_resize(x, self.height, self.width), unbatched, self.data_format)

    def inference_with_boxes(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        window = _aspect_window(x.shape[1], x.shape[2], self.height, self.width)
        return _smart_resize(x, self.height, self.width), _window_boxes(boxes, window, self.height, self.width)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment_with_boxes(x, None)[0]

    def augment_with_boxes(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        h, w = x.shape[1], x.shape[2]
        if h < self.height or w < self.width:
            return self.inference_with_boxes(x, boxes)
        gen = self._seed_generator.for_device(torch.device("cpu") if x.is_meta else x.device)
        # one window per batch (as Keras), drawn on the host: slicing needs Python ints
        top = int(torch.randint(0, h - self.height + 1, (1,), generator=gen).item()) if not x.is_meta else 0
        left = int(torch.randint(0, w - self.width + 1, (1,), generator=gen).item()) if not x.is_meta else 0
        window = (top, left, self.height, self.width)
        return x[:, top:top + self.height, left:left + self.width, :], _window_boxes(boxes, window, *window[2:])

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width}


class _AffineLayer(_RandomLayer):
    """Shared parts of rotation, zoom and translation: fill mode, interpolation, resampling."""

    def __init__(self, fill_mode: str = "reflect", interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        _check_fill(fill_mode, interpolation)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = float(fill_value)

    def matrices(self, n: int, h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        raise NotImplementedError("abstract: each geometric augmentation implements matrices")

    _moves_boxes = True

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment_with_boxes(x, None)[0]

    def augment_with_boxes(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        n, h, w, _ = x.shape
        matrix = self.matrices(n, h, w, x.device, x.dtype)  # (n, 2, 3): output pixel -> input pixel
        out = _affine(x, matrix, self.interpolation, self.fill_mode, self.fill_value)
        return out, None if boxes is None else {**boxes, "boxes": affine_boxes(boxes["boxes"], matrix)}

    def get_config(self) -> dict:
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


class RandomRotation(_AffineLayer):
    """Rotate each image about its center by ``factor * 2π`` radians, factor drawn from ``(lower, upper)``
    (a float f means (-f, f)); positive factors rotate counter-clockwise."""

    def __init__(self, factor: Any, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs: Any):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value,
                         **kwargs)
        self.factor = factor
        self._range = _symmetric_range(factor, "RandomRotation factor", bound=None)

    def matrices(self, n, h, w, device, dtype):
        angle = self._uniform(n, *self._range, device, dtype) * 2 * math.pi  # (n,)
        cos, sin = torch.cos(angle), torch.sin(angle)
        cx, cy = (w - 1) / 2, (h - 1) / 2
        # input = R(angle) (output - center) + center, with y pointing down
        row_x = torch.stack([cos, -sin, cx - cos * cx + sin * cy], dim=-1)
        row_y = torch.stack([sin, cos, cy - sin * cx - cos * cy], dim=-1)
        return torch.stack([row_x, row_y], dim=1)

    def get_config(self) -> dict:
        factor = list(self.factor) if isinstance(self.factor, (tuple, list)) else self.factor
        return {**super().get_config(), "factor": factor}


class RandomZoom(_AffineLayer):
    """Zoom each image about its center: a factor f drawn from ``height_factor`` (a float f means (-f, f))
    scales the sampled window by ``1 + f`` (positive zooms out, negative zooms in). ``width_factor=None``
    keeps the aspect ratio (the width uses the height's draw)."""

    def __init__(self, height_factor: Any, width_factor: Any = None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 **kwargs: Any):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value,
                         **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h_range = _symmetric_range(height_factor, "RandomZoom height_factor", bound=None)
        self._w_range = None if width_factor is None else _symmetric_range(width_factor, "RandomZoom width_factor",
                                                                           bound=None)
        for lower, _ in [self._h_range] + ([self._w_range] if self._w_range else []):
            if lower <= -1:
                raise ValueError("RandomZoom factors must be greater than -1 (a zoom of 1 + factor > 0).")

    def matrices(self, n, h, w, device, dtype):
        zy = 1 + self._uniform(n, *self._h_range, device, dtype)  # (n,)
        zx = zy if self._w_range is None else 1 + self._uniform(n, *self._w_range, device, dtype)
        cx, cy = (w - 1) / 2, (h - 1) / 2
        zero = torch.zeros_like(zx)
        row_x = torch.stack([zx, zero, cx * (1 - zx)], dim=-1)
        row_y = torch.stack([zero, zy, cy * (1 - zy)], dim=-1)
        return torch.stack([row_x, row_y], dim=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": plain(self.height_factor),
                "width_factor": plain(self.width_factor)}


class RandomTranslation(_AffineLayer):
    """Shift each image by a fraction of its height and width drawn from ``height_factor`` and
    ``width_factor`` (a float f means (-f, f)); positive values shift down and right."""

    def __init__(self, height_factor: Any, width_factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 **kwargs: Any):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value,
                         **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h_range = _symmetric_range(height_factor, "RandomTranslation height_factor")
        self._w_range = _symmetric_range(width_factor, "RandomTranslation width_factor")

    def matrices(self, n, h, w, device, dtype):
        dy = self._uniform(n, *self._h_range, device, dtype) * h  # (n,)
        dx = self._uniform(n, *self._w_range, device, dtype) * w
        one, zero = torch.ones_like(dx), torch.zeros_like(dx)
        row_x = torch.stack([one, zero, -dx], dim=-1)
        row_y = torch.stack([zero, one, -dy], dim=-1)
        return torch.stack([row_x, row_y], dim=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": plain(self.height_factor),
                "width_factor": plain(self.width_factor)}


class RandomContrast(_RandomLayer):
    """Per image, ``(x - mean) * c + mean`` with ``mean`` the per-channel mean over height and width and
    ``c`` drawn from ``[1 - lower, 1 + upper]`` (a float f means lower = upper = f); clipped to
    ``value_range``."""

    def __init__(self, factor: Any, value_range: tuple = (0, 255), seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        if isinstance(factor, (tuple, list)):
            lower, upper = float(factor[0]), float(factor[1])
        else:
            lower = upper = float(factor)
        if not (0 <= lower <= 1 and upper >= 0):
            raise ValueError(f"RandomContrast: factor must be >= 0 (and lower <= 1); received {factor!r}.")
        self.factor, self._range = factor, (1 - lower, 1 + upper)
        self.value_range = tuple(value_range)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        c = self._uniform(n, *self._range, x.device, x.dtype).reshape(n, 1, 1, 1)
        mean = x.mean(dim=(1, 2), keepdim=True)  # (n, 1, 1, channels)
        return ((x - mean) * c + mean).clamp(*self.value_range)

    def get_config(self) -> dict:
        factor = list(self.factor) if isinstance(self.factor, (tuple, list)) else self.factor
        return {**super().get_config(), "factor": factor, "value_range": list(self.value_range)}


class RandomBrightness(_RandomLayer):
    """Per image, add ``f * (high - low)`` with f drawn from ``factor`` (a float f means (-f, f), within
    [-1, 1]) and ``value_range = (low, high)``; clipped to ``value_range``."""

    def __init__(self, factor: Any, value_range: tuple = (0, 255), seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor
        self._range = _symmetric_range(factor, "RandomBrightness factor")
        self.value_range = tuple(value_range)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        low, high = self.value_range
        delta = self._uniform(n, *self._range, x.device, x.dtype).reshape(n, 1, 1, 1) * (high - low)
        return (x + delta).clamp(low, high)

    def get_config(self) -> dict:
        factor = list(self.factor) if isinstance(self.factor, (tuple, list)) else self.factor
        return {**super().get_config(), "factor": factor, "value_range": list(self.value_range)}
