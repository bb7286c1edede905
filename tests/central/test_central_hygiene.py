"""Server hygiene against a real ``central serve`` on loopback, on SQLite and PostgreSQL:
read timeouts, rate limits, enrollment retries, per-device photo uploads and quotas,
expiry of abandoned uploads, a full disk."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import json
import os
import selectors
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from central_helpers import SEED_ARGS, Device, central, seeded_database, start_server, stop_process
from sqlalchemy import Engine, func, insert, select, update

from central import atrest, db, ops
from central.photos import PhotoStore
from sync import protocol

READ_TIMEOUT = 1.0
CHUNK = 16 * 1024  # the test servers take bodies up to 64 KiB
QUOTA_BYTES = 256 * 1024
QUOTA_COUNT = 4
PARTIAL_MAX_AGE = 3.6  # seconds (--partial-max-age-hours 0.001)


@dataclass
class Tight:
    """A server started with short timeouts and small limits (defaults otherwise: the
    rate limits are those of a real deployment)."""

    proc: subprocess.Popen[bytes]
    base: str
    db_url: str
    demo: dict[str, Any]
    engine: Engine
    photo_dir: Path
    photo_disk: Path | None  # a small filesystem of its own under photo_dir, if root

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def grid(self, i: int) -> dict[str, Any]:
        return dict(self.demo["grids"][i])

    def device(self, person_id: int) -> Device:
        code = ops.create_enrollment_code(self.engine, person_id)["code"]
        dev = Device(self.base)
        resp = dev.enroll(code)
        assert resp.status_code == 200, resp.text
        return dev


@contextlib.contextmanager
def small_disk(path: Path, megabytes: int, owner: int | None = None) -> Iterator[Path | None]:
    """A tmpfs of ``megabytes`` mounted on ``path`` (a real filesystem that fills up);
    None where mounting is not allowed (not root)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={megabytes}m" + (f",uid={owner},mode=0700" if owner is not None else "")
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
            capture_output=True).returncode != 0:
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file; delete it to free the space."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        size = 1 << 20
        while size:
            try:
                fh.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                size //= 2
    return filler


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tight(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Tight]:
    workdir = tmp_path_factory.mktemp(f"central-tight-{request.param}")
    db_url, demo = seeded_database(request.param, workdir, request)
    photo_dir = workdir / "photos"
    with small_disk(photo_dir, 4) as disk:
        proc, base = start_server(
            db_url, workdir, "--read-timeout", str(READ_TIMEOUT), "--photo-dir", str(photo_dir),
            "--photo-quota-mb", str(QUOTA_BYTES / (1024 * 1024)),
            "--photo-quota-count", str(QUOTA_COUNT),
            "--partial-max-age-hours", str(PARTIAL_MAX_AGE / 3600))
        engine = db.make_engine(db_url)
        try:
            yield Tight(proc, base, db_url, demo, engine, photo_dir, disk)
        finally:
            engine.dispose()
            stop_process(proc)


@pytest.fixture(scope="module", params=["httptools", "h11"])
def reader(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Tight]:
    """A server with a short read timeout on each HTTP parser (``--http``): httptools
    (C, where it installs: the default) and h11 (pure Python, the fallback)."""
    if request.param == "httptools":
        try:
            import httptools  # noqa: F401
        except ImportError:
            msg = "httptools is not installed (make setup installs it from the lock)"
            if os.environ.get("CI"):
                pytest.fail(msg)
            pytest.skip(msg)
    workdir = tmp_path_factory.mktemp(f"central-reader-{request.param}")
    db_url, demo = seeded_database("sqlite", workdir, request)
    proc, base = start_server(db_url, workdir, "--read-timeout", str(READ_TIMEOUT),
                              "--http", request.param)
    engine = db.make_engine(db_url)
    try:
        yield Tight(proc, base, db_url, demo, engine, workdir / "photos", None)
    finally:
        engine.dispose()
        stop_process(proc)


def reader_http(server: Tight) -> str:
    """The ``--http`` a :func:`reader` server runs with (its work directory's name)."""
    return "h11" if "central-reader-h11" in str(server.photo_dir) else "httptools"


