"""Atomic file writes: a temporary file in the target's folder, flushed and fsynced, then renamed over the
target, so a crash or a kill at any moment leaves either the old file or the new one, never a mix.

- Permissions: replacing a file keeps its permission bits (a 0600 file stays 0600; its owner and group too where
  the process may set them); a new file gets ``0666`` minus the umask, as ``open()`` would give it.
- Symlinks: saving to a path that is a symbolic link replaces the file the link points to (the link stays), as
  ``cp`` and most editors do. A path that names something other than a regular file (a device, a FIFO, a
  folder) is refused.
- Litter: the temporary is ``.tmp-lamina-<random>.partial``, locked (``flock``) while it is written. A save into
  a folder first removes the temporaries a killed save left there: those no live process holds locked (and
  ``.tmp-XXXXXXXX.partial`` of older lamina versions, which were not locked, once unchanged for an hour and
  older than this process). A concurrent saver's temporary is locked, so it is never touched.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "a.bin")
>>> atomic_write_bytes(path, b"data"); open(path, "rb").read()
b'data'
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, stale temporaries are told by age alone
    fcntl = None  # type: ignore[assignment]

PREFIX, SUFFIX = ".tmp-lamina-", ".partial"
_OURS = re.compile(r"\.tmp-lamina-[0-9a-f]{16}\.partial")
_LEGACY = re.compile(r"\.tmp-[a-z0-9_]{8}\.partial")  # tempfile.mkstemp's names, lamina <= issue 18
LEGACY_AGE = 3600.0  # seconds unchanged before an unlocked temporary of an older lamina counts as stale
EMPTY_AGE = 60.0  # an empty temporary may be one a saver created but has not locked yet: give it this long
_STARTED = time.time()  # this process was running by then: older files are no work of this process


def atomic_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temporary file in the folder of ``path`` (of the file it links to, for a symlink),
    fsync it, rename it over that file, and fsync the folder so that the rename itself is durable. Stale
    temporaries of killed saves in that folder are removed first; see the module's docstring."""
    target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise OSError(f"Refusing to save over {target!r}: it is not a regular file (a device, FIFO, socket or "
                      "folder). Save to a file path.")
    remove_stale_temporaries(folder)
    tmp = os.path.join(folder, f"{PREFIX}{secrets.token_hex(8)}{SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    # a new file: 0666 less the umask (the kernel applies it, as for open()); a replaced one: its own bits below
    fd = os.open(tmp, flags, 0o666 if existing is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            _lock(f.fileno(), blocking=True)  # held until closed, after the rename: cleaners leave it alone
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if existing is not None:
                _keep_owner_and_mode(f.fileno(), existing)
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(data))


def remove_stale_temporaries(folder: str) -> list[str]:
    """Remove the temporaries that killed saves left in ``folder`` (best effort: what cannot be removed stays);
    returns the paths removed. A temporary being written by a live process is never removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith(".tmp-") or not name.endswith(SUFFIX):
            continue
        ours = _OURS.fullmatch(name) is not None
        if not ours and _LEGACY.fullmatch(name) is None:
            continue
        try:
            if _remove_if_stale(entry.path, ours):
                removed.append(entry.path)
        except OSError:
            continue
    return removed


def _remove_if_stale(path: str, ours: bool) -> bool:
    # O_NOFOLLOW and O_NONBLOCK: a symlink or a FIFO under our naming is opened neither through nor waited on
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False
        age = time.time() - info.st_mtime
        held = _lock(fd, blocking=False) if ours else None
        if held is not None:
            # a live saver holds the lock from before its first byte: unlocked with content means its writer died
            if not held or (info.st_size == 0 and age < EMPTY_AGE):
                return False
        elif age < LEGACY_AGE or info.st_mtime >= _STARTED:
            return False
        os.unlink(path)  # still holding the lock: no saver can be writing it
        return True
    finally:
        os.close(fd)


def _lock(fd: int, blocking: bool) -> bool | None:
    """Take an exclusive ``flock`` on ``fd``. Blocking (a saver): waits for it. Not blocking (a cleaner): False
    when another process holds it, True when taken (the file is ours to remove), None where the file system
    (or the platform) has no locks: then a saver goes on without one, and a cleaner goes by age alone."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def _keep_owner_and_mode(fd: int, existing: os.stat_result) -> None:
    """The replaced file's owner and group (where this process may set them) and its permission bits."""
    if hasattr(os, "fchown") and (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
        # not permitted (another user's file): the new file is this process's, as any new file
        with contextlib.suppress(OSError):
            os.fchown(fd, existing.st_uid, existing.st_gid)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(existing.st_mode))
