"""lamina.ops NumPy reductions, scans and statistics against Keras 3 (torch backend): every dtype, axes (None,
int, negative, tuple, empty), keepdims, NaN handling, empty and 0-d inputs, gradients and meta tensors."""

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, check_grad, sample
from test_numpy_math_helpers import DTYPES, check_all, check_grad_f32, np_truth, raises_in_both, tol

from lamina import ops

pytestmark = pytest.mark.filterwarnings("ignore:Tensor.T is deprecated:UserWarning")  # in Keras's count_nonzero

REDUCE = ["all", "amax", "amin", "any", "argmax", "argmin", "max", "mean", "median", "min", "nanargmax",
          "nanargmin", "nanmax", "nanmean", "nanmedian", "nanmin", "nanprod", "nanstd", "nansum", "nanvar", "prod",
          "ptp", "std", "sum", "var"]
ONE_AXIS = {"argmax", "argmin", "nanargmax", "nanargmin"}
SCANS = ["cumsum", "cumprod", "nancumsum", "nancumprod"]

X = sample((2, 3, 4), "float32", seed=7)
XN = X.copy()
XN[0, 1, :] = np.nan  # an all-NaN slice along the last axis
XN[1, 0, 2] = np.nan
XN[1, 2, 0] = np.nan


def draw_reduce(dtype, seed=8):
    if dtype.startswith("uint"):
        return sample((2, 3, 4), dtype, 0, 4, seed=seed)
    return sample((2, 3, 4), dtype, -2, 3, seed=seed)


# ----------------------------------------------------------------------------------------- dtype matrix
@pytest.mark.parametrize("name", REDUCE + SCANS + ["count_nonzero"])
def test_reduce_dtypes(name, keras):
    """Every dtype: values, result dtype and shape as Keras's (or both refuse, e.g. ``ptp`` of bool)."""
    kwargs = {} if name in SCANS or name == "count_nonzero" else {"axis": -1}

    def one(dtype):
        x = draw_reduce(dtype)
        if not raises_in_both(name, (x,), kwargs, keras):
            check_case(Case(name, (x,), kwargs, **tol(dtype)), keras)
    check_all([(dtype, lambda d=dtype: one(d)) for dtype in DTYPES])


@pytest.mark.parametrize("name", REDUCE + SCANS + ["count_nonzero"])
def test_reduce_all_axes(name, keras):
    check_case(Case(name, (X,), **tol("float32")), keras)


# ------------------------------------------------------------------------------------------------- axes
AXES = [None, 0, -1, 1, (0, 2), [1, 2], (-1, 0), ()]


def _np_count_nonzero(x, axis=None):
    return np.asarray(np.count_nonzero(x, axis=tuple(axis) if isinstance(axis, list) else axis), "int32")


NO_KEEPDIMS_FOR_NONE = {"amax", "amin", "max", "min", "nanargmax", "nanargmin", "nanprod", "prod", "sum", "ptp"}


def _keepdims_from_keras(name):
    def keras_fn(kops, x, axis=None, keepdims=False):
        out = getattr(kops, name)(x, axis=axis, keepdims=False)
        return kops.reshape(out, (1,) * np.ndim(x))
    return keras_fn


def axis_cases():
    cases = []
    for name in REDUCE:
        for axis in AXES:
            if name in ONE_AXIS and axis not in (None, 0, -1, 1):
                continue
            for keepdims in (False, True):
                kwargs = {"axis": axis, "keepdims": keepdims}
                keras_fn, note = None, ""
                if axis is None and keepdims and name in NO_KEEPDIMS_FOR_NONE:
                    keras_fn = _keepdims_from_keras(name)
                    note = "Keras's torch backend drops keepdims for axis=None: its values, NumPy's shape"
                if name == "std" and axis == ():
                    keras_fn, note = np_truth(np.std), "Keras's torch std reduces every axis for axis=()"
                x = XN if name.startswith("nan") else X
                cases.append(Case(name, (x,), kwargs, keras_fn=keras_fn, note=note, rtol=1e-5, atol=1e-6))
    for axis in AXES:
        truth = np_truth(_np_count_nonzero) if axis not in (None, ()) else None
        cases.append(Case("count_nonzero", (np.round(X),), {"axis": axis}, keras_fn=truth,
                          note="Keras's torch count_nonzero transposes results of rank 2 and more, refuses lists"))
    for name in SCANS:
        for axis in (None, 0, -1, 1):
            cases.append(Case(name, (XN if name.startswith("nan") else X,), {"axis": axis}, rtol=1e-5))
    return cases


