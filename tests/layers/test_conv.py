"""Convolution layers against Keras 3 (torch backend): same weights, same inputs, same outputs."""

import harness  # tests/layers/harness.py, put on the path by tests/layers/conftest.py
import numpy as np
import pytest
import torch

import lamina
from lamina.layers import conv
from lamina.layers.core import Input

# Keras's torch backend calls np.array on tensors in a way NumPy 2 deprecates; that is Keras's business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")

# (class name, constructor kwargs, input shape with batch)
CASES = [
    ("Conv1D", dict(filters=4, kernel_size=3), (2, 9, 3)),
    ("Conv1D", dict(filters=4, kernel_size=4, strides=2, padding="same"), (2, 9, 3)),
    ("Conv1D", dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2), (2, 9, 3)),
    ("Conv1D", dict(filters=2, kernel_size=2, padding="causal"), (2, 6, 1)),
    ("Conv1D", dict(filters=4, kernel_size=3, padding="same", dilation_rate=2), (2, 10, 3)),
    ("Conv1D", dict(filters=6, kernel_size=3, groups=2, activation="relu"), (2, 9, 4)),
    ("Conv1D", dict(filters=4, kernel_size=2, strides=3, padding="same", data_format="channels_first"), (2, 3, 10)),
    ("Conv2D", dict(filters=5, kernel_size=3), (2, 7, 8, 3)),
    ("Conv2D", dict(filters=5, kernel_size=3, strides=2, padding="same"), (2, 7, 9, 3)),
    ("Conv2D", dict(filters=5, kernel_size=(2, 4), strides=(2, 3), padding="same"), (2, 7, 9, 3)),
    ("Conv2D", dict(filters=5, kernel_size=4, padding="same"), (2, 6, 6, 2)),
    ("Conv2D", dict(filters=5, kernel_size=3, padding="same", dilation_rate=(2, 1)), (2, 8, 7, 3)),
    ("Conv2D", dict(filters=6, kernel_size=3, groups=3, padding="same", use_bias=False), (2, 6, 6, 6)),
    ("Conv2D", dict(filters=4, kernel_size=3, strides=2, padding="same", data_format="channels_first"),
     (2, 3, 7, 8)),
    ("Conv2D", dict(filters=4, kernel_size=(1, 3), strides=2, activation="tanh",
                    bias_initializer="random_normal"), (2, 7, 8, 3)),
    ("Conv3D", dict(filters=3, kernel_size=2), (2, 4, 5, 3, 2)),
    ("Conv3D", dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 5, 6, 7, 2)),
    ("Conv3D", dict(filters=4, kernel_size=(2, 3, 2), groups=2, padding="same", data_format="channels_first"),
     (2, 4, 4, 5, 3)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2), (2, 5, 2)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 5, 2)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=4, strides=2, padding="same"), (2, 5, 2)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=2, strides=3), (2, 5, 2)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2, output_padding=1), (2, 5, 2)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=3, padding="same", output_padding=1), (2, 5, 2)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, padding="same", dilation_rate=2), (2, 5, 2)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=3), (2, 5, 6, 3)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=3, strides=2, padding="same"), (2, 5, 6, 3)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=(2, 3), strides=(2, 3), padding="same"), (2, 5, 6, 3)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=4, strides=2, padding="same", activation="relu"), (2, 4, 4, 3)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=3, strides=2, output_padding=(1, 0)), (2, 4, 5, 3)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=5, strides=2, padding="same", output_padding=1), (2, 4, 5, 3)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=3, strides=2, padding="same", data_format="channels_first"),
     (2, 3, 5, 6)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=2, strides=4, use_bias=False), (2, 3, 3, 2)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=(2, 3), padding="same", bias_initializer="ones"), (2, 4, 5, 3)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=2, strides=2), (2, 3, 2, 3, 2)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=3, strides=2, padding="same"), (2, 3, 2, 3, 2)),
    ("DepthwiseConv1D", dict(kernel_size=3, depth_multiplier=2), (2, 9, 3)),
    ("DepthwiseConv1D", dict(kernel_size=4, strides=2, padding="same"), (2, 9, 3)),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=3, padding="same"), (2, 7, 8, 2)),
    ("DepthwiseConv2D", dict(kernel_size=2, strides=2, padding="same", data_format="channels_first"), (2, 3, 7, 6)),
    ("DepthwiseConv2D", dict(kernel_size=3, dilation_rate=2, depth_multiplier=2), (2, 8, 8, 3)),
    ("SeparableConv1D", dict(filters=4, kernel_size=3, depth_multiplier=2, padding="same"), (2, 9, 3)),
    ("SeparableConv2D", dict(filters=4, kernel_size=3, strides=2, padding="same"), (2, 7, 8, 3)),
    ("SeparableConv2D", dict(filters=5, kernel_size=2, depth_multiplier=2, data_format="channels_first",
                             activation="relu"), (2, 3, 6, 5)),
]


