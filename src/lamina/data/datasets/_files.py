"""Finding, checking and caching the gzipped IDX files behind the MNIST-style datasets.

Each file is looked for in these sources, in order, and the first one that passes its check wins:

1. the cache, ``$LAMINA_HOME/datasets/<folder>/<file>.gz`` (``LAMINA_HOME`` defaults to ``~/.lamina``);
   a cached file that fails its check is deleted;
2. a Debian package's directory, ``$LAMINA_DEBIAN_DATASETS/<subdir>`` (the root defaults to
   :data:`DEBIAN_DATASETS_DIR`, ``/usr/share/datasets``), for datasets Debian packages;
3. each download mirror in turn: the ``mirror`` argument, else the whitespace-separated base URLs in
   ``LAMINA_DATASETS_MIRROR``, else the dataset's canonical mirrors. A download that passes its check is
   written to the cache atomically; one that fails it is never written.

A file passes its check when the SHA-256 of its ``.gz`` bytes is the upstream one, or the SHA-256 of its
decompressed content is the known one (repackagers recompress the files), and its IDX header and size
match what the dataset should hold.

The other datasets (CIFAR, IMDB, Reuters, housing) are single files that Keras publishes with a hash;
:func:`dataset_file` fetches them with :func:`lamina.data.download.cached_file` (cache
``$LAMINA_HOME/datasets/<fname>``, then the mirrors) and turns its errors into the two dataset errors.

>>> from lamina.data.datasets import _files
>>> _files.cache_dir("mnist.npz").name
'mnist'
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import logging
import os
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lamina.core.files import atomic_write_bytes
from lamina.data.download import DownloadError, FileIntegrityError, cached_file, fetch, lamina_home

DEBIAN_DATASETS_DIR = "/usr/share/datasets"
"""Where Debian's ``dataset-*`` packages put their files; ``LAMINA_DEBIAN_DATASETS`` overrides it."""

_log = logging.getLogger(__name__)


class DatasetUnavailableError(DownloadError):
    """No source could supply a dataset file; the message lists the sources tried and how to get it."""


class DatasetIntegrityError(FileIntegrityError):
    """A dataset file failed its check: wrong hash, unreadable gzip stream, bad IDX header, bad content."""


@dataclass(frozen=True)
class IdxFile:
    """One gzipped IDX file of unsigned bytes: its name, array shape and known SHA-256 digests.

    >>> IdxFile("t10k-labels-idx1-ubyte.gz", (10000,), gz_sha256="0" * 64).magic == 0x801
    True
    """

    name: str
    shape: tuple[int, ...]
    gz_sha256: str
    content_sha256: str | None = None

    @property
    def magic(self) -> int:
        """The IDX magic number: 0x08 (unsigned byte) in the third byte, the rank in the fourth."""
        return 0x0800 | len(self.shape)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset made of four IDX files: train images, train labels, test images, test labels."""

    title: str
    files: tuple[IdxFile, IdxFile, IdxFile, IdxFile]
    mirrors: tuple[str, ...]
    debian_subdir: str | None = None
    debian_package: str | None = None


Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def cache_dir(path: str | os.PathLike[str]) -> Path:
    """The cache folder for ``path``, relative to ``$LAMINA_HOME/datasets`` (a ``.npz`` suffix is dropped)."""
    folder = Path(path).expanduser()
    if folder.suffix == ".npz":
        folder = folder.with_suffix("")
    return lamina_home() / "datasets" / folder


def debian_dir(subdir: str) -> Path:
    """Debian's folder ``subdir`` under ``$LAMINA_DEBIAN_DATASETS``, else :data:`DEBIAN_DATASETS_DIR`."""
    return Path(os.environ.get("LAMINA_DEBIAN_DATASETS") or DEBIAN_DATASETS_DIR) / subdir


def mirror_urls(defaults: Sequence[str], mirror: str | Sequence[str] | None = None) -> list[str]:
    """Base URLs to try: ``mirror``, else ``$LAMINA_DATASETS_MIRROR`` (space-separated), else ``defaults``."""
    if mirror is None:
        mirror = os.environ.get("LAMINA_DATASETS_MIRROR", "").split() or list(defaults)
    elif isinstance(mirror, str):
        mirror = [mirror]
    return list(mirror)


def sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def parse_idx(content: bytes, spec: IdxFile) -> np.ndarray:
    """Read decompressed IDX bytes into a writable uint8 array of ``spec.shape``, checking header and size."""
    ndim = len(spec.shape)
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DatasetIntegrityError(f"{len(content)} bytes is too short for an IDX header (truncated?)")
    magic = int.from_bytes(content[:4], "big")
    if magic != spec.magic:
        raise DatasetIntegrityError(
            f"IDX magic 0x{magic:08x}, expected 0x{spec.magic:08x} "
            "(0x00000801 for labels, 0x00000803 for images)"
        )
    dims = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    if dims != spec.shape:
        raise DatasetIntegrityError(f"IDX dimensions {dims}, expected {spec.shape}")
    expected = header + int(np.prod(dims))
    if len(content) != expected:
        kind = "truncated" if len(content) < expected else "trailing data"
        raise DatasetIntegrityError(f"{len(content)} bytes of IDX content, expected {expected} ({kind})")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(dims).copy()


