"""Where the photo store keeps its sealed files: a directory (the default) or the
database (``central serve --photo-store database``), so that server processes on
several machines, against one PostgreSQL, share every photo and every partial upload.

The photo store (``central.photos``) sees files by relative name (``ab/<sha256>``,
``partial/<sha256>-<device>.part``) and does four things with them: read one whole,
write at a position (cutting off what was after it: an upload resumes after its last
whole frame), rename a finished upload to its photo, and remove. Both kinds give the
same answers, so the store's logic (resume, quota, sealing, re-sealing) is written
once.

In the database a file is its pieces (``photo_blobs``: one row per write, keyed by
name and position). Writes take the caller's connection when it has one, so a chunk
and its upload row commit together; a full disk is an ``OSError(ENOSPC)`` as a
directory's is (the write undone in its savepoint, the caller's transaction goes on).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from central import db


class PhotoFiles(Protocol):
    """What the photo store asks of its storage (module docstring)."""

    #: photos from before sealing (migration 12) can only be in a directory
    may_hold_legacy: bool

    def describe(self) -> str: ...

    def open(self, name: str, conn: Connection | None = None) -> BinaryIO:
        """The whole file to read (seekable); FileNotFoundError when there is none."""

    def write_at(self, name: str, pos: int, data: bytes, conn: Connection | None = None,
                 ) -> None:
        """``data`` at ``pos`` (the file created if new), everything after it cut off,
        durably. OSError ENOSPC when storage is full (nothing of it written)."""

    def rename(self, src: str, dst: str, conn: Connection | None = None) -> None:
        """``src`` becomes ``dst`` (replacing it), at once."""

    def remove(self, name: str, conn: Connection | None = None) -> None:
        """Gone (no error when it was not there)."""

    def listing(self, folder: str = "") -> list[tuple[str, float]]:
        """(name, last written, Unix seconds) of the files under ``folder`` (all: "")."""


class DirectoryFiles:
    """Files under ``root``: directories 0700, files 0600, each write fsync'd."""

    may_hold_legacy = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root)  # created on the first write

    def describe(self) -> str:
        return str(self.root)

    def path(self, name: str) -> Path:
        return self.root / name

    def private_dir(self, path: Path) -> None:
        """``path`` (the root or a directory in it) exists, 0700."""
        for d in (self.root, path) if path != self.root else (self.root,):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            if d.stat().st_mode & 0o077:
                os.chmod(d, 0o700)

    def private_modes(self) -> None:
        """Directories 0700 and files 0600 under the root (files from older servers)."""
        self.private_dir(self.root)
        for path in self.root.rglob("*"):
            with contextlib.suppress(OSError):
                mode = 0o700 if path.is_dir() else 0o600
                if path.stat().st_mode & 0o077:
                    os.chmod(path, mode)

    def open(self, name: str, conn: Connection | None = None) -> BinaryIO:
        return open(self.path(name), "rb")

    def write_at(self, name: str, pos: int, data: bytes, conn: Connection | None = None,
                 ) -> None:
        path = self.path(name)
        try:
            self.private_dir(path.parent)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | (os.O_TRUNC if pos == 0 else 0),
                         0o600)
            with os.fdopen(fd, "r+b") as fh:
                fh.seek(pos)
                fh.write(data)
                fh.truncate()
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            if not db.is_storage_full(exc):
                raise
            with contextlib.suppress(OSError):  # the space given back; resumes at pos
                if pos > 0:
                    os.truncate(path, pos)
                else:
                    path.unlink(missing_ok=True)
            raise

    def rename(self, src: str, dst: str, conn: Connection | None = None) -> None:
        target = self.path(dst)
        self.private_dir(target.parent)
        os.replace(self.path(src), target)

    def remove(self, name: str, conn: Connection | None = None) -> None:
        self.path(name).unlink(missing_ok=True)

    def listing(self, folder: str = "") -> list[tuple[str, float]]:
        base = self.root / folder if folder else self.root
        if not base.is_dir():
            return []
        found = []
        for path in base.rglob("*"):
            try:
                if path.is_file():
                    found.append((path.relative_to(self.root).as_posix(),
                                  path.stat().st_mtime))
            except OSError:
                pass  # gone meanwhile
        return found


