"""Legacy HDF5 model files (``model.save("m.h5")`` of Keras 2 / tf.keras, and of Keras 3), read without running
code: the architecture from the ``model_config`` attribute (through the same checked ``Builder`` as ``.keras``
files, so Lambda layers and unknown classes are refused), the weights from ``model_weights/<layer>``.

Keras 2's configs differ from Keras 3's in their graph nodes (``[[["dense", 0, 0, {}]]]``); they are rewritten
into Keras 3's form before building.

>>> model = load_legacy_h5("model.h5")  # saved by tf.keras  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np
import torch

from lamina.layers.layer import Layer
from lamina.layers.weights import with_owner
from lamina.models.model import Model
from lamina.saving.budget import AllocationBudget
from lamina.saving.errors import FileFormatError, UnsafeFileError
from lamina.saving.format import DEFAULT_LIMITS, Limits, MiB, count_layers, parse_json, regular_file
from lamina.saving.keras_import.compile import compile_from_keras
from lamina.saving.keras_import.config import Builder
from lamina.saving.keras_import.h5 import _child, _dataset


def _attr_json(f: Any, key: str, path: str, limits: Limits) -> Any:
    raw = f.attrs.get(key)
    if raw is None:
        return None
    if isinstance(raw, np.ndarray) or not isinstance(raw, (bytes, str)):
        raise FileFormatError(f"The {key!r} attribute of {path} must be JSON text.")
    return parse_json(raw.encode() if isinstance(raw, str) else bytes(raw), f"{key} of {path}", limits)


def _ref(value: Any) -> dict:
    return {"class_name": "__keras_tensor__", "config": {"keras_history": list(value[:3])}}


def _is_triple(value: Any) -> bool:
    return isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str) and \
        type(value[1]) is int and type(value[2]) is int


def _node(node: Any, where: str) -> dict:
    """One Keras 2 inbound node (a list of ``[layer, node, index, kwargs]``) in Keras 3's form."""
    if isinstance(node, Mapping):  # already Keras 3's
        return dict(node)
    if not isinstance(node, list) or not node or not all(_is_triple(t) for t in node):
        raise FileFormatError(f"An inbound node of {where} must be a list of [layer, node, index, kwargs].")
    kwargs = node[0][3] if len(node[0]) == 4 and isinstance(node[0][3], Mapping) else {}
    kwargs = {k: _ref(v) if _is_triple(v) else v for k, v in kwargs.items()}
    refs = [_ref(t) for t in node]
    return {"args": [refs[0]] if len(refs) == 1 else [refs], "kwargs": kwargs}


def to_keras3(config: Any, depth: int = 0) -> Any:
    """A legacy model config with its graph nodes in Keras 3's form (nested models too)."""
    if depth > 64 or not isinstance(config, Mapping):
        return config
    inner = config.get("config")
    if not isinstance(inner, Mapping) or not isinstance(inner.get("layers"), list):
        return config
    layers = []
    for entry in inner["layers"]:
        if isinstance(entry, Mapping):
            entry = dict(to_keras3(entry, depth + 1))
            nodes = entry.get("inbound_nodes")
            if isinstance(nodes, list):
                entry["inbound_nodes"] = [_node(n, f"layer {entry.get('name')!r}") for n in nodes]
        layers.append(entry)
    inner = {**inner, "layers": layers}
    for key in ("input_layers", "output_layers"):  # Keras 2 lists even a single tensor: [["dense", 0, 0]]
        value = inner.get(key)
        if isinstance(value, list) and len(value) == 1 and _is_triple(value[0]):
            inner[key] = value[0][:3]
    return {**config, "config": inner}


def _legacy_order(layer: Any) -> list[tuple[Any, str, Any]]:
    """A layer's weights as legacy files list them: trainable ones first, then the others."""
    entries = with_owner(layer)
    trainable = [e for e in entries if getattr(e[2], "requires_grad", False)]
    return trainable + [e for e in entries if not getattr(e[2], "requires_grad", False)]


def _load_weights(model: Model, group: Any, path: str) -> None:
    """Set every layer's weights from ``model_weights`` (layers with weights matched in order, as Keras does)."""
    names = group.attrs.get("layer_names")
    if names is None:
        raise FileFormatError(f"model_weights of {path} has no layer_names attribute.")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(names).tolist()]
    stored = []
    for name in names:
        sub = _child(group, name, "model_weights")
        if not isinstance(sub, h5py.Group):
            raise FileFormatError(f"model_weights/{name} of {path} must be a group.")
        weight_names = [w.decode() if isinstance(w, bytes) else str(w)
                        for w in np.asarray(sub.attrs.get("weight_names", [])).tolist()]
        if weight_names:
            stored.append((name, [_dataset(sub, w, f"model_weights/{name}") for w in weight_names]))
    layers = [layer for layer in model.layers if with_owner(layer)]
    if len(layers) != len(stored):
        raise FileFormatError(f"{path} holds weights for {len(stored)} layers, but the model has {len(layers)} "
                              "layers with weights: it was saved from a different architecture.")
    queued = []
    for layer, (name, datasets) in zip(layers, stored, strict=True):
        entries = _legacy_order(layer)
        if len(entries) != len(datasets):
            raise FileFormatError(f"model_weights/{name} holds {len(datasets)} weights, but layer {layer.name!r} "
                                  f"has {len(entries)}.")
        for (owner, wname, t), ds in zip(entries, datasets, strict=True):
            want = _keras_shape(owner, wname, t)
            if tuple(ds.shape) != tuple(want):
                raise FileFormatError(f"{ds.name} has shape {tuple(ds.shape)}, but layer {layer.name!r} expects "
                                      f"{tuple(want)} for {wname}.")
        queued.append((layer, entries, [np.asarray(ds[()]) for ds in datasets]))
    with torch.no_grad():
        for layer, entries, arrays in queued:
            if type(layer).set_weights is not Layer.set_weights:  # the layer's own rule for its weights
                by_position = {id(t): a for (_, _, t), a in zip(entries, arrays, strict=True)}
                layer.set_weights([by_position[id(t)] for _, _, t in with_owner(layer)])
                continue
            # set directly (as the .weights.h5 loader does): set_weights would copy each weight out to check it
            for (owner, wname, t), arr in zip(entries, arrays, strict=True):
                value = torch.as_tensor(arr)
                if hasattr(owner, "weight_from_keras"):
                    value = owner.weight_from_keras(wname, value)
                t.copy_(value.to(device=t.device, dtype=t.dtype))


