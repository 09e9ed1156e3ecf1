"""EarlyStopping (and the monitor logic it shares with ModelCheckpoint and ReduceLROnPlateau): hand-derived stop
epochs on scripted values, the same decisions as Keras 3's own EarlyStopping on the same sequences, and in fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from callback_helpers import Script, StubModel, data, model

import lamina
from lamina import layers
from lamina.callbacks import EarlyStopping
from lamina.optimizers import SGD


def simulate(callback, values, monitor="val_loss", stub=None):
    stub = stub or StubModel()
    callback.set_model(stub)
    callback.on_train_begin()
    stopped = None
    for epoch, value in enumerate(values):
        stub.epoch = epoch
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {monitor: value})
        if stub.stop_training:
            stopped = epoch
            break
    callback.on_train_end()
    return stopped, stub.restored


ES_CASES = [  # (values, kwargs, hand-derived (stop epoch, restored epoch))
    ([1.0, 1.1], {"patience": 0}, (1, None)),
    ([1.0, 0.9, 0.95, 0.96, 0.97, 0.5], {"patience": 2}, (3, None)),
    ([1.0, 0.9, 0.95, 0.96, 0.97, 0.5], {"patience": 4}, (None, None)),
    ([1.0, 0.95, 0.92, 0.8, 0.79, 0.78], {"patience": 1, "min_delta": 0.1}, (1, None)),
    ([1.0, 0.95, 0.92, 0.8, 0.79, 0.78], {"patience": 2, "min_delta": 0.1}, (2, None)),
    ([0.5, 0.6, 0.6, 0.55, 0.7], {"patience": 1, "mode": "max"}, (2, None)),
    ([0.5, 0.6, 0.65, 0.66, 0.7], {"patience": 1, "mode": "max", "min_delta": 0.04}, (3, None)),
    ([0.9, 0.8, 0.7, 0.6, 0.4], {"patience": 3, "baseline": 0.5}, (None, None)),  # improving: never stops
    ([0.9, 0.95, 0.97], {"patience": 2}, (2, None)),
    ([0.9, 0.95, 0.97], {"patience": 2, "baseline": 0.5}, (1, None)),  # not beating the baseline counts
    ([0.9, 0.4, 0.45, 0.5], {"patience": 1, "baseline": 0.5}, (2, None)),
    ([1.0, 0.5, 0.7, 0.8, 0.9], {"patience": 2, "restore_best_weights": True}, (3, 1)),
    ([0.1, 0.2, 1.0, 1.1, 1.2], {"patience": 1, "start_from_epoch": 2}, (3, None)),
    ([0.1, 0.2, 1.0, 1.1, 1.2], {"patience": 1, "start_from_epoch": 2, "restore_best_weights": True}, (3, 2)),
]


@pytest.mark.parametrize(("values", "kwargs", "expected"), ES_CASES, ids=lambda v: str(v))
def test_early_stopping_on_scripted_values(values, kwargs, expected):
    assert simulate(EarlyStopping(**{"mode": "min", **kwargs}), values) == expected


@pytest.mark.parametrize(("values", "kwargs"), [
    *[(v, k) for v, k, _ in ES_CASES],
    ([1.0, 0.5, 0.7], {"patience": 5, "restore_best_weights": True}),  # no stop: Keras 3 restores the best anyway
    ([1.0, 0.5, 0.7, 0.6], {"patience": 3, "restore_best_weights": True, "start_from_epoch": 1}),
], ids=lambda v: str(v))
def test_early_stopping_matches_keras(keras, values, kwargs):
    kwargs = {"mode": "min", **kwargs}
    ours = EarlyStopping(**kwargs)
    theirs = keras.callbacks.EarlyStopping(**kwargs)
    assert simulate(ours, values) == simulate(theirs, values)
    assert ours.best == pytest.approx(float(theirs.best))
    assert ours.best_epoch == theirs.best_epoch
    assert ours.wait == theirs.wait


def classifier_pair(keras):
    """A lamina and a Keras classifier compiled with accuracy and mae: auto mode reads the metrics."""
    ours = lamina.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    ours.compile(optimizer=SGD(0.1), loss="categorical_crossentropy", metrics=["accuracy", "mae"])
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    theirs.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy", "mae"])
    x, y = np.ones((4, 4), "float32"), np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    ours.fit(x, y, epochs=1, verbose=0)
    theirs.fit(x, y, epochs=1, verbose=0)
    return ours, theirs


@pytest.mark.parametrize(("monitor", "values"), [
    ("val_loss", [1.0, 2.0, 0.5, 0.6]),
    ("val_accuracy", [0.5, 0.6, 0.55, 0.4]),
    ("accuracy", [0.5, 0.4, 0.3]),
    ("val_mae", [0.5, 0.4, 0.6, 0.7]),
])
def test_early_stopping_auto_mode_infers_the_direction_like_keras(keras, monitor, values):
    ours_model, theirs_model = classifier_pair(keras)
    results = []
    for cb, m in ((EarlyStopping(monitor=monitor, patience=1), ours_model),
                  (keras.callbacks.EarlyStopping(monitor=monitor, patience=1), theirs_model)):
        cb.set_model(m)
        cb.on_train_begin()
        stopped = None
        m.stop_training = False
        for epoch, value in enumerate(values):
            cb.on_epoch_end(epoch, {monitor: value})
            if m.stop_training:
                stopped = epoch
                break
        results.append((stopped, float(cb.best)))
    assert results[0] == results[1]


def test_auto_mode_without_a_known_direction_is_a_clear_error():
    cb = EarlyStopping(monitor="val_wobble")
    cb.set_model(StubModel())
    cb.on_train_begin()
    with pytest.raises(ValueError, match="mode='max'"):
        cb.on_epoch_end(0, {"val_wobble": 1.0})


def test_a_metric_direction_attribute_wins_over_the_name():
    class Metric:
        name = "wobble_loss"
        _direction = "up"

    stub = StubModel()
    stub.metrics = [Metric()]
    assert simulate(EarlyStopping(monitor="val_wobble_loss", patience=0), [1.0, 2.0, 0.5], "val_wobble_loss",
                    stub) == (2, None)


def test_early_stopping_warns_when_the_monitor_is_missing():
    cb = EarlyStopping(monitor="val_score")
    cb.set_model(StubModel())
    cb.on_train_begin()
    with pytest.warns(UserWarning, match="val_score.*validation_data"):
        cb.on_epoch_end(0, {"loss": 1.0})


def test_early_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="maximum")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="start_from_epoch"):
        EarlyStopping(start_from_epoch=1.5)


def test_early_stopping_in_fit_restores_the_best_epochs_weights(capsys):
    script = Script([3.0, 1.0, 2.0, 2.5, 2.7, 0.1])
    es = EarlyStopping(monitor="score", mode="min", patience=2, restore_best_weights=True, verbose=1)
    m = model()
    history = m.fit(*data(12), batch_size=4, epochs=6, verbose=0, callbacks=[script, es])
    assert history.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3
    assert history.history["score"] == [3.0, 1.0, 2.0, 2.5]
    for got, best in zip(m.get_weights(), script.weights[1], strict=True):
        np.testing.assert_array_equal(got, best)
    assert not np.array_equal(script.weights[1][0], script.weights[3][0])
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out and "best epoch: 2." in out


def test_early_stopping_on_real_validation_loss_stops_where_hand_computed():
    """With validation data the model cannot fit (targets independent of inputs), a hand check of History."""
    es = EarlyStopping(monitor="val_loss", patience=1)
    x, y = data(24)
    vx, vy = data(8, seed=5)
    history = model(lr=0.5).fit(x, y, batch_size=4, epochs=30, validation_data=(vx, vy), verbose=0,
                                callbacks=[es])
    val = history.history["val_loss"]
    best, wait, expected_stop = val[0], 0, None
    for epoch, v in enumerate(val[1:], start=1):
        if v < best:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= 1:
                expected_stop = epoch
                break
    assert expected_stop is not None and expected_stop < 29
    assert history.epoch[-1] == expected_stop == es.stopped_epoch


def test_early_stopping_is_reusable_across_fits():
    es = EarlyStopping(monitor="score", mode="min", patience=0)
    m = model()
    m.fit(*data(12), epochs=3, verbose=0, callbacks=[Script([1.0, 2.0, 3.0]), es])
    history = m.fit(*data(12), epochs=3, verbose=0, callbacks=[Script([5.0, 4.0, 3.0]), es])
    assert history.epoch == [0, 1, 2]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_state_dict_resumes_exactly_through_json(cut):
    """Stopping part-way, saving the state as JSON and continuing in a fresh callback decides as one run does."""
    values = [1.0, 0.5, 0.7, 0.6, 0.8, 0.9]
    kwargs = {"monitor": "val_loss", "patience": 3, "restore_best_weights": True, "min_delta": 0.05}
    whole = simulate(EarlyStopping(**kwargs), values)

    first, stub = EarlyStopping(**kwargs), StubModel()
    first.set_model(stub)
    first.on_train_begin()
    for epoch in range(cut):
        stub.epoch = epoch
        first.on_epoch_end(epoch, {"val_loss": values[epoch]})
    saved = json.loads(json.dumps(first.state_dict()))

    second = EarlyStopping(**kwargs)
    second.set_model(stub)
    second.on_train_begin()
    second.load_state_dict(saved)
    stopped = None
    for epoch in range(cut, len(values)):
        stub.epoch = epoch
        second.on_epoch_end(epoch, {"val_loss": values[epoch]})
        if stub.stop_training:
            stopped = epoch
            break
    second.on_train_end()
    assert (stopped, stub.restored) == whole == (4, 1)
