"""lamina.ops element-wise NumPy math against Keras 3 (torch backend): unary functions, arithmetic,
comparisons, logical and bitwise ops, over every dtype (values, result dtype, shape), plus gradients."""

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, check_grad, sample
from test_numpy_math_helpers import DTYPES, FLOATS, check_all, check_grad_f32, draw, np_truth, raises_in_both, tol

from lamina import ops

UNARY = {
    "abs": "any", "absolute": "any", "arccos": "unit", "arccosh": "ge1", "arcsin": "unit", "arcsinh": "any",
    "arctan": "any", "arctanh": "unit", "bitwise_invert": "any", "bitwise_not": "any", "cbrt": "any",
    "ceil": "any", "cos": "any", "cosh": "any", "deg2rad": "any", "exp": "any", "exp2": "any", "expm1": "any",
    "fabs": "any", "floor": "any", "i0": "any", "isfinite": "any", "isinf": "any", "isnan": "any",
    "isneginf": "any", "isposinf": "any", "isreal": "any", "log": "pos", "log10": "pos", "log1p": "pos",
    "log2": "pos", "logical_not": "any", "nan_to_num": "any", "negative": "any", "rad2deg": "any",
    "reciprocal": "pos", "round": "any", "sign": "any", "signbit": "any", "sin": "any", "sinc": "any",
    "sinh": "any", "sqrt": "pos", "square": "any", "tan": "unit", "tanh": "any", "trunc": "any",
}
DIFFERENTIABLE_UNARY = sorted(set(UNARY) - {"bitwise_invert", "bitwise_not", "isfinite", "isinf", "isnan",
                                            "isneginf", "isposinf", "isreal", "logical_not", "signbit"})


# ------------------------------------------------------------------------------------------------ unary
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_dtypes(name, keras):
    """Every dtype: values, result dtype and shape as Keras's (or both refuse, e.g. ``negative`` of bool)."""
    def one(dtype):
        x = draw((2, 3), dtype, UNARY[name])
        if not raises_in_both(name, (x,), {}, keras):
            check_case(Case(name, (x,), **tol(dtype)), keras)
    check_all([(dtype, lambda d=dtype: one(d)) for dtype in DTYPES])


EDGE = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -2.5, 0.5], "float32")
UNARY_EDGE = [
    Case("isnan", (EDGE,)), Case("isinf", (EDGE,)), Case("isfinite", (EDGE,)), Case("isneginf", (EDGE,)),
    Case("isposinf", (EDGE,)), Case("signbit", (EDGE,)), Case("sign", (EDGE,)), Case("round", (EDGE,)),
    Case("nan_to_num", (EDGE,)), Case("nan_to_num", (EDGE,), {"nan": 7.0, "posinf": 9.0, "neginf": -9.0}),
    Case("nan_to_num", (EDGE.astype("float16"),), {"nan": 1.0}), Case("trunc", (EDGE,)), Case("abs", (EDGE,)),
    Case("sinc", (np.array([0.0, 0.5, -1.0, 2.25], "float32"),)),
    Case("round", (np.array([0.5, 1.5, 2.5, -0.5, 1.25, 2.675], "float32"),)),
    Case("round", (np.array([1.234, -5.678, 12.5], "float32"),), {"decimals": 2}),
    Case("round", (np.array([15, 25, -35, 44], "int32"),), {"decimals": -1}),
    Case("round", (np.array([15, 25, 44], "int8"),), {"decimals": 1}),
    Case("round", (np.array([1234.5, -5678.0], "float64"),), {"decimals": -2}),
    Case("sqrt", (np.array([-1.0, 0.0, 4.0], "float32"),)),
    Case("log", (np.array([-1.0, 0.0, 1.0], "float32"),)),
    Case("cbrt", (np.array([-27.0, -1.0, 0.0, 8.0], "float32"),)),
    # scalars, 0-d and empty inputs
    Case("exp", (1,)), Case("exp", (0.5,)), Case("sin", (np.float32(0.3),)), Case("abs", (-3,)),
    Case("square", ([1, -2, 3],)), Case("negative", ([[1.5, -2.0]],)), Case("sqrt", (np.zeros((0, 3), "float32"),)),
    Case("sign", (np.zeros((2, 0), "int32"),)), Case("isnan", (np.zeros((0,), "float64"),)),
    Case("floor", (np.float64(2.5),)), Case("logical_not", (0,)), Case("bitwise_invert", (np.int8(5),)),
]


