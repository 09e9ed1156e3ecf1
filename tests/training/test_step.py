"""lamina.training.step: the steps built once per run. The default steps' fast paths (the loss's fused kernel,
the metrics updated directly) give exactly what the general path gives, and step aside whenever the model changes
what a step does; every road (fit, evaluate, predict, *_on_batch, Model.train_step) runs the same built steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lamina
from lamina import layers
from lamina.training import step

N, D_IN, D_OUT = 23, 5, 3  # 23 rows: batches of 8, 8 and 7


def _data(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D_IN)).astype("float32")
    if kind == "sparse":
        return x, rng.integers(0, D_OUT, size=N)
    if kind == "sparse_int32_column":
        return x, rng.integers(0, D_OUT, size=(N, 1)).astype("int32")
    if kind == "onehot":
        return x, np.eye(D_OUT, dtype="float32")[rng.integers(0, D_OUT, size=N)]
    return x, rng.normal(size=(N, D_OUT)).astype("float32")


def _model(activation=None, regularizer=None, extra=()):
    model = lamina.Sequential([layers.Input((D_IN,)), *extra,
                               layers.Dense(4, activation="relu", kernel_regularizer=regularizer),
                               layers.Dense(D_OUT, activation=activation)])
    lamina.utils.set_random_seed(3)
    model.set_weights([np.random.default_rng(i).normal(scale=0.5, size=w.shape).astype("float32")
                       for i, w in enumerate(model.get_weights())])
    return model


class _AddsLoss(layers.Layer):
    def call(self, x):
        self.add_loss(x.abs().mean())
        return x


CASES = {
    "sparse logits + accuracy": dict(data="sparse", compile=dict(
        loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])),
    "int32 column labels": dict(data="sparse_int32_column", compile=dict(
        loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy", "sparse_top_k_categorical_accuracy"])),
    "probabilities, one-hot labels": dict(data="onehot", activation="softmax", compile=dict(
        loss="categorical_crossentropy", metrics=["accuracy", "auc"])),
    "mse, weighted metrics, sample weights": dict(data="regression", weights=True, compile=dict(
        loss="mse", metrics=["mae"], weighted_metrics=["mse"])),
    "custom loss function, loss weight": dict(data="regression", compile=dict(
        loss=lambda t, p: (p - t).abs().mean(-1), loss_weights=0.5, metrics=["mse"])),
    "weight regularizer": dict(data="regression", regularizer="l2", compile=dict(loss="mae")),
    "add_loss layer": dict(data="regression", extra=(_AddsLoss(),), compile=dict(loss="mse")),
    "dropout (off when evaluating)": dict(data="sparse", extra=(layers.Dropout(0.5),), compile=dict(
        loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("what", ["evaluate", "fit"])
def test_the_fast_paths_equal_the_general_path(case, what, monkeypatch):
    spec = CASES[case]
    x, y = _data(spec["data"])
    sample_weight = np.linspace(0.1, 2.0, N).astype("float32") if spec.get("weights") else None

    def run(lean: bool):
        model = _model(spec.get("activation"), spec.get("regularizer"), spec.get("extra", ()))
        model.compile(optimizer="sgd", **spec["compile"])
        if not lean:
            _general_path_only(monkeypatch)
        try:
            if what == "fit":
                lamina.utils.set_random_seed(1)
                history = model.fit(x, y, sample_weight=sample_weight, batch_size=8, epochs=2, shuffle=False,
                                    verbose=0)
                return {k: v[-1] for k, v in history.history.items()}
            return model.evaluate(x, y, sample_weight=sample_weight, batch_size=8, verbose=0, return_dict=True)
        finally:
            monkeypatch.undo()

    lean, full = run(True), run(False)
    assert lean.keys() == full.keys()
    for key in full:
        assert lean[key] == pytest.approx(full[key], rel=1e-6, abs=1e-7), key


def _general_path_only(monkeypatch):
    monkeypatch.setattr(step.DefaultSteps, "_plan_fast_paths", lambda self, trainer: None)


def test_evaluate_takes_the_fast_paths_and_matches_the_formula(monkeypatch):
    x, y = _data("sparse")
    model = _model()
    model.compile(loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])

    def refuse(*args, **kwargs):
        raise AssertionError("the general path ran")

    monkeypatch.setattr(model._trainer, "compute_loss", refuse)
    monkeypatch.setattr(model._trainer, "update_metrics", refuse)
    loss, accuracy = model.evaluate(x, y, batch_size=8, verbose=0)
    with torch.no_grad():
        logits = model(torch.as_tensor(x))
    labels = torch.as_tensor(y)
    assert loss == pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-6)
    assert accuracy == pytest.approx(float((logits.argmax(-1) == labels).float().mean()))


class _Overrides(lamina.Sequential):
    """Each override changes what a test step computes; the fast paths must then step aside."""

    def __init__(self, which: str):
        super().__init__([layers.Input((D_IN,)), layers.Dense(D_OUT)])
        self.which = which

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        return loss + 100.0 if self.which == "compute_loss" else loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        logs = dict(super().compute_metrics(x, y, y_pred, sample_weight))
        if self.which == "compute_metrics":
            logs["extra"] = torch.tensor(7.0)
        return logs

    def test_step(self, data):
        logs = dict(super().test_step(data))
        if self.which == "test_step":
            logs["from_test_step"] = torch.tensor(1.0)
        return logs


@pytest.mark.parametrize("which", ["compute_loss", "compute_metrics", "test_step"])
def test_models_that_override_a_step_method_keep_their_override(which):
    x, y = _data("regression")
    model = _Overrides(which)
    model.compile(loss="mse")
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    defaults = model._trainer.default_steps  # (the class overrides all three methods)
    assert defaults.fast_loss is None and defaults.fast_metrics is None
    if which == "compute_loss":
        assert logs["loss"] > 100.0
    elif which == "compute_metrics":
        assert logs["extra"] == 7.0
    else:
        assert logs["from_test_step"] == 1.0


def test_multi_output_models_take_the_general_path():
    inputs = layers.Input((D_IN,))
    model = lamina.Model(inputs, [layers.Dense(2)(inputs), layers.Dense(1)(inputs)])
    model.compile(loss=["mse", "mse"])
    x = np.zeros((4, D_IN), "float32")
    model.evaluate(x, [np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")], verbose=0)
    assert model._trainer.default_steps.fast_loss is None and model._trainer.default_steps.fast_metrics is None


def test_called_with_gradients_on_it_computes_without_them():
    x, y = _data("regression")
    model = _model()
    model.compile(loss="mse")
    model.evaluate(x, y, verbose=0)
    model.reset_metrics()
    logs = model.test_step((torch.as_tensor(x), torch.as_tensor(y)))
    assert torch.is_grad_enabled()
    loss = logs["loss"]
    assert not loss.requires_grad
    with torch.no_grad():
        expected = F.mse_loss(model(torch.as_tensor(x)), torch.as_tensor(y))
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


def test_dict_inputs_count_the_batch_from_their_first_array(monkeypatch):
    a, b = layers.Input((2,), name="a"), layers.Input((3,), name="b")
    model = lamina.Model({"a": a, "b": b}, layers.Dense(1)(layers.Concatenate()([a, b])))
    model.compile(loss="mse")
    rng = np.random.default_rng(0)
    x = {"a": rng.normal(size=(N, 2)).astype("float32"), "b": rng.normal(size=(N, 3)).astype("float32")}
    y = rng.normal(size=(N, 1)).astype("float32")
    lean = model.evaluate(x, y, batch_size=8, verbose=0)
    _general_path_only(monkeypatch)
    assert lean == pytest.approx(model.evaluate(x, y, batch_size=8, verbose=0), rel=1e-6)
    with torch.no_grad():
        expected = F.mse_loss(model({k: torch.as_tensor(v) for k, v in x.items()}), torch.as_tensor(y))
    assert lean == pytest.approx(float(expected), rel=1e-5)


# ---------------------------------------------------------------------------------------------- one road
def test_every_road_runs_the_steps_built_for_the_run(monkeypatch):
    """fit, evaluate, predict and the *_on_batch methods all run what step.build returns, once built per run."""
    built = []
    real_build = step.build

    def build(trainer, kind):
        fn = real_build(trainer, kind)
        built.append(kind)

        def counted(batch):
            calls.append(kind)
            return fn(batch)

        return counted

    calls = []
    monkeypatch.setattr(step, "build", build)
    x, y = _data("regression")
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert built == ["train"] and calls == ["train"] * 6
    model.evaluate(x, y, batch_size=8, verbose=0)
    model.predict(x, batch_size=8, verbose=0)
    model.train_on_batch(x, y)
    model.test_on_batch(x, y)
    model.predict_on_batch(x)
    assert built == ["train", "test", "predict", "train", "test", "predict"]
    assert calls == ["train"] * 6 + ["test"] * 3 + ["predict"] * 3 + ["train", "test", "predict"]


def test_predict_without_compile_runs_the_default_predict_step():
    model = _model()
    x = np.ones((5, D_IN), "float32")
    out = model.predict(x, batch_size=2, verbose=0)
    with torch.no_grad():
        np.testing.assert_allclose(out, model(torch.as_tensor(x)).numpy(), rtol=1e-6)
    assert model.predict_on_batch(x).shape == (5, D_OUT)


def test_model_step_methods_are_the_built_default_steps():
    x, y = _data("regression")
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    model.evaluate(x, y, verbose=0)
    defaults = model._trainer.default_steps
    batch = (torch.as_tensor(x), torch.as_tensor(y))
    model.reset_metrics()
    loss = float(model.test_step(batch)["loss"])
    assert model._trainer.default_steps is defaults  # Model.test_step reached the run's own default steps
    model.reset_metrics()
    assert loss == pytest.approx(float(defaults.test(batch)["loss"]))
