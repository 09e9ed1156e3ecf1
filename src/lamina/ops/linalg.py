"""``keras.ops.linalg`` on ``torch.linalg``: decompositions, solves, inverses, norms and forward-mode products.

Integer and bool inputs compute in ``floatx()``. float16 and bfloat16 inputs compute in float32 (torch's CPU
linear algebra has no half-precision kernels) and come back in their own dtype; Keras's torch backend raises
for both. All names are also at ``lamina.ops``.

>>> inv([[2.0, 0.0], [0.0, 4.0]]).tolist()
[[0.5, 0.0], [0.0, 0.25]]
>>> float(norm([3.0, 4.0]))
5.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lamina.core import tree
from lamina.ops import dtypes
from lamina.ops.dispatch import canonical_axis, float_dtype, op, promoted, tensor

__all__ = [
    "cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "jvp", "lstsq", "lu_factor", "matrix_rank",
    "norm", "pinv", "qr", "solve", "solve_triangular", "svd",
]

_HALF = (torch.float16, torch.bfloat16)


def _prepare(*values: Any) -> tuple[list[torch.Tensor], torch.dtype]:
    """The values as tensors of one dtype to compute in, and the float dtype the results take."""
    parts, common = promoted(*values) if len(values) > 1 else ([tensor(values[0])], None)
    result = float_dtype(parts[0]) if common is None else float_dtype(torch.empty(0, dtype=common))
    work = torch.float32 if result in _HALF else result
    return [p.to(work) for p in parts], result


def _back(t: torch.Tensor, result: torch.dtype) -> torch.Tensor:
    if t.dtype.is_floating_point and t.dtype != result:
        return t.to(result)
    return t


@op
def cholesky(x: Any, upper: bool = False) -> torch.Tensor:
    """The Cholesky factor of the symmetric positive-definite ``x`` (lower, or upper if ``upper``)."""
    (x,), result = _prepare(x)
    factor, info = torch.linalg.cholesky_ex(x, upper=upper)
    if x.device.type != "meta" and bool((info != 0).any()):
        raise ValueError("Cholesky decomposition failed: the input is not positive-definite.")
    return _back(factor, result)


@op
def cholesky_inverse(x: Any, upper: bool = False) -> torch.Tensor:
    """The inverse of a symmetric positive-definite matrix from its Cholesky factor ``x``."""
    (x,), result = _prepare(x)
    return _back(torch.cholesky_inverse(x, upper=upper), result)


@op
def det(x: Any) -> torch.Tensor:
    """The determinant of the square matrices in ``x`` (..., M, M)."""
    (x,), result = _prepare(x)
    return _back(torch.linalg.det(x), result)


@op
def eig(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and eigenvectors of the square matrices in ``x``, both complex."""
    (x,), _ = _prepare(x)
    w, v = torch.linalg.eig(x)
    return w, v


@op
def eigh(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) and eigenvectors of the symmetric/Hermitian matrices in ``x``."""
    (x,), result = _prepare(x)
    w, v = torch.linalg.eigh(x)
    return _back(w, result), _back(v, result)


@op
def inv(x: Any) -> torch.Tensor:
    """The inverse of the square matrices in ``x``."""
    (x,), result = _prepare(x)
    return _back(torch.linalg.inv(x), result)


@op
def jvp(fun: Callable, primals: Any, tangents: Any, has_aux: bool = False) -> tuple:
    """Forward-mode Jacobian-vector product: ``(fun(*primals), J @ tangents)`` (and ``aux`` if ``has_aux``),
    by ``torch.func.jvp``."""
    if not isinstance(primals, (list, tuple)) or not isinstance(tangents, (list, tuple)):
        raise ValueError("jvp: primals and tangents must be tuples or lists of arguments.")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents.")
    p = tuple(tree.map_structure(tensor, v) for v in primals)
    t = tuple(tree.map_structure(tensor, v) for v in tangents)
    return tuple(torch.func.jvp(fun, p, t, has_aux=has_aux))


@op
def lstsq(a: Any, b: Any, rcond: float | None = None) -> torch.Tensor:
    """The least-squares (and, if several, minimum-norm) solution ``x`` of ``a @ x = b``; singular values
    below ``rcond`` times the largest count as zero (default: machine epsilon times max(M, N))."""
    (a, b), result = _prepare(a, b)
    vector = b.ndim == a.ndim - 1
    if rcond is None:
        rcond = torch.finfo(a.dtype).eps * max(a.shape[-2], a.shape[-1])
    solution = torch.linalg.pinv(a, rtol=rcond) @ (b.unsqueeze(-1) if vector else b)
    return _back(solution.squeeze(-1) if vector else solution, result)


@op
def lu_factor(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The packed LU factorization of ``x`` and its pivots (0-based row swaps, int32)."""
    (x,), result = _prepare(x)
    lu, pivots = torch.linalg.lu_factor(x)
    return _back(lu, result), (pivots - 1).to(torch.int32)


