"""Regression losses against Keras 3 and against their written formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_harness import close, compare_function_with_keras, compare_with_keras, data, shape_for

from lamina import losses

CASES = [
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "percentage"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("MeanSquaredLogarithmicError", {}, "regression"),  # negatives are clipped to epsilon
    ("LogCosh", {}, "regression"),
    ("Huber", {}, "regression"),
    ("Huber", {"delta": 0.5}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("CosineSimilarity", {"axis": 1}, "regression"),
]


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_classes_match_keras(keras, cls_name, kwargs, kind, rank):
    rng = np.random.default_rng(rank)
    y_true, y_pred = data(kind, shape_for(rank, rng), rng)
    # MAPE divides by an epsilon-sized target: its values are ~1e8, so compare them relatively only
    compare_with_keras(keras, cls_name, kwargs, y_true, y_pred, rng, atol=1e-6 if kind != "percentage" else 0)


FUNCTIONS = [
    ("mean_squared_error", {}, "regression"),
    ("mean_absolute_error", {}, "regression"),
    ("mean_absolute_percentage_error", {}, "percentage"),
    ("mean_squared_logarithmic_error", {}, "positive"),
    ("log_cosh", {}, "regression"),
    ("huber", {"delta": 1.5}, "regression"),
    ("cosine_similarity", {"axis": -1}, "regression"),
    ("cosine_similarity", {"axis": 0}, "regression"),
]


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("fn_name,kwargs,kind", FUNCTIONS)
def test_functions_match_keras(keras, fn_name, kwargs, kind, rank):
    rng = np.random.default_rng(10 + rank)
    y_true, y_pred = data(kind, shape_for(rank, rng), rng)
    compare_function_with_keras(keras, fn_name, kwargs, y_true, y_pred, atol=1e-6 if kind != "percentage" else 0)


# ------------------------------------------------------------------------ written formulas (no Keras)

EPS = 1e-7


def _huber(x, d):
    return np.where(np.abs(x) <= d, 0.5 * x**2, d * np.abs(x) - 0.5 * d**2)


FORMULAS = {
    "mean_squared_error": lambda t, p: ((t - p) ** 2).mean(-1),
    "mean_absolute_error": lambda t, p: np.abs(t - p).mean(-1),
    "mean_absolute_percentage_error": lambda t, p: 100 * (np.abs(t - p) / np.maximum(np.abs(t), EPS)).mean(-1),
    "mean_squared_logarithmic_error": lambda t, p: (
        (np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2).mean(-1),
    "log_cosh": lambda t, p: np.log(np.cosh(p - t)).mean(-1),
    "huber": lambda t, p: _huber(p - t, 1.0).mean(-1),
    "cosine_similarity": lambda t, p: -(t * p).sum(-1) / (np.linalg.norm(t, axis=-1) * np.linalg.norm(p, axis=-1)),
}


@pytest.mark.parametrize("fn_name", sorted(FORMULAS))
def test_functions_match_written_formulas(fn_name):
    rng = np.random.default_rng(5)
    kind = "positive" if fn_name == "mean_squared_logarithmic_error" else "regression"
    y_true, y_pred = (a.astype("float64") for a in data(kind, (6, 3, 4), rng))
    got = getattr(losses, fn_name)(torch.as_tensor(y_true), torch.as_tensor(y_pred))
    close(got, FORMULAS[fn_name](y_true, y_pred), rtol=1e-10, atol=1e-12)


def test_huber_delta_and_class_reduction_by_hand():
    y_true = np.zeros((2, 2))
    y_pred = np.array([[0.5, 3.0], [-2.0, 0.1]])
    weight = np.array([1.0, 3.0])
    per_sample = _huber(y_pred, 2.0).mean(-1)
    loss = losses.Huber(delta=2.0, reduction="sum_over_batch_size", dtype="float64")
    close(loss(y_true, y_pred, sample_weight=weight), (per_sample * weight).sum() / 2, rtol=1e-12)
    loss = losses.Huber(delta=2.0, reduction="mean_with_sample_weight", dtype="float64")
    close(loss(y_true, y_pred, sample_weight=weight), (per_sample * weight).sum() / weight.sum(), rtol=1e-12)


def test_log_cosh_is_finite_for_large_errors():
    value = losses.log_cosh(torch.zeros(1, 2), torch.tensor([[200.0, -200.0]]))
    close(value, [200 - np.log(2)])


def test_cosine_similarity_of_zero_vector_is_zero():
    close(losses.cosine_similarity(torch.zeros(1, 3), torch.ones(1, 3)), [0.0])


def test_mse_is_differentiable_with_closed_form_gradient():
    y_true = torch.randn(5, 3)
    y_pred = torch.randn(5, 3, requires_grad=True)
    weight = torch.rand(5)
    losses.MeanSquaredError()(y_true, y_pred).backward()
    close(y_pred.grad, 2 * (y_pred - y_true).detach() / y_pred.numel())
    y_pred.grad = None
    losses.MeanSquaredError(reduction="sum")(y_true, y_pred, sample_weight=weight).backward()
    close(y_pred.grad, 2 * (y_pred - y_true).detach() * weight[:, None] / 3)


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="same shape"):
        losses.MeanAbsolutePercentageError()(np.zeros((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="axis"):
        losses.CosineSimilarity(axis=1.5)
