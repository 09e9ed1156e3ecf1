"""Keras's layouts on lamina's stored weights: a ``TensorLayout`` names the axes of a weight as Keras shapes it,
and some lamina layers store a weight in PyTorch's order instead (a convolution kernel is ``(*k, in, out)`` in
Keras, ``(out, in, *k)`` in lamina; ``layer.weight_to_keras`` converts). The layout's axes are moved to the stored
order; a stored weight that is not a permutation of Keras's (a depthwise kernel, reshaped) cannot take a split.

A convolution's kernel is the case in lamina's own layers, and DTensor cannot split a convolution: its layout
raises (below). The translation serves layers whose ``weight_to_keras`` permutes axes of a weight DTensor can split.

>>> from lamina.layers import Conv1D, Dense
>>> dense = Dense(4)
>>> dense.build((None, 3))
>>> stored_axes(dense, "kernel", (3, 4), (None, "model"))
(None, 'model')
>>> layer = Conv1D(6, 3)
>>> layer.build((None, 10, 8))
>>> stored_axes(layer, "kernel", tuple(layer.kernel.shape), (None, None, "model"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
ValueError: Conv1D 'conv1d...': PyTorch's DTensor has no sharding rule for a convolution whose kernel is split...
>>> _keras_order(lambda name, t: t.permute(2, 1, 0), "kernel", 3)  # Keras axis j is stored axis order[j]
(2, 1, 0)
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from lamina.layers import conv

_PROBE_SIZES = (2, 3, 4, 5, 6, 7, 8)  # distinct sizes: a permutation of the probe's axes is told apart


def stored_axes(module: Any, name: str, shape: tuple[int, ...], axes: tuple[str | None, ...]) -> tuple:
    """``axes`` (Keras's order for ``module``'s weight ``name``, padded with None) in the order lamina stores it."""
    axes = tuple(axes) + (None,) * (len(shape) - len(axes))
    if isinstance(module, conv._ConvBase) and any(a is not None for a in axes):
        raise ValueError(
            f"{type(module).__name__} {getattr(module, 'name', '')!r}: PyTorch's DTensor has no sharding rule for a "
            f"convolution whose {name} is split (the layout {axes}), so it has no PyTorch meaning here. Leave "
            "convolutions replicated (no LayoutMap key for their weights): they then get their inputs whole, and "
            "the split Dense and Embedding layers around them still run sharded."
        )
    to_keras = getattr(module, "weight_to_keras", None)
    if to_keras is None or all(a is None for a in axes) or len(shape) > len(_PROBE_SIZES):
        return axes
    order = _keras_order(to_keras, name, len(shape))
    if order is None:
        raise ValueError(f"lamina stores the weight {name!r} of {type(module).__name__} (shape {shape}) in a layout "
                         f"that is not a permutation of Keras's, so the TensorLayout axes {axes} have no PyTorch "
                         "meaning for it; leave it replicated (no LayoutMap key for it).")
    stored: list[str | None] = [None] * len(shape)
    for keras_dim, stored_dim in enumerate(order):
        stored[stored_dim] = axes[keras_dim]
    return tuple(stored)


def _keras_order(to_keras: Any, name: str, ndim: int) -> tuple[int, ...] | None:
    """For each of Keras's axes, the stored axis it is (None when the conversion is not a permutation)."""
    probe = torch.arange(int(torch.tensor(_PROBE_SIZES[:ndim]).prod())).reshape(_PROBE_SIZES[:ndim])
    try:
        converted = to_keras(name, probe)
    except (RuntimeError, ValueError):
        return None
    for order in itertools.permutations(range(ndim)):
        moved = probe.permute(order)
        if moved.shape == converted.shape and torch.equal(moved, converted):
            return order
    return None
