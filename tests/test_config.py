"""lamina.config: what each of keras.config's functions does on PyTorch, against keras.config where both can run.

Truth: Keras 3's keras.config (torch backend) for values, defaults and errors; for the behaviour it controls,
a real tiny fit (epoch/step caps, logging), a Conv2D built after set_image_data_format, and the attention
kernel PyTorch is asked for.
"""

from __future__ import annotations

import inspect
import logging
import warnings

import numpy as np
import pytest
import torch

import lamina
import lamina.backend  # lamina.backend and lamina.config, until lamina/__init__.py re-exports them
import lamina.config
from lamina import layers
from lamina.core import config as core_config

cfg = lamina.config


@pytest.fixture(autouse=True)
def _restore(monkeypatch):
    for name in ("_FLOATX", "_EPSILON", "_IMAGE_DATA_FORMAT", "_MAX_EPOCHS", "_MAX_STEPS_PER_EPOCH",
                 "_FLASH_ATTENTION", "_INTERACTIVE_LOGGING", "_TRACEBACK_FILTERING",
                 "_UNSAFE_DESERIALIZATION_WARNED"):
        monkeypatch.setattr(core_config, name, getattr(core_config, name))
    monkeypatch.setattr(core_config, "_DTYPE_POLICY", None)


@pytest.fixture
def keras_config(keras):
    """keras.config, with its settings put back after the test."""
    c = keras.config
    saved = (c.floatx(), c.epsilon(), c.image_data_format(), c.max_epochs(), c.max_steps_per_epoch(),
             c.is_flash_attention_enabled(), c.is_interactive_logging_enabled(), c.is_traceback_filtering_enabled(),
             c.dtype_policy())
    yield c
    c.set_floatx(saved[0])
    c.set_epsilon(saved[1])
    c.set_image_data_format(saved[2])
    c.set_max_epochs(saved[3])
    c.set_max_steps_per_epoch(saved[4])
    (c.enable_flash_attention if saved[5] is None else c.disable_flash_attention)()
    (c.enable_interactive_logging if saved[6] else c.disable_interactive_logging)()
    (c.enable_traceback_filtering if saved[7] else c.disable_traceback_filtering)()
    c.set_dtype_policy(saved[8])


def test_every_keras_config_name_and_nothing_else(keras):
    theirs = {n for n in dir(keras.config) if not n.startswith("_")}
    assert theirs == set(cfg.__all__)
    assert {n for n in dir(cfg) if not n.startswith("_")} == set(cfg.__all__)
    for name in cfg.__all__:
        ours, keras_fn = inspect.signature(getattr(cfg, name)), inspect.signature(getattr(keras.config, name))
        assert list(ours.parameters) == list(keras_fn.parameters), name


def test_defaults_match_keras(keras_config):
    for name in ("backend", "floatx", "epsilon", "image_data_format", "is_flash_attention_enabled",
                 "is_interactive_logging_enabled", "is_traceback_filtering_enabled", "is_nnx_enabled", "max_epochs",
                 "max_steps_per_epoch"):
        assert getattr(cfg, name)() == getattr(keras_config, name)(), name
    assert cfg.dtype_policy().name == keras_config.dtype_policy().name == "float32"


def test_backend_is_torch_and_other_backends_are_refused():
    assert cfg.backend() == "torch"
    cfg.set_backend("torch")
    for other in ("jax", "tensorflow", "numpy"):
        with pytest.raises(ValueError, match="PyTorch only"):
            cfg.set_backend(other)
    assert cfg.backend() == "torch"


# ------------------------------------------------------------------------------------------ plain settings
@pytest.mark.parametrize("value", ["channels_first", "CHANNELS_FIRST", "channels_last"])
def test_set_image_data_format_like_keras(keras_config, value):
    cfg.set_image_data_format(value)
    keras_config.set_image_data_format(value)
    assert cfg.image_data_format() == keras_config.image_data_format() == value.lower()


@pytest.mark.parametrize("bad", ["nchw", 3, None])
def test_set_image_data_format_refuses_like_keras(keras_config, bad):
    with pytest.raises(ValueError):
        keras_config.set_image_data_format(bad)
    with pytest.raises(ValueError, match="channels_first"):
        cfg.set_image_data_format(bad)
    assert cfg.image_data_format() == "channels_last"


