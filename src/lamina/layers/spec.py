"""What a layer accepts (``InputSpec``, ``check_input``) and how shapes are read and shown in messages.

>>> format_shape((None, 28, 28, 1))
'(None, 28, 28, 1)'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lamina.core import tree
from lamina.layers.symbolic import SymbolicTensor


def shape_of(x: Any) -> Any:
    """Keras-style shape (tuple; None for unknown) of a tensor, array or symbolic tensor, kept nested."""

    def leaf(t: Any) -> Any:
        if isinstance(t, (torch.Tensor, np.ndarray, SymbolicTensor)):
            return tuple(t.shape)
        return None

    return tree.map_structure(leaf, x)


def format_shape(shape: Any) -> str:
    if isinstance(shape, tuple) and all(d is None or isinstance(d, int) for d in shape):
        return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    if isinstance(shape, (list, tuple)):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k!r}: {format_shape(v)}" for k, v in shape.items()) + "}"
    return str(shape)


class InputSpec:
    """What a layer accepts: rank bounds and fixed sizes of some axes (Keras's ``InputSpec``).

    >>> InputSpec(min_ndim=2, axes={-1: 784}).describe()
    'rank >= 2 with axis -1 of size 784'
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = dtype
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name = name
        self.optional = optional

    def describe(self) -> str:
        if self.shape is not None:
            return f"shape {format_shape(self.shape)}"
        parts = []
        if self.ndim is not None:
            parts.append(f"rank {self.ndim}")
        if self.min_ndim is not None:
            parts.append(f"rank >= {self.min_ndim}")
        if self.max_ndim is not None:
            parts.append(f"rank <= {self.max_ndim}")
        if self.axes:
            parts.append("with " + ", ".join(f"axis {a} of size {n}" for a, n in self.axes.items()))
        return " ".join(parts) or "any shape"

    def problem_with(self, shape: tuple) -> str | None:
        """Why ``shape`` does not fit (None if it does)."""
        rank = len(shape)
        if self.ndim is not None and rank != self.ndim:
            return f"expected rank {self.ndim}, found rank {rank}"
        if self.min_ndim is not None and rank < self.min_ndim:
            return f"expected rank >= {self.min_ndim}, found rank {rank}"
        if self.max_ndim is not None and rank > self.max_ndim:
            return f"expected rank <= {self.max_ndim}, found rank {rank}"
        for axis, size in self.axes.items():
            if size is None or -rank > axis or axis >= rank:
                continue
            if shape[axis] is not None and shape[axis] != size:
                return f"expected axis {axis} of size {size}, found size {shape[axis]}"
        if self.shape is not None:
            for i, (want, got) in enumerate(zip(self.shape, shape, strict=False)):
                if want is not None and got is not None and want != got:
                    return f"expected axis {i} of size {want}, found size {got}"
        return None


def check_input(layer: Any, inputs: Any) -> None:
    """Raise, in the user's terms, if ``inputs`` do not fit ``layer.input_spec`` (one spec or one per input)."""
    specs = layer.input_spec
    if specs is None:
        return
    spec_list = specs if isinstance(specs, (list, tuple)) else [specs]
    leaves = tree.flatten(inputs) if isinstance(inputs, (list, tuple, dict)) else [inputs]
    for i, (spec, x) in enumerate(zip(spec_list, leaves, strict=False)):
        if spec is None or not hasattr(x, "shape"):
            continue
        problem = spec.problem_with(tuple(x.shape))
        if problem:
            which = f"input {i} of " if len(spec_list) > 1 else ""
            got = tuple(x.shape)
            raise ValueError(
                f"Input {f'{i} ' if which else ''}of layer '{layer.name}' ({type(layer).__name__}) is "
                f"incompatible with the layer: {problem}. The layer expects {which}{spec.describe()}, "
                f"but received input of shape {format_shape(got)}.{_input_fix_hint(spec, got)}"
            )


def _input_fix_hint(spec: InputSpec, got: tuple) -> str:
    axes = spec.axes or {}
    if -1 in axes and len(got) > 0:
        return (f" The layer was built for inputs whose last axis has size {axes[-1]}; feed data of that "
                "width, or build a new layer for the new width.")
    if spec.shape is not None:
        return f" Reshape your data to {format_shape(spec.shape)} or change the model's input shape."
    return ""


def add_layer_note(error: BaseException, layer: Any, args: tuple) -> None:
    """Add to ``error`` the layer it went through and the shapes it was called on (innermost first)."""
    shapes = shape_of(args[0] if len(args) == 1 else list(args))
    line = f"  in layer '{layer.name}' ({type(layer).__name__}), called on inputs of shape {format_shape(shapes)}"
    notes = getattr(error, "__notes__", [])
    if not any(n.startswith("Layer path") for n in notes):
        error.add_note("Layer path (innermost first):")
    error.add_note(line)
