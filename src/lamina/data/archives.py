"""Extract tar and zip archives without letting a member write outside the target folder.

Every member is checked before anything is written; one bad member refuses the whole archive:

- a name that is absolute (``/etc/x``, ``C:\\x``, ``\\\\server\\x``) or climbs out with ``..``;
- a tar symlink or hard link whose target, resolved from where the link sits, leaves the folder;
- a tar device, FIFO or other special file, and a zip member marked as a symlink.

Tar extraction then also runs through the standard library's ``"data"`` filter (a second check, and it drops
set-uid bits). The archive is unpacked into a temporary sibling folder that is renamed to the target only
once it is complete, so a failure never leaves a half-extracted folder behind.

>>> import io, tarfile, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with tarfile.open(folder / "a.tar", "w") as tar:
...     info = tarfile.TarInfo("d/x.txt"); info.size = 2; tar.addfile(info, io.BytesIO(b"hi"))
>>> extract_archive(folder / "a.tar", folder / "out")
'tar'
>>> (folder / "out" / "d" / "x.txt").read_text()
'hi'
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

ARCHIVE_FORMATS = ("tar", "zip")
"""What ``archive_format="auto"`` tries, in order. ``"tar"`` covers .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz."""


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the extraction folder, or is a link or device file."""


def archive_formats(archive_format: str | Sequence[str] | None) -> list[str]:
    """The formats to try: ``"auto"`` is :data:`ARCHIVE_FORMATS`, ``None`` or ``[]`` none at all.

    >>> archive_formats("auto"), archive_formats("zip"), archive_formats(None)
    (['tar', 'zip'], ['zip'], [])
    """
    if archive_format is None:
        return []
    formats = list(ARCHIVE_FORMATS) if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format)
    )
    for name in formats:
        if name not in ARCHIVE_FORMATS:
            raise ValueError(f"archive_format {name!r} is unknown; use 'auto', 'tar', 'zip', a list of them or None")
    return formats


def detect_format(path: str | os.PathLike[str], formats: Sequence[str]) -> str | None:
    """The first of ``formats`` that ``path`` is an archive of, else ``None``."""
    for name in formats:
        if name == "tar" and tarfile.is_tarfile(path):
            return "tar"
        if name == "zip" and zipfile.is_zipfile(path):
            return "zip"
    return None


def _safe_name(name: str, archive: str) -> str:
    """The member name as a clean relative POSIX path; raises if it is absolute or climbs out."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing to extract")
    clean = posixpath.normpath(unified)
    if clean == ".." or clean.startswith("../"):
        raise UnsafeArchiveError(f"{archive}: member {name!r} points outside the extraction folder; refusing")
    return clean


def _check_tar(tar: tarfile.TarFile, archive: str) -> None:
    for member in tar.getmembers():
        name = _safe_name(member.name, archive)
        if member.issym() or member.islnk():
            target = member.linkname.replace("\\", "/")
            base = posixpath.dirname(name) if member.issym() else ""
            if target.startswith("/"):
                raise UnsafeArchiveError(
                    f"{archive}: link {member.name!r} -> {member.linkname!r} is absolute; refusing"
                )
            resolved = posixpath.normpath(posixpath.join(base, target))
            if resolved == ".." or resolved.startswith("../"):
                raise UnsafeArchiveError(
                    f"{archive}: link {member.name!r} -> {member.linkname!r} points outside the folder; refusing"
                )
        elif not (member.isfile() or member.isdir()):
            raise UnsafeArchiveError(f"{archive}: member {member.name!r} is a device or special file; refusing")


def _check_zip(zf: zipfile.ZipFile, archive: str) -> None:
    for info in zf.infolist():
        _safe_name(info.filename, archive)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a symlink; refusing")


def _unpack(path: Path, folder: Path, fmt: str) -> None:
    if fmt == "tar":
        with tarfile.open(path, "r:*") as tar:
            _check_tar(tar, str(path))
            tar.extractall(folder, filter="data")
    else:
        with zipfile.ZipFile(path) as zf:
            _check_zip(zf, str(path))
            zf.extractall(folder)


def extract_archive(
    path: str | os.PathLike[str], target: str | os.PathLike[str], archive_format: str | Sequence[str] | None = "auto"
) -> str | None:
    """Extract the archive at ``path`` into the folder ``target``, replacing what was there.

    Returns:
        The format used (``"tar"`` or ``"zip"``), or ``None`` when ``path`` is none of ``archive_format``'s
        formats (nothing is written then).

    Raises:
        UnsafeArchiveError: a member is absolute, climbs out with ``..``, or is an escaping link or a device.
    """
    path, target = Path(path), Path(target)
    fmt = detect_format(path, archive_formats(archive_format))
    if fmt is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", suffix=".partial", dir=target.parent))
    try:
        _unpack(path, staging, fmt)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}-{os.getpid()}.old")
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
        raise
    return fmt
