"""lamina.metrics.regression against Keras 3 and written formulas."""

from __future__ import annotations

import math
import warnings

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
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "regression"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("RootMeanSquaredError", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("LogCoshError", {}, "regression"),
    ("R2Score", {}, "regression"),
    ("R2Score", {"class_aggregation": "variance_weighted_average"}, "regression"),
    ("R2Score", {"class_aggregation": None}, "regression"),
    ("R2Score", {"num_regressors": 2}, "regression"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_regression_metrics_match_keras(keras, cls_name, kwargs, kind, weighted):
    y_true, y_pred = data(kind)
    stream_against_keras(keras, getattr(metrics, cls_name)(**kwargs), getattr(keras.metrics, cls_name)(**kwargs),
                         y_true, y_pred, sample_weights(weighted))


@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_regression_updates_do_not_synchronise(cls_name, kwargs, kind):
    check_no_host_sync(getattr(metrics, cls_name)(**kwargs), *data(kind))


FUNCTIONS = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
             "mean_squared_logarithmic_error", "cosine_similarity", "log_cosh"]


@pytest.mark.parametrize("fn_name", FUNCTIONS)
def test_regression_functions_match_keras(keras, fn_name):
    y_true, y_pred = data("positive" if "log" in fn_name else "regression")
    ours = getattr(metrics, fn_name)(torch.as_tensor(y_true), torch.as_tensor(y_pred))
    expected = getattr(keras.losses, fn_name)(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred))
    if fn_name == "cosine_similarity":  # Keras's loss is the negative of the metric
        expected = -expected
    assert ours.dtype == torch.float32 and tuple(ours.shape) == tuple(expected.shape)
    close(ours, expected)


def test_regression_formulas():
    y_true, y_pred = data("regression")
    w = sample_weights(True).astype("float64")
    err = (y_pred - y_true).astype("float64")
    close(metrics.RootMeanSquaredError()(y_true, y_pred, sample_weight=w),
          math.sqrt((w[:, None] * err**2).sum() / (3 * w.sum())))
    close(metrics.LogCoshError()(y_true, y_pred), np.log(np.cosh(err)).mean())
    cos = (y_true * y_pred).sum(-1) / np.linalg.norm(y_true, axis=-1) / np.linalg.norm(y_pred, axis=-1)
    close(metrics.CosineSimilarity()(y_true, y_pred), cos.mean())
    close(metrics.MeanAbsolutePercentageError()(y_true, y_pred), 100 * np.abs(err / y_true).mean(), rtol=1e-4)


def test_cosine_similarity_along_another_axis(keras):
    y_true, y_pred = data("regression")
    ours, ref = metrics.CosineSimilarity(axis=0), keras.metrics.CosineSimilarity(axis=0)
    close(ours(y_true, y_pred), ref(y_true, y_pred))
    close(metrics.cosine_similarity(y_true, y_pred, axis=0),
          (y_true * y_pred).sum(0) / np.linalg.norm(y_true, axis=0) / np.linalg.norm(y_pred, axis=0))


def test_r2_formula_and_adjustment():
    y_true, y_pred = data("regression", n=40)
    ss_res = ((y_true - y_pred) ** 2).sum(0)
    ss_tot = ((y_true - y_true.mean(0)) ** 2).sum(0)
    raw = 1 - ss_res / ss_tot
    close(metrics.R2Score(class_aggregation=None)(y_true, y_pred), raw, atol=1e-5)
    n, p = y_true.size, 3  # Keras counts label entries
    close(metrics.R2Score(num_regressors=p)(y_true, y_pred), 1 - (1 - raw.mean()) * (n - 1) / (n - p - 1), atol=1e-5)
    perfect = metrics.R2Score()
    perfect.update_state(y_true[:, :1], y_true[:, :1])
    close(perfect.result(), 1.0)
    too_many = metrics.R2Score(num_regressors=50)
    too_many.update_state(y_true[:5, :1], y_pred[:5, :1])
    with pytest.warns(UserWarning, match="adjusted"):
        plain = too_many.result()
    close(plain, 1 - ((y_true[:5, 0] - y_pred[:5, 0]) ** 2).sum() / ((y_true[:5, 0] - y_true[:5, 0].mean()) ** 2).sum(),
          atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.R2Score(num_regressors=1)(y_true, y_pred)


@pytest.mark.parametrize("cls_name,kwargs", [
    ("MeanSquaredError", {}), ("MeanAbsoluteError", {}), ("MeanAbsolutePercentageError", {}),
    ("MeanSquaredLogarithmicError", {}), ("RootMeanSquaredError", {}), ("CosineSimilarity", {}),
    ("LogCoshError", {}), ("R2Score", {"class_aggregation": None, "num_regressors": 3}),
])
def test_regression_configs_match_keras(keras, cls_name, kwargs):
    ours = getattr(metrics, cls_name)(**kwargs)
    assert ours.get_config() == getattr(keras.metrics, cls_name)(**kwargs).get_config()
    check_config_round_trip(metrics, ours)
    assert check_config_round_trip(metrics, metrics.CosineSimilarity(axis=0)).axis == 0


def test_r2_bad_arguments():
    with pytest.raises(ValueError, match="class_aggregation"):
        metrics.R2Score(class_aggregation="mean")
    with pytest.raises(ValueError, match="num_regressors"):
        metrics.R2Score(num_regressors=-1)
    with pytest.raises(ValueError, match="batch_size, output_dim"):
        metrics.R2Score()(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
