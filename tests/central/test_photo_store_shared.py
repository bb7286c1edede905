"""Photos in the database (``central serve --photo-store database``, issue 16): server
processes on several machines share every photo and every partial upload.

Two real servers on one PostgreSQL, each with a photo directory of its own (two
machines): an upload begun on one resumes on the other, and either serves the photo;
neither machine's disk holds any of it. Below that, the storage itself on SQLite and
PostgreSQL: writes cut what follows them, renames replace, abandoned partial uploads
expire. (Sealing and ``central keys rotate`` with photos in the database:
test_central_at_rest.py, whose PostgreSQL centre keeps them there.)"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from central_helpers import Device, seeded_database, start_server, stop_process
from sqlalchemy import func, select, text, update

from central import atrest, db, ops
from central.photos import PhotoStore
from central.shared.blobs import DatabaseFiles
from sync import protocol

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(50_000) + b"\xff\xd9"
CHUNK = 16 * 1024


def _put(dev: Device, data: bytes, offset: int) -> Any:
    sha = hashlib.sha256(data).hexdigest()
    piece = data[offset:offset + CHUNK]
    return dev.request("PUT", protocol.PHOTO_CHUNK_PATH.format(sha256=sha),
                       params={"offset": offset, "total": len(data)}, body=piece,
                       extra_headers={protocol.HEADER_CHUNK_SHA256:
                                      hashlib.sha256(piece).hexdigest()})


def _missing(dev: Device, sha: str) -> list[dict[str, Any]]:
    body = json.dumps({"hashes": [sha]}).encode()
    resp = dev.request("POST", protocol.PHOTOS_MISSING_PATH, body=body,
                       extra_headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["missing"])


def test_an_upload_begun_on_one_machine_resumes_on_another(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    db_url, demo = seeded_database("postgresql", tmp_path, request)
    dirs = [tmp_path / "machine-a", tmp_path / "machine-b"]
    servers = [start_server(db_url, tmp_path, "--photo-store", "database",
                            "--photo-dir", str(d)) for d in dirs]
    engine = db.make_engine(db_url)
    try:
        grid = demo["grids"][0]
        dev = Device(servers[0][1])
        assert dev.enroll(ops.create_enrollment_code(engine, grid["workers"][0])["code"]
                          ).status_code == 200
        sha = hashlib.sha256(JPEG).hexdigest()
        rid = str(uuid.uuid4())
        push = json.dumps({"ops": [{
            "op_id": uuid.uuid4().hex, "kind": "photo.meta", "record_id": rid,
            "base_version": None, "payload": {"id": rid, "grid_id": grid["id"],
                                              "sha256": sha}}]}).encode()
        resp = dev.request("POST", protocol.SYNC_PUSH_PATH, body=push,
                           extra_headers={"Content-Type": "application/json"})
        assert resp.status_code == 200 and resp.json()["results"][0]["status"] == "applied"
        # two chunks through machine A, then the link drops and the device comes back
        # through machine B (another address behind the load balancer)
        for offset in (0, CHUNK):
            assert _put(dev, JPEG, offset).status_code == 200
        dev.base = servers[1][1]
        assert _missing(dev, sha) == [{"sha256": sha, "offset": 2 * CHUNK}]
        stale = _put(dev, JPEG, CHUNK)  # a chunk B has not seen as the next one: refused
        assert stale.status_code == 409 and stale.json()["offset"] == 2 * CHUNK
        offset = 2 * CHUNK
        while offset < len(JPEG):
            resp = _put(dev, JPEG, offset)
            assert resp.status_code == 200, resp.text
            offset += CHUNK
        assert resp.json()["complete"] is True
        # either machine has it now; the second device of the grid is told so by A
        assert _missing(dev, sha) == []
        other = Device(servers[0][1])
        assert other.enroll(ops.create_enrollment_code(engine, grid["workers"][1])["code"]
                            ).status_code == 200
        assert _missing(other, sha) == []
        assert PhotoStore(DatabaseFiles(engine), keys=db.keyring(engine)).read(sha) == JPEG
        with engine.connect() as conn:
            names = set(conn.execute(select(db.photo_blobs.c.name)).scalars())
        assert names == {f"{sha[:2]}/{sha}"}  # the partial file became the photo
        assert not any(d.exists() for d in dirs)  # nothing on either machine's disk
    finally:
        engine.dispose()
        for proc, _base in servers:
            stop_process(proc)


@pytest.fixture()
def store(fresh_db: str) -> Any:
    engine = db.make_engine(fresh_db)
    yield PhotoStore(DatabaseFiles(engine), keys=db.keyring(engine), partial_max_age=60)
    engine.dispose()


def test_database_files_behave_as_files(store: PhotoStore) -> None:
    files = store.files
    with pytest.raises(FileNotFoundError):
        files.open("ab/none")
    files.write_at("partial/x.part", 0, b"head-")
    files.write_at("partial/x.part", 5, b"one-")
    files.write_at("partial/x.part", 9, b"two")
    with files.open("partial/x.part") as fh:
        assert fh.read() == b"head-one-two"
    files.write_at("partial/x.part", 5, b"ONE")  # cuts off what followed
    with files.open("partial/x.part") as fh:
        assert fh.read() == b"head-ONE"
    files.write_at("partial/x.part", 2, b"AD")  # inside a piece: that piece is cut
    with files.open("partial/x.part") as fh:
        assert fh.read() == b"heAD"
    files.write_at("ab/target", 0, b"older")
    files.rename("partial/x.part", "ab/target")
    with files.open("ab/target") as fh:
        assert fh.read() == b"heAD"
    assert [n for n, _ in files.listing()] == ["ab/target"]
    assert files.listing("partial") == []
    with pytest.raises(FileNotFoundError):
        files.rename("partial/x.part", "ab/other")
    files.remove("ab/target")
    files.remove("ab/target")  # no error when gone
    assert files.listing() == []


def test_abandoned_partials_expire(store: PhotoStore) -> None:
    assert isinstance(store.files, DatabaseFiles)
    engine = store.files.engine
    sha = hashlib.sha256(JPEG).hexdigest()
    # a finished photo, an upload in progress, and a stray partial nobody owns
    done = store.put_chunk(engine, "dev-1", (), sha, 0, len(JPEG), JPEG,
                           hashlib.sha256(JPEG).hexdigest())
    assert done["complete"] is True
    other = hashlib.sha256(b"x" * 100).hexdigest()
    half = store.put_chunk(engine, "dev-2", (), other, 0, 100, b"x" * 50,
                           hashlib.sha256(b"x" * 50).hexdigest())
    assert half == {"sha256": other, "offset": 50, "complete": False}
    stray = store.partial_name("f" * 64, "dev-9")
    store.files.write_at(stray, 0, atrest.header(store.keys.current_id))
    assert store.expire_partials(engine) == 0  # all fresh
    long_ago = time.time() - 3600
    with engine.begin() as conn:
        conn.execute(update(db.photo_blobs).where(db.photo_blobs.c.name.like("partial/%"))
                     .values(written_at=long_ago))
        conn.execute(update(db.photo_uploads).values(updated_at="2000-01-01T00:00:00Z"))
    assert store.expire_partials(engine) == 2
    assert [n for n, _ in store.files.listing()] == [store.final_name(sha)]
    assert store.read(sha) == JPEG and store.stale_files() == 0


def test_migration_19_adds_the_photo_table(fresh_db: str) -> None:
    """A centre from before migration 19 gets the table; photos on disk stay where they
    are (the table is empty); run again, nothing changes."""
    engine = db.make_engine(fresh_db)
    try:
        with engine.begin() as conn:
            conn.execute(db.schema_version.delete().where(db.schema_version.c.version == 19))
            conn.execute(text("DROP TABLE photo_blobs"))
        assert db.migrate(engine)[1] == db.LATEST_VERSION
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(db.photo_blobs)).scalar() == 0
            if conn.dialect.name == "postgresql":
                assert conn.execute(text(
                    "SELECT attstorage FROM pg_attribute WHERE attrelid ="
                    " 'photo_blobs'::regclass AND attname = 'data'")).scalar_one() == "e"
        assert db.migrate(engine) == (db.LATEST_VERSION, db.LATEST_VERSION)
    finally:
        engine.dispose()


def test_two_machines_finishing_the_same_photo_at_once_both_succeed(
    request: pytest.FixtureRequest,
) -> None:
    """Two devices' uploads of one photo complete in two transactions at once (two
    machines): the second rename meets the first's photo (same bytes, by its hash) and
    drops its own partial instead of failing the device's last chunk."""
    import threading

    engine = db.make_engine(request.getfixturevalue("pg_server").new_database())
    db.migrate(engine)
    files = DatabaseFiles(engine)
    try:
        for part in ("partial/a.part", "partial/b.part"):
            files.write_at(part, 0, b"same sealed bytes")
        errors: list[BaseException] = []
        with engine.begin() as first:
            files.rename("partial/a.part", "ab/photo", first)

            def second() -> None:
                try:
                    with engine.begin() as conn:  # waits for the first, then meets it
                        files.rename("partial/b.part", "ab/photo", conn)
                except BaseException as exc:  # reported below
                    errors.append(exc)

            other = threading.Thread(target=second)
            other.start()
            time.sleep(0.5)  # the second is now waiting on the first's row
        other.join(timeout=30)
        assert errors == []
        assert [n for n, _ in files.listing()] == ["ab/photo"]
        with files.open("ab/photo") as fh:
            assert fh.read() == b"same sealed bytes"
    finally:
        engine.dispose()
