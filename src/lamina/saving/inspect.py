"""``lamina inspect model.lamina``: what a model file holds, read as data only.

Prints the format and versions, every member with its size and SHA-256 checked against ``metadata.json``
(``OK`` / ``MISMATCH``), and the model's summary from ``config.json`` (layer names, classes, configured input
shapes) with parameter counts from the safetensors header. Nothing is built, imported or run from the file; a
malformed or hostile file is reported in one line and the command exits with status 1.

    $ lamina inspect classifier.lamina
    $ python -m lamina.saving.inspect classifier.lamina

>>> main(["inspect", "missing.lamina"])  # the one-line report goes to stderr; the exit status:
1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from lamina.saving import format as fmt
from lamina.saving.errors import FileFormatError, SavingError, UnsafeFileError

_PRINTABLE = {c: "?" for c in range(32)} | {127: "?"}


def _clean(value: Any, width: int = 60) -> str:
    """A value from the file as safe text: control characters (terminal escapes) replaced, length bounded."""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    text = text.translate(_PRINTABLE)
    return text if len(text) <= width else text[: width - 3] + "..."


def _chunks(archive: fmt.Archive, name: str) -> Iterator[bytes]:
    """The member's bytes in chunks, never past its declared size (checked like ``Archive.read``)."""
    info, total = archive.infos[name], 0
    try:
        with archive.zip.open(info) as f:
            while chunk := f.read(min(4 * fmt.MiB, info.file_size + 1 - total)):
                total += len(chunk)
                if total > info.file_size:
                    raise UnsafeFileError(f"Member {name!r} holds more data than its entry declares.")
                yield chunk
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as error:
        if isinstance(error, SavingError):
            raise
        raise FileFormatError(f"Member {name!r} is damaged or truncated: {error}.") from None
    if total != info.file_size:
        raise FileFormatError(f"Member {name!r} is truncated ({total} of {info.file_size} bytes).")


def _digest(archive: fmt.Archive, name: str) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    for chunk in _chunks(archive, name):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def _param_counts(archive: fmt.Archive, limits: fmt.Limits) -> dict[str, int]:
    """``{tensor name: element count}`` from the safetensors header alone (the data is not read)."""
    head = b""
    for chunk in _chunks(archive, fmt.WEIGHTS):
        head += chunk
        if len(head) >= 8 and len(head) >= 8 + struct.unpack("<Q", head[:8])[0]:
            break
        if len(head) > 8 + limits.max_header_bytes:
            break
    if len(head) < 8:
        raise FileFormatError("model.safetensors is truncated: no header length.")
    (n,) = struct.unpack("<Q", head[:8])
    if n > limits.max_header_bytes or len(head) < 8 + n:
        raise UnsafeFileError(f"model.safetensors claims a {n}-byte header, more than it holds or the limit allows.")
    header = fmt.parse_json(head[8: 8 + n], "the header of model.safetensors", limits)
    if not isinstance(header, dict):
        raise FileFormatError("The header of model.safetensors must be a JSON object.")
    counts = {}
    for key, spec in header.items():
        if key == "__metadata__":
            continue
        shape = spec.get("shape") if isinstance(spec, dict) else None
        if not isinstance(shape, list) or len(shape) > limits.max_rank or not all(
                type(d) is int and 0 <= d < 1 << 48 for d in shape):
            raise UnsafeFileError(f"Tensor {_clean(key)!r} in model.safetensors has an invalid shape.")
        count = 1
        for d in shape:
            count *= d
        counts[key] = count
    return counts


def _layer_rows(config: Any, build: Mapping, counts: Mapping[str, int], prefix: str = "", depth: int = 0) -> list:
    """(name, class, configured input shape, parameter count) for each layer of a model config."""
    inner = config.get("config") if isinstance(config, Mapping) else None
    layers = inner.get("layers") if isinstance(inner, Mapping) else None
    if not isinstance(layers, list):
        return []
    rows = []
    for entry in layers:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("config"), Mapping):
            raise FileFormatError("config.json lists a layer that is not a {class_name, config} object.")
        cfg = entry["config"]
        name = str(cfg.get("name", entry.get("name", "?")))
        key = prefix + name
        shape, built = cfg.get("batch_shape"), build.get(name)
        if shape is None and isinstance(built, Mapping):
            shape = built.get("input_shape")
        params = sum(c for k, c in counts.items() if k.startswith(key + "."))
        rows.append(("  " * depth + name, entry.get("class_name", "?"), shape, params))
        if depth < 8 and isinstance(cfg.get("layers"), list):
            rows += _layer_rows(entry, {}, counts, key + ".", depth + 1)
    return rows


