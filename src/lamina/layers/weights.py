"""A layer's weights as Keras lists them: every weight with its owner in Keras's order, and ``get_weights`` /
``set_weights`` in Keras 3's layout (what ``Layer`` exposes; kept here so that layer.py stays small).

A lamina layer is recognised by its ``_weight_info`` (its own weights in creation order); other torch modules
inside a layer contribute their parameters and buffers as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from lamina.core.variable import Variable
from lamina.layers.spec import format_shape
from lamina.random import SeedGenerator


@dataclass
class WeightInfo:
    """What a layer knows of one of its own weights: trainable by design, its regularizer and constraint."""

    trainable: bool
    regularizer: Any = None
    constraint: Any = None


def _is_layer(module: Any) -> bool:
    return getattr(module, "_weight_info", None) is not None


@contextlib.contextmanager
def buffers_kept_variables(layer: Any) -> Iterator[None]:
    """Around torch's ``_apply`` (``.to()``, ``.double()``...), which replaces buffers by plain tensors: the
    layer's Keras ``Variable`` buffers stay ``Variable``s, holding the new values."""
    before = {k: b for k, b in layer._buffers.items() if isinstance(b, Variable)}
    yield
    for key, old in before.items():
        new = layer._buffers.get(key)
        if new is not None and new is not old and not isinstance(new, Variable):
            layer._buffers[key] = old.rewrap(new)


def own_weights(layer: Any) -> list[tuple[str, torch.Tensor]]:
    """(name, tensor) of the layer's own weights: trainable-by-design first, then the others."""
    first = [(k, layer._parameters[k]) for k, i in layer._weight_info.items() if i.trainable]
    rest = [(k, layer._buffers[k]) for k, i in layer._weight_info.items() if not i.trainable]
    return first + rest


def own_key_of(layer: Any, value: torch.Tensor) -> str | None:
    """The name under which ``layer`` holds ``value`` as its own parameter or buffer (None if it does not)."""
    for store in (layer._parameters, layer._buffers):
        for k, v in store.items():
            if v is value:
                return k
    return None


def track_containers(layer: Any) -> None:
    """Register layers kept in plain lists/dicts that were empty when assigned (``self.blocks = []`` then
    ``append``), so their weights are tracked like Keras tracks them."""
    if "_modules" not in layer.__dict__:
        return
    children = {id(m) for m in layer._modules.values()}
    for key, value in list(layer.__dict__.items()):
        items = list(value.values()) if isinstance(value, dict) else value
        if not isinstance(value, (list, tuple, dict)) or not items:
            continue
        # Only lists of modules not tracked another way (Sequential keeps its own list of named children).
        if all(isinstance(v, nn.Module) and id(v) not in children for v in items):
            del layer.__dict__[key]
            layer.__setattr__(key, value)


def track_variable(layer: Any, key: str, variable: Variable) -> None:
    """``layer.key = variable`` for a Keras ``Variable``: a parameter if trainable, else a buffer, tracked in
    creation order like ``add_weight``'s (its path stays its own, as in Keras)."""
    layer.__dict__.pop(key, None)
    for store in (layer._parameters, layer._buffers, layer._modules):
        store.pop(key, None)
    trainable = isinstance(variable, nn.Parameter)
    if trainable:
        layer.register_parameter(key, variable)
    else:
        layer.register_buffer(key, variable)
    layer._weight_info[key] = WeightInfo(trainable, variable.regularizer, variable.constraint)


def rename(layer: Any, old: str, new: str) -> None:
    """A weight assigned to another attribute name (``self.w = self.add_weight(name="kernel")``) is stored
    under that name, keeping its place in creation order."""
    layer.__dict__.pop(new, None)  # e.g. a `self.bias = None` placeholder set before add_weight
    for store in (layer._parameters, layer._buffers):
        if old in store:
            items = [(new if k == old else k, v) for k, v in store.items()]
            store.clear()
            store.update(items)
    layer._weight_info = {(new if k == old else k): v for k, v in layer._weight_info.items()}


def set_trainable(root: nn.Module, value: bool) -> None:
    """``layer.trainable = value``: every sub-layer's flag and its trainable-by-design weights (as Keras sets
    each variable's ``trainable``); plain torch modules' parameters follow too."""
    value = bool(value)
    for module in root.modules():
        if _is_layer(module):
            module._trainable = value
            for key, info in module._weight_info.items():
                if info.trainable:
                    weight = module._parameters[key]
                    weight.requires_grad_(value and weight.is_floating_point())
        else:
            for p in module.parameters(recurse=False):
                p.requires_grad_(value)


