"""Bounding boxes through the image layers (Keras's ``{"images": ..., "bounding_boxes": {"boxes", "labels"}}``
dicts, layers/image_inputs.py): Keras 3's boxes at fixed or sign-only randomness (rotation, zoom, translation,
shear, flips, crops, resizes), an image-based truth for every layer that moves pixels (a bright rectangle must end
up inside its moved box, which hugs it), colour layers passing boxes through, MixUp/CutMix partners, and the
batch staying on the images' device with no host syncs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamina.layers import augmentation_policies as A
from lamina.layers import bounding_box_ops as bb_ops
from lamina.layers import color_augmentation as C
from lamina.layers import geometric_augmentation as G
from lamina.layers import mixing_augmentation as M
from lamina.layers import preprocessing as P
from lamina.utils import bounding_boxes as bb

RNG = np.random.default_rng(0)
N, H, W = 3, 24, 30
IMAGES = (RNG.random((N, H, W, 3)) * 255).astype("float32")
BOXES = np.array([[[2, 3, 10, 12], [5, 5, 15, 18], [20, 2, 29, 9]],
                  [[1, 1, 4, 4], [8, 2, 19, 9], [0, 0, 30, 24]],
                  [[12, 10, 18, 20], [3, 15, 9, 22], [25, 18, 28, 23]]], dtype="float32")
LABELS = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])


def _data(fmt="xyxy", images=IMAGES, boxes=BOXES, labels=LABELS, torch_in=True):
    h, w = images.shape[-3], images.shape[-2]
    b = bb.convert_format(boxes, "xyxy", fmt, height=h, width=w).numpy()
    wrap = torch.tensor if torch_in else np.array
    return {"images": wrap(images.copy()), "bounding_boxes": {"boxes": wrap(b), "labels": wrap(labels.copy())}}


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _check_same(ours, theirs, atol=1e-4, image_atol=3e-3):
    np.testing.assert_allclose(_np(ours["bounding_boxes"]["boxes"]), _np(theirs["bounding_boxes"]["boxes"]),
                               atol=atol)
    np.testing.assert_array_equal(_np(ours["bounding_boxes"]["labels"]), _np(theirs["bounding_boxes"]["labels"]))
    np.testing.assert_allclose(_np(ours["images"]), _np(theirs["images"]), atol=image_atol)


# ------------------------------------------------------------------------------------- Keras at fixed settings
FIXED = [
    # Keras's rotation reads its boxes as xyxy whatever the format (lamina converts): compared in xyxy
    ("RandomRotation", {"factor": (0.1, 0.1)}, ["xyxy"]),
    ("RandomRotation", {"factor": (-0.3, -0.3), "fill_mode": "constant"}, ["xyxy"]),
    ("RandomZoom", {"height_factor": (0.3, 0.3)}, ["xyxy", "center_xywh", "rel_yxyx"]),
    ("RandomZoom", {"height_factor": (-0.4, -0.4), "width_factor": (0.2, 0.2)}, ["xyxy", "rel_xywh"]),
    ("RandomTranslation", {"height_factor": (0.2, 0.2), "width_factor": (-0.3, -0.3)}, ["xyxy", "yxyx"]),
    ("CenterCrop", {"height": 10, "width": 12}, ["xyxy", "rel_center_xywh"]),
    ("CenterCrop", {"height": 30, "width": 24}, ["xyxy"]),
    ("Resizing", {"height": 12, "width": 45}, ["xyxy", "center_yxhw"]),
    # (Keras floors its crop offset in output pixels; lamina's boxes follow the image's window: equal when even)
    ("Resizing", {"height": 12, "width": 11, "crop_to_aspect_ratio": True}, ["xyxy"]),
    ("Resizing", {"height": 24, "width": 15, "crop_to_aspect_ratio": True}, ["xywh"]),
    ("Resizing", {"height": 48, "width": 30, "pad_to_aspect_ratio": True, "fill_value": 3.0}, ["xyxy", "rel_xyxy"]),
    ("Resizing", {"height": 30, "width": 30, "pad_to_aspect_ratio": True}, ["center_xywh"]),
]


@pytest.mark.parametrize("name, kwargs, formats", FIXED)
def test_boxes_match_keras_at_fixed_settings(keras, name, kwargs, formats):
    for fmt in formats:
        ours = getattr(P, name)(**kwargs, bounding_box_format=fmt)
        theirs = getattr(keras.layers, name)(**kwargs, bounding_box_format=fmt)
        out = ours(_data(fmt), training=True)
        _check_same(out, theirs(_data(fmt, torch_in=False), training=True))
        assert (_np(out["bounding_boxes"]["labels"]) >= -1).all()
        # one image: (k, 4) boxes
        single = {"images": IMAGES[1], "bounding_boxes": {"boxes": _data(fmt)["bounding_boxes"]["boxes"][1].numpy(),
                                                          "labels": LABELS[1]}}
        got = ours({**single, "bounding_boxes": dict(single["bounding_boxes"])}, training=True)
        want = theirs({**single, "bounding_boxes": dict(single["bounding_boxes"])}, training=True)
        _check_same(got, want)
    assert ours.get_config()["bounding_box_format"] == theirs.get_config()["bounding_box_format"] == fmt
    assert "bounding_box_format" not in getattr(P, name)(**kwargs).get_config()


def test_some_boxes_leave_the_image_and_lose_their_label(keras):
    layer = P.RandomTranslation((0.5, 0.5), (0.5, 0.5), bounding_box_format="xyxy")
    out = layer(_data(), training=True)
    labels = _np(out["bounding_boxes"]["labels"])
    assert (labels == -1).any() and (labels > 0).any()
    theirs = keras.layers.RandomTranslation((0.5, 0.5), (0.5, 0.5), bounding_box_format="xyxy")
    _check_same(out, theirs(_data(torch_in=False), training=True))


def _keras_boxes(keras_layer, transformation):
    data = _data()["bounding_boxes"]
    return _np(keras_layer.transform_bounding_boxes({k: v.clone() for k, v in data.items()}, transformation,
                                                    training=True)["boxes"])


@pytest.mark.parametrize("mode", ["horizontal", "vertical"])
def test_flip_boxes_match_keras_image_by_image(keras, mode):
    layer = P.RandomFlip(mode, bounding_box_format="xyxy", seed=3)
    theirs = keras.layers.RandomFlip(mode, bounding_box_format="xyxy")
    flipped = _keras_boxes(theirs, {"flips": torch.ones(N, 1, 1, 1, dtype=torch.bool), "input_shape": IMAGES.shape})
    for _ in range(4):
        out = layer(_data(), training=True)
        axis = 2 if mode == "horizontal" else 1
        was_flipped = [np.array_equal(_np(out["images"][i]), np.flip(IMAGES[i], axis - 1)) for i in range(N)]
        expected = np.where(np.array(was_flipped)[:, None, None], flipped, BOXES)
        np.testing.assert_allclose(_np(out["bounding_boxes"]["boxes"]), expected, atol=1e-4)


def test_shear_boxes_match_keras_for_the_drawn_sign(keras):
    square = (RNG.random((N, 24, 24, 3)) * 255).astype("float32")
    boxes = np.minimum(BOXES, 24)
    for kwargs in ({"x_factor": (0.3, 0.3)}, {"y_factor": (0.2, 0.2)}):
        layer = G.RandomShear(**kwargs, bounding_box_format="xyxy", seed=5)
        theirs = keras.layers.RandomShear(**kwargs, bounding_box_format="xyxy")
        amount = np.array([kwargs.get("x_factor", (0, 0))[0], kwargs.get("y_factor", (0, 0))[0]], dtype="float32")
        candidates = []
        for sign in (1, -1):
            data = {"boxes": torch.tensor(boxes), "labels": torch.tensor(LABELS)}
            candidates.append(_np(theirs.transform_bounding_boxes(data, {
                "shear_factor": torch.tensor(np.tile(amount * sign, (N, 1))), "input_shape": square.shape})["boxes"]))
        out = _np(layer(_data(images=square, boxes=boxes), training=True)["bounding_boxes"]["boxes"])
        for i in range(N):
            assert min(np.abs(out[i] - c[i]).max() for c in candidates) < 1e-4


def test_random_crop_boxes_match_keras_crop(keras):
    images = np.arange(N * H * W * 3, dtype="float32").reshape(N, H, W, 3)
    layer = P.RandomCrop(15, 20, bounding_box_format="xyxy", seed=2)
    for _ in range(3):
        out = layer(_data(images=images), training=True)
        corner = _np(out["images"])[0, 0, 0, 0]
        top, left = divmod(int(corner) // 3, W)
        expected = keras.utils.bounding_boxes.crop(BOXES.copy(), top, left, 15, 20)
        np.testing.assert_allclose(_np(out["bounding_boxes"]["boxes"]), _np(expected), atol=1e-5)
    # inference: the centered crop-to-aspect window, resized, like Keras's Resizing(crop_to_aspect_ratio=True)
    layer = P.RandomCrop(12, 11, bounding_box_format="xyxy")
    theirs = keras.layers.Resizing(12, 11, crop_to_aspect_ratio=True, bounding_box_format="xyxy")
    _check_same(layer(_data(), training=False), theirs(_data(torch_in=False)))


# --------------------------------------------------------------------------- the image is the truth (all layers)
def _bright(boxes, size=40):
    images = np.zeros((len(boxes), size, size, 3), dtype="float32")
    for i, (x1, y1, x2, y2) in enumerate(boxes.astype(int)):
        images[i, y1:y2, x1:x2] = 255.0
    return images


def _geometric_rand_augment(f):
    """RandAugment with its geometric operations only (colour ones would light up the dark background)."""
    layer = A.RandAugment(factor=(0.6, 0.6), num_ops=3, interpolation="nearest", bounding_box_format=f, seed=1)
    layer._ops = [(name, op) for name, op in layer._ops if name.startswith(("rot", "shear", "trans"))]
    return layer


MOVERS = [
    lambda f: P.RandomRotation(0.2, fill_mode="constant", interpolation="nearest", bounding_box_format=f, seed=1),
    lambda f: P.RandomZoom(0.3, 0.2, fill_mode="constant", interpolation="nearest", bounding_box_format=f, seed=1),
    lambda f: P.RandomTranslation(0.2, 0.2, fill_mode="constant", interpolation="nearest", bounding_box_format=f,
                                  seed=1),
    lambda f: G.RandomShear(0.3, 0.3, fill_mode="constant", interpolation="nearest", bounding_box_format=f, seed=1),
    lambda f: G.RandomPerspective(scale=0.6, interpolation="nearest", bounding_box_format=f, seed=1),
    lambda f: G.RandomElasticTransform(scale=1.0, fill_mode="constant", interpolation="nearest",
                                       bounding_box_format=f, seed=1),
    lambda f: P.RandomFlip(bounding_box_format=f, seed=1),
    lambda f: P.RandomCrop(30, 25, bounding_box_format=f, seed=1),
    lambda f: P.CenterCrop(28, 34, bounding_box_format=f),
    _geometric_rand_augment,
]


@pytest.mark.parametrize("make", MOVERS)
def test_moved_boxes_hug_the_moved_pixels(make):
    boxes = np.array([[8, 10, 20, 18], [14, 6, 30, 30], [5, 22, 15, 33], [12, 12, 28, 26]] * 4, dtype="float32")
    images = _bright(boxes)
    layer = make("center_xywh")
    data = {"images": torch.tensor(images), "bounding_boxes": {"boxes": bb.convert_format(boxes[:, None], "xyxy",
                                                                                          "center_xywh"),
                                                               "labels": torch.ones(len(boxes), 1, dtype=torch.int64)}}
    out = layer(data, training=True)
    got = _np(bb.convert_format(out["bounding_boxes"]["boxes"], "center_xywh", "xyxy"))[:, 0]
    bright = _np(out["images"])[..., 0] > 200  # (RandAugment fills with the middle of the range)
    for i in range(len(boxes)):
        ys, xs = np.nonzero(bright[i])
        if len(xs) < 4:
            continue
        extent = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])  # pixel i spans [i, i + 1)
        # the pixels lie in the box (nearest sampling rounds: up to a pixel out; two for the elastic field, which
        # is not monotonic), and the box hugs them (looser after RandAugment's chains: a hull of a hull grows)
        slack = 2.1 if isinstance(layer, G.RandomElasticTransform) else 1.1
        assert (extent[:2] >= got[i, :2] - slack).all() and (extent[2:] <= got[i, 2:] + slack).all(), (got[i], extent)
        loose = 4.0 if isinstance(layer, A.RandAugment) else max(slack, 1.6)
        assert np.abs(got[i] - extent).max() <= loose, (i, got[i], extent)


# --------------------------------------------------------------------------------------- colour layers and mixing
COLOUR = [  # each seeded: two instances draw the same
    lambda: P.RandomBrightness(0.3, seed=7), lambda: P.RandomContrast(0.4, seed=7), lambda: C.RandomHue(0.3, seed=7),
    lambda: C.RandomSaturation(0.5, seed=7),
    lambda: C.RandomColorJitter(brightness_factor=0.2, hue_factor=0.2, seed=7),
    lambda: C.RandomGrayscale(1.0, seed=7), lambda: C.RandomInvert(seed=7),
    lambda: C.RandomPosterization((2, 4), seed=7),
    lambda: C.RandomSharpness(0.5, seed=7), lambda: C.RandomColorDegeneration(0.5, seed=7),
    lambda: C.Solarization(0.2, 0.3, seed=7), lambda: C.AutoContrast(), lambda: C.Equalization(),
    lambda: C.ContrastLimitedAdaptiveHistogramEqualization(), lambda: G.RandomGaussianBlur(seed=7),
    lambda: G.RandomErasing(seed=7), lambda: A.AugMix(seed=7),
]


@pytest.mark.parametrize("make", COLOUR)
def test_colour_layers_pass_boxes_through_and_change_images_as_without_boxes(make):
    layer = make()
    layer.bounding_box_format = "rel_xyxy"
    assert type(layer).from_config(layer.get_config()).get_config()["bounding_box_format"] == "rel_xyxy"
    twin = make()
    data = _data("rel_xyxy")
    out = layer(data, training=True)
    np.testing.assert_array_equal(_np(out["bounding_boxes"]["boxes"]), _np(data["bounding_boxes"]["boxes"]))
    np.testing.assert_array_equal(_np(out["bounding_boxes"]["labels"]), LABELS)
    np.testing.assert_allclose(_np(out["images"]), _np(twin(torch.tensor(IMAGES), training=True)), atol=1e-4)


def test_colour_layer_dicts_match_keras(keras):
    for name, kwargs in [("RandomBrightness", {"factor": (0.2, 0.2)}), ("RandomInvert", {"factor": (1.0, 1.0)})]:
        ours = (getattr(P, name, None) or getattr(C, name))(**kwargs, bounding_box_format="xywh")
        theirs = getattr(keras.layers, name)(**kwargs, bounding_box_format="xywh")
        _check_same(ours(_data("xywh"), training=True), theirs(_data("xywh", torch_in=False), training=True))


def test_mixup_appends_each_partners_boxes():
    data = _data()
    data["labels"] = torch.eye(N)
    out = M.MixUp(bounding_box_format="xyxy", seed=4)(data, training=True)
    mixed = _np(out["labels"])  # one-hot labels: row i holds i and its partner
    got, labels = _np(out["bounding_boxes"]["boxes"]), _np(out["bounding_boxes"]["labels"])
    assert got.shape == (N, 6, 4) and labels.shape == (N, 6)
    np.testing.assert_array_equal(got[:, :3], BOXES)
    for i in range(N):
        j = ([p for p in np.nonzero(mixed[i] > 0)[0] if p != i] or [i])[0]
        np.testing.assert_array_equal(got[i, 3:], BOXES[j])
        np.testing.assert_array_equal(labels[i], np.concatenate([LABELS[i], LABELS[j]]))


def test_cutmix_appends_the_partners_boxes_within_the_pasted_rectangle():
    images = np.broadcast_to(np.arange(1, N + 1, dtype="float32")[:, None, None, None], (N, H, W, 3)).copy()
    out = M.CutMix(bounding_box_format="xyxy", seed=6)(_data(images=images), training=True)
    mixed = _np(out["images"])[..., 0]
    boxes, labels = _np(out["bounding_boxes"]["boxes"]), _np(out["bounding_boxes"]["labels"])
    np.testing.assert_array_equal(boxes[:, :3], BOXES)
    for i in range(N):
        pasted = mixed[i] != i + 1
        if not pasted.any():
            continue
        j = int(mixed[i][pasted][0]) - 1
        ys, xs = np.nonzero(pasted)
        lo, hi = np.array([xs.min(), ys.min()]), np.array([xs.max() + 1, ys.max() + 1])
        expected = np.concatenate([np.clip(BOXES[j][:, :2], lo, hi), np.clip(BOXES[j][:, 2:], lo, hi)], axis=1)
        np.testing.assert_allclose(boxes[i, 3:], expected)
        empty = (expected[:, 2] - expected[:, 0]) * (expected[:, 3] - expected[:, 1]) <= 0
        np.testing.assert_array_equal(labels[i, 3:], np.where(empty, -1, LABELS[j]))


# --------------------------------------------------------------------------------------------- plumbing and errors
def test_inference_passes_boxes_through_and_keeps_other_entries(keras):
    layer = P.RandomRotation(0.3, bounding_box_format="xyxy")
    data = {**_data(), "labels": torch.arange(N)}
    out = layer(data, training=False)
    np.testing.assert_array_equal(_np(out["bounding_boxes"]["boxes"]), BOXES)
    np.testing.assert_array_equal(_np(out["labels"]), np.arange(N))
    theirs = keras.layers.RandomRotation(0.3, bounding_box_format="xyxy")(_data(torch_in=False), training=False)
    _check_same(out, theirs)


def test_ragged_box_lists_are_padded():
    data = {"images": IMAGES[:2], "bounding_boxes": {"boxes": [[[1, 2, 3, 4]], [[1, 1, 5, 5], [2, 2, 6, 6]]],
                                                      "labels": [[1], [2, 3]]}}
    out = P.RandomFlip("horizontal", bounding_box_format="xyxy", seed=0)(data, training=True)
    assert out["bounding_boxes"]["boxes"].shape == (2, 2, 4)
    assert _np(out["bounding_boxes"]["labels"])[0].tolist() == [1, -1]


def test_errors_say_what_to_do():
    with pytest.raises(ValueError, match="bounding_box_format='xyxy'"):
        P.RandomZoom(0.2)(_data(), training=True)
    with pytest.raises(ValueError, match="'boxes' and 'labels'"):
        P.RandomZoom(0.2, bounding_box_format="xyxy")({"images": IMAGES, "bounding_boxes": BOXES}, training=True)
    with pytest.raises(ValueError, match="'images'"):
        P.RandomZoom(0.2, bounding_box_format="xyxy")({"bounding_boxes": {}}, training=True)
    with pytest.raises(ValueError, match="at most"):
        P.Resizing(3, 3, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match="segmentation_masks"):
        P.RandomZoom(0.2, bounding_box_format="xyxy")({**_data(), "segmentation_masks": IMAGES}, training=True)


def test_boxes_stay_on_the_images_device_without_host_syncs(monkeypatch):
    """Every box transform is batched tensor work: no .item()/.tolist()/bool() of a tensor, so no per-image loop
    reading values back (RandomCrop draws its one window on the host by design and is left out)."""
    layers = [P.RandomFlip(bounding_box_format="xyxy"), P.RandomRotation(0.2, bounding_box_format="xyxy"),
              P.RandomZoom(0.2, bounding_box_format="xyxy"), P.RandomTranslation(0.1, 0.1, bounding_box_format="xyxy"),
              G.RandomShear(0.2, 0.2, bounding_box_format="xyxy"), G.RandomPerspective(bounding_box_format="xyxy"),
              G.RandomElasticTransform(bounding_box_format="xyxy"), P.CenterCrop(20, 20, bounding_box_format="xyxy"),
              P.Resizing(20, 20, bounding_box_format="xyxy"), C.RandomHue(0.2, bounding_box_format="xyxy")]
    data = _data()

    def refuse(*args, **kwargs):
        raise AssertionError("a host sync in the bounding-box path")

    for name in ("item", "tolist", "__bool__", "numpy", "cpu"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    for layer in layers:
        out = layer({**data, "bounding_boxes": dict(data["bounding_boxes"])}, training=True)
        assert out["bounding_boxes"]["boxes"].device == out["images"].device


def test_perspective_boxes_match_keras_for_the_same_corners(keras):
    """Keras draws its corners differently; given the same corner moves, the boxes are Keras's."""
    corners = torch.tensor([[0.0, 0.0], [W - 1, 0.0], [0.0, H - 1], [W - 1, H - 1]], dtype=torch.float64)
    moved = corners + corners * torch.tensor(RNG.uniform(-0.2, 0.2, (N, 4, 2)))
    ours = bb_ops.homography_boxes(torch.tensor(BOXES), G._homography(moved, corners.expand(N, 4, 2)))
    theirs = keras.layers.RandomPerspective(bounding_box_format="xyxy")
    data = {"boxes": torch.tensor(BOXES), "labels": torch.tensor(LABELS)}
    expected = theirs.transform_bounding_boxes(data, {
        "apply_perspective": torch.ones(N, dtype=torch.bool), "start_points": corners.expand(N, 4, 2).float(),
        "end_points": moved.float(), "input_shape": IMAGES.shape})
    clipped = bb.clip_to_image_size({"boxes": ours, "labels": torch.tensor(LABELS)}, height=H, width=W)
    np.testing.assert_allclose(_np(clipped["boxes"]), _np(expected["boxes"]), atol=2e-3)


