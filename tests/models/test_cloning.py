"""Issue 16 (Model and Layer members Keras code uses): Model.to_json / models.model_from_json,
models.clone_model, Layer.get_build_config / build_from_config, Model.get_compile_config / compile_from_config,
Model.input_shape / output_shape, Model.run_eagerly / jit_compile / steps_per_execution, layers.serialize /
deserialize. Oracle: Keras 3 (torch backend) run side by side on the same small models."""

import inspect
import json

import numpy as np
import pytest

import lamina


def _sequential(k):
    return k.Sequential([k.Input((3,)), k.layers.Dense(4, activation="relu"), k.layers.Dense(2)])


def _functional(k):
    a, b = k.Input((3,), name="a"), k.Input((5,), name="b")
    h = k.layers.Concatenate()([k.layers.Dense(4)(a), b])
    return k.Model([a, b], [k.layers.Dense(2)(h), k.layers.Dense(1)(h)])


def _single(k):
    x = k.Input((3,))
    return k.Model([x], k.layers.Dense(2)(k.layers.Dense(4)(x)))


BUILDERS = {"sequential": _sequential, "functional": _functional, "single": _single}


def _data(model):
    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    data = [np.random.default_rng(0).normal(size=(2,) + tuple(s[1:])).astype("float32") for s in shapes]
    return data[0] if len(data) == 1 else data


def test_signatures_match_keras(keras):
    for name in ("clone_model", "model_from_json"):
        ours = list(inspect.signature(getattr(lamina.models, name)).parameters)
        theirs = list(inspect.signature(getattr(keras.models, name)).parameters)
        assert ours == theirs, name


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_input_output_shape_as_keras(keras, kind):
    ours, theirs = BUILDERS[kind](lamina), BUILDERS[kind](keras)
    assert ours.input_shape == theirs.input_shape
    assert ours.output_shape == theirs.output_shape


def test_subclassed_model_has_no_input_shape(keras):
    for k in (lamina, keras):
        class Sub(k.Model):
            def __init__(self, dense=k.layers.Dense, **kwargs):
                super().__init__(**kwargs)
                self.d = dense(2)

            def call(self, x):
                return self.d(x)

        assert not hasattr(Sub(), "input_shape")
        assert not hasattr(Sub(), "output_shape")


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_clone_model_new_layers_same_architecture(keras, kind):
    for k in (lamina, keras):
        model = BUILDERS[kind](k)
        clone = k.models.clone_model(model)
        assert [type(layer).__name__ for layer in clone.layers] == [type(layer).__name__ for layer in model.layers]
        assert [layer.name for layer in clone.layers if type(layer).__name__ != "InputLayer"] == \
            [layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"]
        assert not any(a is b for a, b in zip(clone.layers, model.layers, strict=True))
        assert clone.input_shape == model.input_shape and clone.output_shape == model.output_shape
        assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]
        assert not any(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in
                       zip(clone.get_weights(), model.get_weights(), strict=True) if np.asarray(a).std() > 0)
        clone.set_weights(model.get_weights())
        x = _data(model)
        for p, q in zip(lamina.tree.flatten(model.predict(x, verbose=0)),
                        lamina.tree.flatten(clone.predict(x, verbose=0)), strict=True):
            np.testing.assert_allclose(np.asarray(p), np.asarray(q), rtol=1e-6)


def test_clone_model_clone_function_and_input_tensors(keras):
    for k in (lamina, keras):
        model = _single(k)
        seen = []

        def fn(layer, seen=seen, k=k):
            seen.append(layer.name)
            return layer.__class__.from_config(layer.get_config())

        clone = k.models.clone_model(model, clone_function=fn)
        assert seen == [layer.name for layer in model.layers[1:]]  # not called for the InputLayer
        assert clone.output_shape == (None, 2)
        z = k.Input((3,), name="z")
        clone = k.models.clone_model(model, input_tensors=[z])
        assert clone.inputs[0] is z