@pytest.mark.parametrize("case", axis_cases(), ids=str)
def test_reduce_axes(case, keras):
    check_case(case, keras)


# ------------------------------------------------------------------------------------------------ edges
EMPTY = np.zeros((0, 3), "float32")
EDGE_CASES = [
    Case("sum", (EMPTY,), {"axis": 0}), Case("sum", (EMPTY,)), Case("prod", (EMPTY,), {"axis": 0}),
    Case("mean", (EMPTY,), {"axis": 1}), Case("any", (EMPTY,)), Case("all", (EMPTY,), {"axis": 0}),
    Case("count_nonzero", (EMPTY,)), Case("cumsum", (EMPTY,)), Case("nansum", (EMPTY,), {"axis": 0}),
    Case("max", (EMPTY,), {"initial": -1.0}, keras_fn=np_truth(np.max)),
    Case("max", (EMPTY,), {"axis": 0, "initial": 2.0}, keras_fn=np_truth(np.max),
         note="Keras's torch max returns a 0-d `initial` whatever the axis"),
    Case("min", (EMPTY,), {"axis": 0, "keepdims": True, "initial": 5.0}, keras_fn=np_truth(np.min)),
    Case("max", (X,), {"axis": 1, "initial": 0.5}), Case("min", (X,), {"axis": (0, 2), "initial": -0.5}),
    Case("max", (sample((3,), "int8"),), {"initial": 1}),
    # 0-d inputs and Python values
    Case("sum", (np.float32(2.5),)), Case("mean", (3,)), Case("prod", (np.int8(4),)), Case("max", (2.5,)),
    Case("var", (np.float32(2.0),)), Case("std", (1.5,)), Case("argmax", (np.float32(2.0),)),
    Case("all", (1,)), Case("cumsum", (np.float32(2.0),)), Case("sum", ([[1, 2], [3, 4]],), {"axis": 0}),
    Case("mean", ([True, False, True],)), Case("median", (np.float32(3.0),)),
    Case("ptp", (np.array([3, 1, 7], "uint8"),)), Case("sum", (np.array([100, 100], "int8"),)),
    # dtype arguments and overflow behaviour
    Case("cumsum", (sample((2, 3), "int8"),), {"axis": 1, "dtype": "int32"}),
    Case("cumsum", (sample((2, 3)),), {"axis": 0, "dtype": "float64"}),
    Case("cumprod", (sample((2, 3), "int32"),), {"dtype": "float16"}, rtol=2e-3, atol=2e-3),
    Case("prod", (sample((2, 3)),), {"dtype": "float64"}), Case("prod", (sample((2, 3), "int8"),), {"dtype": "int8"}),
    Case("prod", (sample((2, 3, 2)),), {"axis": (0, 2), "keepdims": True}),
    # NaN handling
    Case("nanargmax", (np.full((2, 2), np.nan, "float32"),), {"axis": 0}),
    Case("nanmax", (np.array([np.nan, np.nan], "float32"),)), Case("nanmean", (np.array([np.nan], "float32"),)),
    Case("max", (np.array([1.0, np.nan, 3.0], "float32"),)), Case("argmax", (np.array([1.0, np.nan, 3.0]),)),
    Case("mean", (np.array([1.0, np.nan], "float32"),)), Case("median", (np.array([1.0, np.nan, 2.0], "float32"),)),
    Case("nancumsum", (np.array([1.0, np.nan, 2.0], "float32"),)),
    Case("nancumprod", (np.array([2.0, np.nan, 3.0], "float32"),)),
    Case("nanprod", (np.array([2.0, np.nan, 3.0], "float32"),), {"axis": ()}),
    Case("nansum", (np.array([2.0, np.nan], "float32"),), {"axis": ()}),
    Case("nanvar", (np.array([2.0, np.nan], "float32"),), {"axis": ()}),
    Case("nancumsum", (np.array([1.0, np.inf, np.nan], "float32"),), keras_fn=np_truth(np.nancumsum),
         note="infinities stay as in NumPy; Keras's torch nancumsum also turns them into the largest float"),
]


