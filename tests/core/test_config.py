"""lamina.core.config: floatx, epsilon, dtype names, automatic layer names, clear_session.

Truth: Keras 3's keras.config / keras.backend (torch backend) and the closed forms Keras documents.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamina.core import config


@pytest.fixture(autouse=True)
def _restore_globals(monkeypatch):
    # monkeypatch restores the module globals after each test, whatever the test set.
    monkeypatch.setattr(config, "_FLOATX", config._FLOATX)
    monkeypatch.setattr(config, "_EPSILON", config._EPSILON)
    monkeypatch.setattr(config, "_NAME_COUNTERS", type(config._NAME_COUNTERS)(config._NAME_COUNTERS.default_factory))


def test_defaults_match_keras(keras):
    assert config.floatx() == keras.config.floatx() == "float32"
    assert config.epsilon() == keras.config.epsilon() == 1e-7


@pytest.mark.parametrize("value", ["float16", "bfloat16", "float32", "float64"])
def test_set_floatx(value):
    config.set_floatx(value)
    assert config.floatx() == value
    assert config.standardize_dtype(None) == getattr(torch, value)


@pytest.mark.parametrize("bad", ["int32", "float", "double", torch.float32, None])
def test_set_floatx_rejects_non_float_names(bad):
    with pytest.raises(ValueError, match="set_floatx"):
        config.set_floatx(bad)
    assert config.floatx() == "float32"


def test_set_epsilon():
    config.set_epsilon(1e-3)
    assert config.epsilon() == 1e-3
    config.set_epsilon(5)
    assert config.epsilon() == 5.0 and isinstance(config.epsilon(), float)


NAMES = ["float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64", "bool"]


@pytest.mark.parametrize("name", NAMES)
def test_standardize_dtype_of_keras_names(keras, name):
    dtype = config.standardize_dtype(name)
    assert isinstance(dtype, torch.dtype)
    assert dtype == getattr(torch, name)
    assert config.dtype_name(dtype) == keras.backend.standardize_dtype(name) == name


@pytest.mark.parametrize("dtype", [torch.float16, torch.int64, torch.bool])
def test_standardize_dtype_passes_torch_dtypes_through(dtype):
    assert config.standardize_dtype(dtype) is dtype
    assert config.standardize_dtype(str(dtype)) is dtype  # "torch.float16"


@pytest.mark.parametrize("dtype", [np.dtype("float32"), np.dtype("int64"), np.float32, np.int32, np.float64],
                         ids=str)
def test_standardize_dtype_accepts_numpy_dtypes_like_keras(keras, dtype):
    expected = keras.backend.standardize_dtype(dtype)
    assert config.dtype_name(config.standardize_dtype(dtype)) == expected


def test_standardize_dtype_none_is_floatx():
    assert config.standardize_dtype(None) is torch.float32
    config.set_floatx("float64")
    assert config.standardize_dtype(None) is torch.float64


@pytest.mark.parametrize("bad", ["float128", "floatt32", "tensor"])
def test_standardize_dtype_unknown_names_list_the_known_ones(bad):
    with pytest.raises(ValueError) as info:
        config.standardize_dtype(bad)
    msg = str(info.value)
    assert repr(bad) in msg
    for name in NAMES:
        assert repr(name) in msg


def test_unique_name_counts_per_prefix_like_keras():
    assert [config.unique_name("dense") for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert config.unique_name("conv2d") == "conv2d"
    assert config.unique_name("dense") == "dense_3"
    assert config.unique_name("conv2d") == "conv2d_1"


def test_clear_session_resets_names():
    config.unique_name("dense")
    config.unique_name("dense")
    config.clear_session()
    assert config.unique_name("dense") == "dense"


def test_layer_names_follow_the_counters(keras):
    import lamina

    config.clear_session()
    a, b = lamina.layers.Dense(2), lamina.layers.Dense(2)
    keras.backend.clear_session()
    ka, kb = keras.layers.Dense(2), keras.layers.Dense(2)
    assert (a.name, b.name) == (ka.name, kb.name) == ("dense", "dense_1")
    lamina.clear_session()
    assert lamina.layers.Dense(2).name == "dense"


def test_clear_session_resets_the_global_dtype_policy():
    from lamina.core import dtype_policy

    try:
        dtype_policy.set_global_policy("mixed_bfloat16")
        assert dtype_policy.global_policy().name == "mixed_bfloat16"
        config.clear_session()
        assert dtype_policy.global_policy().name == config.floatx()
    finally:
        dtype_policy.set_global_policy(None)
