"""Shape inference: a layer called on symbolic tensors (``lamina.Input`` and what layers make of it) records a
graph node, and finds its outputs' shapes and dtypes by running its own ``call`` on PyTorch's ``meta`` device
(no data, no memory). Unknown dimensions are filled with two different sizes; output dimensions that differ
between the two runs are unknown (``None``) too.

>>> import lamina
>>> lamina.layers.Dense(4)(lamina.Input(shape=(3,))).shape
(None, 4)
"""

from __future__ import annotations

import contextlib
import inspect
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from lamina.core import scopes, tree
from lamina.core.variable import Variable
from lamina.layers.spec import add_layer_note, check_input, shape_of
from lamina.layers.symbolic import Node, SymbolicTensor

if TYPE_CHECKING:
    from lamina.layers.layer import Layer

META_FILLS = (83, 89)  # the two sizes given to unknown dimensions; output dimensions that differ come out None


def build_from_arguments(layer: Layer, args: tuple, kwargs: dict) -> dict:
    """Build ``layer`` from the shapes of its call's arguments: ``build(input_shape)`` gets the first input's;
    ``build(query_shape, value_shape, ...)`` the shapes of the call's arguments of those names. Returns them."""
    params = [p for p in inspect.signature(layer.build).parameters.values()
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if len(params) <= 1:
        first = args[0] if args else next(iter(kwargs.values()), None)
        shapes = {"input_shape": shape_of(first)}
        layer.build(shapes["input_shape"])
    else:
        bound = inspect.signature(layer.call).bind_partial(*args, **kwargs).arguments
        shapes = {p.name: shape_of(bound.get(p.name[: -len("_shape")])) for p in params}
        layer.build(**shapes)
    return shapes


def symbolic_call(layer: Layer, args: tuple, kwargs: dict) -> Any:
    """The layer called on symbolic inputs: build it (on the CPU), check the inputs, and record a node whose
    outputs are symbolic tensors of the inferred shapes."""
    scope = None
    if not layer.built:  # layers built inside this one's build get paths under its path
        layer.__dict__["_path"] = "/".join(filter(None, (scopes.current_path(), layer.name)))
        scope = scopes.name_scope(layer.name).__enter__()
    try:
        if not layer.built:
            layer._build_device = torch.device("cpu")
            layer._build_from(args, kwargs)
        first = args[0] if args else next(iter(kwargs.values()), None)
        if layer.input_spec is not None:
            check_input(layer, first)
        outputs = layer.compute_output_spec(*args, **kwargs)
    except Exception as error:
        add_layer_note(error, layer, args)
        raise
    finally:
        if scope is not None:
            scope.__exit__(None, None, None)
    node = Node(layer, args, kwargs)
    flat = []
    for i, spec in enumerate(tree.flatten(outputs)):
        t = SymbolicTensor(spec.shape, spec.dtype, name=f"{layer.name}_{i}" if i else layer.name, node=node, index=i)
        t._keras_mask = getattr(spec, "_keras_mask", None)
        flat.append(t)
    node.outputs = tree.pack_as(outputs, flat)
    layer._inbound_nodes.append(node)
    return node.outputs


def output_spec(layer: Layer, args: tuple, kwargs: dict, shape_rule: bool) -> Any:
    """``Layer.compute_output_spec``: from the layer's own ``compute_output_shape`` when it has one
    (``shape_rule``), else from two runs of its ``call`` on the meta device."""
    if shape_rule:
        # The layer knows its shape rule (merges, Reshape, ...): use it, so unknown sizes stay unknown
        # instead of meeting placeholder sizes that clash with known ones.
        x = args[0] if args else next(iter(kwargs.values()))
        leaves = [t for t in tree.flatten(x) if isinstance(t, SymbolicTensor)]
        shape = layer.compute_output_shape(tree.map_structure(lambda t: t.shape, x)
                                           if not isinstance(x, SymbolicTensor) else x.shape)
        return _symbolic_like(shape, leaves[0].dtype if leaves else layer._dtype)
    first, second = (_run_on_meta(layer, args, kwargs, fill) for fill in META_FILLS)
    merged = [_merge_meta(x, y) for x, y in zip(tree.flatten(first), tree.flatten(second), strict=True)]
    return tree.pack_as(first, merged)


def output_shape(layer: Layer, input_shape: Any) -> Any:
    """``Layer.compute_output_shape`` by default: the shapes of ``output_spec`` for symbolic inputs."""
    def to_symbolic(s: Any) -> Any:
        return SymbolicTensor(s, layer._dtype)

    sym = to_symbolic(input_shape) if isinstance(input_shape, tuple) and _is_shape(input_shape) \
        else tree.map_structure(to_symbolic, input_shape)
    if not layer.built:
        layer._build_from((sym,), {})
    out = layer.compute_output_spec(sym)
    return tree.map_structure(lambda t: t.shape, out)


def _run_on_meta(layer: Layer, args: tuple, kwargs: dict, fill: int) -> Any:
    def to_meta(t: Any) -> Any:
        if isinstance(t, SymbolicTensor):
            meta = torch.empty([fill if d is None else d for d in t.shape], dtype=t.dtype, device="meta")
            if t._keras_mask is not None:  # the mask rides along, so call(mask=...) and compute_mask see it
                meta._keras_mask = to_meta(t._keras_mask)
            return meta
        return t

    m_args, m_kwargs = tree.map_structure(to_meta, (args, kwargs))
    # Tensors that call() creates (ops.zeros, torch.arange, ...) must be meta tensors too.
    with torch.no_grad(), torch.device("meta"):
        return layer(*m_args, **m_kwargs)


@contextlib.contextmanager
def meta_weights(module: nn.Module):
    """Swap every weight of ``module`` (and its children) for a meta tensor of the same shape, then restore."""
    saved = []
    for m in module.modules():
        for store in (m._parameters, m._buffers):
            for key, value in store.items():
                if value is not None and not value.is_meta:
                    saved.append((store, key, value))
                    twin = torch.empty_like(value, device="meta")
                    store[key] = value.rewrap(twin) if isinstance(value, Variable) else twin
    try:
        yield
    finally:
        for store, key, value in saved:
            store[key] = value


def _is_shape(x: Any) -> bool:
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, int) for d in x)


def _merge_meta(x: Any, y: Any) -> SymbolicTensor:
    """The symbolic output of two shape-inference runs: dimensions that differ between them are unknown."""
    out = SymbolicTensor(tuple(a if a == b else None for a, b in zip(x.shape, y.shape, strict=True)), x.dtype)
    mask_x, mask_y = getattr(x, "_keras_mask", None), getattr(y, "_keras_mask", None)
    if isinstance(mask_x, torch.Tensor) and isinstance(mask_y, torch.Tensor):
        out._keras_mask = _merge_meta(mask_x, mask_y)
    return out


def _symbolic_like(shape: Any, dtype: torch.dtype) -> Any:
    """SymbolicTensors for a shape or a list of shapes."""
    if _is_shape(shape):
        return SymbolicTensor(tuple(shape), dtype)
    return [_symbolic_like(s, dtype) for s in shape]
