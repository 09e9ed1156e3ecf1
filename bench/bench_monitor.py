"""What ``TrainingMonitor`` costs: the bench MLP and CNN (``bench_fit.py``'s workloads (a) and (b)) fitted with and
without it, in one process, alternating; prints median seconds and the ratios (with / without; 1.03 = 3% more).

    python bench/bench_monitor.py                 # both workloads, 7 repeats
    python bench/bench_monitor.py --only cnn --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch
from bench_fit import BATCH, lamina_cnn, lamina_mlp, load

import lamina as keras

WORKLOADS = {"mlp": (lamina_mlp, (784,), None), "cnn": (lamina_cnn, (28, 28, 1), 100)}


class TimedMonitor(keras.callbacks.TrainingMonitor):
    """A TrainingMonitor that adds up the wall time spent in its hooks. On the CPU every operation is synchronous,
    so this is the monitor's whole cost, measured inside each fit instead of as the difference of two noisy fits
    (on an accelerator it misses the device time of its kernels: use the ratios there)."""

    spent = 0.0

    def on_after_backward(self, loss):
        start = time.perf_counter()
        super().on_after_backward(loss)
        TimedMonitor.spent += time.perf_counter() - start

    def on_train_batch_end(self, batch, logs=None):
        start = time.perf_counter()
        super().on_train_batch_end(batch, logs)
        TimedMonitor.spent += time.perf_counter() - start

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        super().on_epoch_end(epoch, logs)
        TimedMonitor.spent += time.perf_counter() - start


def compiled(factory, weights=None):
    model = factory()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    if weights is not None:
        model.set_weights(weights)
    return model


def run(name: str, repeats: int, x, y) -> dict:
    factory, shape, steps = WORKLOADS[name]
    x = x.reshape(-1, *shape)
    torch.manual_seed(0)
    plain = compiled(factory)
    weights = plain.get_weights()
    monitored, rolled = compiled(factory, weights), compiled(factory, weights)
    kwargs = {"batch_size": BATCH, "epochs": 1, "verbose": 0, "steps_per_epoch": steps}
    sides = [("plain", plain, lambda: []), ("monitor", monitored, lambda: [keras.callbacks.TrainingMonitor()]),
             ("rollback", rolled, lambda: [keras.callbacks.TrainingMonitor(rollback=True)]),
             ("timed", compiled(factory, weights), lambda: [TimedMonitor()])]
    for _, model, callbacks in sides:  # warm-up
        model.fit(x[:BATCH * 5], y[:BATCH * 5], callbacks=callbacks(), **{**kwargs, "steps_per_epoch": None})
    times: dict[str, list[float]] = {who: [] for who, _, _ in sides}
    shares = []
    for i in range(repeats):  # rotate the order so slow drifts of a busy machine hit every side
        k = i % len(sides)
        for who, model, callbacks in sides[k:] + sides[:k]:
            cbs = callbacks()
            TimedMonitor.spent = 0.0
            start = time.perf_counter()
            model.fit(x, y, callbacks=cbs, **kwargs)
            elapsed = time.perf_counter() - start
            times[who].append(elapsed)
            if who == "timed":
                shares.append(TimedMonitor.spent / (elapsed - TimedMonitor.spent))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"name": name, **med, "monitor_ratio": med["monitor"] / med["plain"],
            "rollback_ratio": med["rollback"] / med["plain"], "hook_share": statistics.median(shares)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", choices=sorted(WORKLOADS), default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y = load()
    print(f"# lamina TrainingMonitor bench: torch {torch.__version__}, device {keras.get_device()}, threads "
          f"{torch.get_num_threads()}, {platform.processor() or platform.machine()}, python "
          f"{sys.version.split()[0]}, cpus {os.cpu_count()}")
    print("# median seconds of fit (mlp: 1 epoch = 469 steps; cnn: 100 steps; batch 128, Adam, loss + accuracy); "
          "monitor = TrainingMonitor(), rollback = TrainingMonitor(rollback=True); ratios against plain; "
          "hook_share = time inside the monitor's hooks / the rest of the same fit (CPU: its whole cost)")
    print(f"{'workload':10s} {'plain':>8s} {'monitor':>8s} {'rollback':>8s} {'monitor_ratio':>13s} "
          f"{'rollback_ratio':>14s} {'hook_share':>10s}")
    for name in [args.only] if args.only else list(WORKLOADS):
        r = run(name, args.repeats, x, y)
        print(f"{r['name']:10s} {r['plain']:8.3f} {r['monitor']:8.3f} {r['rollback']:8.3f} "
              f"{r['monitor_ratio']:13.3f} {r['rollback_ratio']:14.3f} {r['hook_share']:10.2%}", flush=True)


if __name__ == "__main__":
    main()
