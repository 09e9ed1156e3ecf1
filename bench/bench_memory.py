"""Peak memory: each side runs in its own fresh process (peak resident memory is per process), and reports how
far its peak rose above the process's resident memory after loading the data.

    python bench/bench_memory.py
Rows: one epoch of fit of the MLP (a) and 100 steps of the CNN (b), lamina against the hand-written loop. Each
side builds its model and imports ``torch._dynamo`` before the peak is reset, so the rows measure fit itself: the
first shape inference of a lamina model runs PyTorch's meta-device kernels, most of which import ``torch._dynamo``
(a one-off per process, reported in its own row: building lamina's CNN in a fresh process). Last, ``predict`` of
the MLP on 1,000,000 rows of uint8 pixels (data 784 MB), whose peak shows predict streams its input (a float32
copy of it all would add 3.1 GB).

Every child runs with glibc's mmap threshold fixed (``MALLOC_MMAP_THRESHOLD_=65536``, both sides alike), so
that the peak measures the tensors alive rather than what the allocator happened to keep; see ``measure``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r'''
import json, sys
import numpy as np, torch
sys.path.insert(0, {bench!r})
import bench_fit
import lamina as keras

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

who, workload = sys.argv[1], sys.argv[2]
if workload == "predict1m":
    x = np.random.default_rng(0).integers(0, 256, size=(1_000_000, 784), dtype=np.uint8)
else:
    x, y = bench_fit.load()
torch_factory, lamina_factory, torch_shape, lamina_shape = bench_fit.MODELS["mlp" if workload != "cnn" else "cnn"]
steps = 100 if workload == "cnn" else None
# The model is built before the peak is reset: the row measures fit (or predict), as the speed issue asks.
# Building a lamina model the first time imports torch._dynamo (PyTorch's meta-device kernels of most
# elementwise ops do), a one-off ~30 MiB per process that the "build" row reports on its own.
if workload != "build":
    import torch._dynamo  # noqa: F401  (both sides start with the module imports a lamina model build does)
    model = torch_factory() if who == "torch" and workload != "predict1m" else lamina_factory()
base = rss()
with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM): loading data and model must not count
    f.write("5")
if workload == "build":
    model = lamina_factory()
elif workload == "predict1m":
    out = model.predict(x, batch_size=1024, verbose=0)
elif who == "torch":
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    bench_fit.torch_epoch(model, opt, torch.from_numpy(x).reshape(-1, *torch_shape), torch.from_numpy(y), steps,
                          True, torch.Generator().manual_seed(0))
else:
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x.reshape(-1, *lamina_shape), y, batch_size=128, epochs=1, verbose=0, steps_per_epoch=steps)
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
print(json.dumps({{"base": base, "peak": peak}}))
'''


# glibc's malloc raises its mmap threshold each time a large block is freed, so how much freed memory stays
# resident depends on the order of past allocations: peaks of the same run varied by 25% from process to
# process. A fixed threshold (the same for both sides) makes every large tensor its own mapping, returned when
# freed: the peak then follows the tensors alive, to a tenth of a MiB. --default-allocator measures without it.
FIXED_THRESHOLD = {"MALLOC_MMAP_THRESHOLD_": "65536"}


def measure(who: str, workload: str, fixed_threshold: bool = True) -> dict:
    code = CHILD.format(bench=str(Path(__file__).parent))
    env = {**os.environ, **FIXED_THRESHOLD} if fixed_threshold else dict(os.environ)
    out = subprocess.run([sys.executable, "-c", code, who, workload], capture_output=True, text=True, check=True,
                         env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per side and row (median)")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's sliding mmap threshold on (peaks then vary by ~25%% per process)")
    args = parser.parse_args()
    fixed = not args.default_allocator
    mib = 2**20
    print("# peak resident memory above the data-loaded base, each side in a fresh process"
          + (f" ({' '.join(f'{k}={v}' for k, v in FIXED_THRESHOLD.items())}, both sides)" if fixed else ""))
    print(f"{'workload':36s} {'pytorch MiB':>11s} {'lamina MiB':>10s} {'ratio':>6s}")
    for workload, label in (("mlp", "mlp (a) fit 1 epoch"), ("cnn", "cnn (b) fit 100 steps")):
        rises: dict[str, list[float]] = {"torch": [], "lamina": []}
        for _ in range(args.repeats):  # the allocator's peak varies by several MiB from process to process
            for who in rises:
                r = measure(who, workload, fixed)
                rises[who].append((r["peak"] - r["base"]) / mib)
        dt, dl = statistics.median(rises["torch"]), statistics.median(rises["lamina"])
        print(f"{label:36s} {dt:11.1f} {dl:10.1f} {dl / dt:6.3f}   (medians of {args.repeats} processes each)",
              flush=True)
    b = measure("lamina", "build", fixed)
    print(f"{'lamina: building the cnn (one-off)':36s} {'':>11s} {(b['peak'] - b['base']) / mib:10.1f}   "
          "(first model of a process: shape inference imports torch._dynamo)", flush=True)
    p = measure("lamina", "predict1m", fixed)
    print(f"{'mlp predict 1,000,000 rows (uint8)':36s} {'':>11s} {(p['peak'] - p['base']) / mib:10.1f}   "
          f"(the float32 result is 38 MiB)", flush=True)


if __name__ == "__main__":
    main()
