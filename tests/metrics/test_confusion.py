"""lamina.metrics.confusion against Keras 3: counts, Precision/Recall (thresholds, top_k, class_id), X-at-Y."""

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

COUNTS = ["TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives"]
THRESHOLDS = [None, 0.3, [0.2, 0.5, 0.8], [0.0, 0.25, 0.5, 0.75, 1.0]]  # the last is evenly spaced (bucketed)

CASES = (
    [(cls, {"thresholds": t}, kind) for cls in COUNTS for t in THRESHOLDS for kind in ("binary", "multilabel")]
    + [(cls, {"thresholds": t}, kind) for cls in ("Precision", "Recall") for t in THRESHOLDS
       for kind in ("binary", "binary_flat", "multilabel")]
    + [(cls, kw, "multilabel") for cls in ("Precision", "Recall")
       for kw in ({"top_k": 1}, {"top_k": 2}, {"class_id": 2}, {"top_k": 2, "class_id": 1},
                  {"top_k": 2, "thresholds": [0.3, 0.6]}, {"class_id": 0, "thresholds": [0.0, 0.5, 1.0]})]
    + [(cls, {value: v, **kw}, kind)
       for cls, value in (("PrecisionAtRecall", "recall"), ("RecallAtPrecision", "precision"),
                          ("SensitivityAtSpecificity", "specificity"), ("SpecificityAtSensitivity", "sensitivity"))
       for v, kw, kind in ((0.5, {}, "binary"), (0.8, {"num_thresholds": 7}, "multilabel"),
                           (0.3, {"num_thresholds": 1}, "binary"), (0.6, {"class_id": 1}, "multilabel"))]
)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_confusion_metrics_match_keras(keras, cls_name, kwargs, kind, weighted):
    y_true, y_pred = data(kind, n=23)
    y_pred[:2] = 0.5  # predictions exactly on a threshold: strictly above counts as positive
    y_pred[2:4] = 0.0
    weight = sample_weights(weighted, n=23)
    ours = getattr(metrics, cls_name)(**kwargs, name="m")
    ref = getattr(keras.metrics, cls_name)(**kwargs, name="m")
    stream_against_keras(keras, ours, ref, y_true, y_pred, weight)


@pytest.mark.parametrize("cls_name,kwargs,kind", CASES[::3])
def test_confusion_updates_do_not_synchronise(cls_name, kwargs, kind):
    check_no_host_sync(getattr(metrics, cls_name)(**kwargs), *data(kind))


def test_counts_precision_and_recall_formulas():
    y_true = np.array([1, 0, 1, 1, 0, 0, 1])
    y_pred = np.array([0.9, 0.8, 0.5, 0.2, 0.1, 0.6, 0.7])
    w = np.array([1.0, 2.0, 1.0, 3.0, 1.0, 0.5, 2.0])
    for t in (0.3, 0.65):
        pos, above = y_true == 1, y_pred > t
        tp, fp = (w * (pos & above)).sum(), (w * (~pos & above)).sum()
        tn, fn = (w * (~pos & ~above)).sum(), (w * (pos & ~above)).sum()
        for cls, expected in zip(COUNTS, (tp, fp, tn, fn), strict=True):
            close(getattr(metrics, cls)(thresholds=t)(y_true, y_pred, sample_weight=w), expected)
        close(metrics.Precision(thresholds=t)(y_true, y_pred, sample_weight=w), tp / (tp + fp))
        close(metrics.Recall(thresholds=t)(y_true, y_pred, sample_weight=w), tp / (tp + fn))
    both = metrics.Precision(thresholds=[0.3, 0.65])(y_true, y_pred)
    assert both.shape == (2,)
    close(both, [3 / 5, 2 / 3])


def test_top_k_and_class_id_formulas():
    y_true = np.array([[0, 1, 1, 0], [1, 0, 0, 1]])
    y_pred = np.array([[0.1, 0.9, 0.3, 0.8], [0.6, 0.2, 0.7, 0.4]])
    # top 2 per row: {1, 3} and {0, 2}; predicted positives above the default threshold (all of the top k).
    close(metrics.Precision(top_k=2)(y_true, y_pred), 2 / 4)
    close(metrics.Recall(top_k=2)(y_true, y_pred), 2 / 4)
    close(metrics.Precision(class_id=2)(y_true, y_pred), 0 / 1)  # column 2: predicted 0.7 > 0.5 on a 0 label
    close(metrics.Recall(class_id=1)(y_true, y_pred), 1.0)


def test_at_constraint_formula():
    y_true = np.array([0, 0, 1, 1, 1])
    y_pred = np.array([0.1, 0.6, 0.35, 0.8, 0.9])
    # With 3 thresholds (0, 0.5, 1): at 0 recall 1, precision 3/5; at 0.5 recall 2/3, precision 2/3; at 1 nothing.
    close(metrics.PrecisionAtRecall(0.9, num_thresholds=3)(y_true, y_pred), 3 / 5)
    close(metrics.PrecisionAtRecall(0.6, num_thresholds=3)(y_true, y_pred), 2 / 3)
    close(metrics.RecallAtPrecision(0.62, num_thresholds=3)(y_true, y_pred), 2 / 3)
    close(metrics.RecallAtPrecision(0.99, num_thresholds=3)(y_true, y_pred), 0.0)


def test_predictions_of_zero_and_one_at_the_extreme_thresholds(keras):
    y_true = np.array([1, 0, 1, 0], dtype="float32")
    y_pred = np.array([0.0, 0.0, 1.0, 1.0], dtype="float32")
    for cls, kw in (("SensitivityAtSpecificity", {"specificity": 0.5, "num_thresholds": 5}),
                    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}), ("TrueNegatives", {"thresholds": [0.0, 1.0]})):
        close(getattr(metrics, cls)(**kw)(y_true, y_pred), getattr(keras.metrics, cls)(**kw)(y_true, y_pred))


@pytest.mark.parametrize("cls_name,kwargs", [
    ("TruePositives", {}), ("FalseNegatives", {"thresholds": [0.1, 0.7]}), ("Precision", {"top_k": 3}),
    ("Recall", {"thresholds": 0.4, "class_id": 2}), ("PrecisionAtRecall", {"recall": 0.4, "num_thresholds": 50}),
    ("RecallAtPrecision", {"precision": 0.7, "class_id": 1}), ("SensitivityAtSpecificity", {"specificity": 0.2}),
    ("SpecificityAtSensitivity", {"sensitivity": 0.9}),
])
def test_configs_match_keras_and_round_trip(keras, cls_name, kwargs):
    ours = getattr(metrics, cls_name)(**kwargs)
    assert ours.get_config() == getattr(keras.metrics, cls_name)(**kwargs, name=ours.name).get_config()
    check_config_round_trip(metrics, ours)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="recall"):
        metrics.PrecisionAtRecall(recall=2.0)
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.SensitivityAtSpecificity(0.5, num_thresholds=0)
    with pytest.raises(ValueError, match="class_id"):
        metrics.Precision(class_id=1)(torch.tensor([1.0, 0.0]), torch.tensor([0.3, 0.9]))


def test_result_shapes():
    y_true, y_pred = data("binary")
    assert metrics.Precision()(y_true, y_pred).shape == ()
    assert metrics.Recall(thresholds=[0.1, 0.2, 0.3])(y_true, y_pred).shape == (3,)
    assert metrics.TruePositives(thresholds=[0.1, 0.2])(y_true, y_pred).shape == (2,)
    assert metrics.PrecisionAtRecall(0.5)(y_true, y_pred).shape == ()
