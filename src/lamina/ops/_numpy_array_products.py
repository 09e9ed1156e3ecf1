"""Products, complex parts and ``vectorize`` of ``keras.ops.numpy``.

Result dtypes follow Keras's torch backend: ``matmul``, ``dot``, ``inner``, ``tensordot``, ``vdot``, ``cross`` and
``vander`` give Keras's ``result_type`` (64-bit made 32-bit; ``int8 @ int8`` is int32 in ``matmul``/``einsum``);
``outer``, ``kron`` and ``einsum`` keep 64-bit dtypes. Integer products run exactly on the CPU; on accelerators,
which lack integer matrix products, they go through float64 (exact below 2**53).

>>> matmul([[1, 2]], [[3], [4]]).tolist()
[[11]]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lamina.ops import dtypes
from lamina.ops.dispatch import op, promoted, tensor

__all__ = [
    "angle", "conj", "conjugate", "cross", "dot", "einsum", "imag", "inner", "kron", "matmul", "outer", "real",
    "tensordot", "trace", "vander", "vdot", "vectorize",
]

_CANONICAL = {torch.int64: torch.int32, torch.uint64: torch.uint32, torch.float64: torch.float32,
              torch.complex128: torch.complex64}


def _t(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else tensor(x)


def _operands(*values: Any, canonical: bool, int8_widens: bool = False) -> tuple[list[torch.Tensor], torch.dtype]:
    """The values as tensors and the dtype of their product, by Keras's rules."""
    parts, dtype = promoted(*values)
    if canonical:
        dtype = _CANONICAL.get(dtype, dtype)
    if int8_widens and all(p.dtype == torch.int8 for p in parts):
        dtype = torch.int32
    return parts, dtype


def _compute(fn: Callable, parts: list[torch.Tensor], out: torch.dtype) -> torch.Tensor:
    """``fn(*parts)`` in a dtype torch multiplies in on the parts' device, cast to ``out`` (bools: ``!= 0``)."""
    device = parts[0].device
    if out.is_floating_point or out.is_complex:
        work = out
    elif device.type in ("cpu", "meta"):
        work = torch.int64 if out in (torch.bool, torch.uint16, torch.uint32, torch.uint64) else out
    else:
        work = torch.float64
    result = fn(*(p.to(work) for p in parts))
    if out == torch.bool:
        return result != 0
    if work.is_floating_point and not out.is_floating_point:
        result = torch.round(result)
    return result.to(out)


@op
def matmul(x1: Any, x2: Any) -> torch.Tensor:
    """The matrix product of ``x1`` and ``x2`` (NumPy's ``matmul``: batched, 1-D operands promoted)."""
    parts, out = _operands(x1, x2, canonical=True, int8_widens=True)
    return _compute(torch.matmul, parts, out)


def _tensordot(a: torch.Tensor, b: torch.Tensor, axes: Any) -> torch.Tensor:
    return torch.tensordot(a, b, dims=axes)


@op
def tensordot(x1: Any, x2: Any, axes: Any = 2) -> torch.Tensor:
    """The sum of products over ``axes`` (an int: the last ``axes`` of ``x1`` with the first of ``x2``; or a pair
    of axis lists)."""
    parts, out = _operands(x1, x2, canonical=True)
    if isinstance(axes, (int, np.integer)):
        dims: Any = int(axes)
    else:
        first, second = axes
        dims = ([int(a) for a in np.atleast_1d(first)], [int(a) for a in np.atleast_1d(second)])
    return _compute(lambda a, b: _tensordot(a, b, dims), parts, out)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim == 1:
        return torch.tensordot(a, b, dims=([a.ndim - 1], [0]))
    return torch.tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 2]))


@op
def dot(x1: Any, x2: Any) -> torch.Tensor:
    """NumPy's ``dot``: a product for scalars, the matrix product for 2-D, and for N-D the sum over the last axis
    of ``x1`` and the second-to-last of ``x2`` (Keras's torch backend fails on N-D by M-D)."""
    parts, out = _operands(x1, x2, canonical=True)
    return _compute(_dot, parts, out)


@op
def inner(x1: Any, x2: Any) -> torch.Tensor:
    """The inner product over the last axes of ``x1`` and ``x2`` (a product for scalars)."""
    parts, out = _operands(x1, x2, canonical=True)

    def fn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.ndim == 0 or b.ndim == 0:
            return a * b
        return torch.tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 1]))

    return _compute(fn, parts, out)


