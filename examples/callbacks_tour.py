"""A tour of lamina's callbacks on a Fashion-MNIST classifier: each one in use, with what it did printed after.

    python examples/callbacks_tour.py            # about a minute on a laptop CPU
    tensorboard --logdir runs/tour/tensorboard   # then look at the curves (pip install tensorboard)

Run it twice: the second run finds no backup (a finished run deletes it); kill it mid-way (Ctrl-C or kill -9)
and run it again to see BackupAndRestore continue at the step after its last backup.
"""

from __future__ import annotations

import argparse
import csv
import os

import numpy as np

import lamina as keras
from lamina import callbacks, layers
from lamina.datasets import fashion_mnist


def build() -> keras.Model:
    model = keras.Sequential([layers.Input(shape=(784,)), layers.Rescaling(1 / 255),
                              layers.Dense(256, activation="relu"), layers.Dropout(0.2),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--out", default="runs/tour")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    keras.utils.set_random_seed(1)
    (x, y), (x_test, y_test) = fashion_mnist.load_data()
    x, y = x[: args.samples].reshape(-1, 784), y[: args.samples]
    x_test = x_test.reshape(-1, 784)
    model = build()

    seen_lrs = []
    tour = [
        # stop when val_loss has not improved by 1e-3 for 3 epochs, and put back the best weights
        callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-3, patience=3, restore_best_weights=True),
        # keep the best weights seen, named after the epoch and the score
        callbacks.ModelCheckpoint(os.path.join(args.out, "best-{epoch:02d}-{val_accuracy:.3f}.weights.safetensors"),
                                  monitor="val_accuracy", save_best_only=True, save_weights_only=True),
        # divide the learning rate by 2 when val_loss stalls for 2 epochs
        callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=1e-5),
        # a warm-up on the first epoch, then whatever the optimizer has
        callbacks.LearningRateScheduler(lambda epoch, lr: 5e-4 if epoch == 0 else max(lr, 1e-3) if epoch == 1 else lr),
        # one CSV row per epoch
        callbacks.CSVLogger(os.path.join(args.out, "log.csv")),
        # stop at once if the loss becomes NaN
        callbacks.TerminateOnNaN(),
        # survive a crash or a kill: back up every 50 batches, resume there on the next run
        callbacks.BackupAndRestore(os.path.join(args.out, "backup"), save_freq=50),
        # any function at any hook
        callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen_lrs.append(logs["learning_rate"])),
    ]
    try:
        tour.append(callbacks.TensorBoard(os.path.join(args.out, "tensorboard"), histogram_freq=1))
    except ImportError as error:  # TensorBoard needs the tensorboard package
        print(f"(skipping TensorBoard: {error})")

    history = model.fit(x, y, validation_split=0.2, epochs=args.epochs, batch_size=128, callbacks=tour, verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)

    print(f"\ntrained {len(history.epoch)} of {args.epochs} epochs; test accuracy {accuracy:.4f}")
    if model.stop_training:
        print(f"EarlyStopping stopped at epoch {tour[0].stopped_epoch + 1} and restored the best weights")
    print("learning rate per epoch:", [f"{lr:.2g}" for lr in seen_lrs])
    saved = sorted(f for f in os.listdir(args.out) if f.startswith("best-"))
    print("ModelCheckpoint kept:", saved[-3:])
    with open(os.path.join(args.out, "log.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    print(f"CSVLogger wrote {len(rows)} rows with columns {list(rows[0])}")
    print("best val_accuracy in History:", f"{np.max(history.history['val_accuracy']):.4f}")


if __name__ == "__main__":
    main()
