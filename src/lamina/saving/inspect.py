"""``lamina inspect model.lamina``: what a model file holds, read as data only.

Prints the format and versions, the signature (verified with ``--trusted-key``, otherwise reported as "signed,
not verified"), every member with its size and SHA-256 checked against ``metadata.json`` (``OK`` /
``MISMATCH``), and the model's summary from ``config.json`` (layer names, classes, configured input shapes) with
parameter counts from the safetensors header. The metadata, member list and safetensors headers go through the
same checks as ``load_model``'s, in time linear in the file. Nothing is built, imported or run from the file; a
malformed or hostile file is reported in one line and the command exits with status 1, as does a file whose
checksums or signature do not verify. Every name from the file is printed through ``safe_text``.

    $ lamina inspect classifier.lamina
    $ lamina inspect classifier.lamina --trusted-key 3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c
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
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

from lamina.saving import crypto
from lamina.saving import format as fmt
from lamina.saving.errors import FileFormatError, SavingError, UnsafeFileError
from lamina.saving.model_file import FORMAT

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def safe_text(value: Any, width: int = 60) -> str:
    """A value from a file as text safe to print: every control, format (bidirectional overrides and isolates,
    zero-width characters), surrogate, private-use, unassigned and line/paragraph-separator character is
    replaced by ``?`` (so terminal escapes such as ESC or U+009B CSI, and U+202E RIGHT-TO-LEFT OVERRIDE, never
    reach the terminal), and the length is bounded by ``width``. Every name ``lamina inspect`` prints goes
    through this one function.

    >>> safe_text("\x1b]0;title\x07ok \u202etxt.exe \x9b31m")
    '?]0;title?ok ?txt.exe ?31m'
    >>> safe_text("x" * 100, width=10)
    'xxxxxxx...'
    """
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    if len(text) > width:
        text = text[: width - 3] + "..."
    return "".join("?" if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)


_clean = safe_text


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
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zlib.error,
            struct.error) as error:  # a damaged deflate stream raises zlib.error
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


def _header(archive: fmt.Archive, name: str, limits: fmt.Limits) -> dict[str, fmt.TensorEntry]:
    """The entries of a safetensors member's header, checked exactly as the loader checks them (dtypes, shapes,
    byte ranges that tile the data, the tensor count): only the header is read, not the data."""
    info, head = archive.infos[name], b""
    for chunk in _chunks(archive, name):
        head += chunk
        if len(head) >= 8 and len(head) >= 8 + struct.unpack("<Q", head[:8])[0]:
            break
        if len(head) > 8 + limits.max_header_bytes:
            break
    if len(head) < 8:
        raise FileFormatError(f"{name} is truncated: no header length.")
    (n,) = struct.unpack("<Q", head[:8])
    if n > limits.max_header_bytes or len(head) < 8 + n:
        raise UnsafeFileError(f"{name} claims a {n}-byte header, more than it holds or the limit allows.")
    entries, _ = fmt.check_safetensors_header(head[8: 8 + n], info.file_size - 8 - n, name, limits)
    return entries


def _param_counts(entries: Mapping[str, fmt.TensorEntry]) -> tuple[dict[str, int], int]:
    """``({"a.": n, "a.b.": m, ...}, total)``: the elements under every dotted prefix of the tensor names, summed
    in one pass over the names (so a layer's count is one look-up, whatever the number of layers)."""
    sums: dict[str, int] = {}
    total = 0
    for key, e in entries.items():
        count = 1
        for d in e.shape:
            count *= d
        total += count
        end = key.find(".")
        while end != -1:
            prefix = key[: end + 1]
            sums[prefix] = sums.get(prefix, 0) + count
            end = key.find(".", end + 1)
    return sums, total


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
        rows.append(("  " * depth + name, entry.get("class_name", "?"), shape, counts.get(key + ".", 0)))
        if depth < 8 and isinstance(cfg.get("layers"), list):
            rows += _layer_rows(entry, {}, counts, key + ".", depth + 1)
    return rows


def _shape_text(shape: Any) -> str:
    if isinstance(shape, list) and all(d is None or isinstance(d, int) for d in shape):
        return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    return "?" if shape is None else _clean(shape, 28)


def _signature_line(archive: fmt.Archive, meta: Mapping, meta_bytes: bytes, trusted_keys: Any,
                    limits: fmt.Limits) -> tuple[str, bool]:
    """The ``Signed:`` report and whether it is acceptable: the signature is verified when keys are given (as
    ``load_model(trusted_keys=...)`` does); without keys a signature is reported as present, never as valid."""
    signed = archive.has(fmt.SIGNATURE)
    if trusted_keys is None:
        if signed:
            return "signed, not verified (pass --trusted-key to check who signed it)", True
        if meta.get("signed"):
            return "NO SIGNATURE (metadata.json says signed, but the file has no signature.json)", False
        return "no", True
    if not signed:
        return "NO (not signed, but trusted keys were given: load_model refuses it)", False
    try:
        crypto.verify(meta_bytes, fmt.parse_json(archive.read(fmt.SIGNATURE), "signature.json", limits),
                      trusted_keys)
    except UnsafeFileError as error:
        return f"INVALID ({safe_text(str(error), 200)})", False
    return "yes, verified with a trusted key", True


def inspect_file(path: str, out: TextIO | None = None, limits: fmt.Limits = fmt.DEFAULT_LIMITS,
                 trusted_keys: Iterable[Any] | None = None) -> bool:
    """Print the report of the ``.lamina`` file at ``path``; True when the file is what ``load_model`` accepts:
    every checksum matches and, when ``trusted_keys`` (Ed25519 public keys) are given, the signature verifies
    with one of them. The file's metadata, member list and safetensors headers go through the loader's own
    checks; every name from the file is printed through ``safe_text``.

    Raises ``FileFormatError``/``UnsafeFileError`` for a malformed or hostile file (``main`` reports them).
    """
    write = lambda line="": print(line, file=out or sys.stdout)  # noqa: E731
    trusted_keys = None if trusted_keys is None else list(trusted_keys)
    with fmt.Archive(path, limits) as archive:
        if not archive.has(fmt.METADATA):
            raise FileFormatError("The file has no metadata.json, so it is not a lamina model file.")
        meta_bytes = archive.read(fmt.METADATA)
        meta = fmt.parse_json(meta_bytes, "metadata.json", limits)
        if not isinstance(meta, Mapping) or not isinstance(meta.get("members"), Mapping):
            raise FileFormatError("metadata.json does not describe a lamina model file (no member list).")
        if meta.get("format") != FORMAT or type(meta.get("format_version")) is not int:
            raise FileFormatError(f"metadata.json does not describe a lamina model file (format {FORMAT!r}).")
        write(f"File: {safe_text(path, 200)}")
        write(f"Format: {safe_text(meta.get('format'))} version {safe_text(meta.get('format_version'))}")
        write(f"Saved by: lamina {safe_text(meta.get('lamina_version'))}, torch "
              f"{safe_text(meta.get('torch_version'))}, on {safe_text(meta.get('date'))}")
        encrypted = meta.get("encryption") is not None
        signature, good = _signature_line(archive, meta, meta_bytes, trusted_keys, limits)
        write(f"Signed: {signature}; encrypted: {'yes' if encrypted else 'no'}")
        write("Members:")
        listed = meta["members"]
        for name in sorted(set(archive.names) | set(listed)):
            entry = listed.get(name)
            if name == fmt.METADATA or (name in (fmt.SIGNATURE, fmt.SEAL) and entry is None):
                write(f"  {name:<24} {archive.infos[name].file_size:>12} B  (the manifest, or its signature/seal)")
                continue
            if name not in archive.infos:
                write(f"  {safe_text(name, 24):<24} {'':>12}    MISSING (listed in metadata.json, absent)")
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
        if not archive.has(fmt.WEIGHTS):
            raise FileFormatError("The file has no model.safetensors: load_model refuses it.")
        config = fmt.parse_json(archive.read(fmt.CONFIG), "config.json", limits)
        fmt.count_layers(config, "config.json", limits)
        counts, total = _param_counts(_header(archive, fmt.WEIGHTS, limits))
        if archive.has(fmt.OPTIMIZER):
            _header(archive, fmt.OPTIMIZER, limits)
    if not isinstance(config, Mapping):
        raise FileFormatError("config.json must be a JSON object.")
    inner = config.get("config") if isinstance(config.get("config"), Mapping) else {}
    write(f'Model: "{safe_text(inner.get("name", "?"))}" ({safe_text(config.get("class_name", "?"))})')
    build = config.get("build_config") if isinstance(config.get("build_config"), Mapping) else {}
    rows = _layer_rows(config, build, counts)
    write(f"  {'Layer':<32} {'Class':<24} {'Input shape (configured)':<28} {'Param #':>10}")
    for name, cls, shape, params in rows:
        write(f"  {safe_text(name, 32):<32} {safe_text(cls, 24):<24} {_shape_text(shape):<28} {params:>10,}")
    write(f"Total params: {total:,} (from the model.safetensors header)")
    compiled = config.get("compile_config")
    if isinstance(compiled, Mapping):
        opt = compiled.get("optimizer")
        opt_name = opt.get("class_name") if isinstance(opt, Mapping) else opt
        write(f"Compiled: optimizer {safe_text(opt_name)}, loss {safe_text(compiled.get('loss'))}")
    write("Checksums: " + ("all OK" if good else "MISMATCH - the file was changed after saving, or its signature "
                           "does not verify; do not trust it"))
    return good


def _public_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise argparse.ArgumentTypeError("a trusted key is an Ed25519 public key as 64 hex digits (its 32 raw "
                                         f"bytes); received {safe_text(text, 80)!r}.")
    return key


def main(argv: list[str] | None = None) -> int:
    """The ``lamina`` console command: ``lamina inspect FILE``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="lamina", description="lamina's command line tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    inspect_cmd = commands.add_parser("inspect", help="show what a .lamina model file holds, without running it")
    inspect_cmd.add_argument("file", help="a .lamina file written by model.save()")
    inspect_cmd.add_argument("--trusted-key", action="append", type=_public_key, dest="trusted_keys",
                             metavar="HEX", help="an Ed25519 public key (64 hex digits) whose signature is "
                             "accepted; repeat for several. Without one, a signature is reported, not verified.")
    args = parser.parse_args(argv)
    try:
        ok = inspect_file(args.file, trusted_keys=args.trusted_keys)
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