@pytest.mark.parametrize("bad", ["FLOAT64", "int32", np.float64])
def test_set_floatx_refuses_like_keras(keras_config, bad):
    with pytest.raises(ValueError):
        keras_config.set_floatx(bad)
    with pytest.raises(ValueError):
        cfg.set_floatx(bad)


def test_floatx_and_epsilon(keras_config):
    cfg.set_floatx("float64")
    cfg.set_epsilon(1e-5)
    assert (cfg.floatx(), cfg.epsilon()) == ("float64", 1e-5)
    assert lamina.backend.floatx() == "float64"
    assert layers.Dense(2).dtype == "float64"


def test_flags_toggle_like_keras(keras_config):
    for disable, enable, check, off, on in (
            ("disable_flash_attention", "enable_flash_attention", "is_flash_attention_enabled", False, None),
            ("disable_interactive_logging", "enable_interactive_logging", "is_interactive_logging_enabled", False,
             True),
            ("disable_traceback_filtering", "enable_traceback_filtering", "is_traceback_filtering_enabled", False,
             True)):
        for module in (cfg, keras_config):
            getattr(module, disable)()
            assert getattr(module, check)() is off
            getattr(module, enable)()
            assert getattr(module, check)() is on
    assert cfg.is_nnx_enabled() is False


# ------------------------------------------------------------------------------------------ dtype policy
@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16", "float64", "bfloat16", "float32"])
def test_set_dtype_policy_like_keras(keras_config, name):
    cfg.set_dtype_policy(name)
    keras_config.set_dtype_policy(name)
    ours, theirs = cfg.dtype_policy(), keras_config.dtype_policy()
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == (theirs.name, theirs.compute_dtype,
                                                                    theirs.variable_dtype)
    layer = layers.Dense(2)
    assert (layer.dtype_policy.name, layer.compute_dtype) == (name, ours.compute_dtype)
    assert lamina.mixed_precision.global_policy() is ours  # one global, shared with lamina.mixed_precision


def test_set_dtype_policy_takes_a_policy_object():
    cfg.set_dtype_policy(lamina.mixed_precision.DTypePolicy("mixed_bfloat16"))
    assert cfg.dtype_policy().name == "mixed_bfloat16"


@pytest.mark.parametrize("bad", [None, 3, "foo", "mixed_float8"])
def test_set_dtype_policy_refuses_like_keras(keras_config, bad):
    with pytest.raises(ValueError):
        keras_config.set_dtype_policy(bad)
    with pytest.raises(ValueError):
        cfg.set_dtype_policy(bad)
    assert cfg.dtype_policy().name == "float32"


# ------------------------------------------------------------------------------------------ unsafe deserialization
def test_enable_unsafe_deserialization_warns_once_and_explains():
    with pytest.warns(UserWarning, match=r"(?s)no effect.*register_serializable.*custom_objects"):
        assert cfg.enable_unsafe_deserialization() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg.enable_unsafe_deserialization()  # the second call is silent


# ------------------------------------------------------------------------------------------ image data format
CONSTRUCTOR_ARGS = {"filters": 2, "kernel_size": 3, "rate": 0.5, "height": 4, "width": 4, "size": 2,
                    "padding": 1, "cropping": 1, "pool_size": 2, "output_size": 2, "factor": 1,
                    "max_number": 2, "layers": []}


def _image_layers(keras):
    """Every Keras layer with a data_format argument (default None) that lamina has too."""
    out = []
    for name in sorted(dir(keras.layers)):
        theirs, ours = getattr(keras.layers, name), getattr(layers, name, None)
        if not inspect.isclass(theirs) or ours is None or "data_format" not in inspect.signature(theirs).parameters:
            continue
        if "data_format" in inspect.signature(ours).parameters:
            out.append(name)
    return out


def _make(cls, data_format="unset"):
    params = inspect.signature(cls).parameters
    kwargs = {k: CONSTRUCTOR_ARGS[k] for k, p in params.items() if p.default is p.empty and k in CONSTRUCTOR_ARGS}
    if data_format != "unset":
        kwargs["data_format"] = data_format
    return cls(**kwargs)


