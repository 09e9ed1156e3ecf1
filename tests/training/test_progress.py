"""The progress bar and the host transfers behind it: what each verbosity prints (on terminals and elsewhere),
the warm-up step kept out of the per-step time (with a fake clock), one transfer for many logs, and no per-step
host synchronization during fit."""

from __future__ import annotations

import collections
import io
import re
import sys

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.training import progress as progress_module
from lamina.training.progress import (
    Progress,
    format_per_step,
    format_time,
    format_value,
    resolve_verbose,
    to_floats,
)


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


class FakeClock:
    """Stands in for the ``time`` module inside lamina.training.progress."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(progress_module, "time", fake)
    return fake


def small_model():
    m = lamina.Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                           layers.Dense(3, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def small_data(n=24):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, size=n)


# ----------------------------------------------------------------------------------------------- fit's output
def test_verbose_0_prints_nothing(capsys):
    m = small_model()
    m.fit(*small_data(), validation_split=0.25, epochs=2, batch_size=4, verbose=0)
    m.evaluate(*small_data(), verbose=0)
    m.predict(small_data()[0], verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


LINE_2 = re.compile(r"^6/6 - \d+(:\d\d)*s? - \d+(us|ms|s)/step - [\d,]+ samples/s - accuracy: \d\.\d{4} - "
                    r"loss: \d\.\d{4} - val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}$")


def test_verbose_2_prints_one_line_per_epoch(capsys):
    m = small_model()
    x, y = small_data()
    history = m.fit(x, y, validation_data=(x, y), epochs=3, batch_size=4, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert len(lines) == 6
    for epoch, line in enumerate(lines[1::2]):
        assert LINE_2.match(line), line
        assert f"loss: {format_value(history.history['loss'][epoch])}" in line
        assert f"val_accuracy: {format_value(history.history['val_accuracy'][epoch])}" in line


def test_verbose_1_on_a_non_terminal_prints_plain_lines(capsys):
    m = small_model()
    m.fit(*small_data(), epochs=2, batch_size=4, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert lines[1].startswith("6/6 - ") and "loss: " in lines[1] and "accuracy: " in lines[1]


def test_verbose_1_on_a_terminal_redraws_with_a_bar(monkeypatch):
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stdout", tty)
    m = small_model()
    m.fit(*small_data(), epochs=1, batch_size=4, verbose=1)
    out = tty.getvalue()
    assert out.startswith("Epoch 1/1\n")
    assert "\r" in out and "━" in out
    final = out.rsplit("\r", 1)[1]
    assert final.startswith("6/6 ━━━━━━━━━━━━━━━━━━━━ ") and final.endswith("\n")
    assert "loss: " in final and "accuracy: " in final


def test_evaluate_verbose_prints_a_final_line(capsys):
    m = small_model()
    m.evaluate(*small_data(), batch_size=8, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("3/3 - ") and "loss: " in lines[0]


# ----------------------------------------------------------------------------------------------- Progress, driven
def drive(progress, clock, steps, warmup=1.0, per_step=0.25, batch=32, logs=None):
    progress.start()
    for i in range(1, steps + 1):
        clock.now += warmup if i == 1 else per_step
        progress.update(i, logs, batch)


def test_the_warm_up_step_is_excluded_from_the_per_step_time(clock):
    stream = io.StringIO()
    p = Progress(2, 5, stream=stream)
    drive(p, clock, 5)  # 1 s warm-up, then 0.25 s per step: 2 s in all
    p.finish(5, {"loss": 0.5})
    line = stream.getvalue().strip()
    assert line == "5/5 - 2s - 250ms/step - 80 samples/s - loss: 0.5000"  # not (2 s / 5 =) 400ms/step


def test_one_step_has_only_its_own_time(clock):
    stream = io.StringIO()
    p = Progress(2, 1, stream=stream)
    drive(p, clock, 1, warmup=0.5)
    p.finish(1, {})
    assert stream.getvalue() == "1/1 - 0s - 500ms/step - 64 samples/s\n"


def test_terminal_redraws_with_bar_eta_and_metrics(clock):
    tty = FakeTTY()
    p = Progress(1, 10, stream=tty)
    p.start()
    logs = {"loss": torch.tensor(1.5), "accuracy": torch.tensor(0.25)}
    clock.now += 2.0
    p.update(1, logs, 16)
    for i in range(2, 5):
        clock.now += 0.5
        p.update(i, logs, 16)
    out = tty.getvalue()
    draws = out.split("\r")[1:]
    assert len(draws) == 4 and "\n" not in out  # redrawn in place, no new line until the end
    last = draws[-1].rstrip()
    # 4/10 with 8 of 20 bar cells done; ETA: 6 steps left x 0.5 s per step (warm-up excluded) = 3 s
    assert last.startswith(" 4/10 ━━━━━━━━\x1b[2m━━━━━━━━━━━━\x1b[0m 3s 500ms/step - 18 samples/s")
    assert last.endswith("- accuracy: 0.2500 - loss: 1.5000")
    clock.now += 0.5
    p.finish(10, {"loss": 1.0})
    final = tty.getvalue().rsplit("\r", 1)[1]
    assert final.startswith("10/10 ━━━━━━━━━━━━━━━━━━━━ 4s ") and final.endswith("\n")
    assert final.rstrip().endswith("loss: 1.0000")  # padded with spaces over the longer line before


def test_terminal_pads_a_shorter_line_over_a_longer_one(clock):
    tty = FakeTTY()
    p = Progress(1, 3, stream=tty)
    p.start()
    clock.now += 1
    p.update(1, {"loss": 123456.0}, 1)
    clock.now += 1
    p.update(2, {"loss": 1.0}, 1)
    first, second = tty.getvalue().split("\r")[1:]
    assert len(second) >= len(first)


def test_terminal_refresh_interval_limits_redraws(clock):
    tty = FakeTTY()
    p = Progress(1, 100, stream=tty, interval=0.0625)
    p.start()
    for i in range(1, 101):
        clock.now += 0.015625  # a quarter of the refresh interval per step (both exact in binary)
        p.update(i, {"loss": 1.0}, 1)
    assert tty.getvalue().count("\r") == 25


def test_non_terminal_logs_at_most_every_log_interval(clock):
    stream = io.StringIO()
    p = Progress(1, 1000, stream=stream, log_interval=30.0)
    p.start()
    for i in range(1, 1001):
        clock.now += 0.125  # 125 s in all: a line at 30, 60, 90 and 120 s
        p.update(i, {"loss": 2.0}, 1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and "\r" not in stream.getvalue()
    assert all(" - ETA: " in line and "loss: 2.0000" in line for line in lines)
    assert lines[0] == "240/1000 - ETA: 1:35 - loss: 2.0000"  # 760 steps x 0.125 s


def test_unknown_total_shows_the_step_count_only(clock):
    stream = io.StringIO()
    p = Progress(2, None, stream=stream)
    drive(p, clock, 3)
    p.finish(3, {})
    assert stream.getvalue().startswith("3 - ")


def test_verbose_0_progress_writes_nothing(clock):
    stream = FakeTTY()
    p = Progress(0, 5, stream=stream)
    p.epoch_header(0, 3)
    drive(p, clock, 5, logs={"loss": torch.tensor(1.0)})
    p.finish(5, {"loss": 1.0})
    assert stream.getvalue() == ""


def test_epoch_header():
    stream = io.StringIO()
    Progress(1, 5, stream=stream).epoch_header(2, 7)
    assert stream.getvalue() == "Epoch 3/7\n"


# ----------------------------------------------------------------------------------------------- host transfers
class CallCounter:
    """Counts calls of torch.Tensor methods that move values to the host."""

    NAMES = ("item", "tolist", "__bool__", "__float__", "__int__")

    def __init__(self, monkeypatch):
        self.counts = collections.Counter()
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)

            def counted(tensor, *args, _name=name, _original=original, **kwargs):
                self.counts[_name] += 1
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, counted)

    def total(self):
        return sum(self.counts.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_to_floats_makes_one_transfer_for_many_accelerator_tensors(monkeypatch):
    logs = {f"m{i}": torch.tensor(float(i) / 4, device="cuda") for i in range(8)}
    counter = CallCounter(monkeypatch)
    values = to_floats(logs)
    assert counter.counts == {"tolist": 1}
    assert values == {f"m{i}": i / 4 for i in range(8)}


def test_to_floats_reads_cpu_tensors_directly(monkeypatch):
    # nothing to transfer on the CPU: stacking first would only add work
    logs = {f"m{i}": torch.tensor(float(i) / 4) for i in range(8)}
    logs["plain"] = 3
    logs["none"] = None
    counter = CallCounter(monkeypatch)
    values = to_floats(logs)
    assert counter.counts == {"__float__": 8}
    assert list(values) == [*(f"m{i}" for i in range(8)), "plain"]  # order kept, None dropped
    assert values == {**{f"m{i}": i / 4 for i in range(8)}, "plain": 3.0}
    assert all(type(v) is float for v in values.values())


def test_to_floats_of_nothing():
    assert to_floats(None) == {} and to_floats({}) == {}


def test_to_floats_takes_integer_and_shaped_tensors():
    values = to_floats({"count": torch.tensor(7), "one": torch.tensor([2.5])})
    assert values == {"count": 7.0, "one": 2.5}


def _count_host_syncs(monkeypatch, steps, verbose):
    m = small_model()
    x, y = small_data(steps * 4)
    m.fit(x[:8], y[:8], batch_size=4, epochs=1, verbose=0)  # warm up: build, optimizer state
    with monkeypatch.context() as patch:
        counter = CallCounter(patch)
        m.fit(x, y, batch_size=4, epochs=1, shuffle=True, verbose=verbose)
    assert m.optimizer.iterations == 2 + steps
    return counter.counts


@pytest.mark.parametrize("verbose", [0, 2])
def test_fit_does_not_synchronize_per_step(monkeypatch, capsys, verbose):
    few = _count_host_syncs(monkeypatch, 2, verbose)
    many = _count_host_syncs(monkeypatch, 20, verbose)
    assert few == many
    assert sum(few.values()) <= 8  # a handful per fit: checks of the data and the epoch-end logs


# ----------------------------------------------------------------------------------------------- helpers
@pytest.mark.parametrize(("value", "text"), [(0.12345, "0.1235"), (0.0, "0.0000"), (12.5, "12.5000"),
                                             (1e-5, "1.0000e-05"), (-2e-4, "-2.0000e-04"), (0.001, "0.0010")])
def test_format_value(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0s"), (5.7, "5s"), (59.9, "59s"), (65, "1:05"),
                                               (3599, "59:59"), (3725, "1:02:05")])
def test_format_time(seconds, text):
    assert format_time(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(2.0, "2s/step"), (1.0, "1s/step"), (0.25, "250ms/step"),
                                               (0.001, "1ms/step"), (2.5e-5, "25us/step")])
def test_format_per_step(seconds, text):
    assert format_per_step(seconds) == text


@pytest.mark.parametrize(("given", "level"), [("auto", 1), (0, 0), (1, 1), (2, 2), (True, 1), (False, 0)])
def test_resolve_verbose(given, level):
    assert resolve_verbose(given) == level


@pytest.mark.parametrize("bad", [3, -1, "loud"])
def test_resolve_verbose_rejects_other_values(bad):
    with pytest.raises(ValueError, match="verbose"):
        resolve_verbose(bad)


def test_fit_rejects_a_bad_verbose():
    with pytest.raises(ValueError, match="verbose"):
        small_model().fit(*small_data(), verbose=5)


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_steps_per_epoch_is_the_progress_total_as_in_keras(steps, capsys, keras):
    x, y = small_data()  # 6 batches of 4
    ref = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    ref.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    capsys.readouterr()
    ref.fit(x, y, batch_size=4, steps_per_epoch=steps, epochs=1, verbose=2)
    keras_counter = re.search(r"^(\d+/\d+) ", capsys.readouterr().out, re.M)
    seen_steps: list = []

    class Params(lamina.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen_steps.append(self.params["steps"])  # Keras's params["steps"] is steps_per_epoch too

    small_model().fit(x, y, batch_size=4, steps_per_epoch=steps, epochs=1, verbose=2, callbacks=[Params()])
    counter = re.search(r"^(\d+/\d+) ", capsys.readouterr().out, re.M)
    assert counter.group(1) == f"{steps}/{steps}"
    if keras_counter is not None:
        assert counter.group(1) == keras_counter.group(1)
    assert seen_steps == [steps]
