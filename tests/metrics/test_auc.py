"""lamina.metrics.AUC against Keras 3 (ROC, PR, PR-gain; summation methods; multi-label) and a rank formula."""

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
    ({}, "binary"),
    ({}, "multilabel"),
    ({"num_thresholds": 3}, "binary"),
    ({"num_thresholds": 10, "curve": "PR"}, "binary"),
    ({"curve": "PR"}, "multilabel"),
    ({"curve": "PR", "summation_method": "minoring"}, "binary"),
    ({"curve": "ROC", "summation_method": "majoring"}, "binary"),
    ({"curve": "ROC", "summation_method": "minoring", "num_thresholds": 17}, "multilabel"),
    ({"curve": "PRGAIN"}, "binary"),
    ({"thresholds": [0.1, 0.35, 0.5, 0.9]}, "binary"),  # not evenly spaced: compared per threshold
    ({"thresholds": [0.75, 0.25, 0.5]}, "binary"),  # evenly spaced once sorted: bucketed
    ({"thresholds": [0.2, 0.4, 0.6], "curve": "PR"}, "multilabel"),
    ({"multi_label": True}, "multilabel"),
    ({"multi_label": True, "num_labels": 4, "curve": "PR"}, "multilabel"),
    ({"multi_label": True, "label_weights": [0.5, 1.0, 0.0, 2.0]}, "multilabel"),
    ({"multi_label": True, "thresholds": [0.3, 0.45, 0.8], "curve": "PR"}, "multilabel"),
    ({"label_weights": [0.5, 1.0, 0.0, 2.0]}, "multilabel"),
    ({"from_logits": True}, "binary_logits"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kwargs,kind", CASES)
def test_auc_matches_keras(keras, kwargs, kind, weighted):
    y_true, y_pred = data(kind, n=41)
    weight = sample_weights(weighted, n=41)
    ours = metrics.AUC(**kwargs, name="auc")
    final = stream_against_keras(keras, ours, keras.metrics.AUC(**kwargs, name="auc"), y_true, y_pred, weight,
                                 rtol=1e-5, atol=1e-5)
    assert final.shape == () and final.dtype == torch.float32


@pytest.mark.parametrize("kwargs,kind", CASES[::4])
def test_auc_updates_do_not_synchronise(kwargs, kind):
    check_no_host_sync(metrics.AUC(**kwargs), *data(kind))


def test_roc_auc_equals_the_rank_statistic():
    # Scores on a 0.1 grid with thresholds between grid points: the trapezoidal ROC area is then exactly the
    # probability that a positive outscores a negative (ties count one half).
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, size=200)
    y_pred = np.round(rng.uniform(size=200) * 10) / 10
    pos, neg = y_pred[y_true == 1], y_pred[y_true == 0]
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    auc = metrics.AUC(thresholds=[(i + 0.5) / 10 for i in range(10)])
    for chunk in np.array_split(np.arange(200), 7):
        auc.update_state(y_true[chunk], y_pred[chunk].astype("float32"))
    close(auc.result(), greater + 0.5 * ties, atol=1e-6)


def test_perfect_and_reversed_rankings():
    y_true = np.array([0, 0, 1, 1])
    assert float(metrics.AUC()(y_true, np.array([0.1, 0.2, 0.8, 0.9]))) == pytest.approx(1.0, abs=1e-6)
    assert float(metrics.AUC()(y_true, np.array([0.9, 0.8, 0.2, 0.1]))) == pytest.approx(0.0, abs=1e-6)
    assert float(metrics.AUC().result()) == 0.0


def test_multi_label_is_the_mean_of_per_label_aucs():
    y_true, y_pred = data("multilabel", n=50)
    per_label = [float(metrics.AUC()(y_true[:, j], y_pred[:, j])) for j in range(y_true.shape[1])]
    close(metrics.AUC(multi_label=True)(y_true, y_pred), np.mean(per_label))
    w = np.array([1.0, 0.0, 3.0, 1.0])
    close(metrics.AUC(multi_label=True, label_weights=w)(y_true, y_pred), np.dot(per_label, w) / w.sum())


@pytest.mark.parametrize("kwargs", [
    {}, {"num_thresholds": 50, "curve": "PR", "summation_method": "majoring"}, {"thresholds": [0.1, 0.7]},
    {"multi_label": True, "num_labels": 3, "label_weights": [1.0, 2.0, 3.0]}, {"from_logits": True},
])
def test_auc_config_matches_keras_and_round_trips(keras, kwargs):
    ours = metrics.AUC(**kwargs)
    expected = keras.metrics.AUC(**kwargs, name=ours.name).get_config()
    if expected["label_weights"] is not None:  # Keras keeps a tensor here
        expected["label_weights"] = [float(w) for w in expected["label_weights"]]
    if "thresholds" in expected:
        expected["thresholds"] = [float(t) for t in expected["thresholds"]]
    assert ours.get_config() == expected
    check_config_round_trip(metrics, ours)


def test_auc_bad_arguments():
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="DET")
    with pytest.raises(ValueError, match="summation_method"):
        metrics.AUC(summation_method="simpson")
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="multi_label"):
        metrics.AUC(num_labels=3)
    with pytest.raises(ValueError, match="rank 2"):
        metrics.AUC(multi_label=True)(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)))
