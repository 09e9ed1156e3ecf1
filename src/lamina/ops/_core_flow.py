"""Core control-flow ops: conditionals, loops, scans, maps and custom gradients, as Python-level loops.

Part of ``lamina.ops.core`` (re-exported there and at ``lamina.ops``). The loops run eagerly, so autograd
records every step and gradients flow through them. Loop state, scan carries and outputs may be nested
lists, tuples and dicts of tensors (dicts flatten in sorted-key order, as in Keras).

On the meta device (a functional model inferring shapes) a condition has no value: ``cond`` and ``switch``
run every branch and return the first one's result, ``while_loop`` runs its body once.

>>> import torch
>>> carry, ys = scan(lambda c, x: (c + x, c * x), 0, torch.tensor([1, 2, 3]))
>>> int(carry), ys.tolist()
(6, [0, 2, 9])
>>> while_loop(lambda i: i < 10, lambda i: i + 2, 0).item()
10
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lamina.core import tree
from lamina.ops.dispatch import op, tensor

__all__ = [
    "associative_scan", "cond", "custom_gradient", "fori_loop", "map", "scan", "switch", "vectorized_map",
    "while_loop",
]


def _on_meta(*values: Any) -> bool:
    return builtins.any(isinstance(v, torch.Tensor) and v.device.type == "meta" for v in tree.flatten(list(values)))


def _to_tensors(structure: Any) -> Any:
    """Every leaf of ``structure`` as a tensor (None leaves stay None)."""
    return tree.map_structure(lambda v: v if v is None else tensor(v), structure)


# --------------------------------------------------------------------------------------- conditionals
@op
def cond(pred: Any, true_fn: Callable, false_fn: Callable) -> Any:
    """``true_fn()`` if ``pred`` else ``false_fn()`` (``pred`` a Python bool or a one-element tensor)."""
    if _on_meta(pred):
        out = true_fn()
        false_fn()
        return out
    return true_fn() if bool(pred) else false_fn()


@op
def switch(index: Any, branches: Sequence[Callable], *operands: Any) -> Any:
    """``branches[index](*operands)``, with ``index`` clipped to the valid range."""
    if not branches:
        raise ValueError("switch: branches is empty.")
    if _on_meta(index):
        outs = [branch(*operands) for branch in branches]
        return outs[0]
    which = builtins.min(builtins.max(int(index), 0), len(branches) - 1)
    return branches[which](*operands)


# --------------------------------------------------------------------------------------- loops
@op
def while_loop(cond: Callable, body: Callable, loop_vars: Any, maximum_iterations: int | None = None) -> Any:
    """Run ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (at most ``maximum_iterations`` times).

    ``loop_vars`` that is a list or tuple is passed positionally and comes back as a tuple; any other
    structure (a tensor, a dict) is passed as one argument. Leaves become tensors."""
    positional = isinstance(loop_vars, (list, tuple))
    state = tuple(_to_tensors(list(loop_vars))) if positional else _to_tensors(loop_vars)

    def call(fn: Callable, values: Any) -> Any:
        return fn(*values) if positional else fn(values)

    def step(values: Any) -> Any:
        out = call(body, values)
        if positional:
            out = tuple(out) if isinstance(out, (list, tuple)) else (out,)
            if len(out) != len(values):
                raise ValueError(f"while_loop: body returned {len(out)} values for {len(values)} loop variables.")
        return _to_tensors(out)

    if _on_meta(state):
        return step(state)  # shapes only: the carry keeps its shape, one step shows the result's
    count = 0
    while (maximum_iterations is None or count < int(maximum_iterations)) and bool(call(cond, state)):
        state = step(state)
        count += 1
    return state


@op
def fori_loop(lower: Any, upper: Any, body_fun: Callable, init_val: Any) -> Any:
    """Run ``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)`` and return ``val``.

    ``i`` is a Python int; ``init_val`` is passed through unchanged (Python numbers stay Python numbers)."""
    if _on_meta(lower, upper):
        return body_fun(lower, init_val)
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def _leading_size(leaves: list, what: str) -> int:
    sizes = {int(leaf.shape[0]) for leaf in leaves if leaf is not None and leaf.ndim > 0}
    if builtins.any(leaf is not None and leaf.ndim == 0 for leaf in leaves):
        raise ValueError(f"{what}: every array in xs needs a leading axis to scan over; got a scalar.")
    if len(sizes) > 1:
        raise ValueError(f"{what}: the arrays in xs differ in leading size: {sorted(sizes)}.")
    return sizes.pop() if sizes else 0


def _stack_outputs(outputs: list, example: Any) -> Any:
    """Stack per-step outputs (each a structure like ``example``) leaf by leaf along a new leading axis."""
    if example is None:
        return None
    columns = [tree.flatten(o) for o in outputs]
    width = len(columns[0])
    stacked = []
    for j in range(width):
        parts = [tensor(c[j]) for c in columns]
        stacked.append(torch.stack(parts) if parts else None)
    return tree.pack_as(example, stacked)


@op
def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None, reverse: bool = False,
         unroll: int | bool = 1) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; return ``(carry, stacked ys)``.

    ``xs`` None loops ``length`` times with ``x=None``; ``reverse`` walks the axis backwards (ys keep the
    order of xs). ``unroll`` is accepted and has no effect. A step returning ``y=None`` gives ``ys=None``
    (as on JAX; Keras's torch backend gives a list of zeros)."""
    del unroll
    carry = _to_tensors(init)
    x_leaves = [tensor(v) for v in tree.flatten(xs)] if xs is not None else []
    if xs is not None:
        n = _leading_size(x_leaves, "scan")
        if length is not None and int(length) != n:
            raise ValueError(f"scan: length={length} but xs has leading size {n}.")
    elif length is None:
        raise ValueError("scan: give xs or length.")
    else:
        n = int(length)

    def x_at(i: int) -> Any:
        return None if xs is None else tree.pack_as(xs, [leaf[i] for leaf in x_leaves])

    if n == 0:  # no step runs: trace one on zeros to learn the shape and dtype of y
        probe = None if xs is None else tree.pack_as(xs, [leaf.new_zeros(leaf.shape[1:]) for leaf in x_leaves])
        _, y = f(carry, probe)
        if y is None:
            return carry, None
        leaves = [tensor(v) for v in tree.flatten(y)]
        return carry, tree.pack_as(y, [v.new_zeros((0, *v.shape)) for v in leaves])
    order = range(n - 1, -1, -1) if reverse else range(n)
    ys = []
    for i in order:
        carry, y = f(carry, x_at(i))
        ys.append(y)
    if reverse:
        ys.reverse()
    carry = _to_tensors(carry)
    first = ys[0]
    if first is None:
        return carry, None
    return carry, _stack_outputs(ys, first)


