"""SwapEMAWeights against Keras 3 (torch backend): the same model, weights, data and EMA optimizer give the same
validation losses (computed with the EMA weights), the same weights seen by later callbacks, and the same final
weights."""

from __future__ import annotations

import numpy as np
import pytest
from callback_helpers import data, init_weights

import lamina
from lamina import layers
from lamina.callbacks import Callback, SwapEMAWeights
from lamina.optimizers import SGD


def _lamina_model():
    m = lamina.Sequential([layers.Input((4,)), layers.Dense(5, activation="tanh"), layers.Dense(2)])
    m.set_weights(init_weights())
    m.compile(optimizer=SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.5), loss="mse")
    return m


def _keras_model(keras):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(2)])
    m.set_weights(init_weights())
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.5), loss="mse")
    return m


def _recorder(base):
    class Recorder(base):
        def __init__(self):
            super().__init__()
            self.seen = []

        def _record(self, hook):
            self.seen.append((hook, np.asarray(self.model.get_weights()[0]).copy()))

        def on_epoch_begin(self, epoch, logs=None):
            self._record("epoch_begin")

        def on_epoch_end(self, epoch, logs=None):
            self._record("epoch_end")

        def on_test_begin(self, logs=None):
            self._record("test_begin")

    return Recorder()


@pytest.mark.parametrize("swap_on_epoch", [False, True])
def test_swap_ema_weights_matches_keras(keras, swap_on_epoch):
    x, y = data()
    vx, vy = data(6, seed=1)
    keras_model, model = _keras_model(keras), _lamina_model()
    keras_rec, rec = _recorder(keras.callbacks.Callback), _recorder(Callback)
    want = keras_model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, validation_data=(vx, vy),
                           callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch=swap_on_epoch), keras_rec])
    got = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, validation_data=(vx, vy),
                    callbacks=[SwapEMAWeights(swap_on_epoch=swap_on_epoch), rec])
    np.testing.assert_allclose(got.history["val_loss"], want.history["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(got.history["loss"], want.history["loss"], rtol=1e-5)
    assert [h for h, _ in rec.seen] == [h for h, _ in keras_rec.seen]
    for (_, ours), (_, theirs) in zip(rec.seen, keras_rec.seen, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_evaluate_uses_the_ema_weights_and_restores_the_trained_ones(keras):
    x, y = data()
    model = _lamina_model()
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)  # ends with the EMA weights
    model.set_weights([w + 0.1 for w in model.get_weights()])  # now the weights differ from their average
    trained = [w.copy() for w in model.get_weights()]
    plain = model.evaluate(x, y, verbose=0)
    with_ema = model.evaluate(x, y, verbose=0, callbacks=[SwapEMAWeights()])
    model.optimizer.swap_ema_weights()
    by_hand = model.evaluate(x, y, verbose=0)
    model.optimizer.swap_ema_weights()
    assert with_ema == pytest.approx(by_hand) and with_ema != pytest.approx(plain)
    for now, before in zip(model.get_weights(), trained, strict=True):
        np.testing.assert_array_equal(now, before)


def test_without_use_ema_it_warns_and_does_nothing():
    x, y = data()
    model = _lamina_model()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    with pytest.warns(UserWarning, match="use_ema=True"):
        model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_data=(x, y), callbacks=[SwapEMAWeights()])