@pytest.mark.parametrize("case", EDGE_CASES, ids=str)
def test_reduce_edges(case, keras):
    check_case(case, keras)


def test_max_of_empty_without_initial_raises():
    with pytest.raises(ValueError):
        ops.max(EMPTY, axis=0)
    with pytest.raises(ValueError):
        ops.amin(EMPTY)


# -------------------------------------------------------------------------------------------- quantiles
QUANTILES = ["quantile", "nanquantile", "percentile", "nanpercentile"]


def quantile_cases():
    cases = []
    for name in QUANTILES:
        scale = 100.0 if "percentile" in name else 1.0
        x = XN if name.startswith("nan") else X
        for q in (0.3, [0.0, 0.25, 1.0], np.array([0.5, 0.9], "float32")):
            q = q if not isinstance(q, (float, list)) else (
                q * scale if isinstance(q, float) else [v * scale for v in q])
            q = q * scale if isinstance(q, np.ndarray) else q
            for axis, keepdims in ((None, False), (1, True), (-1, False), ((0, 2), True), ((0, 2), False)):
                cases.append(Case(name, (x, q), {"axis": axis, "keepdims": keepdims}, rtol=1e-5, atol=1e-6))
        for method in ("linear", "lower", "higher", "midpoint", "nearest"):
            cases.append(Case(name, (x, 0.4 * scale), {"axis": 1, "method": method}, rtol=1e-5, atol=1e-6))
            cases.append(Case(name, (sample((7,), seed=2), [0.1 * scale, 0.5 * scale]), {"method": method}))
    for dtype in DTYPES:
        x = draw_reduce(dtype, seed=9)
        for name in ("quantile", "median", "nanmedian", "percentile"):
            args = (x,) if "median" in name else (x, 50.0 if name == "percentile" else 0.5)
            cases.append(Case(name, args, {"axis": 1}, **tol(dtype)))
    for axis in (None, 0, (1, 2), ()):
        for keepdims in (False, True):
            cases.append(Case("median", (X,), {"axis": axis, "keepdims": keepdims}))
            if axis != ():
                cases.append(Case("nanmedian", (XN,), {"axis": axis, "keepdims": keepdims}))
    cases.append(Case("nanmedian", (XN,), {"axis": ()}))
    cases.append(Case("median", (np.arange(4, dtype="float32"),)))  # even count: the mean of the middle two
    cases.append(Case("quantile", (np.array([1.0, 2.0, 3.0, 4.0], "float32"), np.array([0.5, 0.25])),
                      {"method": "nearest"}))
    return cases


@pytest.mark.parametrize("case", quantile_cases(), ids=str)
def test_quantiles(case, keras):
    check_case(case, keras)


def test_quantile_checks_q():
    with pytest.raises(ValueError):
        ops.quantile(X, 1.5)
    with pytest.raises(ValueError):
        ops.percentile(X, [-1.0, 50.0])
    with pytest.raises(ValueError):
        ops.quantile(X, 0.5, method="cubic")


# ---------------------------------------------------------------------------------------------- others
W3 = np.array([1.0, 2.0, 0.5], "float32")
W4 = np.array([0.5, 1.0, 2.0, 1.5], "float32")
X2 = sample((3, 4), "float32", seed=11)


def _np_histogram(x, bins=10, range=None):  # noqa: A002
    hist, edges = np.histogram(x, bins=bins, range=range)
    return hist.astype(x.dtype), edges.astype(x.dtype)


