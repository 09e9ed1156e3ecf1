"""lamina's fit against a hand-written PyTorch loop on the same model and data, in one run.

Prints, per workload, the median seconds of several repeats for each side and their ratio (lamina / PyTorch;
below 1 means lamina is faster). Reports only; asserts nothing.

    python bench/bench_fit.py                 # both workloads, 5 repeats
    python bench/bench_fit.py --repeats 3 --only mlp
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

import lamina as keras
from lamina.datasets import fashion_mnist

BATCH = 128
MIXED = False  # --mixed: both sides in bfloat16 mixed precision (autocast / lamina's "mixed_bfloat16" policy)


def load() -> tuple[np.ndarray, np.ndarray]:
    (x, y), _ = fashion_mnist.load_data()
    return (x.astype("float32") / 255.0), y.astype("int64")


# ---------------------------------------------------------------- hand-written PyTorch
def torch_epoch(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                steps: int | None, with_accuracy: bool, generator: torch.Generator) -> float:
    """The loop a PyTorch user writes: data already on the device, a permutation, index, step.
    Loss (and accuracy) accumulate on the device and are read once at the end."""
    loss_fn = nn.CrossEntropyLoss()
    n = x.shape[0]
    order = torch.randperm(n, generator=generator).to(x.device)
    total = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    model.train()
    starts = range(0, n, BATCH)
    if steps is not None:
        starts = list(starts)[:steps]
    for start in starts:
        idx = order[start:start + BATCH]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=MIXED):
            logits = model(xb).float()
        loss = loss_fn(logits, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * yb.shape[0]
        if with_accuracy:
            correct += (logits.detach().argmax(-1) == yb).sum()
    return float(total) + float(correct)


def torch_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def torch_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 10))


class TorchResidual(nn.Module):
    """conv-BN-ReLU-conv-BN plus the input (1x1 projection when the shape changes), then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout, 1e-3, 0.01),
                                  nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(cout, 1e-3, 0.01))
        self.skip = (nn.Identity() if cin == cout and stride == 1 else
                     nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, 1e-3, 0.01)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def torch_resnet() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16, 1e-3, 0.01), nn.ReLU(),
                         TorchResidual(16, 16, 1), TorchResidual(16, 32, 2), TorchResidual(32, 32, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


class TorchLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 128, batch_first=True)
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0][:, -1])


# ---------------------------------------------------------------- lamina
def lamina_mlp() -> keras.Model:
    return keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(128, activation="relu"),
                             keras.layers.Dense(10)])


def lamina_cnn() -> keras.Model:
    L = keras.layers
    return keras.Sequential([keras.Input(shape=(28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                             L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10)])


def lamina_residual(x, filters: int, stride: int):
    L = keras.layers
    h = L.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    h = L.ReLU()(L.BatchNormalization()(h))
    h = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same", use_bias=False)(h))
    if x.shape[-1] != filters or stride != 1:
        x = L.BatchNormalization()(L.Conv2D(filters, 1, strides=stride, use_bias=False)(x))
    return L.ReLU()(L.Add()([h, x]))


def lamina_resnet() -> keras.Model:
    L = keras.layers
    inputs = keras.Input(shape=(28, 28, 1))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same", use_bias=False)(inputs)))
    for filters, stride in ((16, 1), (32, 2), (32, 1)):
        x = lamina_residual(x, filters, stride)
    return keras.Model(inputs, L.Dense(10)(L.GlobalAveragePooling2D()(x)))


def lamina_lstm() -> keras.Model:
    return keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.LSTM(128), keras.layers.Dense(10)])


# name -> (plain PyTorch model, lamina model, input layout for PyTorch, input shape for lamina)
MODELS = {
    "mlp": (torch_mlp, lamina_mlp, (784,), (784,)),
    "cnn": (torch_cnn, lamina_cnn, (1, 28, 28), (28, 28, 1)),
    "resnet": (torch_resnet, lamina_resnet, (1, 28, 28), (28, 28, 1)),
    "lstm": (TorchLSTM, lamina_lstm, (28, 28), (28, 28)),
}


