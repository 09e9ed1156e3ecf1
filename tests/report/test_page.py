"""The HTML report as a file: every section, escaped user strings, nothing loaded from outside the page, the
history read from each form it comes in, atomic writes, and the errors that say what to pass."""

import os
import re
from types import SimpleNamespace

import numpy as np
import pytest

import lamina
from lamina.report import SECTION_IDS, build_report, write_report
from lamina.report.charts import label
from lamina.report.page import _curves

HOSTILE = '<script>alert("x")</script>'
NAMES = ["T-shirt/top", "Trouser & co", HOSTILE]


def _model():
    model = lamina.Sequential([lamina.Input((8, 8, 1)), lamina.layers.Flatten(name="flatten"),
                               lamina.layers.Dense(12, activation="relu", name="hidden"),
                               lamina.layers.Dense(3, activation="softmax", name="probs")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((60, 8, 8, 1)).astype("float32"), np.arange(60) % 3


@pytest.fixture
def trained(data):
    model = _model()
    schedule = lamina.callbacks.LearningRateScheduler(lambda epoch: 0.01 * 0.5 ** epoch)  # logs learning_rate
    model.fit(*data, epochs=3, batch_size=20, validation_split=0.25, verbose=0, callbacks=[schedule])
    return model


MONITOR = SimpleNamespace(
    records={"grad_norm": [1.0, 0.5, 0.25], "weight_norm": [3.0, 3.1, 3.2], "update_ratio": [1e-3, 8e-4, 5e-4],
             "grad_norm/hidden": [0.8, 0.4, 0.2], f"grad_norm/{HOSTILE}": [0.1, 0.1, 0.1]},
    events=[{"epoch": 1, "step": 7, "kind": "loss_spike", "message": f"loss jumped {HOSTILE}"}])
LR_FIND = SimpleNamespace(learning_rates=list(np.geomspace(1e-6, 1.0, 30)),
                          losses=list(np.r_[np.linspace(1.1, 0.4, 24), [0.5, 0.9, 2.0, 9.0, 50.0, float("nan")]]),
                          raw_losses=list(np.linspace(1.1, 0.4, 30)), suggestion=1e-3,
                          suggestions={"steepest": 1e-3, "min_div_10": 3e-3})


def _sections(text: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', text, flags=re.S))


def test_every_section_is_filled_and_user_strings_are_escaped(trained, data):
    text = build_report(trained, *data, monitor=MONITOR, lr_find=LR_FIND, class_names=NAMES, plots="svg",
                        title=f"run {HOSTILE}")
    found = _sections(text)
    assert list(found) == list(SECTION_IDS)
    assert not [sid for sid, body in found.items() if 'class="missing"' in body]
    assert "<script" not in text.lower() and text.count("&lt;script&gt;") >= 5  # title, class, layer, event
    assert "Trouser &amp; co" in text
    # learning curves: loss and accuracy, train and validation; the monitor's charts; lr_find's markers
    assert found["learning-curves"].count('class="series"') == 4
    assert "learning_rate" not in found["learning-curves"] and found["learning-rate"].count("<circle") == 3
    assert found["training-health"].count("<svg") == 4 and "loss_spike" in found["training-health"]
    assert found["lr-find"].count('class="marker"') == 2
    # the confusion matrix counts every sample once; the mistakes are the wrong predictions, shown as images
    counts = [int(c) for c in re.findall(r"<td style=\"background[^>]*>(\d+)</td>", found["confusion-matrix"])]
    assert len(counts) == 9 and sum(counts) == 60
    predicted = trained.predict(data[0], verbose=0).argmax(axis=1)
    wrong = int((predicted != data[1]).sum())
    assert found["mistakes"].count('<img class="sample"') == min(16, wrong)
    assert "hidden (Dense)" in found["model-graph"] and "Params: " in found["model-graph"]


def test_nothing_outside_the_page_is_referenced(trained, data):
    text = build_report(trained, *data, monitor=MONITOR, lr_find=LR_FIND, plots="auto")
    assert not re.search(r"<(script|link|iframe|object|embed)\b", text, flags=re.I)
    sources = re.findall(r'\b(?:src|href)="([^"]*)"', text)
    assert sources and all(s.startswith(("data:image/png;base64,", "#")) for s in sources)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_missing_inputs_say_how_to_get_each_section(trained):
    found = _sections(build_report(trained, plots="svg"))
    for sid in ("training-health", "lr-find", "confusion-matrix", "per-class", "mistakes"):
        assert 'class="missing"' in found[sid], sid
    assert "TrainingMonitor" in found["training-health"] and "lr_find" in found["lr-find"]
    assert 'class="missing"' not in found["learning-curves"]  # the model's last fit is used


def test_regressors_and_multi_output_models_skip_the_classifier_sections():
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(1, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.random.default_rng(0).random((16, 4)), np.random.default_rng(1).random(16)
    found = _sections(build_report(model, x, y, plots="svg"))
    assert "Not a classifier" in found["confusion-matrix"] and "non-integer" in found["confusion-matrix"]
    assert 'class="missing"' in found["learning-curves"]  # never trained


def test_plots_choose_the_drawing():
    model = _model()
    model.fit(np.zeros((6, 8, 8, 1)), np.zeros(6), epochs=2, verbose=0)
    svg = _sections(build_report(model, plots="svg"))["learning-curves"]
    assert "<svg" in svg and "<img" not in svg
    with pytest.raises(ValueError, match="plots must be one of"):
        build_report(model, plots="png")
    pytest.importorskip("matplotlib")
    drawn = _sections(build_report(model, plots="matplotlib"))["learning-curves"]
    assert drawn.count('<img class="chart"') == 2 and "<svg" not in drawn


def test_history_forms():
    history = SimpleNamespace(history={"loss": [3.0, 2.0, 1.0, 0.5], "val_loss": [2.5, 0.7]}, epoch=[0, 1, 2, 3])
    curves = _curves(history)
    assert curves["loss"] == ([1, 2, 3, 4], [3.0, 2.0, 1.0, 0.5])
    assert curves["val_loss"] == ([2, 4], [2.5, 0.7])  # validation_freq=2: evaluated after epochs 2 and 4
    assert _curves({"loss": [1, 2]}) == {"loss": ([1, 2], [1.0, 2.0])}
    records = [{"epoch": 4, "loss": 1.0, "learning_rate": 0.1}, {"epoch": 5, "loss": 0.5, "val_loss": 0.7}]
    assert _curves(records) == {"loss": ([5, 6], [1.0, 0.5]), "learning_rate": ([5], [0.1]), "val_loss": ([6], [0.7])}
    with pytest.raises(TypeError, match="history must be a History"):
        _curves(3)


def test_written_atomically_through_model_report(trained, data, tmp_path):
    path = tmp_path / "out" / "report.html"
    assert trained.report(path, *data, class_names=NAMES[:2] + ["c"], plots="svg") == os.fspath(path)
    first = path.read_text(encoding="utf-8")
    assert first.startswith("<!DOCTYPE html>") and "Trouser &amp; co" in first
    # A report that fails leaves the previous file as it was, and no temporary file behind.
    with pytest.raises(ValueError, match="class_names has 2 names but the model scores 3 classes"):
        write_report(trained, path, *data, class_names=NAMES[:2])
    assert path.read_text(encoding="utf-8") == first
    assert os.listdir(path.parent) == ["report.html"]


def test_a_monitors_loss_and_learning_rate_are_drawn_once(data):
    model = _model()
    model.fit(*data, epochs=2, verbose=0)  # no learning rate in the history
    monitor = {"loss": [1.0, 0.9], "learning_rate": [0.01, 0.005], "grad_norm": [2.0, 1.0]}
    found = _sections(build_report(model, monitor=monitor, plots="svg"))
    assert found["training-health"].count("<svg") == 1  # grad_norm only
    assert 'class="missing"' not in found["learning-rate"] and found["learning-rate"].count("<circle") == 2


def test_with_the_training_monitor_in_fit(data):
    monitor_class = getattr(lamina.callbacks, "TrainingMonitor", None)
    if monitor_class is None:
        pytest.skip("lamina.callbacks.TrainingMonitor (issue 20, the training doctor) is not in this tree")
    model = _model()
    monitor = monitor_class(check_every=2, verbose=0)
    model.fit(*data, epochs=2, batch_size=20, verbose=0, callbacks=[monitor])
    found = _sections(build_report(model, monitor=monitor, plots="svg"))
    health = found["training-health"]
    assert 'class="missing"' not in health and "grad norm per layer" in health
    assert 'data-label="hidden"' in health and 'data-label="probs"' in health


def test_many_classes_show_the_most_confused_ones():
    from lamina.report.classify import classify
    from lamina.report.sections import MAX_CLASSES, confusion

    y = np.arange(400) % 40
    logits = 5.0 * np.eye(40)[y]
    logits[:12, 39] = 9.0  # samples 0..11 (classes 0..11) are taken for class 39
    result = classify(y, logits)
    html_text = confusion(result, [f"class {i}" for i in range(40)], "")
    shown = re.findall(r'<th class="true">class (\d+)</th>', html_text)
    assert len(shown) == MAX_CLASSES == 25 and "of 40" in html_text
    assert {str(i) for i in [*range(12), 39]} <= set(shown)  # every class with an error is kept
    assert len(re.findall(r'<th class="pred">', html_text)) == 25


def test_with_lr_find_from_the_doctor(data):
    try:
        import lamina.doctor  # noqa: F401
    except ImportError:
        pytest.skip("lamina.doctor (issue 20, the training doctor) is not in this tree")
    model = _model()
    sweep = model.lr_find(*data, batch_size=20, num_steps=12, end_lr=1.0)
    found = _sections(build_report(model, lr_find=sweep, plots="svg"))["lr-find"]
    assert 'class="missing"' not in found and found.count('class="marker"') == len(sweep.suggestions) == 2
    assert found.count('class="series"') == 2  # smoothed and raw
    assert f"Suggested learning rate: <b>{label(sweep.suggestion)}</b>" in found
