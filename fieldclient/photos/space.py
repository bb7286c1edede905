"""The space photos take, and freeing the space of photos the centre holds.

A device fills up with evidence photos (each final JPEG is a few hundred KB). Once
the centre has confirmed holding a photo's bytes (``photo_uploads.state = 'done'``:
the upload completed, or the centre answered that it had them already) and its
``photo.meta`` record is no longer waiting in the outbox, the full JPEG here is a
copy: :func:`free_synced` deletes that encrypted file. What stays:

* the ``photos`` row (time, place, size, hash: the metadata the records refer to),
* the encrypted thumbnail (a few KB), so lists and the viewer still show the picture
  small, with a note that the full photo is held at the centre,
* a ``photos_freed`` row and one audit entry per run (how many, how much).

The full photo is not fetched back: it is held at the centre, where the leader and
the review see it. A photo not confirmed uploaded is never freed, whatever the
storage situation; neither is one whose upload was found corrupt.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any

from fieldclient.fsutil import folder_bytes
from fieldclient.security import audit
from fieldclient.storage.session import Session

# Uploaded (the centre holds the bytes) and the photo's record acknowledged.
_FREEABLE = (
    "SELECT p.id, p.sha256, p.blob_id, p.bytes FROM photos p"
    " JOIN photo_uploads u ON u.sha256 = p.sha256 AND u.state = 'done'"
    " LEFT JOIN photos_freed f ON f.photo_id = p.id"
    " WHERE f.photo_id IS NULL AND NOT EXISTS (SELECT 1 FROM outbox o"
    "  WHERE o.kind = 'photo.meta' AND o.record_id = p.id AND o.state = 'pending')"
    " ORDER BY p.created_at"
)


@dataclass(frozen=True)
class PhotoSpace:
    """What the photos on this device take, and what could be freed now."""

    photos: int  # photos recorded on this device
    on_disk_bytes: int  # the encrypted files (full photos and thumbnails)
    freeable: int  # held at the centre, full photo still here
    freeable_bytes: int
    waiting: int  # not confirmed at the centre yet: kept
    freed: int  # full photo freed earlier (thumbnail kept)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Freed:
    """One :func:`free_synced` run."""

    count: int
    bytes: int
    kept_waiting: int  # not uploaded yet, so kept

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _freeable(session: Session) -> list[tuple[str, str, str, int]]:
    rows = session.db.execute(_FREEABLE).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows
            if session.blobs.exists(str(r[2]))]


def photo_space(session: Session) -> PhotoSpace:
    db = session.db
    total = int(db.execute("SELECT count(*) FROM photos").fetchone()[0])
    freed = int(db.execute("SELECT count(*) FROM photos_freed").fetchone()[0])
    freeable = _freeable(session)
    waiting = int(db.execute(
        "SELECT count(*) FROM photos p LEFT JOIN photo_uploads u ON u.sha256 = p.sha256"
        " LEFT JOIN photos_freed f ON f.photo_id = p.id"
        " WHERE f.photo_id IS NULL AND (u.state IS NULL OR u.state != 'done')").fetchone()[0])
    return PhotoSpace(
        photos=total, on_disk_bytes=folder_bytes(session.paths.blobs),
        freeable=len(freeable), freeable_bytes=sum(r[3] for r in freeable),
        waiting=waiting, freed=freed)


def is_freed(session: Session, photo_id: str) -> bool:
    return session.db.execute(
        "SELECT 1 FROM photos_freed WHERE photo_id = ?", (photo_id,)).fetchone() is not None


def free_synced(session: Session) -> Freed:
    """Delete the full JPEG of every photo the centre holds (see the module's text).

    The ``photos_freed`` rows and the audit entry commit first, then the files go: a
    crash in between leaves a file marked freed, which the next run deletes (and
    nothing unmarked is ever missing)."""
    rows = _freeable(session)
    now = session.clock()
    if rows:
        with session.db.conn:
            session.db.conn.executemany(
                "INSERT INTO photos_freed (photo_id, sha256, bytes, freed_at)"
                " VALUES (?, ?, ?, ?)", [(pid, sha, size, now) for pid, sha, _b, size in rows])
            session.audit.append(audit.PHOTOS_FREED, {
                "count": len(rows), "bytes": sum(r[3] for r in rows),
                "ids": [r[0] for r in rows][:200]})
    # Every freed photo's file, this run's and any an interrupted run left behind.
    for (blob_id,) in session.db.execute(
            "SELECT p.blob_id FROM photos_freed f JOIN photos p ON p.id = f.photo_id"
    ).fetchall():
        with contextlib.suppress(OSError):
            session.blobs.delete(str(blob_id))
    waiting = int(session.db.execute(
        "SELECT count(*) FROM photos p LEFT JOIN photo_uploads u ON u.sha256 = p.sha256"
        " WHERE u.state IS NULL OR u.state != 'done'").fetchone()[0])
    return Freed(count=len(rows), bytes=sum(r[3] for r in rows), kept_waiting=waiting)
