"""Where each weight of a lamina model lives in Keras 3's ``model.weights.h5`` (shared by writer and reader).

Keras stores a layer's own variables under ``<path>/vars/0``, ``vars/1``... and its sub-layers under their
attribute names (``<path>/cell``, ``<path>/query_dense``, ``<path>/block/parts/dense_1``); a functional or
Sequential model keeps its layers under ``layers/<snake_case class name>[_n]``. Built-in lamina layers hold
their weights flat, so the Keras sub-layers of recurrent and attention layers are mapped here.

>>> import lamina
>>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.LayerNormalization()])
>>> [(g.path, len(g.entries)) for g in layout(model)]
[('', 0), ('layers/layer_normalization', 2)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from lamina.core.naming import snake_case
from lamina.core.serialization import layer_class_name
from lamina.layers.attention import MultiHeadAttention
from lamina.layers.layer import Layer
from lamina.layers.op_layer import OpLayer
from lamina.layers.recurrent import GRU, LSTM, SimpleRNN
from lamina.layers.weights import own_entries
from lamina.models.model import Model
from lamina.models.sequential import Sequential

RECURRENT = (LSTM, GRU, SimpleRNN)  # Keras keeps their weights in a sub-layer ``cell``
ATTENTION_PARTS = ("query_dense", "key_dense", "value_dense", "output_dense")
EMPTY_GROUPS = {MultiHeadAttention: ("_dropout_layer", "_softmax")}  # Keras writes them, with no variables
MAX_DEPTH = 64


@dataclass
class Group:
    """One Keras group: ``path`` (``"layers/dense"``; its variables are in ``path + "/vars"``), the lamina
    ``layer`` it belongs to, the weights stored there in order, and whether the layer's own hook
    (``save_own_variables`` / ``load_own_variables``) writes or reads it instead."""

    path: str
    layer: Any
    entries: list = field(default_factory=list)
    hook: bool = False

    @property
    def vars_path(self) -> str:
        return join(self.path, "vars")


def join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


# Keras names a few groups after the class's own name where its public name is an alias.
GROUP_BASES = {"GroupQueryAttention": "grouped_query_attention"}


def group_names(class_names: list[str]) -> list[str]:
    """Keras's group names for layers of these classes, in order: ``dense``, ``dense_1``, ``dense_2``..."""
    used: dict[str, int] = {}
    out = []
    for class_name in class_names:
        base = GROUP_BASES.get(class_name) or snake_case(class_name)
        count = used.get(base, 0)
        out.append(base if count == 0 else f"{base}_{count}")
        used[base] = count + 1
    return out


def is_graph_model(layer: Any) -> bool:
    return isinstance(layer, Sequential) or (isinstance(layer, Model) and layer._graph is not None)


def overrides(layer: Any, method: str, base: type = Layer) -> bool:
    """Whether ``layer``'s class overrides ``base.<method>`` (a user's saving hook)."""
    return getattr(type(layer), method, None) is not getattr(base, method)


def sublayers(layer: Any) -> list[tuple[str, Any]]:
    """(attribute name, sub-layer or list of sub-layers) a Keras layer would save under its attribute names."""
    out = []
    for name, child in layer.named_children():
        if isinstance(child, Layer):
            out.append((name, child))
        elif isinstance(child, (nn.ModuleList, nn.ModuleDict)):
            items = list(child.values()) if isinstance(child, nn.ModuleDict) else list(child)
            if items and all(isinstance(c, Layer) for c in items):
                out.append((name, child))
    return out


def layout(model: Any, hook: str = "save_own_variables", names: Mapping[int, str] | None = None) -> list[Group]:
    """Every group of ``model``'s weights file, in a stable order (each layer's group before its sub-layers').

    ``hook`` is the method whose override makes a layer save or load its own variables itself; ``names`` maps
    ``id(layer)`` to the class name its group is named after (default: the layer's own class name).
    """
    out: list[Group] = []
    _visit(model, "", hook, names or {}, out, 0)
    return out


def _visit(layer: Any, path: str, hook: str, names: Mapping[int, str], out: list[Group], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"The model nests layers more than {MAX_DEPTH} deep at {path!r}.")
    if overrides(layer, hook):  # the layer saves/loads its own variables itself; its sub-layers as usual
        out.append(Group(path, layer, hook=True))
    elif isinstance(layer, RECURRENT):
        out += [Group(path, layer), Group(join(path, "cell"), layer, own_entries(layer))]
    elif isinstance(layer, MultiHeadAttention):
        entries = own_entries(layer)
        size = len(entries) // len(ATTENTION_PARTS)
        out.append(Group(path, layer))
        out += [Group(join(path, part), layer, entries[i * size:(i + 1) * size])
                for i, part in enumerate(ATTENTION_PARTS)]
        out += [Group(join(path, name), layer) for name in EMPTY_GROUPS[MultiHeadAttention]]
    else:
        out.append(Group(path, layer, own_entries(layer)))
    if is_graph_model(layer):
        layers = [sub for sub in layer.layers if not isinstance(sub, OpLayer)]  # op nodes: no group in Keras
        keys = group_names([names.get(id(sub)) or layer_class_name(sub) for sub in layers])
        for sub, key in zip(layers, keys, strict=True):
            _visit(sub, join(path, "layers", key), hook, names, out, depth + 1)
        return
    for attr, child in sublayers(layer):
        if isinstance(child, Layer):
            _visit(child, join(path, attr), hook, names, out, depth + 1)
        elif isinstance(child, nn.ModuleDict):
            for key, sub in child.items():
                _visit(sub, join(path, attr, key), hook, names, out, depth + 1)
        else:
            keys = group_names([layer_class_name(sub) for sub in child])
            for sub, key in zip(child, keys, strict=True):
                _visit(sub, join(path, attr, key), hook, names, out, depth + 1)