def test_image_layers_take_data_format_none_like_keras(keras):
    names = _image_layers(keras)
    assert len(names) > 40 and {"Conv2D", "MaxPooling2D", "Flatten", "UpSampling2D", "SpatialDropout2D",
                                "ZeroPadding2D", "Cropping2D", "GlobalAveragePooling2D", "Resizing"} <= set(names)
    for name in names:
        ours = inspect.signature(getattr(layers, name)).parameters["data_format"].default
        theirs = inspect.signature(getattr(keras.layers, name)).parameters["data_format"].default
        assert ours is theirs is None, name


def test_channels_first_reaches_every_image_layer_made_afterwards(keras_config, keras):
    cfg.set_image_data_format("channels_first")
    keras_config.set_image_data_format("channels_first")
    for name in _image_layers(keras):
        ours, theirs = _make(getattr(layers, name)), _make(getattr(keras.layers, name))
        assert ours.data_format == theirs.data_format == "channels_first", name
        assert ours.get_config()["data_format"] == "channels_first", name
        assert _make(getattr(layers, name), "channels_last").data_format == "channels_last", name
    cfg.set_image_data_format("channels_last")
    assert layers.Conv2D(2, 3).data_format == "channels_last"


def test_a_channels_first_conv2d_computes_channels_first():
    cfg.set_image_data_format("channels_first")
    conv = layers.Conv2D(4, 3)
    images = torch.randn(2, 3, 8, 8)  # (batch, channels, height, width)
    out = conv(images)
    assert tuple(out.shape) == (2, 4, 6, 6)
    assert tuple(conv.get_weights()[0].shape) == (3, 3, 3, 4)  # Keras's kernel layout either way
    cfg.set_image_data_format("channels_last")
    explicit = layers.Conv2D(4, 3, data_format="channels_first")
    explicit(images)
    explicit.set_weights(conv.get_weights())
    torch.testing.assert_close(explicit(images), out)
    model = lamina.Sequential([lamina.Input((3, 8, 8)), layers.Conv2D(4, 3, data_format="channels_first"),
                               layers.Flatten(data_format="channels_first")])
    assert tuple(model(images).shape) == (2, 4 * 6 * 6)


# ------------------------------------------------------------------------------------------ flash attention
def test_disabled_flash_attention_asks_pytorch_for_the_math_kernel(monkeypatch):
    import torch.nn.attention as attention

    kernels = []
    original = attention.sdpa_kernel

    def recording(backends, *args, **kwargs):
        kernels.append(backends)
        return original(backends, *args, **kwargs)

    monkeypatch.setattr(attention, "sdpa_kernel", recording)
    q = torch.randn(2, 5, 8)
    auto = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    expected = auto(q, q)
    assert kernels == []  # enabled (the default): PyTorch chooses
    cfg.disable_flash_attention()
    math = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    math(q, q)
    math.set_weights(auto.get_weights())
    torch.testing.assert_close(math(q, q), expected)
    torch.testing.assert_close(math(q, q, attention_mask=torch.ones(2, 5, 5, dtype=torch.bool)), expected)
    assert kernels and all(k == attention.SDPBackend.MATH for k in kernels)
    kernels.clear()
    cfg.enable_flash_attention()
    auto(q, q)  # read at construction (as Keras): this layer was made while enabled
    assert kernels == []


# ------------------------------------------------------------------------------------------ fit caps and logging
def _tiny_model():
    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


