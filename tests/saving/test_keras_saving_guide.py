"""Pieces of Keras's guide "Customizing saving and serialization" that lamina got wrong, each run under Keras and
lamina (Keras 3, torch backend, is the oracle)."""

from __future__ import annotations

import numpy as np
import pytest

import lamina


def custom_build_layer(lib, package):
    @lib.saving.register_keras_serializable(package=package)
    class LayerWithCustomBuild(lib.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def call(self, inputs):
            return lib.ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return dict(units=self.units, **super().get_config())

        def build(self, input_shape, layer_init):
            super().build(input_shape)
            self._input_shape = input_shape
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer=layer_init, trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer=layer_init, trainable=True)
            self.layer_init = layer_init

        def get_build_config(self):
            return {"layer_init": self.layer_init, "input_shape": self._input_shape}

        def build_from_config(self, config):
            self.build(config["input_shape"], config["layer_init"])

    return LayerWithCustomBuild


def test_a_sequential_without_input_is_built_from_its_build_config_on_load(keras, tmp_path):
    x = np.random.default_rng(0).random((16, 8)).astype("float32")
    layer = custom_build_layer(lamina, "lamina_guide_build")(units=16)
    layer.build(input_shape=(8,), layer_init="random_normal")
    model = lamina.Sequential([layer, lamina.layers.Dense(1, activation="sigmoid")])
    expected = lamina.ops.convert_to_numpy(model(x))
    path = str(tmp_path / "custom_build_model.keras")
    model.save(path)
    restored = lamina.models.load_model(path)
    np.testing.assert_allclose(lamina.ops.convert_to_numpy(restored(x)), expected, atol=1e-6)
    custom_build_layer(keras, "lamina_guide_build")  # Keras reads lamina's file with its own class
    theirs = keras.models.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(x)), expected, atol=1e-5)


def test_a_compile_config_of_live_objects_is_serialized_and_restored(tmp_path):
    @lamina.saving.register_keras_serializable(package="lamina_guide_compile")
    def small_square_sum_loss(y_true, y_pred):
        return lamina.ops.sum(lamina.ops.square(y_pred - y_true), axis=-1) / 10

    @lamina.saving.register_keras_serializable(package="lamina_guide_compile")
    class ModelWithCustomCompile(lamina.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense1 = lamina.layers.Dense(8, activation="relu")
            self.dense2 = lamina.layers.Dense(4, activation="softmax")

        def call(self, inputs):
            return self.dense2(self.dense1(inputs))

        def compile(self, optimizer, loss_fn, metrics):
            super().compile(optimizer=optimizer, loss=loss_fn, metrics=metrics)
            self.model_optimizer, self.loss_fn, self.loss_metrics = optimizer, loss_fn, metrics

        def get_compile_config(self):
            return {"model_optimizer": self.model_optimizer, "loss_fn": self.loss_fn, "metric": self.loss_metrics}

        def compile_from_config(self, config):
            self.compile(optimizer=lamina.utils.deserialize_keras_object(config["model_optimizer"]),
                         loss_fn=lamina.utils.deserialize_keras_object(config["loss_fn"]),
                         metrics=lamina.utils.deserialize_keras_object(config["metric"]))

    model = ModelWithCustomCompile()
    model.compile(optimizer="SGD", loss_fn=small_square_sum_loss, metrics=["accuracy"])
    x, y = np.random.default_rng(1).random((4, 8)), np.random.default_rng(2).random((4,))
    model.fit(x, y, verbose=0)
    path = str(tmp_path / "custom_compile_model.keras")
    model.save(path)
    restored = lamina.models.load_model(path)
    assert restored.loss_fn is small_square_sum_loss and restored.model_optimizer == "SGD"
    assert restored.evaluate(x, y, verbose=0, return_dict=True)["loss"] == pytest.approx(
        model.evaluate(x, y, verbose=0, return_dict=True)["loss"], rel=1e-6)


def test_deserialize_keras_object_keeps_bare_names_as_keras(keras):
    for lib in (keras, lamina):
        @lib.saving.register_keras_serializable(package="lamina_guide_names")
        def myfn(x):
            return x

        assert lib.utils.deserialize_keras_object("SGD") == "SGD"
        assert lib.utils.deserialize_keras_object("relu") == "relu"
        assert lib.utils.deserialize_keras_object(["accuracy"]) == ["accuracy"]
        assert lib.utils.deserialize_keras_object("lamina_guide_names>myfn") is myfn
        assert lib.utils.deserialize_keras_object("zz", custom_objects={"zz": myfn}) is myfn
        with lib.saving.custom_object_scope({"zz": myfn}):
            assert lib.utils.deserialize_keras_object("zz") is myfn