@op
def map(f: Callable, xs: Any) -> Any:
    """``f`` applied to each slice of ``xs`` along its leading axis, the results stacked (nested ``xs``
    and outputs allowed)."""
    _, ys = scan(lambda carry, x: (carry, f(x)), (), xs)
    return ys


def _combine_scan(f: Callable, leaves: list[torch.Tensor], axis: int, structure: Any) -> list[torch.Tensor]:
    """Inclusive prefix combination of ``leaves`` along ``axis`` with ``f``, in O(log n) calls of ``f``:
    pairs are combined, the half-size sequence scanned recursively, and the even positions filled in."""
    n = leaves[0].shape[axis]
    if n < 2:
        return leaves

    def take(start: int, stop: int | None = None, step: int = 1) -> list[torch.Tensor]:
        index = [builtins.slice(None)] * leaves[0].ndim
        index[axis] = builtins.slice(start, stop, step)
        return [leaf[tuple(index)] for leaf in leaves]

    def apply(a: list, b: list) -> list:
        return [tensor(v) for v in tree.flatten(f(tree.pack_as(structure, a), tree.pack_as(structure, b)))]

    pairs = apply(take(0, n - 1, 2), take(1, None, 2))  # positions 1, 3, 5, ...
    odd = _combine_scan(f, pairs, axis, structure)
    if n % 2 == 0:
        even_rest = apply([o.narrow(axis, 0, o.shape[axis] - 1) for o in odd], take(2, None, 2))
    else:
        even_rest = apply(odd, take(2, None, 2))
    first = take(0, 1)
    even = [torch.cat([a, b], dim=axis) for a, b in zip(first, even_rest, strict=True)]
    out = []
    for e, o in zip(even, odd, strict=True):
        m = o.shape[axis]
        woven = torch.stack([e.narrow(axis, 0, m), o], dim=axis + 1)
        woven = woven.reshape(*o.shape[:axis], 2 * m, *o.shape[axis + 1:])
        if e.shape[axis] > m:
            woven = torch.cat([woven, e.narrow(axis, m, 1)], dim=axis)
        out.append(woven)
    return out


