"""lamina.metrics against Keras 3 (torch backend): streaming results, weights, lookup and configs."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from lamina import losses, metrics

N, C = 11, 4
BATCHES = [slice(0, 3), slice(3, 4), slice(4, 11)]  # uneven batch sizes


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


def data(kind, seed=1):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(N, C)).astype("float32")
    scores[:3] = rng.integers(0, 2, size=(3, C))  # ties for the top-k metrics
    if kind == "sparse":
        return rng.integers(0, C, size=(N,)), scores
    if kind == "sparse_col":
        return rng.integers(0, C, size=(N, 1)).astype("float32"), scores
    if kind == "onehot":
        return np.eye(C, dtype="float32")[rng.integers(0, C, size=(N,))], scores
    if kind == "binary":
        return rng.integers(0, 2, size=(N, 1)).astype("float32"), rng.uniform(size=(N, 1)).astype("float32")
    if kind == "binary_flat":
        return rng.integers(0, 2, size=(N,)), rng.uniform(size=(N, 1)).astype("float32")
    if kind == "multilabel":
        return rng.integers(0, 2, size=(N, C)).astype("float32"), rng.uniform(size=(N, C)).astype("float32")
    if kind == "exact":
        return rng.integers(0, 3, size=(N, 1)), rng.integers(0, 3, size=(N, 1)).astype("float32")
    return rng.normal(size=(N, 3)).astype("float32"), rng.normal(size=(N, 3)).astype("float32")


CASES = [
    ("Accuracy", {}, "exact"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {}, "binary_flat"),
    ("BinaryAccuracy", {"threshold": 0.7}, "multilabel"),
    ("CategoricalAccuracy", {}, "onehot"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("SparseCategoricalAccuracy", {}, "sparse_col"),
    ("TopKCategoricalAccuracy", {"k": 1}, "onehot"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("TopKCategoricalAccuracy", {"k": 3}, "onehot"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, "sparse_col"),
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("RootMeanSquaredError", {}, "regression"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_streaming_metrics_match_keras(keras, cls_name, kwargs, kind, weighted):
    y_true, y_pred = data(kind)
    weight = np.random.default_rng(5).uniform(0, 2, size=(N,)).astype("float32") if weighted else None
    ours = getattr(metrics, cls_name)(**kwargs)
    ref = getattr(keras.metrics, cls_name)(**kwargs)
    assert ours.name == ref.name
    for batch in BATCHES:
        sw = None if weight is None else weight[batch]
        ours.update_state(y_true[batch], y_pred[batch], sample_weight=sw)
        ref.update_state(y_true[batch], y_pred[batch], sample_weight=sw)
        result = ours.result()
        assert result.shape == () and result.dtype == torch.float32
        close(result, ref.result())
    once = getattr(metrics, cls_name)(**kwargs)
    close(once(torch.as_tensor(y_true), torch.as_tensor(y_pred), sample_weight=weight), ours.result())
    ours.reset_state()
    assert float(ours.result()) == 0.0
    ours.update_state(y_true[:5], y_pred[:5])
    ref.reset_state()
    ref.update_state(y_true[:5], y_pred[:5])
    close(ours.result(), ref.result())


@pytest.mark.parametrize("cls_name,kwargs,kind", CASES)
def test_update_and_result_do_not_synchronise(cls_name, kwargs, kind):
    y_true, y_pred = (torch.as_tensor(a) for a in data(kind))
    metric = getattr(metrics, cls_name)(**kwargs)
    with no_host_sync():
        metric.update_state(y_true, y_pred)
        metric.update_state(y_true, y_pred, sample_weight=torch.rand(N))
        metric.update_state(y_true[:2], y_pred[:2])
        metric.result()
        metric.reset_state()
        metric.result()


FUNCTIONS = [
    ("binary_accuracy", {"threshold": 0.3}, "multilabel"),
    ("binary_accuracy", {}, "binary"),
    ("categorical_accuracy", {}, "onehot"),
    ("sparse_categorical_accuracy", {}, "sparse"),
    ("sparse_categorical_accuracy", {}, "sparse_col"),
    ("top_k_categorical_accuracy", {"k": 2}, "onehot"),
    ("sparse_top_k_categorical_accuracy", {"k": 2}, "sparse"),
    ("mean_squared_error", {}, "regression"),
    ("mean_absolute_error", {}, "regression"),
]


@pytest.mark.parametrize("fn_name,kwargs,kind", FUNCTIONS)
def test_metric_functions_match_keras(keras, fn_name, kwargs, kind):
    y_true, y_pred = data(kind)
    ours = getattr(metrics, fn_name)(torch.as_tensor(y_true), torch.as_tensor(y_pred), **kwargs)
    expected = getattr(keras.metrics, fn_name)(keras.ops.convert_to_tensor(y_true),
                                               keras.ops.convert_to_tensor(y_pred), **kwargs)
    assert ours.dtype == torch.float32 and tuple(ours.shape) == tuple(expected.shape)
    close(ours, expected)


def test_exact_accuracy_function():
    y_true, y_pred = data("exact")
    ours = metrics.accuracy(y_true, torch.as_tensor(y_pred))
    assert ours.dtype == torch.float32 and ours.shape == (N, 1)
    close(ours, (y_true == y_pred).astype("float32"))


def test_top_k_with_k_at_least_the_number_of_classes_always_matches():
    y_true, y_pred = data("onehot")
    assert float(metrics.TopKCategoricalAccuracy()(y_true, y_pred)) == 1.0  # k=5 > 4 classes
    labels, _ = data("sparse")
    assert float(metrics.SparseTopKCategoricalAccuracy(k=4)(labels, y_pred)) == 1.0


@pytest.mark.parametrize("cls_name", ["Mean", "Sum"])
@pytest.mark.parametrize("shape,weight_shape", [((N,), None), ((N,), (N,)), ((N, 3), None), ((N, 3), (N,)),
                                                ((N, 3), (N, 3)), ((N, 1), (N,)), ((N,), (N, 1))])
def test_mean_and_sum_match_keras(keras, cls_name, shape, weight_shape):
    rng = np.random.default_rng(7)
    values = rng.normal(size=shape).astype("float32")
    weight = None if weight_shape is None else rng.uniform(size=weight_shape).astype("float32")
    ours, ref = getattr(metrics, cls_name)(), getattr(keras.metrics, cls_name)()
    for batch in BATCHES:
        sw = None if weight is None else weight[batch]
        ours.update_state(values[batch], sample_weight=sw)
        ref.update_state(values[batch], sample_weight=sw)
        close(ours.result(), ref.result())


def test_mean_of_scalars_lists_and_scalar_weights(keras):
    ours, ref = metrics.Mean(), keras.metrics.Mean()
    for value, sw in [(2.0, None), ([1.0, 3.0, 5.0, 7.0], [1, 1, 0, 0]), (torch.tensor(4.0), None),
                      (np.array([1.0, 2.0]), 3.0)]:
        ours.update_state(value, sample_weight=sw)
        ref.update_state(value, sample_weight=sw)
        close(ours.result(), ref.result())
    zero_weight = metrics.Mean()
    zero_weight.update_state([1.0, 2.0], sample_weight=[0.0, 0.0])
    assert float(zero_weight.result()) == 0.0


def test_mean_weighted_by_batch_size_like_a_loss_tracker(keras):
    ours, ref = metrics.Mean(name="loss"), keras.metrics.Mean(name="loss")
    loss_values = {value: torch.full((), value) for value in (0.5, 1.5, 2.0)}
    for value, batch_size in [(0.5, 32), (1.5, 32), (2.0, 7)]:
        with no_host_sync():
            ours.update_state(loss_values[value], batch_size)
            result = ours.result()
        ref.update_state(np.float32(value), sample_weight=batch_size)
        close(result, ref.result())
    assert ours.state("count") == 71  # a host number: no device tensor for the count
    s, ref_sum = metrics.Sum(), keras.metrics.Sum()
    s.update_state(np.array([1.0, 2.0]), sample_weight=3)
    ref_sum.update_state(np.array([1.0, 2.0]), sample_weight=3)
    close(s.result(), ref_sum.result())


def test_integer_and_bool_values_are_averaged_as_floats():
    m = metrics.Mean()
    m.update_state(torch.tensor([True, False, True, True]))
    m.update_state(torch.tensor([[1, 0], [0, 0]]))
    close(m.result(), (3 + 0.5 + 0.0) / 6)


def test_state_is_lazy_and_variables_are_live_sums():
    m = metrics.SparseCategoricalAccuracy()
    assert m.state("total") == 0 and not isinstance(m.state("total"), torch.Tensor)
    assert [float(v) for v in m.variables] == [0.0, 0.0]
    m.reset_state()
    y_true, y_pred = (torch.as_tensor(a) for a in data("sparse"))
    m.update_state(y_true, y_pred)
    assert isinstance(m.state("total"), torch.Tensor) and m.state("count") == N  # host-side count
    other = metrics.SparseCategoricalAccuracy()
    other.update_state(y_true[:4], y_pred[:4])
    # What a cross-process sum would do: add the other replica's variables in place.
    for mine, theirs in zip(m.variables, other.variables, strict=True):
        mine.add_(theirs)
    both = metrics.SparseCategoricalAccuracy()
    both.update_state(torch.cat([y_true, y_true[:4]]), torch.cat([y_pred, y_pred[:4]]))
    close(m.result(), both.result())
    m.update_state(y_true, y_pred)  # updates keep working once the count is a tensor
    both.update_state(y_true, y_pred)
    close(m.result(), both.result())
    m.reset_state()
    assert m.state("total") == 0 and m.state("count") == 0


def test_result_is_not_aliased_to_state():
    s = metrics.Sum()
    s.update_state([1.0, 2.0])
    first = s.result()
    s.update_state([5.0])
    assert float(first) == 3.0 and float(s.result()) == 8.0


def test_state_follows_dtype_and_ignores_gradients():
    m = metrics.MeanSquaredError(dtype="float64")
    y_true = torch.randn(4, 2)
    y_pred = torch.randn(4, 2, requires_grad=True)
    loss = losses.MeanSquaredError()(y_true, y_pred)
    m.update_state(y_true, y_pred)
    loss.backward()
    close(y_pred.grad, 2 * (y_pred - y_true).detach() / 8)
    assert m.result().dtype == torch.float64 and not m.result().requires_grad
    close(m.result(), loss.detach().double(), rtol=1e-6)


def test_metric_call_updates_then_returns_the_running_result(keras):
    ours, ref = metrics.BinaryAccuracy(), keras.metrics.BinaryAccuracy()
    y_true, y_pred = data("binary")
    close(ours(y_true[:5], y_pred[:5]), ref(y_true[:5], y_pred[:5]))
    close(ours(y_true[5:], y_pred[5:]), ref(y_true[5:], y_pred[5:]))


def test_custom_metric_subclass():
    class Positives(metrics.Metric):
        def __init__(self):
            super().__init__()
            self.add_state("count")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.accumulate("count", (torch.as_tensor(y_pred) > 0).sum())

        def result(self):
            return torch.as_tensor(self.state("count"), dtype=torch.float32)

    m = Positives()
    assert m.name.startswith("positives")
    m.update_state(None, [1.0, -1.0, 2.0])
    m.update_state(None, [3.0])
    assert float(m.result()) == 3.0


def test_mean_metric_wrapper_of_a_function():
    def absolute(y_true, y_pred, scale=1.0):
        return (torch.as_tensor(y_pred) - torch.as_tensor(y_true)).abs().mean(-1) * scale

    m = metrics.get(absolute)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "absolute"
    m.update_state(torch.zeros(2, 3), torch.ones(2, 3))
    assert float(m.result()) == 1.0
    scaled = metrics.MeanMetricWrapper(absolute, name="scaled", scale=2.0)
    assert float(scaled(torch.zeros(2, 3), torch.ones(2, 3))) == 2.0


@pytest.mark.parametrize("identifier,cls_name,name", [
    ("accuracy", "Accuracy", "accuracy"),
    ("acc", "Accuracy", "accuracy"),
    ("binary_accuracy", "BinaryAccuracy", "binary_accuracy"),
    ("categorical_accuracy", "CategoricalAccuracy", "categorical_accuracy"),
    ("sparse_categorical_accuracy", "SparseCategoricalAccuracy", "sparse_categorical_accuracy"),
    ("SparseCategoricalAccuracy", "SparseCategoricalAccuracy", "sparse_categorical_accuracy"),
    ("top_k_categorical_accuracy", "TopKCategoricalAccuracy", "top_k_categorical_accuracy"),
    ("sparse_top_k_categorical_accuracy", "SparseTopKCategoricalAccuracy",
     "sparse_top_k_categorical_accuracy"),
    ("mse", "MeanSquaredError", "mean_squared_error"),
    ("MSE", "MeanSquaredError", "mean_squared_error"),
    ("mae", "MeanAbsoluteError", "mean_absolute_error"),
    ("MeanAbsoluteError", "MeanAbsoluteError", "mean_absolute_error"),
    ("root_mean_squared_error", "RootMeanSquaredError", "root_mean_squared_error"),
    ("mean", "Mean", "mean"),
    ("Sum", "Sum", "sum"),
])
def test_get_by_name(keras, identifier, cls_name, name):
    metric = metrics.get(identifier)
    assert type(metric).__name__ == cls_name and metric.name == name
    if identifier != "acc":
        assert keras.metrics.get(identifier).name == name


def test_get_other_identifiers():
    metric = metrics.Mean(name="loss")
    assert metrics.get(metric) is metric
    assert metrics.get(None) is None
    assert isinstance(metrics.get(metrics.CategoricalAccuracy), metrics.CategoricalAccuracy)
    wrapped = metrics.get(metrics.sparse_categorical_accuracy)
    assert isinstance(wrapped, metrics.MeanMetricWrapper) and wrapped.name == "sparse_categorical_accuracy"
    top = metrics.get({"class_name": "SparseTopKCategoricalAccuracy", "config": {"k": 2, "name": "top2"}})
    assert top.k == 2 and top.name == "top2"
    with pytest.raises(ValueError, match="Could not interpret"):
        metrics.get(1.5)


def test_unknown_names_suggest_close_matches():
    with pytest.raises(ValueError, match="sparse_categorical_accuracy"):
        metrics.get("sparse_categorical_acuracy")
    with pytest.raises(ValueError, match="Did you mean"):
        metrics.get({"class_name": "BinaryAcuracy", "config": {}})


@pytest.mark.parametrize("metric", [
    metrics.Mean(name="loss"),
    metrics.Sum(dtype="float64"),
    metrics.Accuracy(),
    metrics.BinaryAccuracy(threshold=0.3, name="bin"),
    metrics.CategoricalAccuracy(),
    metrics.SparseCategoricalAccuracy(name="acc"),
    metrics.TopKCategoricalAccuracy(k=2),
    metrics.SparseTopKCategoricalAccuracy(k=3, from_sorted_ids=True),
    metrics.MeanSquaredError(),
    metrics.MeanAbsoluteError(),
    metrics.RootMeanSquaredError(),
    metrics.MeanMetricWrapper(metrics.binary_accuracy, name="b", threshold=0.2),
])
def test_config_round_trip(metric):
    config = metrics.serialize(metric)
    rebuilt = metrics.get(config)
    assert type(rebuilt) is type(metric) and metrics.serialize(rebuilt) == config


@pytest.mark.parametrize("cls_name,kwargs", [
    ("Mean", {}), ("Sum", {}), ("Accuracy", {}), ("BinaryAccuracy", {"threshold": 0.3}),
    ("CategoricalAccuracy", {}), ("SparseCategoricalAccuracy", {}), ("TopKCategoricalAccuracy", {"k": 2}),
    ("SparseTopKCategoricalAccuracy", {"k": 2}), ("MeanSquaredError", {}), ("MeanAbsoluteError", {}),
    ("RootMeanSquaredError", {}),
])
def test_configs_match_keras(keras, cls_name, kwargs):
    expected = getattr(keras.metrics, cls_name)(**kwargs).get_config()
    assert getattr(metrics, cls_name)(**kwargs).get_config() == expected


def test_sparse_top_k_from_sorted_ids(keras):
    y_true = np.array([2, 0, 1])
    ids = np.array([[2, 1, 0], [1, 2, 0], [0, 2, 1]])
    ours = metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)(y_true, ids)
    close(ours, keras.metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)(y_true, ids))


@pytest.mark.parametrize("loss,expected,threshold", [
    (losses.SparseCategoricalCrossentropy(), "SparseCategoricalAccuracy", None),
    (losses.CategoricalCrossentropy(from_logits=True), "CategoricalAccuracy", None),
    (losses.BinaryCrossentropy(), "BinaryAccuracy", 0.5),
    (losses.BinaryCrossentropy(from_logits=True), "BinaryAccuracy", 0.0),
    ("sparse_categorical_crossentropy", "SparseCategoricalAccuracy", None),
    ("CategoricalCrossentropy", "CategoricalAccuracy", None),
    (losses.sparse_categorical_crossentropy, "SparseCategoricalAccuracy", None),
    (losses.LossFunctionWrapper(losses.binary_crossentropy), "BinaryAccuracy", 0.5),
    (losses.LossFunctionWrapper(losses.binary_crossentropy, from_logits=True), "BinaryAccuracy", 0.0),
])
def test_resolve_accuracy_from_loss(loss, expected, threshold):
    # The shapes point elsewhere (categorical); a known crossentropy wins.
    metric = metrics.resolve_accuracy("accuracy", loss, (8, 3), (8, 3))
    assert type(metric).__name__ == expected and metric.name == "accuracy"
    if threshold is not None:
        assert metric.threshold == threshold


@pytest.mark.parametrize("y_true_shape,y_pred_shape,expected", [
    ((8,), (8, 1), "BinaryAccuracy"),
    ((8, 1), (8, 1), "BinaryAccuracy"),
    ((8,), (8, 10), "SparseCategoricalAccuracy"),
    ((8, 1), (8, 10), "SparseCategoricalAccuracy"),
    ((None, 1), (None, 10), "SparseCategoricalAccuracy"),
    ((8, 5), (8, 5, 10), "SparseCategoricalAccuracy"),
    ((8, 10), (8, 10), "CategoricalAccuracy"),
])
def test_resolve_accuracy_from_shapes(y_true_shape, y_pred_shape, expected):
    for name in ("accuracy", "acc"):
        metric = metrics.resolve_accuracy(name, losses.MeanSquaredError(), y_true_shape, y_pred_shape)
        assert type(metric).__name__ == expected and metric.name == name


def test_resolve_accuracy_other_names_and_errors():
    assert type(metrics.resolve_accuracy("mae", None, (2,), (2,))).__name__ == "MeanAbsoluteError"
    with pytest.raises(ValueError, match="shapes"):
        metrics.resolve_accuracy("accuracy", None, None, None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_metrics_on_cuda_do_not_synchronise():
    device = torch.device("cuda")
    torch.cuda.set_sync_debug_mode("error")
    try:
        for cls_name, kwargs, kind in CASES:
            y_true, y_pred = (torch.as_tensor(a, device=device) for a in data(kind))
            metric = getattr(metrics, cls_name)(**kwargs)
            metric.update_state(y_true, y_pred)
            metric.update_state(y_true, y_pred, sample_weight=torch.rand(N, device=device))
            assert metric.result().device.type == "cuda"
            metric.reset_state()
    finally:
        torch.cuda.set_sync_debug_mode(0)
