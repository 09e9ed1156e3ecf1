"""Keras 3's ``model.weights.h5`` layout -> lamina layers' ``set_weights`` (which takes Keras's layout).

Keras names each layer's group by its class (snake case: ``conv2d``, ``conv2d_1``... in the order of the model's
layers), stores the layer's own variables as ``vars/0``, ``vars/1``... and its sub-layers' under their attribute
names (``cell``, ``forward_layer``, ``query_dense``...); a nested model keeps its layers under ``layers``.
Every group and dataset is checked (hard links only, no external or virtual storage, numeric dtypes, the shapes
the lamina layer expects) before any value is read.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from lamina.core.naming import snake_case
from lamina.layers.core import InputLayer
from lamina.layers.layer import Layer
from lamina.models.model import Model
from lamina.models.sequential import Sequential
from lamina.saving.errors import FileFormatError, UnsafeFileError

# Sub-layer groups in the order their weights follow the layer's own (Keras's attribute order)
CHILD_ORDER = ("cell", "forward_layer", "backward_layer", "query_dense", "key_dense", "value_dense", "output_dense",
               "layer", "layers")
MAX_DEPTH = 64


def group_names(class_names: list[str]) -> list[str]:
    """Keras's group names for layers of these classes, in order: ``dense``, ``dense_1``, ``dense_2``..."""
    used: dict[str, int] = {}
    out = []
    for class_name in class_names:
        base = snake_case(class_name)
        count = used.get(base, 0)
        out.append(base if count == 0 else f"{base}_{count}")
        used[base] = count + 1
    return out


def plan_of(model: Layer) -> list[tuple[Layer, str]]:
    """(layer, class name) of a lamina model's layers in order (for weights-only files)."""
    layers = model.layers if isinstance(model, Model) else []
    return [(layer, type(layer).__name__) for layer in layers]