def _shape_text(shape: Any) -> str:
    if isinstance(shape, list) and all(d is None or isinstance(d, int) for d in shape):
        return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    return "?" if shape is None else _clean(shape, 28)


def inspect_file(path: str, out: TextIO | None = None, limits: fmt.Limits = fmt.DEFAULT_LIMITS) -> bool:
    """Print the report of the ``.lamina`` file at ``path``; True when every checksum matches.

    Raises ``FileFormatError``/``UnsafeFileError`` for a malformed or hostile file (``main`` reports them).
    """
    write = lambda line="": print(line, file=out or sys.stdout)  # noqa: E731
    with fmt.Archive(path, limits) as archive:
        if not archive.has(fmt.METADATA):
            raise FileFormatError("The file has no metadata.json, so it is not a lamina model file.")
        meta = fmt.parse_json(archive.read(fmt.METADATA), "metadata.json", limits)
        if not isinstance(meta, Mapping) or not isinstance(meta.get("members"), Mapping):
            raise FileFormatError("metadata.json does not describe a lamina model file (no member list).")
        write(f"File: {_clean(path, 200)}")
        write(f"Format: {_clean(meta.get('format'))} version {_clean(meta.get('format_version'))}")
        write(f"Saved by: lamina {_clean(meta.get('lamina_version'))}, torch {_clean(meta.get('torch_version'))}, "
              f"on {_clean(meta.get('date'))}")
        encrypted = meta.get("encryption") is not None
        write(f"Signed: {'yes' if meta.get('signed') else 'no'}; encrypted: {'yes' if encrypted else 'no'}")
        write("Members:")
        listed, good = meta["members"], True
        for name in sorted(set(archive.names) | set(listed)):
            entry = listed.get(name)
            if name == fmt.METADATA or (name in (fmt.SIGNATURE, fmt.SEAL) and entry is None):
                write(f"  {name:<24} {archive.infos[name].file_size:>12} B  (the manifest, or its signature/seal)")
                continue
            if name not in archive.infos:
                write(f"  {_clean(name, 24):<24} {'':>12}    MISSING (listed in metadata.json, absent)")
                good = False
                continue
            digest, size = _digest(archive, name)
            expected = entry.get("sha256") if isinstance(entry, Mapping) else None
            status = "UNLISTED" if entry is None else "OK" if digest == expected else "MISMATCH"
            good &= status == "OK"
            write(f"  {name:<24} {size:>12} B  sha256 {digest[:16]}...  {status}")
        if encrypted:
            write("The members are encrypted: the model summary needs the key (lamina.saving.load_model).")
            return good
        config = fmt.parse_json(archive.read(fmt.CONFIG), "config.json", limits)
        counts = _param_counts(archive, limits) if archive.has(fmt.WEIGHTS) else {}
    if not isinstance(config, Mapping):
        raise FileFormatError("config.json must be a JSON object.")
    inner = config.get("config") if isinstance(config.get("config"), Mapping) else {}
    write(f'Model: "{_clean(inner.get("name", "?"))}" ({_clean(config.get("class_name", "?"))})')
    build = config.get("build_config") if isinstance(config.get("build_config"), Mapping) else {}
    rows = _layer_rows(config, build, counts)
    write(f"  {'Layer':<32} {'Class':<24} {'Input shape (configured)':<28} {'Param #':>10}")
    for name, cls, shape, params in rows:
        write(f"  {_clean(name, 32):<32} {_clean(cls, 24):<24} {_shape_text(shape):<28} {params:>10,}")
    write(f"Total params: {sum(counts.values()):,} (from the model.safetensors header)")
    compiled = config.get("compile_config")
    if isinstance(compiled, Mapping):
        opt = compiled.get("optimizer")
        opt_name = opt.get("class_name") if isinstance(opt, Mapping) else opt
        write(f"Compiled: optimizer {_clean(opt_name)}, loss {_clean(compiled.get('loss'))}")
    write("Checksums: " + ("all OK" if good else "MISMATCH - the file was changed after saving; do not trust it"))
    return good


def main(argv: list[str] | None = None) -> int:
    """The ``lamina`` console command: ``lamina inspect FILE``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="lamina", description="lamina's command line tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    inspect_cmd = commands.add_parser("inspect", help="show what a .lamina model file holds, without running it")
    inspect_cmd.add_argument("file", help="a .lamina file written by model.save()")
    args = parser.parse_args(argv)
    try:
        ok = inspect_file(args.file)
    except FileNotFoundError:
        print(f"lamina inspect: no such file: {_clean(args.file, 200)}", file=sys.stderr)
        return 1
    except SavingError as error:
        kind = "unsafe file" if isinstance(error, UnsafeFileError) else "malformed file"
        print(f"lamina inspect: {kind}: {_clean(str(error), 2000)}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
