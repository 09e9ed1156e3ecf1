"""lamina.ops core ops against Keras 3 (torch backend): conversion, casts, scatter/slice, control flow."""

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, check_grad, compare, sample

from lamina import ops


def _np_saturate(dtype):
    """NumPy truth for saturate_cast: clip in float64 to the target's range (rounded into the input dtype
    without passing it), then cast."""
    def fn(_, x, dtype=dtype):
        arr = np.asarray(x)
        info = np.iinfo(dtype) if np.issubdtype(np.dtype(dtype), np.integer) else np.finfo(dtype)
        lo, hi = float(info.min), float(info.max)
        if arr.dtype.kind == "f":
            hi_in = np.asarray(hi, arr.dtype)
            if float(hi_in) > hi:
                hi_in = np.nextafter(hi_in, np.asarray(-np.inf, arr.dtype))
            lo_in = np.asarray(lo, arr.dtype)
            if float(lo_in) < lo:
                lo_in = np.nextafter(lo_in, np.asarray(np.inf, arr.dtype))
            return np.clip(arr, lo_in, hi_in).astype(dtype)
        return np.clip(arr.astype(np.float64), lo, hi).astype(dtype)
    return fn


BIG = np.array([-1e10, -3.5, 0.0, 2.7, 300.0, 3e9], "float32")
M34 = np.arange(12, dtype="float32").reshape(3, 4)