def check(data: bytes, spec: IdxFile, origin: str) -> np.ndarray:
    """Check gzipped IDX bytes against ``spec`` (hash, gzip stream, header, size) and return the array."""
    gz_hash = sha256(data)
    problem = None
    content = None
    try:
        content = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        problem = f"not a readable gzip stream, truncated or corrupt ({exc})"
    hash_ok = gz_hash == spec.gz_sha256
    content_hash = None
    if not hash_ok and content is not None and spec.content_sha256:
        content_hash = sha256(content)
        hash_ok = content_hash == spec.content_sha256
    array = None
    if content is not None:
        try:
            array = parse_idx(content, spec)
        except DatasetIntegrityError as exc:
            problem = str(exc)
    if hash_ok and array is not None:
        return array
    reasons = [problem] if problem else []
    if not hash_ok:
        expected = f"{spec.gz_sha256} (.gz)"
        received = f"{gz_hash} (.gz)"
        if spec.content_sha256:
            expected += f" or {spec.content_sha256} (decompressed)"
        if content_hash:
            received += f" / {content_hash} (decompressed)"
        reasons.append(f"SHA-256 mismatch: expected {expected}, received {received}")
    raise DatasetIntegrityError(f"{spec.name} from {origin} failed its check: {'; '.join(reasons)}")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (``lamina.core.files``): the old file or the new one, never half."""
    atomic_write_bytes(str(path), data)


def _read_local(
    path: Path, tried: list[str], label: str, delete_bad: bool, spec: IdxFile
) -> np.ndarray | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        tried.append(f"{label} {path}: not found")
        return None
    except OSError as exc:
        tried.append(f"{label} {path}: unreadable ({exc})")
        return None
    try:
        return check(data, spec, str(path))
    except DatasetIntegrityError as exc:
        if delete_bad:
            with contextlib.suppress(OSError):
                path.unlink()
        tried.append(f"{label}: {exc}" + ("; deleted it" if delete_bad else "; skipped it"))
        return None


def load_file(dataset: DatasetSpec, spec: IdxFile, folder: Path, mirrors: Sequence[str]) -> np.ndarray:
    """One file of ``dataset`` as an array, from the cache ``folder``, the Debian folder or a mirror."""
    tried: list[str] = []
    cached = folder / spec.name
    array = _read_local(cached, tried, "cache", True, spec)
    if array is not None:
        return array
    if dataset.debian_subdir:
        label = f"Debian package {dataset.debian_package} folder"
        array = _read_local(debian_dir(dataset.debian_subdir) / spec.name, tried, label, False, spec)
        if array is not None:
            return array
    for base in mirrors:
        url = base.rstrip("/") + "/" + spec.name
        _log.info("Downloading %s", url)
        try:
            data = fetch(url)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            tried.append(f"download {url}: {exc!r}")
            continue
        try:
            array = check(data, spec, url)
        except DatasetIntegrityError as exc:
            tried.append(f"download: {exc}; not written to the cache")
            continue
        try:
            atomic_write(cached, data)
        except OSError as exc:
            warnings.warn(f"Could not cache {spec.name} in {folder}: {exc}", RuntimeWarning, stacklevel=2)
        return array
    raise DatasetUnavailableError(_unavailable_message(dataset, spec, folder, tried))


def _unavailable_message(dataset: DatasetSpec, spec: IdxFile, folder: Path, tried: list[str]) -> str:
    lines = [f"{dataset.title} file {spec.name} is not available. Sources tried, in order:"]
    lines += [f"  - {entry}" for entry in tried] or ["  - (no sources configured)"]
    lines.append("To get the data, do one of:")
    if dataset.debian_package:
        lines.append(f"  - install the Debian/Ubuntu package: apt-get install {dataset.debian_package}")
    names = ", ".join(f.name for f in dataset.files)
    lines.append(f"  - put the four files ({names}) in {folder}")
    lines.append("  - set LAMINA_DATASETS_MIRROR to a base URL (or several, space-separated) serving them")
    return "\n".join(lines)


def load(dataset: DatasetSpec, path: str | os.PathLike[str], mirror: str | Sequence[str] | None) -> Arrays:
    """All four files of ``dataset`` as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays."""
    folder = cache_dir(path)
    mirrors = mirror_urls(dataset.mirrors, mirror)
    x_train, y_train, x_test, y_test = (load_file(dataset, f, folder, mirrors) for f in dataset.files)
    return (x_train, y_train), (x_test, y_test)


def dataset_file(
    title: str, fname: str, origin: str, file_hash: str, mirror: str | Sequence[str] | None, extract: bool = False
) -> str:
    """The cached path of a dataset file Keras publishes at ``origin``, downloading it if needed.

    The file is looked up as ``$LAMINA_HOME/datasets/<fname>`` (Keras's layout under ``~/.keras``), else
    downloaded from each base URL of ``mirror`` / ``$LAMINA_DATASETS_MIRROR`` / ``origin``'s folder in turn,
    and checked against ``file_hash``.
    """
    folder, name = origin.rsplit("/", 1)
    urls = [base.rstrip("/") + "/" + name for base in mirror_urls([folder + "/"], mirror)]
    try:
        return cached_file(fname, urls, file_hash=file_hash, extract=extract)
    except FileIntegrityError as exc:
        raise DatasetIntegrityError(f"{title}: {exc}") from exc
    except DownloadError as exc:
        raise DatasetUnavailableError(
            f"{title}: {exc}\nOr set LAMINA_DATASETS_MIRROR to a base URL (or several, space-separated) "
            f"serving {name}."
        ) from exc
