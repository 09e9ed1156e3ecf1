"""Keras 3's ``model.weights.h5`` layout -> lamina layers, group by group (see ``keras_export.layout``).

Keras stores a layer's own variables as ``<group>/vars/0``, ``vars/1``..., its sub-layers under their attribute
names (``cell``, ``query_dense``...), and a functional or Sequential model's layers under ``layers/<class>``.
Every group and dataset is checked (hard links only, no external or virtual storage, numeric dtypes, the shapes
the lamina layer expects) before any value is set; a layer that overrides ``load_own_variables`` reads its group
through a ``H5ReadStore`` (checked datasets, NumPy arrays) after all other checks passed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import h5py
import numpy as np
import torch

from lamina.layers.weights import export
from lamina.saving.dtype_rule import dtype_change, warn_casts
from lamina.saving.errors import FileFormatError, UnsafeFileError
from lamina.saving.keras_export.layout import Group, layout
from lamina.saving.keras_export.optimizer import from_keras

MAX_DEPTH = 64


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


def _group_at(root: Any, path: str) -> Any:
    """The group at ``path`` (``a/b/vars``), following hard links only; None when absent."""
    node, where = root, ""
    for key in path.split("/") if path else []:
        if not isinstance(node, h5py.Group):
            raise FileFormatError(f"{where or '/'} in the weights file must be a group.")
        node = _child(node, key, where)
        if node is None:
            return None
        where = f"{where}/{key}"
    if not isinstance(node, h5py.Group):
        raise FileFormatError(f"{path} in the weights file must be a group.")
    return node


class H5ReadStore(Mapping):
    """What ``load_own_variables(store)`` receives: ``store["0"]`` is a checked dataset read as a NumPy array."""

    def __init__(self, group: Any, where: str):
        self.group, self.where = group, where
        self.names = [] if group is None else list(group.keys())

    def __getitem__(self, key: str) -> np.ndarray:
        if self.group is None or key not in self.names:
            raise KeyError(f"{self.where} in the weights file has no {key!r} (it holds {self.names[:20]}).")
        return np.asarray(_dataset(self.group, key, self.where)[()])

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def _vars(group: Any, where: str) -> list[str]:
    keys = list(group.keys()) if group is not None else []
    if sorted(keys, key=lambda k: int(k) if k.isdigit() else -1) != [str(i) for i in range(len(keys))]:
        raise FileFormatError(f"{where} must hold datasets named 0..{len(keys) - 1}; holds {keys[:20]}.")
    return keys


def _check_hooked(layer: Any, node: Any, names: list[str], where: str, casts: list[str]) -> None:
    """Before anything is set: every dataset the layer's own ``save_own_variables`` would write under a key the
    file also has must have the shape the file holds (what is missing or extra is left to its hook), and a dtype
    that ``dtype_change`` allows (another precision is listed in ``casts``)."""
    current: dict[str, Any] = {}
    try:
        layer.save_own_variables(current)
    except Exception:  # noqa: BLE001  (a user's hook that cannot save into a dict: nothing to compare)
        return
    for key, value in current.items():
        if key in names:
            ds = _dataset(node, key, where)
            want = tuple(np.shape(value))
            if tuple(ds.shape) != want:
                raise FileFormatError(f"{where}/{key} has shape {tuple(ds.shape)}, but layer {layer.name!r} "
                                      f"({type(layer).__name__}) expects {want} there.")
            dtype = getattr(value, "dtype", None)
            change = None if dtype is None else dtype_change(ds.dtype, dtype)
            if change == "refuse":
                raise FileFormatError(f"{where}/{key} has dtype {ds.dtype}, but layer {layer.name!r} expects "
                                      f"{dtype} (floating and integer/bool values are never cast).")
            if change == "cast":
                casts.append(f"{where}/{key} (file {ds.dtype}, model {str(dtype).removeprefix('torch.')})")


class Loader:
    """Matches the groups of an opened weights file to the lamina model's layout and loads them."""

    def __init__(self, names: Mapping[int, str] | None = None, skip_mismatch: bool = False):
        self.names = names or {}
        self.skip_mismatch = skip_mismatch
        self.assignments: list[tuple[Group, list]] = []
        self.hooks: list[tuple[Group, H5ReadStore]] = []
        self.used = 0
        self.casts: list[str] = []  # datasets of another precision than their weight: cast, with one warning

    def match(self, model: Any, root: Any) -> None:
        """Check every weight of ``model`` against the file and queue its datasets (or its hook's store); with
        ``skip_mismatch``, a layer whose group does not fit is skipped with a warning (as Keras does)."""
        for group in layout(model, "load_own_variables", self.names):
            try:
                self._match_group(group, root)
            except FileFormatError as error:
                if not self.skip_mismatch:
                    raise
                warnings.warn(f"Skipping the weights of layer {group.layer.name!r}: {error}", UserWarning,
                              stacklevel=4)

    def _match_group(self, group: Group, root: Any) -> None:
        where = group.vars_path
        node = _group_at(root, where)
        if group.hook:
            store = H5ReadStore(node, where)
            _check_hooked(group.layer, node, store.names, where, self.casts)
            self.used += sum(1 for k in store.names if isinstance(node.get(k, getlink=True), h5py.HardLink)
                             and isinstance(node[k], h5py.Dataset))
            self.hooks.append((group, store))
            return
        if not group.entries:
            return
        if node is None:
            raise FileFormatError(
                f"The weights file has no group '{where}' for layer {group.layer.name!r} "
                f"({type(group.layer).__name__}); it holds {sorted(root.keys())[:30]} at its top.")
        keys = _vars(node, where)
        expected = [export(o, n, t) for o, n, t in group.entries]
        if len(keys) != len(expected):
            raise FileFormatError(
                f"Layer {group.layer.name!r} ({type(group.layer).__name__}) has {len(expected)} weights "
                f"{[tuple(w.shape) for w in expected]} at {where}, but the file holds {len(keys)} "
                f"{[tuple(node[k].shape) for k in keys]}.")
        datasets = []
        for i, want in enumerate(expected):
            ds = _dataset(node, str(i), where)
            if tuple(ds.shape) != tuple(want.shape):
                raise FileFormatError(f"{where}/{i} has shape {tuple(ds.shape)}, but layer {group.layer.name!r} "
                                      f"({type(group.layer).__name__}) expects {tuple(want.shape)} there.")
            change = dtype_change(ds.dtype, want.dtype)  # one rule with load_weights/load_model (saving/weights)
            if change == "refuse":
                raise FileFormatError(f"{where}/{i} has dtype {ds.dtype}, but layer {group.layer.name!r} "
                                      f"expects {want.dtype} (floating and integer/bool values are never cast).")
            if change == "cast":
                self.casts.append(f"{where}/{i} (file {ds.dtype}, model {want.dtype})")
            datasets.append(ds)
        self.assignments.append((group, datasets))
        self.used += len(datasets)

    def load(self) -> None:
        """Read the queued datasets (all checked) and set them; then run the layers' own loading hooks."""
        warn_casts("Keras weights", self.casts)
        values = []
        for group, datasets in self.assignments:
            try:
                values.append((group, [np.asarray(ds[()]) for ds in datasets]))
            except (OSError, ValueError, RuntimeError) as error:
                raise FileFormatError(f"The weights of layer {group.layer.name!r} cannot be read: {error}.") from None
        with torch.no_grad():
            for group, arrays in values:
                for (owner, name, t), arr in zip(group.entries, arrays, strict=True):
                    value = torch.as_tensor(arr)
                    if hasattr(owner, "weight_from_keras"):
                        value = owner.weight_from_keras(name, value)
                    t.copy_(value.to(device=t.device, dtype=t.dtype))
        for group, store in self.hooks:
            try:
                group.layer.load_own_variables(store)
            except (KeyError, ValueError) as error:
                if self.skip_mismatch:
                    warnings.warn(f"Skipping the weights of layer {group.layer.name!r}: {error}", UserWarning,
                                  stacklevel=3)
                    continue
                raise FileFormatError(f"load_own_variables of layer {group.layer.name!r} failed on the file's "
                                      f"{store.where}: {error}") from None


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