class StepCounter(lamina.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.train, self.test, self.predict = [], [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.train.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.train[-1] += 1

    def on_test_batch_end(self, batch, logs=None):
        self.test.append(batch)

    def on_predict_batch_end(self, batch, logs=None):
        self.predict.append(batch)


X, Y = np.random.default_rng(0).normal(size=(40, 4)).astype("float32"), np.zeros((40, 1), "float32")


def test_max_epochs_caps_a_real_fit():
    cfg.set_max_epochs(2)
    assert cfg.max_epochs() == 2
    with pytest.warns(UserWarning, match="Limiting epochs to 2"):
        history = _tiny_model().fit(X, Y, batch_size=8, epochs=5, verbose=0)
    assert len(history.history["loss"]) == 2
    history = _tiny_model().fit(X, Y, batch_size=8, epochs=1, verbose=0)  # under the cap: no warning, 1 epoch
    assert len(history.history["loss"]) == 1
    cfg.set_max_epochs(None)
    assert len(_tiny_model().fit(X, Y, batch_size=8, epochs=3, verbose=0).history["loss"]) == 3


def test_max_steps_per_epoch_caps_fit_evaluate_and_predict():
    cfg.set_max_steps_per_epoch(3)
    model, counter = _tiny_model(), StepCounter()
    with pytest.warns(UserWarning, match="Limiting steps_per_epoch to 3"):
        model.fit(X, Y, batch_size=8, epochs=2, verbose=0, callbacks=[counter])  # 5 batches an epoch uncapped
    assert counter.train == [3, 3]
    with pytest.warns(UserWarning, match="Limiting steps to 3"):
        model.evaluate(X, Y, batch_size=8, verbose=0, callbacks=[counter])
    assert counter.test == [0, 1, 2]
    with pytest.warns(UserWarning, match="Limiting steps to 3"):
        out = model.predict(X, batch_size=8, verbose=0, callbacks=[counter])
    assert counter.predict == [0, 1, 2] and out.shape == (24, 1)
    counter = StepCounter()
    model.fit(X, Y, batch_size=8, epochs=1, steps_per_epoch=2, verbose=0, callbacks=[counter])  # under the cap
    assert counter.train == [2]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3", True])
def test_caps_refuse_what_is_not_a_positive_int(bad):
    for setter in (cfg.set_max_epochs, cfg.set_max_steps_per_epoch):
        with pytest.raises(ValueError, match="positive int"):
            setter(bad)
    assert cfg.max_epochs() is None and cfg.max_steps_per_epoch() is None


def test_caps_read_from_the_environment_like_keras(monkeypatch):
    monkeypatch.setenv("KERAS_MAX_EPOCHS", "4")
    assert core_config._env_limit("KERAS_MAX_EPOCHS") == 4
    monkeypatch.setenv("KERAS_MAX_EPOCHS", "")
    assert core_config._env_limit("KERAS_MAX_EPOCHS") is None
    monkeypatch.setenv("KERAS_MAX_STEPS_PER_EPOCH", "many")
    with pytest.raises(ValueError, match="KERAS_MAX_STEPS_PER_EPOCH"):
        core_config._env_limit("KERAS_MAX_STEPS_PER_EPOCH")


@pytest.mark.parametrize("verbose", [1, 2])
def test_disabled_interactive_logging_sends_progress_to_python_logging(capsys, caplog, verbose):
    caplog.set_level(logging.INFO, logger="lamina")
    model = _tiny_model()
    model.fit(X, Y, batch_size=8, epochs=2, verbose=verbose)
    shown = capsys.readouterr().out
    assert "Epoch 1/2" in shown and "loss" in shown and not caplog.records
    cfg.disable_interactive_logging()
    model.fit(X, Y, batch_size=8, epochs=2, verbose=verbose)
    model.evaluate(X, Y, batch_size=8, verbose=verbose)
    assert capsys.readouterr().out == ""
    lines = [r.getMessage() for r in caplog.records if r.name == "lamina"]
    assert all(r.levelno == logging.INFO for r in caplog.records)
    assert lines[0] == "Epoch 1/2" and "Epoch 2/2" in lines
    assert sum("loss" in line for line in lines) >= 3  # each epoch's final line, then evaluate's
    assert not any("\r" in line or "\n" in line or "\x1b" in line for line in lines)


def test_traceback_filtering_is_a_flag_only():
    cfg.disable_traceback_filtering()
    with pytest.raises(ValueError, match="data_format") as info:
        layers.Conv2D(2, 3, data_format="nhwc")
    assert info.traceback[0].frame.code.name == inspect.currentframe().f_code.co_name  # the user's frame kept
    assert cfg.is_traceback_filtering_enabled() is False
