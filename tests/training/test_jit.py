"""``compile(jit_compile=True)``: the same training as eager, one graph per mode (the last, smaller batch does not
recompile), a warning and eager fallback when compilation fails, and ``steps_per_execution``."""

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

import lamina
from lamina import layers
from lamina.training import jit


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def data(n=100):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6)).astype("float32"), rng.integers(0, 3, size=(n,))


def make(seed=0, dropout=True, **compile_kwargs):
    lamina.utils.set_random_seed(seed)
    model = lamina.Sequential([layers.Input(shape=(6,)), layers.Dense(16, activation="relu"),
                               *([layers.Dropout(0.2)] if dropout else []), layers.Dense(3)])
    model.compile(optimizer="adam", loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], **compile_kwargs)
    return model


def train(model, x, y):
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    return history.history, model.get_weights()


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_training_equals_eager_without_recompiling_the_last_batch(monkeypatch, backend):
    monkeypatch.setattr(jit, "BACKEND", backend)
    x, y = data(100)  # batches of 32, 32, 32 and 4
    dropout = backend != "inductor"  # inductor draws its random numbers its own way: other dropout masks
    eager_hist, eager_w = train(make(jit_compile=False, dropout=dropout), x, y)
    model = make(jit_compile=True, dropout=dropout)
    hist, weights = train(model, x, y)
    assert model._compiled_call_impl is not None
    assert counters["stats"]["unique_graphs"] == 1  # one training graph for every batch size
    for a, b in zip(weights, eager_w, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hist["loss"], eager_hist["loss"], rtol=1e-5)
    probs = model.predict(x, batch_size=32, verbose=0)
    assert counters["stats"]["unique_graphs"] == 2  # plus the inference graph
    eager = make(jit_compile=False, dropout=dropout)
    eager.set_weights(weights)
    np.testing.assert_allclose(probs, eager.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert not counters["graph_break"]


def test_compiled_model_called_directly_in_either_mode(monkeypatch):
    monkeypatch.setattr(jit, "BACKEND", "aot_eager")
    x, y = data(40)
    model = make(jit_compile=True)
    model.fit(x, y, batch_size=20, verbose=0)
    t = torch.from_numpy(x)
    eval_out = model(t)
    np.testing.assert_allclose(model(t, training=False).detach(), eval_out.detach())
    assert not torch.equal(model(t, training=True), eval_out)  # dropout active in the compiled training mode
    assert not model.training and not any(m.training for m in model.modules())  # mode restored after the call


def test_failed_compilation_warns_and_trains_eagerly(monkeypatch):
    def broken_backend(graph, example_inputs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(jit, "BACKEND", broken_backend)
    x, y = data(64)
    eager_hist, eager_w = train(make(jit_compile=False), x, y)
    model = make(jit_compile=True)
    with pytest.warns(UserWarning, match="torch.compile could not compile model .*running eagerly"):
        hist, weights = train(model, x, y)
    assert model._compiled_call_impl is None
    for a, b in zip(weights, eager_w, strict=True):
        np.testing.assert_array_equal(a, b)
    assert hist == eager_hist


def test_a_model_error_under_jit_is_the_models_own(monkeypatch):
    monkeypatch.setattr(jit, "BACKEND", "aot_eager")
    model = make(jit_compile=True)
    x, y = data(64)
    with pytest.raises(ValueError, match="expects"):
        model.fit(x[:, :5], y, verbose=0)


def test_run_eagerly_and_auto_mean_eager():
    assert jit.resolve("auto", False) is False
    assert jit.resolve(True, True) is False
    assert jit.resolve(True, False) is True
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto'"):
        make(jit_compile="yes")


def test_steps_per_execution_fires_batch_hooks_per_execution():
    seen = []
    callback = lamina.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: seen.append(("begin", batch)),
        on_train_batch_end=lambda batch, logs: seen.append(("end", batch, sorted(logs))))
    x, y = data(100)  # 4 batches of 32/32/32/4 in executions of 3: steps 0-2, then 3
    model = make(steps_per_execution=3)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    assert seen == [("begin", 0), ("end", 2, ["accuracy", "loss"]), ("begin", 3), ("end", 3, ["accuracy", "loss"])]
    with pytest.raises(ValueError, match="steps_per_execution must be a positive int"):
        make(steps_per_execution=0)


def test_many_compiled_models_in_one_process_all_stay_compiled(monkeypatch):
    monkeypatch.setattr(jit, "BACKEND", "aot_eager")
    x, y = data(16)
    for width in range(3, 13):  # ten models share Layer.forward's code object; dynamo's default keeps eight graphs
        lamina.utils.set_random_seed(0)
        model = lamina.Sequential([layers.Input(shape=(6,)), layers.Dense(width), layers.Dense(3)])
        model.compile(optimizer="sgd", loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=True)
        model.fit(x, y, batch_size=16, verbose=0)
    assert counters["stats"]["unique_graphs"] == 10


# ------------------------------------------------------------------ the default training step compiled whole
def fit_both(optimizer_factory, backend="aot_eager", monkeypatch=None, model_factory=None, epochs=2, **fit_kwargs):
    """The same model and data trained eagerly and with jit_compile=True; returns both models and histories."""
    monkeypatch.setattr(jit, "BACKEND", backend)
    x, y = data(100)
    runs = []
    for jit_compile in (False, True):
        lamina.utils.set_random_seed(0)
        model = model_factory() if model_factory else lamina.Sequential(
            [layers.Input(shape=(6,)), layers.Dense(16, activation="relu"), layers.Dense(3)])
        model.compile(optimizer=optimizer_factory(), loss=lamina.losses.SparseCategoricalCrossentropy(
            from_logits=True), metrics=["accuracy"], jit_compile=jit_compile)
        history = model.fit(x, y, batch_size=32, epochs=epochs, shuffle=False, verbose=0, **fit_kwargs)
        runs.append((model, history.history))
    return runs


def assert_same_training(runs, rtol=1e-5, atol=1e-6):
    (eager, eager_hist), (compiled, hist) = runs
    for a, b in zip(compiled.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(hist["loss"], eager_hist["loss"], rtol=rtol)
    assert hist["accuracy"] == eager_hist["accuracy"]
    assert compiled.optimizer.iterations == eager.optimizer.iterations
    for a, b in zip(compiled.optimizer.variables, eager.optimizer.variables, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-6)  # slots too


@pytest.mark.parametrize("optimizer", [
    lambda: lamina.optimizers.Adam(0.01),
    lambda: lamina.optimizers.Adam(0.01, amsgrad=True),
    lambda: lamina.optimizers.AdamW(0.01, weight_decay=0.1),
    lambda: lamina.optimizers.SGD(0.1),
    lambda: lamina.optimizers.SGD(0.1, momentum=0.9),
    lambda: lamina.optimizers.SGD(0.1, momentum=0.9, nesterov=True, clipnorm=0.5),
    lambda: lamina.optimizers.Adam(lamina.optimizers.schedules.ExponentialDecay(0.01, 2, 0.5), global_clipnorm=1.0),
], ids=["adam", "amsgrad", "adamw", "sgd", "momentum", "nesterov-clipnorm", "schedule-global-clipnorm"])
def test_the_whole_compiled_step_trains_as_the_eager_step(monkeypatch, optimizer):
    runs = fit_both(optimizer, monkeypatch=monkeypatch)
    compiled = runs[1][0]
    assert isinstance(compiled._trainer.jit.whole, jit.CompiledTrainStep)
    assert counters["stats"]["unique_graphs"] == 1  # one graph: the learning rate is a tensor input
    assert_same_training(runs)


def test_the_whole_compiled_step_with_inductor_regularizers_and_batch_norm(monkeypatch):
    def model():
        return lamina.Sequential([layers.Input(shape=(6,)), layers.Dense(16, kernel_regularizer="l2", use_bias=False),
                                  layers.BatchNormalization(), layers.Activation("relu"), layers.Dense(3)])

    runs = fit_both(lambda: lamina.optimizers.Adam(0.01), backend="inductor", monkeypatch=monkeypatch,
                    model_factory=model)
    assert isinstance(runs[1][0]._trainer.jit.whole, jit.CompiledTrainStep)
    assert_same_training(runs, rtol=1e-4, atol=1e-5)
    bn_eager, bn_compiled = (m.layers[1] for m, _ in runs)  # running statistics updated inside the graph too
    np.testing.assert_allclose(bn_compiled.moving_mean.numpy(), bn_eager.moving_mean.numpy(), rtol=1e-4, atol=1e-6)
    assert not counters["graph_break"]


@pytest.mark.parametrize("optimizer", [
    lambda: lamina.optimizers.Adam(0.01, use_ema=True),
    lambda: lamina.optimizers.SGD(0.1, gradient_accumulation_steps=2),
    lambda: lamina.optimizers.RMSprop(0.01),
], ids=["ema", "accumulation", "no-traceable-rule"])
def test_other_optimizers_train_with_the_compiled_model_instead(monkeypatch, optimizer):
    runs = fit_both(optimizer, monkeypatch=monkeypatch)
    compiled = runs[1][0]
    assert compiled._trainer.jit.whole is None and compiled._compiled_call_impl is not None
    assert_same_training(runs)


def test_a_custom_train_step_is_not_replaced(monkeypatch):
    monkeypatch.setattr(jit, "BACKEND", "aot_eager")
    calls = []

    class Custom(lamina.Sequential):
        def train_step(self, data):
            calls.append(len(data[0]))
            return super().train_step(data)

    model = Custom([layers.Input(shape=(6,)), layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    x, _ = data(64)
    model.fit(x, np.zeros((64, 3), "float32"), batch_size=32, verbose=0)
    assert calls == [32, 32] and model._trainer.jit.whole is None


def test_layers_adding_losses_train_as_eagerly(monkeypatch):
    class Penalized(layers.Layer):
        def call(self, x):
            self.add_loss(0.1 * x.square().mean())
            return x

    def with_add_loss():
        return lamina.Sequential([layers.Input(shape=(6,)), layers.Dense(16), Penalized(), layers.Dense(3)])

    def with_activity_regularizer():
        return lamina.Sequential([layers.Input(shape=(6,)), layers.Dense(16, activity_regularizer="l2"),
                                  layers.Dense(3)])

    runs = fit_both(lambda: lamina.optimizers.Adam(0.01), monkeypatch=monkeypatch, model_factory=with_add_loss)
    assert not runs[1][0]._trainer.jit.whole.active  # noticed at the first step, compiled model after that
    assert_same_training(runs)
    runs = fit_both(lambda: lamina.optimizers.Adam(0.01), monkeypatch=monkeypatch,
                    model_factory=with_activity_regularizer)
    assert runs[1][0]._trainer.jit.whole is None
    assert_same_training(runs)


def test_fitting_again_reuses_the_compiled_step(monkeypatch):
    monkeypatch.setattr(jit, "BACKEND", "aot_eager")
    x, y = data(64)
    model = make(jit_compile=True, dropout=False)
    for _ in range(3):
        model.fit(x, y, batch_size=32, verbose=0)
    assert isinstance(model._trainer.jit.whole, jit.CompiledTrainStep)
    assert counters["stats"]["unique_graphs"] == 1
