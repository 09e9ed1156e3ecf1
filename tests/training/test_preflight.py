"""Pre-flight checks: bad data or set-up fails with one clear error before any training step (the weights are
unchanged afterwards), and logit/probability mix-ups warn once."""

from __future__ import annotations

import inspect
import traceback
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import lamina
from lamina import layers
from lamina.losses import CategoricalCrossentropy, SparseCategoricalCrossentropy

N = 24


def images(n=N, shape=(28, 28)):
    return np.random.default_rng(0).random((n, *shape)).astype("float32")


def labels(n=N, classes=10):
    return np.random.default_rng(1).integers(0, classes, size=n)


def classifier(activation="softmax", units=10, flatten=True, shape=(28, 28)):
    stack = [layers.Input(shape)] + ([layers.Flatten()] if flatten else []) + [
        layers.Dense(units, activation=activation, name="head")]
    return lamina.Sequential(stack)


def snapshot(model):
    return [w.copy() for w in model.get_weights()]


def assert_unchanged(model, before):
    after = model.get_weights()
    assert len(after) == len(before)
    for a, b in zip(after, before, strict=True):
        np.testing.assert_array_equal(a, b)


def fails_before_training(model, error, match, *args, **kwargs):
    """fit(*args, **kwargs) raises ``error`` matching ``match``; no step ran. Returns the message."""
    before = snapshot(model)
    with pytest.raises(error, match=match) as info:
        model.fit(*args, verbose=0, **kwargs)
    assert_unchanged(model, before)
    if model.optimizer is not None:
        assert model.optimizer.iterations == 0
    return str(info.value)


def compiled(model=None, loss="sparse_categorical_crossentropy", **kwargs):
    model = model if model is not None else classifier()
    model.compile(optimizer=kwargs.pop("optimizer", "adam"), loss=loss, **kwargs)
    return model


# ----------------------------------------------------------------------------------------------- data
def test_x_and_y_of_different_lengths():
    message = fails_before_training(compiled(), ValueError, "same number of samples", images(24), labels(20))
    assert "x: 24" in message and "y: 20" in message


def test_sample_weight_of_a_different_length():
    message = fails_before_training(compiled(), ValueError, "same number of samples", images(), labels(),
                                    sample_weight=np.ones(5))
    assert "sample_weight: 5" in message


def test_input_shape_the_model_cannot_take_names_the_layer_and_both_shapes():
    message = fails_before_training(compiled(), ValueError, "input_layer", images(shape=(20, 20)), labels())
    assert "(None, 28, 28)" in message
    assert "20, 20)" in message


def test_input_width_a_built_layer_cannot_take_names_the_layer_and_both_shapes():
    model = lamina.Sequential([layers.Dense(8, name="hidden"), layers.Dense(1, name="out")])  # no Input: lazy
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((8, 5), "float32"), np.zeros((8, 1), "float32"), verbose=0)
    model.optimizer.iterations = 0
    message = fails_before_training(model, ValueError, "'hidden'", np.ones((8, 7), "float32"),
                                    np.zeros((8, 1), "float32"))
    assert "size 5" in message and ("(8, 7)" in message or "(None, 7)" in message)


def test_labels_out_of_range_for_sparse_crossentropy():
    y = labels()
    y[-1] = 12  # only the last sample, outside the first batch: the check covers all the data
    message = fails_before_training(compiled(), ValueError, "out of range", images(), y, batch_size=8)
    assert "12" in message and "10 units" in message and "[0, 9]" in message


def test_negative_labels_for_sparse_crossentropy():
    y = labels()
    y[3] = -1
    message = fails_before_training(compiled(), ValueError, "out of range", images(), y)
    assert "-1" in message


def test_fractional_labels_for_sparse_crossentropy():
    y = labels().astype("float32")
    y[0] = 2.5
    fails_before_training(compiled(), ValueError, "integer class ids", images(), y)


def test_one_hot_labels_with_a_sparse_loss():
    y = np.eye(10, dtype="float32")[labels()]
    message = fails_before_training(compiled(), ValueError, "one-hot", images(), y)
    assert "CategoricalCrossentropy" in message


