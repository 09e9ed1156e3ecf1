"""CTC against Keras 3 and against a brute-force sum over all alignments."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from loss_harness import close, compare_with_keras

from lamina import losses


def ctc_data(rng, batch=4, steps=6, classes=5, max_len=3):
    labels = np.zeros((batch, max_len), "int64")
    for i in range(batch):
        n = int(rng.integers(1, max_len + 1))
        labels[i, :n] = rng.integers(1, classes, size=n)
    return labels, rng.normal(size=(batch, steps, classes)).astype("float32")


def test_ctc_matches_keras(keras):
    rng = np.random.default_rng(1)
    labels, logits = ctc_data(rng)
    compare_with_keras(keras, "CTC", {}, labels, logits, rng, rtol=1e-5)
    close(losses.ctc(labels, torch.as_tensor(logits)), keras.losses.ctc(labels, logits), rtol=1e-5)


def _collapse(path):
    out = []
    for i, s in enumerate(path):
        if s != 0 and (i == 0 or s != path[i - 1]):
            out.append(s)
    return tuple(out)


def test_ctc_equals_brute_force_over_alignments():
    rng = np.random.default_rng(2)
    labels, logits = ctc_data(rng, batch=3, steps=4, classes=3, max_len=2)
    probs = np.exp(logits.astype("float64"))
    probs /= probs.sum(-1, keepdims=True)
    expected = []
    for b in range(3):
        target = tuple(int(v) for v in labels[b] if v != 0)
        total = sum(np.prod([probs[b, t, s] for t, s in enumerate(path)])
                    for path in itertools.product(range(3), repeat=4) if _collapse(path) == target)
        expected.append(-np.log(total))
    close(losses.ctc(labels, torch.as_tensor(logits.astype("float64"))), expected, rtol=1e-9)


def test_ctc_shape_errors():
    with pytest.raises(ValueError, match="batch, max_length"):
        losses.ctc(np.zeros(3), torch.zeros(3, 4, 2))
    with pytest.raises(ValueError, match="batch, steps, classes"):
        losses.ctc(np.zeros((3, 2)), torch.zeros(3, 4))
