"""Shared helpers for the loss tests: random data of every kind, a Keras 3 comparison over every reduction and
sample-weight shape, and a guard that fails on host synchronisations."""

from __future__ import annotations

import numpy as np
import torch

from lamina import losses
from tensor_checks import assert_close, no_host_sync, to_np  # noqa: F401  (re-exported to the tests)

REDUCTIONS = ["sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", None, "none"]


def close(a, b, rtol=1e-6, atol=1e-6):
    assert_close(a, b, rtol, atol)


def shape_for(rank, rng):
    """A random (batch, [steps,] classes) shape of the given rank."""
    n, t, c = int(rng.integers(3, 9)), int(rng.integers(2, 6)), int(rng.integers(2, 7))
    return (n, c) if rank == 2 else (n, t, c)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def data(kind, shape, rng, logits=False):
    """(y_true, y_pred) float32/int NumPy arrays of one family, y_pred shaped ``shape``."""
    z = (rng.normal(size=shape) * 2).astype("float32")
    if kind == "regression":
        return (rng.normal(size=shape) * 2).astype("float32"), z
    if kind == "positive":  # counts and rates (Poisson), non-negative values (MSLE)
        return rng.poisson(2.0, size=shape).astype("float32"), rng.uniform(0.05, 4, size=shape).astype("float32")
    if kind == "percentage":  # MAPE, one zero target to exercise the epsilon
        y_true = (rng.normal(size=shape) * 2).astype("float32")
        y_true.flat[0] = 0.0
        return y_true, z
    if kind == "distribution":  # KL divergence, one zero to exercise the clip
        y_true, y_pred = _softmax(rng.normal(size=shape)), _softmax(z)
        y_true.flat[0] = 0.0
        return y_true.astype("float32"), y_pred.astype("float32")
    if kind == "signed":
        return rng.choice([-1.0, 1.0], size=shape).astype("float32"), z
    if kind == "soft_signed":  # not all 0/1: hinge leaves them as they are
        return rng.uniform(-1, 1, size=shape).astype("float32"), z
    if kind == "mask":  # segmentation
        return rng.integers(0, 2, size=shape).astype("float32"), rng.uniform(size=shape).astype("float32")
    if kind in ("binary", "multilabel", "onehot"):
        classes = shape[-1]
        if kind == "binary":
            shape = shape[:-1] + (1,)
            z = z[..., :1]
        if kind == "onehot":
            y_true = np.eye(classes, dtype="float32")[rng.integers(0, classes, size=shape[:-1])]
        else:
            y_true = rng.integers(0, 2, size=shape).astype("float32")
        return y_true, _predictions(z, kind, rng, logits)
    if kind == "sparse":
        return rng.integers(0, shape[-1], size=shape[:-1]), _predictions(z, kind, rng, logits)
    raise ValueError(kind)


def _predictions(z, kind, rng, logits):
    if logits:
        return z
    if kind in ("binary", "multilabel"):
        p = 1 / (1 + np.exp(-z))
        p.flat[0] = 1.0  # saturated entries exercise the epsilon clip
        if p.size > 1:
            p.flat[1] = 0.0
        return p.astype("float32")
    p = np.exp(z) * rng.uniform(0.5, 2.0, size=z.shape[:-1] + (1,))  # un-normalised: Keras rescales by the sum
    p.flat[0] = 0.0
    return p.astype("float32")


def weights_for(values_shape, batch, rng):
    """(lamina weight, Keras weight) pairs: none, per sample, per sample with a trailing 1, per value, a number.

    Keras lines a ``(batch,)`` weight up with the trailing axis of higher-rank values; lamina with the batch
    axis, which Keras spells ``(batch, 1)``.
    """
    n, values_rank = (values_shape[0] if values_shape else batch), len(values_shape)
    per_sample = rng.uniform(0, 2, size=(n,)).astype("float32")
    out = [(None, None), (per_sample[:, None], per_sample[:, None]), (0.5, 0.5), (3, 3)]
    out.append((per_sample, per_sample if values_rank <= 1 else per_sample[:, None]))
    if values_rank >= 2:
        full = rng.uniform(0, 2, size=values_shape).astype("float32")
        out.append((full, full))
    return out


def compare_with_keras(keras, cls_name, kwargs, y_true, y_pred, rng, rtol=1e-6, atol=1e-6, reductions=REDUCTIONS):
    """Every reduction and every weight shape: lamina's class gives Keras's values and shapes."""
    probe = getattr(keras.losses, cls_name)(reduction=None, **kwargs)(y_true, y_pred)
    for reduction in reductions:
        ours = getattr(losses, cls_name)(reduction=reduction, **kwargs)
        ref = getattr(keras.losses, cls_name)(reduction=reduction, **kwargs)
        for sw, keras_sw in weights_for(tuple(probe.shape), y_pred.shape[0], rng):
            try:
                expected = to_np(ref(y_true, y_pred, sample_weight=keras_sw))
            except RuntimeError:
                # Keras multiplies a loss mask (ignore_class) into the weight in place, which fails for weights
                # that broadcast (a number, (batch, 1)): spell the weight out at the mask's shape
                full = np.broadcast_to(np.asarray(keras_sw, "float32"), probe.shape).copy()
                expected = to_np(ref(y_true, y_pred, sample_weight=full))
            got = ours(y_true, y_pred, sample_weight=sw)
            close(got, expected, rtol, atol)
            assert tuple(got.shape) == expected.shape, (reduction, np.shape(sw))
            got_t = ours(torch.as_tensor(y_true), torch.as_tensor(y_pred),
                         sample_weight=torch.as_tensor(sw) if isinstance(sw, np.ndarray) else sw)
            close(got_t, expected, rtol, atol)


def compare_function_with_keras(keras, fn_name, kwargs, y_true, y_pred, rtol=1e-6, atol=1e-6):
    ours = getattr(losses, fn_name)(torch.as_tensor(y_true), torch.as_tensor(y_pred), **kwargs)
    expected = getattr(keras.losses, fn_name)(keras.ops.convert_to_tensor(y_true),
                                              keras.ops.convert_to_tensor(y_pred), **kwargs)
    assert tuple(ours.shape) == tuple(expected.shape)
    close(ours, expected, rtol, atol)
    return ours