@op
def outer(x1: Any, x2: Any) -> torch.Tensor:
    """The outer product of the flattened ``x1`` and ``x2``."""
    (a, b), _ = _operands(x1, x2, canonical=False)
    return a.reshape(-1, 1) * b.reshape(1, -1)


@op
def vdot(x1: Any, x2: Any) -> torch.Tensor:
    """The dot product of the flattened ``x1`` (conjugated) and ``x2`` (NumPy's rule; Keras's torch backend
    takes only 1-D)."""
    parts, out = _operands(x1, x2, canonical=True)

    def fn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a = a.reshape(-1)
        if a.is_complex():
            a = torch.conj_physical(a)
        return torch.sum(a * b.reshape(-1))

    return _compute(fn, parts, out)


@op
def kron(x1: Any, x2: Any) -> torch.Tensor:
    """The Kronecker product of ``x1`` and ``x2``."""
    (a, b), out = _operands(x1, x2, canonical=False)
    if out == torch.bool:
        return torch.kron(a.to(torch.uint8), b.to(torch.uint8)).to(torch.bool)
    return torch.kron(a, b)


_EINSUM_LETTERS = re.compile(r"[^a-zA-Z.,\->]")


@op
def einsum(subscripts: str, *operands: Any, **kwargs: Any) -> torch.Tensor:
    """Einstein summation over ``operands`` as ``subscripts`` says (mixed dtypes promoted, which Keras's torch
    backend refuses; bools too)."""
    if kwargs:
        raise TypeError(f"einsum takes no keyword arguments here; received {sorted(kwargs)}.")
    parts, out = _operands(*operands, canonical=False, int8_widens=True)
    spec = _EINSUM_LETTERS.sub("", subscripts)
    return _compute(lambda *xs: torch.einsum(spec, *xs), parts, out)


def _move_to_last(x: torch.Tensor, axis: int) -> torch.Tensor:
    return torch.movedim(x, axis, -1)


@op
def cross(x1: Any, x2: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: Any = None) -> torch.Tensor:
    """The cross product of 2- or 3-vectors along ``axisa``/``axisb`` (``axis`` sets all three), the result's
    vector axis at ``axisc``; two 2-vectors give the z component only (NumPy's rule; Keras's torch backend
    takes only 3-vectors)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    (a, b), out = _operands(x1, x2, canonical=True)
    if out == torch.bool:
        raise TypeError("cross does not take bool tensors.")
    a, b = _move_to_last(a, int(axisa)), _move_to_last(b, int(axisb))
    na, nb = a.shape[-1], b.shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"Incompatible vector sizes for cross: {na} and {nb} (each must be 2 or 3).")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    z = a0 * b1 - a1 * b0
    if na == 2 and nb == 2:
        return z.to(out)
    zero = torch.zeros((), dtype=a.dtype, device=a.device)
    a2 = a[..., 2] if na == 3 else zero
    b2 = b[..., 2] if nb == 3 else zero
    x = a1 * b2 - a2 * b1
    y = a2 * b0 - a0 * b2
    x, y, z = torch.broadcast_tensors(x, y, z)
    result = torch.stack([x, y, z], dim=-1)
    return torch.movedim(result, -1, int(axisc)).to(out)


_TRACE_WIDER = {torch.bool: torch.int32, torch.uint8: torch.int32, torch.int8: torch.int32, torch.int16: torch.int32,
                torch.uint16: torch.int32, torch.uint32: torch.int64}


@op
def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> torch.Tensor:
    """The sum of ``x``'s diagonal in the plane of ``axis1``/``axis2`` (small ints and bools sum as int32)."""
    t = _t(x)
    out = _TRACE_WIDER.get(t.dtype, t.dtype)
    diagonals = torch.diagonal(t, int(offset), int(axis1), int(axis2))
    return torch.sum(diagonals, dim=-1, dtype=out)


@op
def vander(x: Any, N: Any = None, increasing: bool = False) -> torch.Tensor:  # noqa: N803 (Keras's name)
    """The Vandermonde matrix of the 1-D ``x``: columns ``x**(N-1), ..., x**0`` (``increasing``: reversed)."""
    t = _t(x)
    if t.ndim != 1:
        raise ValueError(f"vander needs a 1-D input. Received shape {tuple(t.shape)}")
    out = _CANONICAL.get(t.dtype, t.dtype)
    n = t.shape[0] if N is None else int(N)
    if n == 0:
        return torch.zeros((t.shape[0], 0), dtype=out, device=t.device)
    work = torch.int64 if out == torch.bool else out
    base = t.to(work).unsqueeze(-1)
    columns = torch.cat([torch.ones_like(base), base.expand(-1, n - 1)], dim=-1)
    powers = torch.cumprod(columns, dim=-1)
    if not increasing:
        powers = torch.flip(powers, (-1,))
    return powers != 0 if out == torch.bool else powers.to(out)


