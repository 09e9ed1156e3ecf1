"""lamina.saving and lamina.utils under Keras's ``keras.saving`` names, and registered custom objects (an
activation function and a layer) round-tripping through ``model.save``/``load_model``."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import lamina
from lamina import saving, utils

SAVING_NAMES = ["register_keras_serializable", "get_custom_objects", "custom_object_scope", "serialize_keras_object",
                "deserialize_keras_object", "get_registered_name", "get_registered_object", "load_model",
                "save_model", "load_weights", "save_weights"]
UTILS_NAMES = ["register_keras_serializable", "get_custom_objects", "custom_object_scope", "serialize_keras_object",
               "deserialize_keras_object", "get_registered_name", "get_registered_object"]


def test_saving_is_an_attribute_of_lamina():
    assert lamina.saving is saving and "saving" in lamina.__all__


@pytest.mark.parametrize("name", SAVING_NAMES)
def test_saving_carries_keras_names(keras, name):
    assert hasattr(keras.saving, name) and name in saving.__all__
    assert callable(getattr(saving, name))


@pytest.mark.parametrize("name", UTILS_NAMES)
def test_utils_carries_keras_names(keras, name):
    assert hasattr(keras.utils, name) and name in utils.__all__
    assert getattr(utils, name) is getattr(saving, name)


@pytest.mark.parametrize("name", ["register_keras_serializable", "get_registered_object", "deserialize_keras_object"])
def test_signatures_start_like_keras(keras, name):
    ours = list(inspect.signature(getattr(saving, name)).parameters)
    theirs = [p for p in inspect.signature(getattr(keras.saving, name)).parameters if p != "kwargs"]
    assert ours[:len(theirs)] == theirs


def _register_pair(module, package):
    @module.saving.register_keras_serializable(package=package)
    def custom_fn(x):
        return x * 2

    @module.saving.register_keras_serializable(package=package, name="Renamed")
    class Thing:
        def __init__(self, k=1):
            self.k = k

        def get_config(self):
            return {"k": self.k}

        @classmethod
        def from_config(cls, config):
            return cls(**config)

    return custom_fn, Thing


def test_registry_names_behave_as_in_keras(keras):
    for module, package in ((keras, "kn_keras"), (lamina, "kn_lamina")):
        fn, thing = _register_pair(module, package)
        s = module.saving
        assert s.get_registered_name(fn) == f"{package}>custom_fn"
        assert s.get_registered_name(thing) == f"{package}>Renamed"
        assert s.get_registered_object(f"{package}>custom_fn") is fn
        assert s.get_registered_object(f"{package}>Renamed") is thing
        assert s.get_registered_object("kn_no_such_name") is None
        assert s.get_registered_object("kn_x", module_objects={"kn_x": len}) is len
        assert s.get_registered_object("kn_y", custom_objects={"kn_y": abs}) is abs
        assert s.get_custom_objects()[f"{package}>custom_fn"] is fn
        with s.custom_object_scope({"kn_scoped": max}):
            assert s.get_registered_object("kn_scoped") is max
        assert s.get_registered_object("kn_scoped") is None
        assert s.deserialize_keras_object(s.serialize_keras_object(fn)) is fn
        restored = s.deserialize_keras_object(s.serialize_keras_object(thing(k=3)))
        assert type(restored) is thing and restored.k == 3
        assert s.deserialize_keras_object(f"{package}>custom_fn") is fn


def test_get_custom_objects_is_the_live_table(keras):
    def kn_added(x):
        return x

    for module in (keras, lamina):
        module.saving.get_custom_objects()["kn_added"] = kn_added
        try:
            assert module.saving.get_registered_object("kn_added") is kn_added
        finally:
            del module.saving.get_custom_objects()["kn_added"]


@lamina.saving.register_keras_serializable(package="kn_model")
def custom_fn(x):
    return x * 2


@lamina.saving.register_keras_serializable(package="kn_model")
class ScaledDense(lamina.layers.Dense):
    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(units, **kwargs)
        self.scale = scale

    def call(self, inputs):
        return super().call(inputs) * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def test_registered_custom_activation_and_layer_round_trip_through_save(tmp_path):
    model = lamina.Sequential([lamina.Input((3,)), ScaledDense(4, scale=0.5, activation=custom_fn),
                               lamina.layers.Dense(2, activation=custom_fn),
                               lamina.layers.Activation(custom_fn)])
    x = np.arange(6, dtype="float32").reshape(2, 3)
    path = str(tmp_path / "custom.lamina")
    model.save(path)
    loaded = lamina.saving.load_model(path)
    assert type(loaded.layers[0]) is ScaledDense and loaded.layers[0].scale == 0.5
    assert loaded.layers[0].activation is custom_fn and loaded.layers[1].activation is custom_fn
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_unregistered_activation_loads_through_custom_objects(tmp_path):
    def kn_plain(x):
        return x + 1

    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2, activation=kn_plain)])
    path = str(tmp_path / "plain.lamina")
    model.save(path)
    with pytest.raises(Exception, match="kn_plain"):
        lamina.saving.load_model(path)
    loaded = lamina.saving.load_model(path, custom_objects={"kn_plain": kn_plain})
    assert loaded.layers[0].activation is kn_plain
    with lamina.saving.custom_object_scope({"kn_plain": kn_plain}):
        assert lamina.saving.load_model(path).layers[0].activation is kn_plain
