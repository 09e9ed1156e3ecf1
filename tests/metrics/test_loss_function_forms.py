"""The loss functions Keras also exposes in ``keras.metrics`` (huber and the focal crossentropies): lamina.metrics
has its own (metrics import only lamina.core), equal to Keras's and to lamina.losses's."""

from __future__ import annotations

import numpy as np
import pytest

from lamina import losses, metrics

rng = np.random.default_rng(0)
PROBS = rng.uniform(0.02, 0.98, size=(4, 3)).astype("float32")
LOGITS = rng.normal(size=(4, 3)).astype("float32") * 3
BINARY = (rng.uniform(size=(4, 3)) > 0.5).astype("float32")
ONEHOT = np.eye(3, dtype="float32")[[0, 2, 1, 2]]
REGRESSION_TRUE = rng.normal(size=(4, 3)).astype("float32")
REGRESSION_PRED = (REGRESSION_TRUE + rng.normal(size=(4, 3)) * 2).astype("float32")

CASES = [
    ("huber", REGRESSION_TRUE, REGRESSION_PRED, {}),
    ("huber", REGRESSION_TRUE, REGRESSION_PRED, {"delta": 0.3}),
    ("binary_focal_crossentropy", BINARY, PROBS, {}),
    ("binary_focal_crossentropy", BINARY, PROBS, {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5}),
    ("binary_focal_crossentropy", BINARY, LOGITS, {"from_logits": True, "label_smoothing": 0.1}),
    ("binary_focal_crossentropy", BINARY, PROBS, {"axis": 0}),
    ("categorical_focal_crossentropy", ONEHOT, PROBS, {}),
    ("categorical_focal_crossentropy", ONEHOT, LOGITS, {"from_logits": True, "gamma": 3.0}),
    ("categorical_focal_crossentropy", ONEHOT, PROBS, {"alpha": [0.2, 0.3, 0.5], "label_smoothing": 0.2}),
    ("categorical_focal_crossentropy", ONEHOT, PROBS, {"alpha": 1.0, "gamma": 0.0}),
]


@pytest.mark.parametrize("name, y_true, y_pred, kwargs", CASES)
def test_matches_keras_and_lamina_losses(keras, name, y_true, y_pred, kwargs):
    ours = getattr(metrics, name)(y_true, y_pred, **kwargs)
    theirs = keras.ops.convert_to_numpy(getattr(keras.metrics, name)(y_true, y_pred, **kwargs))
    assert tuple(ours.shape) == theirs.shape
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.numpy(), getattr(losses, name)(y_true, y_pred, **kwargs).numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["huber", "binary_focal_crossentropy", "categorical_focal_crossentropy"])
def test_defaults_match_keras(keras, name):
    import inspect

    ours = inspect.signature(getattr(metrics, name)).parameters
    theirs = inspect.signature(getattr(keras.metrics, name)).parameters
    assert list(ours) == list(theirs)
    assert [p.default for p in ours.values()] == [p.default for p in theirs.values()]
