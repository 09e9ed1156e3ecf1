"""ResNet50/101/152 against Keras 3 (layer names, parameter counts, predictions through Keras's weight files),
ResNet's preprocessing, Keras's argument checks, and fine-tuning as Keras does it (issue 19, item 3)."""

import numpy as np
import pytest
import torch
from oracle import assert_matches_keras

import lamina
from lamina.applications import resnet


@pytest.fixture(scope="module")
def resnet50_pair(tmp_path_factory):
    """Keras's and lamina's ResNet50 (32x32, with a 10-class top), lamina's loaded from Keras's legacy .h5."""
    keras = pytest.importorskip("keras")
    return assert_matches_keras(keras.applications.ResNet50, resnet.ResNet50, (32, 32, 3),
                                tmp_path_factory.mktemp("resnet50"), include_top=True, classes=10)


def test_resnet50_matches_keras(resnet50_pair):
    k_model, l_model = resnet50_pair
    assert l_model.get_layer("predictions").kernel.shape[-1] == 10
    assert len(l_model.layers) == len(k_model.layers) == 177


@pytest.mark.parametrize("fn", ["ResNet101", "ResNet152"])
def test_deeper_resnets_match_keras(keras, fn, tmp_path):
    assert_matches_keras(getattr(keras.applications, fn), getattr(resnet, fn), (32, 32, 3), tmp_path,
                         include_top=False, pooling="max", rebuild=False)


def test_public_names_and_resnet50_module(keras):
    assert lamina.applications.ResNet50 is resnet.ResNet50
    assert lamina.applications.resnet50.ResNet50 is resnet.ResNet50
    assert lamina.applications.resnet50.preprocess_input is resnet.preprocess_input
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(resnet.preprocess_input(x.copy()),
                               keras.applications.resnet.preprocess_input(x.copy()), rtol=1e-6)


def test_input_tensor_keeps_its_predecessors():
    inputs = lamina.Input((40, 40, 3))
    x = lamina.layers.Rescaling(1.0 / 255)(inputs)
    model = resnet.ResNet50(weights=None, include_top=False, input_tensor=x, pooling="avg")
    assert model.inputs[0] is inputs and model.output_shape == (None, 2048)
    with pytest.raises(ValueError, match="symbolic tensor"):
        resnet.ResNet50(weights=None, include_top=False, input_tensor=torch.zeros(1, 32, 32, 3))


def test_argument_checks_as_keras(keras, tmp_path):
    cases = [dict(weights="no/such/file.h5"), dict(weights="imagenet", classes=10),
             dict(weights="imagenet", input_shape=(64, 64, 3)),
             dict(weights=None, include_top=False, input_shape=(16, 16, 3)),
             dict(weights=None, include_top=False, input_shape=(32, 32)),
             dict(weights="imagenet", include_top=False, input_shape=(32, 32, 1)),
             dict(weights=None, include_top=True, input_shape=(None, None, 3)),
             dict(weights="imagenet", classifier_activation="relu")]
    for kwargs in cases:
        with pytest.raises(ValueError) as expected:
            keras.applications.ResNet50(**kwargs)
        with pytest.raises(ValueError) as got:
            resnet.ResNet50(**kwargs)
        words = [w for w in str(expected.value).split() if w.isalpha() and len(w) > 4][:4]
        assert all(w in str(got.value) for w in words), (kwargs, str(got.value), str(expected.value))


def test_fine_tuning_as_keras(resnet50_pair):
    """Keras's transfer-learning rules: a frozen base has no trainable weights and its BatchNormalization runs
    in inference mode even under training=True; unfreezing and recompiling trains it (BN statistics stay put
    when the base is called with training=False, as the guide does)."""
    k_model = resnet50_pair[0]  # Keras's ResNet50 with its top (a Dense kernel and bias more than the base)
    k_trainable, k_frozen = len(k_model.trainable_weights) - 2, len(k_model.non_trainable_weights)
    k_model.trainable = False
    assert len(k_model.trainable_weights) == 0 and len(k_model.non_trainable_weights) == k_trainable + k_frozen + 2
    k_model.trainable = True
    base = resnet.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    base.trainable = False
    assert len(base.trainable_weights) == 0
    assert len(base.non_trainable_weights) == k_trainable + k_frozen
    bn = base.get_layer("conv2_block1_1_bn")
    stats = bn.moving_mean.detach().clone()
    x = torch.rand(4, 32, 32, 3)
    torch.testing.assert_close(base(x, training=True), base(x, training=False))
    assert torch.equal(bn.moving_mean, stats)

    inputs = lamina.Input((32, 32, 3))
    features = lamina.layers.GlobalAveragePooling2D()(base(inputs, training=False))
    model = lamina.Model(inputs, lamina.layers.Dense(3)(features))
    loss = lamina.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=loss)
    rng = np.random.default_rng(0)
    data = rng.random((4, 32, 32, 3)).astype("float32"), rng.integers(0, 3, 4)
    kernel = base.get_layer("conv1_conv").kernel.detach().clone()
    head = model.layers[-1].kernel.detach().clone()
    model.fit(*data, epochs=1, batch_size=4, verbose=0)
    assert torch.equal(base.get_layer("conv1_conv").kernel, kernel)
    assert not torch.equal(model.layers[-1].kernel, head)
    assert len(model.trainable_weights) == 2

    base.trainable = True
    assert len(base.trainable_weights) == k_trainable
    model.compile(optimizer=lamina.optimizers.Adam(1e-5), loss=loss)
    assert len(model.trainable_weights) == k_trainable + 2
    model.fit(*data, epochs=1, batch_size=4, verbose=0)
    assert not torch.equal(base.get_layer("conv1_conv").kernel, kernel)
    assert torch.equal(bn.moving_mean, stats)  # base(inputs, training=False): BN keeps inference mode
