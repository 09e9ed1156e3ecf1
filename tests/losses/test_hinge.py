"""Hinge, SquaredHinge and CategoricalHinge against Keras 3 and written formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_harness import close, compare_function_with_keras, compare_with_keras, data, no_host_sync, shape_for

from lamina import losses

CASES = [
    ("Hinge", "signed"), ("Hinge", "multilabel"), ("Hinge", "soft_signed"),
    ("SquaredHinge", "signed"), ("SquaredHinge", "multilabel"), ("SquaredHinge", "soft_signed"),
    ("CategoricalHinge", "onehot"),
]


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("cls_name,kind", CASES)
def test_classes_match_keras(keras, cls_name, kind, rank):
    rng = np.random.default_rng(rank)
    y_true, y_pred = data(kind, shape_for(rank, rng), rng, logits=True)
    compare_with_keras(keras, cls_name, {}, y_true, y_pred, rng)


@pytest.mark.parametrize("fn_name,kind", [("hinge", "multilabel"), ("squared_hinge", "signed"),
                                          ("categorical_hinge", "onehot")])
def test_functions_match_keras(keras, fn_name, kind):
    rng = np.random.default_rng(7)
    y_true, y_pred = data(kind, (5, 3, 4), rng, logits=True)
    compare_function_with_keras(keras, fn_name, {}, y_true, y_pred)


def test_written_formulas():
    rng = np.random.default_rng(8)
    t01 = rng.integers(0, 2, size=(4, 3)).astype("float64")
    p = rng.normal(size=(4, 3))
    signed = 2 * t01 - 1
    close(losses.hinge(t01, torch.as_tensor(p)), np.maximum(1 - signed * p, 0).mean(-1), rtol=1e-12)
    close(losses.squared_hinge(signed, torch.as_tensor(p)), (np.maximum(1 - signed * p, 0) ** 2).mean(-1),
          rtol=1e-12)
    onehot = np.eye(3)[[0, 2, 1, 1]]
    pos, neg = (onehot * p).sum(-1), ((1 - onehot) * p).max(-1)
    close(losses.categorical_hinge(onehot, torch.as_tensor(p)), np.maximum(neg - pos + 1, 0), rtol=1e-12)


def test_label_conversion_decided_on_device_without_sync():
    y_true, y_pred = torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]])
    with no_host_sync():
        value = losses.hinge(y_true, y_pred)  # 0/1 -> -1/1: mean(1.5, 0.5)
    close(value, [1.0])
    close(losses.hinge(torch.tensor([[0.0, 0.5]]), y_pred), [0.875])  # not all 0/1: unchanged
