"""Parity of lamina's shape ops (keras.ops.numpy: reshaping, joining, splitting, padding, ...) with Keras 3."""

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, sample

from lamina import ops


def _np(fn):
    """A Keras-side stand-in computing with NumPy (where Keras's torch backend is wrong or refuses)."""
    def run(_kops, *args, **kwargs):
        def conv(a):
            if isinstance(a, torch.Tensor):
                return a.float().numpy() if a.dtype == torch.bfloat16 else a.numpy()
            if isinstance(a, (list, tuple)) and a and isinstance(a[0], (np.ndarray, torch.Tensor)):
                return [conv(v) for v in a]
            return a
        return fn(*[conv(a) for a in args], **kwargs)
    return run


X = sample((2, 3, 4))
X2 = sample((3, 4))
I8 = sample((2, 3), "int8")
U8 = sample((2, 3), "uint8", high=9)
B = sample((2, 3), "bool")
F16 = sample((2, 3), "float16")
BF = sample((2, 3), "bfloat16")
E = np.zeros((0, 3), "float32")
S = np.float32(1.5)

CASES = [
    Case("reshape", (X, (4, -1)), grad=True), Case("reshape", (I8, 6)), Case("reshape", (X, [2, 12])),
    Case("reshape", (E, (3, 0))), Case("reshape", (S, (1, 1))), Case("reshape", (BF, (-1,))),
    Case("ravel", (X,), grad=True), Case("ravel", (B,)), Case("ravel", (S,)), Case("ravel", (E,)),
    Case("broadcast_to", (sample((3,)), (2, 3)), grad=True), Case("broadcast_to", (I8, (4, 2, 3))),
    Case("broadcast_to", (S, (2,))),
    Case("expand_dims", (X2, 0), grad=True), Case("expand_dims", (X2, -1)), Case("expand_dims", (X2, (0, 2))),
    Case("expand_dims", (sample((2,)), (-1, 0))), Case("expand_dims", (S, 0)), Case("expand_dims", (B, 1)),
    Case("squeeze", (sample((1, 3, 1)),), grad=True), Case("squeeze", (sample((1, 3, 1)), 0)),
    Case("squeeze", (sample((1, 3, 1)), (0, -1))), Case("squeeze", (sample((1, 1), "int8"),)),
    Case("squeeze", (S,)),
    Case("transpose", (X,), grad=True), Case("transpose", (X, (1, 0, 2))), Case("transpose", (X, (-1, 0, 1))),
    Case("transpose", (F16,)), Case("transpose", (S,)),
    Case("swapaxes", (X, 0, -1), grad=True), Case("swapaxes", (I8, 0, 1)),
    Case("moveaxis", (X, 0, -1), grad=True), Case("moveaxis", (X, (0, 1), (-1, 0))), Case("moveaxis", (B, 1, 0)),
    Case("concatenate", ([X2, X2],), grad=True), Case("concatenate", ([X2, X2], -1)),
    Case("concatenate", ([I8, U8],)), Case("concatenate", ([I8, [[1, 2, 3]]],)), Case("concatenate", ([F16, BF],)),
    Case("concatenate", ([np.zeros((0, 4), "float32"), X2],)), Case("concatenate", ([B, I8], 1)),
    Case("concatenate", ([X2, sample((3,))], None), keras_fn=_np(lambda xs, axis: np.concatenate(xs, axis)),
         note="Keras's torch backend refuses axis=None"),
    Case("stack", ([X2, X2],), grad=True), Case("stack", ([X2, X2], -1)), Case("stack", ([[1, 2], [3, 4]],)),
    Case("stack", ([I8, F16], 1)), Case("stack", ([S, S],)),
    Case("hstack", ([X2, X2],), grad=True), Case("hstack", ([sample((3,)), sample((2,))],)),
    Case("hstack", ([I8, F16],)),
    Case("vstack", ([X2, X2],), grad=True), Case("vstack", ([sample((3,)), sample((3,))],)),
    Case("vstack", ([I8, U8],)),
    Case("dstack", ([X2, X2],), grad=True), Case("dstack", ([sample((3,)), sample((3,))],)),
    Case("dstack", ([X, X],)),
    Case("append", (X2, X2), grad=True), Case("append", (X2, X2, 0)), Case("append", (I8, [1, 2])),
    Case("append", (I8, 1.5)), Case("append", (I8, np.ones((1, 3)), 0)), Case("append", (B, B, -1)),
    Case("split", (np.arange(6), 3)), Case("split", (np.arange(6), [1, 4])), Case("split", (X, 2, -1)),
    Case("split", (X2, [1, 1], 0)), *[Case("split", (X2, i, 0), keras_fn=_np(np.split),
           note="Keras's torch backend refuses negative or too large indices") for i in ([-1], [5], [2, 1])],
    Case("array_split", (np.arange(7), 3)), Case("array_split", (X2, 2, 1)),
    Case("array_split", (X2, [1, 2]), keras_fn=_np(np.array_split), note="Keras's torch backend refuses indices"),
    Case("hsplit", (np.arange(6), 2)), Case("hsplit", (X2, [1, 3])), Case("vsplit", (X2, 3)),
    Case("dsplit", (X, 2)), Case("dsplit", (X, [3])),
    Case("repeat", (X2, 2), grad=True), Case("repeat", (X2, 2, 0)), Case("repeat", (X2, np.array([1, 0, 2]), 0)),
    Case("repeat", (I8, 3, -1)), Case("repeat", (S, 2)), Case("repeat", (B, 2, 1)),
    Case("repeat", (np.arange(3), [1, 2, 0]), keras_fn=_np(np.repeat), note="Keras's torch backend refuses lists"),
    Case("tile", (X2, 2), grad=True), Case("tile", (X2, (2, 1))), Case("tile", (sample((2,)), (2, 1, 2))),
    Case("tile", (I8, (1, 2))), Case("tile", (np.arange(3), 0)),
    Case("roll", (X2, 1), grad=True), Case("roll", (X2, -1, 0)), Case("roll", (X2, (1, 2), (0, 1))),
    Case("roll", (I8, 5, -1)), Case("roll", (B, 1)),
    Case("flip", (X,), grad=True), Case("flip", (X, 0)), Case("flip", (X, (0, -1))), Case("flip", (I8, -1)),
    Case("fliplr", (X2,), grad=True), Case("fliplr", (I8,)), Case("flipud", (X2,), grad=True),
    Case("flipud", (np.arange(3),)),
    Case("rot90", (X2,), grad=True), Case("rot90", (X2, 2)), Case("rot90", (X2, 3)), Case("rot90", (X2, -1)),
    Case("rot90", (X, 1, (1, 2))), Case("rot90", (I8, 1, (1, 0))),
    Case("diag", (X2,), grad=True), Case("diag", (X2, 1)), Case("diag", (X2, -2)), Case("diag", (np.arange(3),)),
    Case("diag", (sample((3,)), -1), grad=True), Case("diag", (I8, 1)),
    Case("diagflat", (X2,), grad=True), Case("diagflat", (np.arange(4).reshape(2, 2), -1)),
    Case("diagflat", (sample((3,), "int8"), 2)),
    Case("diagonal", (X2,), grad=True), Case("diagonal", (X, 1, 2, 0)), Case("diagonal", (X, -1, -1, -2)),
    Case("diagonal", (I8,)),
    Case("tril", (X2,), grad=True), Case("tril", (X, -1)), Case("tril", (B,)), Case("tril", (I8, 1)),
    Case("triu", (X2,), grad=True), Case("triu", (X, 1)), Case("triu", (B, -1)), Case("triu", (F16,)),
    Case("tril", (sample((3,)),), keras_fn=_np(np.tril), note="NumPy's 1-D rule (Keras's torch backend refuses)"),
    Case("diff", (X2,), grad=True), Case("diff", (X2, 2, 0)), Case("diff", (np.arange(5), 0)),
    Case("diff", (np.array([True, False, True]),)), Case("diff", (np.array([3, 1], "uint8"),)),
    Case("diff", (I8, 1, 0)), Case("diff", (F16, 3)),
    Case("pad", (X2, ((1, 0), (0, 2))), grad=True), Case("pad", (I8, ((1, 1), (2, 0))), {"constant_values": 3}),
    Case("pad", (np.ones(3, "int32"), ((1, 1),)), {"constant_values": 1.5}), Case("pad", (B, ((1, 1), (1, 0)))),
    Case("pad", (X, ((0, 0), (1, 1), (2, 3)), "reflect"), grad=True), Case("pad", (BF, ((0, 1), (1, 1)))),
    Case("pad", (np.arange(4).reshape(2, 2), ((1, 1), (1, 1)), "reflect")),
    Case("pad", (S, 0), keras_fn=_np(np.pad), note="Keras refuses 0-d"),
    Case("pad", (X, ((1, 2), (0, 0), (2, 3)), "symmetric"), grad=True, keras_fn=_np(np.pad),
         note="Keras's torch backend pads at most 2 axes of a 3-D input"),
    # NumPy's short forms of pad_width pad every axis; Keras's torch backend pads only the last one with them.
    *[Case("pad", (x, w, *m), keras_fn=_np(np.pad), note="Keras's torch backend pads only the last axis", grad=g)
      for x, w, m, g in [(X2, 1, (), True), (X2, (1, 2), (), False), (X2, ((1, 2),), (), False), (I8, 1, (), False),
                         (B, 1, (), False), (X2, 1, ("reflect",), True), (np.arange(4).reshape(2, 2), 1, ("reflect",),
                                                                            False), (E, 1, (), False)]],
    Case("pad", (X2, ((2, 1), (3, 0)), "symmetric"), keras_fn=_np(np.pad), grad=True,
         note="Keras's torch backend gets symmetric padding wrong on several axes"),
    Case("pad", (X2, 1, "edge"), keras_fn=_np(np.pad), note="Keras's torch backend lacks mode 'edge'", grad=True),
    Case("pad", (X2, ((4, 2), (1, 5)), "wrap"), keras_fn=_np(np.pad), note="Keras's torch backend lacks 'wrap'",
         grad=True),
    Case("pad", (np.arange(3.0), 7, "reflect"), keras_fn=_np(np.pad),
         note="Keras's torch backend refuses pads wider than the axis"),
    Case("pad", (np.arange(3.0), ((5, 8),), "symmetric"), keras_fn=_np(np.pad), note="as above"),
    Case("pad", (np.ones(1), 2, "reflect"), keras_fn=_np(np.pad), note="as above"),
    Case("ndim", (X,)), Case("ndim", (S,)), Case("ndim", ([[1, 2]],), keras_fn=lambda k, x: 2),
    Case("size", (X,)), Case("size", (E,)), Case("size", (I8,)),
    Case("size", (S,), keras_fn=lambda k, x: torch.tensor(1), note="Keras's torch backend gives float32 for scalars"),
    Case("view", (np.ones(2, "float32"), "int32")), Case("view", (sample((3,), "int32"), "float32")),
    Case("view", (np.ones((2, 2), "float32"), "int16"), keras_fn=_np(lambda x, d: x.view(d)),
         note="Keras's torch backend refuses item-size changes"),
    Case("view", (np.ones(4, "int8"), "int32"), keras_fn=_np(lambda x, d: x.view(d)), note="as above"),
    Case("view", (F16,), keras_fn=_np(lambda x: x.view()), note="Keras's torch backend refuses dtype=None"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_parity(case, keras):
    check_case(case, keras)


def test_split_gradients():
    x = torch.tensor(sample((4, 3)), dtype=torch.float64, requires_grad=True)
    for fn in (lambda t: ops.split(t, 2), lambda t: ops.array_split(t, 3, axis=1), lambda t: ops.vsplit(t, [1, 3]),
               lambda t: ops.hsplit(t, [1])):
        assert torch.autograd.gradcheck(lambda t, f=fn: tuple(p * 1.0 for p in f(t)), (x,))


def test_errors(keras):
    with pytest.raises(ValueError):
        ops.split(np.arange(7), 3)
    with pytest.raises(ValueError):
        ops.squeeze(np.ones((2, 1)), 0)
    with pytest.raises(ValueError):
        ops.pad(np.ones(3), 1, mode="reflect", constant_values=1.0)
    with pytest.raises(ValueError):
        ops.pad(np.ones(3), 1, mode="maximum")
    with pytest.raises(ValueError):
        ops.vsplit(np.ones(3), 3)


@pytest.mark.parametrize("name,args", [
    ("reshape", ((6, -1),)), ("expand_dims", ((0, 2),)), ("squeeze", ()), ("transpose", ()), ("moveaxis", (0, -1)),
    ("tile", ((2, 1, 1),)), ("roll", (1, 0)), ("flip", ()), ("rot90", ()), ("tril", ()), ("diff", ()),
    ("pad", (((1, 1), (0, 0), (2, 1)), "reflect")), ("pad", (1,)), ("repeat", (2, 1)), ("diagonal", ()),
    ("swapaxes", (0, 2)), ("ravel", ()), ("broadcast_to", ((2, 3, 1, 4),)),
], ids=str)
def test_meta_device(name, args):
    x = torch.ones((3, 1, 4), device="meta")
    out = getattr(ops, name)(x, *args)
    ref = getattr(ops, name)(torch.ones((3, 1, 4)), *args)
    assert out.device.type == "meta" and out.shape == ref.shape


def test_joins_and_splits_on_meta():
    x = torch.ones((2, 3), device="meta")
    assert ops.concatenate([x, x], axis=1).shape == (2, 6)
    assert ops.stack([x, x]).shape == (2, 2, 3)
    assert [p.shape for p in ops.split(x, 3, axis=1)] == [(2, 1)] * 3
    assert ops.size(x).device.type == "meta"


def test_gradient_of_stacked_inputs():
    a = torch.tensor(sample((2, 3)), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(sample((1, 3)), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, q: ops.concatenate([p, q]), (a, b))
    assert torch.autograd.gradcheck(lambda p, q: ops.append(p, q, axis=0), (a, b))
