"""Tests of lamina/layers/image_sampling.py: the grid_sample resampler against Keras 3's
``keras.ops.image.map_coordinates`` (the oracle of Keras's fill modes) at random, far-outside, whole and half-pixel
coordinates, for every fill mode and both interpolations; channels, batches and dtypes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from lamina.layers.image_sampling import affine, sample

RNG = np.random.default_rng(0)


def _coordinates(n, shape):
    xs = RNG.uniform(-25, 35, (n, *shape))
    ys = RNG.uniform(-25, 35, (n, *shape))
    xs[0, 0, :6] = [-1.5, -0.5, 0.5, 8.5, 9.5, 19.5]  # halves: rounding and reflection edges
    ys[0, 0, :6] = [-2.0, 7.0, 6.5, -0.5, 13.0, -7.5]  # whole pixels
    return xs, ys


MODES = list(itertools.product(["bilinear", "nearest"], ["reflect", "wrap", "constant", "nearest"]))


@pytest.mark.parametrize("interpolation, fill_mode", MODES)
def test_sample_matches_keras_map_coordinates(keras, interpolation, fill_mode):
    n, h, w, c = 2, 7, 9, 3
    images = RNG.random((n, h, w, c)) * 255
    xs, ys = _coordinates(n, (5, 6))
    got = sample(torch.tensor(images), torch.tensor(xs), torch.tensor(ys), interpolation, fill_mode, 17.0)
    assert got.shape == (n, 5, 6, c) and got.dtype == torch.float64
    order = 1 if interpolation == "bilinear" else 0
    for i, k in itertools.product(range(n), range(c)):
        want = keras.ops.image.map_coordinates(images[i, :, :, k], np.stack([ys[i], xs[i]]), order=order,
                                               fill_mode=fill_mode, fill_value=17.0)
        np.testing.assert_allclose(got[i, :, :, k].numpy(), keras.ops.convert_to_numpy(want), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_sample_keeps_the_dtype_and_agrees_with_float64(dtype):
    images = torch.rand(2, 6, 8, 2, dtype=torch.float64) * 255
    xs, ys = (torch.tensor(a) for a in _coordinates(2, (4, 6)))
    images, xs, ys = (t.to(dtype) for t in (images, xs, ys))
    exact = sample(images.double(), xs.double(), ys.double(), "bilinear", "reflect", 0.0)  # same inputs, exact
    got = sample(images, xs, ys, "bilinear", "reflect", 0.0)
    assert got.dtype == dtype
    tolerance = {torch.float32: 1e-3, torch.float16: 0.25, torch.bfloat16: 2.0}[dtype]  # the output's rounding
    np.testing.assert_allclose(got.double().numpy(), exact.numpy(), atol=tolerance)


def test_affine_identity_shift_and_errors():
    images = torch.rand(2, 5, 6, 3)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(2, 2, 3)
    torch.testing.assert_close(affine(images, identity, "bilinear", "constant", 0.0), images)
    shift = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]).expand(2, 2, 3)  # output x takes input x + 1
    out = affine(images, shift, "nearest", "wrap", 0.0)
    torch.testing.assert_close(out, images.roll(-1, dims=2))
    with pytest.raises(ValueError, match="interpolation"):
        sample(images, images[..., 0], images[..., 0], "bicubic", "reflect", 0.0)
    with pytest.raises(ValueError, match="fill_mode"):
        sample(images, images[..., 0], images[..., 0], "bilinear", "mirror", 0.0)


@pytest.mark.parametrize("interpolation, fill_mode", MODES)
def test_affine_equals_sampling_at_the_mapped_pixels(interpolation, fill_mode):
    """affine folds the normalization into the matrix (bilinear, no wrap): the same numbers as sample at
    ``matrix @ (x, y, 1)``."""
    images = torch.tensor(RNG.random((3, 6, 8, 2)) * 255)
    matrix = torch.tensor(RNG.normal(0, 1, (3, 2, 3))) + torch.tensor([[1.0, 0, 0], [0, 1, 0]], dtype=torch.float64)
    ys, xs = torch.meshgrid(torch.arange(6.0, dtype=torch.float64), torch.arange(8.0, dtype=torch.float64),
                            indexing="ij")
    src_x = matrix[:, 0, 0, None, None] * xs + matrix[:, 0, 1, None, None] * ys + matrix[:, 0, 2, None, None]
    src_y = matrix[:, 1, 0, None, None] * xs + matrix[:, 1, 1, None, None] * ys + matrix[:, 1, 2, None, None]
    expected = sample(images, src_x, src_y, interpolation, fill_mode, -3.0)
    torch.testing.assert_close(affine(images, matrix, interpolation, fill_mode, -3.0), expected, rtol=1e-9,
                               atol=1e-9)
