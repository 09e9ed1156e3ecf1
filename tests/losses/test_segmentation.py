"""Dice and Tversky against Keras 3 and written formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_harness import close, compare_function_with_keras, compare_with_keras, data

from lamina import losses

CASES = [
    ("Dice", {}), ("Dice", {"axis": (1, 2)}), ("Dice", {"axis": 1}),
    ("Tversky", {}), ("Tversky", {"alpha": 0.3, "beta": 0.7, "axis": (1, 2)}), ("Tversky", {"alpha": 0.8, "axis": 2}),
]


@pytest.mark.parametrize("cls_name,kwargs", CASES)
def test_classes_match_keras(keras, cls_name, kwargs):
    rng = np.random.default_rng(1)
    y_true, y_pred = data("mask", (5, 4, 3), rng)
    compare_with_keras(keras, cls_name, kwargs, y_true, y_pred, rng)


@pytest.mark.parametrize("fn_name,kwargs", [("dice", {"axis": (1, 2)}), ("tversky", {"alpha": 0.2, "beta": 0.9})])
def test_functions_match_keras(keras, fn_name, kwargs):
    rng = np.random.default_rng(2)
    y_true, y_pred = data("mask", (4, 6, 2), rng)
    compare_function_with_keras(keras, fn_name, kwargs, y_true, y_pred)


def test_written_formulas():
    rng = np.random.default_rng(3)
    t = rng.integers(0, 2, size=(3, 5)).astype("float64")
    p = rng.uniform(size=(3, 5))
    tp, fn_, fp = (t * p).sum(1), (t * (1 - p)).sum(1), ((1 - t) * p).sum(1)
    close(losses.dice(t, torch.as_tensor(p), axis=1), 1 - 2 * tp / (t.sum(1) + p.sum(1) + 1e-7), rtol=1e-10)
    close(losses.tversky(t, torch.as_tensor(p), alpha=0.3, beta=0.6, axis=1),
          1 - tp / (tp + 0.3 * fn_ + 0.6 * fp + 1e-7), rtol=1e-10)
    close(losses.tversky(t, torch.as_tensor(p), axis=1), losses.dice(t, torch.as_tensor(p), axis=1), rtol=1e-6)


def test_bad_axis_and_shapes_raise():
    with pytest.raises(ValueError, match="axis"):
        losses.Dice(axis="spatial")
    with pytest.raises(ValueError, match="same shape"):
        losses.dice(np.zeros((2, 3)), torch.ones(2, 4))
