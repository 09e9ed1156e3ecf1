"""lamina.metrics IoU family against Keras 3 and the written formula."""

from __future__ import annotations

import numpy as np
import pytest
from metric_harness import (
    C,
    check_config_round_trip,
    check_no_host_sync,
    close,
    data,
    sample_weights,
    stream_against_keras,
)

from lamina import metrics


def _inputs(kind, n=23):
    rng = np.random.default_rng(4)
    if kind == "sparse":
        return rng.integers(0, C, size=(n,)), rng.integers(0, C, size=(n,))
    if kind == "segmentation":
        y_true = rng.integers(0, C, size=(n, 5))
        y_true[0, :2] = 255  # a void label: outside [0, num_classes)
        return y_true, rng.integers(0, C, size=(n, 5))
    if kind == "onehot":
        return data("onehot", n=n)
    if kind == "binary":
        return rng.integers(0, 2, size=(n, 1)), rng.uniform(size=(n, 1)).astype("float32")
    return rng.integers(0, C, size=(n, 1)), data("onehot_probs", n=n)[1]


CASES = [
    ("MeanIoU", {"num_classes": C}, "sparse"),
    ("MeanIoU", {"num_classes": C, "ignore_class": 1}, "sparse"),
    ("MeanIoU", {"num_classes": C, "sparse_y_pred": False}, "scores"),
    ("IoU", {"num_classes": C, "target_class_ids": [0, 2]}, "sparse"),
    ("IoU", {"num_classes": C, "target_class_ids": [3]}, "segmentation"),
    ("BinaryIoU", {}, "binary"),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, "binary"),
    ("OneHotIoU", {"num_classes": C, "target_class_ids": [1, 3]}, "onehot"),
    ("OneHotMeanIoU", {"num_classes": C}, "onehot"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_iou_metrics_match_keras(keras, cls_name, kwargs, kind, weighted):
    y_true, y_pred = _inputs(kind)
    # Keras keeps an int32 confusion matrix by default, so weights are whole numbers here.
    weight = sample_weights(weighted, n=23, integer=True)
    if kind == "segmentation" and weight is not None:
        weight = np.repeat(weight[:, None], 5, axis=1)
    stream_against_keras(keras, getattr(metrics, cls_name)(**kwargs, name="iou"),
                         getattr(keras.metrics, cls_name)(**kwargs, name="iou"), y_true, y_pred, weight)


def test_float_dtype_keeps_fractional_weights(keras):
    y_true, y_pred = _inputs("sparse")
    weight = sample_weights(True, n=23)
    stream_against_keras(keras, metrics.MeanIoU(C, dtype="float32", name="m"),
                         keras.metrics.MeanIoU(C, dtype="float32", name="m"), y_true, y_pred, weight)


@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_iou_updates_do_not_synchronise(cls_name, kwargs, kind):
    y_true, y_pred = _inputs(kind)
    check_no_host_sync(getattr(metrics, cls_name)(**kwargs), y_true, y_pred,
                       weight=np.ones(y_true.shape if kind == "segmentation" else y_true.shape[:1], dtype="int64"))


def test_iou_formula():
    y_true, y_pred = _inputs("sparse", n=60)
    ious = []
    for c in range(C):
        inter = ((y_true == c) & (y_pred == c)).sum()
        union = ((y_true == c) | (y_pred == c)).sum()
        ious.append(inter / union)
    close(metrics.MeanIoU(C)(y_true, y_pred), np.mean(ious))
    close(metrics.IoU(C, target_class_ids=[1, 2])(y_true, y_pred), np.mean(ious[1:3]))
    m = metrics.MeanIoU(C)
    m.update_state([0, 0], [0, 0])  # classes 1..3 never seen: left out of the mean
    close(m.result(), 1.0)


@pytest.mark.parametrize("cls_name,kwargs", [
    ("MeanIoU", {"num_classes": 3}), ("IoU", {"num_classes": 3, "target_class_ids": [0, 2], "ignore_class": 1}),
    ("BinaryIoU", {"threshold": 0.3}), ("OneHotIoU", {"num_classes": 3, "target_class_ids": [1]}),
    ("OneHotMeanIoU", {"num_classes": 5, "sparse_y_pred": True}),
])
def test_iou_configs_match_keras(keras, cls_name, kwargs):
    ours = getattr(metrics, cls_name)(**kwargs)
    assert ours.get_config() == getattr(keras.metrics, cls_name)(**kwargs, name=ours.name).get_config()
    check_config_round_trip(metrics, ours)


def test_float_weights_with_an_integer_matrix_warn_once():
    m = metrics.MeanIoU(2)
    with pytest.warns(UserWarning, match="truncated"):
        m.update_state([0, 1], [0, 1], sample_weight=np.array([0.5, 1.5]))
    m.update_state([0, 1], [0, 1], sample_weight=np.array([0.5, 1.5]))  # no second warning (errors in pytest)
    close(m.state("total_cm"), [[0, 0], [0, 2]])


def test_iou_bad_arguments():
    with pytest.raises(ValueError, match="Target class ids"):
        metrics.IoU(num_classes=2, target_class_ids=[2])
    with pytest.raises(ValueError, match="num_classes"):
        metrics.MeanIoU(num_classes=0)