OTHER_CASES = [
    # average
    Case("average", (X2,)), Case("average", (X2,), {"axis": 0}), Case("average", (X2,), {"axis": (0, 1)}),
    Case("average", (X2,), {"axis": -1, "weights": W4}), Case("average", (X2,), {"axis": 1, "weights": W4}),
    Case("average", (X2,), {"axis": 0, "weights": W3}, keras_fn=np_truth(np.average),
         note="Keras's torch average multiplies 1-D weights along the last axis whatever `axis` is"),
    Case("average", (X2,), {"weights": np.abs(X2)}, keras_fn=np_truth(np.average),
         note="Keras's torch average divides by the weights' sums over the last axis"),
    Case("average", (sample((4,), "int32"),), {"weights": sample((4,), "float16", 0.5, 2)}, rtol=2e-3, atol=2e-3),
    Case("average", (sample((4,), "int8"),)), Case("average", (sample((4,), "float64"),)),
    Case("average", (sample((4,), "bfloat16"),), rtol=2e-2, atol=2e-2), Case("average", (X2,), {"axis": ()}),
    # histogram
    Case("histogram", (sample((20,), seed=3),)), Case("histogram", (sample((20,), seed=3),), {"bins": 4}),
    Case("histogram", (sample((20,), seed=3),), {"bins": 5, "range": (-1.0, 1.0)}),
    Case("histogram", (sample((20,), "float64", seed=3),), {"bins": 3}),
    Case("histogram", (np.array([0.0, 1.0, 1.0, 2.0, 2.0, 2.0], "float32"),), {"bins": 2}),
    Case("histogram", (np.array([1.5, 1.5, 1.5], "float32"),), {"bins": 3}),
    Case("histogram", (sample((20,), "int32", -5, 5, seed=3),), {"bins": 4}, keras_fn=np_truth(
        lambda x, bins: (np.histogram(x, bins)[0].astype("float32"), np.histogram(x, bins)[1].astype("float32"))),
        note="Keras's torch histogram refuses integers; lamina bins them in floatx"),
    # bincount
    Case("bincount", (np.array([0, 1, 1, 3, 2, 1], "int32"),)),
    Case("bincount", (np.array([0, 1, 1, 3], "int32"),), {"minlength": 6}),
    Case("bincount", (np.array([0, 1, 1, 3], "int64"),), {"weights": np.array([0.5, 1.0, 2.0, 1.5], "float32")}),
    Case("bincount", (np.array([0, 1, 1, 3], "uint8"),), {"weights": np.array([1, 2, 3, 4], "int32")}),
    Case("bincount", (np.array([2, 1, 1], "int8"),), {"weights": np.array([0.5, 1.0, 2.0], "float16")}),
    Case("bincount", (np.array([[0, 1, 2], [2, 2, 1]], "int32"),)),
    Case("bincount", (np.array([[0, 1, 2], [2, 2, 1]], "int32"),), {"weights": np.ones((2, 3), "float32"),
                                                                    "minlength": 4}),
    Case("bincount", (np.zeros((0,), "int32"),), {"minlength": 2}),
    # correlate
    Case("correlate", (sample((5,)), sample((3,)))), Case("correlate", (sample((5,)), sample((3,))), {"mode": "same"}),
    Case("correlate", (sample((5,)), sample((3,))), {"mode": "full"}),
    Case("correlate", (sample((6,)), sample((4,))), {"mode": "same"}),
    Case("correlate", (sample((3,)), sample((5,))), {"mode": "full"}),
    Case("correlate", (sample((3,)), sample((5,))), {"mode": "valid"}),
    Case("correlate", (sample((3,)), sample((5,))), {"mode": "same"}, keras_fn=np_truth(np.correlate),
         note="NumPy's 'same' has length max(len); Keras's torch correlate keeps len(x1)"),
    Case("correlate", (sample((4,), "int32"), sample((2,), "int8"))),
    Case("correlate", (sample((4,), "float16"), sample((2,), "float16")), {"mode": "full"}, rtol=2e-3, atol=2e-3),
    Case("correlate", (sample((4,), "bfloat16"), sample((3,), "bfloat16")), rtol=2e-2, atol=2e-2),
    Case("correlate", (sample((4,), "float64"), sample((3,), "float32")), {"mode": "full"}),
    # corrcoef
    Case("corrcoef", (X2,)), Case("corrcoef", (sample((5,)),)), Case("corrcoef", (sample((2, 5), "float64"),)),
    Case("corrcoef", (sample((3, 5), "int32", -5, 5),)), Case("corrcoef", (sample((3, 5), "int64", -5, 5),)),
    Case("corrcoef", (sample((2, 5), "float16"),), rtol=5e-3, atol=5e-3),
    Case("corrcoef", (sample((2, 5), "bool"),)),
    # trapezoid
    Case("trapezoid", (X2,)), Case("trapezoid", (X2,), {"axis": 0}), Case("trapezoid", (X2,), {"dx": 0.5}),
    Case("trapezoid", (X2,), {"x": np.array([0.0, 0.5, 1.5, 3.0], "float32")}),
    Case("trapezoid", (X2,), {"x": np.array([0.0, 0.5, 1.5], "float32"), "axis": 0}),
    Case("trapezoid", (sample((4,), "int32"),)), Case("trapezoid", (sample((4,), "int64"),)),
    Case("trapezoid", (sample((4,), "bool"),)), Case("trapezoid", (sample((4,), "float64"),)),
    Case("trapezoid", (sample((4,), "float16"),), rtol=2e-3, atol=2e-3),
    Case("trapezoid", (sample((4,), "bfloat16"),), rtol=2e-2, atol=2e-2),
    # slogdet
    Case("slogdet", (sample((3, 3), seed=12),)), Case("slogdet", (sample((2, 3, 3), "float64", seed=13),)),
    Case("slogdet", (np.array([[2.0, 1.0], [4.0, 2.0]], "float32"),)),
    Case("slogdet", (np.array([[0.0, 1.0], [1.0, 0.0]], "float32"),)),
    # isclose / allclose
    Case("isclose", (X2, X2 + 1e-6)), Case("isclose", (X2, X2 + 1e-3)),
    Case("isclose", (X2, X2 + 1e-3), {"rtol": 1e-2, "atol": 1e-3}),
    Case("isclose", (np.array([np.nan, 1.0], "float32"), np.array([np.nan, 1.0], "float32"))),
    Case("isclose", (np.array([np.nan, 1.0], "float32"), np.array([np.nan, 1.0], "float32")), {"equal_nan": True}),
    Case("isclose", (np.array([1, 2, 3], "int32"), np.array([1, 3, 3], "int32"))),
    Case("isclose", (sample((3,), "float16"), 0.5)), Case("isclose", (np.array([1.0, 2.0], "float32"), 1)),
    Case("allclose", (X2, X2 + 1e-6)), Case("allclose", (X2, X2 + 1e-3)),
    Case("allclose", (np.array([1, 2], "int32"), np.array([1, 2], "int64"))),
    Case("allclose", (np.array([np.nan], "float32"), np.array([np.nan], "float32")), {"equal_nan": True}),
]


