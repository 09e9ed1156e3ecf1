"""Train the README's Fashion-MNIST classifier briefly and write its HTML training report (docs/report.md): learning
curves, learning rate, gradient norms, the lr_find curve, confusion matrix, per-class precision/recall, the most
confidently wrong images and the model graph, in one self-contained file.

    python examples/report.py                                   # writes report.html
    python examples/report.py --screenshot docs/images/report.png  # and a screenshot of it (needs chromium)
"""

from __future__ import annotations

import argparse
import time

import lamina as keras
from lamina.datasets import fashion_mnist
from lamina.report import render_in_browser

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="report.html")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-samples", type=int, default=15000)
    parser.add_argument("--test-samples", type=int, default=2000)
    parser.add_argument("--plots", default="auto", choices=["auto", "svg", "matplotlib"])
    parser.add_argument("--screenshot", default=None, help="also save a PNG screenshot (headless Chromium)")
    args = parser.parse_args()

    keras.utils.set_random_seed(1)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = x_train[: args.train_samples].reshape((-1, 28, 28, 1)) / 255
    y_train = y_train[: args.train_samples]
    x_test = x_test[: args.test_samples].reshape((-1, 28, 28, 1)) / 255
    y_test = y_test[: args.test_samples]

    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(64, activation="relu", name="hidden")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="classes")(x), name="classifier")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    # The learning-rate sweep and the monitor come from the training doctor (issue 20), when it is installed.
    sweep = model.lr_find(x_train, y_train, batch_size=128) if hasattr(model, "lr_find") else None
    monitor_class = getattr(keras.callbacks, "TrainingMonitor", None)
    monitor = monitor_class() if monitor_class is not None else None
    report = keras.callbacks.Report(args.out, validation_data=(x_test, y_test), monitor=monitor, lr_find=sweep,
                                    class_names=CLASS_NAMES, plots=args.plots, title="Fashion-MNIST MLP")
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=128, validation_data=(x_test, y_test), verbose=2,
              callbacks=[cb for cb in (monitor, schedule, report) if cb is not None])
    print(f"trained in {time.perf_counter() - start:.1f} s; report written to {args.out}")

    if args.screenshot:
        result = render_in_browser(args.out, screenshot=args.screenshot, width=1200)
        if result.errors:
            raise SystemExit(f"the browser reported errors: {result.errors}")
        try:  # a screenshot is mostly flat colours: 256 of them keep it sharp at a fraction of the size
            from PIL import Image

            Image.open(args.screenshot).convert("RGB").quantize(256).save(args.screenshot, optimize=True)
        except ImportError:
            pass
        print(f"screenshot ({result.height} px tall) written to {args.screenshot}")


if __name__ == "__main__":
    main()
