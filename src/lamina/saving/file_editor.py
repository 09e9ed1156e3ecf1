"""``KerasFileEditor``: inspect and edit the weights of a Keras 3 ``.keras`` or ``.weights.h5`` file without
building its model (Keras's ``keras.saving.KerasFileEditor``).

The file is read as data only, with the importer's checks: the ``.keras`` zip through ``KerasArchive`` (known
members, bounded sizes), the HDF5 weights group by group (hard links only, no external or virtual datasets,
numeric dtypes, bounded depth, count and declared size). Nothing in the file is ever executed. ``weights_dict``
mirrors the HDF5 layout with each object's ``vars`` group flattened into it: ``layers/dense/vars/0`` is
``weights_dict["layers"]["dense"]["0"]``. ``save`` writes atomically (a temporary file renamed over the target).

>>> import lamina, os, tempfile
>>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
>>> path = os.path.join(tempfile.mkdtemp(), "m.weights.h5")
>>> model.save_weights(path)
>>> editor = KerasFileEditor(path)
>>> sorted(editor.weights_dict["layers"]["dense"])
['0', '1']
>>> editor.compare(model)["status"]
Running comparison
Comparison successful: saved file is compatible with the reference model
    Found 2 matching weights
'success'
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from lamina.core.files import atomic_write
from lamina.saving.errors import FileFormatError, UnsafeFileError
from lamina.saving.format import DEFAULT_LIMITS, Limits, MiB, regular_file
from lamina.saving.keras_export.archive import write_archive
from lamina.saving.keras_export.h5 import write_weights
from lamina.saving.keras_import.archive import ASSETS, CONFIG, METADATA, WEIGHTS, KerasArchive
from lamina.saving.keras_import.h5 import MAX_DEPTH, _child, _dataset

__all__ = ["KerasFileEditor"]

VARS = "vars"


def _bad_key(key: str) -> bool:
    return not isinstance(key, str) or not key or "/" in key or key in (".", "..") or key == VARS


class _Reader:
    """Walks an opened weights file into ``(weights_dict, object_metadata)``, checking every node."""

    def __init__(self, limits: Limits, file_bytes: int):
        self.limits = limits
        # what the datasets may declare in all: Keras writes them uncompressed, so about the file's own size
        self.budget = int(limits.max_ratio * max(file_bytes, 1)) + MiB
        self.nodes = 0
        self.metadata: dict[str, dict[str, Any]] = {}

    def _count(self, where: str) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_tensors:
            raise UnsafeFileError(f"The weights file holds more than {self.limits.max_tensors} groups and datasets "
                                  f"(at {where}).")

    def read(self, group: Any, path: str = "", depth: int = 0) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise UnsafeFileError(f"The weights file nests groups more than {MAX_DEPTH} deep.")
        out: dict[str, Any] = {}
        variables = _child(group, VARS, path) if VARS in group else None
        if variables is not None:
            if not isinstance(variables, h5py.Group):
                raise FileFormatError(f"{path}/{VARS} in the weights file must be a group.")
            self._count(f"{path}/{VARS}")
            self.metadata["/" + path] = {k: str(v) for k, v in variables.attrs.items() if isinstance(v, str)}
            for key in variables:
                out[key] = self._value(variables, key, f"{path}/{VARS}")
        for key in group:
            if key == VARS:
                continue
            child = _child(group, key, path)
            where = f"{path}/{key}" if path else key
            if not isinstance(child, h5py.Group):
                raise FileFormatError(f"{where} in the weights file is a dataset outside a '{VARS}' group; Keras "
                                      "stores weights as <object>/vars/<name>.")
            if key in out:
                raise FileFormatError(f"{where} is both a weight and a group in the weights file.")
            self._count(where)
            sub = self.read(child, where, depth + 1)
            if sub:
                out[key] = sub
        return out

    def _value(self, group: Any, key: str, where: str) -> Any:
        self._count(f"{where}/{key}")
        ds = _dataset(group, key, where)
        if ds.ndim > self.limits.max_rank:
            raise UnsafeFileError(f"{where}/{key} has rank {ds.ndim}, over the limit of {self.limits.max_rank}.")
        self.budget -= ds.size * ds.dtype.itemsize
        if self.budget < 0:
            raise UnsafeFileError(f"{where}/{key} declares {ds.shape}: the datasets declare far more data than the "
                                  "file holds (refused as a compression bomb).")
        return ds[()]


def read_weights(path_or_file: Any, limits: Limits = DEFAULT_LIMITS, file_bytes: int | None = None
                 ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``(weights_dict, object_metadata)`` of the Keras weights file ``path_or_file`` (a path or a binary file
    object), every group and dataset checked; ``FileFormatError`` / ``UnsafeFileError`` when it is not one."""
    if file_bytes is None:
        file_bytes = os.path.getsize(path_or_file) if isinstance(path_or_file, (str, os.PathLike)) else 0
    try:
        f = h5py.File(path_or_file, "r")
    except (OSError, ValueError) as error:
        raise FileFormatError(f"The Keras weights are not a readable HDF5 file: {error}.") from None
    with f:
        reader = _Reader(limits, file_bytes)
        try:
            weights = reader.read(f)
        except (KeyError, OSError, RuntimeError, TypeError, ValueError) as error:
            if isinstance(error, (FileFormatError, UnsafeFileError)):
                raise
            raise FileFormatError(f"The Keras weights file is malformed or truncated: {error}.") from None
    return weights, reader.metadata


