"""Keras 3 export: ``model.save("m.keras")`` and ``model.save_weights("m.weights.h5")`` in Keras 3's own
formats, which ``keras.saving.load_model`` and Keras's ``model.load_weights`` read.

Layer configs keep their Keras names; each layer's ``get_build_config``, the model's ``get_compile_config``,
and the saving hooks ``save_own_variables`` / ``save_assets`` are honoured as Keras honours them.

>>> import lamina, os, tempfile
>>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
>>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
>>> save_keras_model(model, path)
>>> type(lamina.saving.load_model(path)).__name__
'Sequential'
"""

from __future__ import annotations

import os
from typing import Any

from lamina.core.files import atomic_write
from lamina.saving.keras_export.archive import collect_assets, write_archive
from lamina.saving.keras_export.config import model_config
from lamina.saving.keras_export.h5 import write_weights
from lamina.saving.keras_export.layout import layout

__all__ = ["save_keras_model", "save_keras_weights"]


def _check(model: Any, filepath: str, overwrite: bool, what: str) -> None:
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
    if not getattr(model, "built", False):
        raise ValueError(f"{what}: model {model.name!r} is not built yet. Build it first (give an Input / "
                         "input_shape, call it on a batch, or fit it).")


def save_keras_model(model: Any, filepath: str | os.PathLike, overwrite: bool = True,
                     include_optimizer: bool = True) -> None:
    """Write ``model`` to a Keras 3 ``.keras`` file (config, weights, optimizer variables, assets), atomically.

    >>> model.save("classifier.keras")  # what model.save does for a .keras path  # doctest: +SKIP
    """
    path = os.fspath(filepath)
    _check(model, path, overwrite, "model.save")
    config = model_config(model)
    assets = collect_assets([g for g in layout(model, "save_assets") if g.hook])
    write_archive(path, config, lambda f: write_weights(model, f, include_optimizer=include_optimizer), assets)


def save_keras_weights(model: Any, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Write ``model``'s weights to a Keras 3 ``.weights.h5`` file, atomically.

    >>> model.save_weights("classifier.weights.h5")  # what save_weights does for this suffix  # doctest: +SKIP
    """
    path = os.fspath(filepath)
    _check(model, path, overwrite, "save_weights")
    atomic_write(path, lambda f: write_weights(model, f))
