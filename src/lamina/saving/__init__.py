"""Saving: whole models (``.lamina``; Keras 3's ``.keras`` and legacy ``.h5``), weights files
(``.weights.safetensors``; Keras 3's ``.weights.h5``), and the serialization registry
(also under Keras's ``keras.saving`` names: ``register_keras_serializable``, ``serialize_keras_object``, ...).

>>> import lamina
>>> @lamina.saving.register_serializable(package="docs")
... def halve(x):
...     return x / 2
>>> lamina.saving.get_registered_name(halve)
'docs>halve'
"""

from typing import Any as _Any

from lamina.core.serialization import (
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    register_serializable,
)
from lamina.core.serialization import find_registered_object as get_registered_object
from lamina.core.serialization import register_serializable as register_keras_serializable
from lamina.core.serialization import serialize as serialize_keras_object
from lamina.saving.errors import FileFormatError, SavingError, UnsafeFileError
from lamina.saving.format import Limits
from lamina.saving.model_file import load_model, save_model
from lamina.saving.weights import load_weights, save_weights

CustomObjectScope = custom_object_scope  # Keras's class name for the same scope

__all__ = [
    "CustomObjectScope", "FileFormatError", "KerasFileEditor", "Limits", "SavingError", "UnsafeFileError",
    "custom_object_scope", "deserialize_keras_object", "get_custom_objects", "get_registered_name",
    "get_registered_object", "load_keras_model", "load_keras_weights", "load_model", "load_weights",
    "register_keras_serializable", "register_serializable", "save_keras_model", "save_keras_weights", "save_model",
    "save_weights", "serialize_keras_object",
]


def __getattr__(name: str) -> _Any:
    # The Keras 3 importer and exporter live in their own packages (h5py is needed only there).
    if name in ("load_keras_model", "load_keras_weights"):
        from lamina.saving import keras_import

        return getattr(keras_import, name)
    if name in ("save_keras_model", "save_keras_weights"):
        from lamina.saving import keras_export

        return getattr(keras_export, name)
    if name == "KerasFileEditor":  # reads and writes HDF5 through h5py, as the importer and exporter
        from lamina.saving.file_editor import KerasFileEditor

        return KerasFileEditor
    raise AttributeError(f"module 'lamina.saving' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names (as ``dir(keras.saving)``), the lazily imported Keras-file functions included."""
    return sorted(__all__)