@pytest.mark.parametrize("case", OTHER_CASES, ids=str)
def test_statistics(case, keras):
    check_case(case, keras)


def test_argument_checks():
    with pytest.raises(ValueError):
        ops.bincount(np.array([0, 1]), sparse=True)
    with pytest.raises(TypeError):
        ops.histogram(X2[0], bins=2.5)
    with pytest.raises(ValueError):
        ops.histogram(X2)
    with pytest.raises(ValueError):
        ops.correlate(X2, X2[0])
    with pytest.raises(ValueError):
        ops.average(X2, weights=W3)


# -------------------------------------------------------------------------------------------- gradients
# Float64 in, float64 out: torch's own gradcheck. The rest compute float64 input in float32 (Keras's dtype).
G = sample((3, 4), "float64", seed=14)
GRAD_CASES = [
    Case("sum", (G,), {"axis": 1}), Case("mean", (G,), {"axis": (0, 1)}), Case("std", (G,), {"axis": 0}),
    Case("max", (G,), {"axis": 1}), Case("min", (G,)), Case("amax", (G,), {"axis": 0, "keepdims": True}),
    Case("amin", (G,), {"axis": -1}), Case("nanmax", (G,), {"axis": 1}), Case("nanmin", (G,)),
    Case("nansum", (G,), {"axis": 0}), Case("ptp", (G,), {"axis": 1}), Case("max", (G,), {"initial": 0.0}),
]
GRAD_F32_CASES = [
    Case("prod", (G,), {"axis": 1}), Case("nanprod", (G,)), Case("var", (G,), {"axis": (0, 1)}),
    Case("nanmean", (G,), {"axis": 1}), Case("nanvar", (G,), {"axis": 0}), Case("nanstd", (G,)),
    Case("cumsum", (G,), {"axis": 1}), Case("cumprod", (G,), {"axis": 0}), Case("nancumsum", (G,)),
    Case("nancumprod", (G,), {"axis": 1}), Case("median", (G,), {"axis": 1}), Case("nanmedian", (G,)),
    Case("quantile", (G, [0.2, 0.7]), {"axis": 0}), Case("nanquantile", (G, 0.3)),
    Case("percentile", (G, 40.0), {"axis": 1, "method": "midpoint"}), Case("nanpercentile", (G, [10.0, 90.0])),
    Case("average", (G,), {"axis": 1}), Case("corrcoef", (G,)), Case("trapezoid", (G,)),
    Case("slogdet", (sample((3, 3), "float64", seed=15),)),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=str)