# ----------------------------------------------------------------------------------------------- complex
@op
def real(x: Any) -> torch.Tensor:
    """The real part of ``x`` (``x`` itself for real tensors)."""
    t = _t(x)
    return torch.real(t) if t.is_complex() else t


@op
def imag(x: Any) -> torch.Tensor:
    """The imaginary part of ``x`` (zeros for real tensors, as in NumPy; Keras's torch backend raises)."""
    t = _t(x)
    return torch.imag(t) if t.is_complex() else torch.zeros_like(t)


@op
def conj(x: Any) -> torch.Tensor:
    """The complex conjugate of ``x`` (``x`` itself for real tensors)."""
    t = _t(x)
    return torch.conj_physical(t) if t.is_complex() else t


@op
def conjugate(x: Any) -> torch.Tensor:
    """The complex conjugate of ``x`` (same as ``conj``)."""
    return conj(x)


@op
def angle(x: Any) -> torch.Tensor:
    """The argument of each element of ``x`` in radians (0 or pi for reals; ints and bools give ``floatx()``)."""
    t = _t(x)
    if not t.is_complex() and not t.dtype.is_floating_point:
        t = t.to(dtypes.to_torch(None))
    return torch.angle(t)


# --------------------------------------------------------------------------------------------- vectorize
_CORE = re.compile(r"\(([^()]*)\)")


def _parse_signature(signature: str) -> tuple[list[list[str]], list[list[str]]]:
    inputs, _, outputs = signature.replace(" ", "").partition("->")

    def dims(part: str) -> list[list[str]]:
        return [[d for d in group.split(",") if d] for group in _CORE.findall(part)]

    return dims(inputs), dims(outputs)


@op(symbolic=False)
def vectorize(pyfunc: Callable, *, excluded: Any = None, signature: str | None = None) -> Callable:
    """``pyfunc`` made to map over the leading (broadcast) axes of its tensor arguments, with NumPy's
    ``signature`` naming the core axes each call sees (default: scalars). Runs ``torch.vmap`` over the flattened
    loop axes, falling back to a Python loop when ``pyfunc`` cannot be vmapped."""
    excluded = set(excluded or ())
    in_core, out_core = _parse_signature(signature) if signature else (None, None)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        positions = [i for i in range(len(args)) if i not in excluded]
        tensors = [_t(args[i]) for i in positions]
        cores = [len(in_core[j]) if in_core is not None else 0 for j in range(len(tensors))]
        loop = torch.broadcast_shapes(*(t.shape[:t.ndim - c] for t, c in zip(tensors, cores, strict=True)))
        count = int(np.prod(loop)) if loop else 1
        flat = [t.expand(tuple(loop) + t.shape[t.ndim - c:]).reshape((count,) + t.shape[t.ndim - c:])
                for t, c in zip(tensors, cores, strict=True)]

        def call(*xs: torch.Tensor) -> Any:
            full = list(args)
            for i, v in zip(positions, xs, strict=True):
                full[i] = v
            return pyfunc(*full, **kwargs)

        try:
            result = torch.vmap(call)(*flat) if count else None
        except Exception:  # noqa: BLE001 (not vmappable: one call per element)
            result = None
        if result is None:
            pieces = [call(*(f[i] for f in flat)) for i in range(count)]
            if pieces and isinstance(pieces[0], (tuple, list)):
                result = tuple(torch.stack([_t(p[k]) for p in pieces]) for k in range(len(pieces[0])))
            elif pieces:
                result = torch.stack([_t(p) for p in pieces])
            else:
                return _empty_result(loop, tensors, out_core)
        if isinstance(result, (tuple, list)):
            return tuple(r.reshape(tuple(loop) + r.shape[1:]) for r in result)
        return result.reshape(tuple(loop) + result.shape[1:])

    return wrapped


def _empty_result(loop: torch.Size, tensors: list[torch.Tensor], out_core: Any) -> torch.Tensor:
    dtype = tensors[0].dtype if tensors else dtypes.to_torch(None)
    device = tensors[0].device if tensors else None
    return torch.zeros(tuple(loop), dtype=dtype, device=device)