def with_owner(root: nn.Module, seed_states: bool = False) -> list[tuple[Any, str, torch.Tensor]]:
    """(owning module, name, tensor) for every weight of ``root``, in Keras's order, without duplicates; with
    ``seed_states``, each module's weights are followed by the states of the ``lamina.random.SeedGenerator``s
    it holds as attributes (Keras lists those in ``variables``, not in ``weights``)."""
    out, seen = [], set()

    def visit(module: nn.Module) -> None:
        if _is_layer(module):
            track_containers(module)
            own = own_weights(module)
            own_ids = {id(t) for _, t in own}
            extra = [(k, p) for k, p in module._parameters.items() if p is not None and id(p) not in own_ids]
            extra += [(k, b) for k, b in module._buffers.items()
                      if b is not None and id(b) not in own_ids and k not in module._non_persistent_buffers_set]
            entries = own + extra
        else:
            entries = [(k, t) for k, t in [*module._parameters.items(), *module._buffers.items()] if t is not None]
        if seed_states:
            entries = entries + [(f"{key}/seed_generator_state", v.state) for key, v in vars(module).items()
                                 if isinstance(v, SeedGenerator)]
        for name, t in entries:
            if id(t) not in seen:
                seen.add(id(t))
                out.append((module, name, t))
        for child in module.children():
            visit(child)

    visit(root)
    return out


def export(owner: Any, name: str, t: torch.Tensor) -> np.ndarray:
    """One weight as a NumPy array in Keras's layout (bfloat16, which NumPy lacks, as float32)."""
    value = t.detach()
    if _is_layer(owner):
        value = owner.weight_to_keras(name, value)
    return value.to("cpu", copy=True).numpy() if value.dtype != torch.bfloat16 else value.float().cpu().numpy()


def get_weights(layer: Any) -> list[np.ndarray]:
    return [export(owner, name, t) for owner, name, t in with_owner(layer)]


def set_weights(layer: Any, weights: list) -> None:
    """Check every array against its weight (count, Keras shape) before changing anything, then copy."""
    entries = with_owner(layer)
    if len(weights) != len(entries):
        expected = ", ".join(f"{n} {format_shape(export(o, n, t).shape)}" for o, n, t in entries)
        raise ValueError(
            f"Layer '{layer.name}' expects {len(entries)} weight arrays ({expected or 'none'}), "
            f"but set_weights received {len(weights)}."
        )
    converted = []
    for (owner, name, t), value in zip(entries, weights, strict=True):
        keras_shape = export(owner, name, t).shape
        arr = np.asarray(value)
        if tuple(arr.shape) != tuple(keras_shape):
            raise ValueError(
                f"Layer '{layer.name}': weight '{name}' has shape {format_shape(tuple(keras_shape))}, "
                f"but set_weights received an array of shape {format_shape(tuple(arr.shape))}."
            )
        imported = torch.as_tensor(arr)
        if _is_layer(owner):
            imported = owner.weight_from_keras(name, imported)
        converted.append((t, imported.to(device=t.device, dtype=t.dtype)))
    with torch.no_grad():
        for t, value in converted:
            t.copy_(value)


# ---------------------------------------------------------------------------------------------- Keras's saving hooks
def own_entries(layer: Any) -> list[tuple[Any, str, torch.Tensor]]:
    """(owner, name, tensor) of the weights ``layer`` holds itself (not its sub-layers'), in Keras's order."""
    return [entry for entry in with_owner(layer) if entry[0] is layer]


def save_own(layer: Any, store: Any) -> None:
    """``Layer.save_own_variables``: the layer's own weights, in Keras's layout, as ``store["0"]``, ``"1"``..."""
    for i, (owner, name, t) in enumerate(own_entries(layer)):
        store[str(i)] = export(owner, name, t)


def load_own(layer: Any, store: Any) -> None:
    """``Layer.load_own_variables``: the inverse of ``save_own``, checking the count and every shape first."""
    entries = own_entries(layer)
    keys = list(store.keys())
    if len(keys) != len(entries):
        expected = [f"{n} {format_shape(export(o, n, t).shape)}" for o, n, t in entries]
        raise ValueError(f"Layer '{layer.name}' expected {len(entries)} variables ({', '.join(expected) or 'none'}), "
                         f"but received {len(keys)} ({keys[:20]}) while loading.")
    arrays = [np.asarray(store[str(i)]) for i in range(len(entries))]
    converted = []
    for (owner, name, t), arr in zip(entries, arrays, strict=True):
        want = export(owner, name, t).shape
        if tuple(arr.shape) != tuple(want):
            raise ValueError(f"Layer '{layer.name}': variable '{name}' has shape {format_shape(tuple(want))}, but "
                             f"the file holds {format_shape(tuple(arr.shape))}.")
        value = torch.as_tensor(arr)
        if _is_layer(owner):
            value = owner.weight_from_keras(name, value)
        converted.append((t, value.to(device=t.device, dtype=t.dtype)))
    with torch.no_grad():
        for t, value in converted:
            t.copy_(value)