class DatabaseFiles:
    """Files as rows of ``photo_blobs`` in the server's database (module docstring)."""

    may_hold_legacy = False

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> str:
        return "the database (photo_blobs)"

    @contextlib.contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as own:
                yield own

    def open(self, name: str, conn: Connection | None = None) -> BinaryIO:
        b = db.photo_blobs
        with self._conn(conn) as c:
            pieces = c.execute(select(b.c.pos, b.c.data).where(b.c.name == name)
                               .order_by(b.c.pos)).all()
        if not pieces:
            raise FileNotFoundError(errno.ENOENT, "no such photo file", name)
        out = io.BytesIO()
        for pos, data in pieces:
            if pos != out.tell():
                break  # cannot happen (writes cut what follows); what is whole is read
            out.write(bytes(data))
        out.seek(0)
        return out

    def write_at(self, name: str, pos: int, data: bytes, conn: Connection | None = None,
                 ) -> None:
        b = db.photo_blobs
        mine = b.c.name == name
        with self._conn(conn) as c:
            try:
                with c.begin_nested():
                    c.execute(delete(b).where(mine, b.c.pos >= pos))
                    before = c.execute(
                        select(b.c.pos, func.length(b.c.data)).where(mine, b.c.pos < pos)
                        .order_by(b.c.pos.desc()).limit(1)).first()
                    if before is not None and before[0] + before[1] > pos:
                        # a piece running past pos (never from this store): cut it there
                        kept = c.execute(select(b.c.data).where(
                            mine, b.c.pos == before[0])).scalar_one()
                        c.execute(update(b).where(mine, b.c.pos == before[0]).values(
                            data=bytes(kept)[:pos - before[0]]))
                    c.execute(insert(b).values(name=name, pos=pos, data=data,
                                               written_at=time.time()))
            except DBAPIError as exc:
                if db.is_storage_full(exc):
                    raise OSError(errno.ENOSPC, "the database's disk is full") from exc
                raise

    def rename(self, src: str, dst: str, conn: Connection | None = None) -> None:
        """As a directory's rename. Names are content-addressed (a photo's hash): when
        another transaction put ``dst`` in place meanwhile (two devices finishing the
        same photo on two machines), it holds the same bytes, and ``src`` just goes."""
        b = db.photo_blobs
        with self._conn(conn) as c:
            if c.execute(select(b.c.pos).where(b.c.name == src).limit(1)).first() is None:
                raise FileNotFoundError(errno.ENOENT, "no such photo file", src)
            try:
                with c.begin_nested():
                    c.execute(delete(b).where(b.c.name == dst))
                    c.execute(update(b).where(b.c.name == src).values(name=dst))
            except IntegrityError:
                c.execute(delete(b).where(b.c.name == src))

    def remove(self, name: str, conn: Connection | None = None) -> None:
        with self._conn(conn) as c:
            c.execute(delete(db.photo_blobs).where(db.photo_blobs.c.name == name))

    def listing(self, folder: str = "") -> list[tuple[str, float]]:
        b = db.photo_blobs
        query = select(b.c.name, func.max(b.c.written_at)).group_by(b.c.name)
        if folder:
            query = query.where(b.c.name.startswith(folder.rstrip("/") + "/", autoescape=True))
        with self.engine.connect() as c:
            return [(str(n), float(t)) for n, t in c.execute(query)]


PHOTO_STORES = ("dir", "database")


def photo_files(kind: str, engine: Engine, root: Path) -> PhotoFiles:
    """``central serve --photo-store``: ``dir`` (files under ``root``) or ``database``."""
    if kind == "database":
        return DatabaseFiles(engine)
    if kind == "dir":
        return DirectoryFiles(root)
    raise ValueError(f"unknown photo store {kind!r} (one of {', '.join(PHOTO_STORES)})")