def put_chunk(dev: Device, sha: str, offset: int, total: int, chunk: bytes
              ) -> requests.Response:
    return dev.request("PUT", protocol.PHOTO_CHUNK_PATH.format(sha256=sha),
                       params={"offset": offset, "total": total}, body=chunk,
                       extra_headers={protocol.HEADER_CHUNK_SHA256:
                                      hashlib.sha256(chunk).hexdigest()})


def upload(dev: Device, data: bytes, total: int | None = None, start: int = 0,
           stop: int | None = None) -> requests.Response:
    """Send ``data[start:stop]`` chunk by chunk; the last answer (or the first error)."""
    sha = hashlib.sha256(data).hexdigest()
    end = len(data) if stop is None else stop
    resp = None
    for offset in range(start, end, CHUNK):
        piece = data[offset:min(end, offset + CHUNK)]
        resp = put_chunk(dev, sha, offset, total or len(data), piece)
        if resp.status_code != 200:
            return resp
    assert resp is not None
    return resp


def missing(dev: Device, hashes: list[str]) -> list[dict[str, Any]]:
    body = json.dumps({"hashes": hashes}).encode()
    resp = dev.request("POST", protocol.PHOTOS_MISSING_PATH, body=body,
                       extra_headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["missing"])


def push(dev: Device, ops_: list[dict[str, Any]]) -> requests.Response:
    body = json.dumps({"ops": ops_}, ensure_ascii=False).encode()
    return dev.request("POST", protocol.SYNC_PUSH_PATH, body=body,
                       extra_headers={"Content-Type": "application/json"})


def photo_meta(grid_id: int, sha: str) -> dict[str, Any]:
    photo_id = str(uuid.uuid4())
    return {"op_id": uuid.uuid4().hex, "kind": "photo.meta", "record_id": photo_id,
            "base_version": None, "payload": {"id": photo_id, "grid_id": grid_id,
                                              "sha256": sha}}


def photo_count(engine: Engine, sha: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(db.photos)
                                .where(db.photos.c.sha256 == sha)).scalar() or 0)


def stored(tight: Tight, sha: str) -> bytes | None:
    """A photo the centre keeps (sealed at rest), opened with the centre's keys."""
    return PhotoStore(tight.photo_dir, keys=db.keyring(tight.engine)).read(sha)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- 1. read timeouts ------------------------------------------------------------------

HALF_REQUESTS = [
    b"",  # connects, never sends a byte
    b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n",  # headers never finished
    b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 200\r\n\r\n{\"code\": ",  # body announced, never finished
    b"PUT /api/v1/photos/" + b"a" * 64 + b"?offset=0&total=9 HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n",  # chunked body, never ended
]


def test_half_sent_requests_are_closed_after_the_read_timeout(reader: Tight) -> None:
    """400 connections with half-sent requests (some dripping a byte now and then, which
    buys no time): all are closed by the server within the timeout, the server keeps
    no socket of theirs, and it answers a normal request promptly all along."""
    tight = reader
    fds_before = open_fds(tight.proc.pid)
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    start = time.monotonic()
    for i in range(400):
        s = socket.create_connection(("127.0.0.1", tight.port), timeout=5)
        s.sendall(HALF_REQUESTS[i % len(HALF_REQUESTS)])
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
    opened = time.monotonic()
    assert opened - start < READ_TIMEOUT, "opening the sockets took longer than the timeout"
    t = time.monotonic()
    assert requests.get(tight.base + "/api/v1/health", timeout=5).status_code == 200
    assert time.monotonic() - t < 0.5
    received: dict[int, bytes] = {i: b"" for i in range(len(socks))}
    closed_at: dict[int, float] = {}
    next_drip = time.monotonic() + 0.2
    deadline = start + READ_TIMEOUT + 8
    while len(closed_at) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            i = key.data
            try:
                data = socks[i].recv(4096)
            except ConnectionResetError:
                data = b""
            received[i] += data
            if not data:
                closed_at[i] = time.monotonic()
                sel.unregister(socks[i])
        if time.monotonic() >= next_drip:  # some drip one more byte now and then
            next_drip += 0.2
            for i in range(1, len(socks), 2):
                if i not in closed_at:
                    try:
                        socks[i].send(b"X")
                    except OSError:
                        pass
    for s in socks:
        s.close()
    still = sorted({i % len(HALF_REQUESTS) for i in range(len(socks)) if i not in closed_at})
    assert len(closed_at) == len(socks), f"{len(socks) - len(closed_at)} still open: {still}"
    latest = max(closed_at.values()) - opened
    assert latest < READ_TIMEOUT + 3, latest
    for i, data in received.items():
        if i % len(HALF_REQUESTS):  # a request had begun: a 408 JSON answer, then closed
            if i % 2 and data.startswith(b"HTTP/1.1 400 "):
                # httptools parses each byte as it comes: a dripped "X" where a chunk
                # size or a header line goes is malformed, answered 400 and closed at once
                # (h11 waits for the whole line, then the deadline cuts it)
                assert reader_http(tight) == "httptools", data[:80]
                continue
            assert data.startswith(b"HTTP/1.1 408 "), data[:80]
            body = json.loads(data.split(b"\r\n\r\n", 1)[1])
            assert body["error"] == "request_timeout" and body["message"]
    time.sleep(0.2)
    assert open_fds(tight.proc.pid) <= fds_before + 5
    t = time.monotonic()
    assert requests.get(tight.base + "/api/v1/health", timeout=5).status_code == 200
    assert time.monotonic() - t < 0.5


def test_a_slow_but_steady_body_is_not_cut(reader: Tight) -> None:
    """The body's deadline grows with what it has sent: 24 KiB sent at ~9.6 KiB/s over
    2.5 s (more than the 1 s timeout, faster than 8 KiB/s) gets its answer."""
    tight = reader
    body = json.dumps({"code": "A" * 24_000, "public_key": "x" * 44,
                       "device_name": "t"}).encode()
    head = (f"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", tight.port), timeout=10) as s:
        s.sendall(head)
        for i in range(0, len(body), 2400):
            time.sleep(0.25)
            s.sendall(body[i:i + 2400])
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 422 "), answer[:80]  # the code is too long: validated


