"""Centre migration 13 (issue 13, review access) on a centre that already holds data:
a database at version 12 (sealed columns, its key file) with enrolled devices and
patrols pushed as the version-12 push path stored them, migrated to the latest on SQLite
and PostgreSQL. Every device gets a place in the change feed above every earlier
number, every stored patrol is gathered with its results and simplified track, a
leader's device pulls them afterwards, and a second migrate changes nothing. The
backfill goes in batches, each its own transaction: interrupted midway, it resumes
(``central init`` or ``central serve`` start-up) and ends as an uninterrupted one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from central_helpers import start_server, stop_process
from sqlalchemy import Engine, MetaData, Table, func, insert, inspect, select, text

from central import db, syncops
from central.app import AuthDevice
from sync import protocol
from sync.protocol import schemas
from sync.protocol.tracks import simplify_parts

NS = uuid.UUID("5f0e7c52-3a1b-4c8e-9d2f-130000000013")
T0 = 1_780_000_000.0  # when the first patrol started (Unix time)


def uid(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(map(str, parts))))


def key_of(result: Any) -> int:
    return int(result.inserted_primary_key[0])


# Columns later migrations added to tables made before them (a table is created with
# today's definition, so a database built with MIGRATIONS[:12] has them: dropped, as a
# centre at version 12 never had them)
LATER_COLUMNS = {"devices": ("feed_seq", "contact_sent"),  # migration 13
                 "records": ("happened_at", "household_id", "counted"),  # 14
                 "households": ("lat", "lon")}  # 14
LATER_INDEXES = ("ix_records_happened", "ix_records_visit_household")  # 14
# ``records`` as version 12's push wrote it (its sealed payload, its photo default)
DEVICES_V12 = Table("devices", MetaData(), *(
    c._copy() for c in db.devices.columns if c.name not in LATER_COLUMNS["devices"]))
RECORDS_V12 = Table("records", MetaData(), *(
    c._copy() for c in db.records.columns if c.name not in LATER_COLUMNS["records"]))


def version_12(url: str, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """A database at version 12 (data at rest: sealed columns, the key file made)."""
    engine = db.make_engine(url, key_file=key_file)
    with monkeypatch.context() as m:
        m.setattr(db, "MIGRATIONS", [s for s in db.MIGRATIONS if s[0] <= 12])
        assert db.migrate(engine) == (0, 12)
    with engine.begin() as conn:
        for index in LATER_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
        for table, columns in LATER_COLUMNS.items():
            for column in columns:
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    assert key_file.exists()
    return engine


@dataclass
class Centre:
    """What was stored at version 12, and what migration 13 must make of it."""

    grids: list[int] = field(default_factory=list)
    leaders: dict[int, AuthDevice] = field(default_factory=dict)  # grid -> leader's device
    workers: dict[int, list[AuthDevice]] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)  # device id -> its person's grid
    supervisor_person: int = 0
    patrols: dict[str, dict[str, Any]] = field(default_factory=dict)  # finished or not
    stray_segment: str = ""
    last_seq: int = 0  # the highest feed number handed out at version 12


# -- version 12 as it was: enrollment and push -----------------------------------------

def enroll_v12(conn: Any, person: int, name: str, key: int,
               status: str = "active") -> str:
    """A devices row as version 12's enrollment wrote it (no feed place, no contact
    sent: those columns came with migration 13)."""
    device_id = uid("device", key)
    conn.execute(insert(DEVICES_V12).values(
        id=device_id, person_id=person, name=name, public_key=f"pk{key:030d}",
        status=status, enrolled_at=db.iso(db.now_utc()), last_contact=db.iso(db.now_utc()),
        revoked_at=db.iso(db.now_utc()) if status == "revoked" else None))
    return device_id


def push_v12(engine: Engine, device: AuthDevice, ops: list[dict[str, Any]]) -> None:
    """Store ops as version 12's push path stored patrol kinds (syncops FAST_KINDS: the
    payload checked against its schema, the grid from the payload, the content hash, a
    feed number each, the record row and the applied op; nothing else)."""
    now = db.now_iso()
    with engine.begin() as conn, db.local_seq(conn):
        db.lock_writer(conn, f"push:{device.device_id}")
        records, applied = [], []
        for op in ops:
            assert op["kind"] in syncops.FAST_KINDS
            schemas.check_op_payload(op["kind"], op["payload"])
            records.append({
                "kind": op["kind"], "id": op["record_id"],
                "grid_id": syncops._grid_of(op["payload"], device),
                "device_id": device.device_id, "person_id": device.person_id,
                "content_hash": protocol.content_hash(op["payload"]),
                "payload": op["payload"], "seq": db.next_seq(conn), "received_at": now,
            })
            applied.append({
                "op_id": op["op_id"], "device_id": device.device_id, "kind": op["kind"],
                "record_id": op["record_id"], "status": "applied",
                "result": {"status": "applied", "reason": None, "version": None,
                           "op_id": op["op_id"]},
                "seq": db.next_seq(conn), "received_at": now,
            })
        conn.execute(insert(RECORDS_V12), records)
        conn.execute(insert(db.sync_ops), applied)


def op(kind: str, record_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"op_id": uid("op", kind, record_id), "kind": kind, "record_id": record_id,
            "base_version": None, "payload": payload}


def patrol_ops(device: AuthDevice, grid: int, key: str, start: float, points: int,
               items: int, report: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A patrol's records as the device's outbox queues them (fieldclient.fieldwork:
    track segments of at most 1000 points sharing their boundary point, then the
    checklist results, then the report), and what the centre should gather of it."""
    patrol_id = uid("patrol", key)
    track_id = uid("track", key)
    fixes: list[list[float | None]] = [
        [round(start + i, 3), 30.0 + i * 1e-5, 120.0 + (i % 40) * 2e-5, None, 5.0]
        for i in range(points)]
    ops, segment_ids, seq = [], [], 0
    for first in range(0, len(fixes), 1000):
        chunk = fixes[max(0, first - 1):first + 1000]
        if first and len(chunk) < 2:
            continue
        seq += 1
        sid = uid("segment", key, seq)
        segment_ids.append(sid)
        ops.append(op("track.segment", sid, {
            "id": sid, "track_id": track_id, "patrol_id": patrol_id, "grid_id": str(grid),
            "device_id": device.device_id, "source": "live", "seq": seq, "part": 0,
            "points": chunk,
            "track": {"points_read": points, "points_kept": points, "distance_m": 12.5,
                      "started_at": start, "ended_at": start + points,
                      "tolerance_m": 0.1}}))
    results = []
    for n in range(items):
        rid = uid("result", key, n)
        code, outcome = f"P{n + 1:02d}", ("normal", "problem", "not_applicable")[n % 3]
        results.append((code, outcome))
        ops.append(op("checklist.result", rid, {
            "id": rid, "patrol_id": patrol_id, "grid_id": str(grid), "checklist_version": 1,
            "code": code, "result": outcome, "note": f"第{n + 1}项" if n % 2 else None,
            "photos": [], "recorded_at": start + 10 * n}))
    if report:
        ops.append(op("patrol.report", patrol_id, {
            "id": patrol_id, "patrol_id": patrol_id, "grid_id": str(grid),
            "checklist_version": 1, "items_total": 28, "items_done": items,
            "problems": sum(1 for _c, o in results if o == "problem"),
            "normal": sum(1 for _c, o in results if o == "normal"),
            "not_applicable": sum(1 for _c, o in results if o == "not_applicable"),
            "distance_m": 12.5, "duration_s": float(points), "started_at": start,
            "finished_at": start + points, "track_points": points,
            "device_id": device.device_id, "worker_id": device.person_id,
            "results": [uid("result", key, n) for n in range(items)],
            "tracks": [track_id], "photos": [], "incomplete": []}))
    expected = {"id": patrol_id, "grid": grid, "person": device.person_id,
                "device": device.device_id, "finished": report, "results": results,
                "segments": segment_ids,
                "track": simplify_parts([[[float(v) for v in f[:3] if v is not None]
                                          for f in fixes]], protocol.MAX_REVIEW_TRACK_POINTS)}
    return ops, expected


