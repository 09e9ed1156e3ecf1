"""lamina.utils: to_categorical against keras.utils.to_categorical; the set_random_seed re-export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lamina
from lamina import utils
from lamina.core.random import set_random_seed

CASES = [
    pytest.param([0, 2, 1, 2], None, id="list"),
    pytest.param(np.array([3, 0, 1]), None, id="(n,)"),
    pytest.param(np.array([[3], [0], [1]]), None, id="(n,1)"),
    pytest.param(np.array([[0, 1], [2, 1]]), None, id="(n,m)"),
    pytest.param(np.array([[[0], [1]], [[2], [1]]]), None, id="(n,m,1)"),
    pytest.param(np.array([1, 0]), 5, id="num_classes"),
    pytest.param(np.array([[1], [0]]), 4, id="(n,1)-num_classes"),
    pytest.param(np.array([0.0, 2.0]), None, id="integral-floats"),
    pytest.param(np.array([1, 2], dtype=np.uint8), 3, id="uint8"),
    pytest.param(np.array(2), 3, id="scalar"),
]


@pytest.mark.parametrize(("labels", "num_classes"), CASES)
def test_to_categorical_matches_keras(keras, labels, num_classes):
    expected = keras.utils.to_categorical(labels, num_classes=num_classes)
    got = utils.to_categorical(labels, num_classes=num_classes)
    assert isinstance(got, np.ndarray)
    # Keras 3 returns float64 for NumPy input; lamina documents float32 (floatx, as tf.keras did): values agree.
    assert got.dtype == np.float32
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_to_categorical_closed_form():
    got = utils.to_categorical([2, 0], num_classes=4)
    np.testing.assert_array_equal(got, [[0, 0, 1, 0], [1, 0, 0, 0]])
    assert utils.to_categorical([1, 3]).shape == (2, 4)  # num_classes = max + 1


def test_to_categorical_of_a_torch_tensor():
    got = utils.to_categorical(torch.tensor([0, 2]), num_classes=3)
    np.testing.assert_array_equal(np.asarray(got), np.eye(3, dtype="float32")[[0, 2]])


def test_to_categorical_empty_with_num_classes(keras):
    got = utils.to_categorical(np.zeros((0,), dtype=int), num_classes=3)
    assert got.shape == keras.utils.to_categorical(np.zeros((0,), dtype=int), num_classes=3).shape == (0, 3)


def test_class_id_out_of_range_raises_value_error():
    with pytest.raises(ValueError, match="num_classes=3"):
        utils.to_categorical([0, 3], num_classes=3)


@pytest.mark.parametrize("labels", [[-1, 1], [0.5, 1.0], [[0, 1], [-2, 1]]])
def test_non_class_ids_raise_value_error(labels):
    with pytest.raises(ValueError, match="non-negative integer"):
        utils.to_categorical(labels, num_classes=3)


def test_set_random_seed_is_reexported(keras):
    assert utils.set_random_seed is set_random_seed
    assert "set_random_seed" in utils.__all__ and "to_categorical" in utils.__all__
    assert lamina.utils is utils
    assert hasattr(keras.utils, "set_random_seed")  # the name Keras users expect
    utils.set_random_seed(4)
    a = (np.random.rand(), torch.rand(1).item())
    utils.set_random_seed(4)
    assert a == (np.random.rand(), torch.rand(1).item())


def test_seeded_deterministic_fit_repeats_bit_for_bit():
    saved = torch.are_deterministic_algorithms_enabled()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(96, 10, 10, 1)).astype("float32")
    y = rng.integers(0, 4, size=(96,))

    def run():
        lamina.utils.set_random_seed(11, deterministic=True)
        model = lamina.Sequential([
            lamina.layers.Input(shape=(10, 10, 1)), lamina.layers.Conv2D(4, 3, activation="relu"),
            lamina.layers.BatchNormalization(), lamina.layers.Dropout(0.3), lamina.layers.Flatten(),
            lamina.layers.Dense(4)])
        model.compile(optimizer="adam", loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=16, epochs=2, shuffle=True, verbose=0)
        return model.get_weights()

    try:
        first, second = run(), run()
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(saved)
    assert len(first) == 8
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