# -- 2. rate limits on by default, enrollment included ---------------------------------

def enroll_from(tight: Tight, source: str, code: str, key: str | None = None
                ) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POST /enroll from the loopback address ``source`` (127.0.0.x): another client."""
    body = {"code": code, "public_key": key or protocol.public_key_b64(Device("").key),
            "device_name": "平板"}
    conn = http.client.HTTPConnection("127.0.0.1", tight.port, timeout=10,
                                      source_address=(source, 0))
    try:
        conn.request("POST", "/api/v1/enroll", body=json.dumps(body),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = json.loads(resp.read())
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def test_device_rate_limit_is_on_by_default(tight: Tight) -> None:
    """Without any flag a device may burst 200 signed requests, then about 10 a second:
    past that 429 with Retry-After."""
    grid = tight.grid(0)
    dev = tight.device(grid["workers"][0])
    answers = []
    for _ in range(1000):
        resp = dev.get("/api/v1/households", params={"grid": grid["id"]})
        answers.append(resp.status_code)
        if resp.status_code == 429:
            break
    assert answers[-1] == 429, "never rate limited"
    assert answers.count(200) >= 200
    assert int(resp.headers["Retry-After"]) >= 1 and resp.json()["error"] == "rate_limited"


def test_enrollment_attempts_are_limited_per_address(tight: Tight) -> None:
    """Five wrong codes from one address, then 429 (even for a right code) for about a
    minute's share; another address is not affected."""
    answers = [enroll_from(tight, "127.0.0.2", f"ABCD-EFGH-{i:04d}")[0] for i in range(5)]
    assert answers == [401] * 5
    status, headers, body = enroll_from(tight, "127.0.0.2", "ABCD-EFGH-9999")
    assert status == 429 and body["error"] == "rate_limited" and body["message"]
    assert 1 <= int(headers["retry-after"]) <= 12
    code = ops.create_enrollment_code(tight.engine, tight.grid(0)["workers"][1])["code"]
    assert enroll_from(tight, "127.0.0.2", code)[0] == 429
    assert enroll_from(tight, "127.0.0.5", code)[0] == 200


def test_parallel_guesses_do_not_slip_through(tight: Tight) -> None:
    """20 guesses at once from one address: the attempt is counted before the code is
    looked at, so exactly the burst (5) is tried and the rest refused."""
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def guess(i: int) -> None:
        barrier.wait()
        status = enroll_from(tight, "127.0.0.3", f"WXYZ-WXYZ-{i:04d}")[0]
        with lock:
            results.append(status)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [401] * 5 + [429] * 15


