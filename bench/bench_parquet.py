"""ParquetDataset's memory and speed: one epoch of an MLP read from a Parquet file several times larger than a
row group, against the same fit on the whole table loaded into NumPy first, each side in a fresh process.

Prints each side's median seconds and peak resident memory (ru_maxrss) over several repeats, and the ratios.

    .venv/bin/python bench/bench_parquet.py --rows 200000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
import lamina
from lamina.data.parquet import ParquetDataset
import pyarrow.parquet as pq

path, side = sys.argv[1], sys.argv[2]
lamina.utils.set_random_seed(0)
model = lamina.Sequential([lamina.Input((512,)), lamina.layers.Dense(128, activation="relu"),
                           lamina.layers.Dense(10)])
model.compile(optimizer="adam", loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if side == "parquet":
    model.fit(ParquetDataset(path, x="x", y="y", batch_size=256, shuffle=True, seed=0), epochs=1, verbose=0)
else:
    table = pq.read_table(path)
    x = np.stack(table.column("x").to_numpy(zero_copy_only=False)).astype("float32")
    y = table.column("y").to_numpy()
    del table
    model.fit(x, y, batch_size=256, epochs=1, verbose=0)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "growth_mb": (peak - base) / 1024}))
"""


def write(path: Path, rows: int) -> float:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    writer = None
    for start in range(0, rows, 10_000):
        n = min(10_000, rows - start)
        table = pa.table({"x": pa.FixedSizeListArray.from_arrays(
            pa.array(rng.normal(size=n * 512).astype("float32")), 512), "y": rng.integers(0, 10, n)})
        writer = writer or pq.ParquetWriter(path, table.schema, compression="none")
        writer.write_table(table, row_group_size=5_000)
    writer.close()
    return path.stat().st_size / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.parquet"
        size = write(path, args.rows)
        results: dict[str, list[dict]] = {"parquet": [], "numpy": []}
        for _ in range(args.repeats):
            for side in results:
                out = subprocess.run([sys.executable, "-c", CHILD, str(path), side], capture_output=True, text=True,
                                     check=True)
                results[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {side: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for side, runs in results.items()}
    print(f"file: {size:.0f} MB, {args.rows} rows in row groups of 5000 (~10 MB each), batch 256")
    print(f"{'side':8} {'seconds':>8} {'peak MB':>8} {'growth MB':>10}")
    for side, m in med.items():
        print(f"{side:8} {m['seconds']:8.2f} {m['peak_mb']:8.0f} {m['growth_mb']:10.0f}")
    print(f"ratio parquet/numpy: time {med['parquet']['seconds'] / med['numpy']['seconds']:.2f}, "
          f"memory growth {med['parquet']['growth_mb'] / max(med['numpy']['growth_mb'], 1):.2f}")


if __name__ == "__main__":
    main()
