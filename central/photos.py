"""Photos on the central server: content-addressed (SHA-256) files on disk, uploaded
resumably in checksummed chunks. See ``sync/protocol.py`` for the wire format."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from central import db

MAX_PHOTO_BYTES = 50 * 1024 * 1024
_lock = threading.Lock()  # one writer per partial file in this process


class PhotoError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def default_blob_dir(db_url: str) -> Path:
    """``<database file>.photos`` for SQLite, ``./central-photos`` otherwise."""
    if db_url.startswith("sqlite:///") and db_url != "sqlite:///:memory:":
        return Path(db_url[len("sqlite:///"):] + ".photos")
    return Path("central-photos")


class PhotoStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)  # created on the first upload

    def final_path(self, sha: str) -> Path:
        return self.root / sha[:2] / sha

    def partial_path(self, sha: str) -> Path:
        return self.root / "partial" / f"{sha}.part"

    def missing(self, engine: Engine, hashes: list[str]) -> list[dict[str, Any]]:
        """Hashes the server lacks, each with the offset it can resume from."""
        wanted = list(dict.fromkeys(h.lower() for h in hashes))
        with engine.connect() as conn:
            have = {r[0] for r in conn.execute(
                select(db.photos.c.sha256).where(db.photos.c.sha256.in_(wanted)))}
            partial = {r[0]: int(r[1]) for r in conn.execute(
                select(db.photo_uploads.c.sha256, db.photo_uploads.c.offset)
                .where(db.photo_uploads.c.sha256.in_(wanted)))}
        return [{"sha256": h, "offset": partial.get(h, 0)} for h in wanted if h not in have]

    def put_chunk(
        self, engine: Engine, device_id: str, sha: str, offset: int, total: int,
        chunk: bytes, chunk_sha: str,
    ) -> dict[str, Any]:
        if hashlib.sha256(chunk).hexdigest() != chunk_sha.lower():
            raise PhotoError(400, "chunk_corrupt", "chunk checksum does not match its data")
        if total < 1 or total > MAX_PHOTO_BYTES:
            raise PhotoError(422, "invalid_input", f"total must be 1..{MAX_PHOTO_BYTES} bytes")
        if not chunk or offset + len(chunk) > total:
            raise PhotoError(422, "invalid_input", "chunk is empty or runs past the total size")
        with _lock, engine.begin() as conn:
            if conn.execute(select(db.photos.c.sha256).where(db.photos.c.sha256 == sha)).first():
                return {"sha256": sha, "offset": total, "complete": True}
            row = conn.execute(
                select(db.photo_uploads).where(db.photo_uploads.c.sha256 == sha)
            ).mappings().first()
            current = int(row["offset"]) if row is not None else 0
            if row is not None and int(row["size"]) != total:
                raise PhotoError(409, "size_mismatch", "total differs from the upload in progress",
                                 offset=current)
            if offset != current:
                raise PhotoError(409, "offset_mismatch", f"upload continues at byte {current}",
                                 offset=current)
            part = self.partial_path(sha)
            part.parent.mkdir(parents=True, exist_ok=True)
            mode = "r+b" if part.exists() and offset > 0 else "wb"
            with open(part, mode) as fh:
                fh.seek(offset)
                fh.write(chunk)
                fh.truncate()
                fh.flush()
                os.fsync(fh.fileno())
            new_offset = offset + len(chunk)
            now = db.now_iso()
            if row is None:
                conn.execute(insert(db.photo_uploads).values(
                    sha256=sha, size=total, offset=new_offset, device_id=device_id,
                    updated_at=now))
            else:
                conn.execute(update(db.photo_uploads).where(db.photo_uploads.c.sha256 == sha)
                             .values(offset=new_offset, device_id=device_id, updated_at=now))
            if new_offset < total:
                return {"sha256": sha, "offset": new_offset, "complete": False}
            digest = hashlib.sha256()
            with open(part, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            conn.execute(db.photo_uploads.delete().where(db.photo_uploads.c.sha256 == sha))
            if digest.hexdigest() != sha:
                part.unlink(missing_ok=True)
                # committed below: the bad upload is forgotten, a new one starts at 0
                raise _Restart()
            final = self.final_path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, final)
            conn.execute(insert(db.photos).values(
                sha256=sha, size=total, device_id=device_id, received_at=now))
        return {"sha256": sha, "offset": total, "complete": True}


class _Restart(Exception):
    pass


def put_chunk(store: PhotoStore, engine: Engine, device_id: str, sha: str, offset: int,
              total: int, chunk: bytes, chunk_sha: str) -> dict[str, Any]:
    try:
        return store.put_chunk(engine, device_id, sha, offset, total, chunk, chunk_sha)
    except _Restart:
        with engine.begin() as conn:
            conn.execute(db.photo_uploads.delete().where(db.photo_uploads.c.sha256 == sha))
        raise PhotoError(422, "hash_mismatch",
                         "the uploaded bytes do not have the announced SHA-256; start again",
                         offset=0) from None
