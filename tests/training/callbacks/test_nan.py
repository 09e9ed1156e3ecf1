"""TerminateOnNaN: stops at the first NaN batch (the optimizer's step count says where), lets finite runs
finish, raises with raise_error=True; the same stopping point as Keras 3's callback on the same loss sequence."""

from __future__ import annotations

import numpy as np
import pytest
from callback_helpers import StubModel, data, model

import lamina
from lamina import layers
from lamina.callbacks import TerminateOnNaN
from lamina.optimizers import SGD


class NaNAfter(layers.Layer):
    """Identity until ``k`` training calls have passed, then NaN."""

    def __init__(self, k, **kwargs):
        super().__init__(**kwargs)
        self.k = k
        self.calls = 0

    def call(self, x, training=None):
        if training:
            self.calls += 1
            if self.calls > self.k:
                return x * float("nan")
        return x


def nan_model(k=3):
    m = lamina.Sequential([layers.Input((4,)), NaNAfter(k), layers.Dense(2)])
    m.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    return m


def test_terminate_on_nan_stops_at_the_first_nan_batch(capsys):
    m = nan_model(3)
    history = m.fit(*data(20), batch_size=4, epochs=3, verbose=0, callbacks=[TerminateOnNaN()])
    assert m.optimizer.iterations == 4  # batches 0-2 fine, batch 3 NaN, then stop
    assert history.epoch == [0]
    assert np.isnan(history.history["loss"][0])
    assert "Batch 3: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_raise_error():
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 1"):
        nan_model(1).fit(*data(20), batch_size=4, epochs=1, verbose=0, callbacks=[TerminateOnNaN(raise_error=True)])


def test_terminate_on_nan_lets_finite_training_run():
    m = model()
    history = m.fit(*data(12), batch_size=4, epochs=2, verbose=0, callbacks=[TerminateOnNaN()])
    assert history.epoch == [0, 1] and m.optimizer.iterations == 6


@pytest.mark.parametrize("losses", [[1.0, 2.0, float("inf"), 1.0], [float("nan")], [1.0, -float("inf")], [1.0]])
def test_terminate_on_nan_decides_like_keras(keras, capsys, losses):
    stops = []
    for cb in (TerminateOnNaN(), keras.callbacks.TerminateOnNaN()):
        stub = StubModel()
        cb.set_model(stub)
        stopped = None
        for batch, loss in enumerate(losses):
            cb.on_train_batch_end(batch, {"loss": loss})
            if stub.stop_training:
                stopped = batch
                break
        stops.append(stopped)
    assert stops[0] == stops[1]
    printed = capsys.readouterr().out.splitlines()
    assert printed[: len(printed) // 2] == printed[len(printed) // 2:]  # the same message
