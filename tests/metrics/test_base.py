"""lamina.metrics.base: Metric state, Mean, Sum, MeanMetricWrapper, and get/serialize/deserialize."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metric_harness import BATCHES, N, check_config_round_trip, close, data, no_host_sync

from lamina import metrics
from lamina.metrics.base import snake_case


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


def test_mean_formula_and_scalars_lists_and_scalar_weights(keras):
    ours, ref = metrics.Mean(), keras.metrics.Mean()
    for value, sw in [(2.0, None), ([1.0, 3.0, 5.0, 7.0], [1, 1, 0, 0]), (torch.tensor(4.0), None),
                      (np.array([1.0, 2.0]), 3.0)]:
        ours.update_state(value, sample_weight=sw)
        ref.update_state(value, sample_weight=sw)
        close(ours.result(), ref.result())
    # A host-number weight weighs the batch mean (as Keras does), so [1, 2] with weight 3 adds 3 * 1.5 over 3.
    close(ours.result(), (2.0 + 1.0 + 3.0 + 4.0 + 3 * 1.5) / (1 + 2 + 1 + 3))
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


def test_mean_and_sum_do_not_synchronise():
    values, weight = torch.randn(N, 3), torch.rand(N)
    for metric in (metrics.Mean(), metrics.Sum()):
        with no_host_sync():
            metric.update_state(values)
            metric.update_state(values, sample_weight=weight)
            metric.result()
            metric.reset_state()
            metric.result()


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


def test_shaped_state_variables_have_their_shape_and_stay_live():
    m = metrics.Precision(thresholds=[0.2, 0.5, 0.9])
    tp, fp = m.variables  # before any update: zeros of the declared shape
    assert tp.shape == (3,) and fp.shape == (3,)
    y_true, y_pred = data("binary")
    m.update_state(y_true, y_pred)
    assert m.variables[0] is tp  # updated in place
    ref = metrics.Precision(thresholds=[0.2, 0.5, 0.9])
    ref.update_state(y_true, y_pred)
    close(m.result(), ref.result())


def test_result_is_not_aliased_to_state():
    s = metrics.Sum()
    s.update_state([1.0, 2.0])
    first = s.result()
    s.update_state([5.0])
    assert float(first) == 3.0 and float(s.result()) == 8.0
    tp = metrics.TruePositives()
    tp.update_state([1, 1], [0.9, 0.9])
    first = tp.result()
    tp.update_state([1], [0.9])
    assert float(first) == 2.0 and float(tp.result()) == 3.0


def test_state_follows_dtype_and_ignores_gradients():
    m = metrics.MeanSquaredError(dtype="float64")
    y_true = torch.randn(4, 2)
    y_pred = torch.randn(4, 2, requires_grad=True)
    m.update_state(y_true, y_pred)
    assert m.result().dtype == torch.float64 and not m.result().requires_grad
    close(m.result(), (y_pred - y_true).detach().double().square().mean(), rtol=1e-6)
    auc = metrics.AUC(dtype="float64")
    auc.update_state(torch.tensor([0.0, 1.0]), torch.tensor([0.2, 0.7], requires_grad=True))
    assert auc.result().dtype == torch.float64 and not auc.result().requires_grad


def test_custom_metric_subclass():
    class Positives(metrics.Metric):
        def __init__(self):
            super().__init__()
            self.add_state("count")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.accumulate("count", (torch.as_tensor(y_pred) > 0).sum())

        def result(self):
            return self.state_tensor("count")

    m = Positives()
    assert m.name.startswith("positives")
    assert float(m.result()) == 0.0
    m.update_state(None, [1.0, -1.0, 2.0])
    m.update_state(None, [3.0])
    assert float(m.result()) == 3.0
    with pytest.raises(NotImplementedError, match="abstract"):
        metrics.Metric().update_state(None, None)


def test_mean_metric_wrapper_of_any_function(keras):
    def absolute(y_true, y_pred, scale=1.0):
        return (torch.as_tensor(y_pred) - torch.as_tensor(y_true)).abs().mean(-1) * scale

    m = metrics.get(absolute)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "absolute"
    m.update_state(torch.zeros(2, 3), torch.ones(2, 3))
    assert float(m.result()) == 1.0
    scaled = metrics.MeanMetricWrapper(absolute, name="scaled", scale=2.0)
    assert float(scaled(torch.zeros(2, 3), torch.ones(2, 3))) == 2.0
    # Against Keras's wrapper of its own function, over uneven weighted batches.
    y_true, y_pred = data("regression")
    weight = np.random.default_rng(3).uniform(size=N).astype("float32")
    ours = metrics.MeanMetricWrapper(metrics.log_cosh, name="lc")
    ref = keras.metrics.MeanMetricWrapper(keras.losses.log_cosh, name="lc")
    for batch in BATCHES:
        ours.update_state(y_true[batch], y_pred[batch], sample_weight=weight[batch])
        ref.update_state(y_true[batch], y_pred[batch], sample_weight=weight[batch])
        close(ours.result(), ref.result())
    with pytest.raises(ValueError, match="function"):
        metrics.MeanMetricWrapper("not callable")


@pytest.mark.parametrize("identifier,cls_name,name", [
    ("accuracy", "Accuracy", "accuracy"),
    ("acc", "Accuracy", "accuracy"),
    ("binary_accuracy", "BinaryAccuracy", "binary_accuracy"),
    ("categorical_accuracy", "CategoricalAccuracy", "categorical_accuracy"),
    ("sparse_categorical_accuracy", "SparseCategoricalAccuracy", "sparse_categorical_accuracy"),
    ("SparseCategoricalAccuracy", "SparseCategoricalAccuracy", "sparse_categorical_accuracy"),
    ("top_k_categorical_accuracy", "TopKCategoricalAccuracy", "top_k_categorical_accuracy"),
    ("sparse_top_k_categorical_accuracy", "SparseTopKCategoricalAccuracy", "sparse_top_k_categorical_accuracy"),
    ("mse", "MeanSquaredError", "mean_squared_error"),
    ("MSE", "MeanSquaredError", "mean_squared_error"),
    ("mae", "MeanAbsoluteError", "mean_absolute_error"),
    ("mape", "MeanAbsolutePercentageError", "mean_absolute_percentage_error"),
    ("msle", "MeanSquaredLogarithmicError", "mean_squared_logarithmic_error"),
    ("MeanAbsoluteError", "MeanAbsoluteError", "mean_absolute_error"),
    ("root_mean_squared_error", "RootMeanSquaredError", "root_mean_squared_error"),
    ("mean", "Mean", "mean"),
    ("Sum", "Sum", "sum"),
    ("auc", "AUC", "auc"),
    ("precision", "Precision", "precision"),
    ("recall", "Recall", "recall"),
    ("true_positives", "TruePositives", "true_positives"),
    ("false_negatives", "FalseNegatives", "false_negatives"),
    ("f1_score", "F1Score", "f1_score"),
    ("r2_score", "R2Score", "r2_score"),
    ("kl_divergence", "KLDivergence", "kl_divergence"),
    ("poisson", "Poisson", "poisson"),
    ("log_cosh_error", "LogCoshError", "logcosh"),
    ("cosine_similarity", "CosineSimilarity", "cosine_similarity"),
    ("hinge", "Hinge", "hinge"),
    ("squared_hinge", "SquaredHinge", "squared_hinge"),
    ("categorical_hinge", "CategoricalHinge", "categorical_hinge"),
    ("binary_crossentropy", "BinaryCrossentropy", "binary_crossentropy"),
    ("bce", "BinaryCrossentropy", "binary_crossentropy"),
    ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
])
def test_get_by_name_like_keras(keras, identifier, cls_name, name):
    keras.backend.clear_session()
    metric = metrics.get(identifier)
    assert type(metric).__name__ == cls_name and metric.name == name
    if identifier != "acc":
        expected = keras.metrics.get(identifier)
        assert type(expected).__name__ == cls_name and expected.name == name


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
    with pytest.raises(ValueError, match="Did you mean"):
        metrics.deserialize({"class_name": "Precison", "config": {}})


def test_deserialize_reads_keras_serialized_configs_without_importing(keras):
    for ref in (keras.metrics.AUC(num_thresholds=7, curve="PR"), keras.metrics.Precision(top_k=2),
                keras.metrics.MeanIoU(num_classes=3), keras.metrics.F1Score(average="macro")):
        ours = metrics.deserialize(keras.metrics.serialize(ref))
        assert type(ours).__name__ == type(ref).__name__ and ours.get_config() == ref.get_config()
    with pytest.raises(ValueError, match="class_name"):
        metrics.deserialize({"config": {}})
    assert isinstance(metrics.deserialize("auc"), metrics.AUC)


def test_deserialize_custom_objects():
    class Twice(metrics.Mean):
        pass

    rebuilt = metrics.deserialize({"class_name": "Twice", "config": {"name": "t"}}, custom_objects={"Twice": Twice})
    assert type(rebuilt) is Twice and rebuilt.name == "t"
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.deserialize({"class_name": "Twice", "config": {}})
    with pytest.raises(ValueError, match="Metric"):
        metrics.serialize("auc")


@pytest.mark.parametrize("metric", [
    metrics.Mean(name="loss"), metrics.Sum(dtype="float64"),
    metrics.MeanMetricWrapper(metrics.binary_accuracy, name="b", threshold=0.2),
    metrics.MeanMetricWrapper(metrics.kl_divergence),
])
def test_config_round_trip(metric):
    check_config_round_trip(metrics, metric)


def test_snake_case_follows_keras():
    assert [snake_case(n) for n in ("AUC", "MeanIoU", "TruePositives", "F1Score", "R2Score", "KLDivergence")] == \
        ["auc", "mean_io_u", "true_positives", "f1_score", "r2_score", "kl_divergence"]


def test_every_public_metric_class_is_registered_and_named_like_keras(keras):
    public = [getattr(metrics, n) for n in metrics.__all__ if n != "Metric"]
    classes = [c for c in public if isinstance(c, type) and issubclass(c, metrics.Metric)]
    assert len(classes) == 45  # with PearsonCorrelation, ConcordanceCorrelation
    for cls in classes:
        assert metrics.METRICS.get(cls.__name__) is cls
        assert hasattr(keras.metrics, cls.__name__), cls.__name__


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_metrics_on_cuda_do_not_synchronise():
    device = torch.device("cuda")
    cases = [
        (metrics.SparseCategoricalAccuracy(), "sparse"), (metrics.TopKCategoricalAccuracy(k=2), "onehot"),
        (metrics.MeanSquaredError(), "regression"), (metrics.R2Score(), "regression"),
        (metrics.Precision(thresholds=[0.2, 0.7]), "binary"), (metrics.Recall(top_k=2), "multilabel"),
        (metrics.AUC(), "binary"), (metrics.AUC(multi_label=True, curve="PR"), "multilabel"),
        (metrics.AUC(thresholds=[0.1, 0.3, 0.8]), "binary"), (metrics.PrecisionAtRecall(0.5), "binary"),
        (metrics.F1Score(average="macro"), "onehot_probs"), (metrics.MeanIoU(4, sparse_y_pred=False), "onehot"),
        (metrics.CategoricalCrossentropy(from_logits=True), "onehot"), (metrics.Hinge(), "binary"),
    ]
    inputs = [tuple(torch.as_tensor(a, device=device) for a in data(kind)) for _, kind in cases]
    weight = torch.rand(N, device=device)
    for (metric, _), (y_true, y_pred) in zip(cases, inputs, strict=True):  # warm-up: thresholds reach the device
        if isinstance(metric, metrics.MeanIoU):
            y_true = y_true.argmax(-1)
        metric.update_state(y_true, y_pred)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for (metric, _), (y_true, y_pred) in zip(cases, inputs, strict=True):
            sw = weight.long() if isinstance(metric, metrics.MeanIoU) else weight
            metric.update_state(y_true, y_pred, sample_weight=sw)
            assert metric.result().device.type == "cuda"
    finally:
        torch.cuda.set_sync_debug_mode(0)


def test_accumulators_grow_to_a_wider_value_and_refuse_fractions_in_a_counter():
    class Grow(metrics.Metric):
        def __init__(self):
            super().__init__()
            self.add_state("total")
            self.add_state("hits", dtype="int64")

        def update_state(self, values, sample_weight=None):
            self.accumulate("total", torch.as_tensor(values))

        def result(self):
            return self.state_tensor("total")

    m = Grow()
    m.update_state(torch.tensor(1.0))
    m.update_state(torch.tensor([1.0, 2.0]))  # a scalar accumulator meets a vector: broadcast into a new one
    m.update_state(torch.tensor(0.5))  # a scalar added in place to every entry
    assert m.result().tolist() == [2.5, 3.5]
    m.accumulate("hits", torch.tensor(3))
    m.accumulate("hits", torch.tensor(4))
    assert int(m.state("hits")) == 7
    with pytest.raises(RuntimeError):
        m.accumulate("hits", torch.tensor(0.5))


def test_mean_sums_hits_and_other_precisions_in_its_own_dtype():
    m = metrics.Mean()
    m.update_state(torch.tensor([True, False, True, True]))
    m.update_state(torch.tensor([0.5, 0.25], dtype=torch.bfloat16))
    assert m.result().dtype == torch.float32
    assert float(m.result()) == pytest.approx((3 + 0.75) / 6)


def test_in_place_updates_equal_the_general_path():
    # the loss tracker's update (a batch mean weighted by the batch size) and an accuracy's hits take a short
    # path once the accumulator exists; each must give what the general path gives
    fast, general = metrics.Mean(), metrics.Mean()
    hits = torch.tensor([True, False, True, True, False])
    fast.update_state(torch.tensor(0.25), sample_weight=4)  # creates the accumulator (general path)
    fast.update_state(torch.tensor(1.5), sample_weight=3)  # in place
    fast.update_state(hits)  # in place: counted
    general.update_state(torch.tensor([0.25] * 4 + [1.5] * 3 + hits.float().tolist()))
    close(fast.result(), general.result())
    assert fast.state("count") == 12 and not isinstance(fast.state("count"), torch.Tensor)
    fast.update_state(torch.tensor(2.0, dtype=torch.float64), sample_weight=1)  # another dtype: still in place
    assert fast.state("total").dtype == torch.float32
    close(fast.result(), (0.25 * 4 + 1.5 * 3 + 3 + 2.0) / 13)


def test_reset_zeroes_shaped_accumulators_in_place_and_makes_others_lazy():
    m = metrics.Mean()
    m.update_state(torch.tensor([1.0, 2.0]))
    total = m.state("total")
    m.reset_state()
    assert m.state("total") is total and float(total) == 0.0 and m.state("count") == 0
    close(m.result(), 0.0)
    m.update_state(torch.tensor([4.0]))
    assert m.state("total") is total and float(m.result()) == 4.0
    shaped_by_data = metrics.Metric()  # an accumulator that takes its shape from the data: lazy again
    shaped_by_data.add_state("values", shape=None)
    shaped_by_data.accumulate("values", torch.ones(3))
    shaped_by_data.reset_state()
    assert shaped_by_data.state("values") == 0 and not isinstance(shaped_by_data.state("values"), torch.Tensor)
    shaped_by_data.accumulate("values", torch.ones(5))
    assert shaped_by_data.state("values").shape == (5,)


def test_reset_after_an_accumulator_grew_goes_back_to_its_declared_shape():
    m = metrics.Mean()
    m.accumulate("total", torch.ones(3))  # a value wider than the declared scalar: a new, wider accumulator
    m.reset_state()
    assert m.state("total") == 0 and not isinstance(m.state("total"), torch.Tensor)


def test_keras_style_metric_with_add_variable_runs_unchanged():
    class TruePositives(metrics.Metric):
        def __init__(self, name="tp", **kw):
            super().__init__(name=name, **kw)
            self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = torch.greater(torch.as_tensor(y_pred), 0.5).float()
            self.tp.assign_add(torch.sum(y_pred * torch.as_tensor(y_true).float()))

        def result(self):
            return self.tp

    m = TruePositives()
    m.update_state([1, 0, 1, 1], [0.9, 0.8, 0.2, 0.7])
    assert float(m.result()) == 2.0 and m.variables == [m.tp] and m.tp.path == "tp/tp"
    m.reset_state()
    assert float(m.result()) == 0.0
    assert m.add_variable((2,), "ones", dtype="int32").dtype is torch.int32


def test_compile_uses_a_keras_style_metric_and_backups_keep_its_state(tmp_path):
    import lamina

    class Count(metrics.Metric):
        def __init__(self, name="count", **kw):
            super().__init__(name=name, **kw)
            self.n = self.add_variable(shape=(), initializer="zeros", name="n")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.n.assign_add(float(torch.as_tensor(y_true).shape[0]))

        def result(self):
            return self.n

    model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=[Count()])
    history = model.fit(np.ones((10, 2), "float32"), np.ones((10, 1), "float32"), batch_size=5, epochs=2,
                        verbose=0, callbacks=[lamina.callbacks.BackupAndRestore(str(tmp_path))])
    assert history.history["count"] == [10.0, 10.0]