def test_successful_enrollments_do_not_count(tight: Tight) -> None:
    """A box of tablets enrolled from one office address is not slowed down."""
    for i in range(8):
        person = tight.grid(i % 3)["workers"][i % 2]
        code = ops.create_enrollment_code(tight.engine, person)["code"]
        status, _headers, body = enroll_from(tight, "127.0.0.4", code)
        assert status == 200, body
    assert [enroll_from(tight, "127.0.0.4", "QQQQ-QQQQ-QQQQ")[0] for _ in range(6)] == \
        [401] * 5 + [429]


# -- 7. a lost enrollment answer can be retried ----------------------------------------

def test_lost_enrollment_answer_can_be_retried(tight: Tight) -> None:
    """The same code with the same key again answers the same device and person (the
    first answer was lost); another key, a revoked device or an expired code do not."""
    worker = tight.grid(1)["workers"][0]
    code = ops.create_enrollment_code(tight.engine, worker)["code"]
    dev = Device(tight.base)
    first = dev.enroll(code)
    assert first.status_code == 200, first.text
    again = dev.enroll(code.lower().replace("-", ""))  # as the device might retype it
    assert again.status_code == 200, again.text
    assert again.json()["device_id"] == first.json()["device_id"]
    assert again.json()["person"] == first.json()["person"] and again.json()["grids"] == [
        tight.grid(1)["id"]]
    assert dev.get("/api/v1/households", params={"grid": tight.grid(1)["id"]}).ok
    with tight.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.devices).where(
            db.devices.c.person_id == worker, db.devices.c.public_key ==
            protocol.public_key_b64(dev.key))).scalar() == 1
    other = Device(tight.base).enroll(code)
    assert other.status_code == 401 and other.json()["error"] == "enroll_code_used"
    ops.revoke_device(tight.engine, dev.device_id)
    revoked = dev.enroll(code)
    assert revoked.status_code == 401 and revoked.json()["error"] == "enroll_code_used"

    code2 = ops.create_enrollment_code(tight.engine, worker)["code"]
    dev2 = Device(tight.base)
    assert dev2.enroll(code2).status_code == 200
    with tight.engine.begin() as conn:  # as if 24 hours had passed
        conn.execute(update(db.enrollment_codes)
                     .where(db.enrollment_codes.c.code_hash == ops.hash_code(code2))
                     .values(expires_at=db.iso(db.now_utc() - timedelta(seconds=1))))
    late = dev2.enroll(code2)
    assert late.status_code == 401 and late.json()["error"] == "enroll_code_expired"


# -- 6. a wrong size from one device does not lock out another -------------------------

def test_wrong_total_from_one_device_does_not_block_another(tight: Tight) -> None:
    grid = tight.grid(0)
    a, b = tight.device(grid["workers"][0]), tight.device(grid["workers"][1])
    data = os.urandom(2 * CHUNK + 5)
    sha = hashlib.sha256(data).hexdigest()
    resp = put_chunk(a, sha, 0, len(data) + 1000, data[:CHUNK])  # A announces a wrong size
    assert resp.status_code == 200 and resp.json()["offset"] == CHUNK
    assert missing(b, [sha]) == [{"sha256": sha, "offset": 0}]  # B's own upload, not A's
    resp = upload(b, data)
    assert resp.status_code == 200 and resp.json()["complete"] is True, resp.text
    assert stored(tight, sha) == data and photo_count(tight.engine, sha) == 1
    # A's own upload goes on by itself: the right size restarts it (and only it)
    resp = put_chunk(a, sha, CHUNK, len(data), data[CHUNK:2 * CHUNK])
    assert resp.status_code == 409 and resp.json() == {
        "error": "offset_mismatch", "message": "upload continues at byte 0", "offset": 0}
    resp = upload(a, data)
    assert resp.status_code == 200 and resp.json()["complete"] is True, resp.text
    assert stored(tight, sha) == data and photo_count(tight.engine, sha) == 1
    assert missing(a, [sha]) == [] and missing(b, [sha]) == []


# -- 8. /photos/missing answers only for the device's grids ----------------------------