CASES = [
    # convert_to_tensor
    Case("convert_to_tensor", ([1, 2, 3],)),
    Case("convert_to_tensor", ([[1.5, 2.0]],)),
    Case("convert_to_tensor", ([True, False],)),
    Case("convert_to_tensor", (np.arange(6, dtype="float64").reshape(2, 3),)),
    Case("convert_to_tensor", (np.zeros((0, 3), "int8"),)),
    Case("convert_to_tensor", (3.5,)),
    Case("convert_to_tensor", (3,), {"dtype": "int8"}),
    Case("convert_to_tensor", (sample((2, 3)),), {"dtype": "float16"}),
    Case("convert_to_tensor", (sample((2,), "bfloat16"),)),
    # cast
    Case("cast", (sample((2, 3)), "int32")),
    Case("cast", (sample((2, 3)), "float64"), grad=True),
    Case("cast", (sample((4,), "int8"), "float16")),
    Case("cast", (sample((4,), "bool"), "float32")),
    Case("cast", (sample((4,)), "bool")),
    Case("cast", ([1.7, -2.5], "bfloat16")),
    Case("cast", (np.float32(2.5), np.dtype("float64"))),
    Case("cast", (sample((2,), "uint8"), torch.int16)),
    Case("cast", (sample((2,)), int)),
    Case("cast", (np.zeros((0,), "float32"), "int64")),
    # saturate_cast
    Case("saturate_cast", (BIG, "uint8")),
    Case("saturate_cast", (BIG, "int8")),
    Case("saturate_cast", (BIG, "float16")),
    Case("saturate_cast", (sample((3, 2), "float64"), "float32")),
    Case("saturate_cast", (np.array([-1.5, 0.5, 2.7]), "bool")),
    Case("saturate_cast", (BIG, "int32"), keras_fn=_np_saturate("int32"),
         note="Keras clips float32 to 2**31 (int32's max rounded) and so wraps 3e9 to -2**31"),
    Case("saturate_cast", (np.array([-300, 5, 3_000_000_000], "int64"), "uint8"), keras_fn=_np_saturate("uint8"),
         note="Keras's torch backend overflows turning the bounds into int64 NumPy scalars"),
    Case("saturate_cast", (np.array([-100, 5, 70000], "int64"), "float16"), keras_fn=_np_saturate("float16"),
         note="Keras's torch backend raises for integer inputs"),
    Case("saturate_cast", (np.array([0, 100, 255], "uint8"), "int8"), keras_fn=_np_saturate("int8"),
         note="Keras's torch backend raises for integer inputs"),
    # stop_gradient, unstack
    Case("stop_gradient", (torch.tensor(sample((2, 3))),)),
    Case("unstack", (torch.tensor(sample((2, 3))),), grad=True),
    Case("unstack", (torch.tensor(sample((2, 3))),), {"axis": 1}),
    Case("unstack", (torch.tensor(sample((2, 3, 2), "int32")),), {"axis": -1, "num": 2}),
    # scatter
    Case("scatter", ([[0], [0], [2]], np.array([1.0, 2.0, 3.0], "float32"), (4,))),
    Case("scatter", ([[0, 1], [0, 1], [2, 0]], np.array([1, 2, 3]), (3, 2))),
    Case("scatter", ([[1]], np.array([[1.0, 2.0]], "float32"), (3, 2))),
    Case("scatter", (np.array([[1], [-1]]), sample((2, 2)), [3, 2])),
    Case("scatter", ([[0, 1]], [5], (2, 2))),
    # scatter_update
    Case("scatter_update", (np.zeros((3, 2)), [[1]], np.array([[1.0, 2.0]]))),
    Case("scatter_update", (np.zeros((4, 4, 4), "float32"), [[1, 2, 3], [0, 1, 3]], np.array([1.0, 1.0]))),
    Case("scatter_update", (np.zeros((3, 2), "int32"), [[1, 1], [1, 0]], np.array([3.5, 2.0]))),
    Case("scatter_update", (np.ones((3, 2), "float32"), [[1, 1], [1, 1], [0, 0]], np.array([3.0, 2.0, 5.0])),
         {"reduction": "add"}),
    Case("scatter_update", (np.ones((3, 2), "float32"), [[1, 1], [1, 1]], np.array([3.0, 2.0])),
         {"reduction": "mul"}),
    Case("scatter_update", (np.ones((3, 2), "float32"), [[1, 1], [1, 1], [2, 0]], np.array([3.0, 2.0, -1.0])),
         {"reduction": "max"}),
    Case("scatter_update", (np.ones((3, 2), "float32"), [[1], [1]], np.array([[3.0, -2.0], [0.5, 4.0]])),
         {"reduction": "min"}),
    Case("scatter_update", (np.ones((2, 3), "int8"), [[0, 2]], np.array([7], "int8")), {"reduction": "add"}),
    # slice, slice_update
    Case("slice", (M34, [1, 1], [2, 2])),
    Case("slice", (M34, torch.tensor([1, 2]), (2, 2))),
    Case("slice", (M34, np.array([0, 0]), np.array([3, 4]))),
    Case("slice", (sample((2, 3, 4), "int16"), (0, 1, 2), (2, 1, 2))),
    Case("slice", (M34, [1, 0], [0, 2])),
    Case("slice", (M34, [2, 3], [2, 2]), keras_fn=lambda k, x, s, n: x[1:3, 2:4],
         note="starts clipped so the window fits (as in JAX); Keras's torch backend returns a smaller window"),
    Case("slice_update", (np.zeros((3, 4)), [1, 1], np.ones((2, 2), "float32"))),
    Case("slice_update", (np.zeros((3, 4), "int32"), [1, 1], np.ones((2, 2), "float32"))),
    Case("slice_update", (M34, torch.tensor([0, 2]), sample((2, 2)))),
    Case("slice_update", (sample((2, 3), "bool"), (0, 0), np.ones((1, 3), bool))),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_parity(case, keras):
    check_case(case, keras)


# ------------------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("case, argnums", [
    (Case("scatter", ([[0], [0], [2]], sample((3, 2)), (4, 2))), (1,)),
    (Case("scatter_update", (sample((3, 2)), [[1], [2]], sample((2, 2)))), (0, 2)),
    (Case("scatter_update", (sample((3, 2)), [[1, 1], [2, 0]], sample((2,)) + 5), {"reduction": "mul"}), (0, 2)),
    (Case("scatter_update", (sample((3, 2)), [[1, 1], [2, 0]], sample((2,))), {"reduction": "add"}), (0, 2)),
    (Case("scatter_update", (sample((3, 2)), [[1, 1], [2, 0]], sample((2,)) + 5), {"reduction": "max"}), (0, 2)),
    (Case("slice", (sample((3, 4)), [1, 1], [2, 2])), (0,)),
    (Case("slice", (sample((3, 4)), torch.tensor([1, 1]), [2, 3])), (0,)),
    (Case("slice_update", (sample((3, 4)), [1, 1], sample((2, 2)))), (0, 2)),
    (Case("slice_update", (sample((3, 4)), torch.tensor([0, 1]), sample((2, 3)))), (0, 2)),
], ids=lambda v: str(v) if isinstance(v, Case) else str(v))
def test_grad(case, argnums):
    check_grad(case, argnums)


