"""The callback protocol: hook order (against Keras 3 running the same recorder), batch logs, params, which
hooks a CallbackList dispatches (no batch hooks unless a callback needs them), ``stop_training`` from every hook
(against Keras 3), LambdaCallback and History."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from callback_helpers import StubModel, data, init_weights, keras_model, model

from lamina.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
)
from lamina.training.callbacks import BATCH_HOOKS, HOOKS


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
    # the same epoch log keys as Keras (the learning rate only from the LR callbacks, as in Keras 3)
    ours = [sorted(logs) for hook, _, logs in runs["lamina"] if hook == "on_epoch_end"]
    theirs = [sorted(logs) for hook, _, logs in runs["keras"] if hook == "on_epoch_end"]
    assert ours == theirs


def test_params_are_set():
    rec = LaminaRecorder()
    model().fit(*data(12), batch_size=4, epochs=2, verbose=0, callbacks=[rec])
    assert rec.params == {"verbose": 0, "epochs": 2, "steps": 3}
    assert rec.model is not None


def test_batch_logs_are_floats_with_the_running_means_of_the_epoch():
    x, y = data(12)
    rec = LaminaRecorder()
    history = model().fit(x, y, batch_size=4, epochs=1, shuffle=False, validation_data=(x, y), verbose=0,
                          callbacks=[rec])
    params = [torch.tensor(w, requires_grad=True) for w in init_weights()]  # the same run in plain PyTorch
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


# ----------------------------------------------------------------------------------------------- dispatch
def test_callback_list_dispatches_hooks_only_to_callbacks_that_define_them():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    cbs = CallbackList([EpochOnly(), History()])
    assert cbs.wants("on_epoch_end") and not cbs.wants("on_train_batch_end") and not cbs.wants("on_test_end")
    cbs.append(LaminaRecorder())
    assert all(cbs.wants(h) for h in HOOKS)
    with pytest.raises(TypeError, match="Callback instances"):
        CallbackList([lambda epoch: None])
    with pytest.raises(ValueError, match="on_epoch_ends"):
        cbs.wants("on_epoch_ends")


def test_callback_list_add_history_and_model_and_params():
    stub = StubModel()
    cbs = CallbackList([EarlyStopping()], add_history=True, model=stub, epochs=3)
    assert [type(cb).__name__ for cb in cbs] == ["EarlyStopping", "History"] and len(cbs) == 2
    assert all(cb.model is stub and cb.params == {"epochs": 3} for cb in cbs)
    with_bar = CallbackList([], add_progbar=True, add_history=True)
    assert [type(cb).__name__ for cb in with_bar] == ["History", "ProgbarLogger"]


@pytest.mark.parametrize(("make", "batch_hooks"), [
    (lambda tmp: EarlyStopping(), set()),
    (lambda tmp: ReduceLROnPlateau(), set()),
    (lambda tmp: LearningRateScheduler(lambda epoch, lr: lr), set()),
    (lambda tmp: CSVLogger(str(tmp / "log.csv")), set()),
    (lambda tmp: History(), set()),
    (lambda tmp: LambdaCallback(on_epoch_end=lambda e, logs: None), set()),
    (lambda tmp: ModelCheckpoint(str(tmp / "w.weights.safetensors"), save_weights_only=True), set()),
    (lambda tmp: TensorBoard(str(tmp)), set()),
    (lambda tmp: TensorBoard(str(tmp), histogram_freq=1, write_images=True), set()),
    (lambda tmp: ModelCheckpoint(str(tmp / "w.weights.safetensors"), save_weights_only=True, save_freq=3),
     {"on_train_batch_end"}),
    (lambda tmp: TensorBoard(str(tmp), update_freq=5), {"on_train_batch_end"}),
    (lambda tmp: TensorBoard(str(tmp), update_freq="batch"), {"on_train_batch_end"}),
    (lambda tmp: TerminateOnNaN(), {"on_train_batch_end"}),
    (lambda tmp: LambdaCallback(on_train_batch_begin=lambda b, logs: None), {"on_train_batch_begin"}),
])
def test_only_callbacks_that_need_batches_get_batch_hooks(tmp_path, make, batch_hooks):
    cbs = CallbackList([make(tmp_path)])
    assert {h for h in BATCH_HOOKS if cbs.wants(h)} == batch_hooks
    assert cbs.reads_batch_logs("on_train_batch_end") == ("on_train_batch_end" in batch_hooks)


def test_a_fit_without_batch_callbacks_never_calls_batch_hooks(tmp_path, monkeypatch):
    """The callbacks that do not need batches are never called per batch (no batch logs, no host sync)."""
    called = []
    fire = CallbackList._fire

    def recording_fire(self, hook, *args):
        called.extend((hook, type(cb).__name__) for cb in self._wanting[hook])
        fire(self, hook, *args)

    monkeypatch.setattr(CallbackList, "_fire", recording_fire)
    cbs = [EarlyStopping(monitor="loss"), ReduceLROnPlateau(monitor="loss"), CSVLogger(str(tmp_path / "l.csv")),
           ModelCheckpoint(str(tmp_path / "w.weights.safetensors"), save_weights_only=True),
           TensorBoard(str(tmp_path / "tb")), LearningRateScheduler(lambda e, lr: lr)]
    model().fit(*data(12), batch_size=4, epochs=2, verbose=0, callbacks=cbs)
    assert {hook for hook, _ in called} == {"on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end"}
    assert {name for _, name in called} == {type(cb).__name__ for cb in cbs} | {"History"}


def test_old_batch_hook_names_count_as_train_batch_hooks():
    seen = []

    class Old(Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(batch)

    cbs = CallbackList([Old()])
    assert cbs.wants("on_train_batch_end") and not cbs.wants("on_test_batch_end")
    cbs.on_train_batch_end(4, {"loss": 1.0})
    assert seen == [4]


# ----------------------------------------------------------------------------------------------- stop_training
STOP_HOOKS = ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end", "on_test_begin",
              "on_test_batch_end", "on_test_end", "on_epoch_end"]


def stopper_class(base, hook, at_call):
    def method(self, *args, **kwargs):
        self.count += 1
        if self.count == at_call:
            self.model.stop_training = True

    def __init__(self):
        base.__init__(self)
        self.count = 0

    return type("Stopper", (base,), {"__init__": __init__, hook: method})


@pytest.mark.parametrize("hook", STOP_HOOKS)
def test_stop_training_from_any_hook_matches_keras(keras, hook):
    at_call = 1 if hook == "on_train_begin" else (4 if "train_batch" in hook else 2)
    x, y = data(12)
    vx, vy = data(4, seed=1)
    results = {}
    for lib, m, base in (("lamina", model(), Callback), ("keras", keras_model(keras), keras.callbacks.Callback)):
        history = m.fit(x, y, batch_size=4, epochs=4, validation_data=(vx, vy), verbose=0,
                        callbacks=[stopper_class(base, hook, at_call)()])
        results[lib] = (int(np.asarray(m.optimizer.iterations)), history.epoch)
    assert results["lamina"] == results["keras"]
    assert results["lamina"][0] < 12  # it did stop


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


def test_lambda_callback_matches_keras_lambda_callback(keras):
    x, y = data(12)
    runs = {}
    for lib, m, make in (("lamina", model(), LambdaCallback), ("keras", keras_model(keras),
                                                               keras.callbacks.LambdaCallback)):
        calls = []
        cb = make(on_epoch_begin=lambda epoch, logs, c=calls: c.append(("eb", epoch)),
                  on_train_batch_begin=lambda batch, logs, c=calls: c.append(("bb", batch)),
                  on_train_end=lambda logs, c=calls: c.append(("te",)))
        m.fit(x, y, batch_size=6, epochs=2, verbose=0, callbacks=[cb])
        runs[lib] = calls
    assert runs["lamina"] == runs["keras"]


def test_lambda_callback_only_wants_the_hooks_it_was_given():
    cb = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    cbs = CallbackList([cb])
    assert cbs.wants("on_epoch_end")
    assert not cbs.wants("on_train_batch_end") and not cbs.wants("on_epoch_begin")
    assert not cb.reads_batch_logs
    assert CallbackList([LambdaCallback(on_batch_end=lambda b, logs: None)]).reads_batch_logs("on_train_batch_end")


def test_lambda_callback_rejects_unknown_hooks_and_non_functions():
    with pytest.raises(TypeError, match="on_epoch_ende"):
        LambdaCallback(on_epoch_ende=lambda epoch, logs: None)
    with pytest.raises(TypeError, match="takes a function"):
        LambdaCallback(on_epoch_end=3)


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


def test_hooks_get_a_dict_not_none_as_in_keras():
    seen = []

    class KeysReader(Callback):
        def on_train_begin(self, logs=None):
            seen.append(sorted(logs.keys()))

        def on_epoch_begin(self, epoch, logs=None):
            seen.append(sorted(logs.keys()))

        def on_predict_end(self, logs=None):
            seen.append(sorted(logs.keys()))

    m = model()
    m.fit(*data(8), batch_size=4, epochs=1, verbose=0, callbacks=[KeysReader()])
    m.predict(data(4)[0], verbose=0, callbacks=[KeysReader()])
    assert seen == [[], [], []]


# ----------------------------------------------------------------------------------------------- ProgbarLogger
def test_progbar_logger_draws_a_custom_loops_progress(capsys):
    from lamina.callbacks import ProgbarLogger

    cbs = CallbackList([], add_progbar=True, verbose=2, epochs=2, steps=3)
    assert isinstance(cbs.callbacks[-1], ProgbarLogger)
    for epoch in range(2):
        cbs.on_epoch_begin(epoch)
        for batch in range(3):
            cbs.on_train_batch_begin(batch)
            cbs.on_train_batch_end(batch, {"loss": 1.0 / (batch + 1)})
        cbs.on_epoch_end(epoch, {"loss": 0.5, "val_loss": 0.75})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("3/3 - ") and lines[1].endswith("loss: 0.5000 - val_loss: 0.7500")


def test_progbar_logger_in_fit_adds_no_second_bar(capsys):
    from lamina.callbacks import ProgbarLogger

    x, y = data()
    model().fit(x, y, batch_size=4, epochs=1, verbose=2, callbacks=[ProgbarLogger()])
    assert capsys.readouterr().out.count("Epoch 1/1") == 1
    model().fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[ProgbarLogger()])
    assert capsys.readouterr().out == ""  # as Keras: the bar follows fit's verbose


def test_callback_model_is_a_read_only_property_like_keras(keras):
    for base in (Callback, keras.callbacks.Callback):
        cb = base()
        assert cb.model is None
        with pytest.raises(AttributeError):
            cb.model = object()
        stub = StubModel()
        cb.set_model(stub)
        assert cb.model is stub


def test_every_keras_callback_name_exists_but_orbax(keras):
    import lamina.callbacks

    missing = {n for n in dir(keras.callbacks) if not n.startswith("_") and not hasattr(lamina.callbacks, n)}
    assert missing <= {"OrbaxCheckpoint"}  # Orbax: JAX's checkpoint library, outside this callbacks package
