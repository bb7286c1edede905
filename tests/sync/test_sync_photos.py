"""Photos: content-addressed, resumable, checksummed chunk uploads to a real server."""

from __future__ import annotations

import hashlib
import os
import random
from typing import Any

import requests
from sqlalchemy import func, select
from sync_helpers import PIN, DropProxy, LiveServer, new_grid

from central import db
from fieldclient.storage.session import Session, unlock_device
from sync import protocol
from sync.engine import RetryPolicy, SyncEngine, transport_for

CHUNK = 16 * 1024  # the test server takes bodies up to 64 KiB


def add_blob(session: Session, data: bytes) -> str:
    blob_id = session.blobs.put(data)
    with session.db.conn:
        session.db.execute(
            "INSERT INTO blobs (blob_id, sha256, size, media_type, created_at)"
            " VALUES (?, ?, ?, 'image/jpeg', ?)",
            (blob_id, hashlib.sha256(data).hexdigest(), len(data), session.clock()))
    return hashlib.sha256(data).hexdigest()


def stored(live: LiveServer, sha: str) -> bytes | None:
    return live.stored_photo(sha)


def test_upload_in_chunks_and_nothing_to_do_after(live: LiveServer, make_device: Any) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    photos = [os.urandom(n) for n in (1, CHUNK, 3 * CHUNK + 17)]
    hashes = [add_blob(dev.session, p) for p in photos]
    assert dev.engine.pending_counts() == {"photo": 3}
    engine = SyncEngine(dev.session, dev.transport, chunk_size=CHUNK)
    seen: list[Any] = []
    report = engine.run_once(seen.append)
    assert report.ok, report.error
    assert report.photos_uploaded == 3 and report.photo_bytes_sent == sum(map(len, photos))
    assert [p.done for p in seen if p.phase == "photos"][-1] == sum(map(len, photos))
    for data, sha in zip(photos, hashes, strict=True):
        assert stored(live, sha) == data
    assert engine.pending_counts() == {}
    assert engine.run_once().requests == 1


def test_cut_connections_resume_across_restart(live: LiveServer, make_device: Any,
                                               proxy: DropProxy) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    data = os.urandom(20 * CHUNK + 123)
    sha = add_blob(dev.session, data)
    proxy.rng = random.Random(7)
    proxy.p_request = 0.2  # requests cut at random points (random byte offsets)
    dev.via(proxy.base)
    flaky = SyncEngine(dev.session, dev.transport, chunk_size=CHUNK,
                       retry=RetryPolicy(attempts=1, sleep=lambda s: None))
    sent, offset = 0, 0
    for _ in range(40):  # until a run is cut part-way through the photo
        report = flaky.run_once()
        sent += report.photo_bytes_sent
        row = dev.session.db.execute(
            "SELECT offset, state FROM photo_uploads WHERE sha256 = ?", (sha,)).fetchone()
        if not report.ok and row is not None and row[0] > 0:
            offset = row[0]
            break
    assert proxy.dropped > 0 and 0 < offset < len(data)
    assert stored(live, sha) is None
    # the app restarts: the upload goes on from the server's offset, not from zero
    data_dir = dev.data_dir
    dev.session.close()
    session = unlock_device(data_dir, PIN)
    try:
        engine = SyncEngine(session, transport_for(session), chunk_size=CHUNK,
                            retry=RetryPolicy(attempts=8, base_delay=0.01, max_delay=0.02))
        report = engine.run_once()
        assert report.ok, report.error
        assert stored(live, sha) == data
        assert sent + report.photo_bytes_sent < 2 * len(data)  # resumed, not restarted
        assert engine.pending_counts() == {}
    finally:
        session.close()
        dev.session = unlock_device(data_dir, PIN)  # for the fixture's cleanup


def _put(dev: Any, live: LiveServer, sha: str, offset: int, total: int, chunk: bytes,
         chunk_sha: str) -> requests.Response:
    path = protocol.PHOTO_CHUNK_PATH.format(sha256=sha) + f"?offset={offset}&total={total}"
    headers = protocol.sign_headers(dev.transport.private_key, dev.transport.device_id, "PUT",
                                    path, chunk)
    headers[protocol.HEADER_CHUNK_SHA256] = chunk_sha
    return requests.put(live.base + path, data=chunk, headers=headers, timeout=10)


