"""Download a file once, check its hash, keep it in lamina's cache and optionally extract it: ``get_file``.

:func:`get_file` has Keras 3's signature and cache layout, with ``$LAMINA_HOME`` (default ``~/.lamina``) in
place of ``~/.keras``:

- the file goes to ``<cache_dir>/<cache_subdir>/<fname>``; a cached file is used as it is, or, when a hash is
  given, only if it matches (else it is downloaded again), so everything works offline once cached;
- a download is streamed into a temporary file next to the target, hashed on the way, and renamed over the
  target only when complete and matching: a failed or mismatching download leaves nothing in the cache;
- with ``extract=True`` an ``fname`` without a dot (or no ``fname``) keeps the archive as
  ``<fname>_archive`` and extracts to ``<fname>/``; an ``fname`` with a dot keeps the archive as ``fname`` and
  extracts to ``<fname up to its first dot>_extracted/``. Extraction refuses members that would escape the
  folder (:mod:`lamina.data.archives`).

Where lamina differs from Keras: when no source can supply the file it raises :class:`DownloadError` saying
where to put the file, a hash mismatch raises :class:`FileIntegrityError` and deletes the download (Keras
leaves it in the cache), hashes are compared case-insensitively, a missing ``cache_dir`` is created rather
than replaced by ``/tmp``, and ``extract=True`` on a file that is no archive of ``archive_format`` raises
instead of returning a folder that does not exist.

>>> from lamina.data.download import get_file
>>> path = get_file("flowers", origin="https://example.com/flower_photos.tgz", extract=True)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from lamina.core.files import atomic_write
from lamina.data.archives import archive_formats, extract_archive

DEFAULT_TIMEOUT = 30.0
"""Seconds to wait on each download request."""

CHUNK_SIZE = 1 << 20
"""Bytes read and hashed at a time while downloading."""

_USER_AGENT = "lamina-datasets/0.1"
_log = logging.getLogger(__name__)


class DownloadError(OSError):
    """No source could supply the file; the message lists what was tried and where to put the file by hand."""


class FileIntegrityError(ValueError):
    """A file's hash is not the expected one (the download was corrupt, truncated or replaced)."""


def lamina_home() -> Path:
    """The root of lamina's caches: ``$LAMINA_HOME``, else ``~/.lamina``.

    >>> lamina_home().is_absolute()
    True
    """
    return Path(os.environ.get("LAMINA_HOME") or Path("~", ".lamina")).expanduser()


