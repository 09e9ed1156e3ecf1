"""ConvNeXt Tiny/Small/Base/Large/XLarge against Keras 3 (the oracle): layer names, parameter counts and
predictions through a Keras weights file (nested Sequential stems, LayerScale, the embedded Normalization);
LayerScale and StochasticDepth against Keras's layers."""

import numpy as np
import pytest
import torch
from damped import quick
from oracle import assert_matches_keras

keras = pytest.importorskip("keras")

from lamina.applications import convnext  # noqa: E402


def test_tiny_matches_keras(tmp_path):
    assert_matches_keras(keras.applications.ConvNeXtTiny, convnext.ConvNeXtTiny, (32, 32, 3), tmp_path, classes=5,
                         scale=255.0)


# the larger variants headless (their head is Tiny's); the largest load into the model already built
@pytest.mark.parametrize("variant", ["Small", "Base", "Large", "XLarge"])
def test_larger_variants_match_keras(variant, tmp_path):
    name = f"ConvNeXt{variant}"
    assert_matches_keras(quick(getattr(keras.applications, name)), quick(getattr(convnext, name)), (32, 32, 3),
                         tmp_path, include_top=False, pooling="avg", scale=255.0, batch=1,
                         file_format="weights.h5" if variant == "Base" else "h5", rebuild=False)


def test_headless_without_pooling_or_preprocessing(tmp_path):
    assert_matches_keras(keras.applications.ConvNeXtTiny, convnext.ConvNeXtTiny, (None, None, 3), tmp_path,
                         include_top=False, include_preprocessing=False)


def test_stochastic_depth_as_keras():
    layer = convnext.StochasticDepth(0.25)
    x = torch.ones(4000, 2, 2, 3)
    assert torch.equal(layer(x, training=False), x)
    y = layer(x, training=True)
    per_sample = y.reshape(4000, -1)
    # whole samples are dropped (all zeros) or kept and scaled by 1 / (1 - rate)
    assert torch.all((per_sample == 0).all(1) | (per_sample == 1 / 0.75).all(1))
    assert abs((per_sample[:, 0] == 0).float().mean().item() - 0.25) < 0.03
    assert convnext.StochasticDepth.from_config(layer.get_config()).drop_path_rate == 0.25


def test_layer_scale_as_keras():
    from keras.src.applications.convnext import LayerScale

    ours, theirs = convnext.LayerScale(0.1, 3), LayerScale(0.1, 3)
    x = np.random.default_rng(0).random((2, 3)).astype("float32")
    np.testing.assert_allclose(ours(torch.from_numpy(x)).detach().numpy(), keras.ops.convert_to_numpy(theirs(x)),
                               rtol=1e-6)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights] == [(3,)]


def test_imagenet_rules():
    with pytest.raises(ValueError, match="classes"):
        convnext.ConvNeXtTiny(classes=10)
    with pytest.raises(ValueError, match="does not match weights variant"):
        convnext.ConvNeXtTiny(name="my_model", include_top=False, input_shape=(32, 32, 3))


def test_preprocess_input_is_the_identity():
    x = np.arange(6.0)
    assert convnext.preprocess_input(x) is x


def test_imagenet_file_as_keras(monkeypatch):
    from imagenet_files import assert_same_weights_file

    name, _, file_hash = assert_same_weights_file(quick(keras.applications.ConvNeXtTiny), quick(convnext.ConvNeXtTiny),
                                                  monkeypatch, input_shape=(32, 32, 3), include_top=False)
    assert name == "convnext_tiny_notop.h5" and file_hash.startswith("d547c096")