def _child(group: Any, key: str, where: str) -> Any:
    link = group.get(key, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise UnsafeFileError(f"{where}/{key} in the weights file is a {type(link).__name__}; only plain groups and "
                              "datasets are read (links can point at other files).")
    return group[key]


def _dataset(group: Any, key: str, where: str) -> h5py.Dataset:
    ds = _child(group, key, where)
    if not isinstance(ds, h5py.Dataset):
        raise FileFormatError(f"{where}/{key} in the weights file must be a dataset.")
    if ds.is_virtual or ds.external:
        raise UnsafeFileError(f"{where}/{key} stores its data outside the file (virtual or external dataset): refused.")
    if ds.dtype.kind not in "fiub" or ds.dtype.itemsize > 8:
        raise FileFormatError(f"{where}/{key} has dtype {ds.dtype}; weights are numeric.")
    return ds


def _sort_key(key: str) -> tuple:
    if key in CHILD_ORDER:
        return (0, CHILD_ORDER.index(key), "", 0)
    base, _, suffix = key.rpartition("_")
    if base and suffix.isdigit():
        return (1, 0, base, int(suffix) + 1)
    return (1, 0, key, 0)


def collect(group: Any, where: str, depth: int = 0) -> list[tuple[str, h5py.Dataset]]:
    """Every dataset of a layer's group in Keras's weight order: own ``vars/0..n-1``, then sub-layers'."""
    if depth > MAX_DEPTH:
        raise UnsafeFileError(f"The weights file nests groups more than {MAX_DEPTH} deep at {where}.")
    if not isinstance(group, h5py.Group):
        raise FileFormatError(f"{where} in the weights file must be a group.")
    out = []
    own = _child(group, "vars", where)
    if own is not None:
        if not isinstance(own, h5py.Group):
            raise FileFormatError(f"{where}/vars in the weights file must be a group.")
        keys = list(own.keys())
        if sorted(keys, key=lambda k: int(k) if k.isdigit() else -1) != [str(i) for i in range(len(keys))]:
            raise FileFormatError(f"{where}/vars must hold datasets named 0..{len(keys) - 1}; holds {keys[:20]}.")
        out += [(f"{where}/vars/{i}", _dataset(own, str(i), f"{where}/vars")) for i in range(len(keys))]
    for key in sorted((k for k in group if k != "vars"), key=_sort_key):
        out += collect(_child(group, key, where), f"{where}/{key}", depth + 1)
    return out


class Loader:
    """Matches the groups of an opened ``.weights.h5`` file to lamina layers and loads them."""

    def __init__(self, plans: dict[int, list[tuple[Layer, str]]] | None = None):
        self.plans = plans or {}
        self.assignments: list[tuple[Layer, list[np.ndarray]]] = []
        self.used = 0

    def _plan(self, model: Layer) -> list[tuple[Layer, str]]:
        return self.plans.get(id(model)) or plan_of(model)

    def match(self, model: Layer, group: Any, where: str, depth: int = 0) -> None:
        """Check every weight of ``model`` against ``group`` (a model's group) and queue its arrays."""
        if depth > MAX_DEPTH:
            raise UnsafeFileError(f"The weights file nests models more than {MAX_DEPTH} deep at {where}.")
        plan = self._plan(model)
        container = _child(group, "layers", where) if any(_has_weights(layer) for layer, _ in plan) else None
        if container is None and any(_has_weights(layer) for layer, _ in plan):
            raise FileFormatError(f"The weights file has no '{where}/layers' group for the model's layers.")
        for (layer, class_name), key in zip(plan, group_names([c for _, c in plan]), strict=True):
            if not _has_weights(layer):
                continue
            sub = _child(container, key, f"{where}/layers")
            if sub is None:
                raise FileFormatError(f"The weights file has no group '{where}/layers/{key}' for layer {layer.name!r} "
                                      f"({class_name}); it holds {sorted(container.keys())[:30]}.")
            if isinstance(layer, Sequential) or (isinstance(layer, Model) and layer._graph is not None):
                self.match(layer, sub, f"{where}/layers/{key}", depth + 1)
            else:
                self._match_layer(layer, sub, f"{where}/layers/{key}")

    def _match_layer(self, layer: Layer, group: Any, where: str) -> None:
        found = collect(group, where)
        expected = layer.get_weights()
        if len(found) != len(expected):
            raise FileFormatError(
                f"Layer {layer.name!r} ({type(layer).__name__}) has {len(expected)} weights "
                f"{[tuple(w.shape) for w in expected]}, but the file's group {where} holds {len(found)} "
                f"{[(p, ds.shape) for p, ds in found]}.")
        arrays = []
        for (path, ds), want in zip(found, expected, strict=True):
            if tuple(ds.shape) != tuple(want.shape):
                raise FileFormatError(f"{path} has shape {tuple(ds.shape)}, but layer {layer.name!r} "
                                      f"({type(layer).__name__}) expects {tuple(want.shape)} there.")
            if (ds.dtype.kind == "f") != (want.dtype.kind == "f"):
                raise FileFormatError(f"{path} has dtype {ds.dtype}, but layer {layer.name!r} expects {want.dtype}.")
            arrays.append(ds)
        self.assignments.append((layer, arrays))
        self.used += len(arrays)

    def load(self) -> None:
        """Read the queued datasets (all checked) and set them; nothing is set unless everything matched."""
        values = []
        for layer, datasets in self.assignments:
            try:
                values.append((layer, [np.asarray(ds[()]) for ds in datasets]))
            except (OSError, ValueError, RuntimeError) as error:
                raise FileFormatError(f"The weights of layer {layer.name!r} cannot be read: {error}.") from None
        for layer, arrays in values:
            try:
                layer.set_weights(arrays)
            except ValueError as error:
                raise FileFormatError(f"Setting the weights of layer {layer.name!r} failed: {error}") from None


def _has_weights(layer: Any) -> bool:
    return not isinstance(layer, InputLayer) and bool(getattr(layer, "weights", []))


def count_datasets(group: Any, where: str = "", depth: int = 0) -> int:
    """How many weight datasets the file holds (the optimizer's state excluded)."""
    if depth > MAX_DEPTH:
        raise UnsafeFileError(f"The weights file nests groups more than {MAX_DEPTH} deep.")
    total = 0
    for key in group:
        if depth == 0 and key == "optimizer":
            continue
        item = _child(group, key, where)
        total += 1 if isinstance(item, h5py.Dataset) else count_datasets(item, f"{where}/{key}", depth + 1)
    return total


def load_h5(model: Layer, path: str, plans: dict | None = None) -> None:
    """Load Keras 3 weights from the HDF5 file at ``path`` into ``model``, checking everything first."""
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as error:
        raise FileFormatError(f"The Keras weights are not a readable HDF5 file: {error}.") from None
    with f:
        loader = Loader(plans)
        try:
            loader.match(model, f, "")
            total = count_datasets(f)
        except (KeyError, OSError, RuntimeError, TypeError) as error:
            raise FileFormatError(f"The Keras weights file is malformed: {error}.") from None
        if total != loader.used:
            raise FileFormatError(f"The Keras weights file holds {total} weight arrays, but model {model.name!r} has "
                                  f"{loader.used}: the file was saved from a different architecture.")
        loader.load()
