"""Weights files: safetensors (no pickle), written atomically (temp file in the same folder, fsync, rename).

Keys are the model's ``state_dict`` names (e.g. ``dense.kernel``), tensors in PyTorch's layout.

>>> import lamina as keras, tempfile, os
>>> model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
>>> path = os.path.join(tempfile.mkdtemp(), "m.weights.safetensors")
>>> model.save_weights(path); model.load_weights(path)
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from safetensors.torch import save

from lamina.core.files import atomic_write_bytes
from lamina.saving import format as fmt
from lamina.saving.dtype_rule import dtype_change, warn_casts
from lamina.saving.errors import FileFormatError, UnsafeFileError

SUFFIX = ".weights.safetensors"
KERAS_SUFFIX = ".weights.h5"


def _state(model: Any) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors to write, and the aliases of tied weights (one tensor under several names: safetensors
    refuses shared storage, so each is written once and the other names point to it)."""
    state, aliases, seen = {}, {}, {}
    for key, value in model.state_dict(keep_vars=True).items():
        if id(value) in seen:
            aliases[key] = seen[id(value)]
            continue
        seen[id(value)] = key
        state[key] = value.detach().to("cpu").contiguous()
    return state, aliases


def save_weights(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Save ``model``'s weights to ``filepath``: ``.weights.safetensors`` (lamina's format) or ``.weights.h5``
    (Keras 3's HDF5 layout, which Keras's ``load_weights`` reads)."""
    filepath = os.fspath(filepath)
    if filepath.endswith(KERAS_SUFFIX):
        from lamina.saving.keras_export import save_keras_weights

        return save_keras_weights(model, filepath, overwrite=overwrite)
    if not filepath.endswith(SUFFIX):
        raise ValueError(f"save_weights: the filepath must end with '{SUFFIX}' (lamina's format) or "
                         f"'{KERAS_SUFFIX}' (Keras 3's); received {filepath!r}.")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
    if not model.built or not list(model.state_dict()):
        raise ValueError("save_weights: the model has no weights yet. Build it (call it on data, or fit) first.")
    state, aliases = _state(model)
    metadata = {"format": "lamina-weights", "version": "1", "aliases": json.dumps(aliases)}
    atomic_write_bytes(filepath, save(state, metadata=metadata))


def load_weights(model: Any, filepath: str, skip_mismatch: bool = False, limits: fmt.Limits = fmt.DEFAULT_LIMITS
                 ) -> None:
    """Load weights saved by ``save_weights`` into ``model`` (which must have the same architecture); a Keras 3
    ``.weights.h5`` file goes through the Keras importer, a legacy ``.h5`` / ``.hdf5`` weights file (Keras 2,
    as ``keras.applications`` publishes them) through the legacy reader. A malformed or hostile file, or one that
    does not fit the model, raises ``FileFormatError``/``UnsafeFileError`` (``SavingError``, a ``ValueError``);
    ``limits`` (``lamina.saving.Limits``) bounds what a ``.weights.safetensors`` file may ask for."""
    filepath = os.fspath(filepath)
    if filepath.endswith(KERAS_SUFFIX):
        from lamina.saving.keras_import import load_keras_weights

        return load_keras_weights(model, filepath, skip_mismatch=skip_mismatch)
    if filepath.endswith((".h5", ".hdf5")):  # Keras 2 / tf.keras weights (what keras.applications publishes)
        from lamina.saving.keras_import.legacy import load_legacy_weights

        if skip_mismatch:
            raise ValueError("load_weights: skip_mismatch=True is not supported for legacy .h5 weights files "
                             "(their layers are matched in order); load them without it.")
        return load_legacy_weights(model, filepath)
    try:
        # a regular file only, read within the size checked first; the header is checked strictly (dtypes,
        # shapes, byte ranges that tile the data) and the names compared before any tensor is made
        data = fmt.read_regular(filepath, limits.max_tensor_file_bytes, repr(filepath))
        entries, metadata = fmt.parse_safetensors_header(data, repr(filepath), limits)
        aliases = fmt.parse_aliases(metadata, repr(filepath), limits)
    except (OSError, ValueError) as error:
        kind = UnsafeFileError if isinstance(error, UnsafeFileError) else FileFormatError
        raise kind(f"load_weights: cannot read {filepath!r} as a safetensors weights file: {error}") from None
    stored = {alias: target for alias, target in aliases.items() if target in entries and alias not in entries}
    stored.update((k, k) for k in entries)
    own = model.state_dict()
    missing = [k for k in own if k not in stored]
    unexpected = [k for k in stored if k not in own]
    mismatched = [k for k in own if k in stored and tuple(own[k].shape) != entries[stored[k]].shape]
    changes = {k: dtype_change(entries[stored[k]].dtype, own[k].dtype) for k in own
               if k in stored and k not in mismatched}
    retyped = [k for k, change in changes.items() if change == "refuse"]
    if (missing or unexpected or mismatched or retyped) and not skip_mismatch:
        detail = "; ".join(p for p in (
            f"missing in the file: {fmt.few(missing)}" if missing else "",
            f"not in the model: {fmt.few(unexpected)}" if unexpected else "",
            "shape differs: " + fmt.few([f"{k} model {tuple(own[k].shape)} vs file {entries[stored[k]].shape}"
                                         for k in mismatched]) if mismatched else "",
            "dtype of another kind (floating vs integer or bool: never cast): " + fmt.few(
                [f"{k} model {own[k].dtype} vs file {entries[stored[k]].dtype}" for k in retyped]) if retyped
            else "") if p)
        raise FileFormatError(f"load_weights: {filepath} does not match model '{model.name}': {detail}. "
                              "Pass skip_mismatch=True to load only the weights that fit.")
    mismatched += retyped
    warn_casts(f"load_weights({os.path.basename(filepath)!r})", [
        f"{k} (file {entries[stored[k]].dtype}, model {own[k].dtype})" for k, c in changes.items() if c == "cast"])
    wanted = {k for k in own if k in stored and k not in mismatched}
    tensors = fmt.tensors_from(data, entries, sorted({stored[k] for k in wanted}))
    loaded = {k: tensors[stored[k]] for k in wanted}
    with torch.no_grad():
        for key, value in own.items():
            if key in loaded and key not in mismatched:
                value.copy_(loaded[key].to(value.device, value.dtype))
