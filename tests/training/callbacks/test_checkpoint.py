"""ModelCheckpoint: file names from templates (hand-formatted, and the same names Keras 3 writes), save_best_only
decisions (against Keras 3's own callback on the same logs), batch-level saving, weights that load back, the
whole-model path, and clear errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from callback_helpers import Script, StubModel, data, init_weights, keras_model, model

import lamina
import lamina.saving
from lamina.callbacks import Callback, ModelCheckpoint


def weights_ckpt(path, **kwargs):
    return ModelCheckpoint(str(path), save_weights_only=True, **kwargs)


def test_templated_filepath(tmp_path):
    vx, vy = data(6, seed=3)
    path = tmp_path / "w-{epoch:02d}-{val_loss:.2f}-{mae:.3f}.weights.safetensors"
    history = model().fit(*data(12), batch_size=4, epochs=3, validation_data=(vx, vy), verbose=0,
                          callbacks=[weights_ckpt(path)])
    expected = sorted(f"w-{e + 1:02d}-{v:.2f}-{m:.3f}.weights.safetensors"
                      for e, (v, m) in enumerate(zip(history.history["val_loss"], history.history["mae"],
                                                     strict=True)))
    assert sorted(os.listdir(tmp_path)) == expected


def test_subfolders_are_created(tmp_path):
    model().fit(*data(12), epochs=2, verbose=0,
                callbacks=[weights_ckpt(tmp_path / "run" / "e{epoch}" / "w.weights.safetensors")])
    assert sorted(os.listdir(tmp_path / "run")) == ["e1", "e2"]


def test_save_best_only_writes_only_on_improvement(tmp_path, capsys):
    path = tmp_path / "best-{epoch}.weights.safetensors"
    script = Script([2.0, 1.0, 1.5, 0.5, 0.7])
    model().fit(*data(12), batch_size=4, epochs=5, verbose=0,
                callbacks=[script, weights_ckpt(path, monitor="score", mode="min", save_best_only=True, verbose=1)])
    assert sorted(os.listdir(tmp_path)) == ["best-1.weights.safetensors", "best-2.weights.safetensors",
                                            "best-4.weights.safetensors"]
    out = capsys.readouterr().out
    assert "Epoch 2: score improved from 2.00000 to 1.00000" in out
    assert "Epoch 3: score did not improve from 1.00000" in out


@pytest.mark.parametrize(("values", "kwargs"), [
    ([2.0, 1.0, 1.5, 0.5, 0.7], {"mode": "min"}),
    ([2.0, 1.0, 1.5, 0.5, 0.7], {"mode": "max"}),
    ([2.0, 1.0, 1.5, 0.5, 0.7], {"mode": "min", "initial_value_threshold": 0.8}),
    ([0.3, 0.5, 0.45, 0.9], {"mode": "max", "initial_value_threshold": 0.4}),
], ids=str)
def test_save_best_only_decisions_match_keras(keras, tmp_path, values, kwargs):
    """Drive both callbacks by hand on the same logs; record which epochs each saves."""
    saved = {}
    for lib, make, suffix in (("lamina", ModelCheckpoint, ".weights.safetensors"),
                              ("keras", keras.callbacks.ModelCheckpoint, ".weights.h5")):
        stub = StubModel()
        calls = []
        stub.save_weights = lambda path, overwrite=True, calls=calls: calls.append(os.path.basename(path))
        cb = make(str(tmp_path / ("e{epoch}" + suffix)), monitor="score", save_best_only=True,
                  save_weights_only=True, **kwargs)
        cb.set_model(stub)
        for epoch, value in enumerate(values):
            cb.on_epoch_begin(epoch)
            cb.on_epoch_end(epoch, {"score": value})
        saved[lib] = [name.split(".")[0] for name in calls]
    assert saved["lamina"] == saved["keras"]


def test_save_best_only_into_one_file_keeps_the_best_weights(tmp_path):
    path = tmp_path / "best.weights.safetensors"
    script = Script([2.0, 1.0, 1.5, 1.7])
    model().fit(*data(12), batch_size=4, epochs=4, verbose=0,
                callbacks=[script, weights_ckpt(path, monitor="score", save_best_only=True, mode="min")])
    fresh = model(weights=init_weights(seed=9))
    fresh.load_weights(str(path))
    for got, best in zip(fresh.get_weights(), script.weights[1], strict=True):
        np.testing.assert_array_equal(got, best)


def test_save_best_only_without_the_monitor_warns_and_saves(tmp_path):
    with pytest.warns(UserWarning, match="val_loss"):
        model().fit(*data(12), epochs=1, verbose=0,
                    callbacks=[weights_ckpt(tmp_path / "w.weights.safetensors", save_best_only=True)])
    assert os.listdir(tmp_path) == ["w.weights.safetensors"]


def test_weights_load_back_and_predict_identically(tmp_path):
    x, y = data(12)

    class Predictions(Callback):
        def __init__(self):
            super().__init__()
            self.outputs = []

        def on_epoch_end(self, epoch, logs=None):
            self.outputs.append(self.model.predict(x, verbose=0))

    preds = Predictions()
    model().fit(x, y, batch_size=4, epochs=3, verbose=0,
                callbacks=[preds, weights_ckpt(tmp_path / "e{epoch}.weights.safetensors")])
    for epoch in (1, 2, 3):
        fresh = model(weights=init_weights(seed=7))
        fresh.load_weights(str(tmp_path / f"e{epoch}.weights.safetensors"))
        np.testing.assert_array_equal(fresh.predict(x, verbose=0), preds.outputs[epoch - 1])
    assert not np.allclose(preds.outputs[0], preds.outputs[2])


def test_save_freq_in_batches(tmp_path):
    path = tmp_path / "s-{epoch}-{batch}-{loss:.4f}.weights.safetensors"
    saved, losses = [], []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            saved.append(len(os.listdir(tmp_path)))
            losses.append(logs["loss"])

    model().fit(*data(12), batch_size=4, epochs=2, verbose=0, callbacks=[weights_ckpt(path, save_freq=2), Count()])
    assert saved == [0, 1, 1, 2, 2, 3]  # after global batches 2, 4 and 6
    # names hold the epoch, the batch within it (1-based) and that batch's running-mean loss
    assert sorted(os.listdir(tmp_path)) == sorted([f"s-1-2-{losses[1]:.4f}.weights.safetensors",
                                                   f"s-2-1-{losses[3]:.4f}.weights.safetensors",
                                                   f"s-2-3-{losses[5]:.4f}.weights.safetensors"])


def test_save_freq_counts_batches_under_steps_per_execution(tmp_path):
    m = model()
    m.compile(optimizer=lamina.optimizers.SGD(0.1), loss="mse", steps_per_execution=2)
    m.fit(*data(24), batch_size=4, epochs=1, verbose=0,
          callbacks=[weights_ckpt(tmp_path / "b{batch}.weights.safetensors", save_freq=3)])
    # the hook sees batches 1, 3, 5 (0-based): 2 batches, then 4 (save at 4), then 6 (2 since: no save)
    assert sorted(os.listdir(tmp_path)) == ["b4.weights.safetensors"]


def test_file_names_match_keras(keras, tmp_path):
    x, y = data(12)
    template = "c-{epoch:02d}-{batch:02d}"
    (tmp_path / "k").mkdir()
    (tmp_path / "l").mkdir()
    keras_model(keras).fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(
        str(tmp_path / "k" / (template + ".weights.h5")), save_weights_only=True, save_freq=2)])
    model().fit(x, y, batch_size=4, epochs=2, verbose=0,
                callbacks=[weights_ckpt(tmp_path / "l" / (template + ".weights.safetensors"), save_freq=2)])
    theirs = sorted(n.removesuffix(".weights.h5") for n in os.listdir(tmp_path / "k"))
    ours = sorted(n.removesuffix(".weights.safetensors") for n in os.listdir(tmp_path / "l"))
    assert len(theirs) == 3
    assert ours == theirs


def test_whole_model_checkpoints_call_model_save(tmp_path, monkeypatch):
    calls = []
    m = model()
    monkeypatch.setattr(m, "save", lambda path, overwrite=True: calls.append((os.path.basename(path), overwrite)))
    m.fit(*data(12), epochs=2, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "m-{epoch}.lamina"))])
    assert calls == [("m-1.lamina", True), ("m-2.lamina", True)]


@pytest.mark.skipif(not hasattr(lamina.saving, "save_model"), reason="lamina.saving.save_model is not there yet")
def test_whole_model_checkpoint_loads_back(tmp_path):
    x, y = data(12)
    m = model()
    m.fit(x, y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "m-{epoch}.lamina"))])
    restored = lamina.models.load_model(str(tmp_path / "m-2.lamina"))
    np.testing.assert_allclose(restored.predict(x, verbose=0), m.predict(x, verbose=0), atol=1e-6)


def test_unknown_template_key_is_a_clear_error(tmp_path):
    with pytest.raises(KeyError, match="val_acc.*available: epoch, loss, mae"):
        model().fit(*data(12), epochs=1, verbose=0,
                    callbacks=[weights_ckpt(tmp_path / "{val_acc}.weights.safetensors")])


def test_a_directory_as_filepath_is_a_clear_error(tmp_path):
    (tmp_path / "w.weights.safetensors").mkdir()
    with pytest.raises(IsADirectoryError, match="existing directory"):
        model().fit(*data(12), epochs=1, verbose=0, callbacks=[weights_ckpt(tmp_path / "w.weights.safetensors")])


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("x.weights.safetensors", save_weights_only=True, save_freq=0)
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("x.weights.safetensors", save_weights_only=True, save_freq="batch")
    with pytest.raises(ValueError, match=r"must end in '\.weights\.safetensors'.*'\.weights\.h5'"):
        ModelCheckpoint("x.h5", save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in '\.lamina'.*save_weights_only=True"):
        ModelCheckpoint("x.weights.safetensors")
    with pytest.raises(ValueError, match=r"'\.lamina'.*'\.keras'"):
        ModelCheckpoint("model.hdf5")
    with pytest.raises(ValueError, match=r"'\.lamina'.*'\.keras'"):
        ModelCheckpoint("model.weights.h5")
    with pytest.raises(ValueError, match="mode"):
        ModelCheckpoint("m.lamina", mode="best")


def test_state_dict_resumes_batch_counting_and_best_through_json(tmp_path):
    def run(cb, stub, batches, epoch):
        cb.on_epoch_begin(epoch)
        for b in batches:
            cb.on_train_batch_end(b, {"loss": losses[epoch][b]})

    losses = [[1.0, 0.9, 0.8], [0.95, 0.7, 0.5]]  # saves are considered after (0, 1), (1, 0) and (1, 2)

    names = {}
    for how in ("whole", "resumed"):
        stub = StubModel()
        calls = []
        stub.save_weights = lambda path, overwrite=True, calls=calls: calls.append(os.path.basename(path))
        make = lambda: weights_ckpt(tmp_path / "{epoch}-{batch}.weights.safetensors",  # noqa: E731
                                    save_freq=2, monitor="loss", save_best_only=True)
        cb = make()
        cb.set_model(stub)
        run(cb, stub, [0, 1, 2], 0)
        if how == "resumed":
            saved = json.loads(json.dumps(cb.state_dict()))
            cb = make()
            cb.set_model(stub)
            cb.load_state_dict(saved)
        run(cb, stub, [0, 1, 2], 1)
        names[how] = calls
    # (1, 0) does not beat 0.9: the best value survives the resume, and so does the batch count
    assert names["resumed"] == names["whole"] == ["1-2.weights.safetensors", "2-3.weights.safetensors"]
