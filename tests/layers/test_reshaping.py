"""Reshaping layers: Flatten (channels_last and channels_first ordering) and Reshape (with -1, and clear errors
for impossible targets), against NumPy and Keras 3; Permute, RepeatVector, UpSampling, ZeroPadding, Cropping:
the layer harness with Keras 3 twins, shape rules with unknown sizes, argument checks."""

import numpy as np
import pytest
import torch
from harness import check_layer, make_inputs, to_numpy

import lamina
from lamina import layers
from lamina.layers import reshaping as R


# ----------------------------------------------------------------------------- Flatten
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 7), (4,), (2, 3, 4)])
def test_flatten_against_numpy_and_keras(keras, shape):
    result = check_layer(layers.Flatten, shape, keras_factory=keras.layers.Flatten, keras=keras)
    np.testing.assert_array_equal(result.outputs, result.inputs.reshape(shape[0], -1))


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 3, 4), (2, 6)])
def test_flatten_channels_first_ordering_equals_keras(keras, shape):
    result = check_layer(lambda: layers.Flatten(data_format="channels_first"), shape,
                         keras_factory=lambda: keras.layers.Flatten(data_format="channels_first"), keras=keras)
    # channels_first data flattens in channels-last order: move axis 1 to the end first.
    expected = np.moveaxis(result.inputs, 1, -1).reshape(shape[0], -1) if len(shape) > 2 else result.inputs
    np.testing.assert_array_equal(result.outputs, expected)
    if len(shape) > 2:
        assert not np.array_equal(result.outputs, result.inputs.reshape(shape[0], -1))  # the order really differs


def test_flatten_symbolic_shapes_equal_keras(keras):
    for shape in [(None, 2, 3, 4), (None, None, 4), (None, 5), (None, 3, None)]:
        ours = layers.Flatten()(lamina.Input(batch_shape=shape)).shape
        theirs = tuple(keras.layers.Flatten().compute_output_shape(shape))
        assert ours == theirs, (shape, ours, theirs)


def test_flatten_config_and_bad_data_format():
    assert layers.Flatten(data_format="channels_first").get_config()["data_format"] == "channels_first"
    assert layers.Flatten().get_config()["data_format"] == "channels_last"
    with pytest.raises(ValueError, match="data_format"):
        layers.Flatten(data_format="nchw")


def test_flatten_then_dense_matches_keras_on_channels_first_data(keras):
    x = make_inputs((3, 2, 4, 5), seed=8)
    ours = lamina.Sequential([layers.Flatten(data_format="channels_first"), layers.Dense(3)])
    theirs = keras.Sequential([keras.layers.Flatten(data_format="channels_first"), keras.layers.Dense(3)])
    ours(x)
    theirs(x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(ours(x)), to_numpy(theirs(x)), atol=1e-5, rtol=1e-5)


# ----------------------------------------------------------------------------- Reshape
@pytest.mark.parametrize(("target", "shape"), [
    ((3, 4), (2, 12)),
    ((-1, 2), (2, 12)),
    ((3, -1), (2, 12)),
    ((2, -1, 3), (2, 4, 3)),
    ((12,), (2, 3, 4)),
    ((-1,), (2, 3, 4)),
    ((4, 3, 1), (2, 3, 4)),
])
def test_reshape_against_numpy_and_keras(keras, target, shape):
    result = check_layer(lambda: layers.Reshape(target), shape,
                         keras_factory=lambda: keras.layers.Reshape(target), keras=keras)
    np.testing.assert_array_equal(result.outputs, result.inputs.reshape(shape[0], *target))
    assert tuple(result.layer.get_config()["target_shape"]) == target


def test_reshape_symbolic_shapes_equal_keras(keras):
    for target, shape in [((-1, 2), (None, None, 4)), ((3, 4), (None, 12)), ((-1,), (None, 3, 4)),
                          ((2, -1), (None, 6))]:
        ours = layers.Reshape(target)(lamina.Input(batch_shape=shape)).shape
        theirs = tuple(keras.layers.Reshape(target).compute_output_shape(shape))
        assert ours == theirs, (target, shape, ours, theirs)