def test_photos_missing_tells_nothing_about_other_grids(tight: Tight) -> None:
    mine, theirs = tight.grid(0), tight.grid(1)
    a = tight.device(mine["workers"][0])      # took the photos
    b = tight.device(mine["workers"][1])      # a colleague in the same grid
    c = tight.device(theirs["workers"][0])    # another grid
    photo, other = os.urandom(CHUNK + 7), os.urandom(100)
    sha, sha2 = hashlib.sha256(photo).hexdigest(), hashlib.sha256(other).hexdigest()
    assert upload(a, photo).json()["complete"] and upload(a, other).json()["complete"]
    results = push(a, [photo_meta(mine["id"], sha), photo_meta(mine["id"], sha2)])
    assert [r["status"] for r in results.json()["results"]] == ["applied", "applied"]

    assert missing(a, [sha, sha2]) == []  # it sent them
    assert missing(b, [sha, sha2]) == []  # records of its grid name them
    # the other grid's device learns nothing: both are "missing", from byte 0 ...
    assert missing(c, [sha, sha2]) == [{"sha256": sha, "offset": 0},
                                       {"sha256": sha2, "offset": 0}]
    # ... naming a hash in a record of its own grid does not help ...
    results = push(c, [photo_meta(theirs["id"], sha2)])
    assert results.json()["results"][0]["status"] == "applied"
    assert missing(c, [sha2]) == [{"sha256": sha2, "offset": 0}]
    # ... nor does a first chunk: the upload goes on as for a new photo
    resp = put_chunk(c, sha, 0, len(photo), photo[:CHUNK])
    assert resp.status_code == 200 and resp.json() == {
        "sha256": sha, "offset": CHUNK, "complete": False}
    # sending the same bytes is harmless: kept once, unchanged, and now c holds it
    assert upload(c, photo, start=CHUNK).json()["complete"] is True
    assert missing(c, [sha]) == []
    assert photo_count(tight.engine, sha) == 1 and stored(tight, sha) == photo
    # wrong bytes for a stored hash are refused as for any upload
    wrong = os.urandom(100)
    resp = put_chunk(c, sha2, 0, 100, wrong)
    assert resp.status_code == 422 and resp.json()["error"] == "hash_mismatch"
    assert stored(tight, sha2) == other


# -- 3. per-device photo quota ---------------------------------------------------------

def test_photo_quota_per_device(tight: Tight) -> None:
    """At most 4 photos and 256 KiB per device per 24 hours in this server, uploads in
    progress included; 413 photo_quota past it; other devices are not affected, and an
    upload already begun may finish."""
    grid = tight.grid(2)
    d = tight.device(grid["workers"][0])
    photos = [os.urandom(1000 + i) for i in range(QUOTA_COUNT + 1)]
    for data in photos[:QUOTA_COUNT]:
        assert upload(d, data).json()["complete"] is True
    resp = upload(d, photos[-1])
    assert resp.status_code == 413, resp.text
    body = resp.json()
    assert body["error"] == "photo_quota" and "24 hours" in body["message"]
    assert body["used_count"] == QUOTA_COUNT and body["quota_count"] == QUOTA_COUNT

    e = tight.device(grid["workers"][1])
    big, more = os.urandom(200_000), os.urandom(70_000)
    assert upload(e, big, stop=CHUNK).json()["offset"] == CHUNK  # 200,000 bytes reserved
    resp = upload(e, more)  # 270,000 > 256 KiB although nothing is stored yet
    assert resp.status_code == 413 and resp.json()["error"] == "photo_quota"
    assert resp.json()["used_bytes"] == 200_000
    resp = upload(e, big, start=CHUNK)  # the upload begun goes on
    assert resp.status_code == 200 and resp.json()["complete"] is True
    assert stored(tight, hashlib.sha256(big).hexdigest()) == big
    f = tight.device(tight.grid(2)["leader"])
    assert upload(f, more).json()["complete"] is True  # another device: its own quota
    assert stored(tight, hashlib.sha256(photos[-1]).hexdigest()) is None


# -- 4. abandoned partial uploads expire -----------------------------------------------

def partial_files(tight: Tight, sha: str) -> list[Path]:
    return sorted((tight.photo_dir / "partial").glob(f"{sha}-*.part"))


