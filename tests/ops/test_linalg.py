"""lamina.ops.linalg against Keras 3 (torch backend), with gradients."""

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, sample

from lamina import ops


def spd(n, batch=(), dtype="float32", seed=0):
    """A symmetric positive-definite matrix (or batch of them)."""
    m = sample((*batch, n, n), "float64", seed=seed)
    return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(dtype)


def well(shape, dtype="float32", seed=0):
    """A well-conditioned matrix: random plus a strong diagonal."""
    m = sample(shape, "float64", seed=seed)
    k = min(shape[-2:])
    m[..., range(k), range(k)] += 4.0
    if dtype == "bfloat16":
        return torch.tensor(m, dtype=torch.float32).to(torch.bfloat16)
    return m.astype(dtype)


def via_float32(name, **fixed):
    """Keras's op run on the input made float32 and the floating results cast back: the truth for the dtypes
    Keras's torch backend rejects (integers: torch has no integer linear algebra; float16/bfloat16: no CPU
    kernels). Results keep the input's float dtype, integers give floatx."""
    def fn(k, *args, **kwargs):
        src = args[0]
        target = src.dtype if isinstance(src, torch.Tensor) and src.dtype.is_floating_point else (
            torch.float16 if getattr(src, "dtype", None) == np.float16 else torch.float32)
        args = tuple(torch.as_tensor(np.asarray(a.float() if isinstance(a, torch.Tensor) else a, "float32"))
                     for a in args)
        out = getattr(k.linalg, name)(*args, **kwargs, **fixed)

        def back(t):
            return t.to(target) if t.dtype.is_floating_point else t
        return tuple(back(t) for t in out) if isinstance(out, tuple) else back(out)
    return fn


LOW = "Keras's torch backend has no float16/bfloat16 or integer kernels; lamina computes in float32"
A3 = well((3, 3), seed=1)
B3 = sample((3, 2), seed=2)
TRI = np.triu(well((3, 3), seed=3))
I3 = np.array([[2, 1, 0], [1, 3, 1], [0, 1, 4]], "int32")