def _ids(case):
    name, kwargs, _ = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def _to_numpy(keras, x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _pair(keras, name, kwargs, shape):
    """A Keras layer and a lamina layer with Keras's weights, plus a random input and Keras's output."""
    x = np.random.RandomState(1).standard_normal(shape).astype("float32")
    reference = getattr(keras.layers, name)(**kwargs)
    expected = _to_numpy(keras, reference(x))
    layer = getattr(conv, name)(**kwargs)
    layer.build(shape)
    layer.set_weights([_to_numpy(keras, w) for w in reference.get_weights()])
    return reference, layer, x, expected


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_matches_keras(keras, case):
    name, kwargs, shape = case
    reference, layer, x, expected = _pair(keras, name, kwargs, shape)
    got = layer(torch.from_numpy(x))
    assert tuple(got.shape) == expected.shape
    np.testing.assert_allclose(got.detach().numpy(), expected, atol=1e-5, rtol=1e-5)
    # get_weights speaks Keras's layout and round-trips
    keras_weights = [_to_numpy(keras, w) for w in reference.get_weights()]
    ours = layer.get_weights()
    assert [w.shape for w in ours] == [w.shape for w in keras_weights]
    for a, b in zip(ours, keras_weights, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", CASES[1::4], ids=[_ids(c) for c in CASES[1::4]])
def test_layer_contract(keras, case):
    name, kwargs, shape = case
    # Keras's transposed convs give compute_output_shape as a list, which the harness reads as several outputs;
    # test_matches_keras and test_symbolic_shape_matches_keras compare those with Keras instead.
    twin = None if "Transpose" in name else (lambda: getattr(keras.layers, name)(**kwargs))
    harness.check_layer(lambda: getattr(conv, name)(**kwargs), shape, keras_factory=twin, keras=keras)


@pytest.mark.parametrize("case", CASES[::3], ids=[_ids(c) for c in CASES[::3]])
def test_symbolic_shape_matches_keras(keras, case):
    name, kwargs, shape = case
    out = getattr(conv, name)(**kwargs)(Input(shape=shape[1:]))
    assert out.shape == tuple(getattr(keras.layers, name)(**kwargs).compute_output_shape((None, *shape[1:])))


@pytest.mark.parametrize("name,kwargs,shape", [
    ("Conv1D", dict(filters=4, kernel_size=3, padding="causal"), (None, 3)),
    ("Conv2D", dict(filters=4, kernel_size=3, strides=2), (None, None, 3)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=3, strides=2, padding="same"), (None, 6, 3)),
])
def test_symbolic_unknown_spatial_dims(keras, name, kwargs, shape):
    out = getattr(conv, name)(**kwargs)(Input(shape=shape))
    assert out.shape == tuple(getattr(keras.layers, name)(**kwargs).compute_output_shape((None, *shape)))


@pytest.mark.parametrize("name,kwargs", [
    ("Conv2D", dict(filters=4, kernel_size=(3, 2), strides=2, padding="same", groups=2, activation="relu",
                    kernel_initializer="he_normal", use_bias=False, data_format="channels_first")),
    ("Conv1D", dict(filters=3, kernel_size=2, padding="causal", dilation_rate=2)),
    ("Conv3DTranspose", dict(filters=3, kernel_size=3, strides=2, output_padding=1, padding="same")),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2, depthwise_initializer="ones")),
    ("SeparableConv2D", dict(filters=3, kernel_size=3, pointwise_initializer="zeros", bias_initializer="ones")),
])
def test_config_round_trip(name, kwargs):
    cls = getattr(conv, name)
    layer = cls(**kwargs, name="the_layer")
    config = layer.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    for key, value in kwargs.items():
        if key not in ("kernel_size", "strides", "dilation_rate", "output_padding") and "initializer" not in key:
            assert config[key] == value
    assert config["name"] == "the_layer"


def test_config_has_keras_keys(keras):
    ours = set(conv.Conv2D(4, 3).get_config())
    theirs = set(keras.layers.Conv2D(4, 3).get_config())
    assert theirs - ours <= {"activity_regularizer"}


def test_kernel_init_uses_keras_fans():
    # glorot_uniform on Keras's (3, 3, 8, 16) kernel: limit sqrt(6 / (72 + 144))
    layer = conv.Conv2D(16, 3)
    layer.build((None, 10, 10, 8))
    limit = (6 / (3 * 3 * 8 + 3 * 3 * 16)) ** 0.5
    kernel = layer.kernel.detach()
    assert tuple(kernel.shape) == (16, 8, 3, 3)  # PyTorch's layout
    assert kernel.abs().max() <= limit and kernel.abs().max() > 0.9 * limit
    assert kernel.is_contiguous()


@pytest.mark.parametrize("name,kwargs,shape", [
    ("Conv2D", dict(filters=4, kernel_size=3, padding="same"), (2, 6, 6, 3)),
    ("Conv2DTranspose", dict(filters=4, kernel_size=3, strides=2, padding="same"), (2, 4, 4, 3)),
    ("SeparableConv1D", dict(filters=4, kernel_size=3), (2, 8, 3)),
])
def test_gradient_step(name, kwargs, shape):
    layer = getattr(conv, name)(**kwargs)
    x = torch.randn(shape)
    loss = layer(x).square().mean()
    loss.backward()
    for w in layer.trainable_weights:
        assert w.grad is not None and w.grad.abs().sum() > 0
    before = [w.detach().clone() for w in layer.trainable_weights]
    torch.optim.SGD(layer.parameters(), lr=0.1).step()
    assert all(not torch.equal(a, b) for a, b in zip(before, layer.trainable_weights, strict=True))


