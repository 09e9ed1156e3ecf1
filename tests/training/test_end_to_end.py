"""End to end on real Fashion-MNIST (Debian's dataset-fashion-mnist), kept short: the acceptance example in its
three styles, and a two-input two-output functional model with a shared layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import lamina as keras
from lamina.data.datasets import fashion_mnist
from lamina.data.datasets._files import DatasetUnavailableError

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
TRAIN_SUBSET = 12_000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    if not all((DEBIAN / f.name).is_file() for f in fashion_mnist.FILES):
        pytest.skip("apt-get install dataset-fashion-mnist")
    with pytest.MonkeyPatch.context() as patch:  # read Debian's files; cache in a temporary folder, never download
        patch.setenv("LAMINA_HOME", str(tmp_path_factory.mktemp("lamina_home")))
        patch.setenv("LAMINA_DEBIAN_DATASETS", str(DEBIAN.parent))
        try:
            (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
        except DatasetUnavailableError as error:
            pytest.skip(str(error))
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    x_train = x_train[:TRAIN_SUBSET].reshape((-1, 28, 28, 1)) / 255
    x_test = x_test.reshape((10000, 28, 28, 1)) / 255
    return (x_train, y_train[:TRAIN_SUBSET]), (x_test, y_test)


# ----------------------------------------------------------------------------------------------- the acceptance example
def sequential():
    model = keras.models.Sequential()
    model.add(keras.layers.Flatten(input_shape=(28, 28, 1)))
    model.add(keras.layers.Dense(32, activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


def functional():
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(32, activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


class Classifier(keras.Model):
    def __init__(self):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(32, activation="relu")
        self.classify = keras.layers.Dense(10, activation="softmax")

    def call(self, inputs):
        return self.classify(self.hidden(self.flatten(inputs)))


@pytest.mark.parametrize("make", [sequential, functional, Classifier], ids=["sequential", "functional", "subclassed"])
def test_fashion_mnist_classifier_reaches_80_percent(data, make):
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(1)
    model = make()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=3, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.80
    assert history.history["loss"][0] > history.history["loss"][-1]
    # evaluate's accuracy is the fraction of correct test predictions
    predictions = model.predict(x_test, batch_size=1000, verbose=0)
    assert predictions.shape == (10000, 10)
    assert accuracy == pytest.approx(float((predictions.argmax(-1) == y_test).mean()), abs=1e-6)
    assert len(model.weights) == 4


# ----------------------------------------------------------------------------------------------- two in, two out
def two_branch_model():
    top = keras.Input(shape=(14, 28), name="top")
    bottom = keras.Input(shape=(14, 28), name="bottom")
    shared = keras.layers.Dense(32, activation="relu", name="shared")
    flat_top, flat_bottom = keras.layers.Flatten()(top), keras.layers.Flatten()(bottom)
    # each output sees one branch only, so a change of the shared layer reaching both outputs shows it is one layer
    label = keras.layers.Dense(10, activation="softmax", name="label")(shared(flat_top))
    brightness = keras.layers.Dense(1, name="brightness")(shared(flat_bottom))
    return keras.Model({"top": top, "bottom": bottom}, {"label": label, "brightness": brightness}), shared


def split(images):
    images = images[..., 0]
    return {"top": images[:, :14], "bottom": images[:, 14:]}


def test_two_input_two_output_model_with_a_shared_layer_trains(data):
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(0)
    model, shared = two_branch_model()
    model.compile(optimizer="adam",
                  loss={"label": "sparse_categorical_crossentropy", "brightness": "mse"},
                  loss_weights={"label": 1.0, "brightness": 0.5},
                  metrics={"label": ["accuracy"], "brightness": ["mae"]})
    x = split(x_train[:4000])
    targets = {"label": y_train[:4000], "brightness": x["bottom"].mean(axis=(1, 2))[:, None] * 10}
    history = model.fit(x, targets, epochs=3, batch_size=64, verbose=0)
    h = history.history
    assert set(h) == {"loss", "label_loss", "brightness_loss", "label_accuracy", "brightness_mae"}
    assert h["loss"][-1] < h["loss"][0] and h["label_loss"][-1] < h["label_loss"][0]
    assert h["brightness_loss"][-1] < h["brightness_loss"][0]
    for i in range(3):
        assert h["loss"][i] == pytest.approx(h["label_loss"][i] + 0.5 * h["brightness_loss"][i], rel=1e-5)
    xt = split(x_test[:2000])
    logs = model.evaluate(xt, {"label": y_test[:2000], "brightness": xt["bottom"].mean(axis=(1, 2))[:, None] * 10},
                          verbose=0, return_dict=True)
    assert logs["label_accuracy"] > 0.6  # from the top half of the image alone

    # one set of weights for the shared layer, listed once
    assert sum(w is shared.kernel for w in model.weights) == 1
    assert len({id(w) for w in model.weights}) == len(model.weights) == 6
    assert sum(p is shared.kernel for p in model.parameters()) == 1

    # changing the shared kernel changes both branches' outputs; changing one head changes only its output
    before = model.predict(xt, verbose=0)
    with torch.no_grad():
        shared.kernel.mul_(1.5)
    after = model.predict(xt, verbose=0)
    assert not np.allclose(before["label"], after["label"]) and not np.allclose(before["brightness"],
                                                                                after["brightness"])
    head = model.get_layer("brightness")
    head.set_weights([w * 2 for w in head.get_weights()])
    again = model.predict(xt, verbose=0)
    np.testing.assert_array_equal(again["label"], after["label"])
    assert not np.allclose(again["brightness"], after["brightness"])
