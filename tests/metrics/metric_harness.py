"""Shared checks for lamina.metrics tests: streaming against Keras 3, reset, configs, and the no-host-sync guard."""

from __future__ import annotations

import numpy as np
import torch

from tensor_checks import assert_close, no_host_sync, to_np  # noqa: F401  (re-exported to the tests)

N, C = 11, 4
BATCHES = [slice(0, 3), slice(3, 4), slice(4, 11)]  # uneven batch sizes, a short last batch


def close(a, b, rtol=1e-5, atol=1e-6):
    assert_close(a, b, rtol, atol)


def data(kind, seed=1, n=N, c=C):
    """Labels and predictions of one kind, as NumPy arrays (the same arrays go to lamina and to Keras)."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n, c)).astype("float32")
    scores[:3] = rng.integers(0, 2, size=(3, c))  # ties for the top-k metrics
    probs = rng.uniform(size=(n, c)).astype("float32")
    if kind == "sparse":
        return rng.integers(0, c, size=(n,)), scores
    if kind == "sparse_col":
        return rng.integers(0, c, size=(n, 1)).astype("float32"), scores
    if kind == "onehot":
        return np.eye(c, dtype="float32")[rng.integers(0, c, size=(n,))], scores
    if kind == "onehot_probs":
        return np.eye(c, dtype="float32")[rng.integers(0, c, size=(n,))], probs / probs.sum(-1, keepdims=True)
    if kind == "binary":
        return rng.integers(0, 2, size=(n, 1)).astype("float32"), rng.uniform(size=(n, 1)).astype("float32")
    if kind == "binary_flat":
        return rng.integers(0, 2, size=(n,)), rng.uniform(size=(n, 1)).astype("float32")
    if kind == "binary_logits":
        return rng.integers(0, 2, size=(n, 1)).astype("float32"), rng.normal(size=(n, 1)).astype("float32") * 3
    if kind == "multilabel":
        return rng.integers(0, 2, size=(n, c)).astype("float32"), probs
    if kind == "exact":
        return rng.integers(0, 3, size=(n, 1)), rng.integers(0, 3, size=(n, 1)).astype("float32")
    if kind == "positive":
        return rng.uniform(0, 3, size=(n, 3)).astype("float32"), rng.uniform(0.1, 3, size=(n, 3)).astype("float32")
    if kind == "signed":
        return rng.choice([-1.0, 1.0], size=(n, 3)).astype("float32"), rng.normal(size=(n, 3)).astype("float32")
    if kind == "segmentation":
        return rng.integers(0, c, size=(n, 5)), rng.integers(0, c, size=(n, 5))
    return rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 3)).astype("float32")


def sample_weights(weighted, seed=5, n=N, integer=False):
    if not weighted:
        return None
    rng = np.random.default_rng(seed)
    if integer:
        return rng.integers(0, 3, size=(n,))
    return rng.uniform(0, 2, size=(n,)).astype("float32")


def stream_against_keras(keras, ours, ref, y_true, y_pred, weight=None, rtol=1e-5, atol=1e-6, check_name=True):
    """Feed the same uneven batches to both; results agree after each batch, after a reset and a fresh batch."""
    if check_name:
        assert ours.name == ref.name
    for batch in BATCHES:
        sw = None if weight is None else weight[batch]
        ours.update_state(y_true[batch], y_pred[batch], sample_weight=sw)
        ref.update_state(y_true[batch], y_pred[batch], sample_weight=sw)
        result = ours.result()
        assert isinstance(result, torch.Tensor)
        close(result, ref.result(), rtol=rtol, atol=atol)
    final = ours.result()
    ours.reset_state()
    ref.reset_state()
    ours.update_state(y_true[:5], y_pred[:5])
    ref.update_state(y_true[:5], y_pred[:5])
    close(ours.result(), ref.result(), rtol=rtol, atol=atol)
    return final


def check_no_host_sync(metric, y_true, y_pred, weight=None):
    """update_state/result/reset_state on tensors neither read device values on the host nor build host tensors."""
    y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred)
    weight = torch.rand(y_pred.shape[0]) if weight is None else torch.as_tensor(weight)
    with no_host_sync():
        metric.update_state(y_true, y_pred)
        metric.update_state(y_true, y_pred, sample_weight=weight)
        metric.update_state(y_true[:2], y_pred[:2])
        metric.result()
        metric.reset_state()
        metric.update_state(y_true[:3], y_pred[:3])
        metric.result()


def check_config_round_trip(metrics_module, metric):
    config = metrics_module.serialize(metric)
    rebuilt = metrics_module.deserialize(config)
    assert type(rebuilt) is type(metric) and metrics_module.serialize(rebuilt) == config
    again = metrics_module.get(config)
    assert type(again) is type(metric) and again.get_config() == metric.get_config()
    return rebuilt