def populate_v12(engine: Engine, grids: int = 2, workers: int = 2, patrols: int = 3) -> Centre:
    """Grids with a leader and workers, each with an enrolled device (one worker also
    with a revoked old one), a supervisor; patrols pushed over several pushes."""
    centre = Centre()
    with engine.begin() as conn:
        town = key_of(conn.execute(insert(db.org_units).values(level="town", name="庄市街道")))
        sup = key_of(conn.execute(insert(db.people).values(name="赵指导员", role="supervisor")))
        centre.supervisor_person = int(sup)
        for g in range(grids):
            grid = key_of(conn.execute(insert(db.org_units).values(
                parent_id=town, level="grid", name=f"第{g + 1}网格")))
            centre.grids.append(grid)
            conn.execute(insert(db.grid_assignments).values(person_id=sup, grid_id=grid))
            people = [("leader", f"网格长{g}")] + [("worker", f"网格员{g}-{w}")
                                                  for w in range(workers)]
            centre.workers[grid] = []
            for n, (role, name) in enumerate(people):
                person = key_of(conn.execute(insert(db.people).values(name=name, role=role)))
                conn.execute(insert(db.grid_assignments).values(person_id=person,
                                                                grid_id=grid))
                device_id = enroll_v12(conn, person, f"平板{g}-{n}", g * 100 + n)
                centre.devices[device_id] = grid
                dev = AuthDevice(device_id, person, role, (grid,))
                if role == "leader":
                    centre.leaders[grid] = dev
                else:
                    centre.workers[grid].append(dev)
                if n == 1:  # a worker's earlier tablet, revoked: still a device to show
                    old = enroll_v12(conn, person, f"旧平板{g}", g * 100 + 99, "revoked")
                    centre.devices[old] = grid
        sup_device = enroll_v12(conn, sup, "指导员平板", 999)
        centre.devices[sup_device] = centre.grids[0]
    start = T0
    for grid in centre.grids:
        for w, dev in enumerate(centre.workers[grid]):
            for n in range(patrols):
                key = f"{grid}/{w}/{n}"
                points = (40, 1500, 2600)[n % 3]  # the longest three segments
                ops, expected = patrol_ops(dev, grid, key, start, points, items=4 + n)
                start += 4000
                centre.patrols[expected["id"]] = expected
                if n == 1:  # sent over two sync runs: the report and a result later
                    push_v12(engine, dev, ops[:-2])
                    push_v12(engine, dev, ops[-2:])
                else:
                    push_v12(engine, dev, ops)
        # a leader's own patrol: others' reviewers see it, the leader's device does not
        leader = centre.leaders[grid]
        ops, expected = patrol_ops(leader, grid, f"{grid}/leader", start, 300, items=2)
        start += 4000
        centre.patrols[expected["id"]] = expected
        push_v12(engine, leader, ops)
    # an unfinished patrol (its report never came) and a track on its own (imported)
    first = centre.workers[centre.grids[0]][0]
    ops, expected = patrol_ops(first, centre.grids[0], "unfinished", start, 120, 2,
                               report=False)
    centre.patrols[expected["id"]] = expected
    stray = uid("segment", "stray")
    ops.append(op("track.segment", stray, {
        "id": stray, "track_id": uid("track", "stray"), "grid_id": str(centre.grids[0]),
        "seq": 1, "part": 0, "points": [[start, 30.0, 120.0], [start + 5, 30.001, 120.001]]}))
    centre.stray_segment = stray
    push_v12(engine, first, ops)
    with engine.connect() as conn:
        centre.last_seq = max(int(conn.execute(select(func.max(t.c[c]))).scalar() or 0)
                              for t, c in ((db.records, "seq"), (db.sync_ops, "seq")))
    return centre


