"""Parity of lamina.ops.image with keras.ops.image (torch backend), NumPy references where Keras's torch backend
is wrong or refuses a mode, gradient checks, channels_first, unbatched images and meta tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, check_grad, sample

from lamina.ops import image

U8_IMG = (sample((2, 6, 7, 3), "float32", 0.0, 1.0, seed=1) * 255).astype("uint8")
IMG = sample((2, 6, 7, 3), "float32", 0.0, 1.0, seed=2)
IMG1 = IMG[0]
IMG_CF = np.ascontiguousarray(IMG.transpose(0, 3, 1, 2))
IMG64 = IMG.astype("float64")
SMALL = sample((1, 4, 5, 2), "float64", 0.0, 1.0, seed=3)  # for gradient checks
BIG = sample((2, 12, 13, 2), "float32", 0.0, 1.0, seed=4)


# ------------------------------------------------------------------------------------ NumPy references
def _np(x):
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype="float64")


def _gaussian(size, sigma):
    t = np.arange(size) - (size - 1) / 2
    k = np.exp(-(t * t) / (2 * sigma * sigma))
    return k / k.sum()


def _filter_same(x, kernel):
    """Zero-padded 'same' cross-correlation of (N, H, W, C) with a 2-D kernel (TensorFlow's padding split)."""
    kh, kw = kernel.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    out = np.zeros_like(x)
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * padded[:, i:i + x.shape[1], j:j + x.shape[2], :]
    return out


def ref_gaussian_blur(ops, images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    x = _np(images)
    unbatched = x.ndim == 3
    x = x[None] if unbatched else x
    if data_format == "channels_first":
        x = x.transpose(0, 2, 3, 1)
    kernel = np.outer(_gaussian(kernel_size[0], sigma[0]), _gaussian(kernel_size[1], sigma[1]))
    out = _filter_same(x, kernel)
    if data_format == "channels_first":
        out = out.transpose(0, 3, 1, 2)
    out = out[0] if unbatched else out
    return out.astype(np.asarray(images).dtype if not isinstance(images, torch.Tensor) else "float32")


def _area_matrix(n_in, n_out):
    step = n_in / n_out
    m = np.zeros((n_in, n_out))
    for o in range(n_out):
        for i in range(n_in):
            m[i, o] = max(0.0, min((o + 1) * step, i + 1) - max(o * step, i)) / step
    return m


def ref_area(ops, images, size, interpolation="area", **kwargs):
    x = _np(images)
    out = np.einsum("nhwc,hy,wx->nyxc", x, _area_matrix(x.shape[1], size[0]), _area_matrix(x.shape[2], size[1]))
    return out.astype("float32")


def ref_lanczos(ops, images, size, interpolation="lanczos3", antialias=False, **kwargs):
    """JAX defines resize by scale_and_translate with scale = out / in and no translation: use Keras's."""
    x = np.asarray(images)
    scale = np.array([size[0] / x.shape[1], size[1] / x.shape[2]], "float32")
    return ops.image.scale_and_translate(x, (x.shape[0], *size, x.shape[3]), scale, np.zeros(2, "float32"),
                                         (1, 2), interpolation, antialias=antialias)


def ref_projective(ops, images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                   data_format=None):
    """The documented formula, sampled with Keras's map_coordinates image by image and channel by channel."""
    x = np.asarray(images)
    t = np.asarray(transform, "float64").reshape(-1, 8)
    n, h, w, c = x.shape
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    out = np.zeros(x.shape, "float64")
    for b in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = t[b]
        k = c0 * xs + c1 * ys + 1
        cols, rows = (a0 * xs + a1 * ys + a2) / k, (b0 * xs + b1 * ys + b2) / k
        for ch in range(c):
            out[b, :, :, ch] = np.asarray(ops.image.map_coordinates(
                x[b, :, :, ch].astype("float64"), np.stack([rows, cols]), 1 if interpolation == "bilinear" else 0,
                fill_mode=fill_mode, fill_value=fill_value))
    return out.astype(x.dtype)


# ---------------------------------------------------------------------------------------------- cases
T_BATCH = np.array([[1.0, 0.2, 0.5, 0.1, 1.0, 0.3, 0.0, 0.0], [0.9, 0.0, 1.5, 0.0, 1.1, -0.3, 0.0, 0.0]])
T_INT = np.array([[1.0, 0.0, 1.0, 0.0, 1.0, -2.0, 0.0, 0.0], [1.0, 0.0, -3.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
T_PROJ = np.array([[1.0, 0.1, 0.5, 0.05, 1.0, 0.3, 0.02, -0.03], [0.9, 0.0, 1.5, 0.0, 1.1, -0.3, 0.01, 0.01]])
START = np.array([[0, 0], [0, 6], [7, 0], [7, 6]], "float32")
END = np.array([[1, 0.5], [0, 5], [6.5, 1], [7, 6.2]], "float32")
COORDS_1D = np.array([[-1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, -0.7, 4.3, 6.2, -3.2]])
VOL = sample((2, 6, 5, 4, 2), "float32", seed=5)
STA_SCALE, STA_SHIFT = np.array([0.6, 1.3], "float32"), np.array([0.2, -0.4], "float32")

BLUR_NOTE = ("Keras's torch gaussian_blur applies the kernel along one axis only and mangles the channel count "
             "when kernel_size != (3, 3); NumPy's separable Gaussian with zero 'same' padding is the truth")
CASES = [
    # colour
    Case("image.rgb_to_grayscale", (IMG,)),
    Case("image.rgb_to_grayscale", (IMG1,)),
    Case("image.rgb_to_grayscale", (IMG_CF,), {"data_format": "channels_first"}),
    Case("image.rgb_to_grayscale", (U8_IMG,)),
    Case("image.rgb_to_grayscale", (IMG64,)),
    Case("image.rgb_to_hsv", (IMG,)),
    Case("image.rgb_to_hsv", (IMG1,)),
    Case("image.rgb_to_hsv", (IMG_CF,), {"data_format": "channels_first"}),
    Case("image.rgb_to_hsv", (IMG.astype("float16"),), rtol=1e-3, atol=1e-3),
    Case("image.hsv_to_rgb", (IMG,)),
    Case("image.hsv_to_rgb", (IMG1,)),
    Case("image.hsv_to_rgb", (IMG_CF,), {"data_format": "channels_first"}),
    Case("image.hsv_to_rgb", (IMG64,)),
    # resize (torch modes)
    *[Case("image.resize", (BIG, size), {"interpolation": m, "antialias": aa}, rtol=1e-5, atol=1e-5)
      for m in ("bilinear", "nearest", "bicubic") for aa in (False, True) for size in ((5, 9), (17, 20), (4, 30))],
    Case("image.resize", (IMG1, (3, 4))),
    Case("image.resize", (IMG_CF, (9, 4)), {"data_format": "channels_first"}),
    Case("image.resize", (U8_IMG, (9, 4)), {"interpolation": "bicubic"}),
    Case("image.resize", (U8_IMG, (4, 11)), {"interpolation": "bilinear", "antialias": True}),
    Case("image.resize", (U8_IMG.astype("int32"), (9, 4)), {"interpolation": "bicubic"}),
    Case("image.resize", (IMG64, (4, 5)), {"interpolation": "bicubic", "antialias": True}),
    Case("image.resize", (IMG.astype("float16"), (4, 5)), rtol=1e-2, atol=2e-3),
    *[Case("image.resize", (BIG, size), {"crop_to_aspect_ratio": True}) for size in ((4, 6), (6, 4), (5, 5))],
    *[Case("image.resize", (BIG, size), {"pad_to_aspect_ratio": True, "fill_value": 0.5})
      for size in ((4, 6), (6, 4), (5, 10), (26, 9))],
    Case("image.resize", (IMG1, (5, 10)), {"pad_to_aspect_ratio": True, "interpolation": "nearest"}),
    # resize: lanczos (JAX's definition, which Keras's torch backend refuses) and area (TensorFlow's)
    *[Case("image.resize", (BIG, size), {"interpolation": m, "antialias": aa}, keras_fn=ref_lanczos, atol=1e-5,
           note="Keras's torch backend refuses lanczos; JAX defines it through scale_and_translate")
      for m in ("lanczos3", "lanczos5") for aa in (False, True) for size in ((5, 9), (17, 20))],
    *[Case("image.resize", (BIG, size), {"interpolation": "area"}, keras_fn=ref_area, atol=1e-5,
           note="Keras's torch backend has no area mode; TensorFlow's box average")
      for size in ((6, 13), (5, 9), (4, 26), (17, 20))],
    # scale_and_translate
    *[Case("image.scale_and_translate", (BIG, (2, 5, 20, 2), STA_SCALE, STA_SHIFT, (1, 2), m),
           {"antialias": aa}, atol=1e-5)
      for m in ("linear", "bilinear", "trilinear", "cubic", "bicubic", "tricubic", "lanczos3", "lanczos5")
      for aa in (False, True)],
    Case("image.scale_and_translate", (np.arange(9, dtype="float32").reshape(3, 3), (5, 5),
                                       np.array([2.0, 2.0], "float32"), np.array([-0.5, -0.5], "float32"), (0, 1),
                                       "linear")),
    Case("image.scale_and_translate", ((BIG * 100).astype("int32"), (2, 7, 9, 2), STA_SCALE, STA_SHIFT, (1, 2),
                                       "cubic")),
    Case("image.scale_and_translate", (IMG64, (2, 3, 11, 3), STA_SCALE, STA_SHIFT, [1, 2], "lanczos3")),
    # map_coordinates
    *[Case("image.map_coordinates", (np.arange(5, dtype="float32") * 10, COORDS_1D, order),
           {"fill_mode": mode, "fill_value": -1.0}, atol=2e-5)
      for mode in ("constant", "nearest", "wrap", "mirror", "reflect") for order in (0, 1)],
    *[Case("image.map_coordinates", (sample((4, 5, 3), seed=6), sample((3, 6, 2), low=-2, high=6, seed=7), order),
           {"fill_mode": mode}, atol=1e-5) for mode in ("constant", "nearest", "wrap", "mirror", "reflect")
      for order in (0, 1)],
    Case("image.map_coordinates", (np.arange(5, dtype="int32") * 3, np.array([[0.5, 1.5, 2.5, 0.25, 3.9]]), 1)),
    Case("image.map_coordinates", (np.arange(5, dtype="uint8") * 3, np.array([[0.5, 1.5, 2.5, 0.25, 3.9]]), 1)),
    Case("image.map_coordinates", (np.arange(5, dtype="float16"), COORDS_1D, 1), rtol=2e-3, atol=2e-3),
    Case("image.map_coordinates", (np.arange(5, dtype="float64"), COORDS_1D.astype("float32"), 1)),
    # affine_transform
    *[Case("image.affine_transform", (IMG, T_BATCH, interp, mode), {"fill_value": 0.3}, atol=1e-5)
      for interp in ("bilinear", "nearest") for mode in ("constant", "nearest", "wrap", "mirror", "reflect")],
    Case("image.affine_transform", (IMG64, T_BATCH)),
    Case("image.affine_transform", (IMG1, T_BATCH[0]), atol=1e-5),
    Case("image.affine_transform", (IMG_CF, T_BATCH), {"data_format": "channels_first"}, atol=1e-5),
    Case("image.affine_transform", (U8_IMG, T_INT, "bilinear", "reflect")),
    Case("image.affine_transform", (U8_IMG, T_BATCH, "nearest", "wrap")),
    *[Case("image.affine_transform", (IMG64, T_PROJ, interp), keras_fn=ref_projective,
           note="Keras's torch backend ignores c0, c1 (as its docstring says); the documented formula is the truth")
      for interp in ("bilinear", "nearest")],
    # perspective_transform
    Case("image.perspective_transform", (IMG, START, END), {"fill_value": 0.5}, atol=1e-5),
    Case("image.perspective_transform", (IMG, START, END, "nearest")),
    Case("image.perspective_transform", (IMG, np.stack([START, END]), np.stack([END, START])), atol=1e-5),
    Case("image.perspective_transform", (IMG1, START, END), atol=1e-5),
    Case("image.perspective_transform", (IMG_CF, START, END), {"data_format": "channels_first"}, atol=1e-5),
    # filters
    Case("image.gaussian_blur", (IMG,), keras_fn=ref_gaussian_blur, note=BLUR_NOTE),
    Case("image.gaussian_blur", (IMG,), {"kernel_size": (5, 3), "sigma": (2.0, 0.7)}, keras_fn=ref_gaussian_blur,
         note=BLUR_NOTE),
    Case("image.gaussian_blur", (IMG1,), {"kernel_size": (4, 4), "sigma": (1.5, 1.5)}, keras_fn=ref_gaussian_blur,
         note=BLUR_NOTE),
    Case("image.gaussian_blur", (IMG_CF,), {"data_format": "channels_first"}, keras_fn=ref_gaussian_blur,
         note=BLUR_NOTE),
    Case("image.sobel_edges", (IMG,), atol=1e-5),
    Case("image.sobel_edges", (IMG_CF,), {"data_format": "channels_first"}, atol=1e-5),
    Case("image.sobel_edges", (U8_IMG,)),
    Case("image.sobel_edges", (IMG64,)),
    Case("image.ssim", (BIG, BIG[::-1]), {"filter_size": 5}, atol=1e-5),
    Case("image.ssim", (BIG[0], BIG[1]), {"filter_size": 7, "filter_sigma": 1.0}, atol=1e-5),
    Case("image.ssim", (BIG, BIG), {"filter_size": 3}, atol=1e-5),
    Case("image.ssim", (BIG * 255, BIG[::-1] * 255), {"filter_size": 5, "max_val": 255.0, "k1": 0.02}, atol=1e-5),
    Case("image.ssim", (np.ascontiguousarray(BIG.transpose(0, 3, 1, 2)),
                        np.ascontiguousarray(BIG[::-1].transpose(0, 3, 1, 2))),
         {"filter_size": 5, "data_format": "channels_first"}, atol=1e-5),
    # patches
    Case("image.extract_patches", (BIG, (3, 3))),
    Case("image.extract_patches", (BIG, 4)),
    Case("image.extract_patches", (BIG, (3, 2), (1, 2))),
    Case("image.extract_patches", (BIG, (3, 3), 2), {"padding": "same"}),
    Case("image.extract_patches", (BIG, (2, 3)), {"strides": 1, "dilation_rate": 2}),
    Case("image.extract_patches", (BIG[0], (3, 3), (1, 1))),
    Case("image.extract_patches", (U8_IMG, (2, 2))),
    Case("image.extract_patches", (IMG_CF, (2, 3)), {"data_format": "channels_first"}),
    Case("image.extract_patches", (VOL, (2, 3, 2))),
    Case("image.extract_patches_3d", (VOL, (2, 3, 2))),
    Case("image.extract_patches_3d", (VOL, 2), {"strides": 1, "padding": "same"}),
    Case("image.extract_patches_3d", (VOL, (2, 2, 2)), {"strides": 1, "dilation_rate": 2}),
    Case("image.extract_patches_3d", (VOL[0], (3, 2, 2), (1, 2, 1))),
    Case("image.extract_patches_3d", (np.ascontiguousarray(VOL.transpose(0, 4, 1, 2, 3)), (2, 2, 2)),
         {"data_format": "channels_first"}),
    # pad and crop
    Case("image.pad_images", (IMG, 1, 2, 0, 3)),
    Case("image.pad_images", (IMG1, 2, 3), {"target_height": 10, "target_width": 12}),
    Case("image.pad_images", (U8_IMG,), {"bottom_padding": 2, "target_height": 9, "right_padding": 1,
                                          "target_width": 8}),
    Case("image.pad_images", (IMG_CF, 1, 1, 1, 1), {"data_format": "channels_first"}),
    Case("image.crop_images", (IMG, 1, 2, 2, 0)),
    Case("image.crop_images", (IMG1, 1, 2), {"target_height": 3, "target_width": 4}),
    Case("image.crop_images", (U8_IMG,), {"bottom_cropping": 2, "target_height": 3, "right_cropping": 1,
                                           "target_width": 4}),
    Case("image.crop_images", (IMG, 3, 0, 3, 0)),
    Case("image.crop_images", (IMG_CF, 1, 1, 1, 1), {"data_format": "channels_first"}),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_parity(case, keras):
    check_case(case, keras)


# ----------------------------------------------------------------------------------------- gradients
RGB_SMALL = sample((1, 3, 4, 3), "float64", 0.05, 0.95, seed=10)
SMALL1 = SMALL[..., :1]
GRAD_CASES = [
    Case("image.rgb_to_grayscale", (RGB_SMALL,)),
    Case("image.rgb_to_hsv", (RGB_SMALL,)),
    Case("image.hsv_to_rgb", (RGB_SMALL,)),
    *[Case("image.resize", (SMALL1, (3, 7)), {"interpolation": m, "antialias": aa})
      for m in ("bilinear", "bicubic", "lanczos3", "area") for aa in (False, True)],
    Case("image.resize", (SMALL1, (3, 7)), {"pad_to_aspect_ratio": True}),
    *[Case("image.scale_and_translate", (SMALL1, (1, 3, 7, 1), STA_SCALE, STA_SHIFT, (1, 2), m), {"antialias": aa})
      for m in ("linear", "cubic", "lanczos5") for aa in (False, True)],
    *[Case("image.affine_transform", (SMALL1, T_BATCH[:1], "bilinear", mode))
      for mode in ("constant", "wrap", "mirror", "reflect")],
    Case("image.affine_transform", (SMALL1, T_PROJ[:1], "nearest")),
    Case("image.perspective_transform", (SMALL1, START, END)),
    Case("image.elastic_transform", (SMALL1,), {"alpha": 2.0, "sigma": 1.0, "seed": 3}),
    Case("image.gaussian_blur", (SMALL1,), {"kernel_size": (3, 5), "sigma": (1.0, 2.0)}),
    Case("image.sobel_edges", (SMALL1,)),
    Case("image.ssim", (SMALL, SMALL[..., ::-1] * 0.7), {"filter_size": 3}),
    Case("image.extract_patches", (SMALL1, (2, 2), 1), {"padding": "same"}),
    Case("image.extract_patches_3d", (VOL[:1, :3, :3, :3, :1].astype("float64"), (2, 2, 2), 1)),
    Case("image.pad_images", (SMALL1, 1, 2, 0, 3)),
    Case("image.crop_images", (SMALL1, 1, 2, 2, 0)),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=str)
def test_grad(case):
    check_grad(case)


def test_map_coordinates_grad_wrt_coordinates():
    for mode in ("constant", "reflect"):
        case = Case("image.map_coordinates", (sample((4, 5), seed=8), sample((2, 3, 3), low=0.1, high=3.7, seed=9),
                                              1), {"fill_mode": mode})
        check_grad(case, argnums=(0, 1))


# ------------------------------------------------------------------------------------------ elastic
def test_elastic_transform_properties():
    x = torch.tensor(IMG)
    same = image.elastic_transform(x, alpha=0.0, seed=1)
    torch.testing.assert_close(same, x)
    a = image.elastic_transform(x, seed=7)
    b = image.elastic_transform(x, seed=7)
    torch.testing.assert_close(a, b)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert not torch.allclose(a, image.elastic_transform(x, seed=8))
    cf = image.elastic_transform(torch.tensor(IMG_CF), alpha=2.0, sigma=1.0, seed=2, data_format="channels_first")
    assert tuple(cf.shape) == IMG_CF.shape
    u8 = image.elastic_transform(U8_IMG, alpha=3.0, sigma=1.0, interpolation="nearest", seed=1)
    assert u8.dtype == torch.uint8 and tuple(u8.shape) == U8_IMG.shape
    assert tuple(image.elastic_transform(IMG1, seed=1).shape) == IMG1.shape
    # the displacement of a horizontal ramp is the horizontal field: smooth, zero-mean, sized by alpha / sigma
    ramp = torch.arange(32, dtype=torch.float64).reshape(1, 1, 32, 1).expand(1, 32, 32, 1)
    shift = image.elastic_transform(ramp, alpha=4.0, sigma=1.0, fill_mode="nearest", seed=0) - ramp
    inner = shift[0, 4:-4, 4:-4, 0]
    assert inner.abs().mean() > 0.1 and abs(float(inner.mean())) < 0.5


# -------------------------------------------------------------------------------------- errors, misc
def test_errors(keras):
    with pytest.raises(ValueError, match="float"):
        image.rgb_to_hsv(U8_IMG)
    with pytest.raises(ValueError, match="exactly two"):
        image.pad_images(IMG, 1)
    with pytest.raises(ValueError, match=">= 0"):
        image.pad_images(IMG, 1, 1, target_height=3, target_width=9)
    with pytest.raises(ValueError, match="exactly two"):
        image.crop_images(IMG, 1, 1, 1, 1, target_height=2)
    with pytest.raises(ValueError, match="interpolation"):
        image.resize(IMG, (2, 2), interpolation="cubic")
    with pytest.raises(ValueError, match="Only one"):
        image.resize(IMG, (2, 2), crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match="rank"):
        image.resize(IMG[0, 0], (2, 2))
    with pytest.raises(ValueError, match="fill_mode"):
        image.affine_transform(IMG, T_BATCH, fill_mode="bogus")
    with pytest.raises(ValueError, match="method"):
        image.scale_and_translate(IMG, IMG.shape, STA_SCALE, STA_SHIFT, (1, 2), "nearest")


def test_one_transform_for_a_batch():
    """An extension over Keras's torch backend (which fails): an (8,) transform applies to every image."""
    out = image.affine_transform(IMG, T_BATCH[0])
    torch.testing.assert_close(out[1], image.affine_transform(IMG[1], T_BATCH[0]))


def test_configured_data_format(monkeypatch):
    from lamina.core import config

    monkeypatch.setattr(config, "image_data_format", lambda: "channels_first", raising=False)
    out = image.resize(IMG_CF, (3, 4))
    assert tuple(out.shape) == (2, 3, 3, 4)
    assert tuple(image.rgb_to_grayscale(IMG_CF).shape) == (2, 1, 6, 7)


def test_meta_tensors():
    x = torch.empty((2, 6, 7, 3), device="meta")
    assert image.resize(x, (3, 4)).shape == (2, 3, 4, 3)
    assert image.resize(x, (3, 4), interpolation="lanczos3").shape == (2, 3, 4, 3)
    assert image.affine_transform(x, torch.tensor(T_BATCH, device="meta")).shape == x.shape
    assert image.extract_patches(x, (2, 2)).shape == (2, 3, 3, 12)
    assert image.sobel_edges(x).shape == (2, 6, 7, 3, 2)
    assert image.rgb_to_hsv(x).shape == x.shape
    assert image.pad_images(x, 1, 1, 1, 1).shape == (2, 8, 9, 3)
    assert image.gaussian_blur(x).shape == x.shape


def test_area_integer_factor_is_average_pooling():
    x = torch.tensor(BIG[:, :12, :12])
    out = image.resize(x, (4, 6), interpolation="area")
    pooled = torch.nn.functional.avg_pool2d(x.permute(0, 3, 1, 2), (3, 2)).permute(0, 2, 3, 1)
    torch.testing.assert_close(out, pooled)