@op
def matrix_rank(x: Any, tol: float | None = None) -> torch.Tensor:
    """The rank of the matrices in ``x``: the number of singular values above ``tol`` (default: the largest
    singular value times machine epsilon times max(M, N)), as int32."""
    (x,), _ = _prepare(x)
    rank = torch.linalg.matrix_rank(x) if tol is None else torch.linalg.matrix_rank(x, atol=tol, rtol=0.0)
    return rank.to(torch.int32)


@op
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A002
    """A vector norm (``axis`` an int) or matrix norm (``axis`` a pair) of ``x``; ``axis=None`` takes the
    whole of a vector or matrix (and, with ``ord=None``, the 2-norm of any tensor flattened).

    The result is float32 for float64 input, as in Keras (``result_type(x.dtype, float)``)."""
    x = tensor(x)
    result = dtypes.to_torch(dtypes.result_type(x.dtype, float))  # as Keras: float64 gives float32 here
    x = x.to(torch.float32 if result in _HALF else result)
    axis = canonical_axis(axis)
    if isinstance(axis, tuple) and len(axis) == 1:
        axis = axis[0]
    return _back(torch.linalg.norm(x, ord=ord, dim=axis, keepdim=keepdims), result)


@op
def pinv(x: Any, rcond: float | None = None) -> torch.Tensor:
    """The Moore-Penrose pseudo-inverse of ``x``; singular values below ``rcond`` times the largest count as
    zero (default: machine epsilon times max(M, N))."""
    (x,), result = _prepare(x)
    return _back(torch.linalg.pinv(x) if rcond is None else torch.linalg.pinv(x, rtol=rcond), result)


@op
def qr(x: Any, mode: str = "reduced") -> tuple[torch.Tensor, torch.Tensor]:
    """The QR decomposition ``(q, r)`` of ``x``; ``mode`` "reduced" or "complete"."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: mode must be 'reduced' or 'complete', got {mode!r}.")
    (x,), result = _prepare(x)
    q, r = torch.linalg.qr(x, mode=mode)
    return _back(q, result), _back(r, result)


@op
def solve(a: Any, b: Any) -> torch.Tensor:
    """The solution ``x`` of ``a @ x = b`` for square ``a`` (``b`` a vector or a matrix of columns)."""
    (a, b), result = _prepare(a, b)
    return _back(torch.linalg.solve(a, b), result)


@op
def solve_triangular(a: Any, b: Any, lower: bool = False) -> torch.Tensor:
    """The solution ``x`` of ``a @ x = b`` for triangular ``a`` (upper unless ``lower``)."""
    (a, b), result = _prepare(a, b)
    vector = b.ndim == a.ndim - 1
    solution = torch.linalg.solve_triangular(a, b.unsqueeze(-1) if vector else b, upper=not lower)
    return _back(solution.squeeze(-1) if vector else solution, result)


@op
def svd(x: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """The singular value decomposition ``(u, s, vh)`` of ``x`` (``x = u @ diag(s) @ vh``), or only ``s``
    when ``compute_uv`` is False."""
    (x,), result = _prepare(x)
    if not compute_uv:
        return _back(torch.linalg.svdvals(x), result)
    u, s, vh = torch.linalg.svd(x, full_matrices=full_matrices)
    return _back(u, result), _back(s, result), _back(vh, result)

