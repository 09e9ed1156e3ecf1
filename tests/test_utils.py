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


# ---------------------------------------------------------------------------------------------- pad_sequences
PAD_CASES = [
    pytest.param([[1, 2, 3], [4]], {}, id="defaults"),
    pytest.param([[1, 2, 3], [4]], {"maxlen": 2}, id="truncate-pre"),
    pytest.param([[1, 2, 3], [4]], {"maxlen": 2, "truncating": "post"}, id="truncate-post"),
    pytest.param([[1, 2, 3], [4]], {"maxlen": 5, "padding": "post", "value": 9}, id="pad-post-value"),
    pytest.param([[1, 2, 3], [4]], {"maxlen": 2, "padding": "post", "truncating": "post", "value": -1}, id="post-post"),
    pytest.param([], {"maxlen": 3}, id="empty"),
    pytest.param([[]], {}, id="one-empty"),
    pytest.param([[], [1]], {"maxlen": 2}, id="empty-row"),
    pytest.param([["a", "bb"], ["c"]], {"dtype": object, "value": "x"}, id="strings"),
    pytest.param([[[1, 2]], [[3, 4], [5, 6]]], {}, id="feature-axis"),
    pytest.param([[1.5, 2]], {"dtype": "float32", "maxlen": 4}, id="float32"),
    pytest.param([np.array([1, 2]), (3,)], {"dtype": "int64"}, id="arrays-tuples-int64"),
    pytest.param(((1, 2, 3, 4),), {"maxlen": 3, "truncating": "pre", "padding": "post"}, id="tuple-of-tuples"),
]


@pytest.mark.parametrize(("sequences", "kwargs"), PAD_CASES)
def test_pad_sequences_matches_keras(keras, sequences, kwargs):
    expected = keras.utils.pad_sequences(sequences, **kwargs)
    got = utils.pad_sequences(sequences, **kwargs)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("sequences", "kwargs"), [
    pytest.param([[1, 2]], {"maxlen": 1, "padding": "middle"}, id="padding"),
    pytest.param([[1, 2]], {"maxlen": 1, "truncating": "middle"}, id="truncating"),
    pytest.param([["a"]], {"value": "x"}, id="string-value-int-dtype"),
    pytest.param([1, 2], {}, id="not-iterables"),
])
def test_pad_sequences_refuses_what_keras_refuses(keras, sequences, kwargs):
    with pytest.raises(ValueError):
        keras.utils.pad_sequences(sequences, **kwargs)
    with pytest.raises(ValueError):
        utils.pad_sequences(sequences, **kwargs)


# ---------------------------------------------------------------------------------------------- normalize
@pytest.mark.parametrize(("x", "kwargs"), [
    pytest.param(np.array([[3.0, 4.0], [0.0, 0.0]]), {}, id="l2-zero-row"),
    pytest.param(np.array([[3.0, 4.0], [1.0, 1.0]]), {"axis": 0, "order": 1}, id="axis0-l1"),
    pytest.param(np.arange(24, dtype="float32").reshape(2, 3, 4), {"axis": 1}, id="3d-axis1"),
    pytest.param(np.array([3.0, 4.0]), {}, id="1d"),
])
def test_normalize_numpy_matches_keras(keras, x, kwargs):
    expected = keras.utils.normalize(x, **kwargs)
    got = utils.normalize(x, **kwargs)
    assert isinstance(got, np.ndarray) and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("x", [[[3.0, 4.0], [1.0, 2.0]], torch.tensor([[3.0, 4.0], [6.0, 8.0]])],
                         ids=["list", "tensor"])
def test_normalize_tensors_matches_keras(keras, x):
    expected = keras.utils.normalize(x)
    got = utils.normalize(x)
    assert isinstance(got, torch.Tensor) and isinstance(expected, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), np.asarray(expected.cpu()), rtol=1e-6)


# ---------------------------------------------------------------------------------------------- Progbar
def _run_progbar(module, kwargs, steps):
    bar = module.Progbar(**kwargs)
    for step in steps:
        if step[0] == "add":
            bar.add(step[1], step[2])
        else:
            bar.update(*step[1:])
    return {k: list(v) for k, v in bar._values.items()}, bar._seen_so_far


