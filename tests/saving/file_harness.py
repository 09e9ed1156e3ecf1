"""Shared by the tests of untrusted files: valid files of one small model in every format lamina reads, and
``run_loads``, which runs loaders on files in a separate process under a memory cap and a per-file time limit
(``load_worker.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

WORKER = Path(__file__).with_name("load_worker.py")
GiB = 1 << 30


def base_files(folder: Path) -> dict[str, Path]:
    """``{"lamina", "weights", "keras", "keras_weights", "legacy_h5"}``: files of one small compiled and trained
    model."""
    import lamina

    torch.manual_seed(0)
    model = lamina.Sequential([lamina.layers.Input(shape=(3,)), lamina.layers.Dense(4, activation="relu"),
                               lamina.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(torch.ones(4, 3), torch.zeros(4, 2), verbose=0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"lamina": folder / "base.lamina", "weights": folder / "base.weights.safetensors",
             "keras": folder / "base.keras", "keras_weights": folder / "base.weights.h5",
             "legacy_h5": folder / "base.h5"}
    model.save(paths["lamina"])
    model.save_weights(paths["weights"])
    model.save(paths["keras"])
    model.save_weights(paths["keras_weights"])
    model.save(paths["legacy_h5"])
    return paths


def run_loads(folder: Path, base: dict[str, Path], jobs: list[tuple[str, Path]], seconds: float = 20.0,
              memory_bytes: int = 2 * GiB) -> list[dict]:
    """Each ``(loader, path)`` run in one worker process; one result dict per job (see ``load_worker.py``). A
    worker that dies (killed for memory, a crash) fails here, naming the job it died on."""
    spec = {"memory_bytes": memory_bytes, "seconds": seconds, "lamina": str(base["lamina"]),
            "keras": str(base["keras"]), "jobs": [{"loader": loader, "path": str(path)} for loader, path in jobs]}
    jobs_file, results_file = folder / "jobs.json", folder / "results.jsonl"
    jobs_file.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "OMP_NUM_THREADS": "1"}
    process = subprocess.run([sys.executable, str(WORKER), str(jobs_file), str(results_file)], capture_output=True,
                             text=True, timeout=60 + seconds * len(jobs), env=env)
    results = [json.loads(line) for line in results_file.read_text().splitlines()] if results_file.exists() else []
    if process.returncode != 0 or len(results) != len(jobs):
        dead = jobs[len(results)] if len(results) < len(jobs) else None
        raise AssertionError(f"the load worker died (status {process.returncode}) on {dead}: "
                             f"{process.stderr[-3000:]}")
    return results