CASES = [
    Case("linalg.cholesky", (spd(3),), rtol=1e-4, atol=1e-5),
    Case("linalg.cholesky", (spd(3, (2,), "float64"),), {"upper": True}),
    Case("linalg.cholesky", (I3,), keras_fn=via_float32("cholesky"), note=LOW),
    Case("linalg.cholesky", (spd(2, dtype="float16"),), keras_fn=via_float32("cholesky"), note=LOW, rtol=1e-3,
         atol=1e-3),
    Case("linalg.cholesky_inverse", (np.linalg.cholesky(spd(3)),), rtol=1e-4, atol=1e-5),
    Case("linalg.cholesky_inverse", (np.linalg.cholesky(spd(3, dtype="float64")).T,), {"upper": True}),
    Case("linalg.det", (A3,), rtol=1e-4),
    Case("linalg.det", (well((2, 3, 3), "float64", seed=4),)),
    Case("linalg.det", (I3,), keras_fn=via_float32("det"), note=LOW, rtol=1e-5),
    Case("linalg.det", (well((2, 2), "bfloat16", seed=5),), keras_fn=via_float32("det"), note=LOW, rtol=1e-2),
    Case("linalg.det", (np.zeros((0, 0), "float32"),)),
    Case("linalg.eig", (A3,), rtol=1e-4, atol=1e-5),
    Case("linalg.eig", (I3,), keras_fn=via_float32("eig"), note=LOW, rtol=1e-4, atol=1e-5),
    Case("linalg.eigh", (spd(3),), rtol=1e-4, atol=1e-5),
    Case("linalg.eigh", (spd(3, (2,), "float64"),)),
    Case("linalg.inv", (A3,), rtol=1e-4, atol=1e-5),
    Case("linalg.inv", (well((2, 3, 3), "float64", seed=6),)),
    Case("linalg.inv", (np.zeros((2, 0, 0), "float32"),)),
    Case("linalg.inv", (I3,), keras_fn=via_float32("inv"), note=LOW, rtol=1e-5),
    Case("linalg.inv", (well((2, 2), "float16", seed=7),), keras_fn=via_float32("inv"), note=LOW, rtol=1e-3,
         atol=1e-3),
    Case("linalg.lstsq", (well((4, 3), seed=8), sample((4, 2), seed=9)), rtol=1e-4, atol=1e-5),
    Case("linalg.lstsq", (well((4, 3), seed=8), sample((4,), seed=10)), rtol=1e-4, atol=1e-5),
    Case("linalg.lstsq", (well((3, 3), "float64", seed=8), sample((3,), "float64", seed=10)), {"rcond": 1e-3}),
    Case("linalg.lstsq", (np.array([[1.0, 1.0], [1.0, 1.0]], "float32"), np.array([2.0, 2.0], "float32")),
         keras_fn=lambda k, a, b: np.linalg.lstsq(a, b, rcond=None)[0], check_dtype=False, rtol=1e-5,
         note="rank-deficient: the minimum-norm solution, as NumPy gives (torch's CPU default driver is gelsy)"),
    Case("linalg.lu_factor", (A3,), rtol=1e-5, atol=1e-6),
    Case("linalg.lu_factor", (well((2, 3, 3), "float64", seed=11),)),
    Case("linalg.lu_factor", (np.array([[1, 2, 0], [3, 1, 2], [0, 1, 5]], "int32"),),
         keras_fn=via_float32("lu_factor"), note=LOW),
    Case("linalg.matrix_rank", (np.array([[1.0, 2.0], [2.0, 4.0]], "float32"),)),
    Case("linalg.matrix_rank", (sample((2, 3, 4), seed=12),)),
    Case("linalg.matrix_rank", (np.array([[1.0, 0.0], [0.0, 1e-3]], "float32"),), {"tol": 1e-2}),
    Case("linalg.matrix_rank", (np.eye(3, dtype="int32"),), keras_fn=via_float32("matrix_rank"), note=LOW),
    Case("linalg.norm", (sample((3, 4), seed=13),)),
    Case("linalg.norm", (sample((2, 3, 4), seed=14),)),
    Case("linalg.norm", (sample((2, 3, 4), seed=14),), {"axis": -1, "keepdims": True}),
    Case("linalg.norm", (sample((2, 3, 4), seed=14),), {"axis": (0, 2)}, rtol=1e-4),
    Case("linalg.norm", (sample((2, 3, 4), seed=14),), {"axis": [1], "ord": 1}),
    Case("linalg.norm", (sample((5,), seed=15),), {"ord": np.inf}),
    Case("linalg.norm", (sample((5,), seed=15),), {"ord": -np.inf}),
    Case("linalg.norm", (np.array([0.0, 2.0, 0.0, -1.0], "float32"),), {"ord": 0}),
    Case("linalg.norm", (sample((5,), seed=15),), {"ord": 3}),
    Case("linalg.norm", (sample((3, 4), seed=16),), {"ord": "fro"}),
    Case("linalg.norm", (sample((3, 4), seed=16),), {"ord": "nuc"}, rtol=1e-4),
    Case("linalg.norm", (sample((3, 4), seed=16),), {"ord": 2}, rtol=1e-4),
    Case("linalg.norm", (sample((3, 4), seed=16),), {"ord": -2}, rtol=1e-4),
    Case("linalg.norm", (sample((3, 4), seed=16),), {"ord": 1, "keepdims": True}),
    Case("linalg.norm", (sample((3, 4), seed=16),), {"ord": -np.inf}),
    Case("linalg.norm", (sample((2, 3, 4), "float64", seed=17),), {"ord": np.inf, "axis": (2, 1)}),
    Case("linalg.norm", (np.array([[1, 2], [3, 4]], "int32"),), {"ord": "fro"}),
    Case("linalg.norm", (sample((3, 4), "float16", seed=18),), {"axis": 1}, rtol=2e-3, atol=2e-3),
    Case("linalg.norm", (np.zeros((0,), "float32"),)),
    Case("linalg.norm", (np.float32(-3.0),)),
    Case("linalg.pinv", (sample((3, 4), seed=19),), rtol=1e-4, atol=1e-5),
    Case("linalg.pinv", (sample((2, 4, 3), "float64", seed=20),), {"rcond": 1e-6}),
    Case("linalg.qr", (sample((4, 3), seed=21),), rtol=1e-4, atol=1e-5),
    Case("linalg.qr", (sample((4, 3), seed=21),), {"mode": "complete"}, rtol=1e-4, atol=1e-5),
    Case("linalg.qr", (sample((2, 3, 3), "float64", seed=22),)),
    Case("linalg.solve", (A3, B3), rtol=1e-4, atol=1e-5),
    Case("linalg.solve", (A3, sample((3,), seed=23)), rtol=1e-4, atol=1e-5),
    Case("linalg.solve", (well((2, 3, 3), "float64", seed=24), sample((2, 3, 2), "float64", seed=25))),
    Case("linalg.solve", (A3, sample((3, 2), "float64", seed=26)),
         keras_fn=lambda k, a, b: k.linalg.solve(torch.as_tensor(a, dtype=torch.float64), b),
         note="Keras's torch backend does not promote float32 with float64 (torch raises)"),
    Case("linalg.solve_triangular", (TRI, B3), rtol=1e-4, atol=1e-5),
    Case("linalg.solve_triangular", (TRI.T.copy(), B3), {"lower": True}, rtol=1e-4, atol=1e-5),
    Case("linalg.solve_triangular", (TRI, sample((3,), seed=27)), rtol=1e-4, atol=1e-5),
    Case("linalg.svd", (sample((4, 3), seed=28),), rtol=1e-4, atol=1e-5),
    Case("linalg.svd", (sample((3, 4), seed=28),), {"full_matrices": False}, rtol=1e-4, atol=1e-5),
    Case("linalg.svd", (sample((2, 3, 3), "float64", seed=29),), {"compute_uv": False}),
    Case("linalg.svd", (I3,), keras_fn=via_float32("svd"), note=LOW, rtol=1e-4, atol=1e-5),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_parity(case, keras):
    check_case(case, keras)


def test_top_level_names():
    import keras

    for name in ops.linalg.__all__:
        assert getattr(ops, name) is getattr(ops.linalg, name)
        assert hasattr(keras.ops.linalg, name)


# ------------------------------------------------------------------------------------------- gradients
def _sym(m):
    return m @ m.transpose(-1, -2) + 3 * torch.eye(m.shape[-1], dtype=m.dtype)


GRADS = {
    "cholesky": (lambda m: ops.cholesky(_sym(m)), [(3, 3)]),
    "cholesky_upper": (lambda m: ops.cholesky(_sym(m), upper=True), [(2, 3, 3)]),
    "cholesky_inverse": (lambda m: ops.cholesky_inverse(torch.linalg.cholesky(_sym(m))), [(3, 3)]),
    "det": (lambda m: ops.det(m), [(2, 3, 3)]),
    "eig_values": (lambda m: ops.eig(_sym(m))[0].real, [(3, 3)]),
    "eigh": (lambda m: ops.eigh(_sym(m))[0], [(3, 3)]),
    "inv": (lambda m: ops.inv(m + 4 * torch.eye(3, dtype=m.dtype)), [(3, 3)]),
    "lstsq": (lambda a, b: ops.lstsq(a + 4 * torch.eye(4, 3, dtype=a.dtype), b), [(4, 3), (4, 2)]),
    "lu_factor": (lambda m: ops.lu_factor(m + 4 * torch.eye(3, dtype=m.dtype))[0], [(3, 3)]),
    "pinv": (lambda m: ops.pinv(m), [(3, 4)]),
    "qr": (lambda m: ops.qr(m), [(4, 3)]),
    "solve": (lambda a, b: ops.solve(a + 4 * torch.eye(3, dtype=a.dtype), b), [(3, 3), (3, 2)]),
    "solve_triangular": (lambda a, b: ops.solve_triangular(torch.triu(a) + 4 * torch.eye(3, dtype=a.dtype), b),
                         [(3, 3), (3,)]),
    "svd_values": (lambda m: ops.svd(m, compute_uv=False), [(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_grad(name):
    fn, shapes = GRADS[name]
    xs = tuple(torch.tensor(sample(s, "float64", seed=40 + i), requires_grad=True) for i, s in enumerate(shapes))
    assert torch.autograd.gradcheck(fn, xs, eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kwargs", [{}, {"axis": -1}, {"ord": "nuc"}, {"ord": np.inf, "axis": (0, 1)}, {"ord": 3}],
                         ids=str)
def test_norm_grad_matches_keras(kwargs, keras):
    # norm gives float32 for float64 input (as Keras), so gradcheck's float64 differences do not apply: the
    # gradient is compared with Keras's instead.
    grads = []
    for o in (ops, keras.ops):
        x = torch.tensor(sample((3, 4), seed=60), requires_grad=True)
        o.linalg.norm(x if kwargs.get("ord") != 3 else x[0], **kwargs).sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1])


# ------------------------------------------------------------------------------------------- jvp
def test_jvp_matches_keras(keras):
    a1, a2 = torch.tensor(0.1), torch.tensor(0.2)
    ours = ops.jvp(torch.sin, (a1,), (a2,))
    theirs = keras.ops.linalg.jvp(torch.sin, (a1,), (a2,))
    torch.testing.assert_close(ours, theirs)
    x, t = torch.tensor(sample((3,), seed=50)), torch.tensor(sample((3,), seed=51))
    fn = lambda a, b: (a * b, {"s": (a ** 2).sum()})  # noqa: E731
    ours = ops.jvp(fn, [x, x], [t, t])
    theirs = keras.ops.linalg.jvp(fn, (x, x), (t, t))
    torch.testing.assert_close(ours, theirs)
    primal, tangent, aux = ops.jvp(lambda a: (a * 3, a.sum()), (x,), (t,), has_aux=True)
    torch.testing.assert_close(tangent, t * 3)
    torch.testing.assert_close(aux, x.sum())


def test_jvp_converts_inputs():
    out, tangent = ops.jvp(lambda a: a * a, (np.array([2.0], "float32"),), (np.array([1.0], "float32"),))
    assert out.tolist() == [4.0] and tangent.tolist() == [4.0]
    with pytest.raises(ValueError):
        ops.jvp(lambda a: a, torch.ones(1), torch.ones(1))


def test_errors():
    with pytest.raises(ValueError, match="positive-definite"):
        ops.cholesky(np.array([[1.0, 2.0], [2.0, 1.0]], "float32"))
    with pytest.raises(ValueError, match="mode"):
        ops.qr(np.eye(2), mode="r")


def test_meta_device():
    m = torch.empty(2, 3, 3, device="meta")
    assert ops.cholesky(m).shape == (2, 3, 3)
    assert ops.inv(m).shape == (2, 3, 3) and ops.det(m).shape == (2,)
    assert ops.solve(m, torch.empty(2, 3, 1, device="meta")).shape == (2, 3, 1)
    assert ops.norm(m, axis=(1, 2)).shape == (2,)
    assert [t.shape for t in ops.svd(torch.empty(4, 3, device="meta"), full_matrices=False)] == [(4, 3), (3,), (3, 3)]
