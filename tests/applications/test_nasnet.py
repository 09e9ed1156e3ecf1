"""NASNetMobile/Large against Keras 3 (the oracle): layer names, parameter counts and predictions through a Keras
weights file. Keras refuses NASNetMobile on its torch backend, so its oracle is Keras's own NASNet builder called
with NASNetMobile's arguments."""

import numpy as np
import pytest
from damped import quick
from oracle import assert_matches_keras

keras = pytest.importorskip("keras")

from lamina.applications import nasnet  # noqa: E402


def _keras_nasnet_mobile(input_shape=None, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                         classes=1000, classifier_activation="softmax", name="nasnet_mobile"):
    from keras.src.applications import nasnet as keras_nasnet

    return keras_nasnet.NASNet(input_shape, penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
                               skip_reduction=False, filter_multiplier=2, include_top=include_top, weights=weights,
                               input_tensor=input_tensor, pooling=pooling, classes=classes, default_size=224,
                               classifier_activation=classifier_activation, name=name)


def test_mobile_matches_keras(tmp_path):
    assert_matches_keras(quick(_keras_nasnet_mobile), quick(nasnet.NASNetMobile), (48, 48, 3), tmp_path, classes=5)


def test_large_matches_keras(tmp_path):
    assert_matches_keras(quick(keras.applications.NASNetLarge), quick(nasnet.NASNetLarge), (32, 32, 3), tmp_path,
                         include_top=False,
                         pooling="avg", batch=1, file_format="weights.h5", rebuild=False)


def test_imagenet_rules():
    with pytest.raises(ValueError, match="static"):
        nasnet.NASNetLarge(input_shape=(None, None, 3), include_top=False)
    with pytest.raises(ValueError, match="penultimate_filters"):
        nasnet.NASNet(input_shape=(32, 32, 3), penultimate_filters=100, weights=None, include_top=False)
    with pytest.raises(ValueError, match="classes"):
        nasnet.NASNetMobile(classes=10)


def test_preprocess_input_is_keras_tf_mode():
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(nasnet.preprocess_input(x.copy()), keras.applications.nasnet.preprocess_input(x.copy()),
                               atol=1e-6)


def test_imagenet_files_as_keras(monkeypatch):
    from imagenet_files import lamina_weights_file

    # Keras refuses NASNetMobile on torch (and NASNetLarge takes long to build twice): the files as Keras's module
    # spells them
    name, origin, file_hash = lamina_weights_file(quick(nasnet.NASNetMobile), monkeypatch, input_shape=(32, 32, 3),
                                                  include_top=False)
    assert (name, origin, file_hash) == ("nasnet_mobile_no_top.h5", keras_nasnet().NASNET_MOBILE_WEIGHT_PATH_NO_TOP,
                                         "1ed92395b5b598bdda52abe5c0dbfd63")
    assert nasnet._WEIGHT_FILES[331] == {
        True: ("nasnet_large.h5", keras_nasnet().NASNET_LARGE_WEIGHT_PATH, "11577c9a518f0070763c2b964a382f17"),
        False: ("nasnet_large_no_top.h5", keras_nasnet().NASNET_LARGE_WEIGHT_PATH_NO_TOP,
                "d81d89dc07e6e56530c4e77faddd61b5")}


def keras_nasnet():
    from keras.src.applications import nasnet as module

    return module
