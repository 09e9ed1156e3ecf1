"""lamina.metrics.FBetaScore and F1Score against Keras 3 and the written formula."""

from __future__ import annotations

import numpy as np
import pytest
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
    ("F1Score", {}, "onehot_probs"),
    ("F1Score", {"average": "micro"}, "onehot_probs"),
    ("F1Score", {"average": "macro", "threshold": 0.3}, "multilabel"),
    ("F1Score", {"average": "weighted"}, "onehot"),
    ("FBetaScore", {"beta": 2.0}, "multilabel"),
    ("FBetaScore", {"beta": 0.5, "average": "micro", "threshold": 0.5}, "multilabel"),
    ("FBetaScore", {"beta": 1.5, "average": "weighted", "threshold": 0.6}, "multilabel"),
    ("FBetaScore", {"average": "macro"}, "onehot"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_f_scores_match_keras(keras, cls_name, kwargs, kind, weighted):
    y_true, y_pred = data(kind, n=23)
    stream_against_keras(keras, getattr(metrics, cls_name)(**kwargs), getattr(keras.metrics, cls_name)(**kwargs),
                         y_true, y_pred, sample_weights(weighted, n=23))


@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_f_score_updates_do_not_synchronise(cls_name, kwargs, kind):
    check_no_host_sync(getattr(metrics, cls_name)(**kwargs), *data(kind))


def test_f_beta_formula():
    y_true, y_pred = data("multilabel", n=30)
    beta, t = 2.0, 0.4
    pred = y_pred > t
    tp = (pred & (y_true == 1)).sum(0)
    fp = (pred & (y_true == 0)).sum(0)
    fn = (~pred & (y_true == 1)).sum(0)
    p, r = tp / (tp + fp), tp / (tp + fn)
    per_class = (1 + beta**2) * p * r / (beta**2 * p + r)
    close(metrics.FBetaScore(beta=beta, threshold=t)(y_true, y_pred), per_class, rtol=1e-5, atol=1e-5)
    close(metrics.FBetaScore(beta=beta, threshold=t, average="macro")(y_true, y_pred), per_class.mean(), atol=1e-5)
    support = y_true.sum(0)
    close(metrics.FBetaScore(beta=beta, threshold=t, average="weighted")(y_true, y_pred),
          (per_class * support).sum() / support.sum(), atol=1e-5)


@pytest.mark.parametrize("cls_name,kwargs", [("F1Score", {}), ("F1Score", {"average": "macro", "threshold": 0.4}),
                                             ("FBetaScore", {"beta": 2.0, "average": "weighted"})])
def test_f_score_configs_match_keras(keras, cls_name, kwargs):
    ours = getattr(metrics, cls_name)(**kwargs)
    assert ours.get_config() == getattr(keras.metrics, cls_name)(**kwargs).get_config()
    check_config_round_trip(metrics, ours)


def test_f_score_bad_arguments_and_shapes():
    with pytest.raises(ValueError, match="average"):
        metrics.F1Score(average="samples")
    with pytest.raises(ValueError, match="beta"):
        metrics.FBetaScore(beta=2)
    with pytest.raises(ValueError, match="threshold"):
        metrics.F1Score(threshold=1.5)
    with pytest.raises(ValueError, match="batch_size, num_classes"):
        metrics.F1Score()(np.zeros(3), np.zeros(3))