def test_corrupted_chunk_and_wrong_whole_hash_are_refused(
    live: LiveServer, make_device: Any
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    data = os.urandom(2 * CHUNK)
    sha = hashlib.sha256(data).hexdigest()
    first = data[:CHUNK]
    damaged = bytes([first[0] ^ 1]) + first[1:]
    resp = _put(dev, live, sha, 0, len(data), damaged, hashlib.sha256(first).hexdigest())
    assert resp.status_code == 400 and resp.json()["error"] == "chunk_corrupt"
    resp = _put(dev, live, sha, 0, len(data), first, hashlib.sha256(first).hexdigest())
    assert resp.status_code == 200 and resp.json() == {
        "sha256": sha, "offset": CHUNK, "complete": False}
    resp = _put(dev, live, sha, 0, len(data), first, hashlib.sha256(first).hexdigest())
    assert resp.status_code == 409 and resp.json()["offset"] == CHUNK
    wrong = os.urandom(CHUNK)  # the right size, the wrong bytes
    resp = _put(dev, live, sha, CHUNK, len(data), wrong, hashlib.sha256(wrong).hexdigest())
    assert resp.status_code == 422 and resp.json()["error"] == "hash_mismatch"
    assert stored(live, sha) is None
    assert dev.transport.photos_missing([sha]) == [{"sha256": sha, "offset": 0}]


def add_photo(session: Session, data: bytes, grid_id: int) -> str:
    """A photo's bytes and its ``photo.meta`` record in the outbox, as the pipeline makes."""
    from fieldclient.ids import new_id

    sha = add_blob(session, data)
    photo_id = new_id()
    with session.db.conn:
        session.enqueue("photo.meta", photo_id, {"id": photo_id, "grid_id": grid_id,
                                                 "sha256": sha, "bytes": len(data)})
    return sha


def test_same_photo_from_two_devices_is_stored_once(live: LiveServer, make_device: Any) -> None:
    grid = new_grid(live.engine)
    a = make_device(live, grid["workers"][0], "a")
    b = make_device(live, grid["workers"][1], "b")
    data = os.urandom(CHUNK + 5)
    sha = add_photo(a.session, data, grid["id"])
    add_photo(b.session, data, grid["id"])
    ra = SyncEngine(a.session, a.transport, chunk_size=CHUNK).run_once()
    rb = SyncEngine(b.session, b.transport, chunk_size=CHUNK).run_once()
    assert ra.ok and rb.ok, (ra.error, rb.error)
    assert ra.photos_uploaded == 1 and rb.photos_uploaded == 0
    assert rb.photos_already_on_server == 1 and rb.photo_bytes_sent == 0
    with live.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.photos).where(
            db.photos.c.sha256 == sha)).scalar() == 1
    assert stored(live, sha) == data


def test_another_grids_device_sends_the_bytes_again(live: LiveServer, make_device: Any) -> None:
    """The server does not tell a device of another grid that a photo exists: it sends
    the bytes (harmless: the photo is still kept once), and then holds it."""
    a_grid, c_grid = new_grid(live.engine), new_grid(live.engine)
    a = make_device(live, a_grid["workers"][0], "a")
    c = make_device(live, c_grid["workers"][0], "c")
    data = os.urandom(2 * CHUNK + 5)
    sha = add_photo(a.session, data, a_grid["id"])
    assert SyncEngine(a.session, a.transport, chunk_size=CHUNK).run_once().photos_uploaded == 1
    add_photo(c.session, data, c_grid["id"])
    rc = SyncEngine(c.session, c.transport, chunk_size=CHUNK).run_once()
    assert rc.ok and rc.photos_uploaded == 1 and rc.photo_bytes_sent == len(data)
    assert c.transport.photos_missing([sha]) == []
    with live.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.photos).where(
            db.photos.c.sha256 == sha)).scalar() == 1
    assert stored(live, sha) == data


def test_bad_photo_requests_are_4xx(live: LiveServer, make_device: Any) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    sha = "ab" * 32
    chunk = b"x" * 10
    good = hashlib.sha256(chunk).hexdigest()
    for offset, total, digest, name in [
        (0, 10, "", sha),          # no chunk checksum
        (0, 10, good, "XYZ"),      # not a hash
        (-1, 10, good, sha),       # negative offset
        (0, 5, good, sha),         # runs past the total
        (4, 10, good, sha),        # not where the upload is
    ]:
        resp = _put(dev, live, name, offset, total, chunk, digest)
        assert 400 <= resp.status_code < 500, (offset, total, resp.text)
    body = b'{"hashes": ["nothex"]}'
    headers = protocol.sign_headers(dev.transport.private_key, dev.transport.device_id,
                                    "POST", protocol.PHOTOS_MISSING_PATH, body)
    resp = requests.post(live.base + protocol.PHOTOS_MISSING_PATH, data=body, headers=headers,
                         timeout=10)
    assert resp.status_code == 422
    paths = requests.get(live.base + "/openapi.json", timeout=10).json()["paths"]
    for path in (protocol.SYNC_PUSH_PATH, protocol.SYNC_PULL_PATH, protocol.PHOTOS_MISSING_PATH,
                 protocol.PHOTO_CHUNK_PATH):
        assert path in paths
