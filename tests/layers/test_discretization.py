"""Tests of lamina/layers/discretization.py against Keras 3's Discretization (which runs on Keras's torch
backend; its ``adapt`` checks for tf.data, so the oracle's adapt is driven through update_state/finalize_state,
which is what Keras's adapt does for arrays and iterables)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from harness import to_numpy

from lamina.layers.discretization import Discretization

RNG = np.random.default_rng(0)


def _keras_adapt(layer, batches):
    layer.reset_state()
    for batch in batches:
        layer.update_state(batch)
    layer.finalize_state()


@pytest.mark.parametrize("batches, num_bins, epsilon", [
    ([np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])], 4, 0.01),
    ([RNG.normal(size=(1000, 3))], 7, 0.01),
    ([RNG.normal(size=(5000,))], 10, 0.001),
    ([RNG.normal(size=(300, 2)), RNG.normal(size=(200, 2)) + 1, RNG.exponential(size=(50, 2))], 5, 0.01),
    ([RNG.integers(0, 5, size=(40,)).astype("float32")], 3, 0.1),
])
def test_adapt_learns_keras_boundaries_exactly(keras, batches, num_bins, epsilon):
    theirs = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    _keras_adapt(theirs, batches)
    ours = Discretization(num_bins=num_bins, epsilon=epsilon)
    ours.adapt(batches[0] if len(batches) == 1 else iter(batches))
    assert ours.bin_boundaries == theirs.bin_boundaries
    if len(batches) > 1:  # a list of batches, and batches as (x, y) pairs
        again = Discretization(num_bins=num_bins, epsilon=epsilon)
        again.adapt([(b, None) for b in batches])
        assert again.bin_boundaries == theirs.bin_boundaries
        steps = Discretization(num_bins=num_bins, epsilon=epsilon)
        steps.adapt(iter(batches * 5), steps=len(batches))
        assert steps.bin_boundaries == theirs.bin_boundaries
    x = RNG.normal(size=(6, 3)).astype("float32")
    np.testing.assert_array_equal(ours(x).numpy(), to_numpy(theirs(x)))


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("shape", [(5,), (4, 1), (4, 3), (2, 3, 2)])
def test_call_against_keras(keras, mode, shape):
    x = RNG.normal(size=shape).astype("float32")
    x.flat[0] = 0.0  # exactly on a boundary: goes to the upper bin
    theirs = keras.layers.Discretization(bin_boundaries=[-0.5, 0.0, 0.5], output_mode=mode)
    ours = Discretization(bin_boundaries=[-0.5, 0.0, 0.5], output_mode=mode)
    expected = to_numpy(theirs(x))
    got = ours(torch.from_numpy(x))
    assert str(got.dtype).replace("torch.", "") == str(theirs(x).dtype).replace("torch.", "")
    assert tuple(got.shape) == expected.shape
    np.testing.assert_array_equal(got.numpy(), expected)
    assert ours.compute_output_shape((None, *shape[1:])) == tuple(
        theirs.compute_output_shape((None, *shape[1:])))
    np.testing.assert_array_equal(ours(x).numpy(), expected)  # a NumPy array
    np.testing.assert_array_equal(Discretization(bin_boundaries=[0.0, 1.0])([0, 1, 2]).numpy(), [1, 2, 2])


def test_config_round_trip_keeps_adapted_boundaries_as_keras(keras):
    ours = Discretization(num_bins=3, name="d")
    ours.adapt(np.arange(10.0))
    config = ours.get_config()
    theirs = keras.layers.Discretization(num_bins=3, name="d")
    _keras_adapt(theirs, [np.arange(10.0)])
    assert config["bin_boundaries"] == theirs.get_config()["bin_boundaries"]
    assert set(config) == set(theirs.get_config())
    again = Discretization.from_config(config)
    assert again.bin_boundaries == ours.bin_boundaries and again.num_bins == 3
    np.testing.assert_array_equal(again(np.arange(10.0)).numpy(), ours(np.arange(10.0)).numpy())


def test_errors_as_keras():
    with pytest.raises(ValueError, match="either `num_bins` or `bin_boundaries`"):
        Discretization()
    with pytest.raises(ValueError, match="should not be set"):
        Discretization(num_bins=3, bin_boundaries=[0.0])
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Discretization(num_bins=-1)
    with pytest.raises(ValueError, match="initialized with `bin_boundaries`"):
        Discretization(bin_boundaries=[0.0]).adapt(np.ones(3))
    with pytest.raises(ValueError, match="call `adapt"):
        Discretization(num_bins=3)(np.ones(3))
    with pytest.raises(ValueError, match="not supported in lamina"):
        Discretization(bin_boundaries=[0.0], output_mode="count", sparse=True)
    with pytest.raises(ValueError, match="output_mode"):
        Discretization(bin_boundaries=[0.0], output_mode="tf_idf")


def test_keras_files_both_ways(keras, tmp_path):
    import lamina
    from lamina.core import serialization
    from lamina.layers.category_encoding import CategoryEncoding

    custom = {"Discretization": Discretization, "CategoryEncoding": CategoryEncoding}
    # what lamina.layers' __init__ does once it imports these layers (idempotent): files then name Keras's class
    serialization.register_package("layers", custom)
    x = np.array([[0.5, 7.0, 19.0]], dtype="float32")
    inputs = lamina.layers.Input(shape=(3,))
    disc = Discretization(num_bins=4)
    disc.adapt(np.arange(20.0).reshape(-1, 1))
    model = lamina.models.Model(inputs, CategoryEncoding(num_tokens=4, output_mode="count")(disc(inputs)))
    model.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_array_equal(to_numpy(theirs(x)), model(x).numpy())
    k_in = keras.Input(shape=(3,))
    k_out = keras.layers.CategoryEncoding(num_tokens=4)(keras.layers.Discretization(bin_boundaries=[1.0, 5.0])(k_in))
    keras_model = keras.Model(k_in, k_out)
    keras_model.save(tmp_path / "theirs.keras")
    loaded = lamina.saving.load_model(tmp_path / "theirs.keras", custom_objects=custom)
    np.testing.assert_array_equal(loaded(x).numpy(), to_numpy(keras_model(x)))
