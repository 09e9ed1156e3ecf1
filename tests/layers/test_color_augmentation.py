"""Tests of lamina/layers/color_augmentation.py: Keras 3 oracles for the deterministic layers and for the
random ones at settings whose randomness is fixed; formulas, probabilities and inference behaviour otherwise."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from harness import to_numpy

from lamina.layers import color_augmentation as C

RNG = np.random.default_rng(0)
IMAGES = (RNG.random((3, 5, 6, 3)) * 255).astype("float32")
GRAY = (IMAGES @ np.array([0.2989, 0.587, 0.114], dtype="float32"))[..., None]


def _ours(layer, x, training=True):
    return to_numpy(layer(torch.tensor(x), training=training))


def _theirs(layer, x, training=True):
    return to_numpy(layer(x, training=training))


def _roundtrip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == layer.get_config()
    return clone


# ------------------------------------------------------------------------------------------------ AutoContrast
@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
@pytest.mark.parametrize("training", [True, False])
def test_auto_contrast_against_keras(keras, value_range, training):
    x = IMAGES * 0.4 + 20  # not spanning the range
    ours = C.AutoContrast(value_range=value_range)
    theirs = keras.layers.AutoContrast(value_range=value_range)
    np.testing.assert_allclose(_ours(ours, x, training), _theirs(theirs, x, training), atol=1e-4)


def test_auto_contrast_constant_channel_uint8_channels_first_and_config(keras):
    x = IMAGES.copy()
    x[..., 1] = 7.0
    out = _ours(C.AutoContrast(), x)
    np.testing.assert_allclose(out[..., 1], 7.0)
    np.testing.assert_allclose(out, _theirs(keras.layers.AutoContrast(), x), atol=1e-4)
    np.testing.assert_allclose(out.min(axis=(1, 2))[:, [0, 2]], 0, atol=1e-4)
    np.testing.assert_allclose(out.max(axis=(1, 2))[:, [0, 2]], 255, atol=1e-4)
    u8 = C.AutoContrast()(torch.tensor(IMAGES.astype("uint8")))
    assert u8.dtype == torch.float32 and u8.shape == IMAGES.shape
    first = C.AutoContrast(data_format="channels_first")(torch.tensor(IMAGES).permute(0, 3, 1, 2))
    np.testing.assert_allclose(to_numpy(first.permute(0, 2, 3, 1)), _ours(C.AutoContrast(), IMAGES), atol=1e-4)
    unbatched = _ours(C.AutoContrast(), IMAGES[0])
    np.testing.assert_allclose(unbatched, _ours(C.AutoContrast(), IMAGES)[0], atol=1e-4)
    config = _roundtrip(C.AutoContrast(value_range=(0, 1))).get_config()
    assert config["value_range"] == [0, 1] and "seed" not in config


# ------------------------------------------------------------------------------------------------ Solarization
@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
def test_solarization_defaults_against_keras(keras, value_range):
    low, high = value_range
    x = IMAGES / 255 * (high - low) + low
    ours, theirs = C.Solarization(value_range=value_range), keras.layers.Solarization(value_range=value_range)
    np.testing.assert_allclose(_ours(ours, x), _theirs(theirs, x), atol=1e-4)
    np.testing.assert_allclose(_ours(ours, x), high + low - x, atol=1e-4)
    # at inference both pass the images through
    np.testing.assert_allclose(_ours(ours, x, False), x)
    np.testing.assert_allclose(_theirs(theirs, x, False), x)


def test_solarization_fixed_addition_and_threshold():
    layer = C.Solarization(addition_factor=(0.2, 0.2), threshold_factor=(0.5, 0.5), seed=1)
    shifted = np.clip(IMAGES + 0.2 * 255, 0, 255)
    expected = np.where(shifted >= 127.5, 255 - shifted, shifted)
    np.testing.assert_allclose(_ours(layer, IMAGES), expected, atol=1e-3)
    np.testing.assert_allclose(_ours(layer, IMAGES, training=False), IMAGES)


def test_solarization_random_threshold_per_image():
    x = np.broadcast_to(np.linspace(0, 255, 256, dtype="float32").reshape(1, 1, 256, 1), (2000, 1, 256, 1))
    out = _ours(C.Solarization(threshold_factor=(0.2, 0.6), seed=3), np.ascontiguousarray(x))
    flipped = np.abs(out - x) > 1e-3  # (n, 1, 256, 1)
    thresholds = np.array([x[i, 0, :, 0][flipped[i, 0, :, 0]].min() for i in range(len(x))]) / 255
    assert thresholds.min() > 0.2 - 1e-2 and thresholds.max() < 0.6 + 1e-2
    assert abs(thresholds.mean() - 0.4) < 0.01
    config = _roundtrip(C.Solarization(addition_factor=0.1, threshold_factor=(0.2, 0.6), seed=3)).get_config()
    assert config["addition_factor"] == [0.0, 0.1] and config["threshold_factor"] == [0.2, 0.6]
    with pytest.raises(ValueError):
        C.Solarization(addition_factor=1.5)


# ------------------------------------------------------------------------------------------------ RandomInvert
@pytest.mark.parametrize("factor", [(1.0, 1.0), 0.0])
def test_random_invert_fixed_against_keras(keras, factor):
    ours = C.RandomInvert(factor=factor, value_range=(0, 255))
    theirs = keras.layers.RandomInvert(factor=factor, value_range=(0, 255))
    np.testing.assert_allclose(_ours(ours, IMAGES), _theirs(theirs, IMAGES), atol=1e-4)
    np.testing.assert_allclose(_ours(ours, IMAGES, False), IMAGES)


def test_random_invert_probability_and_config(keras):
    x = np.repeat(IMAGES[:1], 4000, axis=0)
    for factor, expected in [(1.0, 0.5), ((0.2, 0.4), 0.3)]:
        out = _ours(C.RandomInvert(factor=factor, seed=0), x)
        inverted = np.all(np.abs(out - (255 - x)) < 1e-3, axis=(1, 2, 3))
        kept = np.all(np.abs(out - x) < 1e-3, axis=(1, 2, 3))
        assert np.all(inverted | kept)
        assert abs(inverted.mean() - expected) < 0.03
    out = _ours(C.RandomInvert(factor=(1.0, 1.0), value_range=(-1, 1)), IMAGES / 127.5 - 1)
    np.testing.assert_allclose(out, -(IMAGES / 127.5 - 1), atol=1e-5)
    config = _roundtrip(C.RandomInvert(seed=4)).get_config()
    assert config["factor"] == list(keras.layers.RandomInvert().get_config()["factor"]) == [0, 1]


# --------------------------------------------------------------------------------------------- RandomGrayscale
def test_random_grayscale_against_keras(keras):
    for factor in (1.0, 0.0):
        ours, theirs = C.RandomGrayscale(factor=factor), keras.layers.RandomGrayscale(factor=factor)
        np.testing.assert_allclose(_ours(ours, IMAGES), _theirs(theirs, IMAGES), atol=1e-4)
        np.testing.assert_allclose(_ours(ours, IMAGES, False), IMAGES)
    np.testing.assert_allclose(_ours(C.RandomGrayscale(factor=1.0), IMAGES), np.repeat(GRAY, 3, -1), atol=1e-4)
    first = C.RandomGrayscale(factor=1.0, data_format="channels_first")
    out = first(torch.tensor(IMAGES).permute(0, 3, 1, 2), training=True)
    np.testing.assert_allclose(to_numpy(out.permute(0, 2, 3, 1)), np.repeat(GRAY, 3, -1), atol=1e-4)


def test_random_grayscale_probability():
    x = np.repeat(IMAGES[:1], 4000, axis=0)
    out = _ours(C.RandomGrayscale(factor=0.3, seed=2), x)
    gray = np.all(np.abs(out - GRAY[:1]) < 1e-3, axis=(1, 2, 3))
    kept = np.all(np.abs(out - x) < 1e-3, axis=(1, 2, 3))
    assert np.all(gray | kept) and abs(gray.mean() - 0.3) < 0.03
    assert _roundtrip(C.RandomGrayscale(factor=0.3, seed=2)).get_config()["factor"] == 0.3
    with pytest.raises(ValueError):
        C.RandomGrayscale(factor=1.5)


# ----------------------------------------------------------------------------------------- RandomPosterization
@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
@pytest.mark.parametrize("bits", [1, 3, 8])
def test_random_posterization_fixed_bits_against_keras(keras, value_range, bits):
    low, high = value_range
    x = IMAGES / 255 * (high - low) + low
    ours = C.RandomPosterization(factor=(bits, bits), value_range=value_range)
    theirs = keras.layers.RandomPosterization(factor=(bits, bits), value_range=value_range)
    np.testing.assert_allclose(_ours(ours, x), _theirs(theirs, x), atol=1e-4)
    np.testing.assert_allclose(_ours(ours, x, False), x)


def test_random_posterization_bits_distribution_and_config(keras):
    x = np.full((3000, 1, 1, 1), 255.0, dtype="float32")
    for factor, levels in [(4, [128, 192, 224]), ((2, 4), [192, 224])]:
        ours = np.unique(_ours(C.RandomPosterization(factor=factor, seed=0), x), return_counts=True)
        theirs = np.unique(_theirs(keras.layers.RandomPosterization(factor=factor, seed=0), x))
        assert ours[0].tolist() == theirs.tolist() == levels  # Keras 3.15 leaves the upper bound out
        assert ours[1].min() > 3000 / len(levels) * 0.9
    assert _roundtrip(C.RandomPosterization(3)).get_config()["factor"] == [1, 3]
    with pytest.raises(ValueError):
        C.RandomPosterization(9)


# ------------------------------------------------------------------------------------- RandomColorDegeneration
@pytest.mark.parametrize("factor", [(0.0, 0.0), (0.3, 0.3), (1.0, 1.0), (-0.5, -0.5)])
def test_random_color_degeneration_fixed_against_keras(keras, factor):
    ours, theirs = C.RandomColorDegeneration(factor), keras.layers.RandomColorDegeneration(factor)
    np.testing.assert_allclose(_ours(ours, IMAGES), _theirs(theirs, IMAGES), atol=1e-3)
    expected = np.clip(IMAGES + factor[0] * (GRAY - IMAGES), 0, 255)
    np.testing.assert_allclose(_ours(ours, IMAGES), expected, atol=1e-3)
    np.testing.assert_allclose(_ours(ours, IMAGES, False), IMAGES)


def test_random_color_degeneration_factor_range(keras):
    layer = C.RandomColorDegeneration(0.3, value_range=(0, 1), seed=5)
    assert layer.get_config()["factor"] == list(keras.layers.RandomColorDegeneration(0.3).get_config()["factor"])
    x = np.repeat(np.array([[[[0.6, 0.5, 0.4]]]], dtype="float32"), 4000, axis=0)  # never clipped
    out = _ours(layer, x)
    gray = float(x[0, 0, 0] @ np.array([0.2989, 0.587, 0.114]))
    f = (out[:, 0, 0, 0] - 0.6) / (gray - 0.6)
    assert -0.3 - 1e-4 < f.min() < -0.28 and 0.28 < f.max() < 0.3 + 1e-4 and abs(f.mean()) < 0.02
    _roundtrip(layer)


# -------------------------------------------------------------------------------------------------- seeding
@pytest.mark.parametrize("make", [lambda s: C.RandomInvert(seed=s), lambda s: C.RandomGrayscale(seed=s),
                                  lambda s: C.RandomPosterization(8, seed=s),
                                  lambda s: C.RandomColorDegeneration(0.5, seed=s),
                                  lambda s: C.Solarization(0.5, 0.5, seed=s), lambda s: C.RandomHue(0.5, seed=s),
                                  lambda s: C.RandomSaturation(0.5, seed=s), lambda s: C.RandomSharpness(1.0, seed=s)])
def test_seeded_layers_repeat_and_vary(make):
    a, b = make(7), make(7)
    first = _ours(a, IMAGES)
    np.testing.assert_array_equal(first, _ours(b, IMAGES))
    assert any(not np.array_equal(first, _ours(a, IMAGES)) for _ in range(5))  # the draws advance
    out = a(torch.tensor(IMAGES), training=True)
    assert out.dtype == torch.float32 and tuple(out.shape) == IMAGES.shape


# -------------------------------------------------------------------------------------------- RandomSharpness
@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
@pytest.mark.parametrize("factor", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_random_sharpness_fixed_against_keras(keras, value_range, factor):
    low, high = value_range
    x = IMAGES / 255 * (high - low) + low
    ours = C.RandomSharpness((factor, factor), value_range=value_range)
    theirs = keras.layers.RandomSharpness((factor, factor), value_range=value_range)
    np.testing.assert_allclose(_ours(ours, x), _theirs(theirs, x), atol=1e-4 * (high - low))
    np.testing.assert_allclose(_ours(ours, x, False), x)


def test_random_sharpness_factor_and_channels_first(keras):
    layer = C.RandomSharpness(0.3, seed=1)
    assert layer.get_config()["factor"] == list(keras.layers.RandomSharpness(0.3).get_config()["factor"])
    _roundtrip(layer)
    blurred = _ours(C.RandomSharpness((0.0, 0.0)), IMAGES)
    first = C.RandomSharpness((0.0, 0.0), data_format="channels_first")
    out = first(torch.tensor(IMAGES).permute(0, 3, 1, 2), training=True)
    np.testing.assert_allclose(to_numpy(out.permute(0, 2, 3, 1)), blurred, atol=1e-4)
    # a random draw lies between the blur (f = 0) and the image (f = 0.5), pixel by pixel
    out = _ours(C.RandomSharpness((0.0, 0.5), seed=3), IMAGES)
    assert np.all((out - blurred) * (IMAGES - out) >= -1e-3)


# ------------------------------------------------------------------------------------------- RandomSaturation
@pytest.mark.parametrize("value_range,factor", [((0, 255), f) for f in (0.0, 0.2, 0.4, 0.5)]
                         + [((0, 1), f) for f in (0.0, 0.2, 0.5, 0.75, 0.9, 1.0)])
def test_random_saturation_fixed_against_keras(keras, value_range, factor):
    low, high = value_range
    x = IMAGES / 255 * (high - low) + low
    ours = C.RandomSaturation((factor, factor), value_range=value_range)
    theirs = keras.layers.RandomSaturation((factor, factor), value_range=value_range)
    np.testing.assert_allclose(_ours(ours, x), _theirs(theirs, x), atol=1e-4 * (high - low))
    np.testing.assert_allclose(_ours(ours, x, False), x)


def test_random_saturation_stays_in_range_where_keras_extrapolates(keras):
    out = _ours(C.RandomSaturation((0.8, 0.8)), IMAGES)  # Keras 3.15 leaves (0, 255) here
    assert out.min() >= -1e-3 and out.max() <= 255 + 1e-3
    expected = _ours(C.RandomSaturation((0.8, 0.8), value_range=(0, 1)), IMAGES / 255) * 255
    np.testing.assert_allclose(out, expected, atol=1e-3)
    np.testing.assert_allclose(out, _theirs(keras.layers.RandomSaturation((0.8, 0.8), value_range=(0, 1)),
                                            IMAGES / 255) * 255, atol=1e-2)
    full = _ours(C.RandomSaturation((1.0, 1.0)), IMAGES)
    np.testing.assert_allclose(full.min(-1), 0, atol=1e-3)  # fully saturated: one channel at zero


def test_random_saturation_single_float_draws_like_keras(keras):
    layer = C.RandomSaturation(0.3, seed=0)
    assert layer.get_config()["factor"] == list(keras.layers.RandomSaturation(0.3).get_config()["factor"])
    x = np.repeat(IMAGES[:1, :1, :1], 4000, axis=0)
    spread = {}
    for name, out in [("ours", _ours(layer, x)), ("keras", _theirs(keras.layers.RandomSaturation(0.3, seed=0), x))]:
        gray = np.ptp(out, axis=-1)[:, 0, 0] < 1e-3
        spread[name] = gray.mean()
    assert abs(spread["ours"] - 0.5) < 0.03 and abs(spread["keras"] - 0.5) < 0.03  # draws below 0 turn gray
    _roundtrip(layer)


# -------------------------------------------------------------------------------------------------- RandomHue
@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
@pytest.mark.parametrize("factor", [0.0, 1.0])
def test_random_hue_fixed_against_keras(keras, value_range, factor):
    low, high = value_range
    x = IMAGES / 255 * (high - low) + low
    ours = C.RandomHue((factor, factor), value_range=value_range)
    theirs = keras.layers.RandomHue((factor, factor), value_range=value_range)
    np.testing.assert_allclose(_ours(ours, x), _theirs(theirs, x), atol=1e-4 * (high - low))
    np.testing.assert_allclose(_ours(ours, x, False), x)


def test_random_hue_shift_is_plus_or_minus_half_factor(keras):
    from lamina.layers.augmentation_utils import rgb_to_hsv

    x = np.repeat(IMAGES[:1], 2000, axis=0)
    hue_in = to_numpy(rgb_to_hsv(torch.tensor(x) / 255))[..., 0]
    for make in (lambda: C.RandomHue((0.5, 0.5), seed=2), lambda: keras.layers.RandomHue((0.5, 0.5), seed=2)):
        layer = make()
        out = _ours(layer, x) if isinstance(layer, C.RandomHue) else _theirs(layer, x)
        shift = np.remainder(to_numpy(rgb_to_hsv(torch.tensor(out) / 255))[..., 0] - hue_in, 1.0)[:, 0, 0]
        assert np.all(np.minimum(np.abs(shift - 0.25), np.abs(shift - 0.75)) < 1e-3)
        assert abs((np.abs(shift - 0.25) < 1e-3).mean() - 0.5) < 0.04
    layer = C.RandomHue(0.3, seed=0)
    assert layer.get_config()["factor"] == list(keras.layers.RandomHue(0.3).get_config()["factor"]) == [0, 0.3]
    _roundtrip(layer)


# ------------------------------------------------------------------------------------------ RandomColorJitter
@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
def test_random_color_jitter_fixed_against_keras(keras, value_range):
    low, high = value_range
    x = IMAGES / 255 * (high - low) + low
    kwargs = {"value_range": value_range, "brightness_factor": (0.2, 0.2), "contrast_factor": (0.0, 0.0),
              "saturation_factor": (0.3, 0.3), "hue_factor": (1.0, 1.0)}
    ours, theirs = C.RandomColorJitter(**kwargs), keras.layers.RandomColorJitter(**kwargs)
    np.testing.assert_allclose(_ours(ours, x), _theirs(theirs, x), atol=1e-4 * (high - low))
    np.testing.assert_allclose(_ours(ours, x, False), x)
    # the order matters (brightness clips first): brightness, contrast, saturation, hue
    chained = x
    for step in (C.RandomSaturation((0.3, 0.3), value_range=value_range),
                 C.RandomHue((1.0, 1.0), value_range=value_range)):
        chained = _ours(step, chained)
    np.testing.assert_allclose(_ours(ours, x), _ours(C.RandomColorJitter(
        value_range=value_range, saturation_factor=(0.3, 0.3), hue_factor=(1.0, 1.0)),
        np.clip(x + 0.2 * (high - low), low, high)), atol=1e-4 * (high - low))
    np.testing.assert_allclose(_ours(C.RandomColorJitter(value_range=value_range), x), x)  # no factor: no-op


def test_random_color_jitter_random_contrast_and_config(keras):
    layer = C.RandomColorJitter(contrast_factor=0.5, seed=3)
    x = np.repeat(IMAGES[:1] * 0.3 + 90, 500, axis=0)  # never clipped
    out = _ours(layer, x)
    mean = x.mean(axis=(1, 2), keepdims=True)
    c = ((out - mean) * (x - mean)).sum(axis=(1, 2, 3)) / ((x - mean) ** 2).sum(axis=(1, 2, 3))
    assert 0.5 - 1e-3 < c.min() < 0.55 and 1.45 < c.max() < 1.5 + 1e-3  # before clipping to the range
    config = _roundtrip(C.RandomColorJitter(brightness_factor=0.2, saturation_factor=(0.5, 0.6), seed=1)).get_config()
    theirs = keras.layers.RandomColorJitter(brightness_factor=0.2, saturation_factor=(0.5, 0.6)).get_config()
    for key in ("brightness_factor", "contrast_factor", "saturation_factor", "hue_factor", "value_range"):
        assert config[key] == (list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key])


# ----------------------------------------------------------------------------------------------- Equalization
def _equalization_inputs():
    ints = RNG.integers(0, 20, (2, 4, 4, 3)).astype("float32") * 10  # few levels, ties
    ramp = np.concatenate([np.arange(256, dtype="float32").reshape(1, 16, 16, 1),
                           np.full((1, 16, 16, 1), 100.0, dtype="float32")], axis=1)
    return [ints, IMAGES, np.round(IMAGES), ramp]


@pytest.mark.parametrize("bins", [4, 16, 64, 256])
@pytest.mark.parametrize("case", range(4))
def test_equalization_against_keras(keras, bins, case):
    x = _equalization_inputs()[case]
    ours, theirs = C.Equalization(bins=bins), keras.layers.Equalization(bins=bins)
    np.testing.assert_allclose(_ours(ours, x), _theirs(theirs, x), atol=1e-4)
    # Keras 3.15 passes images through at training=False; so does lamina
    np.testing.assert_allclose(_ours(ours, x, False), _theirs(theirs, x, False))
    np.testing.assert_allclose(_ours(ours, x, False), x)


@pytest.mark.parametrize("value_range", [(0, 1), (-1, 1)])
def test_equalization_value_range_against_keras(keras, value_range):
    low, high = value_range
    for x in _equalization_inputs():
        x = x / 255 * (high - low) + low
        ours = C.Equalization(value_range=value_range, bins=64)
        theirs = keras.layers.Equalization(value_range=value_range, bins=64)
        np.testing.assert_allclose(_ours(ours, x), _theirs(theirs, x), atol=1e-4)


def test_equalization_flat_channel_channels_first_and_config(keras):
    x = np.full((1, 4, 4, 1), 7.0, dtype="float32")
    np.testing.assert_allclose(_ours(C.Equalization(), x), x)
    np.testing.assert_allclose(_ours(C.Equalization(), x), _theirs(keras.layers.Equalization(), x))
    first = C.Equalization(data_format="channels_first")(torch.tensor(IMAGES).permute(0, 3, 1, 2), training=True)
    np.testing.assert_allclose(to_numpy(first.permute(0, 2, 3, 1)), _ours(C.Equalization(), IMAGES), atol=1e-4)
    out = _ours(C.Equalization(), IMAGES)  # each channel, over the batch, spreads over the whole range
    np.testing.assert_allclose(out.min(axis=(0, 1, 2)), 0)
    np.testing.assert_allclose(out.max(axis=(0, 1, 2)), 255)
    # the batch is pooled, as in Keras: the same as one image made of the batch's images stacked
    stacked = _ours(C.Equalization(), IMAGES.reshape(1, -1, IMAGES.shape[2], 3))
    np.testing.assert_allclose(out, stacked.reshape(IMAGES.shape), atol=1e-4)
    config = _roundtrip(C.Equalization(value_range=(0, 1), bins=128)).get_config()
    theirs = keras.layers.Equalization(value_range=(0, 1), bins=128).get_config()
    assert config["bins"] == theirs["bins"] and config["value_range"] == list(theirs["value_range"])


# ------------------------------------------------------------------------------------------------------ CLAHE
@pytest.mark.parametrize("shape,grid,clip", [((16, 24), (2, 2), 4.0), ((16, 24), (4, 2), 4.0),
                                             ((32, 24), (4, 3), 2.5), ((15, 17), (2, 3), 4.0),
                                             ((64, 64), (8, 8), 40.0), ((40, 40), (8, 8), 4.0),
                                             ((16, 40), (1, 1), 1000.0)])
def test_clahe_against_keras(keras, shape, grid, clip):
    rng = np.random.default_rng(1)
    x = np.round(rng.random((2, *shape, 3)) ** 2 * 255).astype("float32")  # skewed, with ties
    ours = C.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=grid, clip_limit=clip)
    theirs = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=grid, clip_limit=clip)
    expected = _theirs(theirs, x)
    np.testing.assert_allclose(_ours(ours, x), expected, atol=1e-3)
    np.testing.assert_allclose(_ours(ours, x, False), expected, atol=1e-3)  # deterministic: always applied


@pytest.mark.parametrize("value_range", [(0, 1), (-1, 1)])
def test_clahe_value_range_against_keras(keras, value_range):
    low, high = value_range
    rng = np.random.default_rng(2)
    x = (rng.random((1, 32, 32, 1)) ** 2 * (high - low) + low).astype("float32")  # not on 256 levels
    kwargs = {"value_range": value_range, "tile_grid_size": (4, 4)}
    ours = C.ContrastLimitedAdaptiveHistogramEqualization(**kwargs)
    theirs = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(**kwargs)
    np.testing.assert_allclose(_ours(ours, x), _theirs(theirs, x), atol=1e-5 * (high - low) * 255)


def test_clahe_channels_first_and_config(keras):
    layer = C.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 3), clip_limit=3.0)
    first = C.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 3), clip_limit=3.0,
                                                          data_format="channels_first")
    out = first(torch.tensor(IMAGES).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    np.testing.assert_allclose(to_numpy(out), _ours(layer, IMAGES), atol=1e-4)
    config = _roundtrip(layer).get_config()
    theirs = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 3),
                                                                       clip_limit=3.0).get_config()
    for key in ("value_range", "clip_limit", "tile_grid_size"):
        assert config[key] == (list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key])
    assert "seed" not in config