# -- what migration 13 must make of it --------------------------------------------------

def pull_all(engine: Engine, device: AuthDevice, after: int, limit: int = 7
             ) -> list[dict[str, Any]]:
    """Every change a device pulls from ``after`` on, page by page (as the app does)."""
    changes: list[dict[str, Any]] = []
    for _ in range(1000):
        page = syncops.pull(engine, device, after, limit)
        for change in page["changes"]:
            schemas.check_change(change)  # what the device accepts
        changes += page["changes"]
        assert page["next_after"] >= after
        after = page["next_after"]
        if not page["has_more"]:
            return changes
    raise AssertionError("the feed never ended")


def points_of(track: list[list[list[float]]]) -> int:
    return sum(len(part) for part in track)


def check_migrated(engine: Engine, centre: Centre) -> None:
    with engine.connect() as conn:
        feed: dict[str, int | None] = {str(r.id): r.feed_seq for r in conn.execute(
            select(db.devices.c.id, db.devices.c.feed_seq))}
        stored = {r["id"]: dict(r) for r in conn.execute(select(db.patrols)).mappings()}
    assert set(feed) == set(centre.devices)
    numbers = list(feed.values())
    assert all(n is not None and n > centre.last_seq for n in numbers), (centre.last_seq, feed)
    assert len(set(numbers)) == len(numbers)

    assert set(stored) == set(centre.patrols)  # the stray segment is in no patrol
    for pid, want in centre.patrols.items():
        got = stored[pid]
        assert (got["grid_id"], got["person_id"], got["device_id"], got["finished"]) == (
            want["grid"], want["person"], want["device"], want["finished"]), pid
        assert [(r["code"], r["result"]) for r in got["results"]] == want["results"]
        assert sorted(got["segments"]) == sorted(want["segments"])
        # every segment joined (their shared boundary points once), then simplified
        assert got["track"] == want["track"], pid
        assert 2 <= points_of(got["track"]) <= protocol.MAX_REVIEW_TRACK_POINTS
        assert (got["report"] is not None) == want["finished"]
        assert got["updated_seq"] > centre.last_seq

    # a leader's device, its cursor where it was before the upgrade, gets them all
    for grid, leader in centre.leaders.items():
        changes = pull_all(engine, leader, centre.last_seq)
        kinds = {c["kind"] for c in changes}
        assert kinds <= {"patrol", "device"}, kinds
        pulled = {c["id"]: c["data"] for c in changes if c["kind"] == "patrol"}
        others = {pid for pid, p in centre.patrols.items()
                  if p["grid"] == grid and p["finished"] and p["device"] != leader.device_id}
        assert set(pulled) == others
        for pid in others:
            assert sorted((r["code"], r["result"]) for r in pulled[pid]["results"]) == \
                sorted(centre.patrols[pid]["results"])
            assert pulled[pid]["track"] == centre.patrols[pid]["track"]
        pulled_devices = {c["id"] for c in changes if c["kind"] == "device"}
        # every device of the grid's workers and leader (not the supervisor's, nor its own)
        assert pulled_devices == {d for d, g in centre.devices.items()
                           if g == grid and d != leader.device_id
                           and d != uid("device", 999)}
    # a worker's device gets no other device's patrol or contact
    worker = centre.workers[centre.grids[0]][0]
    assert pull_all(engine, worker, centre.last_seq) == []
    # a supervisor's device gets every grid's
    sup = AuthDevice(uid("device", 999), centre.supervisor_person, "supervisor",
                     tuple(centre.grids))
    sup_kinds = [c["kind"] for c in pull_all(engine, sup, centre.last_seq)]
    assert sup_kinds.count("patrol") == sum(1 for p in centre.patrols.values()
                                            if p["finished"])