def test_grad(case):
    check_grad(case)


@pytest.mark.parametrize("case", GRAD_F32_CASES, ids=str)
def test_grad_float32(case):
    check_grad_f32(case)


def test_grad_two_operands():
    check_grad_f32(Case("correlate", (sample((5,), "float64"), sample((3,), "float64"))), argnums=(0, 1))
    check_grad_f32(Case("average", (G, None, sample((3, 4), "float64", 0.5, 2.0))), argnums=(0, 2))
    check_grad_f32(Case("trapezoid", (G, np.array([0.0, 0.5, 1.5, 3.0]))), argnums=(0, 1))
    weights = sample((4,), "float64", 0.5, 2.0)
    check_grad_f32(Case("bincount", (np.array([0, 2, 2, 1]), weights)), argnums=(1,))


# ------------------------------------------------------------------------------------------- meta tensors
META = [("sum", {"axis": 1}), ("prod", {"axis": (0, 1), "keepdims": True}), ("mean", {}), ("var", {"axis": 0}),
        ("std", {"axis": -1}), ("max", {"axis": 1}), ("min", {"initial": 0.0}), ("amax", {}), ("amin", {"axis": 0}),
        ("argmax", {"axis": 1}), ("argmin", {}), ("all", {"axis": 0}), ("any", {}), ("count_nonzero", {"axis": 1}),
        ("ptp", {"axis": 0}), ("cumsum", {"axis": 1}), ("cumprod", {}), ("nancumsum", {}), ("nancumprod", {}),
        ("nanargmax", {"axis": 0}), ("nanargmin", {}), ("nanmax", {"axis": 1}), ("nanmin", {}), ("nanmean", {}),
        ("nanprod", {}), ("nanstd", {"axis": 1}), ("nansum", {}), ("nanvar", {"axis": 0}), ("median", {"axis": 1}),
        ("nanmedian", {}), ("average", {"axis": 0}), ("corrcoef", {}), ("trapezoid", {}), ("slogdet", {}),
        ("histogram", {"bins": 3})]
META_Q = [("quantile", 0.5), ("nanquantile", [0.1, 0.9]), ("percentile", 30.0), ("nanpercentile", [5.0])]


@pytest.mark.parametrize(("name", "kwargs"), META + [(n, {"q": q, "axis": 0}) for n, q in META_Q],
                         ids=[n for n, _ in META + META_Q])
def test_runs_on_meta(name, kwargs):
    """Functional models infer shapes on meta tensors: these ops run there with the eager shape and dtype."""
    x = torch.rand(3, 3) if name != "histogram" else torch.rand(5)
    eager = getattr(ops, name)(x, **kwargs)
    meta = getattr(ops, name)(x.to("meta"), **kwargs)
    eager, meta = (eager, meta) if isinstance(eager, tuple) else ((eager,), (meta,))
    for e, m in zip(eager, meta, strict=True):
        assert m.device.type == "meta" and m.shape == e.shape and m.dtype == e.dtype
    for name2 in ("isclose", "allclose", "correlate"):
        a, b = torch.rand(4), torch.rand(2 if name2 == "correlate" else 4)
        e, m = getattr(ops, name2)(a, b), getattr(ops, name2)(a.to("meta"), b.to("meta"))
        assert m.device.type == "meta" and m.shape == e.shape and m.dtype == e.dtype