def test_abandoned_partial_upload_expires(tight: Tight) -> None:
    grid = tight.grid(1)
    dev = tight.device(grid["workers"][1])
    data = os.urandom(2 * CHUNK)
    sha = hashlib.sha256(data).hexdigest()
    assert upload(dev, data, stop=CHUNK).json()["offset"] == CHUNK
    assert len(partial_files(tight, sha)) == 1
    assert missing(dev, [sha]) == [{"sha256": sha, "offset": CHUNK}]
    time.sleep(PARTIAL_MAX_AGE + 1.5)  # older than the age limit, past the sweep interval
    assert missing(dev, [sha]) == [{"sha256": sha, "offset": 0}]  # the access swept it
    assert partial_files(tight, sha) == []
    with tight.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.photo_uploads).where(
            db.photo_uploads.c.sha256 == sha)).scalar() == 0
    resp = put_chunk(dev, sha, CHUNK, len(data), data[CHUNK:])
    assert resp.status_code == 409 and resp.json()["offset"] == 0
    assert upload(dev, data).json()["complete"] is True and stored(tight, sha) == data


def test_stale_partials_are_removed_at_start(fresh_db: str, tmp_path: Path) -> None:
    """Before serving, uploads untouched for longer than the age limit (48 hours by
    default) are deleted with their files, and so are old files no upload owns."""
    photo_dir = tmp_path / "photos"
    engine = db.make_engine(fresh_db)
    store = PhotoStore(photo_dir, keys=db.keyring(engine))
    old, fresh, orphan = "a" * 64, "b" * 64, "c" * 64
    (photo_dir / "partial").mkdir(parents=True)
    long_ago = db.now_utc() - timedelta(hours=49)
    with engine.begin() as conn:
        for sha, when in ((old, long_ago), (fresh, db.now_utc())):
            conn.execute(insert(db.photo_uploads).values(
                sha256=sha, device_id="dev-1", size=10, offset=5, updated_at=db.iso(when)))
            assert store._write(store.partial_path(sha, "dev-1"), sha, 0, b"12345")
    os.utime(store.partial_path(old, "dev-1"), (long_ago.timestamp(),) * 2)
    stray = photo_dir / "partial" / f"{orphan}.part"  # e.g. left by an older version
    stray.write_bytes(b"x")
    os.utime(stray, (long_ago.timestamp(),) * 2)
    proc, _base = start_server(fresh_db, tmp_path, "--photo-dir", str(photo_dir))
    try:
        assert not store.partial_path(old, "dev-1").exists() and not stray.exists()
        with open(store.partial_path(fresh, "dev-1"), "rb") as fh:
            assert b"".join(atrest.read_plain(store.keys, fh, fresh)) == b"12345"
        with engine.connect() as conn:
            left = {r[0] for r in conn.execute(select(db.photo_uploads.c.sha256))}
        assert left == {fresh}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        engine.dispose()


# -- 5. a full disk --------------------------------------------------------------------

def test_storage_full_errors_are_recognised() -> None:
    assert db.is_storage_full(OSError(errno.ENOSPC, "No space left on device"))
    assert db.is_storage_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not db.is_storage_full(OSError(errno.EACCES, "Permission denied"))
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.execute("PRAGMA max_page_count = 2")  # a database that cannot grow: SQLITE_FULL
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute("INSERT INTO t VALUES (zeroblob(100000))")
    assert db.is_storage_full(info.value)
    conn.close()


def test_full_disk_on_a_chunk_is_507_and_the_upload_resumes(tight: Tight) -> None:
    """The photo directory on its own small filesystem, filled to the last byte: the
    chunk is refused with 507, nothing half-written is kept, and once space is free the
    upload goes on from where it was."""
    if tight.photo_disk is None:
        pytest.skip("mounting a small filesystem needs root")
    dev = tight.device(tight.grid(2)["leader"])
    data = os.urandom(3 * CHUNK)
    sha = hashlib.sha256(data).hexdigest()
    assert upload(dev, data, stop=CHUNK).json()["offset"] == CHUNK
    filler = fill(tight.photo_disk)
    try:
        resp = put_chunk(dev, sha, CHUNK, len(data), data[CHUNK:2 * CHUNK])
        assert resp.status_code == 507, resp.text
        body = resp.json()
        assert body["error"] == "insufficient_storage" and "disk is full" in body["message"]
        [part] = partial_files(tight, sha)
        with open(part, "rb") as fh:  # one sealed frame: the first chunk, nothing more
            assert [length for _, length, _ in atrest.frames(fh)] == [CHUNK]
        assert missing(dev, [sha]) == [{"sha256": sha, "offset": CHUNK}]
    finally:
        filler.unlink()
    resp = upload(dev, data, start=CHUNK)
    assert resp.status_code == 200 and resp.json()["complete"] is True, resp.text
    assert stored(tight, sha) == data


