"""A convolutional Fashion-MNIST classifier: augmentation, Conv2D, BatchNormalization, pooling, Dropout.

    python examples/convnet.py              # 12 epochs, prints the test accuracy (>= 0.91)
    python examples/convnet.py --epochs 1   # a quick look
"""

from __future__ import annotations

import argparse
import time

import lamina as keras
from lamina import layers
from lamina.datasets import fashion_mnist


def conv_block(x, filters: int, dropout: float):
    """Two 3x3 convolutions with batch normalization, then 2x2 max pooling and dropout."""
    for _ in range(2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.MaxPooling2D(2)(x)
    return layers.Dropout(dropout)(x)


def build_model() -> keras.Model:
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    # Augmentation: active only while training (fit), the identity in evaluate/predict.
    x = layers.RandomFlip("horizontal")(x)
    x = layers.RandomTranslation(0.05, 0.05, fill_mode="constant")(x)
    x = conv_block(x, 32, 0.2)
    x = conv_block(x, 64, 0.3)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="convnet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train, x_test = x_train.reshape(-1, 28, 28, 1), x_test.reshape(-1, 28, 28, 1)

    model = build_model()
    model.summary()
    # a cosine-decayed learning rate: large steps early, fine ones at the end
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps, alpha=0.02)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_data=(x_test, y_test))
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"convnet: test accuracy {accuracy:.4f} (loss {loss:.4f}) after {args.epochs} epochs "
          f"in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
