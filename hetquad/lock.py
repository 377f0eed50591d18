"""An atomic, crash-safe directory lock (one sweep per directory).

``DIR/.lock`` is held by an ``fcntl.flock`` on its open file: the kernel drops it when the holder
dies (SIGKILL included), so there is no pid guesswork and no stale-lock race. The file is born
whole: it is written (our pid) and locked under a temporary name, then hard-linked to ``.lock``
(``link`` fails if the name exists: the O_EXCL of renames). A ``.lock`` that nobody holds
(its owner died, or it is empty) is taken over by whoever first locks that very inode and then
finds it still at ``.lock``; a contender that locked an inode since replaced or removed starts
over. Release removes the name while still holding the lock.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

NAME = ".lock"
ATTEMPTS = 50


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        return "pid unknown"
    return f"pid {text}" if text.isdigit() else "pid unknown"


def _acquire(directory: Path) -> int:
    """The fd of our locked ``DIR/.lock`` (raises ``ValueError`` while another process holds it)."""
    path = directory / NAME
    for _ in range(ATTEMPTS):
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f"{NAME}.", suffix=".tmp")
        keep = False
        try:
            os.write(fd, str(os.getpid()).encode())
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh inode: cannot be held yet
            try:
                os.link(tmp, path)
                keep = True
                return fd
            except FileExistsError:
                pass
            # someone's .lock is there: is it held?
            try:
                old = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # released meanwhile: try again
            try:
                try:
                    fcntl.flock(old, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise ValueError(f"{directory} is in use by another sweep ({_holder(path)}); wait for "
                                     "it to finish (the lock is freed when that process exits)") from None
                if not _same_file(old, path):
                    continue  # replaced or released while we locked it: start over
                os.replace(tmp, path)  # stale (its holder is gone): ours now, atomically
                keep = True
                return fd
            finally:
                os.close(old)
        finally:
            if not keep:
                os.close(fd)
            Path(tmp).unlink(missing_ok=True)
    raise ValueError(f"could not take the lock {path} in {ATTEMPTS} attempts; other processes keep "
                     "taking and releasing it")


@contextmanager
def directory_lock(directory):
    """Hold ``DIR/.lock`` for the block; refuse with ``ValueError`` while another process holds it.

    Parameters
    ----------
    directory : path of an existing directory
    """
    directory = Path(directory)
    fd = _acquire(directory)
    path = directory / NAME
    try:
        yield path
    finally:
        try:
            if _same_file(fd, path):
                path.unlink(missing_ok=True)  # still holding the flock: no one can take it meanwhile
        finally:
            os.close(fd)