def test_channels_first_and_pipelines_carry_boxes(keras):
    last = P.RandomRotation((0.1, 0.1), bounding_box_format="xyxy")(_data(), training=True)
    data = _data()
    data["images"] = data["images"].permute(0, 3, 1, 2)
    first = P.RandomRotation((0.1, 0.1), bounding_box_format="xyxy", data_format="channels_first")(data, training=True)
    np.testing.assert_allclose(_np(first["bounding_boxes"]["boxes"]), _np(last["bounding_boxes"]["boxes"]), atol=1e-5)
    np.testing.assert_allclose(_np(first["images"]), _np(last["images"]).transpose(0, 3, 1, 2), atol=1e-4)
    kwargs = {"bounding_box_format": "xyxy"}
    ours = A.Pipeline([P.RandomZoom((0.2, 0.2), **kwargs), P.RandomBrightness((0.1, 0.1), **kwargs),
                       P.Resizing(12, 15, **kwargs)])
    theirs = keras.layers.Pipeline([keras.layers.RandomZoom((0.2, 0.2), **kwargs),
                                    keras.layers.RandomBrightness((0.1, 0.1), **kwargs),
                                    keras.layers.Resizing(12, 15, **kwargs)])
    _check_same(ours(_data(), training=True), theirs(_data(torch_in=False), training=True))
