"""Legacy HDF5 model files (``model.save("m.h5")``), as Keras 3 writes them and ``keras.models.load_model``
reads them: the Keras config in the ``model_config`` attribute, the compile settings in ``training_config``,
each layer's weights under ``model_weights/<layer name>`` (trainable ones first, then the others, in the order
their ``weight_names`` attribute lists). No optimizer state is written.

>>> import lamina, os, tempfile
>>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
>>> save_legacy_h5(model, os.path.join(tempfile.mkdtemp(), "m.h5"))
"""

from __future__ import annotations

import json
import os
from typing import Any

import h5py

from lamina.core.files import atomic_write
from lamina.layers.weights import export, with_owner
from lamina.saving.keras_export.archive import KERAS_VERSION
from lamina.saving.keras_export.config import model_config


def _training_config(compile_config: dict) -> dict | None:
    if not compile_config:
        return None
    out = {k: v for k, v in compile_config.items() if k != "optimizer"}
    optimizer = compile_config.get("optimizer")
    if isinstance(optimizer, dict):
        optimizer = {"class_name": optimizer.get("class_name"), "config": optimizer.get("config")}
    out["optimizer_config"] = optimizer
    return out


def _legacy_entries(layer: Any) -> list[tuple[Any, str, Any]]:
    entries = with_owner(layer)
    trainable = [e for e in entries if getattr(e[2], "requires_grad", False)]
    return trainable + [e for e in entries if not getattr(e[2], "requires_grad", False)]


def _write(model: Any, f: Any) -> None:
    config = model_config(model)
    compile_config = config.pop("compile_config", None)
    with h5py.File(f, "w") as h5:
        h5.attrs["keras_version"] = KERAS_VERSION
        h5.attrs["backend"] = "torch"
        h5.attrs["model_config"] = json.dumps(config)
        training = _training_config(compile_config or {})
        if training is not None:
            h5.attrs["training_config"] = json.dumps(training)
        weights = h5.create_group("model_weights")
        weights.attrs["keras_version"] = KERAS_VERSION
        weights.attrs["backend"] = "torch"
        layers = list(model.layers)
        weights.attrs["layer_names"] = [layer.name.encode() for layer in layers]
        for layer in layers:
            group = weights.create_group(layer.name)
            names = []
            for owner, name, tensor in _legacy_entries(layer):
                prefix = layer.name if owner is layer else f"{layer.name}/{getattr(owner, 'name', 'module')}"
                key = f"{prefix}/{name}"
                while key in names:
                    key += "_"
                names.append(key)
                group.create_dataset(key, data=export(owner, name, tensor))
            group.attrs["weight_names"] = [n.encode() for n in names]
        weights.create_group("top_level_model_weights").attrs["weight_names"] = []


def save_legacy_h5(model: Any, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Write ``model`` as a legacy HDF5 model file (Keras 3 reads it; prefer ``.keras`` for new files).

    >>> model.save("model.h5")  # what model.save does for an .h5 path  # doctest: +SKIP
    """
    path = os.fspath(filepath)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    if not getattr(model, "built", False) or not hasattr(model, "layers"):
        raise ValueError("model.save: the model is not built yet. Build it first (give an Input / input_shape, "
                         "call it on a batch, or fit it).")
    atomic_write(path, lambda f: _write(model, f))
