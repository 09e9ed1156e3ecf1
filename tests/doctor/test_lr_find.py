"""lr_find: the sweep leaves the model, optimizer, metrics and random streams bit-identical, its curve and rules
match a hand computation, and its suggestion trains the README's classifier to >= 0.84 in 3 epochs."""

import math
import random

import numpy as np
import pytest
import torch
from doctor_helpers import readme_classifier

import lamina
from lamina.doctor.lr_find import choose, smooth, suggest


def _snapshot(model):
    """Every tensor and number that training can change: weights and buffers, the optimizer's state, metrics'
    accumulators, the random streams."""
    opt_tensors, opt_meta = model.optimizer.state_dict()
    metric_tensors = {f"{i}/{k}": v.clone() for i, m in enumerate(model.metrics) for k, v in vars(m).items()
                      if isinstance(v, torch.Tensor)}
    metric_tensors.update({f"{i}/state/{k}": v.clone() for i, m in enumerate(model.metrics)
                           for k, v in (getattr(m, "_state", None) or {}).items() if isinstance(v, torch.Tensor)})
    return {
        "model": {k: v.clone() for k, v in model.state_dict().items()},
        "optimizer": {k: v.clone() for k, v in opt_tensors.items()},
        "optimizer_meta": repr(opt_meta),
        "iterations": model.optimizer.iterations,
        "learning_rate": float(model.optimizer.learning_rate),
        "metrics": metric_tensors,
        "rng": torch.get_rng_state().clone(),
        "numpy": repr(np.random.get_state()),
        "python": random.getstate(),
    }


def _assert_identical(before, after):
    for group in ("model", "optimizer", "metrics"):
        assert before[group].keys() == after[group].keys(), group
        for key in before[group]:
            a, b = before[group][key], after[group][key]
            assert a.dtype == b.dtype and torch.equal(a, b), f"{group}/{key} changed"
    for key in ("optimizer_meta", "iterations", "learning_rate", "numpy", "python"):
        assert before[key] == after[key], key
    assert torch.equal(before["rng"], after["rng"])


@pytest.mark.parametrize("schedule", [False, True], ids=["constant_lr", "schedule"])
def test_lr_find_leaves_model_optimizer_metrics_and_rng_bit_identical(schedule):
    x = np.random.rand(512, 6).astype("float32")
    y = (x[:, 0] > 0.5).astype("int64")
    model = lamina.Sequential([lamina.Input((6,)), lamina.layers.Dense(16, activation="relu"),
                               lamina.layers.Dropout(0.3), lamina.layers.BatchNormalization(),
                               lamina.layers.Dense(2, activation="softmax")])
    lr = lamina.optimizers.schedules.ExponentialDecay(1e-2, 10, 0.9) if schedule else 1e-2
    model.compile(optimizer=lamina.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)  # optimizer slots, step counter and metrics now non-trivial
    assert model.optimizer.iterations == 8
    before = _snapshot(model)
    result = model.lr_find(x, y, batch_size=32, num_steps=40)
    _assert_identical(before, _snapshot(model))
    assert len(result.learning_rates) == len(result.losses) == len(result.raw_losses) >= 10
    # The weights it trained were a copy's: training on after the sweep continues exactly as without it.
    twin = lamina.Sequential([lamina.Input((6,)), lamina.layers.Dense(16, activation="relu"),
                              lamina.layers.Dropout(0.3), lamina.layers.BatchNormalization(),
                              lamina.layers.Dense(2, activation="softmax")])
    twin.compile(optimizer=lamina.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    twin.set_weights(model.get_weights())
    twin.optimizer.build(twin.trainable_weights)
    twin.optimizer.load_state_dict(*model.optimizer.state_dict())
    torch.manual_seed(5)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    torch.manual_seed(5)
    twin.fit(x, y, epochs=1, batch_size=64, verbose=0)
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_sweep_is_exponential_and_curve_is_the_smoothed_raw_loss():
    x = np.random.rand(256, 4).astype("float32")
    y = np.random.randint(0, 3, 256)
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    result = model.lr_find(x, y, start_lr=1e-4, end_lr=1.0, num_steps=21, batch_size=16)
    np.testing.assert_allclose(result.learning_rates, np.logspace(-4, 0, 21)[: len(result.learning_rates)],
                               rtol=1e-9)
    # bias-corrected EMA, by hand
    avg, expected = 0.0, []
    for i, v in enumerate(result.raw_losses, 1):
        avg = 0.98 * avg + 0.02 * v
        expected.append(avg / (1 - 0.98 ** i))
    np.testing.assert_allclose(result.losses, expected, rtol=1e-12)
    # the first step's loss is the untrained model's: about ln(3) for 3 classes
    assert abs(result.raw_losses[0] - math.log(3)) < 0.5


def test_rules_on_a_known_curve():
    lrs = list(np.logspace(-6, 0, 61))
    log_lr = np.log10(lrs)
    # flat, a descent steepest at lr=1e-3, a minimum at 1e-2, then a climb
    losses = list(2.0 - np.tanh((log_lr + 3) * 2) + np.where(log_lr > -2, (log_lr + 2) ** 2 * 5, 0.0))
    found = suggest(lrs, losses)
    assert found["steepest"] == pytest.approx(1e-3, rel=0.3)
    best = lrs[int(np.argmin(losses))]
    assert found["min_div_10"] == pytest.approx(best / 10)
    assert choose(found) == min(found.values())
    assert smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])


def test_sweep_stops_early_when_the_loss_diverges():
    x = np.random.rand(256, 4).astype("float32")
    y = np.random.rand(256, 1).astype("float32")
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    result = model.lr_find(x, y, start_lr=1e-4, end_lr=1e4, num_steps=100, batch_size=32)
    assert result.stopped_early and len(result.learning_rates) < 100
    assert result.learning_rates[-1] > 1.0  # SGD on this problem diverges above a rate of about 1
    assert 1e-4 < result.suggestion < 1.0


def test_svg_and_plot(tmp_path):
    x = np.random.rand(128, 4).astype("float32")
    y = np.random.randint(0, 3, 128)
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    result = model.lr_find(x, y, num_steps=20)
    svg = result.to_svg()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "steepest" in svg and "min_div_10" in svg and svg.count("<polyline") == 1
    import xml.dom.minidom

    xml.dom.minidom.parseString(svg)  # well-formed
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = result.plot()
    assert ax.get_xscale() == "log" and len(ax.lines) == 3
    ax.figure.savefig(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000


def test_needs_a_compiled_model():
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3)])
    with pytest.raises(RuntimeError, match="compile"):
        model.lr_find(np.zeros((8, 4), "float32"), np.zeros(8, "int64"))


def test_suggestion_trains_readme_classifier_to_84_percent_in_3_epochs(fmnist):
    (x, y), (x_test, y_test) = fmnist
    x, x_test = x.astype("float32") / 255, x_test.astype("float32") / 255
    lamina.utils.set_random_seed(1)
    model = readme_classifier()
    result = model.lr_find(x, y, batch_size=128)
    assert 1e-4 < result.suggestion < 1e-1, result
    lamina.utils.set_random_seed(1)
    tuned = readme_classifier(learning_rate=result.suggestion)
    tuned.fit(x, y, epochs=3, batch_size=128, verbose=0)
    _, accuracy = tuned.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.84, (result, accuracy)
