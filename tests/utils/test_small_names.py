"""The small ``keras.utils`` names (Config, get_source_inputs, is_keras_tensor, CustomObjectScope, logging switches,
standardize_dtype, clear_session, get_file) against Keras 3 (torch backend)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lamina


def test_config_behaves_as_keras_s(keras):
    for lib in (keras, lamina):
        config = lib.utils.Config(learning_rate=0.1, momentum=0.9)
        config.use_ema = True
        config["seed"] = 123
        assert (config.seed, config["learning_rate"], config.use_ema) == (123, 0.1, True)
        assert list(config.keys()) == ["learning_rate", "momentum", "use_ema", "seed"]
        assert json.loads(config.to_json()) == config.as_dict() == dict(config.items())
        config.freeze()
        assert config.frozen
        with pytest.raises(ValueError, match="frozen"):
            config.seed = 1
        with pytest.raises(ValueError, match="frozen"):
            config["seed"] = 1
        config.unfreeze()
        config.seed = 7
        assert config.pop("seed") == 7 and "seed" not in config
        with pytest.raises(AttributeError):
            _ = config.missing


def test_source_inputs_and_keras_tensors_like_keras(keras):
    for lib in (keras, lamina):
        a, b = lib.Input((3,), name="a"), lib.Input((3,), name="b")
        merged = lib.layers.Add()([lib.layers.Dense(3)(a), b])
        out = lib.layers.Dense(1)(lib.layers.Dense(3)(merged))
        assert [t.name for t in lib.utils.get_source_inputs(out)] == ["a", "b"]
        assert lib.utils.get_source_inputs(a)[0] is a
        assert lib.utils.is_keras_tensor(out) and not lib.utils.is_keras_tensor(np.zeros(2))


def test_custom_object_scope_and_registry_names(keras):
    assert keras.utils.CustomObjectScope is keras.saving.custom_object_scope
    assert lamina.utils.CustomObjectScope is lamina.utils.custom_object_scope

    def swish2(x):
        return x

    with lamina.utils.CustomObjectScope({"swish2": swish2}):
        assert lamina.activations.get("swish2") is swish2


def test_switches_and_dtypes_are_the_config_and_backend_ones(keras):
    lamina.utils.disable_interactive_logging()
    try:
        assert not lamina.utils.is_interactive_logging_enabled()
    finally:
        lamina.utils.enable_interactive_logging()
    assert lamina.utils.is_interactive_logging_enabled()
    for dtype in ("float32", "int64", float, "bool"):
        assert lamina.utils.standardize_dtype(dtype) == keras.utils.standardize_dtype(dtype)
    lamina.layers.Dense(2)
    lamina.utils.clear_session()
    assert lamina.layers.Dense(2).name == "dense"
    assert callable(lamina.utils.get_file)
