"""Parity of lamina's creation ops (keras.ops.numpy: constants, ranges, grids, windows) with Keras 3."""

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, check_grad, compare, sample

from lamina import ops


def _np(fn):
    """A Keras-side stand-in computing with NumPy (where Keras's torch backend is wrong or refuses)."""
    def run(_kops, *args, **kwargs):
        args = [a.numpy() if isinstance(a, torch.Tensor) else a for a in args]
        return fn(*args, **kwargs)
    return run


I8 = sample((3,), "int8")
F16 = sample((2, 3), "float16")
BF16 = sample((2, 3), "bfloat16")

CASES = [
    # constants
    Case("zeros", ((2, 3),)), Case("zeros", ([2],), {"dtype": "int8"}), Case("zeros", ((0, 2),)),
    Case("zeros", ((),)),
    Case("ones", ((2, 3),)), Case("ones", ((2,),), {"dtype": "bool"}), Case("ones", ((3,),), {"dtype": "bfloat16"}),
    Case("full", ((2, 3), 2)), Case("full", ((2, 3), 2.5), {"dtype": "float16"}), Case("full", ((2,), 3, "int8")),
    Case("full", ((2, 3), np.arange(3))), Case("full", ((2, 3), True), {"dtype": "bool"}),
    Case("full", (3, 2.0), keras_fn=lambda k, s, v: k.full((s,), v), note="Keras's torch backend needs a tuple"),
    Case("zeros_like", (F16,)), Case("zeros_like", (BF16,)), Case("zeros_like", (I8,), {"dtype": "float32"}),
    Case("zeros_like", ([1, 2],)),
    Case("ones_like", (sample((2, 2), "bool"),)), Case("ones_like", (I8,)), Case("ones_like", (F16, "int32")),
    Case("full_like", (I8, 2.5)), Case("full_like", (F16, 3)), Case("full_like", (sample((2, 3), "uint8"),
                                                                                   np.ones(3))),
    Case("full_like", (BF16, 1.5, "float32")),
    Case("array", ([1, 2],)), Case("array", ([1.0, 2],)), Case("array", ([True, False],)),
    Case("array", (I8,)), Case("array", (np.ones(2),)), Case("array", ([1, 2], "float16")),
    Case("array", (BF16,)), Case("array", (np.float32(2.5),)),
    Case("copy", ([1, 2],)), Case("copy", (F16,)), Case("copy", (BF16,)), Case("copy", (sample((2, 3)),), grad=True),
    Case("eye", (3,)), Case("eye", (3, 4, 1)), Case("eye", (3, 2, -1)), Case("eye", (2,), {"dtype": "int32"}),
    Case("eye", (0,)),
    Case("identity", (3,)), Case("identity", (2, "bool")),
    Case("tri", (3,)), Case("tri", (3, 4, -1)), Case("tri", (2, 3, 1, "int8")),
    # ranges
    Case("arange", (5,)), Case("arange", (5.0,)), Case("arange", (1, 5, 2)), Case("arange", (1, 5, 0.5)),
    Case("arange", (5, 0, -2)), Case("arange", (np.int8(3),)), Case("arange", (np.float64(2),)),
    Case("arange", (np.float16(3),)), Case("arange", (0, 5, 1.5), {"dtype": "int32"}),
    Case("arange", (2, 7), {"dtype": "float16"}), Case("arange", (0,)), Case("arange", (torch.tensor(3),)),
    Case("arange", (np.int16(1), 4)), Case("arange", (0, 1, 0.25), {"dtype": "bfloat16"}),
    Case("linspace", (0, 1, 5)), Case("linspace", (0, 5, 5)), Case("linspace", (0.0, 1.0, 4), {"endpoint": False}),
    Case("linspace", (np.int8(0), 5, 6)), Case("linspace", (np.float16(0), 1, 3)), Case("linspace", (2, 3, 1)),
    Case("linspace", (2, 3, 0)), Case("linspace", (0, 1, 5), {"dtype": "int32"}),
    Case("linspace", (np.float64(0), 1, 5)), Case("linspace", (0, 1, 5), {"retstep": True}),
    Case("linspace", (0, 1, 4), {"retstep": True, "endpoint": False}),
    Case("linspace", (np.zeros(2), np.array([1.0, 2.0]), 3), {"axis": 1},
         keras_fn=_np(lambda *a, **k: np.linspace(*a, **k).astype("float32")),
         note="Keras's torch backend refuses array bounds with an axis (float64 bounds give float32 in Keras)"),
    Case("linspace", (np.zeros((2,)), 1.0, 3), keras_fn=_np(lambda *a: np.linspace(*a).astype("float32")),
         note="Keras's torch backend refuses array bounds"),
    Case("linspace", (np.zeros((2,)), 1.0, 3), {"axis": -1},
         keras_fn=_np(lambda *a, **k: np.linspace(*a, **k).astype("float32")), note="as above"),
    Case("logspace", (0, 2, 3)), Case("logspace", (0, 2, 3), {"base": 2}), Case("logspace", (0.0, 1.0, 4),
                                                                            {"endpoint": False}),
    Case("logspace", (0, 3, 4), {"dtype": "float16"}, rtol=1e-3),
    Case("logspace", (0, 3, 4), {"dtype": "int32"}, keras_fn=_np(
        lambda *a, **k: np.logspace(*a, **{**k, "dtype": "int32"})), note="exact powers of 10 (Keras rounds 99.99)"),
    Case("geomspace", (1, 1000, 4)), Case("geomspace", (-1, -8, 4)), Case("geomspace", (1, 16, 4),
                                                                           {"endpoint": False}),
    Case("geomspace", (np.float16(1), 8, 4), rtol=1e-3), Case("arange", (0.5, 5, 1.5), {"dtype": "int32"}, keras_fn=_np(
        lambda *a, **k: np.arange(*a, **k)), note="Keras's torch backend truncates start and step first: [0, 1, 2]"),
    Case("geomspace", (2.0, 3.0, 1), keras_fn=_np(lambda *a: np.geomspace(*a).astype("float32")),
         note="Keras's torch backend gives nan for one sample"),
    Case("geomspace", (1, 16, 5), {"dtype": "float16"}, rtol=1e-3, keras_fn=_np(
        lambda *a, **k: np.geomspace(*a, **k)), note="Keras's torch backend mishandles `dtype` (1..10 here)"),
    Case("geomspace", (np.array([1.0, 2.0]), np.array([8.0, 32.0]), 3), {"axis": -1},
         keras_fn=_np(lambda *a, **k: np.geomspace(*a, **k).astype("float32")),
         note="Keras's torch backend refuses array bounds"),
    # grids
    Case("meshgrid", (np.arange(2), np.arange(3))), Case("meshgrid", (np.arange(2), np.arange(3)),
                                                         {"indexing": "ij"}),
    Case("meshgrid", (np.arange(2.0), np.arange(3.0), np.arange(4.0))),
    Case("meshgrid", (np.arange(2.0), np.arange(3.0), np.arange(4.0)), {"indexing": "ij"}),
    Case("meshgrid", (np.arange(3),)),
    Case("meshgrid", (np.arange(2), np.arange(3.0).astype("float32")),
         keras_fn=_np(lambda *a, **k: list(np.meshgrid(*a, **k))),
         note="Keras's torch backend refuses mixed dtypes (NumPy keeps each)"),
    # windows
    *[Case(w, (n,)) for w in ("bartlett", "blackman", "hamming", "hanning") for n in (0, 1, 2, 5, 8)],
    Case("kaiser", (5, 2.0)), Case("kaiser", (4, 0.0)), Case("kaiser", (1, 3.0)), Case("kaiser", (8, 14)),
    Case("kaiser", (0, 1.0)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_parity(case, keras):
    check_case(case, keras)


@pytest.mark.parametrize("name", ["empty", "empty_like"])
def test_empty_shape_and_dtype(name, keras):
    fn, theirs = getattr(ops, name), getattr(keras.ops, name)
    arg = (2, 3) if name == "empty" else sample((2, 3), "int8")
    for dtype in (None, "int16", "bfloat16"):
        ours, ref = fn(arg, dtype=dtype), theirs(arg, dtype=dtype)
        assert tuple(ours.shape) == tuple(ref.shape)
        assert ours.dtype == ref.dtype
    assert ops.empty(3).shape == (3,)


@pytest.mark.parametrize("name,args", [
    ("zeros", ((2, 3),)), ("ones", ((2,),)), ("full", ((2,), 1.0)), ("empty", ((2,),)), ("eye", (3,)),
    ("identity", (2,)), ("tri", (3,)), ("arange", (4,)), ("linspace", (0.0, 1.0, 3)), ("logspace", (0.0, 1.0, 3)),
    ("geomspace", (1.0, 8.0, 4)), ("hamming", (4,)), ("kaiser", (4, 1.0)), ("bartlett", (3,)),
], ids=str)
def test_creation_follows_default_device(name, args):
    with torch.device("meta"):
        out = getattr(ops, name)(*args)
    assert out.device.type == "meta"


def test_like_ops_keep_the_device():
    x = torch.ones(2, 3, device="meta")
    for name in ("zeros_like", "ones_like", "empty_like"):
        assert getattr(ops, name)(x).device.type == "meta"
    assert ops.full_like(x, 2.0).device.type == "meta"


def test_gradients():
    start, stop = torch.tensor([0.5, 1.0], dtype=torch.float64, requires_grad=True), torch.tensor(
        [2.0, 3.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ops.linspace(a, b, 4, axis=1, dtype="float64"),
                                    (start, stop))
    assert torch.autograd.gradcheck(lambda a, b: ops.logspace(a, b, 4, base=2.0, dtype="float64"), (start, stop))
    assert torch.autograd.gradcheck(lambda a, b: ops.geomspace(a, b, 4, dtype="float64"), (start, stop))
    value = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: ops.full((3, 2), v, dtype="float64"), (value,))
    assert torch.autograd.gradcheck(lambda v: ops.full_like(torch.zeros(3, 2, dtype=torch.float64), v), (value,))
    check_grad(Case("copy", (sample((2, 3)),)))
    grids = torch.autograd.gradcheck(lambda a, b: ops.meshgrid(a, b)[0] * ops.meshgrid(a, b)[1], (start, stop))
    assert grids
    compare(ops.kaiser(5, torch.tensor(2.0)), torch.tensor(np.kaiser(5, 2.0), dtype=torch.float32),
            Case("kaiser"))
