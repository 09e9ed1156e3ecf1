"""Tests of lamina/layers/preprocessing.py: Keras 3 oracles for the deterministic layers (and for the affine
augmentations at a fixed factor), formulas and geometry for the random ones."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from harness import check_layer, to_numpy

from lamina import Sequential
from lamina.layers import Dense, Flatten, Input
from lamina.layers import preprocessing as P

RNG = np.random.default_rng(0)
IMAGES = RNG.random((2, 7, 9, 2)).astype("float32")  # odd sizes catch off-by-one centers


def _keras_np(layer, x, training=None):
    return to_numpy(layer(x, training=training) if training is not None else layer(x))


# --------------------------------------------------------------------------------------- deterministic layers
def test_rescaling_against_keras(keras):
    check_layer(lambda: P.Rescaling(1 / 255, offset=-0.5), (2, 3, 4),
                keras_factory=lambda: keras.layers.Rescaling(1 / 255, offset=-0.5), keras=keras)
    out = P.Rescaling(0.5)(torch.tensor([[2, 4]], dtype=torch.uint8))
    assert out.dtype == torch.float32 and out.tolist() == [[1.0, 2.0]]


def test_normalization_fixed_stats_against_keras(keras):
    check_layer(lambda: P.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0]), (4, 5, 3),
                keras_factory=lambda: keras.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0]),
                keras=keras)


@pytest.mark.parametrize("axis", [-1, (1, 3), None])
def test_normalization_adapt_against_keras(keras, axis):
    ours, theirs = P.Normalization(axis=axis), keras.layers.Normalization(axis=axis)
    ours.adapt(IMAGES)
    theirs.adapt(IMAGES)
    ow, kw = ours.get_weights(), theirs.get_weights()
    assert [w.shape for w in ow] == [w.shape for w in kw]
    np.testing.assert_allclose(ow[0], kw[0], atol=1e-6)
    np.testing.assert_allclose(ow[1], kw[1], atol=1e-6)
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(IMAGES))), _keras_np(theirs, IMAGES), atol=1e-5)


def test_normalization_streaming_adapt_equals_one_batch():
    data = RNG.standard_normal((50, 4)).astype("float32") * 3 + 1
    whole, streamed = P.Normalization(), P.Normalization()
    whole.adapt(data)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(data)), batch_size=7)
    streamed.adapt(loader)  # (x,) batches of uneven size
    np.testing.assert_allclose(streamed.get_weights()[0], data.mean(0), atol=1e-5)
    np.testing.assert_allclose(streamed.get_weights()[1], data.var(0), rtol=1e-5)
    np.testing.assert_allclose(streamed.get_weights()[1], whole.get_weights()[1], rtol=1e-6)
    assert int(streamed.get_weights()[2]) == 50
    out = to_numpy(whole(torch.tensor(data)))
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-4)


def test_normalization_invert_against_keras(keras):
    ours = P.Normalization(mean=[2.0], variance=[4.0], invert=True)
    theirs = keras.layers.Normalization(mean=[2.0], variance=[4.0], invert=True)
    x = RNG.standard_normal((3, 1)).astype("float32")
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), _keras_np(theirs, x), atol=1e-6)
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(x))), x * 2 + 2, atol=1e-6)


def test_normalization_adapted_layer_through_harness():
    def factory():
        layer = P.Normalization()
        layer.adapt(RNG.standard_normal((10, 3)).astype("float32"))
        return layer

    check_layer(factory, (4, 3), lazy=False, check_config=False)


@pytest.mark.parametrize("size", [(3, 4), (14, 20), (5, 12)])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
def test_resizing_against_keras(keras, size, interpolation):
    # Keras's torch backend uses F.interpolate with half-pixel centers too, so agreement is to float round-off.
    check_layer(lambda: P.Resizing(*size, interpolation=interpolation), IMAGES.shape, inputs=IMAGES,
                keras_factory=lambda: keras.layers.Resizing(*size, interpolation=interpolation), keras=keras,
                atol=1e-5)


@pytest.mark.parametrize("kwargs", [{"crop_to_aspect_ratio": True}, {"antialias": True}])
def test_resizing_options_against_keras(keras, kwargs):
    check_layer(lambda: P.Resizing(5, 4, **kwargs), IMAGES.shape, inputs=IMAGES,
                keras_factory=lambda: keras.layers.Resizing(5, 4, **kwargs), keras=keras)


@pytest.mark.parametrize("size", [(3, 4), (8, 4), (9, 12), (7, 9)])
def test_center_crop_against_keras(keras, size):
    check_layer(lambda: P.CenterCrop(*size), IMAGES.shape, inputs=IMAGES,
                keras_factory=lambda: keras.layers.CenterCrop(*size), keras=keras, expected_output_shape=(2, *size, 2))


# ---------------------------------------------------------------------------------------- augmentation layers
AUGMENTERS = [
    lambda: P.RandomFlip(seed=1),
    lambda: P.RandomRotation(0.2, seed=1),
    lambda: P.RandomZoom(0.3, 0.2, seed=1),
    lambda: P.RandomTranslation(0.2, 0.3, seed=1),
    lambda: P.RandomContrast(0.5, value_range=(0, 1), seed=1),
    lambda: P.RandomBrightness(0.3, value_range=(0, 1), seed=1),
]


@pytest.mark.parametrize("factory", AUGMENTERS)
def test_augmentation_contract(factory):
    x = torch.tensor(IMAGES)
    layer = factory()
    assert torch.equal(layer(x), x) and torch.equal(layer(x, training=False), x)  # identity at inference
    out = layer(x, training=True)
    assert out.shape == x.shape and torch.isfinite(out).all() and not torch.equal(out, x)
    # The same seed gives the same sequence of augmentations; successive calls differ.
    again = factory()
    assert torch.equal(again(x, training=True), out)
    # symbolic shape, config round trip through JSON
    assert layer(Input(shape=(7, 9, 2))).shape == (None, 7, 9, 2)
    cfg = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(cfg)
    assert json.dumps(clone.get_config()) == json.dumps(layer.get_config())
    assert torch.equal(clone(x, training=True), out)


def test_random_flip_gives_a_flip_of_each_image():
    x = torch.tensor(RNG.random((64, 5, 6, 1)).astype("float32"))
    candidates = {"none": x, "h": x.flip(2), "v": x.flip(1), "hv": x.flip(1).flip(2)}
    seen = {k: 0 for k in candidates}
    out = P.RandomFlip(seed=3)(x, training=True)
    for i in range(len(x)):
        match = [k for k, c in candidates.items() if torch.equal(out[i], c[i])]
        assert len(match) == 1
        seen[match[0]] += 1
    assert all(v > 5 for v in seen.values())  # each of the four outcomes (p = 1/4) occurs
    horizontal = P.RandomFlip("horizontal", seed=3)(x, training=True)
    assert all(torch.equal(horizontal[i], x[i]) or torch.equal(horizontal[i], x[i].flip(1)) for i in range(len(x)))


def test_random_crop():
    x = torch.arange(2 * 6 * 8, dtype=torch.float32).reshape(2, 6, 8, 1)
    out = P.RandomCrop(3, 4, seed=2)(x, training=True)
    assert out.shape == (2, 3, 4, 1)
    top, left = int(out[0, 0, 0, 0]) // 8, int(out[0, 0, 0, 0]) % 8
    assert torch.equal(out, x[:, top:top + 3, left:left + 4])  # a window of the input, the same for the batch
    assert torch.equal(P.RandomCrop(3, 4, seed=2)(x, training=True), out)
    # inference: the largest centered window of the target aspect ratio, resized (Keras's documented rule)
    expected = P.Resizing(3, 4, crop_to_aspect_ratio=True)(x)
    assert torch.equal(P.RandomCrop(3, 4)(x), expected)
    assert P.RandomCrop(3, 4)(Input(shape=(6, 8, 1))).shape == (None, 3, 4, 1)


@pytest.mark.parametrize("factor", [0.25, -0.25, 0.5, 0.1, -0.125])
def test_random_rotation_moves_a_marked_spot_by_the_formula(factor):
    h = w = 15
    x = torch.zeros(1, h, w, 1)
    x[0, 2:5, 8:11, 0] = 1.0  # a 3x3 spot centered at row 3, column 9
    out = P.RandomRotation((factor, factor), fill_mode="constant")(x, training=True)[0, ..., 0]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    # counter-clockwise on screen (y down): x' = cx + cos(a)(x-cx) + sin(a)(y-cy), y' = cy - sin(a)(x-cx) + cos(a)(y-cy)
    a = 2 * math.pi * factor
    px, py = 9 - cx, 3 - cy
    nx, ny = cx + math.cos(a) * px + math.sin(a) * py, cy - math.sin(a) * px + math.cos(a) * py
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                                indexing="ij")
    mass = out.sum()
    assert abs(float(mass) - 9) < 0.5  # the spot stays inside the image, (nearly) all of it
    centroid = float((rows * out).sum() / mass), float((cols * out).sum() / mass)
    assert abs(centroid[0] - ny) < 0.1 and abs(centroid[1] - nx) < 0.1, (centroid, (ny, nx))
    if factor in (0.25, -0.25, 0.5):  # quarter turns land on the pixel grid exactly
        torch.testing.assert_close(out, torch.rot90(x[0, ..., 0], k=int(factor * 4)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_augmentations_at_fixed_factor_match_keras(keras, fill_mode, interpolation):
    kw = {"fill_mode": fill_mode, "interpolation": interpolation, "fill_value": 0.5}
    pairs = [(P.RandomRotation((0.1, 0.1), **kw), keras.layers.RandomRotation((0.1, 0.1), **kw)),
             (P.RandomZoom((0.3, 0.3), (-0.2, -0.2), **kw), keras.layers.RandomZoom((0.3, 0.3), (-0.2, -0.2), **kw)),
             (P.RandomZoom((-0.25, -0.25), **kw), keras.layers.RandomZoom((-0.25, -0.25), **kw)),
             (P.RandomTranslation((0.2, 0.2), (-0.3, -0.3), **kw),
              keras.layers.RandomTranslation((0.2, 0.2), (-0.3, -0.3), **kw))]
    for ours, theirs in pairs:
        got = to_numpy(ours(torch.tensor(IMAGES), training=True))
        np.testing.assert_allclose(got, _keras_np(theirs, IMAGES, training=True), atol=1e-5,
                                   err_msg=type(ours).__name__)


def test_random_contrast_formula():
    x = torch.tensor(IMAGES)
    out = P.RandomContrast((0.4, 0.4), value_range=(0, 1), seed=5)(x, training=True)
    mean = x.mean(dim=(1, 2), keepdim=True)
    # recover each image's factor from one unclipped pixel, then check the whole image
    for i in range(len(x)):
        inside = (out[i] > 0) & (out[i] < 1) & ((x[i] - mean[i]).abs() > 0.1)
        c = ((out[i] - mean[i]) / (x[i] - mean[i]))[inside][0]
        assert 0.6 - 1e-5 <= c <= 1.4 + 1e-5
        torch.testing.assert_close(out[i], ((x[i] - mean[i]) * c + mean[i]).clamp(0, 1), atol=1e-5, rtol=0)
    zero = P.RandomContrast(0.0, value_range=(0, 1))(x, training=True)
    torch.testing.assert_close(zero, x)


def test_random_brightness_formula():
    x = torch.tensor(IMAGES) * 255
    out = P.RandomBrightness((0.1, 0.1))(x, training=True)  # fixed factor: + 0.1 * 255, clipped
    torch.testing.assert_close(out, (x + 25.5).clamp(0, 255))
    out = P.RandomBrightness(0.3, seed=4)(x, training=True)
    for i in range(len(x)):
        delta = (out[i] - x[i])[(out[i] > 0) & (out[i] < 255)]
        assert torch.allclose(delta, delta[0], atol=1e-3) and abs(float(delta[0])) <= 0.3 * 255 + 1e-3


def test_invalid_arguments_are_explained():
    with pytest.raises(ValueError, match="fill_mode"):
        P.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="mode"):
        P.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="both"):
        P.Normalization(mean=[1.0])


def test_sequential_with_augmentation_trains_one_epoch():
    x = RNG.random((32, 8, 8, 1)).astype("float32") * 255
    y = RNG.integers(0, 2, size=(32,))
    model = Sequential([
        Input(shape=(8, 8, 1)),
        P.RandomFlip("horizontal", seed=1),
        P.RandomRotation(0.05, seed=1),
        P.RandomContrast(0.2, seed=1),
        P.Rescaling(1 / 255),
        Flatten(),
        Dense(2, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x, verbose=0).shape == (32, 2)
