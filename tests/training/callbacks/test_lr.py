"""ReduceLROnPlateau and LearningRateScheduler: the same learning rates and counters as Keras 3's callbacks on
the same logs sequences, the rate written into the epoch logs, and the rate the optimizer actually steps with
(the trained weights equal Keras's under the same schedule)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from callback_helpers import Script, StubModel, data, keras_model, model

from lamina.callbacks import LearningRateScheduler, ReduceLROnPlateau


def drive(cb, values, lr=0.1, monitor="val_loss"):
    """Run ``cb`` over scripted epoch values; return the learning rate logged at each epoch end and the rate
    after the last epoch."""
    stub = StubModel(learning_rate=lr)
    cb.set_model(stub)
    cb.on_train_begin()
    logged = []
    for epoch, value in enumerate(values):
        logs = {monitor: value}
        cb.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
    return logged, float(np.asarray(stub.optimizer.learning_rate))


PLATEAU_CASES = [
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], {"patience": 2}),
    ([1.0, 0.9, 0.95, 0.96, 0.8, 0.81, 0.82, 0.83], {"patience": 2, "factor": 0.5}),
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], {"patience": 1, "factor": 0.5, "cooldown": 2}),
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], {"patience": 1, "factor": 0.1, "min_lr": 0.002}),
    ([1.0, 0.99995, 0.9999, 0.9, 0.9], {"patience": 1, "factor": 0.5}),  # default min_delta 1e-4
    ([1.0, 0.95, 0.92, 0.91], {"patience": 1, "factor": 0.5, "min_delta": 0.05}),
    ([0.5, 0.6, 0.6, 0.6, 0.7], {"patience": 1, "factor": 0.5, "mode": "max"}),
    ([1.0, 1.0, 1.0, 1.0], {"patience": 0, "factor": 0.5}),
]


@pytest.mark.parametrize(("values", "kwargs"), PLATEAU_CASES, ids=str)
def test_reduce_lr_on_plateau_matches_keras(keras, values, kwargs):
    ours = ReduceLROnPlateau(**kwargs)
    theirs = keras.callbacks.ReduceLROnPlateau(**kwargs)
    ours_logged, ours_lr = drive(ours, values)
    theirs_logged, theirs_lr = drive(theirs, values)
    assert ours_logged == pytest.approx(theirs_logged, rel=1e-6)
    assert ours_lr == pytest.approx(theirs_lr, rel=1e-6)
    assert (ours.wait, ours.cooldown_counter) == (theirs.wait, theirs.cooldown_counter)


def test_reduce_lr_on_plateau_by_hand():
    # patience 2, factor 0.5: epochs 1, 2 do not improve -> reduce at the end of epoch 2 (logged before)
    logged, lr = drive(ReduceLROnPlateau(patience=2, factor=0.5), [1.0, 1.0, 1.0, 1.0, 1.0])
    assert logged == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05])
    assert lr == pytest.approx(0.025)
    # min_lr is a floor
    _, lr = drive(ReduceLROnPlateau(patience=0, factor=0.1, min_lr=0.005), [1.0] * 6)
    assert lr == pytest.approx(0.005)


def test_reduce_lr_on_plateau_in_fit_changes_the_optimizer_and_history(capsys):
    script = Script([1.0, 1.0, 1.0, 1.0], key="score")
    cb = ReduceLROnPlateau(monitor="score", mode="min", patience=1, factor=0.5, verbose=1)
    m = model(lr=0.2)
    history = m.fit(*data(12), batch_size=4, epochs=4, verbose=0, callbacks=[script, cb])
    # epoch 0 sets the best; each later epoch fails to improve (patience 1) and halves the rate after logging it
    assert history.history["learning_rate"] == pytest.approx([0.2, 0.2, 0.1, 0.05])
    assert m.optimizer.learning_rate == pytest.approx(0.025)
    assert [g["lr"] for g in m.optimizer.torch_optimizer.param_groups] == pytest.approx([0.025])
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.1." in capsys.readouterr().out


def test_reduce_lr_on_plateau_warns_when_the_monitor_is_missing():
    cb = ReduceLROnPlateau(monitor="val_loss")
    cb.set_model(StubModel())
    cb.on_train_begin()
    logs = {"loss": 1.0}
    with pytest.warns(UserWarning, match="val_loss"):
        cb.on_epoch_end(0, logs)
    assert logs["learning_rate"] == 0.1


def test_reduce_lr_on_plateau_rejects_bad_arguments():
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        ReduceLROnPlateau(mode="lowest")


# ----------------------------------------------------------------------------------------------- scheduler
def schedule_two(epoch, lr):
    return lr if epoch < 2 else lr * 0.5


def schedule_one(epoch):
    return 0.1 / (1 + epoch)


@pytest.mark.parametrize("schedule", [schedule_two, schedule_one])
def test_learning_rate_scheduler_trains_like_keras(keras, schedule):
    x, y = data(16)
    ours, theirs = model(lr=0.1), keras_model(keras, lr=0.1)
    h_ours = ours.fit(x, y, batch_size=4, epochs=4, shuffle=False, verbose=0,
                      callbacks=[LearningRateScheduler(schedule)])
    h_theirs = theirs.fit(x, y, batch_size=4, epochs=4, shuffle=False, verbose=0,
                          callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
    assert h_ours.history["learning_rate"] == pytest.approx(h_theirs.history["learning_rate"], rel=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert h_ours.history["loss"] == pytest.approx(h_theirs.history["loss"], rel=1e-4)


def test_learning_rate_scheduler_by_hand(capsys):
    m = model(lr=0.3)
    history = m.fit(*data(12), epochs=3, verbose=0,
                    callbacks=[LearningRateScheduler(lambda epoch, lr: 0.3 * math.exp(-epoch), verbose=1)])
    assert history.history["learning_rate"] == pytest.approx([0.3, 0.3 * math.exp(-1), 0.3 * math.exp(-2)])
    assert m.optimizer.torch_optimizer.param_groups[0]["lr"] == pytest.approx(0.3 * math.exp(-2))
    assert "Epoch 3: LearningRateScheduler setting learning rate to" in capsys.readouterr().out


def test_learning_rate_scheduler_rejects_a_non_number():
    with pytest.raises(ValueError, match="must return a float"):
        model().fit(*data(12), epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda epoch: "fast")])
    with pytest.raises(TypeError, match="schedule"):
        LearningRateScheduler(0.1)


def test_learning_rate_callbacks_need_an_optimizer():
    cb = LearningRateScheduler(schedule_one)

    class Bare:
        optimizer = None

    cb.set_model(Bare())
    with pytest.raises(ValueError, match="compile"):
        cb.on_epoch_begin(0)


def test_reduce_lr_state_dict_resumes_exactly_through_json():
    values = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]
    kwargs = {"patience": 1, "factor": 0.5, "cooldown": 1}
    whole, whole_lr = drive(ReduceLROnPlateau(**kwargs), values)
    first, stub = ReduceLROnPlateau(**kwargs), StubModel()
    first.set_model(stub)
    first.on_train_begin()
    logged = []
    for epoch in range(3):
        logs = {"val_loss": values[epoch]}
        first.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
    second = ReduceLROnPlateau(**kwargs)
    second.set_model(stub)
    second.on_train_begin()
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    for epoch in range(3, len(values)):
        logs = {"val_loss": values[epoch]}
        second.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
    assert logged == whole and stub.optimizer.learning_rate == whole_lr
