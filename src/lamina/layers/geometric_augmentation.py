"""Spatial augmentation layers: Gaussian blur, shear, random erasing, perspective and elastic distortions, as
Keras 3's layers of the same names.

Images are channels-last ``(batch, height, width, channels)`` (an unbatched ``(h, w, c)`` image works too;
``data_format="channels_first"`` is accepted). They change their input only when called with
``training=True`` and pass it through otherwise; each image of a batch draws its own parameters.

>>> import torch
>>> x = torch.rand(2, 8, 8, 3)
>>> torch.equal(RandomShear(x_factor=0.2)(x), x)
True
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from lamina.layers.augmentation_utils import check_value_range, factor_range, per_image, plain
from lamina.layers.bounding_box_ops import affine_boxes, homography_boxes, warped_boxes
from lamina.layers.image_sampling import affine as _affine
from lamina.layers.image_sampling import sample as _sample
from lamina.layers.preprocessing import _check_fill, _RandomLayer

__all__ = ["RandomElasticTransform", "RandomErasing", "RandomGaussianBlur", "RandomPerspective", "RandomShear"]


class RandomGaussianBlur(_RandomLayer):
    """Blur each image, with probability ``p`` drawn per image from ``factor`` (a float f means ``(0, f)``),
    by a normalized ``kernel_size`` x ``kernel_size`` Gaussian of standard deviation ``sigma`` (drawn per
    image from ``sigma``; a float s means ``(0, s)``, within [0, 1]), with zeros beyond the border (as Keras).

    >>> import torch
    >>> x = torch.zeros(1, 3, 3, 1); x[0, 1, 1, 0] = 1.0
    >>> RandomGaussianBlur(factor=(1.0, 1.0), sigma=(1.0, 1.0))(x, training=True)[0, :, :, 0].sum()
    tensor(1.)
    """

    def __init__(self, factor: Any = 1.0, kernel_size: Any = 3, sigma: Any = 1.0, value_range: tuple = (0, 255),
                 data_format: str | None = None, seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "RandomGaussianBlur factor")
        sizes = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
        if len(sizes) != 2 or any(int(k) < 1 or int(k) % 2 == 0 for k in sizes):
            raise ValueError(f"RandomGaussianBlur: kernel_size must be an odd positive int (or a pair of them); "
                             f"received {kernel_size!r}.")
        self.kernel_size = (int(sizes[0]), int(sizes[1]))
        self.sigma = factor_range(sigma, "RandomGaussianBlur sigma")
        self.value_range = check_value_range(value_range, "RandomGaussianBlur")

    @staticmethod
    def _kernel_1d(size: int, sigma: torch.Tensor) -> torch.Tensor:
        """``(n, size)`` normalized Gaussians, one per sigma (a sigma of 0 gives the identity kernel)."""
        r = torch.arange(size, dtype=sigma.dtype, device=sigma.device) - (size - 1) / 2
        s = sigma.clamp_min(1e-6).reshape(-1, 1)
        g = torch.exp(-(r**2) / (2 * s**2))
        return g / g.sum(dim=1, keepdim=True)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        p = self._uniform(n, *self.factor, x.device, x.dtype)
        chosen = per_image(self._uniform(n, 0, 1, x.device, x.dtype) < p)
        sigma = self._uniform(n, *self.sigma, x.device, x.dtype)
        kh, kw = self.kernel_size
        kernel = self._kernel_1d(kh, sigma).unsqueeze(2) * self._kernel_1d(kw, sigma).unsqueeze(1)  # (n, kh, kw)
        # one group per (image, channel): each image has its own kernel
        weight = kernel.repeat_interleave(c, dim=0).unsqueeze(1)  # (n*c, 1, kh, kw)
        planes = x.permute(0, 3, 1, 2).reshape(1, n * c, h, w)
        blurred = F.conv2d(planes, weight, padding=(kh // 2, kw // 2), groups=n * c)
        blurred = blurred.reshape(n, c, h, w).permute(0, 2, 3, 1)
        low, high = float(self.value_range[0]), float(self.value_range[1])
        return torch.where(chosen, blurred.clamp(low, high), x)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor), "kernel_size": list(self.kernel_size),
                "sigma": list(self.sigma), "value_range": list(self.value_range)}


class RandomShear(_RandomLayer):
    """Shear each image: the output pixel ``(x, y)`` samples the input at ``(x + sx y, y + sy x)`` (pixel units,
    about the top-left corner, as Keras), with ``sx``, ``sy`` drawn per image from ``x_factor``, ``y_factor``
    (a float f means ``(-f, f)``, within [0, 1]) and one random sign per image applied to both.

    >>> import torch
    >>> x = torch.arange(9.0).reshape(1, 3, 3, 1)
    >>> RandomShear(y_factor=(1.0, 1.0), fill_mode="constant", seed=0)(x, training=True).shape
    torch.Size([1, 3, 3, 1])
    """

    def __init__(self, x_factor: Any = 0.0, y_factor: Any = 0.0, interpolation: str = "bilinear",
                 fill_mode: str = "reflect", fill_value: float = 0.0, data_format: str | None = None,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.x_factor = factor_range(x_factor, "RandomShear x_factor", symmetric=True, low=-1.0)
        self.y_factor = factor_range(y_factor, "RandomShear y_factor", symmetric=True, low=-1.0)
        _check_fill(fill_mode, interpolation)
        self.interpolation, self.fill_mode, self.fill_value = interpolation, fill_mode, float(fill_value)

    _moves_boxes = True

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment_with_boxes(x, None)[0]

    def augment_with_boxes(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        n = x.shape[0]
        sx = self._uniform(n, *self.x_factor, x.device, torch.float32)
        sy = self._uniform(n, *self.y_factor, x.device, torch.float32)
        sign = torch.where(self._uniform(n, 0, 1, x.device, torch.float32) < 0.5, -1.0, 1.0)
        one, zero = torch.ones_like(sx), torch.zeros_like(sx)
        matrix = torch.stack([torch.stack([one, sx * sign, zero], -1),
                              torch.stack([sy * sign, one, zero], -1)], dim=1)  # (n, 2, 3)
        out = _affine(x, matrix, self.interpolation, self.fill_mode, self.fill_value)
        return out, None if boxes is None else {**boxes, "boxes": affine_boxes(boxes["boxes"], matrix)}

    def get_config(self) -> dict:
        return {**super().get_config(), "x_factor": list(self.x_factor), "y_factor": list(self.y_factor),
                "interpolation": self.interpolation, "fill_mode": self.fill_mode, "fill_value": self.fill_value}


class RandomErasing(_RandomLayer):
    """Erase one rectangle of each image, with probability ``p`` drawn per image from ``factor`` (a float f
    means ``(0, f)``), as in Zhong et al.'s Random Erasing.

    The rectangle covers a fraction of the image drawn from ``scale`` (default ``(0.02, 0.33)``) with an
    aspect ratio (height / width) log-uniform in ``[0.3, 1 / 0.3]``, clipped to the image, at a uniformly drawn
    position. It is filled with ``fill_value``, or, when ``fill_value`` is None, with per-pixel noise
    ``low + (high - low) * N(0, 1)`` clipped to ``value_range = (low, high)``.

    >>> import torch
    >>> out = RandomErasing(factor=(1.0, 1.0), fill_value=0.0, seed=0)(torch.ones(1, 10, 10, 1), training=True)
    >>> bool((out == 0).any()), bool((out == 1).any())
    (True, True)
    """

    _ASPECT = (0.3, 1 / 0.3)

    def __init__(self, factor: Any = 1.0, scale: Any = (0.02, 0.33), fill_value: float | None = None,
                 value_range: tuple = (0, 255), seed: int | None = None, data_format: str | None = None,
                 **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "RandomErasing factor")
        self.scale = factor_range(scale, "RandomErasing scale")
        self.fill_value = None if fill_value is None else float(fill_value)
        self.value_range = check_value_range(value_range, "RandomErasing")

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        f32 = torch.float32
        p = self._uniform(n, *self.factor, x.device, f32)
        chosen = self._uniform(n, 0, 1, x.device, f32) < p
        area = self._uniform(n, *self.scale, x.device, f32) * h * w
        ratio = torch.exp(self._uniform(n, math.log(self._ASPECT[0]), math.log(self._ASPECT[1]), x.device, f32))
        eh = torch.round(torch.sqrt(area * ratio)).clamp(1, h)
        ew = torch.round(torch.sqrt(area / ratio)).clamp(1, w)
        top = torch.floor(self._uniform(n, 0, 1, x.device, f32) * (h - eh + 1))
        left = torch.floor(self._uniform(n, 0, 1, x.device, f32) * (w - ew + 1))
        rows = torch.arange(h, device=x.device, dtype=f32).reshape(1, h, 1)
        cols = torch.arange(w, device=x.device, dtype=f32).reshape(1, 1, w)
        inside = ((rows >= top.reshape(n, 1, 1)) & (rows < (top + eh).reshape(n, 1, 1))
                  & (cols >= left.reshape(n, 1, 1)) & (cols < (left + ew).reshape(n, 1, 1)))
        inside = (inside & chosen.reshape(n, 1, 1)).unsqueeze(-1)  # (n, h, w, 1)
        low, high = float(self.value_range[0]), float(self.value_range[1])
        if self.fill_value is None:
            gen = self._seed_generator.for_device(x.device)
            noise = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
            fill = (low + (high - low) * noise).clamp(low, high)
        else:
            fill = torch.full_like(x, self.fill_value)
        return torch.where(inside, fill, x)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor), "scale": plain(list(self.scale)),
                "fill_value": self.fill_value, "value_range": list(self.value_range)}


def _pixel_grid(h: int, w: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The output pixels' (x, y) coordinates, each ``(h, w)``."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=dtype, device=device), torch.arange(w, dtype=dtype, device=device),
                            indexing="ij")
    return xs, ys


def _homography(moved: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """The homographies ``(n, 8)`` taking the points ``moved`` ``(n, 4, 2)`` (output pixels) to ``corners``
    (input pixels): ``x = (a u + b v + c) / (g u + h v + 1)``, ``y = (d u + e v + f) / (g u + h v + 1)``."""
    u, v = moved[..., 0], moved[..., 1]  # (n, 4)
    xs, ys = corners[..., 0], corners[..., 1]
    zero, one = torch.zeros_like(u), torch.ones_like(u)
    rows_x = torch.stack([u, v, one, zero, zero, zero, -u * xs, -v * xs], dim=-1)
    rows_y = torch.stack([zero, zero, zero, u, v, one, -u * ys, -v * ys], dim=-1)
    system = torch.cat([rows_x, rows_y], dim=1)  # (n, 8, 8)
    return torch.linalg.solve(system, torch.cat([xs, ys], dim=1))


class RandomPerspective(_RandomLayer):
    """Distort each image, with probability ``p`` drawn per image from ``factor`` (a float f means ``(0, f)``),
    by the perspective transform that moves its four corners inward by random amounts: each corner by up to
    ``scale`` times half the width and half the height (uniformly, independently; ``scale`` in [0, 1]).
    Pixels from outside the image get ``fill_value``.

    Keras 3.15 draws its corner shifts differently (its outputs are not reproduced, only the identity at
    ``scale=0`` or ``factor=0``); this is the distortion of torchvision's ``RandomPerspective``.

    >>> import torch
    >>> x = torch.rand(2, 8, 8, 3)
    >>> torch.allclose(RandomPerspective(scale=0.0)(x, training=True), x)
    True
    """

    def __init__(self, factor: Any = 1.0, scale: float = 1.0, interpolation: str = "bilinear",
                 fill_value: float = 0.0, seed: int | None = None, data_format: str | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "RandomPerspective factor")
        if not 0 <= float(scale) <= 1:
            raise ValueError(f"RandomPerspective: scale must be in [0, 1]; received {scale!r}.")
        self.scale = float(scale)
        _check_fill("constant", interpolation)
        self.interpolation, self.fill_value = interpolation, float(fill_value)

    _moves_boxes = True

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment_with_boxes(x, None)[0]

    def augment_with_boxes(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        n, h, w, _ = x.shape
        f64 = torch.float64
        p = self._uniform(n, *self.factor, x.device, f64)
        chosen = self._uniform(n, 0, 1, x.device, f64) < p
        corners = torch.tensor([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=f64, device=x.device)
        inward = torch.tensor([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=f64, device=x.device)
        half = torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=f64, device=x.device)
        shift = self._uniform(n * 8, 0, self.scale, x.device, f64).reshape(n, 4, 2) * half
        shift = shift * chosen.reshape(n, 1, 1)
        moved = corners + inward * shift  # (n, 4, 2): where each corner lands
        coeffs = _homography(moved, corners.expand(n, 4, 2))  # (n, 8): output pixel -> input pixel
        gx, gy = _pixel_grid(h, w, x.device, f64)
        a, b, c, d, e, f, g, k = (coeffs[:, i].reshape(n, 1, 1) for i in range(8))
        denom = g * gx + k * gy + 1
        src_x = ((a * gx + b * gy + c) / denom).to(x.dtype)
        src_y = ((d * gx + e * gy + f) / denom).to(x.dtype)
        out = _sample(x, src_x, src_y, self.interpolation, "constant", self.fill_value)
        return out, None if boxes is None else {**boxes, "boxes": homography_boxes(boxes["boxes"], coeffs)}

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor), "scale": self.scale,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomElasticTransform(_RandomLayer):
    """Warp each image, with probability ``p`` drawn per image from ``factor`` (a float f means ``(0, f)``),
    by a smooth random displacement field (Simard et al.): uniform noise in [-1, 1] per pixel and axis,
    smoothed by a Gaussian of standard deviation ``max(h, w) / 10`` and normalized to a peak of 1, times
    ``s * max(h, w) / 10`` pixels, ``s`` drawn per image from ``scale`` (a float means ``(0, scale)``).
    Outside pixels follow ``fill_mode``; the result is clipped to ``value_range``.

    Keras 3.15's field differs in its details (its outputs are not reproduced, only the identity at
    ``scale=0`` or ``factor=0``).

    >>> import torch
    >>> x = torch.rand(2, 8, 8, 3) * 255
    >>> torch.allclose(RandomElasticTransform(scale=(0.0, 0.0))(x, training=True), x)
    True
    """

    def __init__(self, factor: Any = 1.0, scale: Any = 1.0, interpolation: str = "bilinear",
                 fill_mode: str = "reflect", fill_value: float = 0.0, value_range: tuple = (0, 255),
                 seed: int | None = None, data_format: str | None = None, **kwargs: Any):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "RandomElasticTransform factor")
        self.scale = factor_range(scale, "RandomElasticTransform scale", high=None)
        _check_fill(fill_mode, interpolation)
        self.interpolation, self.fill_mode, self.fill_value = interpolation, fill_mode, float(fill_value)
        self.value_range = check_value_range(value_range, "RandomElasticTransform")

    _moves_boxes = True

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment_with_boxes(x, None)[0]

    def augment_with_boxes(self, x: torch.Tensor, boxes: Any) -> tuple[torch.Tensor, Any]:
        n, h, w, _ = x.shape
        p = self._uniform(n, *self.factor, x.device, x.dtype)
        chosen = self._uniform(n, 0, 1, x.device, x.dtype) < p
        strength = self._uniform(n, *self.scale, x.device, x.dtype) * chosen.to(x.dtype) * max(h, w) / 10
        noise = self._uniform(n * 2 * h * w, -1, 1, x.device, x.dtype).reshape(n * 2, 1, h, w)
        sigma = torch.full((1,), max(h, w) / 10, dtype=x.dtype, device=x.device)
        size_h, size_w = 2 * (h // 2) + 1, 2 * (w // 2) + 1  # odd kernels spanning the image
        kh = RandomGaussianBlur._kernel_1d(size_h, sigma).reshape(1, 1, size_h, 1)
        kw = RandomGaussianBlur._kernel_1d(size_w, sigma).reshape(1, 1, 1, size_w)
        field = F.conv2d(F.conv2d(noise, kh, padding=(size_h // 2, 0)), kw, padding=(0, size_w // 2))
        field = field.reshape(n, 2, h, w)
        peak = field.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        field = field / peak * strength.reshape(n, 1, 1, 1)
        gx, gy = _pixel_grid(h, w, x.device, x.dtype)
        src_x, src_y = gx + field[:, 0], gy + field[:, 1]
        out = _sample(x, src_x, src_y, self.interpolation, self.fill_mode, self.fill_value)
        low, high = float(self.value_range[0]), float(self.value_range[1])
        return out.clamp(low, high), None if boxes is None else {**boxes, "boxes": warped_boxes(boxes["boxes"], src_x,
                                                                                                src_y)}

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": list(self.factor), "scale": list(self.scale),
                "interpolation": self.interpolation, "fill_mode": self.fill_mode, "fill_value": self.fill_value,
                "value_range": list(self.value_range)}
