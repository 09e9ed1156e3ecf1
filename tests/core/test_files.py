"""lamina.core.files: atomic writes keep permission bits, honour the umask, write through symlinks, refuse special
files, and the next save cleans the temporaries a killed save left (never a live saver's).

Truth: the file system itself (stat, ls of the folder) and a real ``kill -9`` of a saving subprocess.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from lamina.core import files
from lamina.core.files import atomic_write, atomic_write_bytes, remove_stale_temporaries

posix_only = pytest.mark.skipif(os.name != "posix", reason="permission bits, flock and kill -9 are POSIX")


def temporaries(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(".tmp-") and n.endswith(".partial"))


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------------------------------------- permissions
@posix_only
def test_replacing_a_private_file_keeps_it_private(tmp_path):
    path = tmp_path / "secret.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    atomic_write_bytes(str(path), b"new")
    assert path.read_bytes() == b"new" and mode(path) == 0o600


@posix_only
@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_honours_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        atomic_write_bytes(str(tmp_path / "new.bin"), b"x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "new.bin") == expected  # what open(path, "w") gives: 0o666 & ~umask


# ---------------------------------------------------------------------------------------------- symlinks, specials
@posix_only
def test_saving_to_a_symlink_replaces_the_file_it_points_to(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    link = tmp_path / "latest.bin"
    link.symlink_to(target)
    atomic_write_bytes(str(link), b"new")
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link stays a link
    assert target.read_bytes() == b"new" and mode(target) == 0o640
    assert temporaries(tmp_path) == [] and temporaries(tmp_path / "real") == []


@posix_only
def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "out.bin"
    link.symlink_to(tmp_path / "made.bin")
    atomic_write_bytes(str(link), b"x")
    assert link.is_symlink() and (tmp_path / "made.bin").read_bytes() == b"x"


@posix_only
def test_a_fifo_is_refused_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        atomic_write_bytes(str(fifo), b"x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and temporaries(tmp_path) == []


# ---------------------------------------------------------------------------------------------- litter
_KILLED_SAVER = r"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("files", sys.argv[2])  # the module alone (standard library only):
files = importlib.util.module_from_spec(spec)                         # no second of importing torch
spec.loader.exec_module(files)

def write(f):
    f.write(b"x" * 100_000)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)  # killed here, mid-save

files.atomic_write(sys.argv[1], write)
"""


def _kill_mid_save(tmp_path, script: str, *args: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True,
                            cwd=str(tmp_path))
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@posix_only
def test_the_next_save_removes_what_a_kill_9_left(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"previous")
    _kill_mid_save(tmp_path, _KILLED_SAVER, str(target), files.__file__)
    assert target.read_bytes() == b"previous"  # the kill left the old file whole...
    assert len(temporaries(tmp_path)) == 1  # ...and one temporary, which nothing else would ever remove
    atomic_write_bytes(str(tmp_path / "other.bin"), b"y")  # the next save to the folder, of any file
    assert temporaries(tmp_path) == []
    assert target.read_bytes() == b"previous" and (tmp_path / "other.bin").read_bytes() == b"y"


_KILLED_MODEL_SAVE = r"""
import sys, time
import lamina
from lamina.core import files

model = lamina.Sequential([lamina.layers.Dense(64, input_shape=(64,))])
real = files.atomic_write

def slow(path, write):  # the real atomic write, its writing held up half way (a hook that blocks)
    def held(f):
        write(f)
        f.flush()
        print("writing", flush=True)
        time.sleep(60)
    real(path, held)

lamina.saving.format.atomic_write = slow
model.save(sys.argv[1])
"""


@posix_only
def test_a_killed_model_save_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path):
    import lamina

    path = tmp_path / "m.lamina"
    model = lamina.Sequential([lamina.layers.Dense(64, input_shape=(64,))])
    model.save(str(path))
    before = path.read_bytes()
    _kill_mid_save(tmp_path, _KILLED_MODEL_SAVE, str(path))
    assert path.read_bytes() == before and len(temporaries(tmp_path)) == 1
    model.save(str(path))
    assert temporaries(tmp_path) == []
    assert lamina.models.load_model(str(path)).count_params() == model.count_params()


@posix_only
def test_a_concurrent_savers_temporary_is_never_removed(tmp_path):
    started, release, errors = threading.Event(), threading.Event(), []

    def slow_write(f):
        f.write(b"a" * 1000)
        f.flush()
        started.set()
        release.wait(30)

    def saver():
        try:
            atomic_write(str(tmp_path / "slow.bin"), slow_write)
        except BaseException as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    thread = threading.Thread(target=saver)
    thread.start()
    try:
        assert started.wait(30)
        live = temporaries(tmp_path)
        assert len(live) == 1
        atomic_write_bytes(str(tmp_path / "fast.bin"), b"b")  # cleans the folder: must leave the live one alone
        assert remove_stale_temporaries(str(tmp_path)) == []
        assert temporaries(tmp_path) == live
    finally:
        release.set()
        thread.join(30)
    assert errors == [] and (tmp_path / "slow.bin").read_bytes() == b"a" * 1000
    assert temporaries(tmp_path) == []


@posix_only
def test_an_empty_unlocked_temporary_gets_a_grace_period(tmp_path):
    # a saver between creating its temporary and locking it: empty, unlocked, brand new
    fresh = tmp_path / ".tmp-lamina-0123456789abcdef.partial"
    fresh.write_bytes(b"")
    assert remove_stale_temporaries(str(tmp_path)) == []
    past = time.time() - files.EMPTY_AGE - 1
    os.utime(fresh, (past, past))
    assert remove_stale_temporaries(str(tmp_path)) == [str(fresh)]


def test_temporaries_of_older_versions_go_only_when_old(tmp_path):
    old, recent = tmp_path / ".tmp-ab12_x9z.partial", tmp_path / ".tmp-zz99aa11.partial"
    for p in (old, recent):
        p.write_bytes(b"partial")
    past = time.time() - files.LEGACY_AGE - 10
    os.utime(old, (past, past))
    others = [tmp_path / ".tmp-user-notes.partial", tmp_path / "x.partial", tmp_path / ".tmp-abcdefgh.partial.bak"]
    for p in others:
        p.write_bytes(b"keep")
        os.utime(p, (past, past))
    (tmp_path / ".tmp-lamina-0123456789abcdef.partial").mkdir()  # a folder under our naming: not ours to remove
    assert remove_stale_temporaries(str(tmp_path)) == [str(old)]
    assert recent.exists() and all(p.exists() for p in others)