def test_saturate_cast_grad():
    x = torch.tensor([-1e5, 1.0, 1e5], requires_grad=True)
    ops.saturate_cast(x, "float16").float().sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_scatter_update_last_write_wins():
    rng = np.random.default_rng(0)
    where = rng.integers(0, 5, size=(200, 1))
    expected = np.zeros(5, "float32")
    for i, (w,) in enumerate(where):
        expected[w] = i
    out = ops.scatter_update(np.zeros(5, "float32"), where, np.arange(200, dtype="float32"))
    assert out.tolist() == expected.tolist()
    flags = ops.scatter_update(np.zeros((2, 2), bool), [[0, 1], [0, 1], [1, 0]], [True, False, True])
    assert flags.tolist() == [[False, False], [True, False]]


def test_stop_gradient_blocks():
    x = torch.ones(3, requires_grad=True)
    y = (ops.stop_gradient(x * 2) * x).sum()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


# ------------------------------------------------------------------------------------------- inspection
def test_inspection_matches_keras(keras):
    for value in (np.zeros((2, 3), "int8"), torch.ones(4, 1), torch.zeros((), dtype=torch.bfloat16)):
        assert ops.shape(value) == keras.ops.shape(value)
        assert ops.dtype(value) == keras.ops.dtype(value)
        assert ops.is_tensor(value) == keras.ops.is_tensor(value)
        ours, theirs = ops.convert_to_numpy(value), keras.ops.convert_to_numpy(value)
        assert isinstance(ours, np.ndarray) and ours.shape == theirs.shape
    assert isinstance(ops.shape(torch.ones(2, 3)), tuple) and type(ops.shape(torch.ones(2))[0]) is int
    assert ops.dtype(3) == "int32" and ops.dtype([1.0]) == "float32" and ops.shape([[1, 2]]) == (1, 2)
    assert ops.convert_to_numpy(torch.ones(2, dtype=torch.bfloat16)).dtype == np.float32  # deviation: no bfloat16
    assert ops.convert_to_numpy([1, 2]).tolist() == [1, 2]
    x = torch.ones(2, requires_grad=True)
    assert ops.convert_to_numpy(x * 2).tolist() == [2.0, 2.0]


def test_inspection_of_symbolic_tensors():
    import lamina

    x = lamina.Input((3,))
    assert ops.shape(x) == (None, 3)
    assert ops.dtype(x) == "float32"
    assert ops.is_tensor(x) is False  # as Keras's is_tensor of a KerasTensor
    assert ops.shape(ops.cast(x, "int32")) == (None, 3) and ops.dtype(ops.cast(x, "int32")) == "int32"
    with pytest.raises(ValueError):
        ops.convert_to_numpy(x)


def test_convert_to_tensor_errors():
    with pytest.raises(ValueError, match="sparse"):
        ops.convert_to_tensor([1.0], sparse=True)
    with pytest.raises(ValueError, match="ragged"):
        ops.convert_to_tensor([1.0], ragged=True)
    assert ops.convert_to_tensor([1.0], sparse=False).dtype == torch.float32


def test_errors():
    with pytest.raises(ValueError, match="num"):
        ops.unstack(torch.ones(2, 3), num=3)
    with pytest.raises(ValueError, match="reduction"):
        ops.scatter_update(torch.ones(2), [[0]], [1.0], reduction="mean")
    with pytest.raises(ValueError):
        ops.slice(torch.ones(2, 3), [0], [1, 1])


def test_in_a_functional_model():
    import lamina

    x = lamina.Input((3,))
    outputs = [ops.map(lambda v: v * 2, x), ops.slice_update(x, [0, 1], np.ones((1, 2), "float32")),
               ops.cast(x, "int32"), ops.unstack(x, axis=1)[2], ops.scan(lambda c, v: (c + v, c), x[0] * 0, x)[1]]
    model = lamina.Model(x, outputs)
    data = sample((2, 3), seed=70)
    got = model(data)
    want = [torch.tensor(data) * 2, ops.slice_update(data, [0, 1], np.ones((1, 2), "float32")), ops.cast(data, "int32"),
            torch.tensor(data)[:, 2], ops.scan(lambda c, v: (c + v, c), torch.zeros(3), torch.tensor(data))[1]]
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)


