"""Keras 3 as a peer on workloads (a) and (b): the same models and data trained by Keras on each installed
backend (torch; jax when installed), each in its own process (Keras picks its backend at import). Prints
median seconds; compare with the ``pytorch`` column of ``bench_fit.py`` from the same run.

    python bench/bench_keras.py --repeats 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

CHILD = r'''
import json, statistics, sys, time
import numpy as np
import keras
from lamina.datasets import fashion_mnist

repeats = int(sys.argv[1])
(x, y), _ = fashion_mnist.load_data()
x = (x / 255).astype("float32")
out = {}
for name, steps in (("mlp", None), ("cnn", 100)):
    L = keras.layers
    if name == "mlp":
        model = keras.Sequential([keras.Input((784,)), L.Dense(128, activation="relu"), L.Dense(10)])
        data = x.reshape(-1, 784)
    else:
        model = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                                  L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10)])
        data = x.reshape(-1, 28, 28, 1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(data[:640], y[:640], batch_size=128, epochs=1, verbose=0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(data, y, batch_size=128, epochs=1, verbose=0, steps_per_epoch=steps)
        times.append(time.perf_counter() - start)
    out[name] = statistics.median(times)
print(json.dumps(out))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if importlib.util.find_spec("keras") is None:
        print("# keras is not installed: no Keras peers (pip install keras)")
        return
    backends = ["torch"] + (["jax"] if importlib.util.find_spec("jax") is not None else [])
    print(f"{'workload':36s} " + " ".join(f"{'keras-' + b:>11s}" for b in backends))
    results = {}
    for backend in backends:
        env = {**os.environ, "KERAS_BACKEND": backend}
        run = subprocess.run([sys.executable, "-c", CHILD, str(args.repeats)], env=env, capture_output=True,
                             text=True)
        results[backend] = json.loads(run.stdout.strip().splitlines()[-1]) if run.returncode == 0 else {}
    for name, label in (("mlp", "mlp (a) 1 epoch, loss+accuracy"), ("cnn", "cnn (b) 100 steps, loss+accuracy")):
        cells = [f"{results[b][name]:11.3f}" if name in results[b] else f"{'failed':>11s}" for b in backends]
        print(f"{label:36s} " + " ".join(cells), flush=True)


if __name__ == "__main__":
    main()
