"""Train the Fashion-MNIST classifier from the README in lamina's three model styles and print test accuracy.

    python examples/fashion_mnist.py            # 5 epochs per style
    python examples/fashion_mnist.py --epochs 1 --styles sequential
"""

from __future__ import annotations

import argparse
import time

import lamina as keras
from lamina.datasets import fashion_mnist


def sequential() -> keras.Model:
    model = keras.models.Sequential()
    model.add(keras.layers.Flatten(input_shape=(28, 28, 1)))
    model.add(keras.layers.Dense(32, activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


def functional() -> keras.Model:
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(32, activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


class Classifier(keras.Model):
    """The same network by subclassing: layers in __init__, the computation in call."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(32, activation="relu")
        self.classify = keras.layers.Dense(10, activation="softmax")

    def call(self, inputs):
        return self.classify(self.hidden(self.flatten(inputs)))


STYLES = {"sequential": sequential, "functional": functional, "subclassed": Classifier}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--styles", nargs="+", choices=sorted(STYLES), default=list(STYLES))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = x_train.reshape((60000, 28, 28, 1)) / 255
    x_test = x_test.reshape((10000, 28, 28, 1)) / 255

    results = {}
    for style in args.styles:
        keras.utils.set_random_seed(args.seed)
        model = STYLES[style]()
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
        print(f"\n== {style} model ==")
        start = time.perf_counter()
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=128, validation_data=(x_test, y_test))
        loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
        results[style] = accuracy
        print(f"{style}: test accuracy {accuracy:.4f} (loss {loss:.4f}) in {time.perf_counter() - start:.1f}s")
    print("\nTest accuracy after", args.epochs, "epochs:")
    for style, accuracy in results.items():
        print(f"  {style:11s} {accuracy:.4f}")


if __name__ == "__main__":
    main()