def test_meta_device():
    x = torch.empty(3, 4, device="meta")
    assert ops.slice(x, torch.tensor([1, 1], device="meta"), (2, 2)).shape == (2, 2)
    assert ops.slice(x, [1, 1], (2, 2)).shape == (2, 2)
    assert ops.slice_update(x, torch.tensor([0, 1], device="meta"), torch.empty(2, 2, device="meta")).shape == (3, 4)
    assert ops.scatter(torch.zeros(2, 1, dtype=torch.long, device="meta"), torch.empty(2, device="meta"),
                       (5,)).shape == (5,)
    assert ops.scatter_update(x, torch.zeros(2, 1, dtype=torch.long, device="meta"), torch.empty(2, 4, device="meta"),
                              reduction="max").shape == (3, 4)
    assert ops.saturate_cast(x, "uint8").dtype == torch.uint8
    carry, ys = ops.scan(lambda c, v: (c + v, c * v), torch.empty(4, device="meta"), x)
    assert carry.shape == (4,) and ys.shape == (3, 4)
    assert ops.cond(torch.empty((), device="meta") > 0, lambda: x * 2, lambda: x).shape == (3, 4)
    assert ops.while_loop(lambda v: v.sum() < 3, lambda v: v + 1, x).shape == (3, 4)
    assert ops.associative_scan(lambda a, b: a + b, x, axis=1).shape == (3, 4)


