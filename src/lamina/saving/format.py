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
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import torch

from lamina.core import bounded_json
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
ITEMSIZES = {code: torch.empty((), dtype=dtype, device="meta").element_size() for code, dtype in DTYPES.items()}


@dataclass(frozen=True)
class Limits:
    """What a file may ask for (see ``docs/security.md``). Every check is linear in the file's size, and a file
    over a limit is refused with ``UnsafeFileError`` before the work it asks for is done. Raise them for a very
    large model you trust: ``load_model(path, limits=Limits(max_layers=50_000))``.

    >>> Limits().max_layers, Limits(max_layers=50_000).max_layers
    (10000, 50000)
    """

    max_json_bytes: int = 64 * MiB  # one JSON document (config.json, metadata.json, a safetensors header)
    max_json_depth: int = 128  # nesting of arrays and objects
    max_json_elements: int = 4_000_000  # values (numbers, strings, arrays, objects) in one JSON document
    max_tensor_file_bytes: int = 64 << 30
    max_header_bytes: int = 64 * MiB
    max_tensors: int = 200_000  # tensors in one safetensors file
    max_rank: int = 16
    max_layers: int = 10_000  # layers a model config lists, nested ones included
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
def open_regular(path: str, limit: int, what: str = "") -> tuple[BinaryIO, int]:
    """``(binary file, size)`` of the regular file at ``path`` (a symlink to one is followed), opened without
    blocking; anything else (a FIFO, a device such as ``/dev/zero``, a socket, a folder) or a file over
    ``limit`` bytes raises ``UnsafeFileError`` before a byte is read. A missing file raises FileNotFoundError."""
    what = what or repr(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode) else
                    "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a socket"
                    if stat.S_ISSOCK(info.st_mode) else "not a regular file")
            raise UnsafeFileError(f"{what} is {kind}, not a regular file: lamina reads model and weights files only "
                                  "from regular files (a special file can be read forever).")
        if info.st_size > limit:
            raise UnsafeFileError(f"{what} has {info.st_size} bytes, over the limit of {limit} (raise it with "
                                  "limits=lamina.saving.Limits(...) if the file is trusted).")
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str, limit: int, what: str = "") -> bytes:
    """The bytes of the regular file at ``path`` (see ``open_regular``), never more than the size it had when
    it was checked; a file that shrank meanwhile raises ``FileFormatError``."""
    f, size = open_regular(path, limit, what)
    with f:
        data = f.read(size)
    if len(data) != size:
        raise FileFormatError(f"{what or repr(path)} changed while it was read ({len(data)} of {size} bytes).")
    return data


def regular_file(path: str, what: str = "") -> bool:
    """True for a regular file (or a symlink to one), False when nothing is there; anything else (a FIFO, a
    device, a folder) raises ``UnsafeFileError``. For the readers that hand a path to a library (h5py)."""
    try:
        f, _ = open_regular(path, 1 << 62, what)
    except FileNotFoundError:
        return False
    f.close()
    return True


class Archive:
    """A ``.lamina`` zip opened for checked reading (a path to a regular file, or a binary file object)."""

    def __init__(self, source: str | os.PathLike | BinaryIO, limits: Limits = DEFAULT_LIMITS):
        if isinstance(source, os.PathLike):
            source = os.fspath(source)
        self.limits = limits
        self.where = source if isinstance(source, str) else "the file"
        self._file = None
        if isinstance(source, str):
            self._file, _ = open_regular(source, 2 * limits.max_tensor_file_bytes + 4 * limits.max_json_bytes)
            source = self._file
        try:
            self.zip = zipfile.ZipFile(source)
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error,
                zlib.error, UnicodeDecodeError, NotImplementedError) as error:
            self._close_file()
            raise FileFormatError(f"{self.where} is not a lamina model file (a zip archive): {error}. A .lamina file "
                                  "is written by model.save(); it may be truncated or of another format.") from None
        try:
            self.infos = self._check_entries()
        except BaseException:
            self.close()
            raise

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

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
        self._close_file()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()



# ---------------------------------------------------------------------------------------------- JSON
json_shape = bounded_json.json_shape  # (depth, values) of JSON text, counted in one pass without parsing


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays/objects in JSON text, counted without parsing (so without recursion)."""
    return json_shape(data)[0]


def parse_json(data: bytes | str, what: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse JSON text from a file after checking its size, nesting depth and number of values (``Limits``'s
    ``max_json_bytes``, ``max_json_depth``, ``max_json_elements``): the one parser for every JSON a file
    carries (configs, metadata, safetensors headers and their ``__metadata__`` values), on
    ``lamina.core.bounded_json``. A document over a limit raises ``UnsafeFileError``, malformed text (or a key
    given twice) ``FileFormatError``.

    >>> parse_json(b'{"a": [1, 2]}', "example.json")
    {'a': [1, 2]}
    >>> parse_json(b"[" * 1000 + b"]" * 1000, "deep.json")
    Traceback (most recent call last):
    lamina.saving.errors.UnsafeFileError: deep.json nests 1000 levels deep, over the limit of 128: refused ...
    """
    try:
        return bounded_json.loads(data, what, limits.max_json_bytes, limits.max_json_depth, limits.max_json_elements)
    except bounded_json.JSONLimitError as error:
        raise UnsafeFileError(f"{error} Raise the limit with limits=lamina.saving.Limits(...) if the file is "
                              "trusted.") from None
    except ValueError as error:
        raise FileFormatError(str(error)) from None


