"""Photos on the central server: content-addressed (SHA-256) files on disk, uploaded
resumably in checksummed chunks. See ``sync/protocol.py`` for the wire format.

Each device's upload of a photo is its own (a ``photo_uploads`` row and a partial file
per photo and device), so no device can block or disturb another's upload of the same
photo. A device is told a photo is already here only when it holds it (it sent the
whole bytes once) or a record of its grids from another device names it: it cannot
probe whether another grid's photo exists, and sending the same bytes again is
harmless (content-addressed, stored once). Uploads in progress count against the
device's daily quota; abandoned ones expire. A full disk is a ``507`` that leaves
nothing half-recorded: the upload resumes where it was.

Nothing is kept in the clear (central.atrest): a partial upload and a photo are files
of sealed frames (one per chunk as it arrived) under the database's key ring;
:meth:`PhotoStore.read` opens one. ``central keys rotate`` re-seals them under the new
key (:meth:`PhotoStore.reseal`); photos kept in the clear before are sealed when the
server starts. The files are in a directory (0600 in directories 0700) or, for servers
on several machines, in the database (``central.shared.blobs``).
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from central import atrest, db
from central.limits import DEFAULT_PARTIAL_MAX_AGE
from central.shared.blobs import DirectoryFiles, PhotoFiles

MAX_PHOTO_BYTES = 50 * 1024 * 1024
QUOTA_WINDOW = timedelta(hours=24)
# One writer per device at a time in this process (a device uploads one chunk after
# another; this also keeps its quota check exact).
_LOCKS = [threading.Lock() for _ in range(64)]


def _lock_for(device_id: str) -> threading.Lock:
    return _LOCKS[int(hashlib.sha256(device_id.encode()).hexdigest()[:8], 16) % len(_LOCKS)]


class PhotoError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def storage_full() -> PhotoError:
    return PhotoError(507, "insufficient_storage",
                      "the server's disk is full; nothing was stored from this request, "
                      "send it again later")


def default_blob_dir(db_url: str) -> Path:
    """``<database file>.photos`` for SQLite, ``./central-photos`` otherwise."""
    if db_url.startswith("sqlite:///") and db_url != "sqlite:///:memory:":
        return Path(db_url[len("sqlite:///"):] + ".photos")
    return Path("central-photos")


class PhotoStore:
    """Photos in ``files`` (a directory's path, or a :class:`PhotoFiles`);
    ``quota_bytes``/``quota_count`` per device per 24 hours (0: none); partial uploads
    untouched for ``partial_max_age`` seconds expire."""

    def __init__(self, files: Path | PhotoFiles, quota_bytes: int = 0, quota_count: int = 0,
                 partial_max_age: float = DEFAULT_PARTIAL_MAX_AGE,
                 keys: atrest.KeyRing | None = None) -> None:
        self.files: PhotoFiles = (
            DirectoryFiles(files) if isinstance(files, (str, Path)) else files)
        self._keys = keys
        self.quota_bytes = quota_bytes
        self.quota_count = quota_count
        self.partial_max_age = partial_max_age
        # looked at on access at most this often (and at start, by create_app)
        self.sweep_every = max(1.0, min(600.0, partial_max_age / 4))
        self._last_sweep = time.monotonic()
        self._sweep_lock = threading.Lock()

    @property
    def keys(self) -> atrest.KeyRing:
        if self._keys is None:
            raise atrest.AtRestError("this photo store has no keys: photos are kept sealed")
        return self._keys

    @staticmethod
    def final_name(sha: str) -> str:
        return f"{sha[:2]}/{sha}"

    @staticmethod
    def partial_name(sha: str, device_id: str) -> str:
        device_key = hashlib.sha256(device_id.encode()).hexdigest()[:32]
        return f"partial/{sha}-{device_key}.part"

    def partial_path(self, sha: str, device_id: str) -> Path:
        """The partial upload's file, for a store in a directory (tests, operators)."""
        return self._directory().path(self.partial_name(sha, device_id))

    def final_path(self, sha: str) -> Path:
        """The photo's file, for a store in a directory."""
        return self._directory().path(self.final_name(sha))

    def _directory(self) -> DirectoryFiles:
        if not isinstance(self.files, DirectoryFiles):
            raise TypeError(f"photos are kept in {self.files.describe()}, not in files")
        return self.files

    # -- which photos a device still has to send ---------------------------------------

    def missing(self, engine: Engine, device_id: str, grids: Iterable[int],
                hashes: list[str]) -> list[dict[str, Any]]:
        """The hashes this device should send, each with the offset its own upload
        may resume from (module docstring: what counts as already here)."""
        self.maybe_expire(engine)
        wanted = list(dict.fromkeys(h.lower() for h in hashes))
        up = db.photo_uploads
        with engine.connect() as conn:
            stored = {r[0] for r in conn.execute(
                select(db.photos.c.sha256).where(db.photos.c.sha256.in_(wanted)))}
            known = known_photos(conn, device_id, tuple(grids), stored)
            partial = {r[0]: int(r[1]) for r in conn.execute(
                select(up.c.sha256, up.c.offset)
                .where(up.c.device_id == device_id, up.c.sha256.in_(wanted)))}
        return [{"sha256": h, "offset": partial.get(h, 0)} for h in wanted if h not in known]

    # -- one chunk ---------------------------------------------------------------------

    def put_chunk(
        self, engine: Engine, device_id: str, grids: Iterable[int], sha: str, offset: int,
        total: int, chunk: bytes, chunk_sha: str,
    ) -> dict[str, Any]:
        """Store one chunk of this device's upload of ``sha``; raises PhotoError."""
        if hashlib.sha256(chunk).hexdigest() != chunk_sha.lower():
            raise PhotoError(400, "chunk_corrupt", "chunk checksum does not match its data")
        if total < 1 or total > MAX_PHOTO_BYTES:
            raise PhotoError(422, "invalid_input", f"total must be 1..{MAX_PHOTO_BYTES} bytes")
        if not chunk or offset + len(chunk) > total:
            raise PhotoError(422, "invalid_input", "chunk is empty or runs past the total size")
        self.maybe_expire(engine)
        with _lock_for(device_id):
            outcome = self._put_locked(engine, device_id, tuple(grids), sha, offset, total, chunk)
        if isinstance(outcome, PhotoError):
            raise outcome
        return outcome

    def _put_locked(
        self, engine: Engine, device_id: str, grids: tuple[int, ...], sha: str, offset: int,
        total: int, chunk: bytes,
    ) -> dict[str, Any] | PhotoError:
        """The chunk under the device's lock, in one transaction. An error to answer is
        returned, not raised, so what the transaction did so far (an upload restarted
        or discarded) is committed; a database failure raises and rolls it all back."""
        up = db.photo_uploads
        mine = (up.c.sha256 == sha) & (up.c.device_id == device_id)
        part = self.partial_name(sha, device_id)
        files = self.files
        done = {"sha256": sha, "offset": total, "complete": True}
        with engine.begin() as conn:
            db.lock_key(conn, f"photo:{device_id}")  # across server processes too
            stored = conn.execute(
                select(db.photos.c.sha256).where(db.photos.c.sha256 == sha)).first() is not None
            if stored and known_photos(conn, device_id, grids, {sha}):
                if conn.execute(delete(up).where(mine)).rowcount:
                    files.remove(part, conn)
                return done
            row = conn.execute(select(up).where(mine)).mappings().first()
            if row is not None and (
                    int(row["size"]) != total
                    or (int(row["offset"]) > 0
                        and self._resume_at(part, int(row["offset"]), conn) is None)):
                # Another size than this device announced before, or its partial file is
                # gone (expired, lost, sealed with a key rotated away): this device's
                # upload, and only it, starts over.
                conn.execute(delete(up).where(mine))
                row = None
            current = int(row["offset"]) if row is not None else 0
            if offset != current:
                return PhotoError(409, "offset_mismatch", f"upload continues at byte {current}",
                                  offset=current)
            if row is None:
                over = self._over_quota(conn, device_id, total)
                if over is not None:
                    return over
            if not self._write(part, sha, offset, chunk, conn):
                return storage_full()
            new_offset = offset + len(chunk)
            now = db.now_iso()
            if row is None:
                conn.execute(insert(up).values(sha256=sha, device_id=device_id, size=total,
                                               offset=new_offset, updated_at=now))
            else:
                conn.execute(update(up).where(mine).values(offset=new_offset, updated_at=now))
            if new_offset < total:
                return {"sha256": sha, "offset": new_offset, "complete": False}
            conn.execute(delete(up).where(mine))
            if self._plain_sha256(part, sha, conn) != sha:
                files.remove(part, conn)
                return PhotoError(422, "hash_mismatch", "the uploaded bytes do not have the "
                                  "announced SHA-256; start again", offset=0)
            if stored:  # the same bytes as a photo kept already: nothing more to keep
                files.remove(part, conn)
            else:
                try:
                    files.rename(part, self.final_name(sha), conn)
                except OSError as exc:
                    if db.is_storage_full(exc):
                        return storage_full()  # the partial file stays: resume at the end
                    raise
                _insert_once(conn, insert(db.photos).values(
                    sha256=sha, size=total, device_id=device_id, received_at=now))
            _insert_once(conn, insert(db.photo_holders).values(
                sha256=sha, device_id=device_id, received_at=now))
        return done

    def _resume_at(self, part: str, offset: int, conn: Connection | None = None,
                   ) -> tuple[int, int, str] | None:
        """Where the sealed partial file continues after ``offset`` bytes of photo:
        (file position, next frame number, its key id); None when it cannot (missing,
        in the clear, under a key the ring no longer has, ``offset`` not at a frame's
        end: the upload starts over)."""
        try:
            with self.files.open(part, conn) as fh:
                kid = atrest.file_key_id(fh)
                if kid is None or kid not in self.keys.keyset().keys:
                    return None
                done, end, count = 0, 5 + len(kid.encode()), 0
                for pos, length, index in atrest.frames(fh):
                    if done == offset:
                        break
                    done += length
                    end = pos + atrest.FRAME_HEAD.size + length + atrest.TAG
                    count = index + 1
        except FileNotFoundError:
            return None
        return (end, count, kid) if done == offset else None

    def _write(self, part: str, sha: str, offset: int, chunk: bytes,
               conn: Connection | None = None) -> bool:
        """Seal ``chunk`` as the frame after ``offset`` bytes of the partial file,
        durably. False when the disk is full: the file is cut back to where it was (the
        space is given back; the upload resumes there)."""
        ring = self.keys
        if offset > 0:
            resume = self._resume_at(part, offset, conn)
            if resume is None:  # checked by the caller under the same lock
                raise atrest.AtRestError(f"partial upload {part} cannot continue")
            pos, index, kid = resume
            head = b""
        else:
            pos, index, kid = 0, 0, ring.current_id
            head = atrest.header(kid)
        frame = head + atrest.seal_frame(ring, kid, sha, index, chunk)
        try:
            self.files.write_at(part, pos, frame, conn)
        except OSError as exc:
            if not db.is_storage_full(exc):
                raise
            return False  # nothing of it kept: the upload resumes at this offset
        return True

    def _plain_sha256(self, part: str, name: str, conn: Connection | None = None) -> str:
        digest = hashlib.sha256()
        with self.files.open(part, conn) as fh:
            for piece in atrest.read_plain(self.keys, fh, name):
                digest.update(piece)
        return digest.hexdigest()

    # -- reading, re-sealing --------------------------------------------------------------

    def read(self, sha: str) -> bytes | None:
        """A stored photo's bytes (opened, its hash checked), or None if not here."""
        sha = sha.lower()
        try:
            with self.files.open(self.final_name(sha)) as fh:
                data = b"".join(atrest.read_plain(self.keys, fh, sha))
        except FileNotFoundError:
            return None
        if hashlib.sha256(data).hexdigest() != sha:
            raise atrest.AtRestError(f"photo {sha} is damaged (its bytes have another hash)")
        return data

    def reseal(self) -> dict[str, int]:
        """Seal under the current key every photo in the clear or under another key
        (each written beside and renamed over: a crash leaves the old file whole), and
        delete partial uploads not under the current key (those uploads start over).
        In a directory, directories and files get their modes (0700, 0600) on the way."""
        ring = self.keys
        current = ring.current_id
        counts = {"photos": 0, "resealed": 0, "partials_dropped": 0, "damaged": 0}
        files = self.files
        if isinstance(files, DirectoryFiles):
            if not files.root.is_dir():
                return counts
            files.private_modes()
        for name, _written in sorted(files.listing()):
            folder, _, base = name.rpartition("/")
            if folder == "partial":
                if self._key_id(name) != current:
                    files.remove(name)
                    counts["partials_dropped"] += 1
                continue
            if len(base) != 64 or folder != base[:2]:
                continue  # not a photo (e.g. a re-sealing cut short)
            counts["photos"] += 1
            with files.open(name) as fh:
                if atrest.file_key_id(fh) == current:
                    continue
                resealed = self._reseal_file(ring, fh, name, base)
            counts["resealed" if resealed else "damaged"] += 1
        return counts

    def _key_id(self, name: str) -> str | None:
        with self.files.open(name) as fh:
            return atrest.file_key_id(fh)

    def _reseal_file(self, ring: atrest.KeyRing, fh: Any, name: str, sha: str) -> bool:
        digest = hashlib.sha256()

        def pieces() -> Any:
            for piece in atrest.read_plain(ring, fh, sha):
                digest.update(piece)
                yield piece

        out = io.BytesIO()  # one photo (at most MAX_PHOTO_BYTES) at a time
        atrest.write_sealed(ring, out, sha, pieces())
        if digest.hexdigest() != sha:
            return False  # left as it is: not this store's to repair
        tmp = name + ".reseal"
        self.files.write_at(tmp, 0, out.getvalue())
        self.files.rename(tmp, name)
        return True

    def stale_files(self) -> int:
        """Photos and partial uploads not sealed under the current key."""
        current = self.keys.current_id
        return sum(self._key_id(name) != current for name, _ in self.files.listing()
                   if "/" in name and not name.endswith(".reseal"))

    def seal_legacy(self) -> None:
        """At start: photos kept in the clear by a server before migration 12 are
        sealed, once (a marker file records that it was done). Only a directory can
        hold them: photos in the database were sealed from the first."""
        if not self.files.may_hold_legacy:
            return
        root = self._directory().root
        marker = root / ".sealed"
        if marker.exists() or not root.is_dir():
            return
        self.reseal()
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)

    def _over_quota(self, conn: Connection, device_id: str, total: int) -> PhotoError | None:
        """A new upload of ``total`` bytes would take this device past its quota: the
        photos it stored in the last 24 hours plus its uploads in progress."""
        if not self.quota_bytes and not self.quota_count:
            return None
        since = db.iso(db.now_utc() - QUOTA_WINDOW)
        p, up = db.photos, db.photo_uploads
        stored_bytes, stored_count = conn.execute(
            select(func.coalesce(func.sum(p.c.size), 0), func.count())
            .where(p.c.device_id == device_id, p.c.received_at >= since)).one()
        pending_bytes, pending_count = conn.execute(
            select(func.coalesce(func.sum(up.c.size), 0), func.count())
            .where(up.c.device_id == device_id)).one()
        used_bytes = int(stored_bytes) + int(pending_bytes)
        used_count = int(stored_count) + int(pending_count)
        if (self.quota_bytes and used_bytes + total > self.quota_bytes) or (
                self.quota_count and used_count + 1 > self.quota_count):
            limit = " and ".join(part for part in (
                f"{self.quota_count} photos" if self.quota_count else "",
                f"{self.quota_bytes} bytes" if self.quota_bytes else "") if part)
            return PhotoError(
                413, "photo_quota",
                f"this device has sent {used_count} photos ({used_bytes} bytes) in the last "
                f"24 hours, uploads in progress included, and may send at most {limit} a "
                "day; send the rest later",
                quota_bytes=self.quota_bytes, quota_count=self.quota_count,
                used_bytes=used_bytes, used_count=used_count,
            )
        return None

    # -- abandoned uploads -------------------------------------------------------------

    def maybe_expire(self, engine: Engine) -> None:
        """:meth:`expire_partials`, at most once per ``sweep_every`` seconds."""
        now = time.monotonic()
        with self._sweep_lock:
            if now - self._last_sweep < self.sweep_every:
                return
            self._last_sweep = now
        self.expire_partials(engine)

    def expire_partials(self, engine: Engine) -> int:
        """Delete uploads not continued for ``partial_max_age`` seconds (row and file),
        and partial files as old that no upload owns; returns how many were deleted."""
        up = db.photo_uploads
        cutoff = db.iso(db.now_utc() - timedelta(seconds=self.partial_max_age))
        with engine.connect() as conn:
            old = conn.execute(
                select(up.c.sha256, up.c.device_id).where(up.c.updated_at < cutoff)).all()
        removed = 0
        for sha, device_id in old:
            with _lock_for(device_id), engine.begin() as conn:
                db.lock_key(conn, f"photo:{device_id}")
                gone = conn.execute(delete(up).where(
                    up.c.sha256 == sha, up.c.device_id == device_id,
                    up.c.updated_at < cutoff)).rowcount
                if gone:
                    self.files.remove(self.partial_name(sha, device_id), conn)
                    removed += 1
        partials = self.files.listing("partial")
        if not partials:
            return removed
        with engine.connect() as conn:
            owned = {self.partial_name(sha, dev)
                     for sha, dev in conn.execute(select(up.c.sha256, up.c.device_id))}
        oldest = time.time() - self.partial_max_age
        for name, written in partials:
            try:
                if name not in owned and written < oldest:
                    self.files.remove(name)
                    removed += 1
            except OSError:
                pass  # gone meanwhile
        return removed


def known_photos(conn: Connection, device_id: str, grids: tuple[int, ...],
           hashes: set[str]) -> set[str]:
    """Which of these stored photos the device may be told are here: those it sent
    itself, and those a record of its grids names (a ``photo.meta`` from another device:
    its own records do not count, or it could name any hash and probe)."""
    if not hashes:
        return set()
    ph = db.photo_holders
    held = {r[0] for r in conn.execute(
        select(ph.c.sha256).where(ph.c.device_id == device_id, ph.c.sha256.in_(hashes)))}
    rest = hashes - held
    if not rest or not grids:
        return held
    rec = db.records
    named = rec.c.photo_sha256  # the payload's sha256, beside it (payloads are sealed)
    referenced = {r[0] for r in conn.execute(
        select(named).distinct().where(
            rec.c.kind == "photo.meta", rec.c.grid_id.in_(grids),
            rec.c.device_id != device_id, named.in_(rest)))}
    return held | referenced


def _insert_once(conn: Connection, statement: Any) -> None:
    """Insert a row unless a concurrent request inserted it first (in a savepoint, so
    the transaction goes on)."""
    try:
        with conn.begin_nested():
            conn.execute(statement)
    except IntegrityError:
        pass

