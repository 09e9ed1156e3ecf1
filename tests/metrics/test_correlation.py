"""pearson_correlation / concordance_correlation and their metric classes, against Keras 3."""

from __future__ import annotations

import numpy as np
import pytest

from lamina import metrics

Y_TRUE = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 2.0], [3.0, -1.0, 2.0, 0.5]], dtype="float32")
Y_PRED = np.array([[1.1, 1.9, 3.5, 3.0], [1.0, 0.0, 1.0, 0.0], [2.0, 0.0, 2.5, 1.0]], dtype="float32")
FUNCTIONS = ["pearson_correlation", "concordance_correlation"]
CLASSES = ["PearsonCorrelation", "ConcordanceCorrelation"]


def _np(keras, x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_function_matches_keras(keras, name, axis, dtype):
    y_pred = (Y_PRED * 2).astype(dtype)
    # Keras casts y_true to an integer y_pred's dtype (truncating it); lamina, as in its other regression
    # functions, computes in float: integral labels keep the two equal.
    y_true = np.round(Y_TRUE) if dtype == "int32" else Y_TRUE
    ours = getattr(metrics, name)(y_true, y_pred, axis=axis)
    theirs = _np(keras, getattr(keras.metrics, name)(y_true, y_pred, axis=axis))
    assert ours.shape == theirs.shape
    assert str(ours.dtype).removeprefix("torch.") == str(theirs.dtype)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_constant_input_is_nan_as_in_keras(keras, name):
    y_true, y_pred = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    ours = getattr(metrics, name)(y_true, y_pred).numpy()
    theirs = _np(keras, getattr(keras.metrics, name)(y_true, y_pred))
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("kwargs", [{}, {"axis": 0}, {"name": "corr"}])
def test_class_matches_keras(keras, cls, kwargs):
    ours, theirs = getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    assert ours.get_config() == theirs.get_config()
    weights = np.array([1.0, 3.0, 0.5], dtype="float32") if kwargs.get("axis") != 0 else None
    for m in (ours, theirs):
        m.update_state(Y_TRUE, Y_PRED, sample_weight=weights)
        m.update_state(Y_TRUE[:2], Y_PRED[:2] * 3 - 1)
    np.testing.assert_allclose(float(ours.result()), float(_np(keras, theirs.result())), rtol=1e-5)
    rebuilt = getattr(metrics, cls).from_config(ours.get_config())
    assert rebuilt.get_config() == ours.get_config()
    assert metrics.get(cls).name == theirs.name if not kwargs else True
