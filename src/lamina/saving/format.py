"""The ``.lamina`` container: a zip of JSON and safetensors members, written atomically and read with strict checks.

Reading checks, before anything big is allocated: the member names (only the known ones, no paths), their sizes
and compression ratios (zip bombs), JSON size and nesting depth, and every safetensors header (dtypes, shapes,
byte ranges that tile the data exactly). Anything wrong raises ``FileFormatError`` or ``UnsafeFileError``.

>>> import io
>>> blob = pack({"config.json": b"{}", "metadata.json": b"{}"})
>>> with Archive(io.BytesIO(blob)) as archive:
...     archive.names
['config.json', 'metadata.json']
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import torch

from lamina.core.files import atomic_write
from lamina.saving.errors import FileFormatError, UnsafeFileError

CONFIG, METADATA, WEIGHTS, OPTIMIZER = "config.json", "metadata.json", "model.safetensors", "optimizer.safetensors"
SIGNATURE, SEAL = "signature.json", "metadata.seal"
MEMBERS = (CONFIG, METADATA, WEIGHTS, OPTIMIZER, SIGNATURE, SEAL)
JSON_MEMBERS = (CONFIG, METADATA, SIGNATURE)

MiB = 1 << 20

# safetensors dtype codes lamina reads (the ones torch has), with their sizes in bytes
DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "U16": torch.uint16, "U32": torch.uint32, "U64": torch.uint64,
}
CODES = {v: k for k, v in DTYPES.items()}


@dataclass(frozen=True)
class Limits:
    """What a file may ask for. Raise them for very large models: ``load_model(path, limits=Limits(...))``."""

    max_json_bytes: int = 64 * MiB
    max_json_depth: int = 128
    max_tensor_file_bytes: int = 64 << 30
    max_header_bytes: int = 64 * MiB
    max_tensors: int = 200_000
    max_rank: int = 16
    max_ratio: float = 200.0  # uncompressed / compressed size of a deflated member
    max_members: int = len(MEMBERS)


DEFAULT_LIMITS = Limits()


# ---------------------------------------------------------------------------------------------- writing
def pack(members: Mapping[str, bytes]) -> bytes:
    """A zip of ``members`` (JSON deflated, tensors stored) as bytes."""
    buffer = io.BytesIO()
    _write_zip(buffer, members)
    return buffer.getvalue()


def _write_zip(stream: BinaryIO, members: Mapping[str, bytes]) -> None:
    with zipfile.ZipFile(stream, "w") as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)


def write_archive(path: str, members: Mapping[str, bytes]) -> None:
    """Write the zip of ``members`` to ``path`` atomically."""
    atomic_write(path, lambda f: _write_zip(f, members))


# ---------------------------------------------------------------------------------------------- reading
class Archive:
    """A ``.lamina`` zip opened for checked reading (a path or a binary file object)."""

    def __init__(self, source: str | BinaryIO, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits
        self.where = source if isinstance(source, str) else "the file"
        try:
            self.zip = zipfile.ZipFile(source)
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error,
                zlib.error, UnicodeDecodeError, NotImplementedError) as error:
            raise FileFormatError(f"{self.where} is not a lamina model file (a zip archive): {error}. A .lamina file "
                                  "is written by model.save(); it may be truncated or of another format.") from None
        try:
            self.infos = self._check_entries()
        except BaseException:
            self.zip.close()
            raise

    def _check_entries(self) -> dict[str, zipfile.ZipInfo]:
        infos = self.zip.infolist()
        if len(infos) > self.limits.max_members:
            raise UnsafeFileError(f"{self.where} has {len(infos)} members; a lamina file has at most "
                                  f"{self.limits.max_members} ({', '.join(MEMBERS)}).")
        out: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            if name not in MEMBERS:
                raise UnsafeFileError(f"{self.where} holds an unexpected member {name!r}; a lamina file holds only "
                                      f"{', '.join(MEMBERS)} (no folders or paths).")
            if name in out:
                raise UnsafeFileError(f"{self.where} holds the member {name!r} twice.")
            if info.flag_bits & 0x1:
                raise UnsafeFileError(f"Member {name!r} uses zip encryption, which lamina files never use.")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise UnsafeFileError(f"Member {name!r} uses compression method {info.compress_type}; lamina files "
                                      "use only stored or deflated members.")
            limit = self.limits.max_json_bytes if name in JSON_MEMBERS else (
                1024 if name == SEAL else self.limits.max_tensor_file_bytes)
            if info.file_size > limit:
                raise UnsafeFileError(f"Member {name!r} declares {info.file_size} bytes, over the limit of {limit} "
                                      "(raise it with limits=lamina.saving.Limits(...) if the file is trusted).")
            if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > MiB and \
                    info.file_size > self.limits.max_ratio * max(info.compress_size, 1):
                raise UnsafeFileError(
                    f"Member {name!r} expands {info.file_size / max(info.compress_size, 1):.0f}-fold "
                    f"({info.compress_size} -> {info.file_size} bytes): refused as a zip bomb.")
            out[name] = info
        return out

    @property
    def names(self) -> list[str]:
        return sorted(self.infos)

    def has(self, name: str) -> bool:
        return name in self.infos

    def read(self, name: str) -> bytes:
        """The member's bytes, read in chunks and never past the size its entry declares."""
        info = self.infos.get(name)
        if info is None:
            raise FileFormatError(f"{self.where} has no member {name!r}; it holds {self.names}.")
        declared, chunks, total = info.file_size, [], 0
        try:
            with self.zip.open(info) as f:
                while True:
                    chunk = f.read(min(4 * MiB, declared + 1 - total))
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > declared:
                        raise UnsafeFileError(f"Member {name!r} holds more data than its entry declares.")
                    chunks.append(chunk)
        except (FileFormatError, UnsafeFileError):
            raise
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zlib.error,
                struct.error) as error:
            raise FileFormatError(f"Member {name!r} of {self.where} is damaged or truncated: {error}.") from None
        if total != declared:
            raise FileFormatError(f"Member {name!r} of {self.where} is truncated ({total} of {declared} bytes).")
        return b"".join(chunks)

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()



