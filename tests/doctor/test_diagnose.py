"""diagnose: each planted fault on the README's Fashion-MNIST classifier is flagged with its code, the healthy
set-up gets nothing alarming, and the model under diagnosis is left exactly as it was."""

import numpy as np
import pytest
import torch
from doctor_helpers import readme_classifier

import lamina
from lamina.doctor import Diagnosis, Finding

ROWS = 2048


@pytest.fixture(scope="module")
def data(fmnist):
    (x, y), _ = fmnist
    return x[:ROWS], y[:ROWS]


def scaled(data):
    x, y = data
    return (x / 255).astype("float32"), y


def _diagnose(model, x, y):
    report = model.diagnose(x, y)
    assert isinstance(report, Diagnosis) and all(isinstance(f, Finding) for f in report.findings)
    return report


def test_healthy_example_has_nothing_alarming(data):
    x, y = scaled(data)
    lamina.utils.set_random_seed(1)
    model = readme_classifier()
    model.fit(x[:256], y[:256], epochs=1, batch_size=64, verbose=0)  # optimizer state to keep intact
    weights = [w.clone() for w in model.state_dict().values()]
    opt_state = {k: v.clone() for k, v in model.optimizer.state_dict()[0].items()}
    rng = torch.get_rng_state()
    report = _diagnose(model, x, y)
    assert report.ok, str(report)
    codes = {f.code for f in report.findings}
    assert {"initial_loss", "overfits_one_batch", "label_control", "learning_rate", "step_time",
            "label_balance"} <= codes
    for a, b in zip(weights, model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for k, v in model.optimizer.state_dict()[0].items():
        assert torch.equal(opt_state[k], v)
    assert model.optimizer.iterations == 4 and torch.equal(rng, torch.get_rng_state())
    text = str(report)
    assert text.startswith("Diagnosis: nothing alarming") and "INFO" in text and "label_control" in text


def test_unscaled_inputs(data):
    x, y = data
    lamina.utils.set_random_seed(1)
    report = _diagnose(readme_classifier(), x.astype("float32"), y)
    assert "unscaled_inputs" in report.codes and "initial_loss_high" in report.codes
    assert not report.ok and str(report).startswith("Diagnosis: ") and "WARNING unscaled_inputs" in str(report)


def test_dead_layer(data):
    x, y = scaled(data)
    lamina.utils.set_random_seed(1)
    model = readme_classifier(bias_initializer=lamina.initializers.Constant(-100.0))
    report = _diagnose(model, x, y)
    dead = next(f for f in report.findings if f.code == "dead_layer")
    hidden = model.layers[1].name
    assert dead.severity == "error" and hidden in dead.message
    assert hidden in next(f for f in report.findings if f.code == "zero_gradients").message


def test_shuffled_labels(data):
    x, y = scaled(data)
    lamina.utils.set_random_seed(1)
    report = _diagnose(readme_classifier(), x, np.random.default_rng(0).permutation(y))
    assert "no_signal_in_labels" in report.codes


@pytest.mark.parametrize("mixup", ["softmax_with_from_logits", "logits_without_from_logits"])
def test_logits_probabilities_mixup(data, mixup):
    x, y = scaled(data)
    lamina.utils.set_random_seed(1)
    softmax = mixup == "softmax_with_from_logits"
    model = lamina.Sequential([lamina.Input((28, 28, 1)), lamina.layers.Flatten(),
                               lamina.layers.Dense(32, activation="relu"),
                               lamina.layers.Dense(10, activation="softmax" if softmax else None)])
    model.compile(optimizer="adam", loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=softmax))
    report = _diagnose(model, x, y)
    finding = next(f for f in report.findings if f.code == "logits_probabilities_mixup")
    assert finding.severity == "error" and f"from_logits={softmax}" in finding.message


def test_frozen_layer(data):
    x, y = scaled(data)
    lamina.utils.set_random_seed(1)
    model = readme_classifier()
    model.layers[1].trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    report = _diagnose(model, x, y)
    frozen = next(f for f in report.findings if f.code == "frozen_layer")
    assert model.layers[1].name in frozen.message and model.layers[2].name not in frozen.message


def test_learning_rate_100x_too_high(data):
    x, y = scaled(data)
    lamina.utils.set_random_seed(1)
    report = _diagnose(readme_classifier(learning_rate=0.1), x, y)
    assert "lr_too_high" in report.codes


def test_needs_a_compiled_model():
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3)])
    with pytest.raises(RuntimeError, match="compile"):
        model.diagnose(np.zeros((8, 4), "float32"), np.zeros(8, "int64"))
