"""BackupAndRestore: a training process killed (SIGKILL) at a step mid-epoch, rerun, continues exactly as an
uninterrupted run: the same per-step losses and metrics after the resume, and bit-identical final weights."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.training.callbacks.backup import BackupAndRestore

SCRIPT = textwrap.dedent('''
    import json, os, signal, sys
    import numpy as np
    import lamina
    from lamina import layers

    backup_dir, log_path, weights_path, save_freq = sys.argv[1:5]
    save_freq = save_freq if save_freq == "epoch" else int(save_freq)
    kill_at = int(os.environ.get("KILL_AT", "-1"))
    lamina.utils.set_random_seed(7)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)).astype("float32")
    y = rng.integers(0, 3, size=(200,))
    model = lamina.Sequential([layers.Input(shape=(8,)), layers.Dense(16, activation="relu"), layers.Dropout(0.3),
                               layers.GaussianNoise(0.1), layers.Dense(3)])
    model.compile(optimizer=lamina.optimizers.Adam(0.01),
                  loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])

    class Record(lamina.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            step = self.epoch * 7 + batch
            with open(log_path, "a") as f:
                f.write(json.dumps({"step": step, "loss": logs["loss"], "accuracy": logs["accuracy"]}) + "\\n")
            if step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    history = model.fit(x, y, batch_size=32, epochs=4, shuffle=True, verbose=0,
                        callbacks=[Record(), lamina.callbacks.BackupAndRestore(backup_dir, save_freq=save_freq)])
    np.savez(weights_path, *model.get_weights())
    with open(log_path, "a") as f:
        f.write(json.dumps({"history": history.history}) + "\\n")
''')


def run(tmp_path, name, save_freq, kill_at=None):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "KILL_AT": str(kill_at if kill_at is not None else -1)}
    log, weights = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.npz"
    result = subprocess.run([sys.executable, str(script), str(tmp_path / f"backup_{name}"), str(log), str(weights),
                             str(save_freq)], env=env, capture_output=True, text=True, timeout=300)
    return result, log, weights


def records(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.parametrize(("save_freq", "kill_at", "resumed_from"), [(3, 17, 15), ("epoch", 11, 7)])
def test_killed_run_resumes_exactly(tmp_path, save_freq, kill_at, resumed_from):
    ok, ref_log, ref_weights = run(tmp_path, "reference", save_freq)
    assert ok.returncode == 0, ok.stderr
    reference = records(ref_log)

    killed, log, weights = run(tmp_path, "resumed", save_freq, kill_at=kill_at)
    assert killed.returncode == -9  # SIGKILL: no clean-up ran
    assert not weights.exists()
    backup_files = os.listdir(tmp_path / "backup_resumed")
    assert "latest.safetensors" in backup_files
    before = len(records(log))
    assert before == kill_at + 1

    done, log, weights = run(tmp_path, "resumed", save_freq)
    assert done.returncode == 0, done.stderr
    after = records(log)[before:]
    # the rerun starts at the step after the last backup and from there equals the uninterrupted run, exactly
    assert after[0]["step"] == resumed_from
    assert after == reference[resumed_from:]
    with np.load(ref_weights) as a, np.load(weights) as b:
        assert len(a.files) == len(b.files) == 4
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    assert not (tmp_path / "backup_resumed" / "latest.safetensors").exists()  # deleted after a finished run


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive int"):
        BackupAndRestore("b", save_freq=0)
    with pytest.raises(ValueError, match="needs a backup_dir"):
        BackupAndRestore("")


def test_a_damaged_backup_falls_back_to_the_previous_one_or_says_so(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype("float32"), rng.normal(size=(40, 1)).astype("float32")

    def fit(callback):
        lamina.utils.set_random_seed(1)
        model = lamina.Sequential([layers.Input(shape=(4,)), layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[callback])
        return model

    keep = BackupAndRestore(tmp_path / "b", save_freq=2, double_checkpoint=True, delete_checkpoint=False)
    fit(keep)
    assert sorted(os.listdir(tmp_path / "b")) == ["latest.safetensors", "previous.safetensors"]
    (tmp_path / "b" / "latest.safetensors").write_bytes(b"garbage")
    assert keep._load() is not None  # the previous backup
    os.unlink(tmp_path / "b" / "previous.safetensors")
    with pytest.raises(ValueError, match="could not read its backup.*Delete the backup folder"):
        fit(BackupAndRestore(tmp_path / "b", save_freq=2))


def test_a_resumed_fit_says_where_it_resumed_and_a_fresh_one_says_none(tmp_path, caplog, capsys):
    import logging

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype("float32"), rng.normal(size=(40, 1)).astype("float32")

    class Crash(lamina.callbacks.Callback):  # an interruption at step `at` of the run (counted from 1)
        def __init__(self, at=None):
            super().__init__()
            self.at, self.seen = at, 0

        def on_train_batch_end(self, batch, logs=None):
            self.seen += 1
            if self.seen == self.at:
                raise RuntimeError("power cut")

    def fit(callbacks, verbose=0):
        lamina.utils.set_random_seed(1)
        model = lamina.Sequential([layers.Input(shape=(4,)), layers.Dense(1, name="out")])
        model.compile(optimizer="sgd", loss="mse")
        return model.fit(x, y, batch_size=10, epochs=3, verbose=verbose, callbacks=callbacks)

    fresh = fit([BackupAndRestore(tmp_path / "fresh", save_freq=2), Crash()])
    assert fresh.resumed_from is None and fresh.epoch == [0, 1, 2]

    with pytest.raises(RuntimeError, match="power cut"):
        fit([BackupAndRestore(tmp_path / "b", save_freq=2), Crash(at=7)])  # epoch 1, after 3 of its 4 steps
    with caplog.at_level(logging.INFO, logger="lamina"):
        resumed = fit([BackupAndRestore(tmp_path / "b", save_freq=2), Crash()])
    backup = str(tmp_path / "b" / "latest.safetensors")
    # the last backup was after step 6 = epoch 1, 2 of its 4 steps: training went on with its step 2
    assert resumed.resumed_from == {"epoch": 1, "step": 2, "backup": backup}
    assert resumed.epoch == [0, 1, 2] and resumed.history["loss"] == pytest.approx(fresh.history["loss"])
    assert f"BackupAndRestore: resuming from {backup} at epoch 2/3 after 2 of its steps" in caplog.text

    with pytest.raises(RuntimeError, match="power cut"):
        fit([BackupAndRestore(tmp_path / "c", save_freq="epoch"), Crash(at=7)])
    capsys.readouterr()
    resumed = fit([BackupAndRestore(tmp_path / "c", save_freq="epoch"), Crash()], verbose=2)
    assert resumed.resumed_from["epoch"] == 1 and resumed.resumed_from["step"] == 0  # after epoch 0's end
    assert "BackupAndRestore: resuming from" in capsys.readouterr().out  # printed where the bar goes
