"""Batch-mixing augmentation layers: MixUp and CutMix, as Keras 3's layers of the same names.

Each image is mixed with a partner from the same batch (a random permutation of the batch; an image may draw
itself). The input is an image batch, or a dict ``{"images": ..., "labels": ...}`` whose (one-hot or soft)
labels are mixed in the same proportions and which comes back as a dict. A ``"bounding_boxes"`` entry
(``{"boxes", "labels"}``, with the layer's ``bounding_box_format``) gains the partner's boxes: all of them for
MixUp (as Keras), those clipped to the pasted rectangle for CutMix (boxes left empty get the label -1; Keras's
CutMix takes no boxes). Outside training the input passes through unchanged. Images are channels-last
``(batch, height, width, channels)`` unless ``data_format="channels_first"``.

>>> import torch
>>> out = MixUp(alpha=0.2, seed=0)({"images": torch.rand(4, 8, 8, 3), "labels": torch.eye(4)}, training=True)
>>> torch.allclose(out["labels"].sum(-1), torch.ones(4))
True
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.layers import bounding_box_ops, image_inputs
from lamina.layers.augmentation_utils import factor_range, sample_dirichlet
from lamina.layers.preprocessing import _float, _from_nhwc, _RandomLayer, _to_nhwc

__all__ = ["CutMix", "MixUp"]


class _MixingLayer(_RandomLayer):
    """Shared parts: dict inputs, the partner permutation, label mixing."""

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if isinstance(inputs, dict):
            if "images" not in inputs:
                raise ValueError(f"{type(self).__name__}: a dict input needs an 'images' entry; received keys "
                                 f"{sorted(inputs)}.")
            if not training:
                return dict(inputs)
            images, unbatched = _to_nhwc(_float(inputs["images"], self._dtype), self.data_format)
            if unbatched:
                raise ValueError(f"{type(self).__name__} mixes the images of a batch; received one image.")
            mixed, weight, partner, window = self.mix(images)
            out = dict(inputs)
            out["images"] = _from_nhwc(mixed, False, self.data_format)
            if inputs.get("labels") is not None:
                labels = _float(torch.as_tensor(inputs["labels"], device=images.device), images.dtype)
                w = weight.reshape(-1, *([1] * (labels.ndim - 1))).to(labels.dtype)
                out["labels"] = w * labels + (1 - w) * labels[partner]
            if inputs.get("bounding_boxes") is not None:
                out["bounding_boxes"] = self._mix_boxes(inputs["bounding_boxes"], images, partner, window)
            return out
        if not training:
            return inputs
        images, unbatched = _to_nhwc(_float(inputs, self._dtype), self.data_format)
        if unbatched:
            raise ValueError(f"{type(self).__name__} mixes the images of a batch; received one image.")
        return _from_nhwc(self.mix(images)[0], False, self.data_format)

    def _mix_boxes(self, boxes: Any, images: torch.Tensor, partner: torch.Tensor, window: Any) -> dict:
        """Each image's boxes followed by its partner's (within ``window`` (n, 4) xyxy, when given)."""
        boxes = image_inputs.check_boxes(self, boxes)
        b, labels = boxes["boxes"].to(images.device), boxes["labels"].to(images.device)
        if b.ndim != 3:
            raise ValueError(f"{type(self).__name__} mixes the images of a batch; received unbatched boxes of shape "
                             f"{tuple(b.shape)}.")
        theirs = {"boxes": b[partner], "labels": labels[partner]}
        if window is not None:  # the partner's boxes as far as the pasted rectangle shows them
            h, w = images.shape[1], images.shape[2]
            fmt = self.bounding_box_format
            xyxy = bounding_box_ops.convert_format(theirs["boxes"], fmt, "xyxy", height=h, width=w)
            lo, hi = window[:, None, :2].to(xyxy.dtype), window[:, None, 2:].to(xyxy.dtype)  # (n, 1, 2)
            xyxy = torch.cat([torch.maximum(torch.minimum(xyxy[..., :2], hi), lo),
                              torch.maximum(torch.minimum(xyxy[..., 2:], hi), lo)], dim=-1)
            theirs = bounding_box_ops.clip_to_image_size({"boxes": xyxy, "labels": theirs["labels"]}, height=h,
                                                         width=w)
            theirs["boxes"] = bounding_box_ops.convert_format(theirs["boxes"], "xyxy", fmt, height=h, width=w)
        return {**boxes, "boxes": torch.cat([b, theirs["boxes"]], dim=1),
                "labels": torch.cat([labels, theirs["labels"]], dim=1)}

    def partner(self, n: int, device: torch.device) -> torch.Tensor:
        gen = self._seed_generator.for_device(device)
        return torch.randperm(n, generator=gen, device=device)

    def mix(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The mixed images, each image's own share ``(n,)``, its partner's index ``(n,)`` and, for CutMix, the
        pasted rectangle ``(n, 4)`` (xyxy pixels)."""
        raise NotImplementedError("abstract: each mixing layer implements mix")


