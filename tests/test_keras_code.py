"""Keras 3 code run unchanged: the same source, given ``keras`` (the real one, torch backend) or ``lamina``.

Each scenario is written once as Keras code (a custom layer, loss and metric with ``keras.ops``, a custom
``train_step`` that updates variables with ``.assign``), run under both libraries from the same initial weights,
and must give the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lamina

RNG = np.random.default_rng(7)
X = RNG.normal(size=(64, 5)).astype("float32")
Y = (X @ RNG.normal(size=(5, 3)) + 0.1 * RNG.normal(size=(64, 3))).astype("float32")


def custom_parts(keras):
    """A layer, a loss function, a Loss subclass and a metric as a Keras 3 user writes them."""
    ops = keras.ops

    class Linear(keras.layers.Layer):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
            self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")

        def call(self, inputs, training=None):
            if training:
                self.seen.assign_add(ops.cast(ops.shape(inputs)[0], "float32"))
            return ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    def smooth_l1(y_true, y_pred):
        diff = ops.abs(y_true - y_pred)
        return ops.mean(ops.where(diff < 1.0, 0.5 * ops.square(diff), diff - 0.5), axis=-1)

    class ScaledLogCosh(keras.losses.Loss):
        def __init__(self, scale=2.0, name="scaled_log_cosh", **kwargs):
            super().__init__(name=name, **kwargs)
            self.scale = scale

        def call(self, y_true, y_pred):
            d = y_pred - y_true
            return self.scale * ops.mean(d + ops.softplus(-2.0 * d) - ops.log(2.0), axis=-1)

    class RootMeanSquare(keras.metrics.Metric):
        def __init__(self, name="rms", **kwargs):
            super().__init__(name=name, **kwargs)
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")
            self.count = self.add_variable(shape=(), initializer="zeros", name="count")

        def update_state(self, y_true, y_pred, sample_weight=None):
            err = ops.square(ops.cast(y_true, "float32") - ops.cast(y_pred, "float32"))
            self.total.assign_add(ops.sum(err))
            self.count.assign_add(ops.cast(ops.size(err), "float32"))

        def result(self):
            return ops.sqrt(ops.divide_no_nan(self.total, self.count))

        def reset_state(self):
            for v in self.variables:
                v.assign(ops.zeros(v.shape, dtype=v.dtype))

    return Linear, smooth_l1, ScaledLogCosh, RootMeanSquare


def _model(keras, layer_cls, weights):
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(4, activation="tanh")(inputs)
    model = keras.Model(inputs, layer_cls(3)(hidden))
    model.set_weights(weights)
    return model


def _weights():
    rng = np.random.default_rng(3)
    return [rng.normal(size=(5, 4)).astype("float32") * 0.5, np.zeros(4, "float32"),
            rng.normal(size=(4, 3)).astype("float32") * 0.5, np.zeros(3, "float32"), np.zeros((), "float32")]


def _to_np(x):
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)


@pytest.mark.parametrize("loss_kind", ["function", "class"])
def test_custom_layer_loss_and_metric_train_the_same_as_in_keras(keras, loss_kind):
    results = []
    for lib in (keras, lamina):
        Linear, smooth_l1, ScaledLogCosh, RootMeanSquare = custom_parts(lib)
        model = _model(lib, Linear, _weights())
        loss = smooth_l1 if loss_kind == "function" else ScaledLogCosh(scale=0.5)
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss=loss, metrics=[RootMeanSquare()])
        history = model.fit(X, Y, batch_size=16, epochs=3, shuffle=False, verbose=0)
        evaluation = model.evaluate(X, Y, verbose=0, return_dict=True)
        results.append((history.history, evaluation, model.get_weights()))
    (h_k, e_k, w_k), (h_l, e_l, w_l) = results
    assert sorted(h_k) == sorted(h_l) == ["loss", "rms"]
    for key in h_k:
        np.testing.assert_allclose(h_l[key], h_k[key], rtol=1e-4, atol=1e-6)
    for key in e_k:
        np.testing.assert_allclose(e_l[key], e_k[key], rtol=1e-4, atol=1e-6)
    for a, b in zip(w_l, w_k, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert float(w_l[-1]) == 3 * 64  # the non-trainable counter assigned in call(training=True)


def manual_sgd_model(keras):
    """A custom train_step on the torch backend that updates every variable with .assign."""

    class ManualSGD(keras.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            with torch.no_grad():
                for v in self.trainable_weights:
                    v.assign(v.value - 0.1 * v.value.grad)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    return ManualSGD


def test_custom_train_step_with_assign_trains_the_same_as_in_keras(keras):
    results = []
    for lib in (keras, lamina):
        inputs = lib.Input((5,))
        outputs = lib.layers.Dense(3)(lib.layers.Dense(4, activation="relu")(inputs))
        model = manual_sgd_model(lib)(inputs, outputs)
        model.set_weights(_weights()[:4])
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        history = model.fit(X, Y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        results.append((history.history, model.get_weights()))
    (h_k, w_k), (h_l, w_l) = results
    assert sorted(h_l) == sorted(h_k)
    for key in h_k:
        np.testing.assert_allclose(h_l[key], h_k[key], rtol=1e-4, atol=1e-6)
    for a, b in zip(w_l, w_k, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_functional_model_of_ops_matches_keras(keras):
    outputs = []
    for lib in (keras, lamina):
        ops = lib.ops
        inputs = lib.Input((6,))
        x = lib.layers.Dense(4)(inputs)
        gate = ops.sigmoid(x[:, :2])
        x = ops.concatenate([x[:, 2:] * gate, ops.expand_dims(ops.sum(inputs, axis=-1), -1)], axis=-1)
        x = ops.where(x > 0, x, 0.1 * x) + 1.0
        model = lib.Model(inputs, ops.logsumexp(x, axis=-1, keepdims=True))
        model.set_weights([np.linspace(-1, 1, 24, dtype="float32").reshape(6, 4), np.full(4, 0.1, "float32")])
        assert tuple(model.outputs[0].shape) == (None, 1)
        outputs.append(_to_np(model.predict(RNG.normal(size=(8, 6)).astype("float32") * 0 + X[:8, :1], verbose=0)))
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-5, atol=1e-6)
