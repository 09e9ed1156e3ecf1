"""``save_model`` / ``load_model``: whole models in a ``.lamina`` file that never carries or runs code.

Members: ``config.json`` (architecture and compile settings), ``model.safetensors`` (weights by ``state_dict``
name), ``optimizer.safetensors`` (optimizer state, for exact resume), ``metadata.json`` (versions, date, the
SHA-256 of every other member), and optionally ``signature.json`` (Ed25519) and ``metadata.seal`` (AES-GCM).

>>> import lamina, os, tempfile
>>> model = lamina.Sequential([lamina.layers.Dense(2, input_shape=(3,))])
>>> path = os.path.join(tempfile.mkdtemp(), "m.lamina")
>>> save_model(model, path); type(load_model(path)).__name__
'Sequential'
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from safetensors.torch import save as safetensors_bytes

from lamina.core import serialization
from lamina.models.model import Model
from lamina.saving import crypto, model_config
from lamina.saving import format as fmt
from lamina.saving.budget import AllocationBudget
from lamina.saving.dtype_rule import dtype_change, warn_casts
from lamina.saving.errors import FileFormatError, SavingError, UnsafeFileError
from lamina.saving.weights import _state

SUFFIX = ".lamina"
KERAS_SUFFIX = ".keras"
LEGACY_SUFFIXES = (".h5", ".hdf5")
FORMAT = "lamina.model"
FORMAT_VERSION = 1


# ---------------------------------------------------------------------------------------------- saving
def save_model(model: Any, filepath: str, overwrite: bool = True, signing_key: Any = None,
               encryption_key: bytes | None = None, include_optimizer: bool = True) -> None:
    """Write ``model`` (architecture, weights, compile settings, optimizer state) to a ``.lamina`` file,
    atomically: a crash leaves the previous file intact. A ``.keras`` path writes Keras 3's format instead
    (``keras.saving.load_model`` reads it; no optimizer state, signing or encryption), and ``.h5`` the legacy
    HDF5 model format (which Keras 3 still reads).

    ``signing_key`` (an Ed25519 private key) signs the file; ``encryption_key`` (32 bytes) encrypts its members
    with AES-256-GCM. Both need ``pip install 'lamina[crypto]'``.
    """
    filepath = os.fspath(filepath)
    if filepath.endswith(KERAS_SUFFIX):
        if signing_key is not None or encryption_key is not None:
            raise ValueError("model.save: Keras '.keras' files cannot be signed or encrypted; save to a "
                             f"'{SUFFIX}' file for signing_key/encryption_key.")
        from lamina.saving.keras_export import save_keras_model

        return save_keras_model(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)
    if filepath.endswith(LEGACY_SUFFIXES) and not filepath.endswith(".weights.h5"):
        if signing_key is not None or encryption_key is not None:
            raise ValueError("model.save: legacy '.h5' files cannot be signed or encrypted; save to a "
                             f"'{SUFFIX}' file for signing_key/encryption_key.")
        from lamina.saving.keras_export.legacy import save_legacy_h5

        return save_legacy_h5(model, filepath, overwrite=overwrite)  # Keras 2's format: prefer '.keras'
    if not filepath.endswith(SUFFIX):
        raise ValueError(f"model.save: the filepath must end with '{SUFFIX}' (lamina's format) or "
                         f"'{KERAS_SUFFIX}' (Keras 3's; '.h5' writes the legacy HDF5 format); received "
                         f"{filepath!r}. For weights only, use "
                         "save_weights('x.weights.safetensors') or save_weights('x.weights.h5').")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
    if not getattr(model, "built", False):
        raise ValueError("model.save: the model is not built yet. Build it first (give an Input / input_shape, "
                         "call it on a batch, or fit it).")
    config = serialization.serialize_layer(model)
    config["compile_config"] = model_config.compile_config(model)
    config["build_config"] = model_config.build_configs(model)
    members = {fmt.CONFIG: fmt.dump_json(config)}
    state, aliases = _state(model)
    members[fmt.WEIGHTS] = safetensors_bytes(state, metadata={"format": "lamina-weights", "version": "1",
                                                              "aliases": json.dumps(aliases)})
    opt = model_config.optimizer_state(getattr(model, "optimizer", None)) if include_optimizer else None
    if opt is not None:
        tensors, meta = opt
        members[fmt.OPTIMIZER] = safetensors_bytes(tensors, metadata={"optimizer": json.dumps(meta)})
    if encryption_key is not None:
        members = {name: crypto.encrypt(name, data, encryption_key) for name, data in members.items()}
    metadata = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "lamina_version": _lamina_version(),
        "torch_version": torch.__version__, "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "members": {name: {"sha256": crypto.sha256(data), "size": len(data)} for name, data in members.items()},
        "encryption": None if encryption_key is None else {"algorithm": "AES-256-GCM",
                                                           "key_id": crypto.key_id(encryption_key)},
        "signed": signing_key is not None,
    }
    members[fmt.METADATA] = meta_bytes = fmt.dump_json(metadata)
    if signing_key is not None:
        members[fmt.SIGNATURE] = fmt.dump_json(crypto.sign(meta_bytes, signing_key))
    if encryption_key is not None:
        members[fmt.SEAL] = crypto.seal(meta_bytes, encryption_key)
    fmt.write_archive(filepath, members)


def _lamina_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("lamina")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


# ---------------------------------------------------------------------------------------------- loading
def load_model(filepath: str, custom_objects: Mapping[str, Any] | None = None, compile: bool = True,
               safe_mode: bool = True, trusted_keys: Iterable[Any] | None = None,
               encryption_key: bytes | None = None, limits: fmt.Limits = fmt.DEFAULT_LIMITS,
               allow_unencrypted: bool = False) -> Any:
    """Read a model written by ``save_model`` (a ``.lamina`` file), or a Keras file (``.keras``, or a legacy
    ``.h5``) through the Keras importer, which runs no code from the file either. Names in the file resolve only
    through lamina's registry, ``register_serializable`` and ``custom_objects``; nothing from the file is imported
    or executed. A malformed or hostile file raises ``FileFormatError`` or ``UnsafeFileError`` (both
    ``SavingError``), never a half-built
    model. ``trusted_keys`` requires a valid signature by one of them (an unsigned file is refused).
    ``encryption_key`` decrypts, and requires an encrypted file: an unencrypted one (which anyone could have
    written in its place) is refused unless ``allow_unencrypted=True`` says that a plain file is acceptable too.
    ``safe_mode`` is accepted for Keras compatibility: code in a file is refused in either mode."""
    filepath = os.fspath(filepath)
    if filepath.endswith(KERAS_SUFFIX) or filepath.endswith(LEGACY_SUFFIXES):
        if trusted_keys is not None or (encryption_key is not None and not allow_unencrypted):
            raise ValueError("load_model: Keras files are never signed or encrypted; trusted_keys and "
                             f"encryption_key apply to '{SUFFIX}' files only.")
        from lamina.saving.keras_import import load_keras_model

        return load_keras_model(filepath, custom_objects=custom_objects, compile=compile,
                                             limits=limits)
    with fmt.Archive(filepath, limits) as archive:
        members = _verified_members(archive, trusted_keys, encryption_key, limits, allow_unencrypted)
    config = fmt.parse_json(members[fmt.CONFIG], "config.json", limits)
    if not isinstance(config, dict) or "class_name" not in config:
        raise FileFormatError("config.json must be an object with 'class_name' and 'config' (the model's config).")
    fmt.count_layers(config, "config.json", limits)
    weights = members[fmt.WEIGHTS]
    entries, weights_meta = fmt.parse_safetensors_header(weights, "model.safetensors", limits)
    declared = sum(e.end - e.begin for e in entries.values())
    model = _build(config, custom_objects, budget=3 * declared + 64 * fmt.MiB)
    _load_weights(model, weights, entries, weights_meta)
    if compile and config.get("compile_config") is not None:
        _compile(model, config["compile_config"], custom_objects)
        if fmt.OPTIMIZER in members:
            _load_optimizer(model, members[fmt.OPTIMIZER], declared, limits)
    return model


def _verified_members(archive: fmt.Archive, trusted_keys: Any, key: bytes | None, limits: fmt.Limits,
                      allow_unencrypted: bool = False) -> dict:
    """The members' plaintext after the checksums, signature and encryption were verified."""
    meta_bytes = archive.read(fmt.METADATA)
    metadata = fmt.parse_json(meta_bytes, "metadata.json", limits)
    listed = metadata.get("members") if isinstance(metadata, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT or not isinstance(listed, dict):
        raise FileFormatError("metadata.json does not describe a lamina model file (format 'lamina.model').")
    if type(metadata.get("format_version")) is not int or metadata["format_version"] > FORMAT_VERSION:
        raise FileFormatError(f"This file has format version {metadata.get('format_version')!r}; this lamina reads "
                              f"version {FORMAT_VERSION} and older. Upgrade lamina to read it.")
    if trusted_keys is not None:
        if not archive.has(fmt.SIGNATURE):
            raise UnsafeFileError("The file is not signed, but trusted_keys were given: refusing an unsigned file.")
        crypto.verify(meta_bytes, fmt.parse_json(archive.read(fmt.SIGNATURE), "signature.json", limits),
                      trusted_keys)
    encryption = metadata.get("encryption")
    if encryption is not None:
        if key is None:
            raise UnsafeFileError("The file is encrypted: pass encryption_key=<the 32-byte key it was saved with>.")
        if not isinstance(encryption, dict) or encryption.get("key_id") != crypto.key_id(key):
            raise UnsafeFileError("Wrong encryption key: the file was encrypted with another key.")
        if not archive.has(fmt.SEAL):
            raise UnsafeFileError("The encrypted file lacks metadata.seal: it was changed after saving.")
        crypto.check_seal(meta_bytes, archive.read(fmt.SEAL), key)
    elif key is not None and not allow_unencrypted:  # a downgrade: a plain file where an encrypted one was expected
        raise UnsafeFileError("The file is not encrypted, but encryption_key was given: refusing an unencrypted "
                              "file (it could have been put in place of the encrypted one). If plain files are "
                              "acceptable too, pass allow_unencrypted=True.")
    expected = set(listed)
    present = set(archive.names) - {fmt.METADATA, fmt.SIGNATURE, fmt.SEAL}
    if expected != present or not {fmt.CONFIG, fmt.WEIGHTS} <= present:
        raise UnsafeFileError(f"The file's members {sorted(present)} differ from those its metadata lists "
                              f"{sorted(expected)} (config.json and model.safetensors are required).")
    out = {}
    for name in sorted(present):
        data = archive.read(name)
        entry = listed[name]
        if not isinstance(entry, dict) or entry.get("sha256") != crypto.sha256(data):
            raise UnsafeFileError(f"Member {name!r} does not match the SHA-256 in metadata.json: it was changed or "
                                  "damaged after saving. Refusing to load it.")
        out[name] = crypto.decrypt(name, data, key) if encryption is not None else data
    return out


def _build(config: dict, custom_objects: Any, budget: int) -> Any:
    try:
        with serialization.custom_object_scope(custom_objects), AllocationBudget(budget):
            model = serialization.deserialize_layer(config)
            if not isinstance(model, Model):
                raise FileFormatError(f"config.json describes a {type(model).__name__}, not a model.")
            model_config.apply_build_configs(model, config.get("build_config") or {})
    except SavingError:
        raise
    except (serialization.UnknownObjectError, serialization.UnsafeObjectError) as error:
        raise UnsafeFileError(f"Refusing the model's config: {error}") from None
    except RecursionError:
        raise UnsafeFileError("The model's config nests too deeply to rebuild.") from None
    except Exception as error:  # any failure of a constructor on hostile values: the file is at fault
        if isinstance(error, ValueError) and str(error).startswith("Unknown "):  # a registry's unknown name
            raise UnsafeFileError(f"Refusing the model's config: {error}") from None
        raise FileFormatError(f"config.json does not describe a model lamina can build: "
                              f"{type(error).__name__}: {error}") from None
    return model


def _load_weights(model: Any, data: bytes, entries: dict, metadata: dict) -> None:
    fmt.parse_aliases(metadata, "model.safetensors")  # tied weights are stored once: the aliases must parse
    own = model.state_dict(keep_vars=True)
    unique, seen = {}, {}
    for key, value in own.items():
        if id(value) not in seen:
            seen[id(value)] = key
            unique[key] = value
    problems = [f"missing {k}" for k in unique if k not in entries]
    problems += [f"unexpected {k}" for k in entries if k not in unique]
    casts = []
    for key, value in unique.items():
        e = entries.get(key)
        change = None if e is None else dtype_change(e.dtype, value.dtype)  # the rule of load_weights too
        if e is not None and (e.shape != tuple(value.shape) or change == "refuse"):
            problems.append(f"{key}: file {e.shape} {e.dtype}, model {tuple(value.shape)} {value.dtype}")
        elif change == "cast":
            casts.append(f"{key} (file {e.dtype}, model {value.dtype})")
    if problems:
        raise FileFormatError("model.safetensors does not match the model its config describes: "
                              + "; ".join(problems[:10]) + (f" ... ({len(problems)} problems in all)"
                                                            if len(problems) > 10 else "") + ".")
    warn_casts("load_model (model.safetensors)", casts)
    tensors = fmt.tensors_from(data, entries)
    with torch.no_grad():
        for key, value in unique.items():
            value.copy_(tensors[key].to(value.device, value.dtype))


def _compile(model: Any, config: Any, custom_objects: Any) -> None:
    try:
        with serialization.custom_object_scope(custom_objects):
            model_config.compile_from_config(model, config, custom_objects)
    except (serialization.UnknownObjectError, serialization.UnsafeObjectError) as error:
        raise UnsafeFileError(f"Refusing the model's compile config: {error}") from None
    except SavingError:
        raise
    except Exception as error:
        if isinstance(error, ValueError) and str(error).startswith("Unknown "):
            raise UnsafeFileError(f"Refusing the model's compile config: {error}") from None
        raise FileFormatError(f"The compile config cannot be applied: {type(error).__name__}: {error}. Load with "
                              "compile=False to get the model without it.") from None


def _load_optimizer(model: Any, data: bytes, weights_bytes: int, limits: fmt.Limits) -> None:
    entries, metadata = fmt.parse_safetensors_header(data, "optimizer.safetensors", limits)
    total = sum(e.end - e.begin for e in entries.values())
    if total > 8 * weights_bytes + fmt.MiB:
        raise UnsafeFileError(f"optimizer.safetensors holds {total} bytes, far more than an optimizer needs for "
                              f"{weights_bytes} bytes of weights: refusing it.")
    meta = fmt.parse_json(metadata.get("optimizer", "null").encode(), "the optimizer state's metadata", limits)
    if not isinstance(meta, dict):
        raise FileFormatError("optimizer.safetensors lacks its 'optimizer' metadata.")
    try:
        model_config.load_optimizer_state(model, fmt.tensors_from(data, entries), meta)
    except SavingError:
        raise
    except Exception as error:
        raise FileFormatError(f"The optimizer state does not fit the model's optimizer: {error}") from None
