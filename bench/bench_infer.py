"""(e) ``evaluate`` and ``predict`` on the Fashion-MNIST test set against a hand-written ``torch.no_grad`` loop
of the same MLP, in one process: medians of many repeats and their ratio (lamina / PyTorch). One pass takes
about 20 ms, so a few repeats give a median at the mercy of a noisy moment: the default is 41 alternating pairs.

    python bench/bench_infer.py --repeats 41
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn

import lamina as keras
from lamina.datasets import fashion_mnist

BATCH = 128


def torch_evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Loss and accuracy over the set, summed on the device, read once."""
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    model.eval()
    total = torch.zeros(())
    correct = torch.zeros((), dtype=torch.long)
    with torch.no_grad():
        for start in range(0, x.shape[0], BATCH):
            logits = model(x[start:start + BATCH])
            yb = y[start:start + BATCH]
            total += loss_fn(logits, yb)
            correct += (logits.argmax(-1) == yb).sum()
    return float(total) / x.shape[0] + float(correct)


def torch_predict(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[s:s + BATCH]) for s in range(0, x.shape[0], BATCH)]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=41)
    args = parser.parse_args()
    _, (x, y) = fashion_mnist.load_data()
    x = (x.reshape(-1, 784) / 255).astype("float32")
    y = y.astype("int64")
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    torch.manual_seed(0)
    t_model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    l_model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(128, activation="relu"),
                                keras.layers.Dense(10)])
    l_model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    runs = {"evaluate": (lambda: torch_evaluate(t_model, xt, yt),
                         lambda: l_model.evaluate(x, y, batch_size=BATCH, verbose=0)),
            "predict": (lambda: torch_predict(t_model, xt), lambda: l_model.predict(x, batch_size=BATCH, verbose=0))}
    print(f"{'workload':36s} {'pytorch':>8s} {'lamina':>8s} {'ratio':>6s}")
    for name, (theirs, ours) in runs.items():
        theirs(), ours()  # warm-up
        times: dict[str, list[float]] = {"torch": [], "lamina": []}
        for i in range(args.repeats):
            pair = [("torch", theirs), ("lamina", ours)]
            for who, fn in pair[i % 2:] + pair[:i % 2]:
                start = time.perf_counter()
                fn()
                times[who].append(time.perf_counter() - start)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{'mlp (e) ' + name + ', 10k test images':36s} {med['torch']:8.3f} {med['lamina']:8.3f} "
              f"{med['lamina'] / med['torch']:6.3f}", flush=True)


if __name__ == "__main__":
    main()
