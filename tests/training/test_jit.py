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