def test_channels_last_input_is_not_copied():
    layer = conv.Conv2D(4, 3, padding="same")
    x = torch.randn(2, 6, 6, 3)
    layer(x)
    seen = []
    handle = torch.nn.functional.conv2d
    try:
        def spy(inp, *args, **kwargs):
            seen.append(inp)
            return handle(inp, *args, **kwargs)
        conv._CONV[2] = spy
        y = layer(x)
    finally:
        conv._CONV[2] = handle
    assert seen[0].data_ptr() == x.data_ptr()  # a permuted view, not a copy
    assert tuple(y.shape) == (2, 6, 6, 4)


def test_wrong_channels_raise_with_layer_name():
    layer = conv.Conv2D(4, 3, name="my_conv")
    layer(torch.ones(1, 5, 5, 3))
    with pytest.raises(ValueError, match="my_conv"):
        layer(torch.ones(1, 5, 5, 2))
    with pytest.raises(ValueError, match="my_conv.*rank 4"):
        layer(torch.ones(5, 5, 3))  # no batch axis: PyTorch alone would take it as one unbatched sample
    sym = conv.Conv1D(4, 3, name="sym_conv")
    sym(Input(shape=(10, 3)))
    with pytest.raises(ValueError, match="sym_conv"):
        sym(Input(shape=(10, 5)))


@pytest.mark.parametrize("make", [lambda: conv.Conv2DTranspose(2, 3), lambda: conv.SeparableConv2D(2, 3),
                                  lambda: conv.DepthwiseConv2D(3), lambda: lamina.layers.MaxPooling2D()])
def test_missing_batch_axis_raises_the_spec_error(make):
    layer = make()
    layer(torch.ones(1, 5, 5, 3))
    with pytest.raises(ValueError, match=f"'{layer.name}'.*expected rank 4, found rank 3"):
        layer(torch.ones(5, 5, 3))


def test_build_errors_are_clear():
    with pytest.raises(ValueError, match="channel axis"):
        conv.Conv2D(4, 3, name="c1")(Input(shape=(8, 8, None)))
    with pytest.raises(ValueError, match="groups=2.*3 channels"):
        conv.Conv2D(4, 3, groups=2)(torch.ones(1, 5, 5, 3))
    with pytest.raises(ValueError, match="rank 4"):
        conv.Conv2D(4, 3, name="c2")(torch.ones(1, 5, 3))
    with pytest.raises(ValueError, match="empty"):
        conv.Conv2D(4, 5)(torch.ones(1, 3, 3, 1))
    with pytest.raises(ValueError, match="divisible by `groups`"):
        conv.Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match="causal"):
        conv.Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match="dilation_rate"):
        conv.Conv1D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="output_padding"):
        conv.Conv2DTranspose(4, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        conv.Conv3D(4, (3, 3))


def test_set_weights_rejects_wrong_layout():
    layer = conv.Conv2D(4, 3)
    layer.build((None, 8, 8, 2))
    with pytest.raises(ValueError, match=r"\(3, 3, 2, 4\)"):
        layer.set_weights([np.zeros((4, 2, 3, 3)), np.zeros(4)])


def test_in_sequential_fit():
    import lamina as keras

    x = np.random.rand(16, 8, 8, 1).astype("float32")
    y = np.random.randint(0, 3, size=16)
    model = keras.Sequential([
        Input(shape=(8, 8, 1)),
        conv.Conv2D(4, 3, padding="same", activation="relu"),
        conv.SeparableConv2D(4, 3, strides=2, padding="same"),
        conv.Conv2DTranspose(2, 3, strides=2, padding="same"),
        lamina.layers.Flatten(),
        lamina.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert model.predict(x, verbose=0).shape == (16, 3)


def test_conv1d_in_sequential_fit():
    import lamina as keras

    x = np.random.rand(12, 10, 2).astype("float32")
    y = np.random.randint(0, 2, size=12)
    model = keras.Sequential([
        Input(shape=(10, 2)),
        conv.Conv1D(3, 3, padding="causal"),
        conv.DepthwiseConv1D(2),
        lamina.layers.Flatten(),
        lamina.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)


def test_regularizers_add_losses():
    layer = conv.Conv2D(2, 3, kernel_regularizer=lambda w: 0.5 * w.square().sum(),
                        bias_regularizer=lambda b: b.abs().sum(), bias_initializer="ones")
    layer(torch.ones(1, 4, 4, 1))
    kernel, bias = layer.get_weights()
    expected = 0.5 * np.square(kernel).sum() + np.abs(bias).sum()
    assert float(sum(layer.losses).detach()) == pytest.approx(float(expected), rel=1e-5)
