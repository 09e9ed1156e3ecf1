"""Tests of lamina/layers/mixing_augmentation.py: MixUp and CutMix mix each image and its label with a
partner from the batch in the same proportions; identity outside training; Keras's argument surface."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from harness import to_numpy

from lamina.layers import mixing_augmentation as M

N = 64
# image i is constant i (so a mixed pixel tells which images it came from), labels one-hot
IMAGES = np.broadcast_to(np.arange(N, dtype="float32").reshape(N, 1, 1, 1), (N, 6, 8, 3)).copy()
LABELS = np.eye(N, dtype="float32")


def _roundtrip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("make", [lambda: M.MixUp(alpha=0.4, seed=1), lambda: M.CutMix(seed=1)])
def test_inference_passes_through(make):
    layer = make()
    x = torch.tensor(IMAGES)
    assert torch.equal(layer(x), x) and torch.equal(layer(x, training=False), x)
    out = layer({"images": x, "labels": torch.tensor(LABELS)}, training=False)
    assert torch.equal(out["images"], x) and torch.equal(out["labels"], torch.tensor(LABELS))


def test_mixup_images_and_labels_mix_alike():
    out = M.MixUp(alpha=0.4, seed=3)({"images": torch.tensor(IMAGES), "labels": torch.tensor(LABELS)},
                                     training=True)
    images, labels = to_numpy(out["images"]), to_numpy(out["labels"])
    assert images.shape == IMAGES.shape and images.dtype == np.float32
    np.testing.assert_allclose(labels.sum(-1), 1, atol=1e-5)
    # each image is a blend of itself and one partner, with the same weights as its label
    np.testing.assert_allclose(images[:, 0, 0, 0], labels @ np.arange(N, dtype="float32"), atol=1e-3)
    assert np.all((labels > 1e-6).sum(-1) <= 2)
    assert np.all(np.diag(labels) > 0)
    partners = np.where(labels - np.diag(np.diag(labels)) > 1e-6)  # (image, partner) pairs
    assert len(set(partners[1].tolist())) == len(partners[1])  # a permutation: no partner used twice


def test_mixup_weights_follow_beta():
    layer = M.MixUp(alpha=0.4, seed=0)
    lam = to_numpy(layer._beta_pair(100000, torch.device("cpu")))
    mean, var = 0.5, 0.25 / (2 * 0.4 + 1)
    assert abs(lam.mean() - mean) < 0.01 and abs(lam.var() - var) < 0.01
    a = M.MixUp(alpha=0.2, seed=5)(torch.tensor(IMAGES), training=True)
    b = M.MixUp(alpha=0.2, seed=5)(torch.tensor(IMAGES), training=True)
    assert torch.equal(a, b)  # seeded
    _roundtrip(M.MixUp(alpha=0.3, seed=2))
    with pytest.raises(ValueError):
        M.MixUp(alpha=0.0)


def test_mixup_argument_surface_matches_keras(keras):
    ours, theirs = M.MixUp(alpha=0.3, seed=2).get_config(), keras.layers.MixUp(alpha=0.3, seed=2).get_config()
    for key in ("alpha", "seed", "data_format"):
        assert ours[key] == theirs[key]


def test_cutmix_pastes_one_rectangle_and_mixes_labels_by_area():
    out = M.CutMix(seed=4)({"images": torch.tensor(IMAGES), "labels": torch.tensor(LABELS)}, training=True)
    images, labels = to_numpy(out["images"]), to_numpy(out["labels"])
    np.testing.assert_allclose(labels.sum(-1), 1, atol=1e-5)
    for i in range(N):
        own = images[i, :, :, 0] == i
        pasted = ~own
        np.testing.assert_allclose(labels[i, i] if labels[i, i] < 1 else 1.0, own.mean(), atol=1e-5)
        if pasted.any():
            values = np.unique(images[i][pasted])
            assert len(values) == 1  # one partner
            rows, cols = np.where(pasted)
            assert pasted[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # a rectangle
            assert np.all(images[i][pasted] == images[i][pasted][0])
            np.testing.assert_allclose(labels[i, int(values[0])], pasted.mean(), atol=1e-5)
    first = M.CutMix(seed=4, data_format="channels_first")
    out_cf = first({"images": torch.tensor(IMAGES).permute(0, 3, 1, 2), "labels": torch.tensor(LABELS)},
                   training=True)
    np.testing.assert_allclose(to_numpy(out_cf["images"].permute(0, 2, 3, 1)), images)


def test_cutmix_area_follows_factor(keras):
    layer = M.CutMix(factor=(0.5, 0.5), seed=0)
    big = torch.zeros(200, 40, 40, 1)
    big[100:] = 1.0
    out = to_numpy(layer(big, training=True))
    changed = (out != to_numpy(big)).mean(axis=(1, 2, 3))  # pasted from a different image: area <= 1 - lam
    assert changed.max() <= 0.5 + 0.05
    layer = M.CutMix(factor=(0.0, 0.0), seed=0)  # lam = 0: a full-size rectangle, clipped at a random center
    out = layer({"images": torch.tensor(IMAGES), "labels": torch.tensor(LABELS)}, training=True)
    own = to_numpy(out["labels"])[np.arange(N), np.arange(N)]
    moved = own < 1
    assert moved.mean() > 0.9 and np.all(own[moved] <= 0.75 + 1e-6)  # at least a quarter pasted
    assert layer.get_config()["factor"] == list(keras.layers.CutMix(factor=(0.0, 0.0)).get_config()["factor"])
    assert M.CutMix().get_config()["factor"] == list(keras.layers.CutMix().get_config()["factor"])
    _roundtrip(M.CutMix(factor=0.7, seed=1))


def test_single_image_is_refused():
    with pytest.raises(ValueError):
        M.MixUp()(torch.rand(4, 4, 3), training=True)
