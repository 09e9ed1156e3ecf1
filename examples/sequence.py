"""Sequence models on Fashion-MNIST read as sequences: each image is 28 time steps of 28 pixels (its rows).

    python examples/sequence.py                       # stacked LSTM, 6 epochs
    python examples/sequence.py --model transformer   # a small Transformer encoder (MultiHeadAttention)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import lamina as keras
from lamina import layers
from lamina.datasets import fashion_mnist

STEPS, FEATURES = 28, 28


def lstm_model() -> keras.Model:
    inputs = keras.Input(shape=(STEPS, FEATURES))
    x = layers.LSTM(128, return_sequences=True)(inputs)
    x = layers.LSTM(64)(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="row_lstm")


class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each time step's position to the sequence."""

    def build(self, input_shape):
        self.positions = self.add_weight(shape=(input_shape[1], input_shape[2]), initializer="zeros",
                                         name="positions")

    def call(self, inputs):
        return inputs + self.positions


def encoder_block(x, heads: int, dim: int, mlp_dim: int, dropout: float):
    """Pre-norm Transformer encoder block: self-attention and an MLP, each with a residual connection."""
    h = layers.LayerNormalization()(x)
    h = layers.MultiHeadAttention(num_heads=heads, key_dim=dim // heads, dropout=dropout)(h, h)
    x = layers.Add()([x, h])
    h = layers.LayerNormalization()(x)
    h = layers.Dense(mlp_dim, activation="gelu")(h)
    h = layers.Dropout(dropout)(h)
    h = layers.Dense(dim)(h)
    return layers.Add()([x, h])


def transformer_model(dim: int = 64, blocks: int = 2) -> keras.Model:
    inputs = keras.Input(shape=(STEPS, FEATURES))
    x = layers.Dense(dim)(inputs)
    x = PositionEmbedding()(x)
    for _ in range(blocks):
        x = encoder_block(x, heads=4, dim=dim, mlp_dim=2 * dim, dropout=0.1)
    x = layers.LayerNormalization()(x)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="row_transformer")


MODELS = {"lstm": lstm_model, "transformer": transformer_model}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="lstm")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    # (N, 28, 28) uint8 images -> (N, 28 steps, 28 features) float sequences in [0, 1].
    x_train = (x_train.reshape(-1, STEPS, FEATURES) / 255).astype(np.float32)
    x_test = (x_test.reshape(-1, STEPS, FEATURES) / 255).astype(np.float32)

    model = MODELS[args.model]()
    model.summary()
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=128, validation_data=(x_test, y_test))
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"{model.name}: test accuracy {accuracy:.4f} (loss {loss:.4f}) after {args.epochs} epochs "
          f"in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