def _write(weights: Mapping[str, Any], metadata: Mapping[str, Mapping[str, Any]], target: Any) -> None:
    """Write ``weights`` (``weights_dict``'s layout) to ``target`` as Keras's HDF5 layout, each object's own
    weights under ``<path>/vars`` with its ``object_metadata`` attributes; objects without weights keep their
    (empty) ``vars`` group, as Keras writes them."""
    with h5py.File(target, "w") as f:
        def visit(node: Mapping[str, Any], path: str) -> None:
            own = {k: v for k, v in node.items() if not isinstance(v, Mapping)}
            if own or "/" + path in metadata:
                variables = f.require_group(f"{path}/{VARS}" if path else VARS)
                for key, value in metadata.get("/" + path, {}).items():
                    variables.attrs[key] = value
                for key, value in own.items():
                    variables.create_dataset(key, data=np.asarray(value))
            for key, value in node.items():
                if isinstance(value, Mapping):
                    visit(value, f"{path}/{key}" if path else key)

        visit(weights, "")
        for path in metadata:  # objects without weights (an InputLayer, a Dropout)
            if f"{path.strip('/')}/{VARS}" not in f and path.strip("/"):
                visit({}, path.strip("/"))


def _array(value: Any, where: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise ValueError(f"The weight {where} must be numeric; got dtype {array.dtype}.")
    return array


class KerasFileEditor:
    """Inspect and edit the weights of a Keras 3 ``.keras`` or ``.weights.h5`` file without building its model,
    e.g. to adapt weights saved before an architecture change (as ``keras.saving.KerasFileEditor``).

    Objects are named by their path in the file (``"layers/dense_1"``) or, when unambiguous, by its last part
    (``"dense_1"``). The file is read as data only, with the same limits and refusals as ``load_model``.

    Attributes:
        filepath: the file opened.
        weights_dict: ``{"layers": {"dense": {"0": kernel, "1": bias}}, "optimizer": {...}}``.
        object_metadata: ``{"/layers/dense": {"name": "dense"}}``, the attributes of each object's ``vars``.
        config, metadata: the ``.keras`` file's ``config.json`` and ``metadata.json`` (``None`` for weights files).

    >>> editor = KerasFileEditor("old.weights.h5")  # doctest: +SKIP
    >>> editor.delete_object("layers/dense_2")  # doctest: +SKIP
    >>> editor.add_object("layers/dense_3", {"0": kernel, "1": bias})  # doctest: +SKIP
    >>> editor.save("new.weights.h5")  # doctest: +SKIP
    """

    def __init__(self, filepath: str | os.PathLike, limits: Limits = DEFAULT_LIMITS):
        path = os.fspath(filepath)
        self.filepath = path
        self.config: Any = None
        self.metadata: Any = None
        self._assets: dict[str, bytes] = {}
        if path.endswith(".keras"):
            with KerasArchive(path, limits) as archive:
                self.config, self.metadata = archive.json(CONFIG), archive.json(METADATA)
                if not isinstance(self.config, Mapping):
                    raise FileFormatError(f"{CONFIG} of {path} must be a JSON object.")
                if self.metadata is not None and not isinstance(self.metadata, Mapping):
                    raise FileFormatError(f"{METADATA} of {path} must be a JSON object.")
                for name in archive.infos:
                    if name.startswith(ASSETS) and not name.endswith("/"):
                        chunks: list[bytes] = []
                        archive._copy(name, chunks.append)
                        self._assets[name] = b"".join(chunks)
                with archive.weights_file() as weights:
                    size = archive.infos[WEIGHTS].file_size
                    self.weights_dict, self.object_metadata = read_weights(weights, limits, size)
        elif path.endswith(".weights.h5"):
            if not regular_file(path):  # a FIFO or device is refused, not read forever
                raise FileNotFoundError(f"No Keras weights file at {path!r}.")
            size = os.path.getsize(path)
            if size > limits.max_tensor_file_bytes:
                raise UnsafeFileError(f"{path} holds {size} bytes, over the limit of {limits.max_tensor_file_bytes}.")
            self.weights_dict, self.object_metadata = read_weights(path, limits, size)
        else:
            raise ValueError(f"Invalid `filepath` argument: expected a `.keras` or `.weights.h5` extension. "
                             f"Received: filepath={path}")

    # ------------------------------------------------------------------------------------------ finding objects
    def _objects(self) -> list[str]:
        """Every object's path: each group of ``weights_dict`` and each object of ``object_metadata``."""
        out = {p.strip("/") for p in self.object_metadata if p.strip("/")}

        def visit(node: Mapping[str, Any], path: str) -> None:
            for key, value in node.items():
                if isinstance(value, Mapping):
                    out.add(f"{path}/{key}" if path else key)
                    visit(value, f"{path}/{key}" if path else key)

        visit(self.weights_dict, "")
        return sorted(out)

    def _resolve(self, name: str) -> str:
        if not isinstance(name, str) or not name.strip("/"):
            raise ValueError(f"An object name or path is a non-empty string; got {name!r}.")
        name = name.strip("/")
        objects = self._objects()
        found = [p for p in objects if p == name] if "/" in name else \
            [p for p in objects if p.rsplit("/", 1)[-1] == name]
        if not found:
            raise ValueError(f"Source name {name!r} does not appear in the model. Use `editor.weights_summary()` "
                             "to list all objects.")
        if len(found) > 1:
            raise ValueError(f"Name {name!r} occurs more than once in the model ({found}); pass its complete path.")
        return found[0]

    def _node(self, path: str, create: bool = False) -> dict[str, Any]:
        node = self.weights_dict
        for key in path.split("/"):
            if key not in node and create:
                node[key] = {}
            node = node[key]
        return node

    def _parent(self, path: str) -> tuple[dict[str, Any], str]:
        head, _, leaf = path.rpartition("/")
        return (self._node(head, create=True) if head else self.weights_dict), leaf

    def _move_metadata(self, old: str, new: str | None) -> None:
        for key in list(self.object_metadata):
            if key == "/" + old or key.startswith(f"/{old}/"):
                value = self.object_metadata.pop(key)
                if new is not None:
                    self.object_metadata["/" + new + key[len(old) + 1:]] = value

    # ------------------------------------------------------------------------------------------ editing
    def rename_object(self, object_name: str, new_name: str) -> None:
        """Rename an object (its last path part): ``editor.rename_object("dense_2", "dense_3")``."""
        if _bad_key(new_name):
            raise ValueError(f"Argument `target_name` should be a leaf name, not a full path name. "
                             f"Received: target_name={new_name!r}")
        path = self._resolve(object_name)
        head = path.rpartition("/")[0]
        target = f"{head}/{new_name}" if head else new_name
        if target in self._objects():
            raise ValueError(f"Cannot rename {path!r} to {new_name!r}: the object {target!r} already exists.")
        parent, leaf = self._parent(path)
        if leaf in parent:
            parent[new_name] = parent.pop(leaf)
        self._move_metadata(path, target)

    def delete_object(self, object_name: str) -> None:
        """Remove an object and everything under it: ``editor.delete_object("layers/dense_2")``."""
        path = self._resolve(object_name)
        parent, leaf = self._parent(path)
        parent.pop(leaf, None)
        self._move_metadata(path, None)

    def add_object(self, object_path: str, weights: Mapping[str, Any]) -> None:
        """Add an object at the full path ``object_path`` with ``weights`` (``{"0": kernel, "1": bias}``):
        ``editor.add_object("layers/dense_3", {"0": np.zeros((4, 2)), "1": np.zeros(2)})``."""
        if not isinstance(object_path, str) or any(_bad_key(k) for k in object_path.strip("/").split("/")):
            raise ValueError(f"Argument `object_path` must be a path such as 'layers/dense_2'; got {object_path!r}.")
        path = object_path.strip("/")
        if path in self._objects():
            raise ValueError(f"The object {path!r} already exists in the file; use add_weights to add weights to it, "
                             "or delete_object first.")
        arrays = self._arrays(weights, path)
        parent, leaf = self._parent(path)
        if leaf in parent:
            raise ValueError(f"{path!r} is already a weight in the file.")
        parent[leaf] = arrays
        self.object_metadata["/" + path] = {"name": leaf}

    def add_weights(self, object_name: str, weights: Mapping[str, Any]) -> None:
        """Add weights to an existing object: ``editor.add_weights("dense_2", {"2": extra})``."""
        path = self._resolve(object_name)
        arrays = self._arrays(weights, path)
        node = self._node(path, create=True)
        for key in arrays:
            if key in node:
                raise ValueError(f"The object {path!r} already has a weight {key!r}; delete_weight first.")
        node.update(arrays)

    def delete_weight(self, object_name: str, weight_name: str) -> None:
        """Remove one weight of an object: ``editor.delete_weight("dense_2", "1")``."""
        path = self._resolve(object_name)
        try:
            node = self._node(path)
        except KeyError:  # an object without weights
            node = {}
        if weight_name not in node or isinstance(node[weight_name], Mapping):
            held = [k for k, v in node.items() if not isinstance(v, Mapping)]
            raise ValueError(f"Weight {weight_name!r} not found in object {path!r}. Weights found: {held}")
        del node[weight_name]

    @staticmethod
    def _arrays(weights: Mapping[str, Any], path: str) -> dict[str, np.ndarray]:
        if not isinstance(weights, Mapping):
            raise ValueError(f"Argument `weights` must be a dict of weight name to array; got {type(weights)}.")
        out = {}
        for key, value in weights.items():
            if _bad_key(key):
                raise ValueError(f"Weight names are plain strings such as '0'; got {key!r} for {path!r}.")
            out[key] = _array(value, f"{path}/{key}")
        return out

    # ------------------------------------------------------------------------------------------ saving
    def save(self, filepath: str | os.PathLike) -> None:
        """Write the edited weights to a ``.weights.h5`` file, atomically; a ``.keras`` file opened from a
        ``.keras`` file keeps its config and assets (a lamina extension: Keras writes only weights files).

        >>> editor.save("edited.weights.h5")  # doctest: +SKIP
        """
        path = os.fspath(filepath)
        if path.endswith(".weights.h5"):
            atomic_write(path, lambda f: _write(self.weights_dict, self.object_metadata, f))
        elif path.endswith(".keras") and self.config is not None:
            write_archive(path, self.config, lambda f: _write(self.weights_dict, self.object_metadata, f),
                          self._assets)
        else:
            raise ValueError(f"Invalid `filepath` argument: expected a `.weights.h5` extension (or `.keras` for an "
                             f"editor opened on a `.keras` file). Received: filepath={path}")

    def resave_weights(self, filepath: str | os.PathLike) -> None:
        """Write the edited weights to the ``.weights.h5`` file ``filepath`` (as ``save``)."""
        if not os.fspath(filepath).endswith(".weights.h5"):
            raise ValueError(f"Invalid `filepath` argument: expected a `.weights.h5` extension. "
                             f"Received: filepath={os.fspath(filepath)}")
        self.save(filepath)

    # ------------------------------------------------------------------------------------------ inspecting
    def compare(self, reference_model: Any) -> dict[str, Any]:
        """Compare the file's weights to ``reference_model``'s (paths and shapes, as Keras), printing each
        mismatch; ``{"status": "success" | "error", "error_count": n, "match_count": m}``: ``error_count`` counts
        the mismatches printed, ``match_count`` the weights found in both with the same shape (each once; Keras's
        counts double per nesting level). As Keras, a file's optimizer variables are compared too: they are missing
        from a model that has not built its optimizer (not compiled, or not trained yet in lamina).

        >>> editor.compare(model)  # doctest: +SKIP
        {'status': 'success', 'error_count': 0, 'match_count': 4}
        """
        buffer = io.BytesIO()
        write_weights(reference_model, buffer, include_optimizer=True)
        buffer.seek(0)
        reference, _ = read_weights(buffer, DEFAULT_LIMITS, len(buffer.getvalue()))
        lines: list[str] = []
        matches = _compare(reference, self.weights_dict, "", lines)
        errors = sum(1 for line in lines if line.startswith("..."))
        print("Running comparison")
        for line in lines:
            print(line)
        if errors:
            print(f"Found {errors} error{'s' if errors > 1 else ''}: saved file is not compatible with the "
                  "reference model")
        else:
            print("Comparison successful: saved file is compatible with the reference model")
            print(f"    Found {matches} matching weights")
        return {"status": "error" if errors else "success", "error_count": errors, "match_count": matches}

    def summary(self) -> None:
        """Print the file's name, its Keras version and date, and its weights structure."""
        print(f"Keras model file '{self.filepath}'")
        if isinstance(self.metadata, Mapping):
            print(f"Saved with Keras {self.metadata.get('keras_version', '?')} - date: "
                  f"{self.metadata.get('date_saved', '?')}")
        self.weights_summary()

    def weights_summary(self) -> None:
        """Print the weights structure: each object, and each weight's shape and dtype."""
        print("Weights structure")
        print("\n".join(_tree(self.weights_dict, "  ")))


def _compare(reference: Mapping[str, Any], saved: Mapping[str, Any], path: str, lines: list[str]) -> int:
    matches = 0
    for key, ref in reference.items():
        where = f"{path}/{key}"
        kind = "Object" if isinstance(ref, Mapping) else "Weight"
        if key not in saved:
            lines.append(f"...{kind} {where} present in reference model, missing from saved file")
            if isinstance(ref, Mapping):
                lines.append(f"    In reference model, {where} contains the following keys: {list(ref)}")
        elif isinstance(ref, Mapping) != isinstance(saved[key], Mapping):
            lines.append(f"...{where} is an object in one and a weight in the other")
        elif isinstance(ref, Mapping):
            matches += _compare(ref, saved[key], where, lines)
        elif np.shape(ref) != np.shape(saved[key]):
            lines.append(f"...Weight shape mismatch for {where}")
            lines.append(f"    In reference model: shape={np.shape(ref)}")
            lines.append(f"    In saved file: shape={np.shape(saved[key])}")
        else:
            matches += 1
    for key, value in saved.items():
        if key not in reference:
            where = f"{path}/{key}"
            if isinstance(value, Mapping):
                lines.append(f"...Object {where} present in saved file, missing from reference model")
                lines.append(f"    In saved file, {where} contains the following keys: {list(value)}")
            else:
                lines.append(f"...Weight {where} present in saved file, missing from reference model")
    return matches


def _tree(node: Mapping[str, Any], indent: str) -> list[str]:
    out = []
    items = list(node.items())
    for i, (key, value) in enumerate(items):
        last = i == len(items) - 1
        branch, more = ("└─ ", "    ") if last else ("├─ ", "│   ")
        if isinstance(value, Mapping):
            out.append(f"{indent}{branch}{key}")
            out.extend(_tree(value, indent + more))
        else:
            out.append(f"{indent}{branch}{key}: shape={np.shape(value)}, dtype={np.asarray(value).dtype}")
    return out