# ------------------------------------------------------------------------------------------- control flow
def _same(ours, theirs, what):
    """Compare results that may be nested structures (dicts included) and Python values."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and sorted(ours) == sorted(theirs), what
        for k in theirs:
            _same(ours[k], theirs[k], f"{what}[{k}]")
        return
    if isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), f"{what}: {ours!r} vs {theirs!r}"
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _same(a, b, f"{what}[{i}]")
        return
    if not isinstance(theirs, torch.Tensor):
        assert type(ours) is type(theirs) and ours == theirs, f"{what}: {ours!r} vs {theirs!r}"
        return
    compare(ours, theirs, Case(what))


T = torch.tensor
FLOW = {
    "cond_python": lambda o: o.cond(True, lambda: 1, lambda: 2),
    "cond_array": lambda o: o.cond(np.array(False), lambda: 1, lambda: 2),
    "cond_tensor": lambda o: o.cond(T(3.0) > 2, lambda: (T([1.0]), {"a": T(2)}), lambda: (T([0.0]), {"a": T(3)})),
    "switch": lambda o: o.switch(1, [lambda x, y: x + y, lambda x, y: x - y], T(2.0), T(0.5)),
    "switch_clip_high": lambda o: o.switch(5, [lambda x: x + 1, lambda x: x * 2], 3),
    "switch_clip_low": lambda o: o.switch(-1, [lambda x: x + 1, lambda x: x * 2], 3),
    "switch_tensor": lambda o: o.switch(T(1), [lambda x: x + 1, lambda x: x * 2], T([3.0])),
    "while_int": lambda o: o.while_loop(lambda i: i < 10, lambda i: i + 1, 0),
    "while_tuple": lambda o: o.while_loop(lambda x, y: x < 10, lambda x, y: (x + 1, y + 1), (0, 1)),
    "while_list": lambda o: o.while_loop(lambda x, y: x < 10, lambda x, y: [x + 1, y * 2], [0, 1.0]),
    "while_dict": lambda o: o.while_loop(lambda d: d["a"] < 10, lambda d: {"a": d["a"] + 3}, {"a": 0}),
    "while_max": lambda o: o.while_loop(lambda i: i < 10, lambda i: i + 1, 0, maximum_iterations=3),
    "while_array": lambda o: o.while_loop(lambda i: i < 10, lambda i: i + 1, np.array(0.0)),
    "while_none": lambda o: o.while_loop(lambda i: i.sum() < 0, lambda i: i + 1, T([1.5, 2.0])),
    "fori_int": lambda o: o.fori_loop(0, 5, lambda i, v: v + i, 0),
    "fori_tuple": lambda o: o.fori_loop(1, 4, lambda i, v: (v[0] + i, v[1] * 2), (0.0, 1.0)),
    "fori_tensor": lambda o: o.fori_loop(T(0), T(3), lambda i, v: v * 2 + i, T([1.0, 2.0])),
    "scan": lambda o: o.scan(lambda c, x: (c + x, c + x), 0, np.array([1, 2, 3])),
    "scan_length": lambda o: o.scan(lambda c, x: (c + 1, c * 2), 0, None, length=3),
    "scan_reverse": lambda o: o.scan(lambda c, x: (c + x, c * x), np.float32(1), np.array([1.0, 2, 3], "float32"),
                                     reverse=True),
    "scan_nested": lambda o: o.scan(lambda c, x: ({"s": c["s"] + x[0]}, {"a": x[1] * c["s"], "b": (x[0],)}),
                                    {"s": T(0.0)}, (np.array([1.0, 2, 3], "float32"), np.ones((3, 2), "float32"))),
    "scan_matrix": lambda o: o.scan(lambda c, x: (c @ x, c.sum()), T(np.eye(2, dtype="float32")),
                                    T(sample((4, 2, 2), seed=3))),
    "map": lambda o: o.map(lambda x: x * 2, np.array([1, 2, 3])),
    "map_nested": lambda o: o.map(lambda x: {"a": x[0] + x[1], "b": x[0]}, (np.array([1, 2, 3]),
                                                                          np.array([1.0, 2, 3], "float32"))),
    "map_matrix": lambda o: o.map(lambda x: x.T @ x, T(sample((3, 2, 2), seed=4))),
    "assoc_sum": lambda o: o.associative_scan(lambda a, b: a + b, T(sample((5,), seed=5))),
    "assoc_reverse": lambda o: o.associative_scan(lambda a, b: a + b, T(sample((6,), seed=6)), reverse=True),
    "assoc_list": lambda o: o.associative_scan(lambda a, b: [a[0] + b[0], a[1] * b[1]],
                                               [T(sample((4,), seed=7)), T(sample((4,), seed=8))]),
    "assoc_axis": lambda o: o.associative_scan(lambda a, b: a + b, T(sample((2, 7), seed=9)), axis=-1),
    "assoc_max": lambda o: o.associative_scan(lambda a, b: torch.maximum(a, b), T(sample((3, 9), seed=2)), axis=1),
    "vmap": lambda o: o.vectorized_map(lambda x: x.sum(), T(np.ones((3, 2)))),
    "vmap_tuple": lambda o: o.vectorized_map(lambda x: x[0] * x[1],
                                             (T(sample((3, 2), seed=21)), T(sample((3, 2), seed=22)))),
    "vmap_dict": lambda o: o.vectorized_map(lambda x: {"s": x["a"] * 2}, {"a": T(sample((3, 2), seed=23))}),
    "vmap_matmul": lambda o: o.vectorized_map(lambda x: x @ x, T(sample((3, 2, 2), seed=24))),
}


@pytest.mark.parametrize("name", sorted(FLOW))
def test_control_flow_parity(name, keras):
    _same(FLOW[name](ops), FLOW[name](keras.ops), name)


@pytest.mark.parametrize("n", range(1, 10))
def test_associative_scan_order(n):
    """A non-commutative associative f (2x2 matrix product) gives the left fold at every prefix."""
    mats = torch.tensor(sample((n, 2, 2), seed=n), dtype=torch.float64)
    out = ops.associative_scan(lambda a, b: a @ b, mats)
    prefix = mats[0]
    for k in range(n):
        if k:
            prefix = prefix @ mats[k]
        torch.testing.assert_close(out[k], prefix)
    rev = ops.associative_scan(lambda a, b: a @ b, mats, reverse=True)
    suffix = mats[n - 1]
    for k in range(n - 1, -1, -1):
        if k < n - 1:
            suffix = suffix @ mats[k]
        torch.testing.assert_close(rev[k], suffix)


def test_associative_scan_int_keeps_dtype(keras):
    # Deviation: Keras's torch backend returns float32 for integer input; lamina keeps int (as JAX).
    out = ops.associative_scan(lambda a, b: a + b, np.arange(5))
    assert out.dtype == torch.int64 and out.tolist() == np.cumsum(np.arange(5)).tolist()


def test_scan_edge_cases():
    carry, ys = ops.scan(lambda c, x: (c, None), 0.0, np.array([1.0, 2.0]))
    assert ys is None and float(carry) == 0.0  # as JAX; Keras's torch backend gives a list of zeros
    carry, ys = ops.scan(lambda c, x: (c + x.sum(), x * 2), T(0.0), torch.zeros(0, 3))
    assert float(carry) == 0.0 and ys.shape == (0, 3)
    with pytest.raises(ValueError, match="length"):
        ops.scan(lambda c, x: (c, x), 0, np.ones(3), length=4)
    with pytest.raises(ValueError):
        ops.scan(lambda c, x: (c, x), 0)


def test_vectorized_map_falls_back_to_a_loop():
    def data_dependent(x):
        return x * 2 if x.sum() > 0 else x - 1

    out = ops.vectorized_map(data_dependent, T([[1.0, 2.0], [-3.0, 1.0]]))
    assert out.tolist() == [[2.0, 4.0], [-4.0, 0.0]]


# ------------------------------------------------------------------------------------------- gradients through flow
def _grad_of(fn, *shapes):
    xs = tuple(torch.tensor(sample(s, "float64", seed=i + 10), requires_grad=True) for i, s in enumerate(shapes))
    assert torch.autograd.gradcheck(fn, xs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_grad_cond_and_switch():
    _grad_of(lambda x: ops.cond(x.sum() > -100, lambda: x * x, lambda: x), (3,))
    _grad_of(lambda x: ops.cond(x.sum() > 100, lambda: x, lambda: torch.sin(x)), (3,))
    _grad_of(lambda x, y: ops.switch(1, [lambda a, b: a + b, lambda a, b: a * b], x, y), (3,), (3,))


def test_grad_loops():
    _grad_of(lambda x: ops.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * torch.cos(v)), (0, x))[1], (4,))
    _grad_of(lambda x: ops.while_loop(lambda v: v.abs().sum() < 50, lambda v: v * 1.5 + 1, x), (3,))
    _grad_of(lambda x: ops.fori_loop(0, 4, lambda i, v: v * x + i, x), (3,))
    _grad_of(lambda x, y: ops.fori_loop(0, 3, lambda i, v: (v[0] * v[1], v[1] + 1), (x, y))[0], (2,), (2,))


def test_grad_scans_and_maps():
    _grad_of(lambda c, xs: ops.scan(lambda c, x: (torch.tanh(c * x), c + x), c, xs), (3,), (4, 3))
    _grad_of(lambda c, xs: ops.scan(lambda c, x: (c * x, c), c, xs, reverse=True)[1], (3,), (4, 3))
    _grad_of(lambda xs: ops.map(lambda x: {"a": x * x, "b": x.sum()}, xs)["a"], (3, 2))
    _grad_of(lambda xs: ops.associative_scan(lambda a, b: a * b, xs, axis=1), (2, 7))
    _grad_of(lambda xs: ops.vectorized_map(lambda x: torch.outer(x, x), xs), (3, 2))


# ------------------------------------------------------------------------------------------- custom_gradient
def _log1pexp(o):
    @o.custom_gradient
    def log1pexp(x):
        e = o.exp(x)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return o.multiply(upstream, 1.0 - 1.0 / o.add(1, e))

        return o.log(1 + e), grad

    return log1pexp


def _two_args(o):
    @o.custom_gradient
    def f(x, y):
        def grad(*args, upstream):
            assert len(args) == 2  # grad_fn sees the forward's arguments, as in Keras's torch backend
            return upstream * 2, upstream * 3

        return x * y, grad

    return f


def test_custom_gradient_matches_keras(keras):
    if not all(hasattr(ops, n) for n in ("exp", "log", "multiply", "add")):
        pytest.skip("lamina.ops.exp/log/multiply/add not written yet")
    for build in (_log1pexp, _two_args):
        results = []
        for o in (ops, keras.ops):
            xs = (torch.tensor([0.5, 100.0], requires_grad=True), torch.tensor([3.0, 4.0], requires_grad=True))
            f = build(o)
            n = 1 if build is _log1pexp else 2
            out = f(*xs[:n])
            out.sum().backward()
            results.append((out.detach(), [x.grad for x in xs[:n]]))
        torch.testing.assert_close(results[0], results[1])


def test_custom_gradient_structures():
    @ops.custom_gradient
    def f(x, pair, scale=2.0):
        def grad(*args, upstream):
            assert isinstance(upstream, dict) and set(upstream) == {"p", "q"}
            return upstream["p"] * 10, upstream["q"] * 20, upstream["q"] * 30

        return {"p": x * scale, "q": pair[0] * pair[1]}, grad

    x, a, b = (torch.ones(2, requires_grad=True) for _ in range(3))
    out = f(x, (a, b))
    assert out["p"].tolist() == [2.0, 2.0] and out["q"].tolist() == [1.0, 1.0]
    (out["p"].sum() + out["q"].sum()).backward()
    assert x.grad.tolist() == [10.0, 10.0] and a.grad.tolist() == [20.0, 20.0] and b.grad.tolist() == [30.0, 30.0]
    with torch.no_grad():
        assert f(x, (a, b))["p"].tolist() == [2.0, 2.0]
    assert f(np.ones(2, "float32"), (1.0, 2.0))["q"] == 2.0

    @ops.custom_gradient
    def g(x, power):
        def grad(*args, upstream):
            return upstream * power * x ** (power - 1), None  # one per argument, the number's ignored

        return x ** power, grad

    x = torch.tensor([2.0], requires_grad=True)
    g(x, 3).backward()
    assert x.grad.tolist() == [12.0]