class MixUp(_MixingLayer):
    """Blend each image with a partner from the batch: ``lam * x + (1 - lam) * partner``, ``lam`` drawn per
    image from ``Beta(alpha, alpha)``; labels (dict input) are blended with the same ``lam``.

    >>> import torch
    >>> images = torch.stack([torch.zeros(2, 2, 1), torch.ones(2, 2, 1)])
    >>> out = MixUp(alpha=0.2, seed=1)({"images": images, "labels": torch.eye(2)}, training=True)
    >>> torch.allclose(out["images"][:, 0, 0, 0], out["labels"][:, 1])
    True
    """

    def __init__(self, alpha: float = 0.2, data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not float(alpha) > 0:
            raise ValueError(f"MixUp: alpha must be positive; received {alpha!r}.")
        self.alpha = float(alpha)

    def _beta_pair(self, n: int, device: torch.device) -> torch.Tensor:
        """``n`` draws of Beta(alpha, alpha) from the layer's seeded stream."""
        return sample_dirichlet(n, 2, self.alpha, self._seed_generator.for_device(device), device)[:, 0]

    def mix(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None]:
        n = x.shape[0]
        partner = self.partner(n, x.device)
        lam = self._beta_pair(n, x.device).to(x.dtype)
        w = lam.reshape(n, 1, 1, 1)
        return w * x + (1 - w) * x[partner], lam, partner, None

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha}


class CutMix(_MixingLayer):
    """Paste a rectangle of a partner image into each image; labels (dict input) mix by area.

    Per image, ``lam`` is drawn uniformly from ``factor`` (a float f means ``(0, f)``, within [0, 1]); the
    rectangle has ``sqrt(1 - lam)`` of the height and width, a uniformly drawn center, and is clipped to the
    image. The image keeps the share ``1 - area / (height * width)`` of its label.

    >>> import torch
    >>> images = torch.stack([torch.zeros(4, 4, 1), torch.ones(4, 4, 1)])
    >>> out = CutMix(seed=2)({"images": images, "labels": torch.eye(2)}, training=True)
    >>> torch.allclose(out["images"].mean(dim=(1, 2, 3)), out["labels"][:, 1])
    True
    """

    def __init__(self, factor: Any = 1.0, seed: int | None = None, data_format: str | None = None,
                 **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "CutMix factor")

    def mix(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        n, h, w, _ = x.shape
        partner = self.partner(n, x.device)
        lam = self._uniform(n, *self.factor, x.device, torch.float32)
        side = torch.sqrt(1 - lam)
        cut_h, cut_w = torch.round(side * h), torch.round(side * w)  # (n,)
        cy = self._uniform(n, 0, 1, x.device, torch.float32) * h
        cx = self._uniform(n, 0, 1, x.device, torch.float32) * w
        top = torch.round(cy - cut_h / 2).clamp(0, h)
        bottom = torch.round(cy + cut_h / 2).clamp(0, h)
        left = torch.round(cx - cut_w / 2).clamp(0, w)
        right = torch.round(cx + cut_w / 2).clamp(0, w)
        rows = torch.arange(h, device=x.device, dtype=torch.float32).reshape(1, h, 1)
        cols = torch.arange(w, device=x.device, dtype=torch.float32).reshape(1, 1, w)
        inside = ((rows >= top.reshape(n, 1, 1)) & (rows < bottom.reshape(n, 1, 1))
                  & (cols >= left.reshape(n, 1, 1)) & (cols < right.reshape(n, 1, 1)))  # (n, h, w)
        mixed = torch.where(inside.unsqueeze(-1), x[partner], x)
        share = 1 - inside.flatten(1).to(torch.float32).mean(dim=1)
        return mixed, share.to(x.dtype), partner, torch.stack([left, top, right, bottom], dim=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor)}
