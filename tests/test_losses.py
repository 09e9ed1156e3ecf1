"""lamina.losses against Keras 3 (torch backend) on the same NumPy data."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from lamina import losses

N, C = 7, 4
REDUCTIONS = ["sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", None, "none"]


def to_np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(to_np(a), to_np(b), rtol=rtol, atol=atol)


@contextlib.contextmanager
def no_host_sync():
    """Make obvious device-host synchronisations (and tensors built from host data) raise."""

    def refuse(*args, **kwargs):
        raise AssertionError("host sync")

    names = ["item", "tolist", "cpu", "numpy", "__bool__", "nonzero", "__int__", "__float__"]
    saved = {name: getattr(torch.Tensor, name) for name in names}
    functions = {name: getattr(torch, name) for name in ("nonzero", "as_tensor", "tensor")}  # + host copies
    try:
        for name in names:
            setattr(torch.Tensor, name, refuse)
        for name in functions:
            setattr(torch, name, refuse)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.Tensor, name, fn)
        for name, fn in functions.items():
            setattr(torch, name, fn)


def data(kind, logits, rng=None):
    """(y_true, y_pred) NumPy arrays for one family of losses."""
    rng = rng or np.random.default_rng(1)
    z = rng.normal(size=(N, C)).astype("float32") * 2
    if kind == "sparse":
        y_true = rng.integers(0, C, size=(N,))
    elif kind == "sparse_col":
        y_true = rng.integers(0, C, size=(N, 1))
    elif kind == "onehot":
        y_true = np.eye(C, dtype="float32")[rng.integers(0, C, size=(N,))]
    elif kind in ("binary", "binary_flat"):
        z = z[:, :1]
        y_true = rng.integers(0, 2, size=(N, 1) if kind == "binary" else (N,)).astype("float32")
    elif kind == "multilabel":
        y_true = rng.integers(0, 2, size=(N, C)).astype("float32")
    else:  # regression
        y_true = rng.normal(size=(N, C)).astype("float32") * 2
        return y_true, z
    if logits:
        return y_true, z
    if kind in ("binary", "binary_flat", "multilabel"):
        p = 1 / (1 + np.exp(-z))
        p[0, 0] = 1.0  # saturated entries exercise the epsilon clip
        p[1, 0] = 0.0
        return y_true, p.astype("float32")
    p = np.exp(z) * rng.uniform(0.5, 2.0, size=(N, 1))  # un-normalised: Keras rescales by the sum
    p[0, 0] = 0.0
    return y_true, p.astype("float32")


CASES = [
    # (lamina class, keras class name, kwargs, data kind, logits)
    ("SparseCategoricalCrossentropy", {}, "sparse", False),
    ("SparseCategoricalCrossentropy", {}, "sparse_col", False),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse", True),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_col", True),
    ("SparseCategoricalCrossentropy", {"ignore_class": 2}, "sparse", False),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}, "sparse_col", True),
    ("CategoricalCrossentropy", {}, "onehot", False),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "onehot", False),
    ("CategoricalCrossentropy", {"from_logits": True}, "onehot", True),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "onehot", True),
    ("BinaryCrossentropy", {}, "binary", False),
    ("BinaryCrossentropy", {}, "binary_flat", False),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "multilabel", False),
    ("BinaryCrossentropy", {"from_logits": True}, "binary", True),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.3}, "multilabel", True),
    ("MeanSquaredError", {}, "regression", True),
    ("MeanAbsoluteError", {}, "regression", True),
    ("Huber", {}, "regression", True),
    ("Huber", {"delta": 0.5}, "regression", True),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("cls_name,kwargs,kind,logits", CASES)
def test_loss_classes_match_keras(keras, cls_name, kwargs, kind, logits, reduction):
    y_true, y_pred = data(kind, logits)
    weight = np.random.default_rng(2).uniform(0, 2, size=(N,)).astype("float32")
    ours = getattr(losses, cls_name)(reduction=reduction, **kwargs)
    ref = getattr(keras.losses, cls_name)(reduction=reduction, **kwargs)
    for sw in (None, weight, weight[:, None]):
        expected = ref(y_true, y_pred, sample_weight=sw)
        got = ours(y_true, y_pred, sample_weight=sw)
        close(got, expected)
        assert tuple(got.shape) == tuple(expected.shape)
        got_t = ours(torch.as_tensor(y_true), torch.as_tensor(y_pred),
                     sample_weight=None if sw is None else torch.as_tensor(sw))
        close(got_t, expected)


@pytest.mark.parametrize("cls_name,kwargs,kind,logits", CASES)
def test_default_reduction_is_a_0d_tensor_without_host_sync(cls_name, kwargs, kind, logits):
    y_true, y_pred = (torch.as_tensor(a) for a in data(kind, logits))
    loss = getattr(losses, cls_name)(**kwargs)
    weight = torch.rand(N)
    with no_host_sync():
        value = loss(y_true, y_pred)
        weighted = loss(y_true, y_pred, sample_weight=weight)
    assert value.shape == () and weighted.shape == () and value.dtype == torch.float32
    for reduction in REDUCTIONS:
        loss.reduction = reduction
        with no_host_sync():
            loss(y_true, y_pred, sample_weight=2.5)
            loss(y_true, y_pred, sample_weight=weight)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("cls_name,kwargs,kind,logits", CASES[:6] + CASES[-4:])
def test_host_number_sample_weight(keras, cls_name, kwargs, kind, logits, reduction):
    y_true, y_pred = data(kind, logits)
    ours = getattr(losses, cls_name)(reduction=reduction, **kwargs)
    ref = getattr(keras.losses, cls_name)(reduction=reduction, **kwargs)
    for sw in (0.5, 3, np.float32(2.0)):
        # A number weighs every sample alike (Keras itself fails on a scalar with ignore_class, and
        # its "mean_with_sample_weight" divides by the bare scalar rather than the summed weights).
        expected = ref(y_true, y_pred, sample_weight=np.full(N, sw, "float32"))
        close(ours(y_true, y_pred, sample_weight=sw), expected)


FUNCTIONS = [
    ("sparse_categorical_crossentropy", {}, "sparse", False),
    ("sparse_categorical_crossentropy", {"from_logits": True}, "sparse", True),
    ("sparse_categorical_crossentropy", {"ignore_class": 0}, "sparse", False),
    ("categorical_crossentropy", {"label_smoothing": 0.1}, "onehot", False),
    ("categorical_crossentropy", {"from_logits": True}, "onehot", True),
    ("binary_crossentropy", {}, "multilabel", False),
    ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.2}, "multilabel", True),
    ("mean_squared_error", {}, "regression", True),
    ("mean_absolute_error", {}, "regression", True),
    ("huber", {"delta": 1.5}, "regression", True),
]


@pytest.mark.parametrize("fn_name,kwargs,kind,logits", FUNCTIONS)
def test_loss_functions_match_keras(keras, fn_name, kwargs, kind, logits):
    y_true, y_pred = data(kind, logits)
    ours = getattr(losses, fn_name)(torch.as_tensor(y_true), torch.as_tensor(y_pred), **kwargs)
    expected = getattr(keras.losses, fn_name)(keras.ops.convert_to_tensor(y_true),
                                              keras.ops.convert_to_tensor(y_pred), **kwargs)
    assert tuple(ours.shape) == (N,)
    close(ours, expected)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "float32", "float64"])
@pytest.mark.parametrize("logits", [False, True])
def test_sparse_labels_in_any_dtype(keras, dtype, logits):
    y_true, y_pred = data("sparse_col", logits)
    y_true = y_true.astype(dtype)
    ours = losses.SparseCategoricalCrossentropy(from_logits=logits)(torch.as_tensor(y_true), y_pred)
    close(ours, keras.losses.SparseCategoricalCrossentropy(from_logits=logits)(y_true, y_pred))


@pytest.mark.parametrize("logits", [False, True])
def test_ignore_class_everything_ignored_gives_zero(logits):
    _, y_pred = data("sparse", logits)
    loss = losses.SparseCategoricalCrossentropy(from_logits=logits, ignore_class=-1)
    assert float(loss(np.full(N, -1), y_pred)) == 0.0
    per_sample = losses.SparseCategoricalCrossentropy(from_logits=logits, ignore_class=3, reduction=None)
    labels = np.array([3, 0, 1, 3, 2, 1, 0])
    values = per_sample(labels, y_pred)
    assert (to_np(values)[labels == 3] == 0).all() and (to_np(values)[labels != 3] > 0).all()


def test_sequence_labels_match_keras(keras):
    rng = np.random.default_rng(3)
    y_pred = rng.normal(size=(3, 5, C)).astype("float32")
    y_true = rng.integers(0, C, size=(3, 5))
    weight = rng.uniform(size=(3,)).astype("float32")
    for reduction in ("sum_over_batch_size", "sum", None):
        ours = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)
        ref = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)
        close(ours(y_true, y_pred), ref(y_true, y_pred))
        # Keras lines a (batch,) weight up with the trailing axis; lamina with the batch axis.
        per_sample = ref(y_true, y_pred, sample_weight=np.ones((3, 5), "float32") * weight[:, None])
        close(ours(y_true, y_pred, sample_weight=weight), per_sample)


def test_axis_argument_matches_keras(keras):
    y_true, y_pred = data("onehot", True)
    ours = losses.CategoricalCrossentropy(from_logits=True, axis=0)(y_true.T, y_pred.T)
    close(ours, keras.losses.CategoricalCrossentropy(from_logits=True, axis=0)(y_true.T, y_pred.T))
    labels, probs = data("sparse", False)
    ours = losses.sparse_categorical_crossentropy(labels, probs.T, axis=0)
    close(ours, keras.losses.sparse_categorical_crossentropy(labels, probs.T, axis=0))


def test_loss_function_wrapper_and_custom_subclass(keras):
    y_true, y_pred = data("regression", True)
    weight = np.linspace(0, 1, N).astype("float32")

    def squared(y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean(-1)

    wrapped = losses.LossFunctionWrapper(squared, reduction="sum")
    assert wrapped.name == "squared"
    expected = keras.losses.MeanSquaredError(reduction="sum")(y_true, y_pred, weight)
    close(wrapped(y_true, y_pred, weight), expected)

    class Absolute(losses.Loss):
        def call(self, y_true, y_pred):
            return (y_pred - y_true).abs().mean(-1)

    close(Absolute()(y_true, y_pred), keras.losses.MeanAbsoluteError()(y_true, y_pred))
    assert Absolute().name.startswith("absolute")


def test_mse_is_differentiable_with_closed_form_gradient():
    y_true = torch.randn(5, 3)
    y_pred = torch.randn(5, 3, requires_grad=True)
    weight = torch.rand(5)
    loss = losses.MeanSquaredError()(y_true, y_pred)
    loss.backward()
    close(y_pred.grad, 2 * (y_pred - y_true).detach() / y_pred.numel())
    y_pred.grad = None
    losses.MeanSquaredError(reduction="sum")(y_true, y_pred, sample_weight=weight).backward()
    close(y_pred.grad, 2 * (y_pred - y_true).detach() * weight[:, None] / 3)


def test_crossentropy_gradient_from_logits_is_softmax_minus_onehot():
    logits = torch.randn(6, 4, requires_grad=True)
    labels = torch.tensor([0, 3, 1, 2, 2, 0])
    losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits).backward()
    expected = (torch.softmax(logits.detach(), -1) - torch.eye(4)[labels]) / 6
    close(logits.grad, expected)


def test_invalid_reduction_and_shapes():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match="shape"):
        losses.SparseCategoricalCrossentropy()(np.zeros((N, 2)), np.ones((N, C)))
    with pytest.raises(ValueError, match="shape"):
        losses.categorical_crossentropy(np.zeros((N, 3)), np.ones((N, C)))


@pytest.mark.parametrize("identifier,cls_name,name", [
    ("mse", "MeanSquaredError", "mean_squared_error"),
    ("MSE", "MeanSquaredError", "mean_squared_error"),
    ("mean_squared_error", "MeanSquaredError", "mean_squared_error"),
    ("MeanSquaredError", "MeanSquaredError", "mean_squared_error"),
    ("mae", "MeanAbsoluteError", "mean_absolute_error"),
    ("MAE", "MeanAbsoluteError", "mean_absolute_error"),
    ("huber", "Huber", "huber_loss"),
    ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
    ("SparseCategoricalCrossentropy", "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
    ("categorical_crossentropy", "CategoricalCrossentropy", "categorical_crossentropy"),
    ("binary_crossentropy", "BinaryCrossentropy", "binary_crossentropy"),
    ("BinaryCrossentropy", "BinaryCrossentropy", "binary_crossentropy"),
])
def test_get_by_name(identifier, cls_name, name):
    loss = losses.get(identifier)
    assert type(loss).__name__ == cls_name and loss.name == name
    assert loss.reduction == "sum_over_batch_size"


def test_get_other_identifiers():
    loss = losses.Huber(delta=3.0)
    assert losses.get(loss) is loss
    assert losses.get(None) is None
    assert isinstance(losses.get(losses.MeanAbsoluteError), losses.MeanAbsoluteError)
    wrapped = losses.get(losses.mean_absolute_error)
    assert isinstance(wrapped, losses.LossFunctionWrapper) and wrapped.name == "mean_absolute_error"
    rebuilt = losses.get({"class_name": "SparseCategoricalCrossentropy",
                          "config": {"from_logits": True, "ignore_class": 0}})
    assert rebuilt.from_logits and rebuilt.ignore_class == 0
    assert losses.get("sparse_categorical_crossentropy").from_logits is False
    with pytest.raises(ValueError, match="Could not interpret"):
        losses.get(3)


def test_unknown_names_suggest_close_matches():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.get("sparse_categorical_crosentropy")
    with pytest.raises(ValueError, match="Did you mean"):
        losses.get({"class_name": "MeanSquaredErrr", "config": {}})


@pytest.mark.parametrize("loss", [
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2, reduction="sum"),
    losses.CategoricalCrossentropy(label_smoothing=0.1, axis=-1, name="cce"),
    losses.BinaryCrossentropy(from_logits=True, reduction=None),
    losses.MeanSquaredError(reduction="mean_with_sample_weight"),
    losses.MeanAbsoluteError(dtype="float64"),
    losses.Huber(delta=0.25),
    losses.LossFunctionWrapper(losses.huber, reduction="sum", delta=0.5),
])
def test_config_round_trip(loss):
    config = losses.serialize(loss)
    rebuilt = losses.get(config)
    assert type(rebuilt) is type(loss)
    assert losses.serialize(rebuilt) == config
    y_true, y_pred = data("regression", True)
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        y_true = np.arange(N) % C
    elif isinstance(loss, losses.CategoricalCrossentropy):
        y_true, y_pred = data("onehot", False)
    close(rebuilt(y_true, y_pred), loss(y_true, y_pred))


@pytest.mark.parametrize("cls_name,kwargs", [
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}),
    ("BinaryCrossentropy", {"from_logits": True}),
    ("MeanSquaredError", {}),
    ("MeanAbsoluteError", {}),
    ("Huber", {}),
])
def test_config_keys_and_names_match_keras(keras, cls_name, kwargs):
    ours = getattr(losses, cls_name)(**kwargs).get_config()
    ref = getattr(keras.losses, cls_name)(**kwargs).get_config()
    assert {key: ours[key] for key in ref} == ref


def test_dtype_float64_loss(keras):
    y_true, y_pred = data("regression", True)
    loss = losses.MeanSquaredError(dtype="float64")
    value = loss(y_true, y_pred.astype("float64"))
    assert value.dtype == torch.float64
    close(value, keras.losses.MeanSquaredError()(y_true, y_pred))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_losses_on_cuda_do_not_synchronise():
    device = torch.device("cuda")
    torch.cuda.set_sync_debug_mode("error")
    try:
        for cls_name, kwargs, kind, logits in CASES:
            y_true, y_pred = (torch.as_tensor(a, device=device) for a in data(kind, logits))
            loss = getattr(losses, cls_name)(**kwargs)
            for reduction in REDUCTIONS:
                loss.reduction = reduction
                loss(y_true, y_pred)
                loss(y_true, y_pred, sample_weight=torch.rand(N, device=device))
    finally:
        torch.cuda.set_sync_debug_mode(0)
