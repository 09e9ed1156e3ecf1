"""Circle loss against Keras 3 and against a written per-pair formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_harness import close, compare_with_keras

from lamina import losses


def embeddings(rng, n=8, dim=4, classes=3):
    x = rng.normal(size=(n, dim))
    return rng.integers(0, classes, size=n), (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32")


@pytest.mark.parametrize("kwargs", [{}, {"gamma": 10.0, "margin": 0.25}, {"remove_diagonal": False, "gamma": 5.0}])
def test_circle_matches_keras(keras, kwargs):
    rng = np.random.default_rng(1)
    labels, emb = embeddings(rng)
    compare_with_keras(keras, "Circle", kwargs, labels, emb, rng, rtol=1e-5, atol=1e-5)


def test_circle_written_formula():
    rng = np.random.default_rng(2)
    labels, emb = embeddings(rng, n=6)
    emb = emb.astype("float64")
    gamma, m = 4.0, 0.3
    expected = []
    for i in range(6):
        pos, neg = [], []
        for j in range(6):
            d = max(1 - emb[i] @ emb[j], 0.0)
            if labels[i] == labels[j] and i != j:
                pos.append(-gamma * max(m + d, 0) * (m - d))
            elif labels[i] != labels[j]:
                neg.append(gamma * max(1 + m - d, 0) * (1 - m - d))
        lse = lambda v: np.log(np.sum(np.exp(v))) if v else -np.inf  # noqa: E731
        expected.append(np.log1p(np.exp(lse(pos) + lse(neg))))
    close(losses.circle(labels, torch.as_tensor(emb), gamma=gamma, margin=m), expected, rtol=1e-10)
