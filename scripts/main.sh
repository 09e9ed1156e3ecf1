#!/usr/bin/env bash
# The main job: set up, then train the example Fashion-MNIST classifier in the three model styles.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python examples/fashion_mnist.py "$@"
