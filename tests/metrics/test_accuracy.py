"""lamina.metrics.accuracy against Keras 3: streaming accuracies, the per-sample functions, resolve_accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metric_harness import (
    N,
    check_config_round_trip,
    check_no_host_sync,
    close,
    data,
    sample_weights,
    stream_against_keras,
)

from lamina import losses, metrics

CASES = [
    ("Accuracy", {}, "exact"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {}, "binary_flat"),
    ("BinaryAccuracy", {"threshold": 0.7}, "multilabel"),
    ("CategoricalAccuracy", {}, "onehot"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("SparseCategoricalAccuracy", {}, "sparse_col"),
    ("TopKCategoricalAccuracy", {"k": 1}, "onehot"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("TopKCategoricalAccuracy", {"k": 3}, "onehot"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, "sparse_col"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_streaming_accuracies_match_keras(keras, cls_name, kwargs, kind, weighted):
    y_true, y_pred = data(kind)
    weight = sample_weights(weighted)
    ours = getattr(metrics, cls_name)(**kwargs)
    final = stream_against_keras(keras, ours, getattr(keras.metrics, cls_name)(**kwargs), y_true, y_pred, weight)
    assert final.shape == () and final.dtype == torch.float32
    once = getattr(metrics, cls_name)(**kwargs)
    close(once(torch.as_tensor(y_true), torch.as_tensor(y_pred), sample_weight=weight), final)
    once.reset_state()
    assert float(once.result()) == 0.0


@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_accuracy_updates_do_not_synchronise(cls_name, kwargs, kind):
    check_no_host_sync(getattr(metrics, cls_name)(**kwargs), *data(kind))


FUNCTIONS = [
    ("binary_accuracy", {"threshold": 0.3}, "multilabel"),
    ("binary_accuracy", {}, "binary"),
    ("categorical_accuracy", {}, "onehot"),
    ("sparse_categorical_accuracy", {}, "sparse"),
    ("sparse_categorical_accuracy", {}, "sparse_col"),
    ("top_k_categorical_accuracy", {"k": 2}, "onehot"),
    ("sparse_top_k_categorical_accuracy", {"k": 2}, "sparse"),
]


@pytest.mark.parametrize("fn_name,kwargs,kind", FUNCTIONS)
def test_accuracy_functions_match_keras(keras, fn_name, kwargs, kind):
    y_true, y_pred = data(kind)
    ours = getattr(metrics, fn_name)(torch.as_tensor(y_true), torch.as_tensor(y_pred), **kwargs)
    expected = getattr(keras.metrics, fn_name)(keras.ops.convert_to_tensor(y_true),
                                               keras.ops.convert_to_tensor(y_pred), **kwargs)
    assert ours.dtype == torch.float32 and tuple(ours.shape) == tuple(expected.shape)
    close(ours, expected)


def test_accuracy_formulas():
    y_true, y_pred = data("exact")
    ours = metrics.accuracy(y_true, torch.as_tensor(y_pred))
    assert ours.dtype == torch.float32 and ours.shape == (N, 1)
    close(ours, (y_true == y_pred).astype("float32"))
    labels, scores = data("sparse")
    weight = sample_weights(True)
    hits = (scores.argmax(-1) == labels).astype("float64")
    expected = (hits * weight).sum() / weight.sum()
    close(metrics.SparseCategoricalAccuracy()(labels, scores, sample_weight=weight), expected)


def test_top_k_with_k_at_least_the_number_of_classes_always_matches():
    y_true, y_pred = data("onehot")
    assert float(metrics.TopKCategoricalAccuracy()(y_true, y_pred)) == 1.0  # k=5 > 4 classes
    labels, _ = data("sparse")
    assert float(metrics.SparseTopKCategoricalAccuracy(k=4)(labels, y_pred)) == 1.0


def test_sparse_top_k_from_sorted_ids(keras):
    y_true = np.array([2, 0, 1])
    ids = np.array([[2, 1, 0], [1, 2, 0], [0, 2, 1]])
    ours = metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)(y_true, ids)
    close(ours, keras.metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)(y_true, ids))


def test_metric_call_updates_then_returns_the_running_result(keras):
    ours, ref = metrics.BinaryAccuracy(), keras.metrics.BinaryAccuracy()
    y_true, y_pred = data("binary")
    close(ours(y_true[:5], y_pred[:5]), ref(y_true[:5], y_pred[:5]))
    close(ours(y_true[5:], y_pred[5:]), ref(y_true[5:], y_pred[5:]))


@pytest.mark.parametrize("cls_name,kwargs", [
    ("Accuracy", {}), ("BinaryAccuracy", {"threshold": 0.3}), ("CategoricalAccuracy", {}),
    ("SparseCategoricalAccuracy", {}), ("TopKCategoricalAccuracy", {"k": 2}),
    ("SparseTopKCategoricalAccuracy", {"k": 2}),
])
def test_accuracy_configs_match_keras_and_round_trip(keras, cls_name, kwargs):
    ours = getattr(metrics, cls_name)(**kwargs)
    assert ours.get_config() == getattr(keras.metrics, cls_name)(**kwargs).get_config()
    check_config_round_trip(metrics, ours)
    check_config_round_trip(metrics, metrics.SparseTopKCategoricalAccuracy(k=3, from_sorted_ids=True))


@pytest.mark.parametrize("loss,expected,threshold", [
    (losses.SparseCategoricalCrossentropy(), "SparseCategoricalAccuracy", None),
    (losses.CategoricalCrossentropy(from_logits=True), "CategoricalAccuracy", None),
    (losses.BinaryCrossentropy(), "BinaryAccuracy", 0.5),
    (losses.BinaryCrossentropy(from_logits=True), "BinaryAccuracy", 0.0),
    ("sparse_categorical_crossentropy", "SparseCategoricalAccuracy", None),
    ("CategoricalCrossentropy", "CategoricalAccuracy", None),
    (losses.sparse_categorical_crossentropy, "SparseCategoricalAccuracy", None),
    (losses.LossFunctionWrapper(losses.binary_crossentropy), "BinaryAccuracy", 0.5),
    (losses.LossFunctionWrapper(losses.binary_crossentropy, from_logits=True), "BinaryAccuracy", 0.0),
])
def test_resolve_accuracy_from_loss(loss, expected, threshold):
    # The shapes point elsewhere (categorical); a known crossentropy wins.
    metric = metrics.resolve_accuracy("accuracy", loss, (8, 3), (8, 3))
    assert type(metric).__name__ == expected and metric.name == "accuracy"
    if threshold is not None:
        assert metric.threshold == threshold


@pytest.mark.parametrize("y_true_shape,y_pred_shape,expected", [
    ((8,), (8, 1), "BinaryAccuracy"),
    ((8, 1), (8, 1), "BinaryAccuracy"),
    ((8,), (8, 10), "SparseCategoricalAccuracy"),
    ((8, 1), (8, 10), "SparseCategoricalAccuracy"),
    ((None, 1), (None, 10), "SparseCategoricalAccuracy"),
    ((8, 5), (8, 5, 10), "SparseCategoricalAccuracy"),
    ((8, 10), (8, 10), "CategoricalAccuracy"),
])
def test_resolve_accuracy_from_shapes(y_true_shape, y_pred_shape, expected):
    for name in ("accuracy", "acc"):
        metric = metrics.resolve_accuracy(name, losses.MeanSquaredError(), y_true_shape, y_pred_shape)
        assert type(metric).__name__ == expected and metric.name == name


def test_resolve_accuracy_other_names_and_errors():
    assert type(metrics.resolve_accuracy("mae", None, (2,), (2,))).__name__ == "MeanAbsoluteError"
    with pytest.raises(ValueError, match="shapes"):
        metrics.resolve_accuracy("accuracy", None, None, None)