@pytest.mark.parametrize("case", UNARY_EDGE, ids=str)
def test_unary_edges(case, keras):
    check_case(case, keras)


GRAD_UNARY = [Case(name, (draw((3, 2), "float64", UNARY[name], seed=1),)) for name in DIFFERENTIABLE_UNARY]


@pytest.mark.parametrize("case", GRAD_UNARY, ids=str)
def test_unary_grad(case):
    check_grad(case)


# ----------------------------------------------------------------------------------------------- binary
# x2's domain per op (x1 is drawn from "any" unless listed in X1_DOMAIN).
BINARY = {
    "add": "any", "subtract": "any", "multiply": "any", "divide": "pos", "true_divide": "pos",
    "divide_no_nan": "any", "floor_divide": "pos", "mod": "pos", "fmod": "pos", "power": "small",
    "maximum": "any", "minimum": "any", "fmax": "any", "fmin": "any", "arctan2": "any", "logaddexp": "any",
    "logaddexp2": "any", "hypot": "any", "heaviside": "any", "nextafter": "any", "equal": "any",
    "not_equal": "any", "greater": "any", "greater_equal": "any", "less": "any", "less_equal": "any",
    "logical_and": "any", "logical_or": "any", "logical_xor": "any", "bitwise_and": "any", "bitwise_or": "any",
    "bitwise_xor": "any", "bitwise_left_shift": "shift", "left_shift": "shift", "bitwise_right_shift": "shift",
    "right_shift": "shift", "gcd": "any", "lcm": "any", "ldexp": "shift",
}
X1_DOMAIN = {"power": "pos"}

PAIRS = [
    ("float32", "float32"), ("float16", "float16"), ("bfloat16", "bfloat16"), ("float16", "bfloat16"),
    ("float64", "float64"), ("int8", "int8"), ("uint8", "int8"), ("int16", "int32"), ("int32", "int64"),
    ("int64", "int64"), ("uint8", "uint8"), ("int32", "float32"), ("int8", "float16"), ("int64", "float32"),
    ("bool", "bool"), ("bool", "float16"), ("bool", "int32"), ("float64", "float32"),
]
SCALARS = [("float32", 2), ("float32", 1.5), ("int8", 2), ("int8", 1.5), ("float16", 2.0), ("float16", 2),
           ("bfloat16", 1.5), ("bool", 1), ("int64", 1.5), ("float64", 2.0), (2, "int8"), (1.5, "float16"),
           (2, 3), (True, "int32"), ("int32", "0d")]


def operand(spec, shape, op_name, which, seed):
    if not isinstance(spec, str):
        return spec
    if spec == "0d":
        return np.array(2, "int32")
    domain = BINARY[op_name] if which == 2 else X1_DOMAIN.get(op_name, "any")
    if domain == "small":
        return sample(shape, spec, 0.0, 3.0, seed=seed) if spec != "bool" else sample(shape, spec, seed=seed)
    if domain == "shift":
        return sample(shape, spec, 0.0, 3.0, seed=seed)
    if op_name == "heaviside" and which == 1 and spec in FLOATS:  # exact zeros exercise the x2 branch
        values = np.round(np.asarray(sample(shape, "float32", -1.5, 1.5, seed=seed)))
        return torch.tensor(values).to(torch.bfloat16) if spec == "bfloat16" else values.astype(spec)
    return draw(shape, spec, domain, seed=seed)


