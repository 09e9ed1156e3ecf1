"""Color augmentation layers: auto-contrast, solarization, inversion, grayscale, posterization and
color degeneration, as Keras 3's layers of the same names.

Images are channels-last ``(batch, height, width, channels)`` (an unbatched ``(h, w, c)`` image works too;
``data_format="channels_first"`` is accepted). Pixel values live in ``value_range`` (default ``(0, 255)``).
Random layers change their input only when called with ``training=True`` and pass it through otherwise;
``AutoContrast`` is deterministic and transforms always. Integer images come out in the layer's float dtype.
Each image of a batch draws its own random parameters.

>>> import torch
>>> AutoContrast()(torch.tensor([[[[1.0], [3.0]]]])).flatten()
tensor([  0., 255.])
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from lamina.layers.augmentation_utils import (
    check_value_range,
    factor_range,
    from_unit,
    grayscale,
    hsv_to_rgb,
    per_image,
    plain,
    rgb_to_hsv,
    to_unit,
)
from lamina.layers.image_inputs import call_dict
from lamina.layers.preprocessing import (
    RandomBrightness,
    RandomContrast,
    _float,
    _from_nhwc,
    _RandomLayer,
    _to_nhwc,
)

__all__ = ["AutoContrast", "ContrastLimitedAdaptiveHistogramEqualization", "Equalization",
           "RandomColorDegeneration", "RandomColorJitter", "RandomGrayscale",
           "RandomHue", "RandomInvert", "RandomPosterization", "RandomSaturation", "RandomSharpness",
           "Solarization"]


class AutoContrast(_RandomLayer):
    """Stretch each channel of each image so that its minimum and maximum span ``value_range``.

    Deterministic: applied in training and at inference alike. A constant channel is left unchanged.

    >>> import torch
    >>> AutoContrast(value_range=(0, 1))(torch.tensor([[[[0.2], [0.6]]]])).flatten()
    tensor([0., 1.])
    """

    def __init__(self, value_range: tuple = (0, 255), **kwargs: Any):
        super().__init__(**kwargs)
        self.value_range = check_value_range(value_range, "AutoContrast")

    def call(self, inputs: Any, training: bool | None = None) -> Any:  # in training and inference alike
        if isinstance(inputs, dict):  # Keras's {"images", "bounding_boxes", ...}: colours only, boxes stay
            return call_dict(self, inputs, self.augment_with_boxes, moves_boxes=False)
        x, unbatched = _to_nhwc(_float(inputs, self._dtype), self.data_format)
        return _from_nhwc(self.augment(x), unbatched, self.data_format)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        lo = x.amin(dim=(1, 2), keepdim=True)  # (n, 1, 1, c)
        hi = x.amax(dim=(1, 2), keepdim=True)
        span = hi - lo
        flat = span <= 0
        scaled = from_unit((x - lo) / torch.where(flat, torch.ones_like(span), span), self.value_range)
        return torch.where(flat, x, scaled)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("seed", None)
        return {**config, "value_range": list(self.value_range)}


class Solarization(_RandomLayer):
    """Invert pixels at or above a threshold: ``high - x + low`` within ``value_range = (low, high)``.

    In training each image draws ``a`` from ``addition_factor`` and ``t`` from ``threshold_factor`` (a float f
    means ``(0, f)``, both within [0, 1]); ``a * (high - low)`` is added to every pixel (clipped to the range),
    then pixels at or above ``low + t * (high - low)`` are inverted. With the defaults (0, 0) every pixel is
    inverted. At inference the input passes through, as in Keras.

    Keras 3.15 draws both values from ``(0, upper)`` whatever the lower bound; lamina draws from
    ``(lower, upper)`` as documented, so ``(0.5, 0.5)`` is a fixed setting here.

    >>> import torch
    >>> Solarization(value_range=(0, 1))(torch.tensor([[[[0.0], [0.75]]]]), training=True).flatten()
    tensor([1.0000, 0.2500])
    """

    def __init__(self, addition_factor: Any = 0.0, threshold_factor: Any = 0.0, value_range: tuple = (0, 255),
                 seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = factor_range(addition_factor, "Solarization addition_factor")
        self.threshold_factor = factor_range(threshold_factor, "Solarization threshold_factor")
        self.value_range = check_value_range(value_range, "Solarization")

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        add = per_image(self._uniform(n, *self.addition_factor, x.device, x.dtype))
        threshold = per_image(self._uniform(n, *self.threshold_factor, x.device, x.dtype))
        u = (to_unit(x, self.value_range) + add).clamp(0, 1)
        return from_unit(torch.where(u >= threshold, 1 - u, u), self.value_range)

    def get_config(self) -> dict:
        return {**super().get_config(), "addition_factor": list(self.addition_factor),
                "threshold_factor": list(self.threshold_factor), "value_range": list(self.value_range)}


class RandomInvert(_RandomLayer):
    """Invert each image (``high - x + low``) with probability ``p``, drawn per image from ``factor`` (a float
    f means ``(0, f)``; default ``(0, 1)``, i.e. half the images on average).

    >>> import torch
    >>> RandomInvert(factor=(1.0, 1.0))(torch.zeros(1, 1, 1, 1), training=True).flatten()
    tensor([255.])
    """

    def __init__(self, factor: Any = 1.0, value_range: tuple = (0, 255), seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor_range(factor, "RandomInvert factor")
        self.value_range = check_value_range(value_range, "RandomInvert")

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        p = self._uniform(n, *self.factor, x.device, x.dtype)
        chosen = per_image(self._uniform(n, 0, 1, x.device, x.dtype) < p)
        low, high = float(self.value_range[0]), float(self.value_range[1])
        return torch.where(chosen, high + low - x, x)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomGrayscale(_RandomLayer):
    """Replace each RGB image, with probability ``factor``, by its luma
    (``0.2989 R + 0.587 G + 0.114 B``) in all three channels; the shape is kept.

    >>> import torch
    >>> RandomGrayscale(factor=1.0)(torch.tensor([[[[1.0, 0.0, 0.0]]]]), training=True)
    tensor([[[[0.2989, 0.2989, 0.2989]]]])
    """

    def __init__(self, factor: float = 0.5, data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not 0 <= float(factor) <= 1:
            raise ValueError(f"RandomGrayscale: factor must be in [0, 1]; received {factor!r}.")
        self.factor = float(factor)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        chosen = per_image(self._uniform(n, 0, 1, x.device, x.dtype) < self.factor)
        return torch.where(chosen, grayscale(x).expand_as(x), x)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor}


class RandomPosterization(_RandomLayer):
    """Keep only the top ``b`` bits of each 8-bit channel value, ``b`` an integer drawn per image.

    ``factor`` is an int ``u`` (meaning the pair ``(1, u)``) or a pair ``(lower, upper)`` within 1..8. As in
    Keras 3.15, ``b`` is uniform over ``lower .. upper - 1`` (the upper bound excluded) unless
    ``lower == upper``, which fixes ``b``.

    Values are mapped from ``value_range`` onto 0..255, truncated to integers, masked, and mapped back.

    >>> import torch
    >>> RandomPosterization(factor=(3, 3))(torch.tensor([[[[162.0]]]]), training=True).flatten()
    tensor([160.])
    """

    def __init__(self, factor: Any, value_range: tuple = (0, 255), data_format: str | None = None,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(factor, (tuple, list)):
            lower, upper = int(factor[0]), int(factor[1])
        else:
            lower, upper = 1, int(factor)
        if not 1 <= lower <= upper <= 8:
            raise ValueError(f"RandomPosterization: factor must be bits in 1..8 (lower <= upper); received "
                             f"{factor!r}.")
        self.factor = (lower, upper)
        self.value_range = check_value_range(value_range, "RandomPosterization")

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        lower, upper = self.factor
        top = upper if lower == upper else upper - 1
        bits = torch.floor(self._uniform(n, lower, top + 1, x.device, torch.float32)).clamp(lower, top)
        step = per_image(2.0 ** (8 - bits)).to(x.dtype)  # the value of the lowest kept bit
        levels = torch.floor((to_unit(x, self.value_range) * 255).clamp(0, 255))
        return from_unit(torch.floor(levels / step) * step / 255, self.value_range)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomColorDegeneration(_RandomLayer):
    """Blend each RGB image towards its grayscale version: ``x + f * (gray(x) - x)``, clipped to
    ``value_range``, with ``f`` drawn per image from ``factor`` (a float f means ``(-f, f)``, as Keras 3.15
    does; a negative f moves away from gray, i.e. saturates). ``(1, 1)`` gives the grayscale image.

    >>> import torch
    >>> RandomColorDegeneration((1.0, 1.0))(torch.tensor([[[[1.0, 0.0, 0.0]]]]), training=True)
    tensor([[[[0.2989, 0.2989, 0.2989]]]])
    """

    def __init__(self, factor: Any, value_range: tuple = (0, 255), data_format: str | None = None,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "RandomColorDegeneration factor", symmetric=True, low=-1.0)
        self.value_range = check_value_range(value_range, "RandomColorDegeneration")

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        f = per_image(self._uniform(x.shape[0], *self.factor, x.device, x.dtype))
        low, high = float(self.value_range[0]), float(self.value_range[1])
        return (x + f * (grayscale(x) - x)).clamp(low, high)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomSharpness(_RandomLayer):
    """Blend each image with its blur: ``blur + 2 f (x - blur)``, clipped to ``value_range``, with ``f`` drawn
    per image from ``factor`` (a float f means ``(0, f)``, within [0, 1]).

    ``f = 0`` gives the blur, ``f = 0.5`` the image itself, ``f = 1`` twice as sharp. The blur is the 3x3
    kernel ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13`` per channel, with zeros beyond the border (as Keras).

    >>> import torch
    >>> x = torch.rand(1, 4, 4, 3) * 255
    >>> torch.allclose(RandomSharpness((0.5, 0.5))(x, training=True), x)
    True
    """

    def __init__(self, factor: Any, value_range: tuple = (0, 255), data_format: str | None = None,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "RandomSharpness factor")
        self.value_range = check_value_range(value_range, "RandomSharpness")

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        f = per_image(self._uniform(n, *self.factor, x.device, x.dtype))
        kernel = torch.ones(3, 3, dtype=x.dtype, device=x.device)
        kernel[1, 1] = 5.0
        kernel = (kernel / 13).expand(c, 1, 3, 3)
        blur = F.conv2d(x.permute(0, 3, 1, 2), kernel, padding=1, groups=c).permute(0, 2, 3, 1)
        low, high = float(self.value_range[0]), float(self.value_range[1])
        return (blur + (x - blur) * (2 * f)).clamp(low, high)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomSaturation(_RandomLayer):
    """Scale the HSV saturation of each RGB image by ``f / (1 - f)``, ``f`` drawn per image from ``factor``.

    ``f = 0`` gives grayscale (the HSV value in every channel), ``f = 0.5`` the image itself, ``f = 1`` full
    saturation. The new saturation is clipped to [0, 1], as Keras 3.15 does for ``value_range=(0, 1)``; with
    ``(0, 255)`` Keras leaves it unclipped, so that its ``f > 0.5`` leaves the value range there. As in Keras,
    a single float f means ``(-f, f)`` and the draw is then clipped to [0, 1], so draws below 0 make the
    image gray; pass a pair to choose the range.

    >>> import torch
    >>> RandomSaturation((0.0, 0.0))(torch.tensor([[[[255.0, 0.0, 0.0]]]]), training=True)
    tensor([[[[255., 255., 255.]]]])
    """

    def __init__(self, factor: Any, value_range: tuple = (0, 255), data_format: str | None = None,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "RandomSaturation factor", symmetric=True, low=-1.0)
        self.value_range = check_value_range(value_range, "RandomSaturation")

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        f = self._uniform(x.shape[0], *self.factor, x.device, x.dtype).clamp(0, 1)
        scale = per_image(f / (1 - f).clamp_min(1e-7))
        hsv = rgb_to_hsv(to_unit(x, self.value_range))
        hsv = torch.cat([hsv[..., :1], (hsv[..., 1:2] * scale).clamp(0, 1), hsv[..., 2:]], dim=-1)
        return from_unit(hsv_to_rgb(hsv), self.value_range)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomHue(_RandomLayer):
    """Rotate the HSV hue of each RGB image by ``±f / 2`` of a full turn, ``f`` drawn per image from
    ``factor`` (a float f means ``(0, f)``, within [0, 1]) and the sign by a fair coin.

    ``f = 0`` leaves the image, ``f = 1`` turns the hue half way round (the complementary colors).

    >>> import torch
    >>> RandomHue((1.0, 1.0))(torch.tensor([[[[255.0, 0.0, 0.0]]]]), training=True)
    tensor([[[[  0., 255., 255.]]]])
    """

    def __init__(self, factor: Any, value_range: tuple = (0, 255), data_format: str | None = None,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "RandomHue factor")
        self.value_range = check_value_range(value_range, "RandomHue")

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        f = self._uniform(n, *self.factor, x.device, x.dtype)
        sign = torch.where(self._uniform(n, 0, 1, x.device, x.dtype) < 0.5, -1.0, 1.0).to(x.dtype)
        delta = per_image(f * sign / 2)
        hsv = rgb_to_hsv(to_unit(x, self.value_range))
        hsv = torch.cat([torch.remainder(hsv[..., :1] + delta, 1.0), hsv[..., 1:]], dim=-1)
        return from_unit(hsv_to_rgb(hsv), self.value_range)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomColorJitter(_RandomLayer):
    """Apply, in this order, ``RandomBrightness``, ``RandomContrast``, ``RandomSaturation`` and ``RandomHue``
    for each factor given (``None`` skips that step), all with the same ``value_range``.

    The factors mean what they mean in those layers (brightness: a float f is ``(-f, f)`` of the value range;
    contrast: a float f gives contrast factors in ``[1 - f, 1 + f]``; saturation and hue: see their layers).

    >>> import torch
    >>> jitter = RandomColorJitter(brightness_factor=(0.1, 0.1), hue_factor=(1.0, 1.0))
    >>> jitter(torch.tensor([[[[200.0, 0.0, 0.0]]]]), training=True)
    tensor([[[[ 25.5000, 225.5000, 225.5000]]]])
    """

    def __init__(self, value_range: tuple = (0, 255), brightness_factor: Any = None, contrast_factor: Any = None,
                 saturation_factor: Any = None, hue_factor: Any = None, seed: int | None = None,
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = check_value_range(value_range, "RandomColorJitter")
        self.brightness_factor, self.contrast_factor = brightness_factor, contrast_factor
        self.saturation_factor, self.hue_factor = saturation_factor, hue_factor
        steps = [(brightness_factor, RandomBrightness), (contrast_factor, RandomContrast),
                 (saturation_factor, RandomSaturation), (hue_factor, RandomHue)]
        self._steps = [make(factor, value_range=self.value_range, data_format="channels_last",
                            seed=None if seed is None else seed + i)  # distinct streams per step
                       for i, (factor, make) in enumerate(steps) if factor is not None]

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        for step in self._steps:
            x = step.augment(x)
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "value_range": list(self.value_range),
                "brightness_factor": plain(self.brightness_factor), "contrast_factor": plain(self.contrast_factor),
                "saturation_factor": plain(self.saturation_factor), "hue_factor": plain(self.hue_factor)}


class Equalization(_RandomLayer):
    """Histogram equalization of each channel, over the whole batch.

    Values in ``value_range`` fall into ``bins`` bins (bin ``floor((x - low) (bins - 1) / (high - low))``);
    each bin maps to ``round(255 (cdf - cdf_min) / (n - cdf_min))``, rescaled to ``value_range`` (``cdf``:
    the pixels in that bin or below, ``cdf_min``: those in the lowest occupied bin, ``n``: all pixels). A
    channel whose pixels all share one bin is left unchanged.

    As Keras 3.15 does, one histogram per channel counts the pixels of every image in the batch, so an
    image's result depends on the batch it comes in (call the layer on single images for per-image
    equalization). Like Keras 3.15 (whatever its docstring says), the layer passes images through unchanged
    when called with ``training=False``; a Keras layer called directly defaults to training, a lamina layer
    to inference, so pass ``training=True`` to equalize outside ``fit``.

    >>> import torch
    >>> Equalization()(torch.tensor([[[[0.0], [10.0], [10.0], [20.0]]]]), training=True).flatten()
    tensor([  0., 170., 170., 255.])
    """

    def __init__(self, value_range: tuple = (0, 255), bins: int = 256, data_format: str | None = None,
                 **kwargs: Any):
        super().__init__(data_format=data_format, **kwargs)
        self.value_range = check_value_range(value_range, "Equalization")
        if int(bins) < 2:
            raise ValueError(f"Equalization: bins must be at least 2; received {bins!r}.")
        self.bins = int(bins)
        # False: Keras's histogram per channel over the whole batch; True (RandAugment/AugMix): per image and
        # channel, all images at once
        self.each_image = False

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        low, high = float(self.value_range[0]), float(self.value_range[1])
        if self.each_image:
            rows = x.permute(0, 3, 1, 2).reshape(n * c, h * w)  # one row per image and channel
        else:
            rows = x.permute(3, 0, 1, 2).reshape(c, n * h * w)  # one row per channel, the whole batch pooled
        index = torch.floor((rows - low) * (self.bins - 1) / (high - low)).clamp(0, self.bins - 1).long()
        hist = torch.zeros(rows.shape[0], self.bins, dtype=torch.float64, device=x.device)
        hist.scatter_add_(1, index, torch.ones_like(index, dtype=torch.float64))
        cdf = hist.cumsum(dim=1)
        cdf_min = cdf.gather(1, index.amin(dim=1, keepdim=True))  # (rows, 1): the pixels in the lowest bin
        spread = rows.shape[1] - cdf_min
        lut = torch.round((cdf - cdf_min) / spread.clamp_min(1) * 255)
        out = lut.gather(1, index).to(x.dtype) / 255 * (high - low) + low
        out = torch.where(spread > 0, out, rows)
        if self.each_image:
            return out.reshape(n, c, h, w).permute(0, 2, 3, 1)
        return out.reshape(c, n, h, w).permute(1, 2, 3, 0)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("seed", None)
        return {**config, "value_range": list(self.value_range), "bins": self.bins}


class ContrastLimitedAdaptiveHistogramEqualization(_RandomLayer):
    """CLAHE: histogram equalization per tile of a ``tile_grid_size = (rows, cols)`` grid, with each tile's
    histogram clipped, and the tiles' mappings blended bilinearly between tile centers.

    Per image and channel, values in ``value_range`` map to 256 levels; each tile (``height // rows`` by
    ``width // cols`` pixels) counts them, caps every level at ``floor(clip_limit * pixels / 256)`` and spreads
    the excess evenly over all levels; its mapping is ``255 (cdf - cdf[0]) / (pixels - cdf[0])``, as Keras
    3.15 computes it. Deterministic: applied in training and at inference alike.

    >>> import torch
    >>> x = torch.rand(1, 16, 16, 3) * 255
    >>> ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2))(x).shape
    torch.Size([1, 16, 16, 3])
    """

    def __init__(self, value_range: tuple = (0, 255), clip_limit: float = 4.0, tile_grid_size: Any = (8, 8),
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(data_format=data_format, **kwargs)
        self.value_range = check_value_range(value_range, "ContrastLimitedAdaptiveHistogramEqualization")
        if not float(clip_limit) > 0:
            raise ValueError(f"ContrastLimitedAdaptiveHistogramEqualization: clip_limit must be positive; "
                             f"received {clip_limit!r}.")
        self.clip_limit = float(clip_limit)
        grid = tuple(int(g) for g in tile_grid_size)
        if len(grid) != 2 or min(grid) < 1:
            raise ValueError(f"ContrastLimitedAdaptiveHistogramEqualization: tile_grid_size must be two positive "
                             f"ints; received {tile_grid_size!r}.")
        self.tile_grid_size = grid

    def call(self, inputs: Any, training: bool | None = None) -> Any:  # in training and inference alike
        if isinstance(inputs, dict):  # Keras's {"images", "bounding_boxes", ...}: colours only, boxes stay
            return call_dict(self, inputs, self.augment_with_boxes, moves_boxes=False)
        x, unbatched = _to_nhwc(_float(inputs, self._dtype), self.data_format)
        return _from_nhwc(self.augment(x), unbatched, self.data_format)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        gh, gw = self.tile_grid_size
        th, tw = h // gh, w // gw
        if th < 1 or tw < 1:
            raise ValueError(f"ContrastLimitedAdaptiveHistogramEqualization: a {h}x{w} image is smaller than the "
                             f"{gh}x{gw} tile grid.")
        low, high = float(self.value_range[0]), float(self.value_range[1])
        planes = x.permute(0, 3, 1, 2).reshape(n * c, h, w)  # one plane per (image, channel)
        levels = torch.floor((planes - low) / (high - low) * 255).clamp(0, 255).long()
        tiles = levels[:, :gh * th, :gw * tw].reshape(n * c, gh, th, gw, tw).permute(0, 1, 3, 2, 4)
        tiles = tiles.reshape(n * c, gh * gw, th * tw)
        hist = torch.zeros(n * c, gh * gw, 256, dtype=torch.float64, device=x.device)
        hist.scatter_add_(2, tiles, torch.ones_like(tiles, dtype=torch.float64))
        limit = math.floor(self.clip_limit * th * tw / 256)
        clipped = hist.clamp(max=limit)
        clipped = clipped + (hist - clipped).sum(dim=2, keepdim=True) / 256
        cdf = clipped.cumsum(dim=2)
        first = cdf[..., :1]
        lut = (cdf - first) / (cdf[..., -1:] - first).clamp_min(1e-12) * 255  # (planes, tiles, 256)
        # blend the four nearest tiles' mappings, tile centers at ((i + 1/2) th, (j + 1/2) tw)
        fy = torch.arange(h, dtype=torch.float64, device=x.device) / th - 0.5
        fx = torch.arange(w, dtype=torch.float64, device=x.device) / tw - 0.5
        y0, x0 = torch.floor(fy), torch.floor(fx)
        ay, ax = (fy - y0).reshape(h, 1), (fx - x0).reshape(1, w)
        rows = [(y0.long().clamp(0, gh - 1), 1 - ay), ((y0.long() + 1).clamp(0, gh - 1), ay)]
        cols = [(x0.long().clamp(0, gw - 1), 1 - ax), ((x0.long() + 1).clamp(0, gw - 1), ax)]
        flat_lut = lut.reshape(n * c, gh * gw * 256)
        out = torch.zeros(n * c, h, w, dtype=torch.float64, device=x.device)
        for r, wy in rows:
            for q, wx in cols:
                tile = (r.reshape(h, 1) * gw + q.reshape(1, w)) * 256  # (h, w)
                index = (tile.unsqueeze(0) + levels).reshape(n * c, h * w)
                out = out + flat_lut.gather(1, index).reshape(n * c, h, w) * (wy * wx)
        out = (out / 255 * (high - low) + low).to(x.dtype)
        return out.reshape(n, c, h, w).permute(0, 2, 3, 1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("seed", None)
        return {**config, "value_range": list(self.value_range), "clip_limit": self.clip_limit,
                "tile_grid_size": list(self.tile_grid_size)}