def _keras_shape(owner: Any, name: str, t: Any) -> tuple:
    """The shape of a weight in Keras's layout, found on the meta device (no copy of the values)."""
    if not hasattr(owner, "weight_to_keras"):
        return tuple(t.shape)
    return tuple(owner.weight_to_keras(name, t.detach().to("meta")).shape)


def load_legacy_weights(model: Model, filepath: str | os.PathLike) -> None:
    """Load a legacy HDF5 weights file (Keras 2 / tf.keras ``save_weights("w.h5")``, the format of the weights
    ``keras.applications`` publishes, e.g. ``resnet50_weights_tf_dim_ordering_tf_kernels.h5``) into ``model``:
    the layers with weights are matched in order, as Keras's ``load_weights`` does, and every shape is checked
    before anything is set. A legacy full-model file's ``model_weights`` group is read the same way.

    >>> load_legacy_weights(model, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")  # doctest: +SKIP
    """
    path = os.fspath(filepath)
    if not regular_file(path):  # a FIFO or device is refused, not read forever
        raise FileNotFoundError(f"No HDF5 weights file at {path!r}.")
    if not getattr(model, "built", False) or not model.weights:
        raise ValueError(f"load_weights: model {model.name!r} has no weights yet. Build it first (call it on data, "
                         "give its first layer input_shape=, or call model.build(input_shape)).")
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as error:
        raise FileFormatError(f"{path} is not a readable HDF5 file: {error}.") from None
    with f:
        group = _child(f, "model_weights", "") if "layer_names" not in f.attrs else f
        if not isinstance(group, h5py.Group) or "layer_names" not in group.attrs:
            raise FileFormatError(f"{path} is not a legacy Keras weights file (no layer_names attribute at its top "
                                  "or in model_weights). A Keras 3 weights file must be named '*.weights.h5'.")
        try:
            _load_weights(model, group, path)
        except (KeyError, OSError, RuntimeError, TypeError, ValueError) as error:
            if isinstance(error, (FileFormatError, UnsafeFileError)):
                raise
            raise FileFormatError(f"The weights of {path} are malformed: {error}.") from None


def load_legacy_h5(filepath: str | os.PathLike, custom_objects: Mapping[str, Any] | None = None,
                   compile: bool = True, limits: Limits = DEFAULT_LIMITS) -> Model:
    """A lamina model from a legacy HDF5 model file (Keras 2 / tf.keras or Keras 3 ``model.save("m.h5")``).

    >>> model = load_legacy_h5("model.h5", compile=False)  # doctest: +SKIP
    """
    path = os.fspath(filepath)
    if not regular_file(path):  # a FIFO or device is refused, not read forever
        raise FileNotFoundError(f"No HDF5 model file at {path!r}.")
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as error:
        raise FileFormatError(f"{path} is not a readable HDF5 file: {error}.") from None
    with f:
        config = _attr_json(f, "model_config", path, limits)
        if not isinstance(config, Mapping) or "class_name" not in config:
            raise FileFormatError(f"{path} has no model_config attribute describing a model: it may be a weights-only "
                                  "file (use model.load_weights) or not a Keras model file.")
        count_layers(config, f"model_config of {path}", limits)
        training = _attr_json(f, "training_config", path, limits)
        builder = Builder(custom_objects)
        with AllocationBudget(3 * os.path.getsize(path) + 64 * MiB):  # no more than the file's weights need
            model = builder.layer(to_keras3(config), "the model")
        if not isinstance(model, Model):
            raise FileFormatError(f"{path} describes a {config['class_name']}, not a model.")
        weights = _child(f, "model_weights", "")
        if not isinstance(weights, h5py.Group):
            raise FileFormatError(f"{path} has no model_weights group.")
        try:
            _load_weights(model, weights, path)
        except (KeyError, OSError, RuntimeError, TypeError, ValueError) as error:
            if isinstance(error, (FileFormatError, UnsafeFileError)):
                raise
            raise FileFormatError(f"The weights of {path} are malformed: {error}.") from None
    if compile and isinstance(training, Mapping) and training:
        compile_config = {**training, "optimizer": training.get("optimizer_config")}
        try:
            compile_from_keras(model, compile_config, builder)
        except (FileFormatError, UnsafeFileError) as error:
            warnings.warn(f"{path} was loaded uncompiled: its training config does not compile in lamina ({error}). "
                          "Call model.compile(...) yourself.", UserWarning, stacklevel=2)
    return model
