"""Layer tests: make the shared harness (tests/layers/harness.py) importable as ``harness``, and silence
Keras's own NumPy-2 deprecation noise (its tensors' ``__array__``), which is not lamina's."""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import harness  # noqa: E402


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).resolve().parent == Path(_HERE):
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*"))


@pytest.fixture
def check_layer():
    """The harness's ``check_layer`` as a fixture, for tests that prefer fixtures to imports."""
    return harness.check_layer
