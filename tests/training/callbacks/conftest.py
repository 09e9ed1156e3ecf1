"""Callback tests: make the shared helpers (callback_helpers.py) importable, and silence Keras's own NumPy-2
deprecation noise, which is not lamina's."""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).resolve().parent == Path(_HERE):
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*"))
