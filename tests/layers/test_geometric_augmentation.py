"""Tests of lamina/layers/geometric_augmentation.py: Keras 3 oracles at settings whose randomness is fixed
(or reduced to a sign), geometry and statistics for the rest; identity outside training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from harness import to_numpy

from lamina.layers import geometric_augmentation as G

RNG = np.random.default_rng(0)
IMAGES = (RNG.random((2, 6, 7, 3)) * 255).astype("float32")


def _ours(layer, x, training=True):
    return to_numpy(layer(torch.tensor(x), training=training))


def _theirs(layer, x, training=True):
    return to_numpy(layer(x, training=training))


def _roundtrip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == layer.get_config()


# ----------------------------------------------------------------------------------------- RandomGaussianBlur
@pytest.mark.parametrize("kernel_size", [3, 5])
@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
def test_gaussian_blur_fixed_against_keras(keras, kernel_size, sigma, value_range):
    x = IMAGES / 255 * (value_range[1] - value_range[0]) + value_range[0]
    kwargs = {"factor": (1.0, 1.0), "kernel_size": kernel_size, "sigma": (sigma, sigma), "value_range": value_range}
    ours, theirs = G.RandomGaussianBlur(**kwargs), keras.layers.RandomGaussianBlur(**kwargs)
    np.testing.assert_allclose(_ours(ours, x), _theirs(theirs, x), atol=2e-6 * value_range[1] * 255)
    np.testing.assert_allclose(_ours(ours, x, False), x)
    never = G.RandomGaussianBlur(**{**kwargs, "factor": (0.0, 0.0)})
    np.testing.assert_allclose(_ours(never, x), _theirs(keras.layers.RandomGaussianBlur(
        **{**kwargs, "factor": (0.0, 0.0)}), x))
    np.testing.assert_allclose(_ours(never, x), x)


def test_gaussian_blur_probability_config_and_channels_first(keras):
    x = np.repeat(IMAGES[:1], 2000, axis=0)
    out = _ours(G.RandomGaussianBlur(factor=(0.3, 0.3), sigma=(1.0, 1.0), seed=1), x)
    blurred = ~np.all(out == x, axis=(1, 2, 3))
    assert abs(blurred.mean() - 0.3) < 0.03
    layer = G.RandomGaussianBlur(sigma=0.7, seed=2)
    theirs = keras.layers.RandomGaussianBlur(sigma=0.7).get_config()
    assert layer.get_config()["sigma"] == list(theirs["sigma"])
    assert layer.get_config()["factor"] == list(theirs["factor"])
    assert layer.get_config()["kernel_size"] == list(theirs["kernel_size"])
    _roundtrip(layer)
    first = G.RandomGaussianBlur(factor=(1.0, 1.0), sigma=(1.0, 1.0), data_format="channels_first")
    out = first(torch.tensor(IMAGES).permute(0, 3, 1, 2), training=True).permute(0, 2, 3, 1)
    np.testing.assert_allclose(to_numpy(out), _ours(G.RandomGaussianBlur(factor=(1.0, 1.0), sigma=(1.0, 1.0)),
                                                    IMAGES), atol=1e-4)
    with pytest.raises(ValueError):
        G.RandomGaussianBlur(kernel_size=4)


# ------------------------------------------------------------------------------------------------ RandomShear
def _distinct(outputs):
    return {np.round(o, 3).tobytes(): o for o in outputs}


@pytest.mark.parametrize("fill_mode", ["constant", "reflect", "wrap", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("factors", [((0.3, 0.3), 0.0), (0.0, (0.2, 0.2)), ((0.3, 0.3), (0.2, 0.2))])
def test_shear_fixed_magnitude_against_keras(keras, fill_mode, interpolation, factors):
    """At a fixed magnitude only the sign is random: both layers give the same two images over many seeds."""
    x = IMAGES[:1]
    kwargs = {"x_factor": factors[0], "y_factor": factors[1], "fill_mode": fill_mode,
              "interpolation": interpolation, "fill_value": 3.0}
    ours = _distinct(_ours(G.RandomShear(seed=s, **kwargs), x) for s in range(12))
    theirs = _distinct(_theirs(keras.layers.RandomShear(seed=s, **kwargs), x) for s in range(12))
    assert len(ours) == len(theirs) == 2
    for o in ours.values():
        assert min(np.abs(o - t).max() for t in theirs.values()) < 1e-3
    np.testing.assert_allclose(_ours(G.RandomShear(**kwargs), x, False), x)


def test_shear_geometry_and_config(keras):
    x = np.arange(30, dtype="float32").reshape(1, 5, 6, 1)
    for seed in range(4):
        out = _ours(G.RandomShear(x_factor=(1.0, 1.0), fill_mode="constant", interpolation="nearest",
                                  seed=seed), x)[0, :, :, 0]
        np.testing.assert_array_equal(out[0], x[0, 0, :, 0])  # row 0 does not move
        shifted = out[2, :4] if out[2, 0] == x[0, 2, 2, 0] else out[2, 2:]  # row 2 moves 2 pixels either way
        assert shifted.tolist() in (x[0, 2, 2:, 0].tolist(), x[0, 2, :4, 0].tolist())
    layer = G.RandomShear(x_factor=0.3, seed=1)
    theirs = keras.layers.RandomShear(x_factor=0.3).get_config()
    assert layer.get_config()["x_factor"] == list(theirs["x_factor"])
    assert layer.get_config()["fill_mode"] == theirs["fill_mode"] == "reflect"
    _roundtrip(layer)


# ---------------------------------------------------------------------------------------------- RandomErasing
def test_erasing_one_rectangle_of_the_right_size():
    x = np.full((500, 20, 30, 2), 100.0, dtype="float32")
    out = _ours(G.RandomErasing(factor=(1.0, 1.0), fill_value=0.0, seed=3), x)
    erased = np.all(out == 0, axis=-1)
    fractions = erased.mean(axis=(1, 2))
    assert fractions.min() > 0 and fractions.max() < 0.45
    assert abs(np.median(fractions) - 0.175) < 0.06  # scale (0.02, 0.33), before clipping
    for i in range(20):
        rows, cols = np.where(erased[i])
        assert erased[i, rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # a rectangle
    assert np.all((out == 0) | (out == 100))


def test_erasing_probability_noise_and_inference(keras):
    x = np.full((2000, 8, 8, 1), 100.0, dtype="float32")
    out = _ours(G.RandomErasing(factor=(0.4, 0.4), seed=1), x)
    changed = ~np.all(out == x, axis=(1, 2, 3))
    assert abs(changed.mean() - 0.4) < 0.03
    noise = out[out != 100]
    assert noise.min() >= 0 and noise.max() <= 255 and len(np.unique(noise)) > 100
    np.testing.assert_allclose(_ours(G.RandomErasing(seed=1), x, False), x)
    layer = G.RandomErasing(factor=0.5, fill_value=1.0, seed=2)
    theirs = keras.layers.RandomErasing(factor=0.5, fill_value=1.0).get_config()
    for key in ("factor", "scale", "value_range"):
        assert layer.get_config()[key] == list(theirs[key])
    assert layer.get_config()["fill_value"] == theirs["fill_value"]
    _roundtrip(layer)


# ------------------------------------------------------------------------------------------ RandomPerspective
def _coordinates(n, h, w):
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.repeat(np.stack([xs, ys], -1).astype("float32")[None], n, axis=0)


def test_perspective_identity_settings_against_keras(keras):
    for kwargs in ({"scale": 0.0}, {"factor": (0.0, 0.0), "scale": 0.8}):
        ours, theirs = G.RandomPerspective(seed=1, **kwargs), keras.layers.RandomPerspective(seed=1, **kwargs)
        np.testing.assert_allclose(_ours(ours, IMAGES), _theirs(theirs, IMAGES), atol=1e-3)
        np.testing.assert_allclose(_ours(ours, IMAGES), IMAGES, atol=1e-3)
    np.testing.assert_allclose(_ours(G.RandomPerspective(scale=0.5), IMAGES, False), IMAGES)
    layer = G.RandomPerspective(factor=0.5, scale=0.3, seed=2)
    theirs = keras.layers.RandomPerspective(factor=0.5, scale=0.3).get_config()
    for key in ("factor", "scale", "interpolation", "fill_value"):
        ours_value = layer.get_config()[key]
        assert ours_value == (list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key])
    _roundtrip(layer)


def test_perspective_moves_corners_inward_and_keeps_lines_straight():
    h, w = 21, 31
    x = _coordinates(300, h, w)
    out = _ours(G.RandomPerspective(factor=(1.0, 1.0), scale=0.4, fill_value=-1.0, seed=0), x)
    inside = out[..., 0] >= 0
    assert np.all(inside[:, h // 2, w // 2])  # the center always samples the image
    assert (~inside[:, 0, 0]).mean() > 0.9  # the corners moved inward: fill there
    frac = inside.mean(axis=(1, 2))
    assert frac.min() > (1 - 0.4) ** 2 - 0.05 and frac.max() < 1
    # a projective map sends the middle row's source points onto one straight line
    row = out[0, h // 2][inside[0, h // 2]]
    a = np.polyfit(row[:, 0], row[:, 1], 1)
    assert np.abs(np.polyval(a, row[:, 0]) - row[:, 1]).max() < 0.05


# ------------------------------------------------------------------------------------- RandomElasticTransform
def test_elastic_identity_settings_against_keras(keras):
    for kwargs in ({"scale": (0.0, 0.0)}, {"factor": (0.0, 0.0)}):
        ours = G.RandomElasticTransform(seed=1, **kwargs)
        theirs = keras.layers.RandomElasticTransform(seed=1, **kwargs)
        np.testing.assert_allclose(_ours(ours, IMAGES), _theirs(theirs, IMAGES), atol=1e-3)
        np.testing.assert_allclose(_ours(ours, IMAGES), IMAGES, atol=1e-3)
    np.testing.assert_allclose(_ours(G.RandomElasticTransform(), IMAGES, False), IMAGES)
    layer = G.RandomElasticTransform(factor=0.5, scale=0.3, seed=2)
    theirs = keras.layers.RandomElasticTransform(factor=0.5, scale=0.3).get_config()
    for key in ("factor", "scale", "interpolation", "fill_mode", "fill_value", "value_range"):
        ours_value = layer.get_config()[key]
        assert ours_value == (list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key])
    _roundtrip(layer)


def test_elastic_field_is_bounded_and_smooth():
    h, w = 30, 40
    x = _coordinates(50, h, w)
    out = _ours(G.RandomElasticTransform(factor=(1.0, 1.0), scale=(1.0, 1.0), fill_mode="nearest",
                                         value_range=(-100, 100), seed=4), x)
    shift = out - x
    assert np.abs(shift).max() <= w / 10 + 1e-3  # at most scale * max(h, w) / 10 pixels
    assert np.abs(shift).max() > 1  # and it does move pixels
    interior = shift[:, 5:-5, 5:-5]
    steps = np.abs(np.diff(interior, axis=2))
    # neighbours move alike (unsmoothed noise would differ by up to twice the largest shift)
    assert steps.max() < 0.4 * 2 * np.abs(shift).max() and steps.mean() < 0.1 * np.abs(shift).max()
    a = _ours(G.RandomElasticTransform(seed=9), IMAGES)
    np.testing.assert_array_equal(a, _ours(G.RandomElasticTransform(seed=9), IMAGES))
    assert a.min() >= 0 and a.max() <= 255
