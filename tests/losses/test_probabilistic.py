"""KLDivergence, Poisson and CategoricalGeneralizedCrossEntropy against Keras 3 and written formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_harness import close, compare_function_with_keras, compare_with_keras, data, shape_for

from lamina import losses

CASES = [
    ("KLDivergence", {}, "distribution"),
    ("Poisson", {}, "positive"),
]


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_classes_match_keras(keras, cls_name, kwargs, kind, rank):
    rng = np.random.default_rng(rank)
    y_true, y_pred = data(kind, shape_for(rank, rng), rng)
    compare_with_keras(keras, cls_name, kwargs, y_true, y_pred, rng)


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("fn_name,kind", [("kl_divergence", "distribution"), ("poisson", "positive")])
def test_functions_match_keras(keras, fn_name, kind, rank):
    rng = np.random.default_rng(30 + rank)
    y_true, y_pred = data(kind, shape_for(rank, rng), rng)
    compare_function_with_keras(keras, fn_name, {}, y_true, y_pred)


@pytest.mark.parametrize("q", [0.2, 0.7])
def test_generalized_crossentropy_matches_keras(keras, q):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, size=(6,))
    probs = rng.dirichlet(np.ones(4), size=6).astype("float32")
    compare_with_keras(keras, "CategoricalGeneralizedCrossEntropy", {"q": q}, labels, probs, rng)
    # (batch, 1) labels give the same values (Keras itself mis-broadcasts them)
    close(losses.CategoricalGeneralizedCrossEntropy(q=q)(labels[:, None], probs),
          keras.losses.CategoricalGeneralizedCrossEntropy(q=q)(labels, probs))


def test_written_formulas():
    rng = np.random.default_rng(6)
    t = rng.dirichlet(np.ones(5), size=4)
    p = rng.dirichlet(np.ones(5), size=4)
    close(losses.kl_divergence(t, torch.as_tensor(p)), (t * np.log(t / p)).sum(-1), rtol=1e-10)
    counts = rng.poisson(3.0, size=(4, 5)).astype("float64")
    close(losses.poisson(counts, torch.as_tensor(p * 5)), (p * 5 - counts * np.log(p * 5 + 1e-7)).mean(-1),
          rtol=1e-10)
    labels = rng.integers(0, 5, size=4)
    picked = p[np.arange(4), labels]
    close(losses.categorical_generalized_cross_entropy(labels, torch.as_tensor(p), q=0.3),
          (1 - picked**0.3) / 0.3, rtol=1e-10)


def test_kl_divergence_of_equal_distributions_is_zero_and_bad_q_raises():
    p = torch.softmax(torch.randn(3, 4), -1)
    close(losses.KLDivergence()(p, p), 0.0)
    with pytest.raises(ValueError, match="q must be"):
        losses.CategoricalGeneralizedCrossEntropy(q=1.0)
    with pytest.raises(ValueError, match="labels"):
        losses.categorical_generalized_cross_entropy(np.zeros((3, 4)), torch.ones(3, 4), q=0.5)
