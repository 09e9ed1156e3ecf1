"""The loss contract: reductions and sample weights, Loss/LossFunctionWrapper, configs and the registry, host
syncs, and class weights in fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_harness import REDUCTIONS, close, data, no_host_sync, to_np

import lamina
from lamina import layers, losses

# every loss class: (kwargs for a non-default instance, data kind, logits)
ALL = {
    "BinaryCrossentropy": ({"from_logits": True, "label_smoothing": 0.1, "reduction": None}, "multilabel", True),
    "BinaryFocalCrossentropy": ({"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.0}, "multilabel", False),
    "CategoricalCrossentropy": ({"label_smoothing": 0.1, "axis": -1, "name": "cce"}, "onehot", False),
    "CategoricalFocalCrossentropy": ({"alpha": 0.3, "gamma": 1.5, "from_logits": True}, "onehot", True),
    "SparseCategoricalCrossentropy": ({"from_logits": True, "ignore_class": 2, "reduction": "sum"}, "sparse", True),
    "MeanSquaredError": ({"reduction": "mean_with_sample_weight"}, "regression", True),
    "MeanAbsoluteError": ({"dtype": "float64"}, "regression", True),
    "MeanAbsolutePercentageError": ({"reduction": "sum"}, "regression", True),
    "MeanSquaredLogarithmicError": ({}, "positive", True),
    "CosineSimilarity": ({"axis": 0}, "regression", True),
    "LogCosh": ({"reduction": "none"}, "regression", True),
    "Huber": ({"delta": 0.25}, "regression", True),
    "KLDivergence": ({}, "distribution", True),
    "Poisson": ({"name": "counts"}, "positive", True),
    "CategoricalGeneralizedCrossEntropy": ({"q": 0.3}, "sparse", False),
    "Hinge": ({}, "signed", True),
    "SquaredHinge": ({}, "signed", True),
    "CategoricalHinge": ({}, "onehot", True),
    "Dice": ({"axis": (1,)}, "mask", False),
    "Tversky": ({"alpha": 0.3, "beta": 0.7, "axis": 1}, "mask", False),
}
SPECIAL = ["CTC", "Circle"]


def sample(cls_name, rng=None):
    """(y_true, y_pred) tensors for one loss class."""
    rng = rng or np.random.default_rng(0)
    if cls_name == "CTC":
        return torch.tensor([[1, 2, 0], [2, 0, 0]]), torch.randn(2, 5, 3)
    if cls_name == "Circle":
        return torch.tensor([0, 0, 1, 1, 2]), torch.nn.functional.normalize(torch.randn(5, 4), dim=-1)
    _, kind, logits = ALL[cls_name]
    return tuple(torch.as_tensor(a) for a in data(kind, (6, 4), rng, logits))


def test_every_keras_loss_class_and_function_exists(keras):
    names = [n for n in dir(keras.losses) if not n.startswith("_") and n not in ("get", "serialize", "deserialize")]
    missing = [n for n in names if not hasattr(losses, n)]
    assert not missing, missing
    assert set(ALL) | set(SPECIAL) == {n for n in names if n[0].isupper() and n not in ("Loss",
                                                                                         "LossFunctionWrapper")}


# --------------------------------------------------------------------------------- reductions


def test_reduce_weighted_values_by_the_written_rules():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    w = torch.tensor([2.0, 0.5])
    weighted = to_np(values) * np.array([[2.0], [0.5]])
    r = losses.reduce_weighted_values
    close(r(values, w, reduction="sum"), weighted.sum())
    close(r(values, w, reduction="sum_over_batch_size"), weighted.sum() / 6)
    close(r(values, w, reduction="mean"), weighted.sum() / 6)
    close(r(values, w, reduction="mean_with_sample_weight"), weighted.sum() / 2.5)  # Keras: weights as given
    close(r(values, w[:, None].expand(2, 3), reduction="mean_with_sample_weight"), weighted.sum() / 7.5)
    close(r(values, w, reduction=None), weighted)
    close(r(values, 2.0, reduction="mean_with_sample_weight"), to_np(values).sum())  # Keras: divides by the number
    mask = torch.tensor([[True, False, True], [False, False, True]])
    close(r(values, None, mask, "sum_over_batch_size"), (1 + 3 + 6) / 3)
    close(r(values, w, mask, "sum_over_batch_size"), (2 + 6 + 3) / 3)
    close(r(values, w, mask, "mean_with_sample_weight"), (2 + 6 + 3) / (2 + 2 + 0.5))
    close(r(values, None, torch.zeros(2, 3, dtype=torch.bool), "mean"), 0.0)
    close(r(values, torch.zeros(2), None, "mean_with_sample_weight"), 0.0)
    with pytest.raises(ValueError, match="broadcast"):
        r(values, torch.ones(3), reduction="sum")


def test_invalid_reduction_raises():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")
    loss = losses.MeanSquaredError()
    loss.reduction = "avg"
    with pytest.raises(ValueError, match="reduction"):
        loss(np.zeros((2, 2)), np.zeros((2, 2)))


def test_custom_subclass_and_function_wrapper(keras):
    y_true, y_pred = data("regression", (7, 4), np.random.default_rng(1))
    weight = np.linspace(0, 1, 7).astype("float32")

    def squared(y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean(-1)

    wrapped = losses.LossFunctionWrapper(squared, reduction="sum")
    assert wrapped.name == "squared"
    close(wrapped(y_true, y_pred, weight), keras.losses.MeanSquaredError(reduction="sum")(y_true, y_pred, weight))

    class Absolute(losses.Loss):
        def call(self, y_true, y_pred):
            return (y_pred - y_true).abs().mean(-1)

    close(Absolute()(y_true, y_pred), keras.losses.MeanAbsoluteError()(y_true, y_pred))
    assert Absolute().name.startswith("absolute")
    with pytest.raises(ValueError, match="callable"):
        losses.LossFunctionWrapper("mse")


@pytest.mark.parametrize("base", ["MeanSquaredError", "SparseCategoricalCrossentropy", "BinaryCrossentropy",
                                  "CategoricalCrossentropy"])
def test_subclass_redefining_call_is_not_bypassed_by_the_fused_mean(base):
    # the built-in losses compute their unweighted mean in one fused kernel; a subclass that redefines
    # call (or call_with_mask) must get its own values averaged instead
    cls = getattr(losses, base)
    kwargs = {"from_logits": True} if "Crossentropy" in base else {}
    y_pred = torch.randn(6, 3)
    y_true = {"MeanSquaredError": torch.randn(6, 3), "SparseCategoricalCrossentropy": torch.arange(6) % 3,
              "BinaryCrossentropy": (torch.rand(6, 3) > 0.5).float(),
              "CategoricalCrossentropy": torch.eye(3)[torch.arange(6) % 3]}[base]

    class Doubled(cls):
        def call(self, y_true, y_pred):
            return 2 * super().call(y_true, y_pred)

    class Unchanged(cls):
        pass

    close(Doubled(**kwargs)(y_true, y_pred), 2 * cls(**kwargs)(y_true, y_pred), rtol=1e-6)
    close(Unchanged(**kwargs)(y_true, y_pred), cls(**kwargs)(y_true, y_pred), rtol=1e-6)
    assert Unchanged._fused_ok and not Doubled._fused_ok


def test_dtype_float64_loss(keras):
    y_true, y_pred = data("regression", (7, 4), np.random.default_rng(1))
    value = losses.MeanSquaredError(dtype="float64")(y_true, y_pred)
    assert value.dtype == torch.float64
    close(value, keras.losses.MeanSquaredError()(y_true, y_pred))


# --------------------------------------------------------------------------- configs, registry


@pytest.mark.parametrize("cls_name", sorted(ALL) + SPECIAL)
def test_config_round_trip(cls_name):
    kwargs = ALL[cls_name][0] if cls_name in ALL else {"reduction": "sum"}
    loss = getattr(losses, cls_name)(**kwargs)
    config = losses.serialize(loss)
    for rebuilt in (losses.get(config), losses.deserialize(config), type(loss).from_config(loss.get_config())):
        assert type(rebuilt) is type(loss)
        assert losses.serialize(rebuilt) == config
        y_true, y_pred = sample(cls_name)
        close(rebuilt(y_true, y_pred), loss(y_true, y_pred))


@pytest.mark.parametrize("cls_name", sorted(ALL) + SPECIAL)
def test_config_keys_and_defaults_match_keras(keras, cls_name):
    ours = getattr(losses, cls_name)().get_config()
    ref = getattr(keras.losses, cls_name)().get_config()
    assert {key: ours[key] for key in ref} == ref


@pytest.mark.parametrize("identifier,cls_name,name", [
    ("mse", "MeanSquaredError", "mean_squared_error"), ("MSE", "MeanSquaredError", "mean_squared_error"),
    ("mae", "MeanAbsoluteError", "mean_absolute_error"), ("MAE", "MeanAbsoluteError", "mean_absolute_error"),
    ("mape", "MeanAbsolutePercentageError", "mean_absolute_percentage_error"),
    ("msle", "MeanSquaredLogarithmicError", "mean_squared_logarithmic_error"),
    ("kld", "KLDivergence", "kl_divergence"), ("KLD", "KLDivergence", "kl_divergence"),
    ("kullback_leibler_divergence", "KLDivergence", "kl_divergence"),
    ("logcosh", "LogCosh", "log_cosh"), ("log_cosh", "LogCosh", "log_cosh"),
    ("huber", "Huber", "huber_loss"), ("poisson", "Poisson", "poisson"), ("hinge", "Hinge", "hinge"),
    ("squared_hinge", "SquaredHinge", "squared_hinge"), ("categorical_hinge", "CategoricalHinge", "categorical_hinge"),
    ("cosine_similarity", "CosineSimilarity", "cosine_similarity"),
    ("bce", "BinaryCrossentropy", "binary_crossentropy"),
    ("binary_focal_crossentropy", "BinaryFocalCrossentropy", "binary_focal_crossentropy"),
    ("categorical_focal_crossentropy", "CategoricalFocalCrossentropy", "categorical_focal_crossentropy"),
    ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
    ("CategoricalCrossentropy", "CategoricalCrossentropy", "categorical_crossentropy"),
    ("dice", "Dice", "dice"), ("tversky", "Tversky", "tversky"), ("ctc", "CTC", "ctc"), ("circle", "Circle", "circle"),
])
def test_get_by_name(identifier, cls_name, name):
    loss = losses.get(identifier)
    assert type(loss).__name__ == cls_name and loss.name == name
    assert loss.reduction == "sum_over_batch_size"


def test_function_aliases_are_the_functions():
    assert losses.mse is losses.MSE is losses.mean_squared_error
    assert losses.kld is losses.kl_divergence and losses.logcosh is losses.log_cosh
    assert losses.mape is losses.mean_absolute_percentage_error and losses.msle is losses.mean_squared_logarithmic_error


def test_get_other_identifiers_and_keras_formats():
    loss = losses.Huber(delta=3.0)
    assert losses.get(loss) is loss and losses.get(None) is None
    assert isinstance(losses.get(losses.MeanAbsoluteError), losses.MeanAbsoluteError)
    wrapped = losses.get(losses.mean_absolute_error)
    assert isinstance(wrapped, losses.LossFunctionWrapper) and wrapped.name == "mean_absolute_error"
    assert losses.serialize(losses.poisson) == "poisson"
    rebuilt = losses.get({"module": "keras.losses", "class_name": "SparseCategoricalCrossentropy",
                          "config": {"from_logits": True, "ignore_class": 0}, "registered_name": None})
    assert rebuilt.from_logits and rebuilt.ignore_class == 0
    fn = losses.deserialize({"module": "keras.losses", "class_name": "function", "config": "log_cosh",
                             "registered_name": "log_cosh"})
    assert fn.fn is losses.log_cosh
    wrapper = losses.deserialize({"class_name": "LossFunctionWrapper", "config": {
        "name": "h", "reduction": "sum", "fn": "huber", "delta": 0.5}})
    assert wrapper.fn is losses.huber and wrapper.get_config()["delta"] == 0.5
    with pytest.raises(ValueError, match="Could not interpret"):
        losses.get(3)
    with pytest.raises(ValueError, match="serialize"):
        losses.serialize(lambda t, p: t)


def test_deserialize_custom_objects_and_unknown_names():
    class Mine(losses.Loss):
        def call(self, y_true, y_pred):
            return (y_true - y_pred).abs().sum(-1)

    assert isinstance(losses.deserialize({"class_name": "Mine", "config": {}}, custom_objects={"Mine": Mine}), Mine)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.get("sparse_categorical_crosentropy")
    with pytest.raises(ValueError, match="Did you mean"):
        losses.get({"class_name": "MeanSquaredErrr", "config": {}})
    with pytest.raises(ValueError, match="Unknown"):  # names resolve in lamina's registry only, never imported
        losses.deserialize({"module": "os", "class_name": "system", "config": {}})


# -------------------------------------------------------------------------------- host syncs


@pytest.mark.parametrize("cls_name", sorted(ALL) + SPECIAL)
def test_no_host_sync_in_any_reduction(cls_name):
    kwargs = {k: v for k, v in (ALL[cls_name][0] if cls_name in ALL else {}).items() if k != "reduction"}
    loss = getattr(losses, cls_name)(**kwargs)
    y_true, y_pred = sample(cls_name)
    y_pred = y_pred.to(loss._dtype)
    batch = y_pred.shape[0] if cls_name != "CosineSimilarity" else y_pred.shape[1]
    weight = torch.rand(batch, dtype=y_pred.dtype)
    for reduction in REDUCTIONS:
        loss.reduction = reduction
        with no_host_sync():
            value = loss(y_true, y_pred)
            loss(y_true, y_pred, sample_weight=weight)
            loss(y_true, y_pred, sample_weight=2.5)
        if reduction == "sum_over_batch_size":
            assert value.shape == ()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("cls_name", sorted(ALL) + SPECIAL)
def test_losses_on_cuda_do_not_synchronise(cls_name):
    device = torch.device("cuda")
    kwargs = {k: v for k, v in (ALL[cls_name][0] if cls_name in ALL else {}).items() if k not in ("reduction", "dtype")}
    loss = getattr(losses, cls_name)(**kwargs)
    y_true, y_pred = (t.to(device) for t in sample(cls_name))
    batch = y_pred.shape[0] if cls_name != "CosineSimilarity" else y_pred.shape[1]
    weight = torch.rand(batch, device=device)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for reduction in REDUCTIONS:
            loss.reduction = reduction
            loss(y_true, y_pred)
            loss(y_true, y_pred, sample_weight=weight)
    finally:
        torch.cuda.set_sync_debug_mode(0)


# ------------------------------------------------------------------------------ class weights


@pytest.mark.parametrize("loss,onehot", [("sparse_categorical_crossentropy", False),
                                         (losses.CategoricalFocalCrossentropy(), True)])
def test_class_weight_in_fit_equals_explicit_sample_weights(loss, onehot):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5)).astype("float32")
    labels = rng.integers(0, 3, size=24)
    y = np.eye(3, dtype="float32")[labels] if onehot else labels
    class_weight = {0: 0.5, 1: 2.0, 2: 3.0}
    sample_weight = np.array([class_weight[c] for c in labels], "float32")

    def run(**kwargs):
        lamina.utils.set_random_seed(3)
        model = lamina.Sequential([layers.Input((5,)), layers.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss=loss)
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, **kwargs)
        return history.history["loss"], model.get_weights()

    by_class, by_sample, plain = run(class_weight=class_weight), run(sample_weight=sample_weight), run()
    close(by_class[0], by_sample[0])
    for a, b in zip(by_class[1], by_sample[1], strict=True):
        close(a, b)
    assert not np.allclose(by_class[0], plain[0])
    # the first batch's loss, by hand: weighted sum over the batch / batch size
    lamina.utils.set_random_seed(3)
    model = lamina.Sequential([layers.Input((5,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss=loss)
    probs = to_np(model(torch.as_tensor(x[:8])))
    per_sample = to_np(losses.get(loss).call(torch.as_tensor(y[:8]), torch.as_tensor(probs)))
    close(model.train_on_batch(x[:8], y[:8], class_weight=class_weight),
          (per_sample * sample_weight[:8]).sum() / 8, rtol=1e-5)
