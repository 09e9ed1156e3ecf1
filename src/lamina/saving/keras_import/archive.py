"""Checked reading of a Keras 3 ``.keras`` zip: its three known members and plain files under ``assets/``,
bounded sizes, no ``..`` or absolute paths.

The HDF5 weights are copied (within their declared size) to a private temporary file for ``h5py``, and assets
to a private temporary folder only when a layer's ``load_assets`` reads them; nothing in the archive is ever
written next to the user's files or executed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

from lamina.saving.errors import FileFormatError, UnsafeFileError
from lamina.saving.format import DEFAULT_LIMITS, Limits, MiB, open_regular, parse_json

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
MEMBERS = (CONFIG, METADATA, WEIGHTS)
ASSETS = "assets/"
MAX_ASSETS = 10_000
_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+@ ")


def _is_asset(name: str) -> bool:
    """A plain relative path under ``assets/``: no ``..``, no absolute or drive paths, no odd characters."""
    if not name.startswith(ASSETS) or "\\" in name or len(name) > 1024:
        return False
    parts = name[len(ASSETS):].rstrip("/").split("/")
    return all(p and p not in (".", "..") and set(p) <= _SAFE for p in parts) or name == ASSETS


class KerasArchive:
    """A ``.keras`` file opened for checked reading."""

    def __init__(self, path: str, limits: Limits = DEFAULT_LIMITS):
        self.path, self.limits = path, limits
        try:  # a regular file only (a FIFO or /dev/zero would be read forever), within the size checked here
            self._file, _ = open_regular(path, 2 * limits.max_tensor_file_bytes + 4 * limits.max_json_bytes)
        except FileNotFoundError:
            raise FileNotFoundError(f"No Keras model file at {path!r}.") from None
        try:
            self.zip = zipfile.ZipFile(self._file)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error, zlib.error,
                UnicodeDecodeError, NotImplementedError) as error:
            self._file.close()
            raise FileFormatError(f"{path} is not a Keras 3 .keras file (a zip archive): {error}. It may be truncated, "
                                  "or a legacy HDF5/SavedModel file, which lamina does not read.") from None
        try:
            self.infos = self._check()
        except BaseException:
            self.close()
            raise

    def _check(self) -> dict[str, zipfile.ZipInfo]:
        out: dict[str, zipfile.ZipInfo] = {}
        assets = 0
        for info in self.zip.infolist():
            name = info.filename
            if name not in MEMBERS and not _is_asset(name):
                raise UnsafeFileError(
                    f"{self.path} holds an unexpected member {name!r}; lamina reads .keras files holding only "
                    f"{', '.join(MEMBERS)} and plain files under assets/ (no other folders, no '..' or absolute "
                    "paths).")
            if name in MEMBERS or not name.endswith("/"):
                assets += name not in MEMBERS
                if assets > MAX_ASSETS:
                    raise UnsafeFileError(f"{self.path} holds more than {MAX_ASSETS} asset files.")
            if name in out:
                raise UnsafeFileError(f"{self.path} holds the member {name!r} twice.")
            if info.flag_bits & 0x1:
                raise UnsafeFileError(f"Member {name!r} of {self.path} is zip-encrypted, which .keras files never are.")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise UnsafeFileError(f"Member {name!r} uses zip compression method {info.compress_type}; only stored "
                                      "or deflated members are read.")
            limit = self.limits.max_tensor_file_bytes if name == WEIGHTS or _is_asset(name) else \
                self.limits.max_json_bytes
            if info.file_size > limit:
                raise UnsafeFileError(f"Member {name!r} declares {info.file_size} bytes, over the limit of {limit}.")
            if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > MiB and \
                    info.file_size > self.limits.max_ratio * max(info.compress_size, 1):
                raise UnsafeFileError(f"Member {name!r} expands {info.file_size // max(info.compress_size, 1)}-fold: "
                                      "refused as a zip bomb.")
            out[name] = info
        for needed in (CONFIG, WEIGHTS):
            if needed not in out:
                raise FileFormatError(f"{self.path} has no {needed}; a Keras 3 model file holds {', '.join(MEMBERS)}.")
        return out

    def _copy(self, name: str, sink: Any) -> None:
        info, total = self.infos[name], 0
        try:
            with self.zip.open(info) as f:
                while chunk := f.read(min(4 * MiB, info.file_size + 1 - total)):
                    total += len(chunk)
                    if total > info.file_size:
                        raise UnsafeFileError(f"Member {name!r} holds more data than its entry declares.")
                    sink(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zlib.error,
                struct.error) as error:  # a damaged deflate stream raises zlib.error
            if isinstance(error, (UnsafeFileError, FileFormatError)):
                raise
            raise FileFormatError(f"Member {name!r} of {self.path} is damaged or truncated: {error}.") from None
        if total != info.file_size:
            raise FileFormatError(f"Member {name!r} of {self.path} is truncated ({total} of {info.file_size} bytes).")

    def json(self, name: str) -> Any:
        """A JSON member, parsed after size and depth checks (``None`` when an optional member is absent)."""
        if name not in self.infos:
            return None
        chunks: list[bytes] = []
        self._copy(name, chunks.append)
        return parse_json(b"".join(chunks), f"{name} of {self.path}", self.limits)

    @contextlib.contextmanager
    def weights_file(self) -> Iterator[str]:
        """The path of a private temporary copy of ``model.weights.h5``, removed afterwards."""
        folder = tempfile.mkdtemp(prefix="lamina-keras-")
        try:
            path = os.path.join(folder, WEIGHTS)
            with open(path, "wb") as f:
                self._copy(WEIGHTS, f.write)
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def extract_assets(self, folder: str) -> None:
        """Copy the ``assets/`` members (checked names and sizes) under ``folder`` (a private temporary one)."""
        for name in self.infos:
            if not _is_asset(name) or name.endswith("/"):
                continue
            target = os.path.join(folder, *name.split("/"))
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as f:
                    self._copy(name, f.write)
            except OSError as error:  # e.g. "assets/a" both a file and a folder
                raise FileFormatError(f"The asset {name!r} of {self.path} cannot be extracted: {error}.") from None

    def close(self) -> None:
        self.zip.close()
        self._file.close()

    def __enter__(self) -> KerasArchive:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
