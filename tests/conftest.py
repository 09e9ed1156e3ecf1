"""Shared test set-up: deterministic seeds and Keras 3 (torch backend) as an optional oracle."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # tests/tensor_checks.py
# Each test folder's shared helpers (tests/layers/harness.py, tests/metrics/metric_harness.py, ...) import by name.
for _folder in sorted(p for p in Path(__file__).parent.rglob("*") if p.is_dir() and p.name != "__pycache__"):
    if any(_folder.glob("*_harness.py")) or any(_folder.glob("*helpers.py")) or (_folder / "harness.py").exists():
        sys.path.insert(0, str(_folder))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts with seeded RNGs and fresh automatic layer names (dense, dense_1, ...)."""
    import lamina

    lamina.clear_session()
    torch.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(scope="session")
def keras():
    """Keras 3 on its torch backend, the reference implementation; tests using it skip where it is absent."""
    return pytest.importorskip("keras")
