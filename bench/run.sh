#!/usr/bin/env bash
# The whole benchmark table in one command (CPU or CUDA, whichever lamina picks): fit against a hand-written
# PyTorch loop on (a)-(d) with jit_compile, evaluate/predict (e), peak memory, and Keras 3 peers.
#     bash bench/run.sh            # REPEATS=9 bash bench/run.sh for steadier medians
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
REPEATS=${REPEATS:-5}
$PY bench/bench_fit.py --repeats "$REPEATS" --jit
$PY bench/bench_fit.py --repeats "$REPEATS" --only cnn --mixed
$PY bench/bench_infer.py  # 41 pairs of ~20 ms passes: short runs need many repeats
$PY bench/bench_memory.py --repeats 5  # fixed mmap threshold: peaks repeat to 0.1 MiB
$PY bench/bench_keras.py --repeats 3
$PY bench/bench_applications.py --repeats "$REPEATS"  # ResNet50 / MobileNetV2: inference, fine-tune step
