"""Crash-safe file writes: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

from fieldclient.errors import StorageFull

# What opening the database (its WAL and shared-memory files) and a day's records need
# at least; below this a failure to open or write is the full disk, not a bad key.
MIN_FREE_BYTES = 16 * 1024 * 1024
_FULL_TEXTS = ("disk is full", "disk i/o error", "unable to open database file",
               "no space left")


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def private_dir(directory: Path) -> None:
    """Make ``directory`` and the missing folders above it, each 0700 (owner only)."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync and rename.

    The file gets ``mode`` (0600 by default); a folder made for it gets 0700."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def shred(path: Path) -> None:
    """Overwrite a small secret file with random bytes, then remove it."""
    if not path.exists():
        return
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.write(os.urandom(max(size, 1)))
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()
    fsync_dir(path.parent)


def human_size(n: int) -> str:
    """Bytes as a worker reads them: 512 KB, 15.2 MB, 1.3 GB."""
    if n < 1024 * 1024:
        return f"{round(n / 1024)} KB"
    if n < 1024 ** 3:
        return f"{n / 1024 ** 2:.1f} MB"
    return f"{n / 1024 ** 3:.1f} GB"


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def storage_full(data_dir: Path, exc: BaseException | None = None) -> StorageFull | None:
    """:class:`StorageFull` when the disk holding ``data_dir`` is (nearly) full and
    ``exc`` (if given) is the kind of failure a full disk causes: ENOSPC, SQLite's
    "database or disk is full", or the "disk I/O error" / "unable to open" a full disk
    gives when the WAL files cannot grow. None otherwise (then it is something else)."""
    if exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            pass
        elif not any(text in str(exc).lower() for text in _FULL_TEXTS):
            return None
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError:
        return None
    full_error = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if free >= MIN_FREE_BYTES and not full_error:
        return None
    needed = max(MIN_FREE_BYTES - free, 1024 * 1024)
    return StorageFull(free=human_size(free), needed=human_size(needed),
                       photos=human_size(folder_bytes(data_dir / "blobs")))