def np_nextafter(kops, a, b):
    """NumPy truth for nextafter: Keras's torch backend steps in float64 and rounds back (giving ``a``)."""
    dtype = str(kops.nextafter(a, b).dtype).replace("torch.", "")
    to_np = lambda v: np.asarray(v.float() if isinstance(v, torch.Tensor) else v)  # noqa: E731
    return torch.from_numpy(np.asarray(np.nextafter(to_np(a).astype(dtype), to_np(b).astype(dtype))))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_dtypes(name, keras):
    """Dtype pairs and Python scalars, broadcasting (2, 3) with (3,): as Keras (or both refuse)."""
    def one(a, b):
        x1 = operand(a, (2, 3), name, 1, seed=3)
        x2 = operand(b, (3,), name, 2, seed=4)
        if name == "nextafter" and "bfloat16" in (a, b):  # NumPy, the truth for nextafter, has no bfloat16
            return
        if (name, a, b) == ("hypot", "bool", "bool"):  # Keras's torch backend refuses; lamina computes in floatx
            assert ops.hypot(x1, x2).dtype == torch.float32
            return
        if raises_in_both(name, (x1, x2), {}, keras):
            return
        keras_fn = np_nextafter if name == "nextafter" else None
        names = [s for s in (a, b) if isinstance(s, str)]
        check_case(Case(name, (x1, x2), keras_fn=keras_fn, **tol(*names)), keras)
    check_all([(f"{a}, {b}", lambda a=a, b=b: one(a, b)) for a, b in PAIRS + SCALARS])


I8 = np.array([-128, -7, -1, 0, 1, 7, 127], "int8")
BINARY_EDGE = [
    Case("divide", (np.array([1.0, -1.0, 0.0], "float32"), 0.0)),
    Case("divide_no_nan", (np.array([1.0, -1.0, 0.0, 3.0], "float32"), np.array([0.0, 0.0, 0.0, 2.0], "float32"))),
    Case("divide_no_nan", (np.array([1, 2, 3], "int32"), np.array([0, 2, 0], "int32"))),
    Case("divide_no_nan", ([1, 2, 3], [0, 2, 0]), keras_fn=np_truth(lambda a, b: np.array([0.0, 1.0, 0.0], "float32")),
         note="Keras's divide_no_nan asks result_type about the list type itself and fails"),
    Case("floor_divide", (np.array([7.0, -7.0, 7.5, -7.5, 1.0, 0.0], "float32"), np.array([2.0, 2.0, -2.0, -2.0,
                                                                                           0.1, 3.0], "float32"))),
    Case("floor_divide", (I8, np.int8(3))), Case("floor_divide", (I8, -2)),
    Case("mod", (I8, 3)), Case("mod", (I8, -3)), Case("fmod", (I8, 3)), Case("fmod", (I8, -3)),
    Case("mod", (np.array([-7.5, 7.5, -0.5], "float32"), np.array([2.0, -2.0, 3.0], "float32"))),
    Case("fmod", (np.array([-7.5, 7.5, -0.5], "float32"), np.array([2.0, -2.0, 3.0], "float32"))),
    Case("maximum", (np.array([np.nan, 1.0, 2.0], "float32"), np.array([0.0, np.nan, 1.0], "float32"))),
    Case("fmax", (np.array([np.nan, 1.0, np.nan], "float32"), np.array([0.0, np.nan, np.nan], "float32"))),
    Case("fmin", (np.array([np.nan, 1.0, np.nan], "float32"), np.array([0.0, np.nan, np.nan], "float32"))),
    Case("heaviside", (np.array([-1.5, 0.0, 2.0], "float32"), 0.5)),
    Case("heaviside", (np.array([-1.5, 0.0, 2.0, np.nan], "float32"), np.float32(0.5)),
         keras_fn=np_truth(np.heaviside), note="NaN gives NaN as in NumPy; Keras's torch backend gives 0"),
    Case("power", (np.array([2, 3, -2], "int32"), np.array([3, 0, 2], "int32"))),
    Case("power", (np.array([0.0, 4.0, -8.0], "float32"), 0.5)),
    Case("ldexp", (np.array([1.0, -0.75, 3.0], "float32"), np.array([0, 3, -2], "int32"))),
    Case("ldexp", (np.array([1.0, -0.75, 3.0], "float16"), 4)),
    Case("gcd", (np.array([12, -18, 0, 7], "int32"), np.array([8, 12, 0, -21], "int32"))),
    Case("lcm", (np.array([4, -6, 0, 7], "int32"), np.array([6, 4, 5, 3], "int32"))),
    Case("gcd", (np.array([12, 9], "int8"), 6)),
    Case("bitwise_right_shift", (I8, 2)), Case("bitwise_left_shift", (I8, 1)),
    Case("bitwise_and", (I8, np.int8(6))), Case("bitwise_xor", (I8, 5)), Case("bitwise_or", (I8, -2)),
    Case("hypot", (np.array([3.0, 1e30], "float32"), np.array([4.0, 1e30], "float32")), rtol=1e-6),
    Case("logaddexp", (np.array([1000.0, -1000.0], "float32"), np.array([1000.0, -1000.0], "float32"))),
    Case("arctan2", (np.array([0.0, -0.0, 1.0, -1.0], "float32"), np.array([-1.0, -1.0, 0.0, 0.0], "float32"))),
    Case("equal", (np.array([1.0, np.nan], "float32"), np.array([1.0, np.nan], "float32"))),
    Case("not_equal", (np.array([1.0, np.nan], "float32"), np.nan)),
    Case("greater", (np.array([1, 5], "uint8"), -1)), Case("less", ([[1, 2], [3, 4]], [2, 2])),
    Case("logical_and", (np.array([0.0, 0.5, -1.0, np.nan], "float32"), 1)),
    Case("add", (np.zeros((0, 3), "float32"), np.ones((3,), "float32"))),
    Case("multiply", (np.zeros((2, 0), "int32"), 3)),
    Case("add", (np.float32(1.5), np.float32(2.0))), Case("subtract", (1, 2.5)),
    Case("add", ([1, 2], [[0.5], [1.5]])), Case("multiply", (np.ones((4, 1, 3), "float32"), np.ones((2, 1)))),
    Case("subtract", (sample((2,), "bool"), sample((2,), "int8"))),
    Case("add", (np.array([100, 120], "int8"), np.array([100, 10], "int8"))),
]


