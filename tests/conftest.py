"""Shared test set-up: deterministic seeds and Keras 3 (torch backend) as an optional oracle."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

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
