"""What the callback tests share: tiny data and models (lamina and Keras, same weights), a stand-in model for
driving callbacks by hand, and a callback that writes scripted values into the epoch logs."""

from __future__ import annotations

import numpy as np

import lamina
from lamina import layers
from lamina.callbacks import Callback
from lamina.optimizers import SGD


def data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")


def init_weights(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.5, size=s).astype("float32") for s in ((4, 5), (5,), (5, 2), (2,))]


def model(weights=None, lr=0.1, metrics=("mae",)):
    m = lamina.Sequential([layers.Input((4,)), layers.Dense(5, activation="tanh", name="hidden"),
                           layers.Dense(2, name="out")])
    m.set_weights(weights if weights is not None else init_weights())
    m.compile(optimizer=SGD(learning_rate=lr), loss="mse", metrics=list(metrics))
    return m


def keras_model(keras, weights=None, lr=0.1):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(2)])
    m.set_weights(weights if weights is not None else init_weights())
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse", metrics=["mae"])
    return m


class StubOptimizer:
    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate
        self.iterations = 0


class StubModel:
    """What the monitoring callbacks touch: stop_training, an optimizer, and weights (here: the epoch they
    belong to)."""

    def __init__(self, learning_rate=0.1):
        self.stop_training = False
        self.epoch = -1
        self.restored = None
        self.optimizer = StubOptimizer(learning_rate)

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])


class Script(Callback):
    """Writes a scripted value into the epoch logs (before later callbacks read them) and keeps the weights."""

    def __init__(self, values, key="score"):
        super().__init__()
        self.values, self.key = values, key
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.weights.append([w.copy() for w in self.model.get_weights()])
