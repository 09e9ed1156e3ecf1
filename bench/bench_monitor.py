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
             ("rollback", rolled, lambda: [keras.callbacks.TrainingMonitor(rollback=True)])]
    for _, model, callbacks in sides:  # warm-up
        model.fit(x[:BATCH * 5], y[:BATCH * 5], callbacks=callbacks(), **{**kwargs, "steps_per_epoch": None})
    times: dict[str, list[float]] = {who: [] for who, _, _ in sides}
    for i in range(repeats):  # rotate the order so slow drifts of a busy machine hit every side
        k = i % len(sides)
        for who, model, callbacks in sides[k:] + sides[:k]:
            cbs = callbacks()
            start = time.perf_counter()
            model.fit(x, y, callbacks=cbs, **kwargs)
            times[who].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"name": name, **med, "monitor_ratio": med["monitor"] / med["plain"],
            "rollback_ratio": med["rollback"] / med["plain"], **per_step(plain, x, y)}


def per_step(model, x, y, calls: int = 50, blocks: int = 7) -> dict:
    """The training step on one batch with and without the monitor's per-step work (its on_after_backward and
    on_train_batch_end, checks included), each the fastest of ``blocks`` blocks of ``calls`` steps: the minimum
    is what the work costs when nothing else on a busy machine interrupts it."""
    trainer = model._trainer
    batch = (torch.as_tensor(x[:BATCH]).to(trainer.device), torch.as_tensor(y[:BATCH]).to(trainer.device))
    monitor = keras.callbacks.TrainingMonitor(verbose=0)
    monitor.set_model(model)
    monitor.on_train_begin()
    monitor.on_epoch_begin(0)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)

    def fastest(step) -> float:
        best = float("inf")
        for _ in range(blocks):
            sync()
            start = time.perf_counter()
            for _ in range(calls):
                step()
            sync()
            best = min(best, (time.perf_counter() - start) / calls)
        return best

    model.train()
    try:
        plain_fn = trainer.step_function("train")
        trainer.after_backward = (monitor.on_after_backward,)
        hooked_fn = trainer.step_function("train")

        def hooked() -> None:
            hooked_fn(batch)
            monitor.on_train_batch_end(0)

        plain_s, hooked_s = fastest(lambda: plain_fn(batch)), fastest(hooked)
        loss = torch.ones((), device=trainer.device)  # the weights' .grad are those of the last step

        def hook_alone() -> None:
            monitor.on_after_backward(loss)
            monitor.on_train_batch_end(0)

        hook_s = fastest(hook_alone)
    finally:
        trainer.after_backward = ()
        model.eval()
    return {"step_ms": plain_s * 1e3, "monitored_step_ms": hooked_s * 1e3, "step_ratio": hooked_s / plain_s,
            "hook_ms": hook_s * 1e3, "hook_share": hook_s / plain_s}


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
          "step_ms / monitored_step_ms = fastest block of training steps on one batch without / with the monitor's "
          "per-step work, step_ratio their ratio; hook_ms = that work alone (fastest block), hook_share = hook_ms / "
          "step_ms")
    print(f"{'workload':10s} {'plain':>8s} {'monitor':>8s} {'rollback':>8s} {'monitor_ratio':>13s} "
          f"{'rollback_ratio':>14s} {'step_ms':>8s} {'monitored_step_ms':>17s} {'step_ratio':>10s} {'hook_ms':>8s} "
          f"{'hook_share':>10s}")
    for name in [args.only] if args.only else list(WORKLOADS):
        r = run(name, args.repeats, x, y)
        print(f"{r['name']:10s} {r['plain']:8.3f} {r['monitor']:8.3f} {r['rollback']:8.3f} "
              f"{r['monitor_ratio']:13.3f} {r['rollback_ratio']:14.3f} {r['step_ms']:8.3f} "
              f"{r['monitored_step_ms']:17.3f} {r['step_ratio']:10.3f} {r['hook_ms']:8.4f} {r['hook_share']:10.2%}",
              flush=True)


if __name__ == "__main__":
    main()