def test_clone_sequential_shares_layers_with_identity_function():
    model = _sequential(lamina)
    clone = lamina.models.clone_model(model, clone_function=lambda layer: layer)
    assert all(a is b for a, b in zip(clone.layers, model.layers, strict=True))


def test_clone_unbuilt_sequential_and_subclassed(keras):
    for k in (lamina, keras):
        clone = k.models.clone_model(k.Sequential([k.layers.Dense(2)]))
        assert not clone.built

        class Sub(k.Model):
            def __init__(self, units=2, dense=k.layers.Dense, **kwargs):
                super().__init__(**kwargs)
                self.units = units
                self.d = dense(units)

            def call(self, x):
                return self.d(x)

            def get_config(self):
                return {**super().get_config(), "units": self.units}

        clone = k.models.clone_model(Sub(units=3))
        assert type(clone) is Sub and clone.units == 3


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_to_json_and_model_from_json(keras, kind):
    ours, theirs = BUILDERS[kind](lamina), BUILDERS[kind](keras)
    for m in (ours, theirs):
        m.compile(optimizer="adam", loss="mse")
    ours_json, theirs_json = json.loads(ours.to_json()), json.loads(theirs.to_json())
    assert set(ours_json) == set(theirs_json)
    assert ours_json["class_name"] == theirs_json["class_name"]
    assert [layer["class_name"] for layer in ours_json["config"]["layers"]] == \
        [layer["class_name"] for layer in theirs_json["config"]["layers"]]
    assert ours.to_json(indent=2) == json.dumps(json.loads(ours.to_json()), indent=2)
    for k, m in ((lamina, ours), (keras, theirs)):
        back = k.models.model_from_json(m.to_json())
        assert type(back).__name__ == type(m).__name__
        assert back.output_shape == m.output_shape
        assert [layer.name for layer in back.layers] == [layer.name for layer in m.layers]
        assert back.compiled and back.get_compile_config()["loss"] == "mse"
        back.set_weights(m.get_weights())
        x = _data(m)
        for p, q in zip(lamina.tree.flatten(m.predict(x, verbose=0)),
                        lamina.tree.flatten(back.predict(x, verbose=0)), strict=True):
            np.testing.assert_allclose(np.asarray(p), np.asarray(q), rtol=1e-6)


def test_model_from_json_uses_the_registry_only():
    @lamina.saving.register_serializable(package="Cloning")
    class Twice(lamina.layers.Layer):
        def call(self, x):
            return x * 2

    class Unregistered(lamina.layers.Layer):
        def call(self, x):
            return x * 3

    x = lamina.Input((2,))
    model = lamina.Model(x, Unregistered()(Twice()(x)))
    text = model.to_json()
    with pytest.raises(ValueError):
        lamina.models.model_from_json(text)
    back = lamina.models.model_from_json(text, custom_objects={"Unregistered": Unregistered})
    np.testing.assert_allclose(np.asarray(back.predict(np.ones((1, 2), "float32"), verbose=0)), 6.0)
    with pytest.raises(ValueError):
        lamina.models.model_from_json("[1, 2]")


def test_compile_config_round_trip_as_keras(keras):
    for k in (lamina, keras):
        model = _sequential(k)
        assert model.get_compile_config() in ({}, None)
        assert (model.run_eagerly, model.jit_compile, model.steps_per_execution) == (False, False, 1)
        model.compile(optimizer="sgd", loss="mae", metrics=["mae"], steps_per_execution=2, run_eagerly=True)
        cfg = model.get_compile_config()
        assert {"optimizer", "loss", "metrics", "run_eagerly", "steps_per_execution", "jit_compile"} <= set(cfg)
        assert (cfg["loss"], cfg["run_eagerly"], cfg["steps_per_execution"]) == ("mae", True, 2)
        assert (model.run_eagerly, model.steps_per_execution) == (True, 2)
        other = _sequential(k)
        other.compile_from_config(cfg)
        assert other.compiled
        assert (other.run_eagerly, other.steps_per_execution) == (True, 2)
        assert type(other.optimizer).__name__ == "SGD"