@pytest.mark.parametrize("case", BINARY_EDGE, ids=str)
def test_binary_edges(case, keras):
    check_case(case, keras)


# Float64 in, float64 out: torch's own gradcheck. The rest compute float64 input in float32 (Keras's dtype).
GRAD_BINARY = ["add", "subtract", "multiply", "divide", "true_divide", "power", "mod", "fmod"]
GRAD_BINARY_F32 = ["divide_no_nan", "maximum", "minimum", "fmax", "fmin", "arctan2", "logaddexp", "logaddexp2",
                   "hypot", "floor_divide"]


@pytest.mark.parametrize("name", GRAD_BINARY + GRAD_BINARY_F32)
def test_binary_grad(name):
    x1 = operand("float64", (2, 3), name, 1, seed=5)
    x2 = operand("float64", (3,), name, 2, seed=6)
    if name in GRAD_BINARY:
        check_grad(Case(name, (x1, x2)), argnums=(0, 1))
    else:
        check_grad_f32(Case(name, (x1, x2)), argnums=(0, 1))


def test_heaviside_grad_flows_to_x2_where_x1_is_zero():
    x1 = torch.tensor([-1.0, 0.0, 2.0, 0.0])
    x2 = torch.tensor([0.3, 0.4, 0.5, 0.6], requires_grad=True)
    ops.heaviside(x1, x2).sum().backward()
    assert x2.grad.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_ldexp_grad():
    check_grad_f32(Case("ldexp", (sample((2, 3), "float64"), np.array([1, -2, 0], "int32"))))


def test_divide_no_nan_grad_is_finite_at_zero():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.tensor([0.0, 4.0], requires_grad=True)
    ops.divide_no_nan(x, y).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    assert x.grad.tolist() == [0.0, 0.25]


