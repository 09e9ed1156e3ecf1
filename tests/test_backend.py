"""lamina.backend against keras.backend: dtype functions over every dtype and Python type, get_uid and its
reset by clear_session, is_keras_tensor on symbolic and real tensors, and the shared settings.

Truth: Keras 3's keras.backend (torch backend).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import lamina
import lamina.config  # lamina.config, until lamina/__init__.py re-exports it
from lamina import backend
from lamina.core import config

KERAS_DTYPES = ["bfloat16", "bool", "complex128", "complex64", "float16", "float32", "float64", "float8_e4m3fn",
                "float8_e5m2", "int16", "int32", "int64", "int8", "string", "uint16", "uint32", "uint64", "uint8"]
PYTHON_TYPES = [int, float, bool, complex, None]
OTHER_FORMS = ["int", "torch.float32", torch.float32, torch.bfloat16, torch.uint16, torch.complex64,
               torch.float8_e4m3fn, torch.int64, np.float32, np.int8, np.dtype("float64"), np.dtype("uint32"), np.bool_,
               np.complex128, str]
BAD = ["float", "double", "half", "bool_", "uint", "complex", "foo", "float32_ref", "object", np.str_,
       np.float32(1.0), torch.ones(1)]


def _outcome(fn, *args):
    try:
        return fn(*args)
    except (ValueError, TypeError, KeyError) as error:
        return type(error)


@pytest.fixture(autouse=True)
def _restore(monkeypatch):
    for name in ("_FLOATX", "_EPSILON", "_IMAGE_DATA_FORMAT"):
        monkeypatch.setattr(config, name, getattr(config, name))


@pytest.mark.parametrize("fn", ["standardize_dtype", "is_float_dtype", "is_int_dtype"])
@pytest.mark.parametrize("dtype", KERAS_DTYPES + PYTHON_TYPES + OTHER_FORMS, ids=repr)
def test_dtype_functions_match_keras(keras, fn, dtype):
    assert _outcome(getattr(backend, fn), dtype) == _outcome(getattr(keras.backend, fn), dtype)


@pytest.mark.parametrize("fn", ["standardize_dtype", "is_float_dtype", "is_int_dtype"])
@pytest.mark.parametrize("dtype", BAD, ids=repr)
def test_dtype_functions_refuse_what_keras_refuses(keras, fn, dtype):
    with pytest.raises((ValueError, TypeError)):
        getattr(keras.backend, fn)(dtype)
    with pytest.raises(ValueError):  # Keras: TypeError for NumPy arrays (an accident of a dict lookup)
        getattr(backend, fn)(dtype)


NUMERIC = [d for d in KERAS_DTYPES if d != "string"] + PYTHON_TYPES


def test_result_type_matches_keras_on_every_pair(keras):
    different = []
    for a, b in itertools.product(NUMERIC, NUMERIC):
        ours, theirs = _outcome(backend.result_type, a, b), _outcome(keras.backend.result_type, a, b)
        if ours != theirs:
            different.append(f"{a}, {b}: lamina {ours}, Keras {theirs}")
    assert not different, "\n".join(different)


@pytest.mark.parametrize("dtypes", [(), ("float8_e4m3fn",), ("string",), ("string", "string"), ("string", "int8"),
                                    ("int8", "uint8", float), ("bool", int, float), (int, float, complex),
                                    ("float16", "bfloat16", "int64"), (np.float16, torch.int8), (None,), (None, int)],
                         ids=repr)
def test_result_type_other_arities(keras, dtypes):
    assert _outcome(backend.result_type, *dtypes) == _outcome(keras.backend.result_type, *dtypes)


@pytest.mark.parametrize("value", ["float16", "float64", "bfloat16"])
def test_result_type_and_standardize_follow_floatx(keras, value):
    backend.set_floatx(value)
    keras.backend.set_floatx(value)
    try:
        for args in ((None,), (float,), (int, float), ("int8", float)):
            assert backend.result_type(*args) == keras.backend.result_type(*args)
        assert backend.standardize_dtype(None) == keras.backend.standardize_dtype(None) == value
    finally:
        keras.backend.set_floatx("float32")


def test_get_uid_counts_per_prefix_like_keras(keras):
    keras.backend.clear_session()
    theirs = [keras.backend.get_uid("x"), keras.backend.get_uid("x"), keras.backend.get_uid("y"),
              keras.backend.get_uid(), keras.backend.get_uid("")]
    ours = [backend.get_uid("x"), backend.get_uid("x"), backend.get_uid("y"), backend.get_uid(), backend.get_uid("")]
    assert ours == theirs == [1, 2, 1, 1, 2]


def test_layer_names_and_get_uid_share_the_counters_as_in_keras(keras):
    keras.backend.clear_session()
    theirs = [keras.layers.Dense(2).name, keras.backend.get_uid("dense"), keras.layers.Dense(2).name]
    ours = [lamina.layers.Dense(2).name, backend.get_uid("dense"), lamina.layers.Dense(2).name]
    assert ours == theirs == ["dense", 2, "dense_2"]


def test_clear_session_resets_uids_names_policy_and_flags(keras):
    backend.get_uid("dense")
    lamina.layers.Dense(2)
    lamina.config.set_dtype_policy("mixed_bfloat16")
    lamina.config.disable_flash_attention()
    lamina.config.disable_interactive_logging()
    lamina.config.disable_traceback_filtering()
    lamina.config.set_image_data_format("channels_first")
    backend.clear_session(free_memory=False)
    assert backend.get_uid("dense") == 1
    assert lamina.layers.Dense(2).name == "dense_1"
    assert lamina.config.dtype_policy().name == "float32"
    assert lamina.config.is_flash_attention_enabled() is None
    assert lamina.config.is_interactive_logging_enabled() and lamina.config.is_traceback_filtering_enabled()
    assert backend.image_data_format() == "channels_first"  # kept, as in Keras
    backend.clear_session()  # free_memory=True (Keras's default): a garbage-collection pass as well
    assert backend.get_uid("dense") == 1


def test_is_keras_tensor(keras):
    x = lamina.Input((3,))
    y = lamina.layers.Dense(2)(x)
    assert backend.is_keras_tensor(x) and backend.is_keras_tensor(y)
    assert backend.is_keras_tensor(lamina.ops.add(x, 1.0))
    for value in (torch.ones(2), np.ones(2), 3, None, [x]):
        assert not backend.is_keras_tensor(value)
    k = keras.Input((3,))
    assert keras.backend.is_keras_tensor(k) and not keras.backend.is_keras_tensor(keras.ops.ones(2))


def test_settings_are_lamina_configs(keras):
    assert backend.backend() == keras.backend.backend() == "torch"
    assert backend.floatx() == keras.backend.floatx() == "float32"
    assert backend.epsilon() == keras.backend.epsilon() == 1e-7
    assert backend.image_data_format() == keras.backend.image_data_format() == "channels_last"
    backend.set_floatx("float64")
    backend.set_epsilon(1e-5)
    backend.set_image_data_format("channels_first")
    assert (lamina.config.floatx(), lamina.config.epsilon(), lamina.config.image_data_format()) == (
        "float64", 1e-5, "channels_first")


def test_every_keras_backend_name_is_here(keras):
    theirs = {n for n in dir(keras.backend) if not n.startswith("_")}
    assert theirs == set(backend.__all__)
    assert {n for n in dir(backend) if not n.startswith("_")} == set(backend.__all__)