def test_reshape_of_unknown_sample_size_to_a_fixed_target_like_keras(keras):
    # (None, None) may hold 12 values per sample at run time; Keras gives (None, 3, 4) and checks at run time.
    theirs = tuple(keras.layers.Reshape((3, 4)).compute_output_shape((None, None)))
    assert theirs == (None, 3, 4)
    layer = layers.Reshape((3, 4))
    assert layer(lamina.Input(batch_shape=(None, None))).shape == theirs
    x = torch.randn(2, 12)
    torch.testing.assert_close(layer(x), x.reshape(2, 3, 4))


@pytest.mark.parametrize(("target", "sizes"), [((5,), ("12", "5")), ((5, -1), ("12",)), ((2, 2, 2), ("12", "8"))])
def test_reshape_impossible_target_is_a_clear_error_at_build_time(target, sizes):
    layer = layers.Reshape(target, name="reshaper")
    with pytest.raises(ValueError) as info:
        layer.build((None, 3, 4))
    message = str(info.value)
    assert "'reshaper'" in message and all(s in message for s in sizes), message
    with pytest.raises(ValueError, match="'reshaper_eager'"):
        layers.Reshape(target, name="reshaper_eager")(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="'reshaper_sym'"):  # caught when the graph is built, before any data
        layers.Reshape(target, name="reshaper_sym")(lamina.Input(shape=(3, 4)))


def test_reshape_rejects_bad_target_shapes():
    for target in [(-1, -1), (0, 3), (-2, 3)]:
        with pytest.raises(ValueError, match="target_shape"):
            layers.Reshape(target)


def test_reshape_keeps_the_batch_and_gradients():
    x = torch.randn(5, 6, requires_grad=True)
    y = layers.Reshape((3, 2))(x)
    assert y.shape == (5, 3, 2)
    (y * torch.arange(6.0).reshape(3, 2)).sum().backward()
    torch.testing.assert_close(x.grad, torch.arange(6.0).expand(5, 6))


