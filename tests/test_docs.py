"""The docs stay complete: docs/training.md names every public callback, schedule, optimizer, loss and metric."""

import inspect
from pathlib import Path

import pytest

from lamina import callbacks, losses, metrics, optimizers
from lamina.optimizers import schedules

TRAINING = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text()


def public_classes(module, base=None):
    names = getattr(module, "__all__", None) or dir(module)
    return sorted(n for n in names if inspect.isclass(getattr(module, n, None)) and not n.startswith("_")
                  and (base is None or issubclass(getattr(module, n), base)))


@pytest.mark.parametrize(("module", "base"), [(callbacks, None), (schedules, schedules.LearningRateSchedule),
                                              (optimizers, optimizers.Optimizer), (losses, losses.Loss),
                                              (metrics, metrics.Metric)], ids=lambda m: getattr(m, "__name__", ""))
def test_training_docs_list_every_public_class(module, base):
    missing = [n for n in public_classes(module, base) if f"**{n}**" not in TRAINING
               and n not in ("Optimizer", "ForeachOptimizer", "Loss", "Metric")]
    assert not missing, f"docs/training.md does not list {missing}"


def test_every_name_in_all_exists():
    for module in (callbacks, losses, metrics, optimizers, schedules):
        assert [n for n in getattr(module, "__all__", []) if not hasattr(module, n)] == []