def test_integer_labels_with_a_categorical_loss():
    message = fails_before_training(compiled(loss="categorical_crossentropy"), ValueError, "one-hot", images(),
                                    labels())
    assert "sparse_categorical_crossentropy" in message and "to_categorical" in message


def test_categorical_targets_of_the_wrong_width():
    y = np.eye(5, dtype="float32")[labels(classes=5)]
    fails_before_training(compiled(loss=CategoricalCrossentropy()), ValueError, r"\(None, 5\).*\(None, 10\)",
                          images(), y)


def test_targets_that_do_not_match_a_regression_output():
    model = compiled(lamina.Sequential([layers.Input((4,)), layers.Dense(2)]), loss="mse")
    message = fails_before_training(model, ValueError, "do not match", np.ones((8, 4), "float32"),
                                    np.ones((8, 3), "float32"))
    assert "(None, 3)" in message and "(None, 2)" in message


# (units, loss, target shape): does Keras compute it? Pre-flight must never refuse what Keras computes.
BROADCAST_CASES = [(1, "mse", (8, 10)), (1, "mae", (8, 3)), (3, "mse", (8, 1)), (1, "huber", (8, 4)),
                   (2, "mse", (8, 3)), (1, "binary_crossentropy", (8, 3)), (2, "mse", (8,))]


@pytest.mark.parametrize(("units", "loss", "shape"), BROADCAST_CASES, ids=[f"{u}-{lo}-{s}" for u, lo, s in
                                                                             BROADCAST_CASES])
def test_preflight_accepts_exactly_the_broadcasts_keras_computes(units, loss, shape, keras):
    x, y = np.ones((8, 4), "float32"), np.full(shape, 0.5, "float32")
    ref = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation="sigmoid")])
    ref.compile("sgd", loss)
    try:
        ref.fit(x, y, verbose=0)
        keras_ok = True
    except (ValueError, RuntimeError):
        keras_ok = False
    model = compiled(lamina.Sequential([layers.Input((4,)), layers.Dense(units, activation="sigmoid")]), loss=loss,
                     optimizer="sgd")
    if keras_ok:
        model.fit(x, y, verbose=0)
    else:
        fails_before_training(model, ValueError, "do not match", x, y)


def test_binary_targets_outside_zero_one():
    model = compiled(lamina.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")]),
                     loss="binary_crossentropy")
    fails_before_training(model, ValueError, r"\[0, 1\]", np.ones((8, 4), "float32"),
                          np.arange(8, dtype="float32")[:, None])


def test_bad_validation_data_is_caught_before_training_and_says_so():
    model = compiled()
    message = fails_before_training(model, ValueError, "validation_data", images(), labels(),
                                    validation_data=(images(6), np.eye(10)[labels(6)]))
    assert "one-hot" in message


@pytest.mark.parametrize("bad", [
    np.array([[1, 2], [3]], dtype=object),
    np.array([["a", "b"], ["c", "d"]]),
    np.array([[1, "x"], [2, "y"]], dtype=object),
], ids=["ragged", "strings", "mixed"])
def test_non_numeric_arrays(bad):
    model = compiled(lamina.Sequential([layers.Input((2,)), layers.Dense(3, activation="softmax")]))
    message = fails_before_training(model, ValueError, "must hold numbers", bad, np.zeros(2, "int64"))
    assert "dtype" in message