# ----------------------------------------------------------------------------- Permute ... Cropping
# (lamina factory, keras factory name + kwargs, input shape)
CASES = [
    ("Permute", {"dims": (2, 1)}, (2, 5, 3)),
    ("Permute", {"dims": (3, 1, 2)}, (2, 4, 5, 3)),
    ("RepeatVector", {"n": 3}, (2, 4)),
    ("UpSampling1D", {}, (2, 5, 3)),
    ("UpSampling1D", {"size": 3}, (2, 4, 2)),
    ("UpSampling2D", {}, (2, 3, 4, 2)),
    ("UpSampling2D", {"size": (2, 3), "data_format": "channels_first"}, (2, 2, 3, 4)),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}, (2, 5, 4, 3)),
    ("UpSampling2D", {"size": 3, "interpolation": "bilinear", "data_format": "channels_first"}, (2, 3, 4, 5)),
    ("UpSampling2D", {"size": (2, 2), "interpolation": "bicubic"}, (2, 5, 4, 3)),
    ("UpSampling3D", {}, (2, 2, 3, 2, 2)),
    ("UpSampling3D", {"size": (1, 2, 3), "data_format": "channels_first"}, (2, 2, 3, 2, 2)),
    ("ZeroPadding1D", {}, (2, 5, 3)),
    ("ZeroPadding1D", {"padding": (2, 0)}, (2, 5, 3)),
    ("ZeroPadding1D", {"padding": 2, "data_format": "channels_first"}, (2, 3, 5)),
    ("ZeroPadding2D", {}, (2, 4, 5, 3)),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 3))}, (2, 4, 5, 3)),
    ("ZeroPadding2D", {"padding": (1, 2), "data_format": "channels_first"}, (2, 3, 4, 5)),
    ("ZeroPadding3D", {}, (2, 3, 2, 4, 2)),
    ("ZeroPadding3D", {"padding": ((1, 0), (0, 2), (1, 1)), "data_format": "channels_first"}, (2, 2, 3, 2, 4)),
    ("Cropping1D", {}, (2, 6, 3)),
    ("Cropping1D", {"cropping": (0, 3)}, (2, 6, 3)),
    ("Cropping2D", {}, (2, 4, 5, 3)),
    ("Cropping2D", {"cropping": ((1, 0), (2, 1))}, (2, 4, 5, 3)),
    ("Cropping2D", {"cropping": 1, "data_format": "channels_first"}, (2, 3, 4, 5)),
    ("Cropping3D", {}, (2, 4, 3, 5, 2)),
    ("Cropping3D", {"cropping": (1, 0, 2), "data_format": "channels_first"}, (2, 2, 4, 3, 5)),
]


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_layer_matches_keras(keras, name, kwargs, shape):
    check_layer(lambda: getattr(R, name)(**kwargs), shape,
                keras_factory=lambda: getattr(keras.layers, name)(**kwargs), keras=keras)


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_config_and_output_shape_match_keras(keras, name, kwargs, shape):
    ours, theirs = getattr(R, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    cfg, kcfg = ours.get_config(), theirs.get_config()
    for key in set(kcfg) - {"name", "trainable", "dtype"}:
        assert np.array_equal(np.asarray(cfg[key], dtype=object), np.asarray(kcfg[key], dtype=object)), key
    # Unknown spatial sizes stay unknown; known ones follow Keras's rule.
    for unknown in range(1, len(shape)):
        partial = tuple(None if i in (0, unknown) else d for i, d in enumerate(shape))
        if name == "Permute" or name == "RepeatVector":
            partial = (None, *shape[1:])
        assert ours.compute_output_shape(partial) == tuple(theirs.compute_output_shape(partial)), partial


def test_symbolic_unknown_sizes_in_a_functional_model():
    x = lamina.Input(shape=(None, None, 3))
    y = R.Cropping2D(((1, 1), (0, 2)))(R.ZeroPadding2D(2)(R.UpSampling2D(2)(x)))
    assert y.shape == (None, None, None, 3)
    model = lamina.Model(x, y)
    out = model(torch.ones(1, 4, 5, 3))
    assert tuple(out.shape) == (1, 10, 12, 3)


def test_values_by_hand():
    x = torch.arange(6.0).reshape(1, 3, 2)  # (batch, steps, features)
    assert R.UpSampling1D(2)(x)[0, :, 0].tolist() == [0, 0, 2, 2, 4, 4]
    assert R.ZeroPadding1D((1, 2))(x)[0, :, 1].tolist() == [0, 1, 3, 5, 0, 0]
    assert R.Cropping1D((1, 1))(x)[0].tolist() == [[2, 3]]
    assert R.RepeatVector(2)(torch.tensor([[1.0, 2.0]])).tolist() == [[[1, 2], [1, 2]]]
    assert torch.equal(R.Permute((2, 1))(x), x.transpose(1, 2))


def test_bilinear_upsampling_matches_keras_on_a_larger_image(keras):
    x = make_inputs((3, 7, 9, 4), seed=5)
    ours = R.UpSampling2D((3, 2), interpolation="bilinear")(torch.tensor(x))
    theirs = keras.layers.UpSampling2D((3, 2), interpolation="bilinear")(x)
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), atol=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="permutation"):
        R.Permute((0, 1))
    with pytest.raises(ValueError, match="positive int"):
        R.RepeatVector(0)
    with pytest.raises(ValueError, match="interpolation"):
        R.UpSampling2D(interpolation="lanczos9")
    with pytest.raises(ValueError, match="data_format"):
        R.ZeroPadding2D(data_format="nhwc")
    with pytest.raises(ValueError, match="padding"):
        R.ZeroPadding2D(((1, 2, 3), (1, 1)))
    with pytest.raises(ValueError, match="cropping"):
        R.Cropping3D((1, 1))
    with pytest.raises(ValueError, match="at least one entry must remain"):
        R.Cropping1D((2, 2))(torch.ones(1, 4, 1))
    with pytest.raises(ValueError, match="rank 3"):
        R.UpSampling1D()(torch.ones(2, 3))
