"""Augmentation pipelines and policies: ``Pipeline`` (a plain layer applying a list of layers in turn),
``RandAugment``, ``AugMix`` and ``MaxNumBoundingBoxes``, as Keras 3's layers of the same names.

The policies draw from one set of operations built on lamina's own augmentation layers, with strengths set by
``factor`` (a float f means ``(0, f)``; 0: no change, 1: the strongest). They change images only in training.

>>> import torch
>>> from lamina.layers.preprocessing import Rescaling
>>> Pipeline([Rescaling(2.0), Rescaling(0.5, offset=1.0)])(torch.ones(1, 2))
tensor([[2., 2.]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lamina.core import serialization
from lamina.layers.augmentation_utils import check_value_range, factor_range, sample_dirichlet
from lamina.layers.bounding_box_ops import clip_to_image_size
from lamina.layers.color_augmentation import (
    AutoContrast,
    Equalization,
    RandomColorDegeneration,
    RandomPosterization,
    RandomSharpness,
    Solarization,
)
from lamina.layers.geometric_augmentation import RandomShear
from lamina.layers.layer import Layer
from lamina.layers.preprocessing import (
    RandomBrightness,
    RandomContrast,
    RandomRotation,
    RandomTranslation,
    _RandomLayer,
)

__all__ = ["AugMix", "MaxNumBoundingBoxes", "Pipeline", "RandAugment"]


class Pipeline(Layer):
    """Apply ``layers`` one after the other, passing ``training`` on to each (unlike a ``Sequential`` model it
    is a plain layer: no compile or fit of its own). Augmentation layers in it change images only in training.

    >>> import torch
    >>> from lamina.layers.preprocessing import RandomFlip, Rescaling
    >>> pipeline = Pipeline([Rescaling(1 / 255), RandomFlip(seed=0)])
    >>> pipeline(torch.full((1, 2, 2, 1), 255.0)).flatten()
    tensor([1., 1., 1., 1.])
    """

    def __init__(self, layers: Sequence[Any], name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        layers = [serialization.deserialize_layer(layer) if isinstance(layer, dict) else layer for layer in layers]
        for layer in layers:
            if not callable(layer):
                raise ValueError(f"Pipeline: every entry must be a layer (a callable); received {layer!r}.")
        self.layers = list(layers)
        self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training) if getattr(layer, "_call_has_training", False) else layer(x)
        return x

    def get_config(self) -> dict:
        return {"name": self.name, "layers": [serialization.serialize_layer(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Pipeline:
        config = dict(config)
        layers = [serialization.deserialize(layer, custom_objects, kind="layers") if isinstance(layer, dict)
                  else layer for layer in config.pop("layers")]
        return cls(layers, **config)


class MaxNumBoundingBoxes(Layer):
    """Pad or truncate the bounding boxes of ``{"images": ..., "bounding_boxes": {"boxes", "labels"}}`` inputs
    to exactly ``max_number`` per image (padding with ``fill_value``; truncation keeps the first ones), in
    training and at inference alike. Images, and inputs without boxes, pass through unchanged.

    >>> import torch
    >>> boxes = {"boxes": torch.zeros(1, 3, 4), "labels": torch.tensor([[1, 2, 3]])}
    >>> out = MaxNumBoundingBoxes(max_number=5, bounding_box_format="xyxy")({"images": torch.zeros(1, 8, 8, 3),
    ...                                                                      "bounding_boxes": boxes})
    >>> out["bounding_boxes"]["labels"]
    tensor([[ 1,  2,  3, -1, -1]])
    """

    def __init__(self, max_number: int, fill_value: float = -1, bounding_box_format: str | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if int(max_number) < 1:
            raise ValueError(f"MaxNumBoundingBoxes: max_number must be >= 1; received {max_number!r}.")
        self.max_number, self.fill_value = int(max_number), fill_value
        self.bounding_box_format = bounding_box_format
        self.built = True

    def _fit(self, value: Any, axis: int) -> torch.Tensor:
        value = torch.as_tensor(value)
        count = value.shape[axis]
        if count >= self.max_number:
            return value.narrow(axis, 0, self.max_number)
        shape = list(value.shape)
        shape[axis] = self.max_number - count
        pad = torch.full(shape, self.fill_value, dtype=value.dtype, device=value.device)
        return torch.cat([value, pad], dim=axis)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not isinstance(inputs, dict) or inputs.get("bounding_boxes") is None:
            return inputs
        boxes = dict(inputs["bounding_boxes"])
        axis = 0 if torch.as_tensor(boxes["boxes"]).ndim == 2 else 1  # unbatched (k, 4) or (batch, k, 4)
        boxes["boxes"] = self._fit(boxes["boxes"], axis)
        if boxes.get("labels") is not None:
            boxes["labels"] = self._fit(boxes["labels"], axis)
        return {**inputs, "bounding_boxes": boxes}

    def get_config(self) -> dict:
        return {**super().get_config(), "max_number": self.max_number, "fill_value": self.fill_value,
                "bounding_box_format": self.bounding_box_format}


def _per_image(layer: Any) -> Any:
    """Equalization as the policies mean it: each image on its own (all images at once)."""
    layer.each_image = True
    return layer


def _operations(value_range: tuple, factor: tuple[float, float], interpolation: str, seed: int | None,
                extended: bool) -> list[tuple[str, _RandomLayer]]:
    """The policies' operations, strengths scaled by ``factor``; ``extended`` adds brightness, color,
    contrast and sharpness (AutoAugment's full list)."""
    lo, hi = factor
    low, high = float(value_range[0]), float(value_range[1])
    common = {"data_format": "channels_last"}
    geometric = {"interpolation": interpolation, "fill_mode": "constant", "fill_value": (low + high) / 2, **common}
    bits = max(1, 8 - round(4 * hi))
    ops: list[tuple[str, Any]] = [
        ("auto_contrast", lambda s: AutoContrast(value_range=value_range, **common)),
        ("equalization", lambda s: _per_image(Equalization(value_range=value_range, **common))),
        ("solarization", lambda s: Solarization(threshold_factor=(1 - hi, 1 - lo), value_range=value_range,
                                                seed=s, **common)),
        ("posterization", lambda s: RandomPosterization((bits, 8), value_range=value_range, seed=s, **common)),
        ("rotation", lambda s: RandomRotation((-hi * 30 / 360, hi * 30 / 360), seed=s, **geometric)),
        ("shear_x", lambda s: RandomShear(x_factor=(0.3 * lo, 0.3 * hi), seed=s, **geometric)),
        ("shear_y", lambda s: RandomShear(y_factor=(0.3 * lo, 0.3 * hi), seed=s, **geometric)),
        ("translation_x", lambda s: RandomTranslation(0.0, (-0.3 * hi, 0.3 * hi), seed=s, **geometric)),
        ("translation_y", lambda s: RandomTranslation((-0.3 * hi, 0.3 * hi), 0.0, seed=s, **geometric)),
    ]
    if extended:
        ops += [
            ("brightness", lambda s: RandomBrightness((-0.3 * hi, 0.3 * hi), value_range=value_range, seed=s,
                                                      **common)),
            ("color_degeneration", lambda s: RandomColorDegeneration((-0.9 * hi, 0.9 * hi),
                                                                     value_range=value_range, seed=s, **common)),
            ("contrast", lambda s: RandomContrast(0.9 * hi, value_range=value_range, seed=s, **common)),
            ("sharpness", lambda s: RandomSharpness((0.5 - 0.45 * hi, 0.5 + 0.45 * hi), value_range=value_range,
                                                    seed=s, **common)),
        ]
    return [(name, make(None if seed is None else seed + 1 + i)) for i, (name, make) in enumerate(ops)]


class RandAugment(_RandomLayer):
    """RandAugment (Cubuk et al.): ``num_ops`` times, each image undergoes one operation drawn uniformly from
    identity, auto-contrast, equalization, solarization, posterization, rotation (up to 30 degrees), shear
    and translation along x and y (up to 0.3), brightness, color, contrast and sharpness, with strengths
    scaled by ``factor`` (default ``(0, 0.5)``). Geometric operations fill with the middle of ``value_range``.

    The operation set follows the paper; Keras 3.15's draws are not reproduced.

    >>> import torch
    >>> RandAugment(seed=0)(torch.rand(2, 8, 8, 3) * 255, training=True).shape
    torch.Size([2, 8, 8, 3])
    """

    def __init__(self, value_range: tuple = (0, 255), num_ops: int = 2, factor: Any = 0.5,
                 interpolation: str = "bilinear", seed: int | None = None, data_format: str | None = None,
                 **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = check_value_range(value_range, "RandAugment")
        if int(num_ops) < 0:
            raise ValueError(f"RandAugment: num_ops must be >= 0; received {num_ops!r}.")
        self.num_ops = int(num_ops)
        self.factor = factor_range(factor, "RandAugment factor")
        self.interpolation = interpolation
        self._ops = [("identity", None)] + _operations(self.value_range, self.factor, interpolation, seed, True)

    _moves_boxes = True  # boxes follow each image's geometric operations (clipped after each, as Keras)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment_with_boxes(x, None)[0]

    def augment_with_boxes(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        n, h, w, _ = x.shape
        for _ in range(self.num_ops):
            gen = self._seed_generator.for_device(x.device)
            choice = torch.randint(len(self._ops), (n,), generator=gen, device=x.device)
            out = x.clone()
            moved = None if boxes is None else boxes["boxes"].clone()
            for k, (_, op) in enumerate(self._ops):
                picked = (choice == k).nonzero().flatten()
                if op is not None and picked.numel():  # index_select/index_copy_: the fast paths of x[i] and x[i] = y
                    some = None if boxes is None else {"boxes": boxes["boxes"].index_select(0, picked)}
                    result, some = op.augment_with_boxes(x.index_select(0, picked), some)
                    out.index_copy_(0, picked, result.to(out.dtype))
                    if some is not None:
                        moved.index_copy_(0, picked, some["boxes"].to(moved.dtype))
            x = out
            if boxes is not None:
                boxes = clip_to_image_size({**boxes, "boxes": moved}, height=h, width=w)
        return x, boxes

    def get_config(self) -> dict:
        return {**super().get_config(), "value_range": list(self.value_range), "num_ops": self.num_ops,
                "factor": list(self.factor), "interpolation": self.interpolation}


class AugMix(_RandomLayer):
    """AugMix (Hendrycks et al.): ``num_chains`` chains of 1 to ``chain_depth`` operations (drawn per batch,
    each with its own random strength per image) are mixed with Dirichlet(``alpha``) weights, and the mix
    is blended with the original image by a Beta(``alpha``, ``alpha``) weight, per image.

    The operations: auto-contrast, equalization, posterization, rotation, solarization, shear and translation
    along x and y, plus brightness, color, contrast and sharpness when ``all_ops``; strengths scale with
    ``factor`` (default ``(0, 0.3)``). Keras 3.15's draws are not reproduced.

    >>> import torch
    >>> AugMix(seed=0)(torch.rand(2, 8, 8, 3) * 255, training=True).shape
    torch.Size([2, 8, 8, 3])
    """

    def __init__(self, value_range: tuple = (0, 255), num_chains: int = 3, chain_depth: int = 3,
                 factor: Any = 0.3, alpha: float = 1.0, all_ops: bool = True, interpolation: str = "bilinear",
                 seed: int | None = None, data_format: str | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = check_value_range(value_range, "AugMix")
        if int(num_chains) < 1 or int(chain_depth) < 1 or not float(alpha) > 0:
            raise ValueError(f"AugMix: num_chains and chain_depth must be >= 1 and alpha > 0; received "
                             f"{num_chains!r}, {chain_depth!r}, {alpha!r}.")
        self.num_chains, self.chain_depth, self.alpha = int(num_chains), int(chain_depth), float(alpha)
        self.factor = factor_range(factor, "AugMix factor")
        self.all_ops, self.interpolation = bool(all_ops), interpolation
        self._ops = _operations(self.value_range, self.factor, interpolation, seed, self.all_ops)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        gen = self._seed_generator.for_device(x.device)
        weights = sample_dirichlet(n, self.num_chains, self.alpha, gen, x.device).to(x.dtype)  # (n, chains)
        keep = sample_dirichlet(n, 2, self.alpha, gen, x.device)[:, 0].to(x.dtype).reshape(n, 1, 1, 1)
        mix = torch.zeros_like(x)
        for chain in range(self.num_chains):
            depth = int(torch.randint(1, self.chain_depth + 1, (1,), generator=gen, device=x.device).item())
            y = x
            for index in torch.randint(len(self._ops), (depth,), generator=gen, device=x.device).tolist():
                y = self._ops[index][1].augment(y)
            mix = mix + weights[:, chain].reshape(n, 1, 1, 1) * y
        return keep * x + (1 - keep) * mix

    def get_config(self) -> dict:
        return {**super().get_config(), "value_range": list(self.value_range), "num_chains": self.num_chains,
                "chain_depth": self.chain_depth, "factor": list(self.factor), "alpha": self.alpha,
                "all_ops": self.all_ops, "interpolation": self.interpolation}
