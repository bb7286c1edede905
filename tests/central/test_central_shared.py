"""State shared by the processes of ``central serve --workers 2`` on PostgreSQL
(central/shared/): a device gets its rate limit's burst once in total, not once per
process, and so does an address's enrollment attempts; a grid's first-pull snapshot is
built once for both processes."""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from central_helpers import Device, PgServer, central, start_server, stop_process
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, select, text, update
from test_central_workers import _established_to, _socket_inodes, _workers_listening

from central import db, ops, syncops
from central.app import AuthDevice
from central.shared.ratelimit import RateLimiter, SharedRateLimiter, limiter
from central.shared.snapshots import view_key
from sync import protocol

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc to see which process holds a connection")

BURST = 30


@dataclass
class Pair:
    base: str
    port: int
    workers: list[int]
    engine: Engine
    demo: dict[str, Any]


@pytest.fixture(scope="module")
def pair(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Two server processes on one PostgreSQL database; a device's rate is so slow
    (one request in 1,000 s) that only the burst counts."""
    workdir = tmp_path_factory.mktemp("shared-limits")
    db_url = pg_server.new_database()
    central(db_url, "init")
    demo = json.loads(central(db_url, "seed-demo", "--grids", "1", "--households-per-grid",
                              "2", "--seed", "3", "--json").stdout)
    proc, base = start_server(db_url, workdir, "--workers", "2", "--rate-limit", "0.001",
                              "--rate-burst", str(BURST))
    port = int(base.rsplit(":", 1)[1])
    engine = db.make_engine(db_url)
    try:
        yield Pair(base, port, _workers_listening(proc.pid, 2, port), engine, demo)
    finally:
        engine.dispose()
        stop_process(proc)


def _sessions_on_both(pair: Pair, count: int = 16) -> list[requests.Session]:
    """Kept-alive connections, some held by each process (checked through /proc)."""
    sessions = [requests.Session() for _ in range(count)]
    for session in sessions:
        assert session.get(pair.base + "/api/v1/health", timeout=10).status_code == 200
    established = _established_to(pair.port)
    held = {pid: len(_socket_inodes(pid) & established) for pid in pair.workers}
    assert min(held.values()) >= 2, held
    return sessions


def test_a_device_gets_its_burst_once_across_two_processes(pair: Pair) -> None:
    code = ops.create_enrollment_code(pair.engine, pair.demo["grids"][0]["workers"][0])["code"]
    dev = Device(pair.base)
    assert dev.enroll(code).status_code == 200
    sessions = _sessions_on_both(pair)
    answers: list[int] = []
    try:
        for i in range(3 * BURST):  # round robin over connections held by both processes
            dev.session = sessions[i % len(sessions)]
            resp = dev.get(protocol.SYNC_PULL_PATH, params={"after": 2**40})
            answers.append(resp.status_code)
            if resp.status_code == 429:
                assert resp.json()["error"] == "rate_limited"
                assert int(resp.headers["Retry-After"]) >= 1
    finally:
        for session in sessions:
            session.close()
    # per-process buckets would have let about twice the burst through
    assert answers.count(200) == BURST, answers
    assert answers[BURST:] == [429] * (2 * BURST)
    with pair.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.rate_buckets).where(
            db.rate_buckets.c.key == "device:" + dev.device_id)).scalar_one() == 1


def _enroll(port: int, source: str, code: str) -> int:
    body = {"code": code, "public_key": protocol.public_key_b64(Ed25519PrivateKey.generate()),
            "device_name": "平板"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", "/api/v1/enroll", body=json.dumps(body),
                     headers={"Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_parallel_enrollment_guesses_over_two_processes_get_the_burst_once(
        pair: Pair) -> None:
    """20 guesses at once from one address, each on a new connection (so spread over
    both processes): exactly the enrollment burst (5) is tried."""
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def guess(i: int) -> None:
        barrier.wait()
        status = _enroll(pair.port, "127.0.0.7", f"WXYZ-WXYZ-{i:04d}")
        with lock:
            results.append(status)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [401] * 5 + [429] * 15
    assert _enroll(pair.port, "127.0.0.8", "WXYZ-WXYZ-0000") == 401  # another address


def test_shared_buckets_refill_charge_and_refund(pair: Pair) -> None:
    """The bucket arithmetic in the database, as in memory: a burst, refill at the rate,
    a charge below zero, a refund, a look that takes nothing, and pruning full ones."""
    fast = SharedRateLimiter(pair.engine, "t1", rate=5.0, burst=3.0)
    assert [fast.wait_needed("k") for _ in range(3)] == [0.0] * 3
    wait = fast.wait_needed("k")
    assert 0 < wait <= 1 / 5 + 0.001
    fast.refund("k")
    assert fast.wait_needed("k") == 0.0
    slow = SharedRateLimiter(pair.engine, "t2", rate=0.01, burst=2.0)
    assert slow.wait_needed("k", take=False) == 0.0  # nothing stored by a look
    assert slow.wait_needed("k") == 0.0
    slow.charge("k", 5)  # a bundle of six parts: the bucket goes below zero
    assert 499 <= slow.wait_needed("k") <= 500  # (1 - (2 - 1 - 5)) / 0.01
    assert 499 <= slow.wait_needed("k", take=False) <= 500
    slow.refund("k")
    assert 399 <= slow.wait_needed("k", take=False) <= 400
    # another limit's key of the same name is its own bucket
    assert SharedRateLimiter(pair.engine, "t3", rate=0.01, burst=1.0).wait_needed("k") == 0.0
    time.sleep(1.0)  # "t1:k" fills up again (5/s): pruned; the others stay
    fast.prune()
    with pair.engine.connect() as conn:
        keys = set(conn.execute(select(db.rate_buckets.c.key).where(
            db.rate_buckets.c.key.like("t%"))).scalars())
    assert keys == {"t2:k", "t3:k"}


def test_sqlite_keeps_the_buckets_in_memory(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        made = limiter(engine, "device", 1.0, 2.0)
        assert type(made) is RateLimiter and not made.blocking
    finally:
        engine.dispose()


def _snapshot_stored(engine: Engine, key: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(db.pull_snapshots.c.key)
                            .where(db.pull_snapshots.c.key == key)).first() is not None


def test_first_pulls_at_two_processes_build_one_snapshot(pair: Pair) -> None:
    """Eight devices of one grid start their first pull at once over connections held by
    both processes, the stored snapshot damaged: one build (the advisory lock; the others
    wait and take it), every device the feed's state."""
    grid = pair.demo["grids"][0]
    devices = []
    for i in range(8):
        code = ops.create_enrollment_code(pair.engine, grid["workers"][i % 2])["code"]
        dev = Device(pair.base)
        assert dev.enroll(code).status_code == 200
        devices.append(dev)
    key = view_key("worker", (grid["id"],))
    deadline = time.monotonic() + 20  # built when they enrolled (Snapshots.prewarm)
    while time.monotonic() < deadline and not _snapshot_stored(pair.engine, key):
        time.sleep(0.05)
    with pair.engine.begin() as conn:  # a damaged one: every process would build again
        assert conn.execute(update(db.pull_snapshots).where(db.pull_snapshots.c.key == key)
                            .values(cursor=1, built_at=0.0, builds=0, body="damaged")
                            ).rowcount == 1
    sessions = _sessions_on_both(pair, 8)
    results: dict[str, dict[tuple[str, str], Any]] = {}
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(devices))

    def first_pull(dev: Device, session: requests.Session) -> None:
        dev.session = session
        state: dict[tuple[str, str], Any] = {}
        after = 0
        try:
            barrier.wait()
            while True:
                resp = dev.get(protocol.SYNC_PULL_PATH, params={"after": after, "limit": 2})
                assert resp.status_code == 200, resp.text
                page = resp.json()
                for change in page["changes"]:
                    state[(change["kind"], str(change["id"]))] = change["data"]
                after = page["next_after"]
                if not (page["has_more"] and page["changes"]):
                    break
            results[dev.device_id] = state
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=first_pull, args=(d, s))
               for d, s in zip(devices, sessions, strict=True)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for session in sessions:
            session.close()
    assert not failures, failures
    with pair.engine.connect() as conn:
        builds = conn.execute(select(db.pull_snapshots.c.builds)
                              .where(db.pull_snapshots.c.key == key)).scalar_one()
    assert builds == 1
    person = {d.device_id: grid["workers"][i % 2] for i, d in enumerate(devices)}
    for dev in devices:
        me = AuthDevice(dev.device_id, person[dev.device_id], "worker", (grid["id"],))
        expected: dict[tuple[str, str], Any] = {}
        after = 0
        while True:
            page = syncops.pull(pair.engine, me, after, 2)
            for change in page["changes"]:
                expected[(change["kind"], str(change["id"]))] = json.loads(
                    json.dumps(change["data"]))
            after = int(page["next_after"])
            if not (page["has_more"] and page["changes"]):
                break
        assert results[dev.device_id] == expected
        assert sum(1 for kind, _ in expected if kind == "household") == 2