def feed_state(engine: Engine) -> tuple[dict[str, int | None], dict[str, Any]]:
    with engine.connect() as conn:
        devices: dict[str, int | None] = {str(r.id): r.feed_seq for r in conn.execute(
            select(db.devices.c.id, db.devices.c.feed_seq))}
        patrols = {r["id"]: dict(r) for r in conn.execute(select(db.patrols)).mappings()}
    return devices, patrols


def content(engine: Engine) -> dict[str, Any]:
    """The patrols and devices as a reviewer sees them, without the feed numbers (those
    differ between two runs: each batch's numbers come from its own transaction)."""
    devices, patrols = feed_state(engine)
    for row in patrols.values():
        row.pop("updated_seq")
    return {"devices": sorted(devices), "patrols": patrols,
            "unnumbered": sorted(d for d, n in devices.items() if n is None)}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.db'}", tmp_path / "central.db.keys.json"
    return request.getfixturevalue("pg_server").new_database(), tmp_path / "pg-keys.json"


def test_migration_13_gathers_stored_devices_and_patrols_for_reviewers(
        backend_url: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, key_file = backend_url
    engine = version_12(url, key_file, monkeypatch)
    try:
        centre = populate_v12(engine)
        assert db.migrate(engine, backfill_batch=10) == (12, db.LATEST_VERSION)
        check_migrated(engine, centre)
        with engine.connect() as conn:
            assert db.pending_backfills(conn) == []
            assert "ix_records_patrol_backfill" not in {
                i["name"] for i in inspect(conn).get_indexes("records")}
            if engine.dialect.name == "postgresql":  # no transaction near the cap
                per_tx = conn.execute(
                    select(func.count()).select_from(db.patrols)
                    .group_by(text(f"updated_seq >> {db.SEQ_SHIFT}"))).scalars().all()
                assert max(per_tx) <= 10
        before = feed_state(engine)
        assert db.migrate(engine) == (db.LATEST_VERSION, db.LATEST_VERSION)
        assert feed_state(engine) == before  # a second run: nothing moved
    finally:
        engine.dispose()


def test_a_leader_pulling_while_the_backfill_runs_misses_nothing(
        backend_url: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A server already serving (another host) while the backfill runs: a leader's
    device pulls a page while each batch is under way (before it commits), and pulls
    the rest afterwards. Its copy ends with every patrol complete and every device."""
    url, key_file = backend_url
    engine = version_12(url, key_file, monkeypatch)
    try:
        centre = populate_v12(engine)
        grid = centre.grids[0]
        leader = centre.leaders[grid]
        copy: dict[tuple[str, str], dict[str, Any]] = {}
        cursor = [centre.last_seq]
        pages = []

        def pull_a_page(_name: str, rows: int) -> None:
            if not rows:  # the last one drops the index: a pull waits for its end
                return
            page = syncops.pull(engine, leader, cursor[0], 3)
            for change in page["changes"]:
                schemas.check_change(change)
                copy[(change["kind"], change["id"])] = change["data"]
            cursor[0] = page["next_after"]
            pages.append(len(page["changes"]))

        db.migrate(engine, backfill_batch=7, on_batch=pull_a_page)
        assert sum(pages) > 0  # it did pull while the backfill ran
        for change in pull_all(engine, leader, cursor[0]):
            copy[(change["kind"], change["id"])] = change["data"]
        patrols = {i: d for (kind, i), d in copy.items() if kind == "patrol"}
        others = {pid for pid, p in centre.patrols.items()
                  if p["grid"] == grid and p["finished"] and p["device"] != leader.device_id}
        assert set(patrols) == others
        for pid in others:
            assert [(r["code"], r["result"]) for r in patrols[pid]["results"]] == \
                centre.patrols[pid]["results"]
            assert patrols[pid]["track"] == centre.patrols[pid]["track"]
        assert {i for kind, i in copy if kind == "device"} == {
            d for d, g in centre.devices.items()
            if g == grid and d not in (leader.device_id, uid("device", 999))}
    finally:
        engine.dispose()


def test_an_interrupted_backfill_resumes_and_ends_as_an_uninterrupted_one(
        backend_url: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, key_file = backend_url
    if url.startswith("sqlite"):
        other_url = f"sqlite:///{tmp_path / 'other.db'}"
    else:
        other_url = url.rsplit("/", 1)[0] + "/" + _new_pg_name(url)
    reference = version_12(other_url, tmp_path / "other-keys.json", monkeypatch)
    engine = version_12(url, key_file, monkeypatch)
    try:
        populate_v12(reference)
        centre = populate_v12(engine)
        assert db.migrate(reference, backfill_batch=10)[1] == db.LATEST_VERSION

        batches: list[tuple[str, int]] = []

        def crash(name: str, rows: int) -> None:
            batches.append((name, rows))
            if name == "13.patrols" and sum(1 for n, _ in batches if n == name) == 4:
                raise KeyboardInterrupt  # the power goes mid-batch: it rolls back

        with pytest.raises(KeyboardInterrupt):
            db.migrate(engine, backfill_batch=10, on_batch=crash)
        with engine.connect() as conn:
            assert db.current_version(conn) == db.LATEST_VERSION  # the schema is there
            # (the backfills of migrations 14 and 15, registered too, come after)
            assert db.pending_backfills(conn)[:2] == ["13.patrols", "14.records"]
            done = conn.execute(select(db.backfills.c.position, db.backfills.c.rows_done)
                                .where(db.backfills.c.name == "13.patrols")).one()
            assert done.rows_done == 30  # three batches of ten committed, not the fourth
            assert 0 < conn.execute(select(func.count()).select_from(db.patrols)).scalar_one() \
                < len(centre.patrols)
            assert None not in set(conn.execute(select(db.devices.c.feed_seq)).scalars())
        if url.startswith("sqlite"):  # the server's start-up finishes it before it serves
            proc, _base = start_server(url, tmp_path, "--key-file", str(key_file))
            stop_process(proc)
        else:  # or `central init` again
            assert db.migrate(engine, backfill_batch=10) == (db.LATEST_VERSION,
                                                             db.LATEST_VERSION)
        with engine.connect() as conn:
            assert db.pending_backfills(conn) == []
        assert content(engine) == content(reference)
        check_migrated(engine, centre)
    finally:
        engine.dispose()
        reference.dispose()


def _new_pg_name(url: str) -> str:
    import psycopg

    admin = url.rsplit("/", 1)[0] + "/postgres"
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name