# ------------------------------------------------------------------------------------------------- clip
CLIP_CASES = [
    Case("clip", (sample((2, 3)), -0.5, 0.5), grad=True),
    Case("clip", (sample((2, 3), "float16"), -0.5, 0.5), rtol=1e-3, atol=1e-3),
    Case("clip", (sample((2, 3), "bfloat16"), -0.5, 0.5), rtol=1e-2, atol=1e-2),
    Case("clip", (sample((2, 3), "float64"), -1, 1)),
    Case("clip", (sample((2, 3), "int8", -5, 5), -2, 3)),
    Case("clip", (sample((2, 3), "int32", -5, 5), -2, 3)),
    Case("clip", (sample((2, 3), "int32", -5, 5), -1.5, 2.5)),
    Case("clip", (sample((2, 3), "uint8", 0, 9), 2, 5)),
    Case("clip", (sample((2, 3), "bool"), 0, 1)),
    Case("clip", (sample((2, 3)), np.array([-1.0, 0.0, -0.5], "float32"), np.array([0.0, 1.0, 0.5], "float32"))),
    Case("clip", (np.float32(3.0), 0.0, 1.0)), Case("clip", (np.zeros((0,), "float32"), 0.0, 1.0)),
]


@pytest.mark.parametrize("case", CLIP_CASES, ids=str)
def test_clip(case, keras):
    check_case(case, keras)


def test_clip_grad_on_bounds():
    check_grad(Case("clip", (sample((2, 3), "float64"), np.full((3,), -0.5), np.full((3,), 0.5))), argnums=(0, 1, 2))


# ------------------------------------------------------------------------------------------- meta tensors
META_UNARY = sorted(set(UNARY) - {"bitwise_invert", "bitwise_not"})


@pytest.mark.parametrize("name", META_UNARY + sorted(BINARY))
def test_runs_on_meta(name):
    """Functional models infer shapes on meta tensors: every op runs there, with the eager shape and dtype."""
    bitwise = name.startswith(("bitwise", "left", "right", "gcd", "lcm")) or name == "ldexp"
    dtype = torch.int32 if bitwise and name != "ldexp" else torch.float32
    x = torch.ones(2, 3, dtype=dtype)
    args = (x,) if name in UNARY else (x, torch.ones(3, dtype=torch.int32 if bitwise else dtype))
    eager = getattr(ops, name)(*args)
    meta = getattr(ops, name)(*(a.to("meta") for a in args))
    assert meta.device.type == "meta"
    assert meta.shape == eager.shape and meta.dtype == eager.dtype


# ------------------------------------------------------------------------------------------- signatures
MINE = sorted(__import__("lamina.ops._numpy_math", fromlist=["__all__"]).__all__)


def test_signatures_match_keras(keras):
    """Every op of this part: same parameter names, kinds and defaults as ``keras.ops``, reachable as
    ``lamina.ops.<name>`` and ``lamina.ops.numpy.<name>``, registered under its own name."""
    import inspect

    from lamina.ops import numpy as lnp
    from lamina.ops.dispatch import get_op

    assert len(MINE) == 130
    bad = []
    for name in MINE:
        ours, theirs = inspect.signature(getattr(ops, name)), inspect.signature(getattr(keras.ops, name))
        shape = lambda sig: [(p.name, p.kind, p.default) for p in sig.parameters.values()]  # noqa: E731
        if shape(ours) != shape(theirs):
            bad.append(f"{name}{ours} != {theirs}")
        assert getattr(lnp, name) is getattr(ops, name) and get_op(name) is getattr(ops, name)
        assert getattr(ops, name).__doc__, name
    assert not bad, "\n".join(bad)


def test_symbolic_inputs_build_a_functional_model():
    """On symbolic tensors the ops record graph nodes (shapes from meta tensors) and the model runs them."""
    import lamina

    x = lamina.Input((3, 4))
    y = ops.add(ops.sqrt(ops.abs(x)), ops.mean(x, axis=-1, keepdims=True))
    z = ops.quantile(ops.clip(y, -1.0, 1.0), 0.5, axis=1)
    assert tuple(y.shape) == (None, 3, 4) and tuple(z.shape) == (None, 4)
    model = lamina.Model(x, [z, ops.argmax(y, axis=-1), ops.cumsum(y, axis=1)])
    data = sample((2, 3, 4), seed=21)
    out = model(torch.as_tensor(data))
    expect = np.quantile(np.clip(np.sqrt(np.abs(data)) + data.mean(-1, keepdims=True), -1, 1), 0.5, axis=1)
    np.testing.assert_allclose(out[0].detach().numpy(), expect, rtol=1e-5, atol=1e-6)
    assert out[1].dtype == torch.int32 and tuple(out[2].shape) == (2, 3, 4)
