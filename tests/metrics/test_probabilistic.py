"""lamina.metrics.probabilistic and hinge metrics against Keras 3 and written formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metric_harness import (
    check_config_round_trip,
    check_no_host_sync,
    close,
    data,
    sample_weights,
    stream_against_keras,
)

from lamina import metrics

CASES = [
    ("KLDivergence", {}, "onehot_probs"),
    ("Poisson", {}, "positive"),
    ("BinaryCrossentropy", {}, "multilabel"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "binary_logits"),
    ("CategoricalCrossentropy", {}, "onehot_probs"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "onehot"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_col"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 2}, "sparse"),
    ("Hinge", {}, "binary"),
    ("Hinge", {}, "signed"),
    ("SquaredHinge", {}, "multilabel"),
    ("CategoricalHinge", {}, "onehot"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_probabilistic_and_hinge_metrics_match_keras(keras, cls_name, kwargs, kind, weighted):
    y_true, y_pred = data(kind)
    stream_against_keras(keras, getattr(metrics, cls_name)(**kwargs), getattr(keras.metrics, cls_name)(**kwargs),
                         y_true, y_pred, sample_weights(weighted))


@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_probabilistic_updates_do_not_synchronise(cls_name, kwargs, kind):
    check_no_host_sync(getattr(metrics, cls_name)(**kwargs), *data(kind))


@pytest.mark.parametrize("fn_name,kind", [("kl_divergence", "onehot_probs"), ("poisson", "positive"),
                                          ("hinge", "binary"), ("squared_hinge", "signed"),
                                          ("categorical_hinge", "onehot"), ("binary_crossentropy", "multilabel"),
                                          ("categorical_crossentropy", "onehot_probs"),
                                          ("sparse_categorical_crossentropy", "sparse")])
def test_functions_match_keras(keras, fn_name, kind):
    y_true, y_pred = data(kind)
    ours = getattr(metrics, fn_name)(torch.as_tensor(y_true), torch.as_tensor(y_pred))
    expected = getattr(keras.metrics, fn_name)(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred))
    assert tuple(ours.shape) == tuple(expected.shape)
    close(ours, expected)


def test_formulas():
    y_true, y_pred = data("onehot_probs")
    close(metrics.KLDivergence()(y_true, y_pred),
          (y_true * np.log(np.clip(y_true, 1e-7, 1) / y_pred)).sum(-1).mean())
    close(metrics.CategoricalCrossentropy()(y_true, y_pred), -(y_true * np.log(y_pred)).sum(-1).mean())
    labels = y_true.argmax(-1)
    picked = y_pred[np.arange(len(labels)), labels]
    close(metrics.SparseCategoricalCrossentropy()(labels, y_pred), -np.log(picked).mean())
    kept = labels != 1  # ignored entries give 0 and, as in Keras 3's metric, still count in the mean
    close(metrics.SparseCategoricalCrossentropy(ignore_class=1)(labels, y_pred),
          (-np.log(y_pred[np.arange(len(labels)), labels]) * kept).mean())
    signed, scores = data("signed")
    close(metrics.Hinge()(signed, scores), np.maximum(1 - signed * scores, 0).mean())
    close(metrics.Hinge()((signed + 1) / 2, scores), np.maximum(1 - signed * scores, 0).mean())  # 0/1 read as -1/1


@pytest.mark.parametrize("cls_name,kwargs", [
    ("KLDivergence", {}), ("Poisson", {}), ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}),
    ("CategoricalCrossentropy", {"axis": 1}), ("SparseCategoricalCrossentropy", {"ignore_class": 0}),
    ("Hinge", {}), ("SquaredHinge", {}), ("CategoricalHinge", {}),
])
def test_configs_match_keras(keras, cls_name, kwargs):
    ours = getattr(metrics, cls_name)(**kwargs)
    assert ours.get_config() == getattr(keras.metrics, cls_name)(**kwargs).get_config()
    check_config_round_trip(metrics, ours)
