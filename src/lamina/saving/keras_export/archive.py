"""The ``.keras`` zip itself: ``metadata.json``, ``config.json``, ``model.weights.h5`` and the layers'
``assets/``, written to a temporary file in the target's folder and renamed over it (atomic).

>>> import json, os, tempfile, zipfile
>>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
>>> write_archive(path, {"class_name": "Sequential"}, lambda f: f.write(b"h5"), {})
>>> sorted(zipfile.ZipFile(path).namelist())
['config.json', 'metadata.json', 'model.weights.h5']
"""

from __future__ import annotations

import datetime
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from typing import IO, Any

from lamina.core.files import atomic_write
from lamina.saving.keras_export.layout import Group, join

# The Keras 3 file-format release lamina writes (what Keras reads to decide how to load the file).
KERAS_VERSION = "3.15.0"
CONFIG, METADATA, WEIGHTS, ASSETS = "config.json", "metadata.json", "model.weights.h5", "assets"


def metadata() -> dict:
    """``metadata.json``: the Keras version the file follows, the date, and the lamina version that wrote it."""
    from importlib import metadata as importlib_metadata

    try:
        version = importlib_metadata.version("lamina")
    except importlib_metadata.PackageNotFoundError:
        version = "unknown"
    now = datetime.datetime.now(datetime.UTC)
    return {"keras_version": KERAS_VERSION, "date_saved": now.strftime("%Y-%m-%d@%H:%M:%S"),
            "lamina_version": version}


def collect_assets(groups: list[Group]) -> dict[str, bytes]:
    """Call ``save_assets(dir)`` of every layer that overrides it; the files it writes, by archive name
    (``assets/<layer path>/<file>``)."""
    folder = tempfile.mkdtemp(prefix="lamina-assets-")
    try:
        for group in groups:
            target = os.path.join(folder, *join(ASSETS, group.path).split("/"))
            os.makedirs(target, exist_ok=True)
            group.layer.save_assets(target)
        out = {}
        for root, _, files in os.walk(folder):
            for name in sorted(files):
                full = os.path.join(root, name)
                with open(full, "rb") as f:
                    out[os.path.relpath(full, folder).replace(os.sep, "/")] = f.read()
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_archive(path: str, config: Mapping, write_weights: Callable[[IO[bytes]], None],
                  assets: Mapping[str, bytes]) -> None:
    """Write the ``.keras`` file at ``path`` atomically (stored members, as Keras writes them)."""

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr(METADATA, json.dumps(metadata()))
            z.writestr(CONFIG, json.dumps(config))
            buffer = io.BytesIO()  # HDF5 needs a seekable file, which a zip member is not
            write_weights(buffer)
            z.writestr(WEIGHTS, buffer.getvalue())
            for name, data in assets.items():
                z.writestr(name, data)

    atomic_write(path, write)