PROGBAR_CASES = [
    pytest.param({"target": 4, "verbose": 0}, [("update", i + 1, [("loss", float(i))]) for i in range(3)],
                 id="averaged"),
    pytest.param({"target": 4, "verbose": 0}, [("update", i + 1, [("loss", float(i))]) for i in range(4)],
                 id="final-step-shows-last"),
    pytest.param({"target": 6, "verbose": 0}, [("update", 2, [("loss", 1.0)]), ("update", 3, [("loss", 4.0)])],
                 id="weighted-by-steps"),
    pytest.param({"target": 6, "verbose": 0, "stateful_metrics": ["acc"]},
                 [("update", 2, [("loss", 1.0), ("acc", 0.5)]), ("update", 3, [("loss", 4.0), ("acc", 0.25)])],
                 id="stateful"),
    pytest.param({"target": None, "verbose": 0}, [("add", 2, [("loss", 1.0)]), ("add", 3, [("loss", 2.0)])],
                 id="add-unknown-target"),
]


@pytest.mark.parametrize(("kwargs", "steps"), PROGBAR_CASES)
def test_progbar_state_matches_keras(keras, kwargs, steps):
    assert _run_progbar(utils, kwargs, steps) == _run_progbar(keras.utils, kwargs, steps)


def _strip(text):
    import re

    return re.sub(r"\x1b\[[0-9;]*m|\d+(us|ms|s)/(step|batch)|\b\d+s\b|[\b\r]", "", text).split()


@pytest.mark.parametrize(("kwargs", "steps"), [
    pytest.param({"target": 3, "verbose": 2}, [("update", 3, [("loss", 1.23456e-5), ("acc", 0.5)])], id="verbose2"),
    pytest.param({"target": 3, "verbose": 2, "unit_name": "batch"}, [("update", 3, [("loss", 123456.0)])],
                 id="unit-name"),
    pytest.param({"target": 3, "verbose": 1, "interval": 0}, [("update", 3, [("loss", 2.0)])], id="verbose1-final"),
    pytest.param({"target": None, "verbose": 1, "interval": 0}, [("update", 5, [("loss", 2.0)], True)],
                 id="verbose1-unknown"),
    pytest.param({"target": 3, "verbose": 0}, [("update", 3, [("loss", 2.0)])], id="silent"),
])
def test_progbar_output_matches_keras_but_timings(keras, capsys, kwargs, steps):
    _run_progbar(keras.utils, kwargs, steps)
    expected = capsys.readouterr().out
    _run_progbar(utils, kwargs, steps)
    got = capsys.readouterr().out
    assert _strip(got) == _strip(expected)
    assert got.endswith("\n") == expected.endswith("\n")


def test_progbar_signatures_match_keras(keras):
    import inspect

    for name in ("__init__", "update", "add"):
        assert list(inspect.signature(getattr(utils.Progbar, name)).parameters) == list(
            inspect.signature(getattr(keras.utils.Progbar, name)).parameters)
    for name in ("pad_sequences", "normalize"):
        assert inspect.signature(getattr(utils, name)).parameters.keys() == inspect.signature(
            getattr(keras.utils, name)).parameters.keys()


NEW_IN_ISSUE_16 = ["image_dataset_from_directory", "text_dataset_from_directory", "audio_dataset_from_directory",
                   "timeseries_dataset_from_array", "split_dataset", "load_img", "img_to_array", "array_to_img",
                   "save_img", "plot_model", "model_to_dot"]


@pytest.mark.parametrize("name", NEW_IN_ISSUE_16)
def test_dataset_image_and_plot_functions_take_keras_arguments(keras, name):
    """Same parameter names, order and defaults as Keras 3, so calls written for Keras work unchanged."""
    import inspect

    theirs = inspect.signature(getattr(keras.utils, name)).parameters
    ours = inspect.signature(getattr(utils, name)).parameters
    assert list(ours) == list(theirs)
    for param in theirs.values():
        assert ours[param.name].default == param.default, param.name
        assert ours[param.name].kind == param.kind, param.name