def test_compile_attributes_settable_as_keras(keras):
    for k in (lamina, keras):
        model = _sequential(k)
        model.run_eagerly = True
        model.compile(optimizer="sgd", loss="mse")
        assert model.run_eagerly is False  # compile's own argument wins, as in Keras
        model.run_eagerly = True
        model.jit_compile = True
        model.steps_per_execution = 3
        assert (model.run_eagerly, model.jit_compile, model.steps_per_execution) == (True, True, 3)
    model = _sequential(lamina)
    model.compile(optimizer="sgd", loss="mse")
    model.run_eagerly = True
    assert model._trainer.run_eagerly is True
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)


def test_model_members_keras_code_uses(keras):
    # The public Model members still missing in lamina are listed in the issue 16 report; these must exist.
    for name in ("to_json", "get_compile_config", "compile_from_config", "get_build_config", "build_from_config",
                 "run_eagerly", "jit_compile"):
        assert hasattr(keras.Model, name) and hasattr(lamina.Model, name), name
    assert hasattr(lamina.Model, "steps_per_execution")  # an instance attribute in Keras (see the test above)


@pytest.mark.parametrize("recursive,expected", [(True, ["Dense", "Dense"]), (False, ["Functional", "Dense"])])
def test_clone_model_recursive_as_keras(keras, recursive, expected):
    for k in (lamina, keras):
        x = k.Input((3,))
        inner = k.Model(x, k.layers.Dense(4)(x), name="inner")
        y = k.Input((3,))
        outer = k.Model(y, k.layers.Dense(2)(inner(y)))
        seen = []

        def fn(layer, seen=seen, ours=k is lamina):
            seen.append(lamina.core.serialization.layer_class_name(layer) if ours else type(layer).__name__)
            return layer.__class__.from_config(layer.get_config())

        clone = k.models.clone_model(outer, clone_function=fn, recursive=recursive)
        assert seen == expected
        assert clone.layers[1] is not inner and clone.output_shape == (None, 2)


def test_clone_model_call_function_as_keras(keras):
    for k in (lamina, keras):
        x = k.Input((3,))
        model = k.Model(x, k.layers.Dense(2)(k.layers.Dense(4)(x)))
        calls = []

        def call(layer, *args, calls=calls, relu=k.layers.Activation, dense=k.layers.Dense, **kwargs):
            calls.append(type(layer).__name__)
            out = layer(*args, **kwargs)
            return relu("relu")(out) if isinstance(layer, dense) else out

        clone = k.models.clone_model(model, call_function=call)
        assert calls == ["Dense", "Dense"]
        assert [type(layer).__name__ for layer in clone.layers] == \
            ["InputLayer", "Dense", "Activation", "Dense", "Activation"]
        with pytest.raises(ValueError):
            k.models.clone_model(k.Sequential([k.Input((3,)), k.layers.Dense(2)]), call_function=call)


def test_sequential_build_config_as_keras(keras):
    for k in (lamina, keras):
        model = k.Sequential([k.Input((3,)), k.layers.Dense(2)])
        cfg = model.get_build_config()
        assert cfg == {"input_shape": (None, 3)}
        fresh = k.Sequential([k.layers.Dense(2)])
        fresh.build_from_config(json.loads(json.dumps(cfg)))
        assert fresh.built and fresh.output_shape == (None, 2)
        assert [tuple(w.shape) for w in fresh.weights] == [(3, 2), (2,)]


def test_model_from_json_parses_through_the_bounded_parser():
    """Issue 18: the JSON of a model goes through the same caps as a file's (no RecursionError, no 100,000
    layers built)."""
    from lamina.saving import FileFormatError, UnsafeFileError

    with pytest.raises(UnsafeFileError, match="nests"):
        lamina.models.model_from_json("[" * 100_000 + "]" * 100_000)
    many = {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "Activation", "config": {"activation": "relu"}}] * 20_000}}
    with pytest.raises(UnsafeFileError, match="more than 10000 layers"):
        lamina.models.model_from_json(json.dumps(many))
    with pytest.raises(FileFormatError):
        lamina.models.model_from_json('{"class_name": ')
