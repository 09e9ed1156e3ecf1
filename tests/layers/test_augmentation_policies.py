"""Tests of lamina/layers/augmentation_policies.py: Pipeline applies its layers in order, passes the training
flag on, serializes its layers, and equals Keras's Pipeline on deterministic layers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from harness import to_numpy

from lamina import Sequential
from lamina.layers import augmentation_policies as A
from lamina.layers import color_augmentation as C
from lamina.layers import preprocessing as P

RNG = np.random.default_rng(0)
IMAGES = (RNG.random((2, 5, 6, 3)) * 200 + 20).astype("float32")


def test_pipeline_equals_keras_pipeline(keras):
    ours = A.Pipeline([C.AutoContrast(), P.Rescaling(1 / 255), P.RandomFlip(seed=1)])
    theirs = keras.layers.Pipeline([keras.layers.AutoContrast(), keras.layers.Rescaling(1 / 255),
                                    keras.layers.RandomFlip(seed=1)])
    out = to_numpy(ours(torch.tensor(IMAGES), training=False))
    np.testing.assert_allclose(out, to_numpy(theirs(IMAGES, training=False)), atol=1e-5)
    np.testing.assert_allclose(out.min(axis=(1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(out.max(axis=(1, 2)), 1, atol=1e-6)
    assert sorted(ours.get_config()) == sorted(theirs.get_config()) == ["layers", "name"]


def test_pipeline_passes_training_on():
    pipeline = A.Pipeline([C.RandomInvert(factor=(1.0, 1.0)), P.Rescaling(2.0)])
    x = torch.tensor(IMAGES)
    np.testing.assert_allclose(to_numpy(pipeline(x)), IMAGES * 2)  # inference: the inversion is skipped
    np.testing.assert_allclose(to_numpy(pipeline(x, training=True)), (255 - IMAGES) * 2, atol=1e-4)
    model = Sequential([pipeline])
    np.testing.assert_allclose(to_numpy(model(x, training=True)), (255 - IMAGES) * 2, atol=1e-4)
    np.testing.assert_allclose(to_numpy(model(x)), IMAGES * 2)


def test_pipeline_config_roundtrip():
    pipeline = A.Pipeline([P.Rescaling(0.5), P.RandomFlip(mode="horizontal", seed=3)], name="augment")
    config = json.loads(json.dumps(pipeline.get_config()))
    assert config["name"] == "augment" and [c["class_name"] for c in config["layers"]] == ["Rescaling", "RandomFlip"]
    clone = A.Pipeline.from_config(config)
    assert clone.get_config() == pipeline.get_config()
    x = torch.tensor(IMAGES)
    np.testing.assert_allclose(to_numpy(clone(x, training=True)), to_numpy(pipeline(x, training=True)))
    assert pipeline.weights == []


# --------------------------------------------------------------------------------------- RandAugment, AugMix
POLICY_IMAGES = (RNG.random((16, 12, 14, 3)) * 255).astype("float32")


def _config_matches_keras(ours, theirs, keys):
    for key in keys:
        value = theirs[key]
        assert ours[key] == (list(value) if isinstance(value, tuple) else value), key


def test_rand_augment_shapes_range_inference_and_seeding(keras):
    x = torch.tensor(POLICY_IMAGES)
    layer = A.RandAugment(seed=1)
    out = layer(x, training=True)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert float(out.min()) >= -1e-3 and float(out.max()) <= 255 + 1e-3
    assert torch.equal(layer(x), x)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(A.RandAugment(seed=1)(x, training=True)))
    assert torch.equal(A.RandAugment(num_ops=0, seed=1)(x, training=True), x)
    first = A.RandAugment(seed=1, data_format="channels_first")(x.permute(0, 3, 1, 2), training=True)
    np.testing.assert_allclose(to_numpy(first.permute(0, 2, 3, 1)), to_numpy(out), atol=1e-3)
    _config_matches_keras(layer.get_config(), keras.layers.RandAugment().get_config(),
                          ["value_range", "num_ops", "factor", "interpolation"])
    config = json.loads(json.dumps(layer.get_config()))
    assert A.RandAugment.from_config(config).get_config() == layer.get_config()


def test_rand_augment_draws_one_operation_per_image_and_step():
    x = torch.tensor(np.repeat(POLICY_IMAGES[:1], 300, axis=0))
    out = to_numpy(A.RandAugment(num_ops=1, factor=(0.5, 0.5), seed=2)(x, training=True))
    unchanged = np.all(np.abs(out - to_numpy(x)) < 1e-4, axis=(1, 2, 3))
    assert 1 / 14 - 0.04 < unchanged.mean() < 0.2  # identity is one operation of 14 (others rarely no-ops)
    distinct = {np.round(o, 2).tobytes() for o in out}
    assert len(distinct) > 100  # per-image operations and strengths


def test_aug_mix_blends_within_range_and_config(keras):
    x = torch.tensor(POLICY_IMAGES)
    layer = A.AugMix(seed=3)
    out = layer(x, training=True)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert float(out.min()) >= -1e-3 and float(out.max()) <= 255 + 1e-3  # a convex mix of in-range images
    assert not torch.allclose(out, x)
    assert torch.equal(layer(x), x)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(A.AugMix(seed=3)(x, training=True)))
    small = A.AugMix(all_ops=False, num_chains=2, chain_depth=1, factor=(0.1, 0.1), seed=0)(x, training=True)
    assert small.shape == x.shape
    _config_matches_keras(layer.get_config(), keras.layers.AugMix().get_config(),
                          ["value_range", "num_chains", "chain_depth", "factor", "alpha", "all_ops", "interpolation"])
    config = json.loads(json.dumps(layer.get_config()))
    assert A.AugMix.from_config(config).get_config() == layer.get_config()


# ---------------------------------------------------------------------------------------- MaxNumBoundingBoxes
@pytest.mark.parametrize("max_number", [2, 3, 5])
@pytest.mark.parametrize("training", [True, False])
def test_max_num_bounding_boxes_against_keras(keras, max_number, training):
    images = np.zeros((2, 8, 8, 3), dtype="float32")
    boxes = {"boxes": np.arange(24, dtype="float32").reshape(2, 3, 4), "labels": np.array([[1, 2, 3], [4, 5, 6]])}
    ours = A.MaxNumBoundingBoxes(max_number=max_number, fill_value=-1, bounding_box_format="xyxy")
    theirs = keras.layers.MaxNumBoundingBoxes(max_number=max_number, fill_value=-1, bounding_box_format="xyxy")
    out = ours({"images": torch.tensor(images), "bounding_boxes": {k: torch.tensor(v) for k, v in boxes.items()}},
               training=training)
    expected = theirs({"images": images, "bounding_boxes": boxes}, training=training)
    for key in ("boxes", "labels"):
        np.testing.assert_array_equal(to_numpy(out["bounding_boxes"][key]),
                                      to_numpy(expected["bounding_boxes"][key]))
    np.testing.assert_array_equal(to_numpy(out["images"]), images)


def test_max_num_bounding_boxes_plain_unbatched_and_config(keras):
    layer = A.MaxNumBoundingBoxes(max_number=3, fill_value=0, bounding_box_format="xyxy")
    x = torch.rand(2, 4, 4, 3)
    assert layer(x) is x
    out = layer({"images": x[0], "bounding_boxes": {"boxes": torch.ones(1, 4), "labels": torch.tensor([7])}})
    assert out["bounding_boxes"]["boxes"].tolist() == [[1.0] * 4, [0.0] * 4, [0.0] * 4]
    assert out["bounding_boxes"]["labels"].tolist() == [7, 0, 0]
    config = json.loads(json.dumps(layer.get_config()))
    theirs = keras.layers.MaxNumBoundingBoxes(max_number=3, bounding_box_format="xyxy").get_config()
    assert config["max_number"] == theirs["max_number"]
    assert config["bounding_box_format"] == theirs["bounding_box_format"]
    assert A.MaxNumBoundingBoxes.from_config(config).get_config() == layer.get_config()


def test_augmentation_layers_train_inside_a_model():
    from lamina.layers import Dense, Flatten, Input
    from lamina.layers import geometric_augmentation as G
    from lamina.layers import mixing_augmentation as M

    augment = A.Pipeline([A.RandAugment(num_ops=1, seed=0), C.RandomHue(0.2, seed=1), G.RandomShear(0.1, seed=2),
                          M.CutMix(seed=3), C.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2))])
    model = Sequential([Input((8, 8, 3)), augment, P.Rescaling(1 / 255), Flatten(), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = (RNG.random((16, 8, 8, 3)) * 255).astype("float32")
    history = model.fit(x, RNG.random((16, 2)).astype("float32"), epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.predict(x, verbose=0).shape == (16, 2)


def test_the_policies_equalize_each_image_alone_and_all_at_once():
    import torch

    from lamina.layers.color_augmentation import Equalization

    x = torch.rand(6, 8, 8, 3) * 255
    batched = Equalization()
    batched.each_image = True
    one_by_one = torch.cat([Equalization().augment(x[i:i + 1]) for i in range(6)])
    torch.testing.assert_close(batched.augment(x), one_by_one, rtol=0, atol=0)
    assert not torch.equal(Equalization().augment(x), one_by_one)  # Keras's layer pools the batch
