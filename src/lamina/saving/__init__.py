"""Saving: whole models (``.lamina``), weights files (``.weights.safetensors``), and the serialization registry.

>>> import lamina
>>> @lamina.saving.register_serializable(package="docs")
... def halve(x):
...     return x / 2
>>> lamina.saving.get_registered_name(halve)
'docs>halve'
"""

from typing import Any

from lamina.core.serialization import (
    custom_object_scope,
    get_registered_name,
    get_registered_object,
    register_serializable,
)
from lamina.saving.errors import FileFormatError, SavingError, UnsafeFileError
from lamina.saving.format import Limits
from lamina.saving.model_file import load_model, save_model
from lamina.saving.weights import load_weights, save_weights

__all__ = [
    "FileFormatError", "Limits", "SavingError", "UnsafeFileError", "custom_object_scope", "get_registered_name",
    "get_registered_object", "load_keras_model", "load_keras_weights", "load_model", "load_weights",
    "register_serializable", "save_model", "save_weights",
]


def __getattr__(name: str) -> Any:
    # The Keras 3 importer lives in its own module (h5py is needed only there).
    if name in ("load_keras_model", "load_keras_weights"):
        from lamina.saving import keras_import

        return getattr(keras_import, name)
    raise AttributeError(f"module 'lamina.saving' has no attribute {name!r}")
