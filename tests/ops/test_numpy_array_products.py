"""Parity of lamina's products, complex parts and ``vectorize`` (keras.ops.numpy) with Keras 3."""

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, check_grad, sample

from lamina import ops


def _np(fn, dtype=None):
    """A Keras-side stand-in computing with NumPy (where Keras's torch backend is wrong or refuses)."""
    def run(_kops, *args, **kwargs):
        args = [a.float().numpy() if isinstance(a, torch.Tensor) and a.dtype == torch.bfloat16 else
                a.numpy() if isinstance(a, torch.Tensor) else a for a in args]
        out = fn(*args, **kwargs)
        return np.asarray(out, dtype) if dtype else out
    return run


M = sample((2, 3))
N = sample((3, 4))
V3 = sample((3,))
B3 = sample((2, 3, 4))
DT = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64")


def _pair(dtype, a=(2, 3), b=(3, 2)):
    return sample(a, dtype, -3, 3), sample(b, dtype, -3, 3)


CASES = [
    Case("matmul", (M, N)), Case("matmul", (V3, N)), Case("matmul", (M, V3)), Case("matmul", (V3, V3)),
    Case("matmul", (B3, sample((4, 2)))), Case("matmul", (sample((5, 1, 2, 3)), sample((4, 3, 2)))),
    Case("matmul", (sample((2, 2), "int8"), sample((2, 2), "uint8"))), Case("matmul", (sample((0, 3)), N)),
    *[Case("matmul", _pair(d), rtol=1e-2, atol=1e-2) for d in DT],
    Case("matmul", (sample((2, 3), "int8"), sample((3, 2), "int16"))), Case("matmul", (M, sample((3, 2), "int32"))),
    Case("dot", (M, N)), Case("dot", (V3, V3)), Case("dot", (2, V3)), Case("dot", (M, V3)),
    *[Case("dot", _pair(d), rtol=1e-2, atol=1e-2) for d in DT],
    Case("dot", (B3, sample((5, 4, 2))), keras_fn=_np(np.dot, "float32"),
         note="Keras's torch backend fails on N-D by M-D"),
    Case("inner", (M, sample((4, 3)))), Case("inner", (V3, V3)), Case("inner", (2.0, V3)),
    *[Case("inner", _pair(d, (2, 3), (4, 3)), rtol=1e-2, atol=1e-2) for d in DT],
    Case("inner", (sample((2, 3), "int8"), sample((4, 3), "float16")), rtol=1e-2, atol=1e-2),
    Case("outer", (M, V3), grad=True), Case("outer", (V3, sample((3,), "int8"))),
    *[Case("outer", _pair(d, (2,), (3,)), rtol=1e-2, atol=1e-2) for d in DT],
    Case("vdot", (V3, V3)), *[Case("vdot", _pair(d, (3,), (3,)), rtol=1e-2, atol=1e-2) for d in DT],
    Case("vdot", (M, M), keras_fn=_np(np.vdot, "float32"), note="Keras's torch backend takes 1-D only"),
    Case("vdot", (np.array([1 + 2j, 3j], "complex64"), np.array([2 - 1j, 1], "complex64"))),
    Case("tensordot", (M, N, 1)), Case("tensordot", (B3, sample((3, 4, 2)))),
    Case("tensordot", (M, N), {"axes": ([1], [0])}), Case("tensordot", (B3, sample((4, 2))), {"axes": (2, 0)}),
    Case("tensordot", (sample((2,)), V3), {"axes": 0}),
    *[Case("tensordot", _pair(d), {"axes": 1}, rtol=1e-2, atol=1e-2) for d in DT],
    Case("einsum", ("ij,jk->ik", M, N)), Case("einsum", ("i,i->", V3, V3)), Case("einsum", ("bij->bji", B3)),
    Case("einsum", ("...ij,...jk", B3, sample((2, 4, 2)))), Case("einsum", ("ii", sample((3, 3)))),
    *[Case("einsum", ("ij,jk->ik", *_pair(d)), rtol=1e-2, atol=1e-2) for d in DT if d != "bool"],
    Case("einsum", ("i,i->", sample((3,), "int8"), sample((3,), "float16")),
         keras_fn=_np(lambda s, a, b: np.einsum(s, a.astype("float16"), b)), rtol=1e-2,
         note="Keras's torch backend refuses mixed dtypes"),
    Case("einsum", ("ij,jk->ik", *_pair("bool")), keras_fn=_np(lambda s, a, b: np.einsum(s, a, b)),
         note="Keras's torch backend refuses bools"),
    Case("kron", (M, N), grad=True), Case("kron", (sample((2, 2), "int8"), sample((3,), "float16"))),
    *[Case("kron", _pair(d, (2, 2), (2,)), rtol=1e-2, atol=1e-2) for d in DT],
    Case("cross", (V3, sample((3,)))), Case("cross", (sample((4, 3)), sample((1, 3)))),
    Case("cross", (sample((3, 2)), sample((3, 2))), {"axis": 0}),
    Case("cross", (sample((3, 4)), sample((4, 3))), {"axisa": 0, "axisc": 0},
         keras_fn=_np(np.cross), note="Keras's torch backend refuses axisa/axisb/axisc"),
    *[Case("cross", _pair(d, (3,), (3,)), rtol=1e-2, atol=1e-2) for d in DT if d != "bool"],
    Case("cross", (sample((3,), "int8"), sample((3,), "int16"))),
    Case("cross", (sample((2,)), sample((3,))), keras_fn=_np(np.cross), note="Keras's torch backend: 3-vectors only"),
    Case("cross", (sample((4, 2)), sample((4, 2))), keras_fn=_np(np.cross), note="as above"),
    Case("trace", (N,), grad=True), Case("trace", (B3, 1, 1, 2), grad=True), Case("trace", (B3, -1, -1, 0)),
    *[Case("trace", (sample((3, 3), d),), rtol=1e-2, atol=1e-2) for d in DT],
    Case("vander", (V3,)), Case("vander", (np.array([1, 2, 3]), 4, True)), Case("vander", (V3, 0)),
    Case("vander", (np.array([0.0, 2.0, -1.0], "float32"), 4)),
    *[Case("vander", (sample((3,), d, 0, 3),), rtol=1e-2, atol=1e-2) for d in DT],
    # complex parts
    *[Case(f, (x,)) for f in ("real", "conj", "conjugate")
      for x in (M, sample((2,), "int8"), sample((2,), "bool"), sample((2,), "bfloat16"),
                np.array([1 + 2j, -3j], "complex64"))],
    Case("imag", (np.array([1 + 2j, -3j], "complex64"),)), Case("angle", (np.array([1 + 2j, -3j], "complex64"),)),
    Case("imag", (M,), keras_fn=_np(np.imag), note="Keras's torch backend refuses real tensors"),
    Case("imag", (sample((2,), "int8"),), keras_fn=_np(np.imag), note="as above"),
    *[Case("angle", (sample((3,), d),)) for d in DT], Case("angle", (np.array([-1.0, 0.0, 2.0]),)),
    Case("real", (M,), grad=True), Case("conj", (M,), grad=True), Case("angle", (sample((3,)),)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_parity(case, keras):
    check_case(case, keras)


def _grad32(name, args, argnums=(0,), kwargs=None):
    """Gradient check of an op whose float64 result Keras makes float32: finite differences loose enough for
    float32 arithmetic."""
    fn = getattr(ops, name)
    leaves = [torch.tensor(np.asarray(args[i]), dtype=torch.float64, requires_grad=True) for i in argnums]

    def call(*xs):
        full = list(args)
        for i, x in zip(argnums, xs, strict=True):
            full[i] = x
        return fn(*full, **(kwargs or {})).double()

    assert torch.autograd.gradcheck(call, tuple(leaves), eps=1e-3, atol=2e-3, rtol=1e-2), name


@pytest.mark.parametrize("name,args,kwargs", [
    ("matmul", (M, N), {}), ("matmul", (B3, sample((4, 2))), {}), ("matmul", (V3, N), {}),
    ("dot", (M, N), {}), ("dot", (B3, sample((5, 4, 2))), {}), ("dot", (2.0, V3), {}),
    ("inner", (M, sample((4, 3))), {}), ("vdot", (M, M), {}), ("tensordot", (M, N, 1), {}),
    ("tensordot", (B3, sample((3, 4, 2))), {}), ("cross", (V3, sample((3,))), {}),
    ("cross", (sample((4, 3)), sample((1, 3))), {}), ("cross", (sample((4, 2)), sample((4, 2))), {}),
    ("cross", (sample((3, 4)), sample((4, 3))), {"axisa": 0, "axisc": 0}),
], ids=lambda v: v if isinstance(v, str) else str(Case("", v) if isinstance(v, tuple) else v))
def test_gradients_of_float32_products(name, args, kwargs):
    argnums = tuple(i for i, a in enumerate(args) if isinstance(a, np.ndarray))
    _grad32(name, args, argnums, kwargs)


def test_gradients():
    _grad32("vander", (V3,))
    _grad32("vander", (np.array([0.0, 2.0, -1.0]), 4))
    for name, a, b in [("outer", V3, V3), ("kron", M, V3)]:
        check_grad(Case(name, (a, b)), argnums=(0, 1))
    check_grad(Case("einsum", ("ij,jk->ik", M, N)), argnums=(1, 2))
    check_grad(Case("einsum", ("bij->bji", B3)), argnums=(1,))


def test_products_on_meta():
    a, b = torch.ones((2, 3), device="meta"), torch.ones((3, 4), device="meta")
    for name in ("matmul", "dot", "tensordot"):
        assert getattr(ops, name)(a, b, *(() if name != "tensordot" else (1,))).shape == (2, 4)
    assert ops.einsum("ij,jk->ik", a, b).shape == (2, 4)
    assert ops.matmul(a.to(torch.int8), b.to(torch.int8)).dtype == torch.int32
    assert ops.trace(b).device.type == "meta"


@pytest.mark.parametrize("signature,shapes,fn,expected", [
    (None, [(3,)], lambda v: v * 2, (3,)),
    (None, [(2, 3), (3,)], lambda a, b: a + b, (2, 3)),
    ("(n)->()", [(2, 3)], lambda v: torch.sum(v), (2,)),
    ("(n),(n)->()", [(4, 3), (3,)], lambda a, b: torch.dot(a, b), (4,)),
    ("(m,n)->(n)", [(5, 2, 3)], lambda m: m[0], (5, 3)),
], ids=["scalar", "broadcast", "reduce", "two-core", "matrix"])
def test_vectorize(signature, shapes, fn, expected, keras):
    args = [sample(s) for s in shapes]
    ours = ops.vectorize(fn, signature=signature)(*args)
    theirs = keras.ops.vectorize(fn, signature=signature)(*[torch.tensor(a) for a in args])
    assert tuple(ours.shape) == expected == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_vectorize_falls_back_to_a_loop_and_takes_excluded():
    calls = []

    def scalar_python(v, scale):
        calls.append(1)
        return torch.tensor(float(v) * scale)  # float() cannot be vmapped

    out = ops.vectorize(scalar_python, excluded={1})(np.arange(3.0), 2.0)
    np.testing.assert_allclose(out.numpy(), [0.0, 2.0, 4.0])
    assert len(calls) >= 3
    pair = ops.vectorize(lambda v: (v, v * 2))(np.arange(2.0))
    assert isinstance(pair, tuple) and pair[1].tolist() == [0.0, 2.0]
