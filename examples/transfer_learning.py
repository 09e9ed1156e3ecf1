"""Transfer learning with lamina.applications, as Keras's guide does it: a pretrained ResNet50 base, frozen; a new
head trained on Fashion-MNIST; then the whole network fine-tuned at a low learning rate.

    python examples/transfer_learning.py                      # ImageNet weights (downloaded once, then cached)
    python examples/transfer_learning.py --weights none       # random base: the recipe runs offline, learns less
    python examples/transfer_learning.py --train 8000 --epochs 3 --fine-tune-epochs 2   # longer, better

Fashion-MNIST's 28x28 grey images are padded to 32x32 (ResNet50's smallest input) and repeated over three
channels; ``resnet.preprocess_input`` inside the model turns pixels in [0, 255] into what the weights expect.
With Keras, only the import changes: ``import keras`` in place of ``import lamina as keras``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import lamina as keras
from lamina.applications import resnet
from lamina.data.download import DownloadError
from lamina.datasets import fashion_mnist

SIZE = 32  # ResNet50's smallest input


def to_rgb32(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 -> (n, 32, 32, 3) float32 pixels in [0, 255]: zero padding, grey repeated as RGB."""
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(padded[..., None], 3, axis=-1).astype("float32")


def load(train: int, test: int, seed: int = 0) -> tuple[tuple, tuple]:
    """A random subset of Fashion-MNIST, prepared for the base."""
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    rng = np.random.default_rng(seed)
    i, j = rng.permutation(len(x_train))[:train], rng.permutation(len(x_test))[:test]
    return (to_rgb32(x_train[i]), y_train[i]), (to_rgb32(x_test[j]), y_test[j])


def base_model(weights: str | None) -> keras.Model:
    """ResNet50 without its classifier; ImageNet weights when they can be had (offline and not cached: random)."""
    try:
        return resnet.ResNet50(weights=weights, include_top=False, input_shape=(SIZE, SIZE, 3))
    except DownloadError as error:
        print(f"ImageNet weights unavailable ({str(error).splitlines()[0]}); using a random base instead.")
        return resnet.ResNet50(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))


def build(base: keras.Model, classes: int = 10) -> keras.Model:
    """The new model: preprocessing, the base in inference mode, a new classification head."""
    base.trainable = False  # freeze every weight of the base
    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    x = resnet.preprocess_input(inputs)
    # training=False: the base's BatchNormalization layers stay in inference mode, also once unfrozen
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(classes)(x)
    return keras.Model(inputs, outputs)


def run(train: int = 1000, test: int = 500, epochs: int = 2, fine_tune_epochs: int = 1,
        weights: str | None = "imagenet", batch_size: int = 64, verbose: int = 2) -> dict[str, float]:
    """The recipe end to end; returns the test accuracy after each phase."""
    (x_train, y_train), (x_test, y_test) = load(train, test)
    base = base_model(weights)
    model = build(base)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    # 1. train the new head on the frozen base
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, validation_split=0.1, verbose=verbose)
    head = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]

    # 2. unfreeze the base and fine-tune everything at a low learning rate (recompile: trainability changed)
    base.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss=loss, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=fine_tune_epochs, batch_size=batch_size, validation_split=0.1,
              verbose=verbose)
    tuned = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    return {"head": float(head), "fine_tuned": float(tuned)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--fine-tune-epochs", type=int, default=1)
    parser.add_argument("--weights", default="imagenet", help="'imagenet', 'none' or a weights file")
    args = parser.parse_args()
    keras.utils.set_random_seed(1)
    start = time.perf_counter()
    result = run(args.train, args.test, args.epochs, args.fine_tune_epochs,
                 None if args.weights == "none" else args.weights)
    print(f"test accuracy: head only {result['head']:.3f}, fine-tuned {result['fine_tuned']:.3f} "
          f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
