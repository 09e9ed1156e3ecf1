"""lamina.optimizers.multi (MultiOptimizer, OptimizerMap) against Keras 3 (torch backend): which weight goes to
which optimizer, the updates, loss_scale_factor, fit, configs, errors; and exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from optimizer_harness import assert_weights_close

import lamina
from lamina import layers, optimizers
from lamina.core.variable import Variable
from lamina.optimizers import SGD, Adam, MultiOptimizer, OptimizerMap

NAMES = ["enc_kernel", "enc_bias", "dec_kernel", "head"]
SHAPES = [(3, 4), (4,), (4, 2), (2,)]


def _data(n: int = 4):
    rng = np.random.default_rng(5)
    w0 = [rng.normal(size=s).astype("float32") for s in SHAPES]
    return w0, [[rng.normal(size=s).astype("float32") for s in SHAPES] for _ in range(n)]


def _run(make, variable, w0, grads):
    opt = make()
    vs = [variable(w, name) for w, name in zip(w0, NAMES, strict=True)]
    for step in grads:
        opt.apply([torch.tensor(g) for g in step], vs)
    return opt, [np.asarray(v.detach().numpy() if isinstance(v, torch.Tensor) else v.numpy()) for v in vs]


def _both(keras, make):
    w0, grads = _data()
    keras_opt, want = _run(lambda: make(keras.optimizers), lambda w, n: keras.Variable(w, name=n), w0, grads)
    opt, got = _run(lambda: make(optimizers), lambda w, n: Variable(w, name=n, trainable=True), w0, grads)
    return opt, got, keras_opt, want


@pytest.mark.parametrize("loss_scale_factor", [None, 4.0])
def test_an_optimizer_map_matches_keras(keras, loss_scale_factor):
    def make(o):
        return o.MultiOptimizer(o.OptimizerMap(o.SGD(learning_rate=0.1, momentum=0.9),
                                               {"enc_.*": o.Adam(learning_rate=0.05), "head": o.Lion(0.01)}),
                                loss_scale_factor=loss_scale_factor)

    opt, got, keras_opt, want = _both(keras, make)
    assert_weights_close(got, want, rtol=1e-5, atol=1e-6)
    assert [type(o).__name__ for o in opt.optimizers] == [type(o).__name__ for o in keras_opt.optimizers]
    assert opt.iterations == int(keras_opt.iterations.numpy())
    assert [o.iterations for o in opt.optimizers] == [int(o.iterations.numpy()) for o in keras_opt.optimizers]


def test_a_selector_function_matches_keras(keras):
    def make(o):
        fast, slow = o.SGD(learning_rate=0.5), o.RMSprop(learning_rate=0.01)
        return o.MultiOptimizer(lambda v: fast if "kernel" in v.path else slow)

    opt, got, keras_opt, want = _both(keras, make)
    assert_weights_close(got, want, rtol=1e-5, atol=1e-6)
    assert [type(o).__name__ for o in opt.optimizers] == [type(o).__name__ for o in keras_opt.optimizers]


def test_fit_with_a_multi_optimizer_matches_keras(keras):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    weights = [rng.normal(scale=0.5, size=s).astype("float32") for s in ((3, 4), (4,), (4, 2), (2,))]

    def build(lib, o):
        m = lib.Sequential([lib.layers.Input((3,)), lib.layers.Dense(4, activation="tanh", name="encoder"),
                            lib.layers.Dense(2, name="head")])
        m.set_weights(weights)
        # a Sequential's weight paths start with its name: "sequential/encoder/kernel", in Keras as in lamina
        m.compile(optimizer=o.MultiOptimizer(o.OptimizerMap(o.SGD(0.1), {".*/encoder/.*": o.Adam(0.01)})),
                  loss="mse")
        return m

    keras_model = build(keras, keras.optimizers)
    model = build(lamina, optimizers)
    assert layers is lamina.layers
    want = keras_model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    got = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert_weights_close(model.get_weights(), keras_model.get_weights(), rtol=1e-5, atol=1e-6)
    adam = model.optimizer.optimizers[0]
    assert isinstance(adam, Adam) and [p.path for p in adam._params] == ["sequential/encoder/kernel",
                                                                         "sequential/encoder/bias"]


def test_learning_rate_is_on_the_sub_optimizers_like_keras(keras):
    for o in (keras.optimizers, optimizers):
        multi = o.MultiOptimizer(o.OptimizerMap(o.SGD()))
        with pytest.raises(AttributeError, match="sub-optimizer"):
            _ = multi.learning_rate


def test_two_matching_patterns_are_an_error_like_keras(keras):
    for o, variable in ((keras.optimizers, lambda: keras.Variable(np.ones(2), name="enc_kernel")),
                        (optimizers, lambda: Variable(np.ones(2), name="enc_kernel", trainable=True))):
        multi = o.MultiOptimizer(o.OptimizerMap(o.SGD(), {"enc.*": o.Adam(), ".*kernel": o.Adam()}))
        with pytest.raises(ValueError, match="Multiple optimizers"):
            multi.build([variable()])


def test_optimizer_map_is_a_mapping_of_patterns_like_keras(keras):
    for o in (keras.optimizers, optimizers):
        m = o.OptimizerMap(o.SGD(), {"a.*": o.Adam()})
        m["b"] = o.RMSprop()
        assert list(m) == ["a.*", "b"] and len(m) == 2
        assert type(m["abc"]).__name__ == "Adam" and type(m["b"]).__name__ == "RMSprop"
        assert type(m["zzz"]).__name__ == "SGD"
        del m["b"]
        assert list(m) == ["a.*"]
        with pytest.raises((TypeError, ValueError), match="Optimizer"):
            m["c"] = "adam"


def test_config_round_trips_with_keras_keys(keras):
    ours = MultiOptimizer(OptimizerMap(SGD(0.1), {"enc.*": Adam(0.01)}), loss_scale_factor=2.0)
    theirs = keras.optimizers.MultiOptimizer(keras.optimizers.OptimizerMap(keras.optimizers.SGD(0.1)))
    assert sorted(ours.get_config()) == sorted(theirs.get_config())
    inner, keras_inner = ours.get_config()["optimizer_map"], theirs.get_config()["optimizer_map"]
    assert sorted(inner["config"]) == sorted(keras_inner["config"])
    again = optimizers.deserialize(json.loads(json.dumps(optimizers.serialize(ours))))
    assert isinstance(again, MultiOptimizer) and again.get_config() == ours.get_config()
    with pytest.raises(TypeError, match="OptimizerMap"):
        MultiOptimizer(lambda v: SGD()).get_config()


def test_state_round_trip_resumes_bit_for_bit():
    w0, grads = _data(6)

    def make():
        return MultiOptimizer(OptimizerMap(SGD(0.1, momentum=0.9), {"enc_.*": Adam(0.05, use_ema=True)}))

    _, straight = _run(make, lambda w, n: Variable(w, name=n, trainable=True), w0, grads)
    first, middle = _run(make, lambda w, n: Variable(w, name=n, trainable=True), w0, grads[:3])
    tensors, meta = first.state_dict()
    tensors = {k: v.clone() for k, v in tensors.items()}
    second = make()
    params = [Variable(w, name=n, trainable=True) for w, n in zip(middle, NAMES, strict=True)]
    second.build(params)
    second.load_state_dict(tensors, json.loads(json.dumps(meta)))
    for step in grads[3:]:
        second.apply([torch.tensor(g) for g in step], params)
    for p, w in zip(params, straight, strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), w)
    store: dict = {}
    second.save_own_variables(store)
    third = make()
    third.build(params)
    third.load_own_variables(store)
    assert third.iterations == second.iterations == 6


def test_fit_with_an_ema_sub_optimizer_matches_keras(keras):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    weights = [rng.normal(scale=0.5, size=s).astype("float32") for s in ((3, 4), (4,), (4, 2), (2,))]

    def build(lib, o):
        m = lib.Sequential([lib.layers.Input((3,)), lib.layers.Dense(4, activation="tanh", name="encoder"),
                            lib.layers.Dense(2, name="head")])
        m.set_weights(weights)
        ema = o.Adam(0.01, use_ema=True, ema_momentum=0.5)
        m.compile(optimizer=o.MultiOptimizer(o.OptimizerMap(o.SGD(0.1), {".*/encoder/.*": ema})), loss="mse")
        return m

    keras_model, model = build(keras, keras.optimizers), build(lamina, optimizers)
    keras_model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert model.optimizer.use_ema and len(model.optimizer.optimizers[0]._params) == 2
    assert_weights_close(model.get_weights(), keras_model.get_weights(), rtol=1e-5, atol=1e-6)


def test_a_saved_model_brings_its_multi_optimizer_back(tmp_path):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    model = lamina.Sequential([layers.Input((3,)), layers.Dense(4, name="encoder"), layers.Dense(2)])
    model.compile(optimizer=MultiOptimizer(OptimizerMap(SGD(0.1), {".*encoder/.*": Adam(0.01)})), loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "m.lamina")
    again = lamina.models.load_model(tmp_path / "m.lamina")
    assert isinstance(again.optimizer, MultiOptimizer) and again.optimizer.iterations == 2
    for ours, saved in zip(again.optimizer.get_weights(), model.optimizer.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, saved)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    again.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for ours, theirs in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