def load_optimizer_h5(model: Any, path: str) -> None:
    """Restore the compiled ``model``'s optimizer variables from the file's ``optimizer/vars`` (as Keras's
    ``load_model`` does): the optimizer is built on the model's trainable weights first. A state saved for other
    weights or settings is skipped with a warning, as in Keras."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "load_own_variables"):
        return
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as error:
        raise FileFormatError(f"The Keras weights are not a readable HDF5 file: {error}.") from None
    with f:
        node = _group_at(f, "optimizer/vars")
        if node is None or not len(node):
            return
        store = H5ReadStore(node, "optimizer/vars")
        trainer = getattr(model, "_trainer", None)
        if trainer is not None:
            model.to(trainer.device)
        if not optimizer.built:
            optimizer.build(model.trainable_weights)
        arrays = [store[str(i)] for i in range(len(store))] if _vars(node, "optimizer/vars") else []
        try:
            optimizer.load_own_variables({str(i): a for i, a in enumerate(from_keras(model, arrays))})
        except (ValueError, KeyError) as error:
            warnings.warn(f"Skipping the optimizer state of the file: {error}", UserWarning, stacklevel=3)


def load_h5(model: Any, path: str, names: Mapping[int, str] | None = None, skip_mismatch: bool = False) -> None:
    """Load Keras 3 weights from the HDF5 file at ``path`` into ``model``, checking everything first.
    ``names`` maps ``id(layer)`` to the class name the file's config gave it (it names the layer's group);
    ``skip_mismatch`` skips, with a warning, the layers whose weights do not fit."""
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as error:
        raise FileFormatError(f"The Keras weights are not a readable HDF5 file: {error}.") from None
    with f:
        loader = Loader(names, skip_mismatch)
        try:
            loader.match(model, f)
            total = count_datasets(f)
        except (KeyError, OSError, RuntimeError, TypeError) as error:
            raise FileFormatError(f"The Keras weights file is malformed: {error}.") from None
        if total != loader.used and not skip_mismatch:
            raise FileFormatError(f"The Keras weights file holds {total} weight arrays, but model {model.name!r} has "
                                  f"{loader.used}: the file was saved from a different architecture.")
        loader.load()