def time_it(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(name: str, x: np.ndarray, y: np.ndarray, steps: int | None, repeats: int, with_accuracy: bool,
        jit: bool = False) -> dict:
    device = keras.get_device()
    torch_factory, lamina_factory, torch_shape, lamina_shape = MODELS[name.split()[0]]
    xt = torch.from_numpy(x).to(device)
    yt = torch.from_numpy(y).to(device)
    x_torch = xt.reshape(-1, *torch_shape)
    x_lamina = x.reshape(-1, *lamina_shape)

    torch.manual_seed(0)
    t_model = torch_factory().to(device)
    t_opt = torch.optim.Adam(t_model.parameters(), lr=1e-3)
    f_model = torch_factory().to(device)
    f_opt = torch.optim.Adam(f_model.parameters(), lr=1e-3, fused=True)  # what lamina uses
    gen = torch.Generator().manual_seed(0)
    l_model = lamina_factory()
    l_model.compile(optimizer=keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"] if with_accuracy else None)
    fit_kwargs = {"batch_size": BATCH, "epochs": 1, "verbose": 0, "steps_per_epoch": steps}

    # warm-up all (allocator, oneDNN primitives, lazy builds)
    torch_epoch(t_model, t_opt, x_torch, yt, 5, with_accuracy, gen)
    torch_epoch(f_model, f_opt, x_torch, yt, 5, with_accuracy, gen)
    l_model.fit(x_lamina[:BATCH * 5], y[:BATCH * 5], **{**fit_kwargs, "steps_per_epoch": None})
    runs = [("torch", lambda: torch_epoch(t_model, t_opt, x_torch, yt, steps, with_accuracy, gen)),
            ("fused", lambda: torch_epoch(f_model, f_opt, x_torch, yt, steps, with_accuracy, gen)),
            ("lamina", lambda: l_model.fit(x_lamina, y, **fit_kwargs))]
    if jit:
        j_model = lamina_factory()
        j_model.compile(optimizer=keras.optimizers.Adam(1e-3),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=["accuracy"] if with_accuracy else None, jit_compile=True)
        start = time.perf_counter()  # compilation happens here, outside the timed runs (reported apart)
        j_model.fit(x_lamina[:BATCH * 5 + 7], y[:BATCH * 5 + 7], **{**fit_kwargs, "steps_per_epoch": None})
        compile_s = time.perf_counter() - start
        runs.append(("jit", lambda: j_model.fit(x_lamina, y, **fit_kwargs)))

    times: dict[str, list[float]] = {who: [] for who, _ in runs}
    for i in range(repeats):  # rotate the order so slow drifts of a noisy machine hit every side
        k = i % len(runs)
        for who, fn in runs[k:] + runs[:k]:
            times[who].append(time_it(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    out = {"name": name, **med, "ratio": med["lamina"] / med["torch"], "ratio_fused": med["lamina"] / med["fused"]}
    if jit:
        out.update(jit_ratio=med["jit"] / med["torch"], compile_s=compile_s)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=sorted(MODELS), default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--jit", action="store_true", help="also time lamina with jit_compile=True")
    parser.add_argument("--mixed", action="store_true", help="bfloat16 mixed precision on both sides")
    args = parser.parse_args()
    if args.mixed:
        global MIXED
        MIXED = True
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y = load()
    device = keras.get_device()
    print(f"# lamina bench: torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"{platform.processor() or platform.machine()}, python {sys.version.split()[0]}, cpus {os.cpu_count()}")
    workloads = []
    if args.only in (None, "mlp"):
        workloads += [("mlp (a) 1 epoch, loss", None, False), ("mlp (a) 1 epoch, loss+accuracy", None, True)]
    if args.only in (None, "cnn"):
        workloads += [("cnn (b) 100 steps, loss", 100, False), ("cnn (b) 100 steps, loss+accuracy", 100, True)]
    if args.only in (None, "resnet"):
        workloads += [("resnet (c) 50 steps, loss+accuracy", 50, True)]
    if args.only in (None, "lstm"):
        workloads += [("lstm (d) 50 steps, loss+accuracy", 50, True)]
    print("# median seconds; ratio = lamina / hand-written loop (torch.optim.Adam defaults); "
          "ratio_fused = lamina / the same loop with Adam(fused=True), which lamina uses"
          + ("; jit = lamina with compile(jit_compile=True), jit_ratio = jit / hand-written loop, compile_s = "
             "its one-off compilation" if args.jit else ""))
    header = f"{'workload':36s} {'pytorch':>8s} {'pt-fused':>9s} {'lamina':>8s} {'ratio':>6s} {'ratio_fused':>11s}"
    print(header + (f" {'jit':>8s} {'jit_ratio':>9s} {'compile_s':>9s}" if args.jit else ""))
    for name, steps, acc in workloads:
        name = name + (", bf16 mixed" if args.mixed else "")
        r = run(name, x, y, steps, args.repeats, acc, jit=args.jit)
        line = (f"{r['name']:36s} {r['torch']:8.3f} {r['fused']:9.3f} {r['lamina']:8.3f} {r['ratio']:6.3f} "
                f"{r['ratio_fused']:11.3f}")
        if args.jit:
            line += f" {r['jit']:8.3f} {r['jit_ratio']:9.3f} {r['compile_s']:9.1f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
