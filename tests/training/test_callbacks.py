"""Callbacks: the order of the hooks (against Keras 3 running the same recorder), batch logs, EarlyStopping and
ModelCheckpoint (against Keras 3's own callbacks on the same sequences), LambdaCallback, TerminateOnNaN, History."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.callbacks import (
    Callback,
    CallbackList,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    TerminateOnNaN,
)
from lamina.optimizers import SGD

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)


def recorder_class(base):
    """A callback (of lamina's or Keras's base class) that records every hook as (name, index, logs)."""

    def make(hook):
        def method(self, *args, **kwargs):  # Keras passes logs by keyword
            args = (*args, *kwargs.values())
            index = args[0] if args and isinstance(args[0], int) else None
            logs = args[-1] if args and isinstance(args[-1], dict) else None
            self.calls.append((hook, index, None if logs is None else dict(logs)))
        return method

    def __init__(self):
        base.__init__(self)
        self.calls = []

    return type("Recorder", (base,), {"__init__": __init__, **{h: make(h) for h in HOOKS}})


LaminaRecorder = recorder_class(Callback)


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


def keras_model(keras, weights=None):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(2)])
    m.set_weights(weights if weights is not None else init_weights())
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    return m


def names(calls):
    return [(hook, index) for hook, index, _ in calls]


# ----------------------------------------------------------------------------------------------- hook order
def expected_fit_order(epochs, steps, val_steps):
    order = [("on_train_begin", None)]
    for e in range(epochs):
        order.append(("on_epoch_begin", e))
        for b in range(steps):
            order += [("on_train_batch_begin", b), ("on_train_batch_end", b)]
        if val_steps:
            order.append(("on_test_begin", None))
            for b in range(val_steps):
                order += [("on_test_batch_begin", b), ("on_test_batch_end", b)]
            order.append(("on_test_end", None))
        order.append(("on_epoch_end", e))
    return [*order, ("on_train_end", None)]


def test_hook_order_for_fit_with_validation():
    x, y = data(12)
    vx, vy = data(5, seed=1)
    rec = LaminaRecorder()
    model().fit(x, y, batch_size=4, epochs=2, validation_data=(vx, vy), verbose=0, callbacks=[rec])
    assert names(rec.calls) == expected_fit_order(epochs=2, steps=3, val_steps=2)  # val batch size follows fit's


def test_hook_order_for_fit_evaluate_predict_matches_keras(keras):
    x, y = data(12)
    vx, vy = data(5, seed=1)
    runs = {}
    for lib, make, rec in (("lamina", lambda: model(), LaminaRecorder()),
                           ("keras", lambda: keras_model(keras), recorder_class(keras.callbacks.Callback)())):
        m = make()
        m.fit(x, y, batch_size=4, epochs=2, validation_data=(vx, vy), validation_batch_size=3, verbose=0,
              callbacks=[rec])
        m.evaluate(vx, vy, batch_size=2, verbose=0, callbacks=[rec])
        m.predict(vx, batch_size=2, verbose=0, callbacks=[rec])
        runs[lib] = rec.calls
    assert names(runs["lamina"]) == names(runs["keras"])
    # and the epoch logs carry the same keys
    ours = [sorted(logs) for hook, _, logs in runs["lamina"] if hook == "on_epoch_end"]
    theirs = [sorted(logs) for hook, _, logs in runs["keras"] if hook == "on_epoch_end"]
    assert ours == theirs


def test_hook_order_for_evaluate_and_predict():
    x, _ = data(5)
    rec = LaminaRecorder()
    m = model()
    m.evaluate(x, data(5)[1], batch_size=2, verbose=0, callbacks=[rec])
    m.predict(x, batch_size=2, verbose=0, callbacks=[rec])
    assert names(rec.calls) == [
        ("on_test_begin", None), ("on_test_batch_begin", 0), ("on_test_batch_end", 0), ("on_test_batch_begin", 1),
        ("on_test_batch_end", 1), ("on_test_batch_begin", 2), ("on_test_batch_end", 2), ("on_test_end", None),
        ("on_predict_begin", None), ("on_predict_batch_begin", 0), ("on_predict_batch_end", 0),
        ("on_predict_batch_begin", 1), ("on_predict_batch_end", 1), ("on_predict_batch_begin", 2),
        ("on_predict_batch_end", 2), ("on_predict_end", None)]


def test_params_are_set():
    rec = LaminaRecorder()
    model().fit(*data(12), batch_size=4, epochs=2, verbose=0, callbacks=[rec])
    assert rec.params == {"verbose": 0, "epochs": 2, "steps": 3}
    assert rec.model is not None


def test_batch_logs_are_floats_with_the_running_means_of_the_epoch():
    x, y = data(12)
    rec = LaminaRecorder()
    m = model()
    history = m.fit(x, y, batch_size=4, epochs=1, shuffle=False, validation_data=(x, y), verbose=0,
                    callbacks=[rec])
    # the running mean of the batch losses, by a plain-PyTorch loop
    params = [torch.tensor(w, requires_grad=True) for w in init_weights()]
    running, total, count = [], 0.0, 0
    for s in range(0, 12, 4):
        xb, yb = torch.tensor(x[s:s + 4]), torch.tensor(y[s:s + 4])
        loss = ((torch.tanh(xb @ params[0] + params[1]) @ params[2] + params[3] - yb) ** 2).mean()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= 0.1 * g
        total, count = total + loss.item() * 4, count + 4
        running.append(total / count)
    train_logs = [logs for hook, _, logs in rec.calls if hook == "on_train_batch_end"]
    test_logs = [logs for hook, _, logs in rec.calls if hook == "on_test_batch_end"]
    for logs in train_logs + test_logs:
        assert list(logs) == ["loss", "mae"]
        assert all(type(v) is float for v in logs.values())
    assert [logs["loss"] for logs in train_logs] == pytest.approx(running, rel=1e-5)
    assert train_logs[-1]["loss"] == pytest.approx(history.history["loss"][0], rel=1e-6)
    assert test_logs[-1]["loss"] == pytest.approx(history.history["val_loss"][0], rel=1e-6)
    predict_logs = [logs for hook, _, logs in rec.calls if hook == "on_predict_batch_end"]
    assert predict_logs == []


def test_predict_batch_end_receives_the_outputs():
    rec = LaminaRecorder()
    x, _ = data(5)
    m = model()
    m.predict(x, batch_size=3, verbose=0, callbacks=[rec])
    outs = [logs["outputs"] for hook, _, logs in rec.calls if hook == "on_predict_batch_end"]
    assert [tuple(o.shape) for o in outs] == [(3, 2), (2, 2)]
    np.testing.assert_allclose(torch.cat([torch.as_tensor(o) for o in outs]).numpy(), m.predict(x, verbose=0),
                               atol=1e-6)


def test_callback_list_dispatches_batch_hooks_only_to_callbacks_that_define_them():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    cbs = CallbackList([EpochOnly(), History()])
    assert cbs.wants("on_epoch_end") and not cbs.wants("on_train_batch_end")
    cbs.append(LaminaRecorder())
    assert cbs.wants("on_train_batch_end")
    with pytest.raises(TypeError, match="Callback instances"):
        CallbackList([lambda epoch: None])


# ----------------------------------------------------------------------------------------------- EarlyStopping
class StubModel:
    """What EarlyStopping touches: stop_training and weights (here: the epoch they belong to)."""

    def __init__(self):
        self.stop_training = False
        self.epoch = -1
        self.restored = None

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])


def simulate(callback, values, monitor="val_loss"):
    stub = StubModel()
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


@pytest.mark.parametrize(("monitor", "values", "stop"), [
    ("val_loss", [1.0, 2.0], 1),
    ("val_accuracy", [0.5, 0.6, 0.7], None),
    ("accuracy", [0.5, 0.4], 1),
])
def test_early_stopping_auto_mode_infers_the_direction(monitor, values, stop):
    assert simulate(EarlyStopping(monitor=monitor, patience=0), values, monitor)[0] == stop


def test_early_stopping_warns_when_the_monitor_is_missing():
    cb = EarlyStopping(monitor="val_score")
    cb.set_model(StubModel())
    cb.on_train_begin()
    with pytest.warns(UserWarning, match="val_score"):
        cb.on_epoch_end(0, {"loss": 1.0})


class Script(Callback):
    """Writes a scripted value into the epoch logs (before later callbacks read them) and keeps the weights."""

    def __init__(self, values):
        super().__init__()
        self.values = values
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.values[epoch]
        self.weights.append([w.copy() for w in self.model.get_weights()])


def test_early_stopping_in_fit_restores_the_best_epochs_weights():
    script = Script([3.0, 1.0, 2.0, 2.5, 2.7, 0.1])
    es = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    m = model()
    history = m.fit(*data(12), batch_size=4, epochs=6, verbose=0, callbacks=[script, es])
    assert history.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3
    assert history.history["score"] == [3.0, 1.0, 2.0, 2.5]
    for got, best in zip(m.get_weights(), script.weights[1], strict=True):
        np.testing.assert_array_equal(got, best)
    assert not np.array_equal(script.weights[1][0], script.weights[3][0])


def test_early_stopping_is_reusable_across_fits():
    es = EarlyStopping(monitor="score", patience=0)
    m = model()
    m.fit(*data(12), epochs=3, verbose=0, callbacks=[Script([1.0, 2.0, 3.0]), es])
    history = m.fit(*data(12), epochs=3, verbose=0, callbacks=[Script([5.0, 4.0, 3.0]), es])
    assert history.epoch == [0, 1, 2]


# ----------------------------------------------------------------------------------------------- ModelCheckpoint
def test_checkpoint_templated_filepath(tmp_path):
    m = model()
    vx, vy = data(6, seed=3)
    path = str(tmp_path / "w-{epoch:02d}-{val_loss:.2f}.weights.safetensors")
    history = m.fit(*data(12), batch_size=4, epochs=3, validation_data=(vx, vy), verbose=0,
                    callbacks=[ModelCheckpoint(path)])
    expected = sorted(f"w-{e + 1:02d}-{v:.2f}.weights.safetensors"
                      for e, v in enumerate(history.history["val_loss"]))
    assert sorted(os.listdir(tmp_path)) == expected


def test_checkpoint_save_best_only_writes_only_on_improvement(tmp_path):
    m = model()
    path = str(tmp_path / "best-{epoch}.weights.safetensors")
    script = Script([2.0, 1.0, 1.5, 0.5, 0.7])
    m.fit(*data(12), batch_size=4, epochs=5, verbose=0,
          callbacks=[script, ModelCheckpoint(path, monitor="score", mode="min", save_best_only=True)])
    assert sorted(os.listdir(tmp_path)) == ["best-1.weights.safetensors", "best-2.weights.safetensors",
                                            "best-4.weights.safetensors"]


def test_checkpoint_save_best_only_into_one_file_keeps_the_best_weights(tmp_path):
    m = model()
    path = str(tmp_path / "best.weights.safetensors")
    script = Script([2.0, 1.0, 1.5, 1.7])
    m.fit(*data(12), batch_size=4, epochs=4, verbose=0,
          callbacks=[script, ModelCheckpoint(path, monitor="score", save_best_only=True, mode="min")])
    fresh = model(weights=init_weights(seed=9))
    fresh.load_weights(path)
    for got, best in zip(fresh.get_weights(), script.weights[1], strict=True):
        np.testing.assert_array_equal(got, best)


def test_checkpoint_weights_load_back_and_predict_identically(tmp_path):
    x, y = data(12)

    class Predictions(Callback):
        def __init__(self):
            super().__init__()
            self.outputs = []

        def on_epoch_end(self, epoch, logs=None):
            self.outputs.append(self.model.predict(x, verbose=0))

    preds = Predictions()
    m = model()
    m.fit(x, y, batch_size=4, epochs=3, verbose=0,
          callbacks=[preds, ModelCheckpoint(str(tmp_path / "e{epoch}.weights.safetensors"))])
    for epoch in (1, 2, 3):
        fresh = model(weights=init_weights(seed=7))
        fresh.load_weights(str(tmp_path / f"e{epoch}.weights.safetensors"))
        np.testing.assert_array_equal(fresh.predict(x, verbose=0), preds.outputs[epoch - 1])
    assert not np.allclose(preds.outputs[0], preds.outputs[2])


def test_checkpoint_save_freq_in_batches(tmp_path):
    m = model()
    path = str(tmp_path / "s-{epoch}.weights.safetensors")
    saved = []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            saved.append(len(os.listdir(tmp_path)))

    m.fit(*data(12), batch_size=4, epochs=2, verbose=0, callbacks=[ModelCheckpoint(path, save_freq=2), Count()])
    assert saved == [0, 1, 1, 2, 2, 2]  # after batches 2, 4 (and 6 overwrites epoch 2's file)
    assert sorted(os.listdir(tmp_path)) == ["s-1.weights.safetensors", "s-2.weights.safetensors"]


def test_checkpoint_file_names_match_keras(keras, tmp_path):
    x, y = data(12)
    template = "c-{epoch:02d}-{batch:02d}"
    (tmp_path / "k").mkdir()
    (tmp_path / "l").mkdir()
    keras_model(keras).fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(
        str(tmp_path / "k" / (template + ".weights.h5")), save_weights_only=True, save_freq=2)])
    model().fit(x, y, batch_size=4, epochs=2, verbose=0,
                callbacks=[ModelCheckpoint(str(tmp_path / "l" / (template + ".weights.safetensors")), save_freq=2)])
    theirs = sorted(n.removesuffix(".weights.h5") for n in os.listdir(tmp_path / "k"))
    ours = sorted(n.removesuffix(".weights.safetensors") for n in os.listdir(tmp_path / "l"))
    assert len(theirs) == 3
    assert ours == theirs


def test_checkpoint_unknown_template_key_is_a_clear_error(tmp_path):
    m = model()
    with pytest.raises(KeyError, match="val_acc"):
        m.fit(*data(12), epochs=1, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "{val_acc}.weights.safetensors"))])


def test_checkpoint_rejects_bad_arguments():
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("x.weights.safetensors", save_freq=0)
    with pytest.raises(ValueError, match="save_weights_only"):
        ModelCheckpoint("x.weights.safetensors", save_weights_only=False)


# ----------------------------------------------------------------------------------------------- LambdaCallback
def test_lambda_callback_calls_the_given_functions():
    calls = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, type(logs["loss"]))),
        on_train_end=lambda logs: calls.append(("train_end",)),
        on_test_end=lambda logs: calls.append(("test_end", sorted(logs))),
    )
    model().fit(*data(8), batch_size=4, epochs=2, validation_data=data(4), verbose=0, callbacks=[cb])
    assert calls == [
        ("train_begin",),
        ("epoch_begin", 0), ("batch_end", 0, float), ("batch_end", 1, float), ("test_end", ["loss", "mae"]),
        ("epoch_end", 0, ["loss", "mae", "val_loss", "val_mae"]),
        ("epoch_begin", 1), ("batch_end", 0, float), ("batch_end", 1, float), ("test_end", ["loss", "mae"]),
        ("epoch_end", 1, ["loss", "mae", "val_loss", "val_mae"]),
        ("train_end",),
    ]


def test_lambda_callback_only_wants_the_hooks_it_was_given():
    cbs = CallbackList([LambdaCallback(on_epoch_end=lambda epoch, logs: None)])
    assert cbs.wants("on_epoch_end")
    assert not cbs.wants("on_train_batch_end") and not cbs.wants("on_epoch_begin")


def test_lambda_callback_rejects_unknown_hooks():
    with pytest.raises(TypeError, match="on_epoch_ende"):
        LambdaCallback(on_epoch_ende=lambda epoch, logs: None)


# ----------------------------------------------------------------------------------------------- TerminateOnNaN
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


def test_terminate_on_nan_stops_at_the_first_nan_batch(capsys):
    m = lamina.Sequential([layers.Input((4,)), NaNAfter(3), layers.Dense(2)])
    m.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    history = m.fit(*data(20), batch_size=4, epochs=3, verbose=0, callbacks=[TerminateOnNaN()])
    assert m.optimizer.iterations == 4  # batches 0-2 fine, batch 3 NaN, then stop
    assert history.epoch == [0]
    assert np.isnan(history.history["loss"][0])
    assert "Batch 3: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_lets_finite_training_run():
    m = model()
    history = m.fit(*data(12), batch_size=4, epochs=2, verbose=0, callbacks=[TerminateOnNaN()])
    assert history.epoch == [0, 1] and m.optimizer.iterations == 6


def test_terminate_on_nan_on_inf():
    cb = TerminateOnNaN()
    stub = StubModel()
    cb.set_model(stub)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cb.on_train_batch_end(0, {"loss": float("inf")})
    assert stub.stop_training


# ----------------------------------------------------------------------------------------------- History
def test_history_records_epoch_logs():
    h = History()
    h.set_model(StubModel())
    h.on_train_begin()
    h.on_epoch_end(0, {"loss": 2.0, "acc": 0.5})
    h.on_epoch_end(1, {"loss": 1.0, "acc": 0.75})
    assert h.epoch == [0, 1]
    assert h.history == {"loss": [2.0, 1.0], "acc": [0.5, 0.75]}
    assert h.model.history is h


def test_each_fit_returns_a_new_history():
    m = model()
    first = m.fit(*data(12), epochs=2, verbose=0)
    second = m.fit(*data(12), epochs=1, verbose=0)
    assert first is not second and m.history is second
    assert len(first.history["loss"]) == 2 and len(second.history["loss"]) == 1
    assert second.history["loss"][0] < first.history["loss"][0]