@contextlib.contextmanager
def database_on_small_disk(backend: str, request: pytest.FixtureRequest, workdir: Path
                           ) -> Iterator[str]:
    """An initialised, seeded database whose files live on a 48 MiB tmpfs: SQLite's
    file, or a PostgreSQL database in a tablespace there. Skips where mounting is not
    allowed."""
    import pwd

    if backend == "sqlite":
        with small_disk(workdir / "disk", 48) as disk:
            if disk is None:
                pytest.skip("mounting a small filesystem needs root")
            url = f"sqlite:///{disk / 'central.db'}"
            central(url, "init")
            central(url, *SEED_ARGS)
            yield url
        return
    import psycopg

    pg = request.getfixturevalue("pg_server")
    owner = pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else None
    mount_point = Path(tempfile.mkdtemp(prefix="gridfield-ts-"))  # the server's user reaches
    mount_point.chmod(0o755)
    (workdir / "disk").symlink_to(mount_point)
    with small_disk(mount_point, 48, owner=owner) as disk:
        if disk is None:
            pytest.skip("mounting a small filesystem needs root")
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(pg.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLESPACE {name} LOCATION '{disk}'")
            conn.execute(f'CREATE DATABASE "{name}" TABLESPACE {name}')
        url = f"postgresql://postgres@127.0.0.1:{pg.port}/{name}"
        try:
            central(url, "init")
            central(url, *SEED_ARGS)
            yield url
        finally:
            with psycopg.connect(pg.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f"DROP TABLESPACE IF EXISTS {name}")
    shutil.rmtree(mount_point, ignore_errors=True)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_full_disk_under_the_database_is_507_and_nothing_is_lost(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The database's disk fills up: a push is answered 507 insufficient_storage as a
    whole (no op stored, none rejected for good); once space is free the same batch is
    applied."""
    import random

    rng = random.Random(5)
    with database_on_small_disk(backend, request, tmp_path) as url:
        engine = db.make_engine(url)
        proc, base = start_server(url, tmp_path, "--max-body", "4000000",
                                  "--photo-dir", str(tmp_path / "photos"))
        try:
            with engine.connect() as conn:
                grid = conn.execute(select(db.households.c.grid_id)).first()[0]
                person = conn.execute(select(db.grid_assignments.c.person_id).join(
                    db.people, db.people.c.id == db.grid_assignments.c.person_id).where(
                    db.grid_assignments.c.grid_id == grid, db.people.c.role == "worker")
                ).first()[0]
                households = [r[0] for r in conn.execute(select(db.households.c.id).where(
                    db.households.c.grid_id == grid))]
            code = ops.create_enrollment_code(engine, person)["code"]
            dev = Device(base)
            assert dev.enroll(code).status_code == 200
            batch = []
            for _ in range(150):  # ~1.8 MB of text that does not compress
                rid = uuid.uuid4().hex
                text = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(4000))
                batch.append({"op_id": uuid.uuid4().hex, "kind": "visit.create",
                              "record_id": rid, "base_version": None,
                              "payload": {"grid_id": grid, "household_id": rng.choice(households),
                                          "visited_at": 1.7e9, "situation": text}})
            disk = tmp_path / "disk"
            filler = fill(disk)
            os.truncate(filler, filler.stat().st_size - 256 * 1024)  # room for small writes
            try:
                resp = push(dev, batch)
                assert resp.status_code == 507, resp.text[:300]
                body = resp.json()
                assert body["error"] == "insufficient_storage" and body["message"]
            finally:
                filler.unlink()
            with engine.connect() as conn:
                kept = conn.execute(select(func.count()).select_from(db.sync_ops).where(
                    db.sync_ops.c.op_id.in_([o["op_id"] for o in batch]))).scalar()
            with engine.connect() as conn:
                recs = conn.execute(select(func.count()).select_from(db.records).where(
                    db.records.c.id.in_([o["record_id"] for o in batch]))).scalar()
            assert kept == 0 and recs == 0
            resp = push(dev, batch)
            assert resp.status_code == 200, resp.text[:300]
            assert {r["status"] for r in resp.json()["results"]} == {"applied"}
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            engine.dispose()
