"""The training doctor on Fashion-MNIST: a broken set-up (unscaled pixels, a learning rate 100x too high) is
diagnosed, fixed, given a learning rate by lr_find and trained under a TrainingMonitor. The output is pasted in
docs/doctor.md.

    python examples/doctor.py [--svg lr_find.svg]
"""

from __future__ import annotations

import argparse

import lamina as keras
from lamina.datasets import fashion_mnist


def classifier(learning_rate: float) -> keras.Model:
    """The README's classifier, seeded, with Adam at ``learning_rate``."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", default=None, help="write the lr_find curve here")
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = x_train.reshape(-1, 28, 28, 1).astype("float32")  # the bug: the pixels are not divided by 255
    x_test = x_test.reshape(-1, 28, 28, 1).astype("float32")

    print("## 1. The broken set-up: unscaled pixels, Adam(learning_rate=0.1)")
    model = classifier(0.1)
    print(model.diagnose(x_train, y_train))
    print("\nTraining it anyway (1 epoch, with a TrainingMonitor):")
    model.fit(x_train, y_train, epochs=1, batch_size=128, verbose=2, callbacks=[keras.callbacks.TrainingMonitor()])
    print("test accuracy:", round(model.evaluate(x_test, y_test, verbose=0)[1], 4))

    print("\n## 2. Inputs scaled (x / 255); the learning rate is still 0.1")
    x_train, x_test = x_train / 255, x_test / 255
    model = classifier(0.1)
    print(model.diagnose(x_train, y_train))

    print("\n## 3. A learning rate from lr_find")
    result = model.lr_find(x_train, y_train, batch_size=128)
    print(result)
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as f:
            f.write(result.to_svg())

    print(f"\n## 4. The fixed set-up: scaled inputs, Adam(learning_rate={result.suggestion:.2g})")
    model = classifier(result.suggestion)
    report = model.diagnose(x_train, y_train)
    print(report)
    monitor = keras.callbacks.TrainingMonitor()
    model.fit(x_train, y_train, epochs=3, batch_size=128, verbose=2, callbacks=[monitor])
    print("test accuracy:", round(model.evaluate(x_test, y_test, verbose=0)[1], 4))
    print("monitor events:", monitor.events)
    for key in ("grad_norm", "update_ratio", "learning_rate"):
        print(f"monitor.records[{key!r}] =", [float(f"{v:.3g}") for v in monitor.records[key]])
    print("per layer, last epoch:", {k: float(f"{v[-1]:.3g}") for k, v in monitor.records.items()
                                     if k.startswith("update_ratio/")})


if __name__ == "__main__":
    main()
