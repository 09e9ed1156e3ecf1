"""Permute, RepeatVector, UpSampling, ZeroPadding, Cropping: the layer harness with Keras 3 twins, shape rules
with unknown sizes, argument checks."""

import numpy as np
import pytest
import torch
from harness import check_layer, make_inputs, to_numpy

import lamina
from lamina.layers import reshaping_extra as R

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