def test_empty_data():
    fails_before_training(compiled(), ValueError, "empty", images(0), labels(0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_x(bad):
    x = images()
    x[5, 3, 3] = bad
    fails_before_training(compiled(), ValueError, "NaN or infinite", x, labels())


def test_nan_in_regression_targets():
    model = compiled(lamina.Sequential([layers.Input((4,)), layers.Dense(1)]), loss="mse")
    y = np.ones((8, 1), "float32")
    y[6] = np.nan
    fails_before_training(model, ValueError, "y contains 1 NaN", np.ones((8, 4), "float32"), y)


# ----------------------------------------------------------------------------------------------- names
@pytest.mark.parametrize(("kind", "bad", "close"), [
    ("optimizer", "adamm", "adam"),
    ("optimizer", "rmsporp", "rmsprop"),
    ("loss", "sparse_categorical_crosentropy", "sparse_categorical_crossentropy"),
    ("metric", "acuracy", "accuracy"),
])
def test_unknown_names_suggest_a_close_match(kind, bad, close):
    model = classifier()
    before = snapshot(model)
    kwargs = {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}
    if kind == "metric":
        kwargs["metrics"] = [bad]
    else:
        kwargs[kind] = bad
    with pytest.raises(ValueError, match=f"Unknown {kind}") as info:  # at compile, or at the latest before a step
        model.compile(**kwargs)
        model.fit(images(), labels(), verbose=0)
    assert f"'{close}'" in str(info.value).split("Known")[0]
    assert_unchanged(model, before)


def test_unknown_activation_suggests_a_close_match():
    with pytest.raises(ValueError, match="Unknown activation") as info:
        layers.Dense(3, activation="rellu")
    assert "'relu'" in str(info.value).split("Known")[0]


# ----------------------------------------------------------------------------------------------- Flatten
def test_dense_on_rank_4_input_without_flatten_says_to_add_flatten():
    model = compiled(classifier(flatten=False, shape=(28, 28, 1)))
    message = fails_before_training(model, ValueError, "Flatten", images(shape=(28, 28, 1)), labels())
    assert "(None, 28, 28, 10)" in message and "(None,)" in message


def test_dense_on_rank_4_input_with_categorical_targets_says_to_add_flatten():
    model = compiled(classifier(flatten=False, shape=(28, 28, 1)), loss="categorical_crossentropy")
    fails_before_training(model, ValueError, "Flatten", images(shape=(28, 28, 1)), np.eye(10)[labels()])


# ----------------------------------------------------------------------------------------------- logits
def _logit_warnings(record):
    return [w for w in record if issubclass(w.category, UserWarning) and "from_logits" in str(w.message)]


def test_softmax_output_with_from_logits_true_warns_once_per_fit():
    model = compiled(loss=SparseCategoricalCrossentropy(from_logits=True))
    with pytest.warns(UserWarning, match="from_logits=True") as record:
        model.fit(images(), labels(), epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    assert len(_logit_warnings(record)) == 1
    assert "probabilities" in str(_logit_warnings(record)[0].message)


def test_linear_output_with_from_logits_false_warns():
    model = compiled(classifier(activation=None))
    with pytest.warns(UserWarning, match="from_logits=False") as record:
        model.fit(images(), labels(), epochs=2, verbose=0)
    assert len(_logit_warnings(record)) == 1
    assert "softmax" in str(_logit_warnings(record)[0].message)


def test_matching_outputs_and_losses_do_not_warn():
    for model, loss in ((classifier(), "sparse_categorical_crossentropy"),
                        (classifier(activation=None), SparseCategoricalCrossentropy(from_logits=True))):
        compiled(model, loss=loss)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.fit(images(), labels(), epochs=2, verbose=0)


def test_binary_logit_mix_up_warns():
    model = compiled(lamina.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")]),
                     loss=lamina.losses.BinaryCrossentropy(from_logits=True))
    with pytest.warns(UserWarning, match="from_logits=True"):
        model.fit(np.random.default_rng(0).normal(size=(8, 4)).astype("float32"), np.ones((8, 1), "float32"),
                  verbose=0)


# ----------------------------------------------------------------------------------------------- user code errors
class Exploder(layers.Layer):
    def __init__(self, in_training_only=False, **kwargs):
        super().__init__(**kwargs)
        self.in_training_only = in_training_only

    def call(self, x, training=None):
        if not x.is_meta and (training or not self.in_training_only):  # real data only, not shape inference
            raise ZeroDivisionError("boom from user code")
        return x


def _raise_line():
    lines, start = inspect.getsourcelines(Exploder.call)
    return start + next(i for i, line in enumerate(lines) if "raise ZeroDivisionError" in line)


@pytest.mark.parametrize("in_training_only", [False, True], ids=["first-batch", "training-step"])
def test_exception_in_a_user_layer_keeps_the_users_line_and_names_the_layer(in_training_only):
    model = lamina.Sequential([layers.Input((4,)), layers.Dense(3, name="before"),
                               Exploder(in_training_only, name="exploder"), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = snapshot(model)
    with pytest.raises(ZeroDivisionError, match="boom from user code") as info:
        model.fit(np.ones((8, 4), "float32"), np.ones((8, 1), "float32"), verbose=0)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert (frames[-1].filename, frames[-1].lineno) == (__file__, _raise_line())
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "'exploder'" in notes and "Exploder" in notes
    assert_unchanged(model, before)


# ----------------------------------------------------------------------------------------------- set-up errors
@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_forgetting_compile_is_a_clear_error(method):
    model = classifier()
    before = snapshot(model)
    with pytest.raises(RuntimeError, match=r"compile\(\)") as info:
        getattr(model, method)(images(), labels())
    assert f"before {method}()" in str(info.value)
    assert_unchanged(model, before)


def test_batch_size_with_a_dataloader_is_ignored_as_in_keras():
    loader = DataLoader(TensorDataset(torch.tensor(images()), torch.tensor(labels())), batch_size=8)
    model = compiled()
    model.fit(loader, batch_size=5, verbose=0)
    assert int(model.optimizer.iterations) == 3  # the loader's batches of 8, not batches of 5


def test_y_with_a_dataloader_is_a_clear_error():
    loader = DataLoader(TensorDataset(torch.tensor(images()), torch.tensor(labels())), batch_size=8)
    fails_before_training(compiled(), ValueError, "must yield", loader, labels())


def test_metrics_given_as_loss_weights_by_mistake():
    model = classifier()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])  # Keras's 3rd argument is loss_weights
    message = fails_before_training(model, TypeError, "loss_weights", images(), labels())
    assert "metrics=" in message


def test_loss_dict_with_unknown_output_names():
    a = lamina.Input((4,))
    model = lamina.Model(a, [layers.Dense(1, name="x1")(a), layers.Dense(1, name="x2")(a)])
    model.compile(optimizer="sgd", loss={"x1": "mse", "typo": "mse"})
    message = fails_before_training(model, ValueError, "typo", np.ones((4, 4), "float32"),
                                    [np.ones((4, 1), "float32")] * 2)
    assert "x1" in message and "x2" in message


def test_missing_targets_is_a_clear_error():
    fails_before_training(compiled(), ValueError, "target", images())


# ----------------------------------------------------------------------------------------------- several at once
def test_dense_on_unflattened_images_and_softmax_with_from_logits_are_named_in_one_error():
    # The classic mistake twice over: Dense(10, softmax) on (28, 28, 1) images gives (None, 28, 28, 10), and the
    # softmax output meets from_logits=True. One error names both, each with its fix.
    model = compiled(classifier(flatten=False, shape=(28, 28, 1)), loss=SparseCategoricalCrossentropy(from_logits=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the logit mix-up is in the error, not a separate warning
        message = fails_before_training(model, ValueError, "2 problems", images(shape=(28, 28, 1)), labels())
    assert "Flatten()" in message and "(None, 28, 28, 10)" in message
    assert "from_logits=True" in message and "Remove the final activation" in message
    assert "1. " in message and "2. " in message


def test_missing_flatten_and_linear_output_with_from_logits_false():
    model = compiled(classifier(activation=None, flatten=False, shape=(28, 28, 1)))
    message = fails_before_training(model, ValueError, "2 problems", images(shape=(28, 28, 1)), labels())
    assert "Flatten()" in message and "from_logits=False" in message and "softmax" in message


def test_missing_flatten_and_labels_out_of_range_and_logits():
    y = labels()
    y[-1] = 10  # 1-based labels, say
    model = compiled(classifier(flatten=False, shape=(28, 28, 1)), loss=SparseCategoricalCrossentropy(from_logits=True))
    message = fails_before_training(model, ValueError, "3 problems", images(shape=(28, 28, 1)), y, batch_size=8)
    assert "Flatten()" in message and "out of range" in message and "[0, 9]" in message
    assert "from_logits=True" in message


def test_fractional_and_out_of_range_labels_are_both_named():
    y = labels().astype("float32")
    y[0], y[1] = 2.5, 11
    message = fails_before_training(compiled(), ValueError, "2 problems", images(), y)
    assert "fractional" in message and "found label 11" in message


def test_binary_targets_of_the_wrong_shape_and_range():
    model = compiled(lamina.Sequential([layers.Input((4,)), layers.Dense(2, activation="sigmoid")]),
                     loss="binary_crossentropy")
    message = fails_before_training(model, ValueError, "2 problems", np.ones((8, 4), "float32"),
                                    np.arange(24, dtype="float32").reshape(8, 3))
    assert "do not match" in message and r"[0, 1]" in message


def test_one_problem_keeps_its_own_message():
    message = fails_before_training(compiled(classifier(flatten=False, shape=(28, 28, 1))), ValueError, "Flatten",
                                    images(shape=(28, 28, 1)), labels())
    assert "problems" not in message and "1. " not in message


def test_validation_data_with_several_problems_names_them_all():
    model = compiled(loss=SparseCategoricalCrossentropy(from_logits=True))
    vy = np.eye(10, dtype="float32")[labels(6)]  # one-hot labels for a sparse loss, and the softmax/logits mix-up
    with pytest.warns(UserWarning, match="from_logits=True"):  # the training data: the mix-up alone warns
        message = fails_before_training(model, ValueError, "validation_data", images(), labels(),
                                        validation_data=(images(6), vy))
    assert "one-hot" in message and "from_logits=True" in message


def test_check_pairs_names_the_problems_of_every_output():
    from lamina.training import preflight

    probs = torch.softmax(torch.randn(4, 3), -1)
    pairs = [("a", SparseCategoricalCrossentropy(), torch.tensor([0, 1, 5, 2]), probs),
             ("b", CategoricalCrossentropy(from_logits=True), torch.eye(3)[[0, 1, 2, 0]], probs),
             ("c", lamina.losses.MeanSquaredError(), torch.ones(4, 2), torch.ones(4, 3))]
    with pytest.raises(preflight.TargetError, match="3 problems") as info:
        preflight.check_pairs(pairs)
    message = str(info.value)
    assert "[output 'a'] Labels out of range" in message
    assert "[output 'b'] CategoricalCrossentropy(from_logits=True)" in message
    assert "[output 'c'] MeanSquaredError" in message


def test_check_pairs_warns_when_a_logit_mix_up_is_the_only_problem():
    from lamina.training import preflight

    probs = torch.softmax(torch.randn(4, 3), -1)
    pairs = [("a", SparseCategoricalCrossentropy(from_logits=True), torch.tensor([0, 1, 2, 2]), probs),
             ("b", SparseCategoricalCrossentropy(), torch.tensor([0, 1, 2, 2]), probs)]
    with pytest.warns(UserWarning, match=r"\[output 'a'\].*from_logits=True"):
        preflight.check_pairs(pairs)


def test_a_user_s_own_loss_is_never_refused_for_its_target_shapes(keras):
    # Keras's guide "customizing saving": targets (4,) against a softmax of 4 (batch 4), scored by the user's own
    # function: the shapes broadcast, so Keras computes it; pre-flight cannot know what a user's loss accepts.
    x = np.random.default_rng(0).random((4, 8)).astype("float32")
    y = np.random.default_rng(1).random((4,)).astype("float32")
    results, weights = [], None
    for lib in (keras, lamina):
        def small_square_sum_loss(y_true, y_pred, ops=lib.ops):
            return ops.sum(ops.square(y_pred - y_true), axis=-1) / 10

        model = lib.Sequential([lib.Input((8,)), lib.layers.Dense(4, activation="softmax")])
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        model.compile(optimizer="sgd", loss=small_square_sum_loss)
        results.append(model.evaluate(x, y, batch_size=4, verbose=0))
    assert results[1] == pytest.approx(results[0], rel=1e-5)