def test_migration_18_adds_the_shared_tables_unlogged(pg_server: PgServer) -> None:
    """From a centre without migration 18: the two tables come, UNLOGGED, the snapshot body
    stored as it is (already compressed); run again, nothing changes."""
    engine = db.make_engine(pg_server.new_database())
    try:
        db.migrate(engine)
        with engine.begin() as conn:  # back to version 17, as a centre before this
            conn.execute(db.schema_version.delete().where(db.schema_version.c.version == 18))
            for name in db.SHARED_TABLES:
                conn.execute(text(f"DROP TABLE {name}"))
        _before, after = db.migrate(engine)  # (later migrations stay applied)
        assert after == db.LATEST_VERSION
        with engine.connect() as conn:
            assert 18 in db.applied_versions(conn) and not db.pending_versions(conn)
        with engine.connect() as conn:
            kinds = dict(conn.execute(text(
                "SELECT relname, relpersistence FROM pg_class WHERE relname IN"
                " ('pull_snapshots', 'rate_buckets')")).all())
            storage = conn.execute(text(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = 'pull_snapshots'::regclass"
                " AND attname = 'body'")).scalar_one()
        assert kinds == {"pull_snapshots": "u", "rate_buckets": "u"}
        assert storage == "e"
        assert db.migrate(engine) == (db.LATEST_VERSION, db.LATEST_VERSION)
    finally:
        engine.dispose()


def test_a_view_of_many_grids_has_a_key_that_fits() -> None:
    few = view_key("supervisor", (3, 1, 2))
    assert few == "supervisor:1,2,3"
    many = view_key("supervisor", tuple(range(1, 5001)))
    assert len(many) <= 100 and many.startswith("supervisor:sha256-")
    assert many != view_key("supervisor", tuple(range(1, 5000)))
    assert many == view_key("supervisor", tuple(reversed(range(1, 5001))))