# ---------------------------------------------------------------------------------------------- JSON
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays/objects in JSON text, counted without parsing (so without recursion)."""
    stripped = _STRINGS.sub(b'""', data)
    brackets = np.frombuffer(stripped, dtype=np.uint8)
    opens = (brackets == ord("[")) | (brackets == ord("{"))
    closes = (brackets == ord("]")) | (brackets == ord("}"))
    steps = opens.astype(np.int64) - closes.astype(np.int64)
    return int(np.cumsum(steps).max()) if steps.size else 0


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_json(data: bytes, what: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse JSON text after checking its size and depth; malformed text raises ``FileFormatError``."""
    if len(data) > limits.max_json_bytes:
        raise UnsafeFileError(f"{what} has {len(data)} bytes, over the limit of {limits.max_json_bytes}.")
    depth = json_depth(data)
    if depth > limits.max_json_depth:
        raise UnsafeFileError(f"{what} nests {depth} levels deep, over the limit of {limits.max_json_depth}: "
                              "refused (deeply nested JSON can exhaust the interpreter's stack).")
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise FileFormatError(f"{what} is not valid JSON: {error}.") from None


def dump_json(value: Any) -> bytes:
    return json.dumps(value, indent=1, sort_keys=False, allow_nan=True).encode("utf-8")


# ---------------------------------------------------------------------------------------------- safetensors
@dataclass(frozen=True)
class TensorEntry:
    dtype: torch.dtype
    shape: tuple[int, ...]
    begin: int
    end: int


def parse_safetensors_header(data: bytes, what: str, limits: Limits = DEFAULT_LIMITS
                             ) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """The tensor entries and ``__metadata__`` of a safetensors blob, checked strictly: known dtypes, sane
    shapes whose byte size matches the range, ranges inside the data that tile it without overlap or gap."""
    if len(data) < 8:
        raise FileFormatError(f"{what} is truncated: {len(data)} bytes, not even a safetensors header length.")
    (n,) = struct.unpack("<Q", data[:8])
    if n > limits.max_header_bytes or n > len(data) - 8:
        raise UnsafeFileError(f"{what} claims a {n}-byte header, but holds {len(data) - 8} bytes after the length "
                              f"(limit {limits.max_header_bytes}).")
    header = parse_json(bytes(data[8: 8 + n]), f"the header of {what}", limits)
    if not isinstance(header, dict):
        raise FileFormatError(f"The header of {what} must be a JSON object.")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise FileFormatError(f"The __metadata__ of {what} must map strings to strings.")
    if len(header) > limits.max_tensors:
        raise UnsafeFileError(f"{what} lists {len(header)} tensors, over the limit of {limits.max_tensors}.")
    data_len = len(data) - 8 - n
    entries: dict[str, TensorEntry] = {}
    for name, spec in header.items():
        entries[name] = _entry(name, spec, what, data_len, limits)
    position = 0
    for name, e in sorted(entries.items(), key=lambda kv: (kv[1].begin, kv[1].end)):
        if e.begin != position:
            kind = "overlaps the previous tensor" if e.begin < position else "leaves a gap before it"
            raise UnsafeFileError(f"Tensor {name!r} in {what} {kind} (bytes {e.begin}..{e.end}, expected to start "
                                  f"at {position}).")
        position = e.end
    if position != data_len:
        raise FileFormatError(f"{what}: the tensors cover {position} bytes but the data holds {data_len}.")
    return entries, metadata


def _entry(name: str, spec: Any, what: str, data_len: int, limits: Limits) -> TensorEntry:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
        raise FileFormatError(f"Tensor {name!r} in {what} must have exactly dtype, shape and data_offsets.")
    code, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if code not in DTYPES:
        raise UnsafeFileError(f"Tensor {name!r} in {what} has unknown dtype {code!r}; known: {sorted(DTYPES)}.")
    dtype = DTYPES[code]
    if not isinstance(shape, list) or len(shape) > limits.max_rank or not all(
            type(d) is int and 0 <= d < 1 << 48 for d in shape):
        raise UnsafeFileError(f"Tensor {name!r} in {what} has an invalid shape {str(shape)[:200]}.")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets):
        raise FileFormatError(f"Tensor {name!r} in {what} has invalid data_offsets {str(offsets)[:200]}.")
    begin, end = offsets
    if not 0 <= begin <= end <= data_len:
        raise UnsafeFileError(f"Tensor {name!r} in {what} claims bytes {begin}..{end}, outside the {data_len} bytes "
                              "of data.")
    numel = 1
    for d in shape:
        numel *= d
    nbytes = numel * torch.empty((), dtype=dtype).element_size()
    if nbytes != end - begin:
        raise UnsafeFileError(f"Tensor {name!r} in {what} claims shape {tuple(shape)} of {code} ({nbytes} bytes) "
                              f"but a byte range of {end - begin}.")
    return TensorEntry(dtype, tuple(shape), begin, end)


def tensors_from(data: bytes, entries: Mapping[str, TensorEntry]) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors blob whose header ``parse_safetensors_header`` accepted (copies, so they
    own their memory)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(bytes(data))
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise FileFormatError(f"safetensors could not read the weights: {error}.") from None
    if set(tensors) != set(entries):
        raise FileFormatError("safetensors read different tensors than the checked header lists.")
    return tensors