def fetch(url: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """The body of ``url`` (any scheme urllib knows); raises OSError or HTTPException on failure."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def hash_algorithm_for(file_hash: str | None, hash_algorithm: str = "auto") -> str:
    """The algorithm to check ``file_hash`` with: ``"auto"`` means sha256 for 64 hex digits, else md5.

    >>> hash_algorithm_for("0" * 64), hash_algorithm_for("0" * 32), hash_algorithm_for(None, "md5")
    ('sha256', 'md5', 'md5')
    """
    algorithm = hash_algorithm.lower()
    if algorithm == "auto":
        return "sha256" if file_hash is not None and len(file_hash) == 64 else "md5"
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"hash_algorithm={hash_algorithm!r} is not supported; use 'sha256', 'md5' or 'auto'")
    return algorithm


def hash_file(path: str | os.PathLike[str], algorithm: str = "sha256", chunk_size: int = CHUNK_SIZE) -> str:
    """The hex digest of the file at ``path`` (``algorithm``: ``"sha256"``, ``"md5"`` or ``"auto"`` = sha256).

    >>> import tempfile; f = tempfile.NamedTemporaryFile(delete=False); _ = f.write(b"hello"); f.close()
    >>> hash_file(f.name, "md5")
    '5d41402abc4b2a76b9719d911017c592'
    """
    digest = hashlib.new("sha256" if algorithm == "auto" else algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def validate_file(path: str | os.PathLike[str], file_hash: str, algorithm: str = "auto") -> bool:
    """Whether the file at ``path`` has the hash ``file_hash`` (compared case-insensitively)."""
    return hash_file(path, hash_algorithm_for(file_hash, algorithm)) == file_hash.lower()


def cache_folder(cache_dir: str | os.PathLike[str] | None, cache_subdir: str | os.PathLike[str]) -> Path:
    """``<cache_dir or $LAMINA_HOME>/<cache_subdir>``, created; a temp-dir fallback if it cannot be written.

    An absolute ``cache_subdir`` is used as it is.
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else lamina_home()
    folder = root / cache_subdir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / ".lamina" / cache_subdir
    _log.warning("Cache folder %s is not writable; using %s instead", folder, fallback)
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def _stream(url: str, out: BinaryIO, expected: str | None, algorithm: str, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    digest = hashlib.new(algorithm)
    size = 0
    with urllib.request.urlopen(request, timeout=timeout) as response:
        declared = response.headers.get("Content-Length")
        while chunk := response.read(CHUNK_SIZE):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    if declared is not None and declared.isdigit() and int(declared) != size:
        raise DownloadError(f"{url}: received {size} bytes of the {declared} announced (connection cut?)")
    received = digest.hexdigest()
    if expected is not None and received != expected.lower():
        raise FileIntegrityError(
            f"{url}: {algorithm} mismatch, expected {expected.lower()}, received {received}; the download was "
            "discarded (check the URL and the hash, or whether the file changed upstream)"
        )


def download(
    urls: Sequence[str],
    path: str | os.PathLike[str],
    file_hash: str | None = None,
    hash_algorithm: str = "auto",
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """Download the first of ``urls`` that works and matches ``file_hash`` to ``path``, atomically.

    Returns:
        The URL the file came from.

    Raises:
        FileIntegrityError: a source answered, but with other content than ``file_hash`` (nothing is written).
        DownloadError: no source could be reached (nothing is written).
    """
    algorithm = hash_algorithm_for(file_hash, hash_algorithm)
    tried: list[str] = []
    mismatch = False
    for url in urls:
        _log.info("Downloading data from %s", url)
        try:
            atomic_write(str(path), lambda out, url=url: _stream(url, out, file_hash, algorithm, timeout))
            return url
        except FileIntegrityError as exc:
            mismatch = True
            tried.append(str(exc))
        except (OSError, ValueError, http.client.HTTPException) as exc:
            tried.append(f"{url}: {exc!r}")
    lines = [f"Could not get {Path(path).name}. Sources tried, in order:"]
    lines += [f"  - {entry}" for entry in tried] or ["  - (no URLs given)"]
    if mismatch:
        raise FileIntegrityError("\n".join(lines))
    wanted = f" with {algorithm} {file_hash.lower()}" if file_hash else ""
    lines.append(f"To use it offline, put the file{wanted} at {path} and call again.")
    raise DownloadError("\n".join(lines))


def cached_file(
    fname: str,
    urls: Sequence[str],
    *,
    file_hash: str | None = None,
    hash_algorithm: str = "auto",
    extract: bool = False,
    archive_format: str | Sequence[str] | None = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    cache_subdir: str | os.PathLike[str] = "datasets",
    force_download: bool = False,
    name_from_url: bool = False,
) -> str:
    """:func:`get_file` with several candidate URLs, tried in order (what the datasets' mirrors use)."""
    if not fname or fname in (".", "..") or "/" in fname or os.sep in fname or (os.altsep and os.altsep in fname):
        raise ValueError(
            f"fname must be a bare file name, got {fname!r}; to choose the folder, pass cache_dir "
            "(and cache_subdir)"
        )
    folder = cache_folder(cache_dir, cache_subdir)
    if extract and (name_from_url or "." not in fname):
        archive, target = folder / f"{fname}_archive", folder / fname
    elif extract:
        archive, target = folder / fname, folder / f"{fname.split('.')[0]}_extracted"
    else:
        archive, target = folder / fname, None
    fresh = _ensure(archive, urls, file_hash, hash_algorithm, force_download)
    if target is None:
        return str(archive)
    if fresh or not target.is_dir():
        formats = archive_formats(archive_format)
        if extract_archive(archive, target, formats) is None:
            raise ValueError(
                f"{archive} is not a {' or '.join(formats) or 'known'} archive, so it cannot be extracted; "
                "pass extract=False to keep the file as it is, or the right archive_format"
            )
    return str(target)


def _ensure(path: Path, urls: Sequence[str], file_hash: str | None, algorithm: str, force: bool) -> bool:
    """Make sure ``path`` holds the file; True when it was downloaded now."""
    if path.is_file() and not force:
        if file_hash is None or validate_file(path, file_hash, algorithm):
            return False
        _log.warning("Cached %s does not match its %s hash %s; downloading it again", path, algorithm, file_hash)
    download(urls, path, file_hash, algorithm)
    return True


def get_file(
    fname: str | None = None,
    origin: str | None = None,
    untar: bool = False,
    md5_hash: str | None = None,
    file_hash: str | None = None,
    cache_subdir: str | os.PathLike[str] = "datasets",
    hash_algorithm: str = "auto",
    extract: bool = False,
    archive_format: str | Sequence[str] | None = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    force_download: bool = False,
) -> str:
    """Download ``origin`` into lamina's cache unless it is already there, and return its local path.

    Args:
        fname: the file's name in the cache; ``None`` takes the last part of ``origin``'s path. With
            ``extract=True`` a name without a dot is the extraction folder's name.
        origin: the URL to download from (``http(s)://``, ``file://``, anything urllib opens).
        untar: deprecated, means ``extract=True, archive_format="tar"``.
        md5_hash: deprecated, means ``file_hash=md5_hash, hash_algorithm="md5"``.
        file_hash: the expected sha256 or md5 hex digest; a cached file that does not match is downloaded
            again, a download that does not match is discarded.
        cache_subdir: the folder under ``cache_dir``; an absolute path is used as it is.
        hash_algorithm: ``"sha256"``, ``"md5"`` or ``"auto"`` (sha256 for a 64-digit hash, else md5).
        extract: extract the archive and return the extraction folder.
        archive_format: ``"auto"`` (tar then zip), ``"tar"``, ``"zip"``, a list of them, or ``None``.
        cache_dir: the cache root; ``None`` means ``$LAMINA_HOME``, else ``~/.lamina``.
        force_download: download again even when a good copy is cached.

    Returns:
        The path of the file, or of the extraction folder with ``extract=True``.

    Raises:
        DownloadError: the file is not cached and ``origin`` cannot be reached (offline).
        FileIntegrityError: the download does not match ``file_hash``.
        lamina.data.archives.UnsafeArchiveError: a member of the archive would escape the folder.

    >>> import pathlib, tempfile
    >>> source = pathlib.Path(tempfile.mkdtemp(), "notes.txt"); _ = source.write_text("hi")
    >>> path = get_file(origin=source.as_uri(), cache_dir=tempfile.mkdtemp())
    >>> pathlib.Path(path).name, pathlib.Path(path).read_text()
    ('notes.txt', 'hi')
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (the URL of the file to download).')
    if untar:
        extract, archive_format = True, "tar"
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    name_from_url = fname is None
    if fname is None:
        fname = os.path.basename(urllib.parse.urlparse(origin).path)
        if not fname:
            raise ValueError(f"Cannot take a file name from origin={origin!r}; pass fname.")
    return cached_file(
        os.fspath(fname),
        [origin],
        file_hash=file_hash,
        hash_algorithm=hash_algorithm,
        extract=extract,
        archive_format=archive_format,
        cache_dir=cache_dir,
        cache_subdir=cache_subdir,
        force_download=force_download,
        name_from_url=name_from_url,
    )
