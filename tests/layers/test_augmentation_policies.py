"""Tests of lamina/layers/augmentation_policies.py: Pipeline applies its layers in order, passes the training
flag on, serializes its layers, and equals Keras's Pipeline on deterministic layers."""

from __future__ import annotations

import json

import numpy as np
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