def parse_aliases(metadata: Mapping[str, str], what: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, str]:
    """The ``aliases`` entry of a weights file's ``__metadata__`` (tied weights: ``{alias: stored name}``),
    parsed by ``parse_json`` and checked to map strings to strings."""
    aliases = parse_json(metadata.get("aliases", "{}"), f"the aliases metadata of {what}", limits)
    if not isinstance(aliases, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
        raise FileFormatError(f"The aliases metadata of {what} must be a JSON object mapping weight names to weight "
                              f"names; received {str(aliases)[:100]}.")
    return aliases


def count_layers(config: Any, what: str, limits: Limits = DEFAULT_LIMITS) -> int:
    """The number of layers a parsed model config lists (every entry of every ``layers`` list, at any depth),
    counted iteratively; over ``limits.max_layers`` raises ``UnsafeFileError`` before anything is built."""
    count, stack = 0, [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            layers = value.get("layers")
            if isinstance(layers, list):
                count += len(layers)
                if count > limits.max_layers:
                    raise UnsafeFileError(
                        f"{what} lists more than {limits.max_layers} layers: refused, as building it could take "
                        "minutes and gigabytes (raise the limit with limits=lamina.saving.Limits(max_layers=...) "
                        "if the file is trusted).")
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return count


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
    return check_safetensors_header(bytes(data[8: 8 + n]), len(data) - 8 - n, what, limits)


def check_safetensors_header(raw: bytes, data_len: int, what: str, limits: Limits = DEFAULT_LIMITS
                             ) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """``parse_safetensors_header`` on the header's JSON text ``raw`` alone, for a file whose data part holds
    ``data_len`` bytes (``lamina inspect`` reads the header, not the data). Linear in the number of tensors."""
    header = parse_json(raw, f"the header of {what}", limits)
    if not isinstance(header, dict):
        raise FileFormatError(f"The header of {what} must be a JSON object.")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise FileFormatError(f"The __metadata__ of {what} must map strings to strings.")
    if len(header) > limits.max_tensors:
        raise UnsafeFileError(f"{what} lists {len(header)} tensors, over the limit of {limits.max_tensors} (raise "
                              "it with limits=lamina.saving.Limits(max_tensors=...) if the file is trusted).")
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


_SPEC_KEYS = frozenset({"dtype", "shape", "data_offsets"})


def _entry(name: str, spec: Any, what: str, data_len: int, limits: Limits) -> TensorEntry:
    if type(spec) is not dict or spec.keys() != _SPEC_KEYS:
        raise FileFormatError(f"Tensor {name[:200]!r} in {what} must have exactly dtype, shape and data_offsets.")
    code, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    dtype = DTYPES.get(code) if type(code) is str else None
    if dtype is None:
        raise UnsafeFileError(f"Tensor {name[:200]!r} in {what} has unknown dtype {str(code)[:50]!r}; known: "
                              f"{sorted(DTYPES)}.")
    numel = 1
    if type(shape) is not list or len(shape) > limits.max_rank:
        numel = -1
    else:
        for d in shape:
            if type(d) is not int or not 0 <= d < 1 << 48:
                numel = -1
                break
            numel *= d
    if numel < 0:
        raise UnsafeFileError(f"Tensor {name[:200]!r} in {what} has an invalid shape {str(shape)[:200]}.")
    if type(offsets) is not list or len(offsets) != 2 or type(offsets[0]) is not int or type(offsets[1]) is not int:
        raise FileFormatError(f"Tensor {name[:200]!r} in {what} has invalid data_offsets {str(offsets)[:200]}.")
    begin, end = offsets
    if not 0 <= begin <= end <= data_len:
        raise UnsafeFileError(f"Tensor {name[:200]!r} in {what} claims bytes {begin}..{end}, outside the {data_len} "
                              "bytes of data.")
    nbytes = numel * ITEMSIZES[code]
    if nbytes != end - begin:
        raise UnsafeFileError(f"Tensor {name!r} in {what} claims shape {tuple(shape)} of {code} ({nbytes} bytes) "
                              f"but a byte range of {end - begin}.")
    return TensorEntry(dtype, tuple(shape), begin, end)


def tensors_from(data: bytes, entries: Mapping[str, TensorEntry], names: Iterable[str] | None = None
                 ) -> dict[str, torch.Tensor]:
    """The tensors (all, or those ``names``) of a safetensors blob whose header ``parse_safetensors_header``
    accepted, each a copy that owns its memory; only the tensors asked for are made."""
    (n,) = struct.unpack("<Q", data[:8])
    base = 8 + n
    out = {}
    for name in entries if names is None else names:
        e = entries[name]
        if e.end == e.begin:
            out[name] = torch.empty(e.shape, dtype=e.dtype)
            continue
        raw = np.frombuffer(data, dtype=np.uint8, count=e.end - e.begin, offset=base + e.begin).copy()
        out[name] = torch.from_numpy(raw).view(e.dtype).reshape(e.shape)
    return out


def few(names: Iterable[str], shown: int = 5) -> str:
    """At most ``shown`` of ``names`` and how many there are in all (an error never lists 190,000 names)."""
    names = list(names)
    head = ", ".join(repr(n[:80]) for n in names[:shown])
    return f"{head}, ... ({len(names)} in all)" if len(names) > shown else head
