"""``FeatureSpace`` files: Keras 3's ``.keras`` layout, read and written as data (no code runs on loading).

``config.json`` is Keras's ``FeatureSpace`` config (each feature's preprocessing layer config, with what ``adapt``
learnt in it where the layer keeps it there: vocabularies, bin boundaries); ``model.weights.h5`` holds the
layers' variables in Keras's groups (``preprocessors/normalization/vars/0`` is a mean); Keras's ``assets/``
(vocabulary files) are read when the config has no vocabulary. ``keras.models.load_model`` reads what
``save_feature_space`` writes, and ``lamina.saving.load_model`` what ``keras.utils.FeatureSpace.save`` writes.

>>> import os, tempfile
>>> from lamina.utils.feature_space import FeatureSpace
>>> fs = FeatureSpace({"c": "string_categorical"}); fs.adapt({"c": ["a", "b", "a"]})
>>> path = os.path.join(tempfile.mkdtemp(), "fs.keras")
>>> save_feature_space(fs, path)
>>> load_feature_space(path).preprocessors["c"].get_vocabulary()
['[UNK]', 'a', 'b']
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from lamina.core import serialization
from lamina.core.naming import snake_case
from lamina.saving.errors import FileFormatError, UnsafeFileError
from lamina.saving.format import DEFAULT_LIMITS, Limits
from lamina.saving.keras_export.archive import write_archive
from lamina.saving.keras_export.config import to_keras
from lamina.saving.keras_import.archive import CONFIG, KerasArchive

MODULE = "keras.src.layers.preprocessing.feature_space"  # where Keras's Feature, Cross and TFDIdentity live


def _object(class_name: str, config: Any, module: str = MODULE, registered: str | None = None) -> dict:
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": registered if registered is not None else class_name}


def _layer_entry(layer: Any) -> dict:
    entry = to_keras(serialization.serialize_layer(layer))
    if type(layer).__name__ == "TFDIdentity":
        entry["module"], entry["registered_name"] = MODULE, "TFDIdentity"
    shape = getattr(layer, "_feature_space_input_shape", None)
    entry["build_config"] = {"input_shape": list(shape)} if shape is not None else {}
    return entry


def keras_config(fs: Any) -> dict:
    """The ``config.json`` Keras writes for ``fs`` (``FeatureSpace`` with its ``Feature``/``Cross`` objects)."""
    features = {name: _object("Feature", {"dtype": f.dtype, "preprocessor": _layer_entry(f.preprocessor),
                                          "output_mode": f.output_mode})
                for name, f in fs.features.items()}
    crosses = [_object("Cross", c.get_config()) for c in fs.crosses]
    config = {"features": features, "output_mode": fs.output_mode, "crosses": crosses,
              "crossing_dim": fs.crossing_dim, "hashing_dim": fs.hashing_dim,
              "num_discretization_bins": fs.num_discretization_bins}
    return {"module": "keras.utils", "class_name": "FeatureSpace", "config": config, "registered_name": None,
            "build_config": fs.get_build_config()}


def _groups(fs: Any) -> list[tuple[str, Any]]:
    """``(path, layer)`` of every sub-layer, named as Keras's saver names them (snake_case class names, numbered
    in order within each container)."""
    out = []
    containers = [("preprocessors", list(fs.preprocessors.values())), ("crossers", list(fs.crossers.values())),
                  ("one_hot_encoders", [fs.one_hot_encoders[n] for n, _ in fs._specs() if n in fs.one_hot_encoders])]
    for container, layers in containers:
        used: dict[str, int] = {}
        for layer in layers:
            base = snake_case(type(layer).__name__)
            count = used.get(base, 0)
            used[base] = count + 1
            out.append((f"{container}/{base}" + (f"_{count}" if count else ""), layer))
    if fs.output_mode == "concat":
        out.append(("concat", None))
    return out


def save_feature_space(fs: Any, filepath: Any) -> None:
    """Write ``fs`` (adapted) to a Keras 3 ``.keras`` file, atomically."""
    import h5py  # optional dependency (lamina[keras-import]), as for every .keras file

    path = os.fspath(filepath)
    if not path.endswith(".keras"):
        raise ValueError(f"FeatureSpace.save: the filepath must end with '.keras' (Keras 3's format, which "
                         f"keras.models.load_model and lamina.saving.load_model read); received {path!r}.")
    fs._check_if_built()

    def write_weights(f: IO[bytes]) -> None:
        with h5py.File(f, "w") as h5:
            h5.create_group("vars")
            for group, layer in _groups(fs):
                target = h5.create_group(f"{group}/vars")
                store: dict[str, Any] = {}
                if layer is not None:
                    layer.save_own_variables(store)
                for key, value in store.items():
                    array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
                    if array.dtype == np.int32 and type(layer).__name__ == "Normalization":
                        array = array.astype(np.int64)  # Keras's Normalization counts in int64
                    target.create_dataset(key, data=array)

    write_archive(path, keras_config(fs), write_weights, {})


def load_feature_space(filepath: Any, custom_objects: Mapping[str, Any] | None = None,
                       limits: Limits = DEFAULT_LIMITS) -> Any:
    """The ``FeatureSpace`` saved at ``filepath`` (by lamina or by Keras), adapted as it was saved."""
    import h5py

    path = os.fspath(filepath)
    with KerasArchive(path, limits) as archive:
        config = archive.json(CONFIG)
        if not isinstance(config, Mapping) or config.get("class_name") != "FeatureSpace":
            raise FileFormatError(f"{path} does not hold a FeatureSpace (its config.json names "
                                  f"{config.get('class_name') if isinstance(config, Mapping) else config!r:.100}).")
        try:
            with serialization.custom_object_scope(custom_objects):
                fs = serialization.deserialize_layer({k: v for k, v in config.items() if k != "build_config"})
            build = config.get("build_config")
            fs.build_from_config(build if isinstance(build, Mapping) else {})
        except (serialization.UnknownObjectError, serialization.UnsafeObjectError) as error:
            raise UnsafeFileError(f"Refusing the FeatureSpace's config: {error}") from None
        except (TypeError, ValueError, KeyError) as error:
            raise FileFormatError(f"{path}: config.json does not describe a FeatureSpace lamina can build: "
                                  f"{type(error).__name__}: {error}") from None
        groups = [(g, layer) for g, layer in _groups(fs) if layer is not None]
        with archive.weights_file() as weights, h5py.File(weights, "r") as h5:
            for group, layer in groups:
                node = h5.get(f"{group}/vars")
                store = {key: np.asarray(node[key]) for key in node} if isinstance(node, h5py.Group) else {}
                if store:
                    layer.load_own_variables(store)
        with tempfile.TemporaryDirectory(prefix="lamina-assets-") as folder:
            archive.extract_assets(folder)
            for group, layer in groups:
                target = os.path.join(folder, "assets", *group.split("/"))
                if os.path.isdir(target):
                    layer.load_assets(target)
    fs._is_adapted = True
    fs._finish_build()
    return fs
