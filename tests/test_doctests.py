"""The ``>>>`` examples in lamina's docstrings run, and show what they say they show; the README and docs/ link
only to files inside the repository.

Every module under src/lamina that holds an example is imported and its examples run with ``doctest``
(NORMALIZE_WHITESPACE | ELLIPSIS), one test per module. An example that needs what a test run does not have
(a file, a GPU, several processes under torchrun) is marked ``# doctest: +SKIP`` with the reason on the same
line, before the directive.
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "lamina"
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# Found by reading the files, not by importing them: a module that fails to import is a failing test here.
MODULES = sorted(_module_name(p) for p in SRC.rglob("*.py") if ">>>" in p.read_text(encoding="utf-8"))


@pytest.fixture
def _global_settings_restored():
    """Examples show the settable globals (device, floatx, ...) in use: put them back for the tests after."""
    from lamina.core import config, device

    saved = (device.get_device(), config.floatx(), config.epsilon(), config.image_data_format(),
             torch.are_deterministic_algorithms_enabled())
    yield
    dev, floatx, epsilon, data_format, deterministic = saved
    device.set_device(dev)
    config.set_floatx(floatx)
    config.set_epsilon(epsilon)
    config.set_image_data_format(data_format)
    torch.use_deterministic_algorithms(deterministic)


def test_every_module_with_examples_is_found():
    assert len(MODULES) > 50 and "lamina.training.preflight" in MODULES


@pytest.mark.usefixtures("_global_settings_restored")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module, name) if t.examples]
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    failed = attempted = 0
    for test in tests:
        result = runner.run(test, out=report.append)
        failed, attempted = failed + result.failed, attempted + result.attempted
    assert failed == 0, f"{failed} of {attempted} examples in {name} failed:\n" + "".join(report)


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_link_only_inside_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    outside = re.findall(r"https?://\S+", text)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        path = target.split("#")[0]
        if not path:
            continue  # an anchor on the same page
        resolved = (doc.parent / path).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            outside.append(target)
    assert not outside, f"{doc.relative_to(ROOT)} points outside the repository (or at nothing): {outside}"
