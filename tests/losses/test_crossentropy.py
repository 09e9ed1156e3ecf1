"""Crossentropies (binary, categorical, sparse, focal) against Keras 3 and against written formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_harness import close, compare_function_with_keras, compare_with_keras, data, shape_for, to_np

from lamina import losses

CASES = [
    # (class name, kwargs, data kind, logits)
    ("SparseCategoricalCrossentropy", {}, "sparse", False),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse", True),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, "sparse", False),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 0}, "sparse", True),
    ("CategoricalCrossentropy", {}, "onehot", False),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "onehot", False),
    ("CategoricalCrossentropy", {"from_logits": True}, "onehot", True),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "onehot", True),
    ("BinaryCrossentropy", {}, "binary", False),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "multilabel", False),
    ("BinaryCrossentropy", {"from_logits": True}, "binary", True),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.3}, "multilabel", True),
    ("BinaryFocalCrossentropy", {}, "multilabel", False),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.5}, "binary", False),
    ("BinaryFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.2, "gamma": 3.0}, "multilabel", True),
    ("BinaryFocalCrossentropy", {"from_logits": True, "apply_class_balancing": True}, "binary", True),
    ("CategoricalFocalCrossentropy", {}, "onehot", False),
    ("CategoricalFocalCrossentropy", {"alpha": 0.5, "gamma": 1.0, "label_smoothing": 0.1}, "onehot", False),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "gamma": 0.0}, "onehot", True),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "onehot", True),
]


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("cls_name,kwargs,kind,logits", CASES)
def test_classes_match_keras(keras, cls_name, kwargs, kind, logits, rank):
    rng = np.random.default_rng(rank)
    y_true, y_pred = data(kind, shape_for(rank, rng), rng, logits)
    compare_with_keras(keras, cls_name, kwargs, y_true, y_pred, rng)


@pytest.mark.parametrize("logits", [False, True])
def test_sparse_labels_with_trailing_axis_and_flat_binary_labels(keras, logits):
    rng = np.random.default_rng(3)
    labels, y_pred = data("sparse", (7, 4), rng, logits)
    compare_with_keras(keras, "SparseCategoricalCrossentropy", {"from_logits": logits}, labels[:, None], y_pred, rng)
    y_true, y_pred = data("binary", (7, 4), rng, logits)
    compare_with_keras(keras, "BinaryCrossentropy", {"from_logits": logits}, y_true[:, 0], y_pred, rng)


def test_categorical_focal_alpha_per_class(keras):
    rng = np.random.default_rng(4)
    y_true, y_pred = data("onehot", (6, 3), rng)
    compare_with_keras(keras, "CategoricalFocalCrossentropy", {"alpha": [0.2, 0.3, 0.5]}, y_true, y_pred, rng)


FUNCTIONS = [
    ("sparse_categorical_crossentropy", {}, "sparse", False),
    ("sparse_categorical_crossentropy", {"from_logits": True, "ignore_class": 2}, "sparse", True),
    ("categorical_crossentropy", {"label_smoothing": 0.1}, "onehot", False),
    ("categorical_crossentropy", {"from_logits": True}, "onehot", True),
    ("binary_crossentropy", {}, "multilabel", False),
    ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.2}, "multilabel", True),
    ("binary_focal_crossentropy", {"apply_class_balancing": True, "from_logits": True}, "multilabel", True),
    ("categorical_focal_crossentropy", {"gamma": 3.0, "label_smoothing": 0.1}, "onehot", False),
]


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("fn_name,kwargs,kind,logits", FUNCTIONS)
def test_functions_match_keras(keras, fn_name, kwargs, kind, logits, rank):
    rng = np.random.default_rng(20 + rank)
    y_true, y_pred = data(kind, shape_for(rank, rng), rng, logits)
    compare_function_with_keras(keras, fn_name, kwargs, y_true, y_pred)


def test_axis_argument_matches_keras(keras):
    rng = np.random.default_rng(6)
    y_true, y_pred = data("onehot", (7, 4), rng, True)
    for name in ("CategoricalCrossentropy", "CategoricalFocalCrossentropy"):
        compare_with_keras(keras, name, {"from_logits": True, "axis": 0}, y_true.T.copy(), y_pred.T.copy(), rng)
    labels, probs = data("sparse", (7, 4), rng)
    close(losses.sparse_categorical_crossentropy(labels, probs.T, axis=0),
          keras.losses.sparse_categorical_crossentropy(labels, probs.T, axis=0))
    y_true, y_pred = data("multilabel", (5, 3, 4), rng)
    for name in ("BinaryCrossentropy", "BinaryFocalCrossentropy"):
        compare_with_keras(keras, name, {"axis": 1}, y_true, y_pred, rng)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "float32", "float64"])
@pytest.mark.parametrize("logits", [False, True])
def test_sparse_labels_in_any_dtype(keras, dtype, logits):
    y_true, y_pred = data("sparse", (7, 4), np.random.default_rng(1), logits)
    y_true = y_true.astype(dtype)
    ours = losses.SparseCategoricalCrossentropy(from_logits=logits)(torch.as_tensor(y_true), y_pred)
    close(ours, keras.losses.SparseCategoricalCrossentropy(from_logits=logits)(y_true, y_pred))


# ------------------------------------------------------------------------ written formulas (no Keras)

EPS = 1e-7


def _clip(p):
    return np.clip(p, EPS, 1 - EPS)


def _bce(t, p):
    p = _clip(p)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def test_binary_crossentropies_match_written_formulas():
    rng = np.random.default_rng(7)
    t = rng.integers(0, 2, size=(5, 3)).astype("float64")
    p = rng.uniform(0.01, 0.99, size=(5, 3))
    close(losses.binary_crossentropy(t, torch.as_tensor(p), label_smoothing=0.2),
          _bce(t * 0.8 + 0.1, p).mean(-1), rtol=1e-10)
    p_t = t * p + (1 - t) * (1 - p)
    focal = (1 - p_t) ** 2 * _bce(t, p) * (t * 0.25 + (1 - t) * 0.75)
    close(losses.binary_focal_crossentropy(t, torch.as_tensor(p), apply_class_balancing=True), focal.mean(-1),
          rtol=1e-10)
    z = np.log(p / (1 - p))  # the same probabilities as logits
    close(losses.binary_crossentropy(t, torch.as_tensor(z), from_logits=True), _bce(t, p).mean(-1), rtol=1e-8)


def test_categorical_crossentropies_match_written_formulas():
    rng = np.random.default_rng(8)
    t = np.eye(4)[rng.integers(0, 4, size=5)]
    p = rng.uniform(0.1, 1.0, size=(5, 4))
    q = p / p.sum(-1, keepdims=True)
    smooth = t * 0.9 + 0.1 / 4
    close(losses.categorical_crossentropy(t, torch.as_tensor(p), label_smoothing=0.1),
          -(smooth * np.log(q)).sum(-1), rtol=1e-10)
    close(losses.categorical_focal_crossentropy(t, torch.as_tensor(p), alpha=0.4, gamma=1.5),
          -(0.4 * (1 - q) ** 1.5 * t * np.log(q)).sum(-1), rtol=1e-10)
    labels = t.argmax(-1)
    close(losses.sparse_categorical_crossentropy(labels, torch.as_tensor(np.log(q)), from_logits=True),
          -np.log(q[np.arange(5), labels]), rtol=1e-10)


def test_ignore_class_is_left_out_of_the_loss_and_the_mean():
    rng = np.random.default_rng(9)
    labels = np.array([[3, 0, 1], [3, 2, 3]])
    _, y_pred = data("sparse", (2, 3, 4), rng, logits=True)
    per_entry = losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
    valid = labels != 3
    for reduction, expected in [("sum_over_batch_size", to_np(per_entry)[valid].mean()),
                                ("sum", to_np(per_entry)[valid].sum()),
                                ("mean_with_sample_weight", to_np(per_entry)[valid].mean())]:
        loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3, reduction=reduction)
        close(loss(labels, y_pred), expected)
    values = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3, reduction=None)(labels, y_pred)
    assert (to_np(values)[~valid] == 0).all() and (to_np(values)[valid] > 0).all()


@pytest.mark.parametrize("logits", [False, True])
def test_ignore_class_everything_ignored_gives_zero(logits):
    _, y_pred = data("sparse", (7, 4), np.random.default_rng(1), logits)
    loss = losses.SparseCategoricalCrossentropy(from_logits=logits, ignore_class=-1)
    assert float(loss(np.full(7, -1), y_pred)) == 0.0


def test_crossentropy_gradient_from_logits_is_softmax_minus_onehot():
    logits = torch.randn(6, 4, requires_grad=True)
    labels = torch.tensor([0, 3, 1, 2, 2, 0])
    losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits).backward()
    close(logits.grad, (torch.softmax(logits.detach(), -1) - torch.eye(4)[labels]) / 6)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="shape"):
        losses.SparseCategoricalCrossentropy()(np.zeros((7, 2)), np.ones((7, 4)))
    with pytest.raises(ValueError, match="shape"):
        losses.categorical_crossentropy(np.zeros((7, 3)), np.ones((7, 4)))
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="axis"):
        losses.CategoricalFocalCrossentropy(axis=True)
