"""examples/transfer_learning.py's recipe on a tiny Fashion-MNIST subset: frozen base + new head, fit, unfreeze,
recompile, fine-tune (the example itself runs the same code on thousands of images)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "transfer_learning.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("transfer_learning_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_images_are_prepared_for_the_base(example):
    images = np.arange(2 * 28 * 28, dtype="uint8").reshape(2, 28, 28)
    out = example.to_rgb32(images)
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 2:30, 2:30, 1], images)
    assert out[:, :2].max() == 0 and np.array_equal(out[..., 0], out[..., 2])


def test_recipe_runs_on_a_tiny_subset(example):
    """One step of each phase (the freezing rules themselves: test_resnet.py::test_fine_tuning_as_keras)."""
    result = example.run(train=20, test=8, epochs=1, fine_tune_epochs=1, weights=None, batch_size=32, verbose=0)
    assert set(result) == {"head", "fine_tuned"}
    assert all(0.0 <= v <= 1.0 for v in result.values())