@op
def associative_scan(f: Callable, elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """Inclusive scan of ``elems`` along ``axis`` with the associative ``f(a, b)``, in O(log n) steps.

    The result's ``k``-th entry combines entries ``0..k``. Deviation: Keras's torch backend returns float
    for integer input; lamina keeps the input dtype (as on JAX)."""
    leaves = [tensor(v) for v in tree.flatten(elems)]
    if not leaves:
        return elems
    ndim = leaves[0].ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"associative_scan: axis {axis} is out of range for arrays of rank {ndim}.")
    axis = axis % ndim
    sizes = {int(leaf.shape[axis]) for leaf in leaves}
    if len(sizes) > 1:
        raise ValueError(f"associative_scan: the arrays in elems differ in size along axis {axis}: {sorted(sizes)}.")
    if reverse:
        leaves = [leaf.flip(axis) for leaf in leaves]
    out = _combine_scan(f, leaves, axis, elems)
    if reverse:
        out = [leaf.flip(axis) for leaf in out]
    return tree.pack_as(elems, out)


@op
def vectorized_map(function: Callable, elements: Any) -> Any:
    """``function`` over the leading axis of ``elements`` (nested allowed), vectorized with ``torch.func.vmap``
    where the function allows it and looped (as ``map``) where it does not."""
    elements = _to_tensors(elements)
    try:
        return torch.func.vmap(function)(elements)
    except Exception:  # noqa: BLE001 - vmap rejects data-dependent code; the plain loop handles it
        return map(function, elements)


# --------------------------------------------------------------------------------------- custom gradients
class _CustomGradient(torch.autograd.Function):
    """Runs ``f`` in the forward pass and its ``grad_fn`` in the backward pass. ``holder`` (a dict) carries
    the output's structure back to the caller."""

    @staticmethod
    def forward(ctx: Any, f: Callable, spec: Any, holder: dict, *flat: Any) -> Any:
        args, kwargs = tree.pack_as(spec, list(flat))
        output, grad_fn = f(*args, **kwargs)
        ctx.grad_fn = grad_fn
        ctx.args = args
        ctx.tensor_positions = [i for i, v in enumerate(flat) if isinstance(v, torch.Tensor)]
        ctx.output = output
        holder["output"] = output
        leaves = [tensor(v) for v in tree.flatten(output)]
        for leaf in leaves:
            if not (leaf.dtype.is_floating_point or leaf.dtype.is_complex):
                ctx.mark_non_differentiable(leaf)
        return tuple(leaves)

    @staticmethod
    def backward(ctx: Any, *upstream: Any) -> Any:
        nested = tree.is_nested(ctx.output)
        grads_in = tree.pack_as(ctx.output, list(upstream)) if nested else upstream[0]
        grads = ctx.grad_fn(*ctx.args, upstream=grads_in)
        grads = tree.flatten(grads) if isinstance(grads, (list, tuple)) else [grads]
        n_flat = len(ctx.needs_input_grad) - 3
        positions = ctx.tensor_positions
        if len(grads) == n_flat:  # one gradient per argument, non-tensor ones included (and ignored)
            grads = [grads[i] for i in positions]
        elif len(grads) != len(positions):
            raise ValueError(f"custom_gradient: grad_fn returned {len(grads)} gradients for {len(positions)} "
                             "tensor arguments.")
        out: list[Any] = [None] * n_flat
        for pos, g in zip(positions, grads, strict=True):
            out[pos] = None if g is None else tensor(g)
        return (None, None, None, *out)


@op(symbolic=False)
def custom_gradient(f: Callable) -> Callable:
    """Decorate ``f(*args)`` returning ``(output, grad_fn)``: the result computes ``output`` and back-propagates
    through ``grad_fn(*args, upstream=upstream)``, which returns one gradient per (flattened) tensor argument.

    ``upstream`` is the output's gradient (a structure like the output when it is nested). Gradients flow only
    to the arguments, not to tensors ``f`` closes over (as with Keras's torch backend)."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        spec = (args, kwargs)
        flat = tree.flatten(spec)
        tracked = builtins.any(isinstance(v, torch.Tensor) and v.requires_grad for v in flat)
        if not (tracked and torch.is_grad_enabled()):
            return f(*args, **kwargs)[0]
        holder: dict = {}
        leaves = _CustomGradient.apply(f, spec, holder, *flat)
        return tree.pack_as(holder["output"], list(leaves))

    wrapped.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapped.__qualname__ = getattr(f, "__qualname__", "custom_gradient")
    wrapped.__doc__ = getattr(f, "__doc__", None)
    return wrapped
