"""First pulls served from a grid's snapshot (central/shared/snapshots.py), over real
loopback HTTP against ``central serve`` on SQLite and PostgreSQL: the same final state as
the normal feed, built once per view, writes after it arriving, masking kept, a damaged
snapshot rebuilt and never served."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from central_helpers import Device, Server, central, start_server, stop_process
from sqlalchemy import Engine, delete, select, update

from central import db, ops, syncops
from central.app import AuthDevice
from central.shared import snapshots
from central.shared.snapshots import Snapshots, view_key
from sync import protocol

PAGE = 25  # rows per page: the snapshot is served over many pages


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def centre(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    """A centre of its own (the build counts are this module's): 3 grids of 30
    households with two months of visits."""
    workdir = tmp_path_factory.mktemp(f"snap-{request.param}")
    if request.param == "sqlite":
        db_url = f"sqlite:///{workdir / 'central.db'}"
    else:
        db_url = request.getfixturevalue("pg_server").new_database()
    central(db_url, "init")
    demo = json.loads(central(db_url, "seed-demo", "--grids", "3", "--households-per-grid",
                              "30", "--visit-months", "2", "--seed", "11", "--json").stdout)
    proc, base = start_server(db_url, workdir)
    engine = db.make_engine(db_url)
    try:
        yield Server(request.param, base, db_url, demo, engine)
    finally:
        engine.dispose()
        stop_process(proc)


def _device(centre: Server, person_id: int) -> Device:
    code = ops.create_enrollment_code(centre.engine, person_id)["code"]
    dev = Device(centre.base)
    assert dev.enroll(code).status_code == 200
    return dev


def _auth(centre: Server, dev: Device) -> AuthDevice:
    """The device as the server sees it (for the normal feed, read in-process)."""
    with centre.engine.connect() as conn:
        person = conn.execute(select(db.devices.c.person_id)
                              .where(db.devices.c.id == dev.device_id)).scalar_one()
        role = conn.execute(select(db.people.c.role)
                            .where(db.people.c.id == person)).scalar_one()
        grids = tuple(sorted(int(g) for g in conn.execute(
            select(db.grid_assignments.c.grid_id)
            .where(db.grid_assignments.c.person_id == person)).scalars()))
    return AuthDevice(dev.device_id, int(person), str(role), grids)


def _apply(state: dict[tuple[str, str], Any], changes: list[dict[str, Any]]) -> None:
    for change in changes:
        state[(change["kind"], str(change["id"]))] = change["data"]


def _http_pull(dev: Device, after: int = 0) -> tuple[dict[tuple[str, str], Any], int, int]:
    """Pull over HTTP to the end as the device does: (state, cursor, requests)."""
    state: dict[tuple[str, str], Any] = {}
    requests_made = 0
    while True:
        resp = dev.get(protocol.SYNC_PULL_PATH, params={"after": after, "limit": PAGE})
        assert resp.status_code == 200, resp.text
        requests_made += 1
        page = resp.json()
        assert len(page["changes"]) <= PAGE or len({c["seq"] for c in page["changes"]}) < \
            len(page["changes"])
        seqs = [c["seq"] for c in page["changes"]]
        assert seqs == sorted(seqs) and all(s > after for s in seqs)
        assert page["next_after"] >= max(seqs, default=after)
        _apply(state, page["changes"])
        after = page["next_after"]
        if not (page["has_more"] and page["changes"]):
            return state, after, requests_made


def _feed(engine: Engine, device: Any, after: int = 0) -> dict[tuple[str, str], Any]:
    """The normal feed's final state for ``device``, as JSON would carry it."""
    state: dict[tuple[str, str], Any] = {}
    while True:
        page = syncops.pull(engine, device, after, PAGE)
        _apply(state, page["changes"])
        after = int(page["next_after"])
        if not (page["has_more"] and page["changes"]):
            return {k: json.loads(json.dumps(v)) for k, v in state.items()}


def _snapshot_pull(process: Snapshots, device: Any) -> dict[tuple[str, str], Any]:
    state: dict[tuple[str, str], Any] = {}
    after = 0
    while True:
        page = process.pull(device, after, PAGE)
        _apply(state, page["changes"])
        after = int(page["next_after"])
        if not (page["has_more"] and page["changes"]):
            return {k: json.loads(json.dumps(v)) for k, v in state.items()}


def _builds(engine: Engine, key: str) -> int:
    with engine.connect() as conn:
        found = conn.execute(select(db.pull_snapshots.c.builds)
                             .where(db.pull_snapshots.c.key == key)).scalar()
    return int(found or 0)


def _push(dev: Device, ops_: list[dict[str, Any]]) -> None:
    body = json.dumps({"ops": ops_}, ensure_ascii=False).encode()
    resp = dev.request("POST", protocol.SYNC_PUSH_PATH, body=body,
                       extra_headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["status"] for r in results] == ["applied"] * len(ops_), results


def _op(kind: str, payload: dict[str, Any], record_id: str | None = None) -> dict[str, Any]:
    rid = record_id or str(uuid.uuid4())
    return {"op_id": uuid.uuid4().hex, "kind": kind, "record_id": rid, "base_version": None,
            "payload": {"id": rid, **payload} if kind != "household.create" else payload}


def test_first_pulls_of_a_grid_share_one_snapshot(centre: Server) -> None:
    grid = centre.grid(0)
    key = view_key("worker", (grid["id"],))
    first = _device(centre, grid["workers"][0])
    # a visit of its own before its first pull: the feed never sends a device its own
    hid = next(i for kind, i in _feed(centre.engine, _auth(centre, first)) if kind == "household")
    own_visit = str(uuid.uuid4())
    _push(first, [_op("visit.create", {"household_id": hid, "grid_id": grid["id"],
                                       "visit_type": "home", "visited_at": 1_700_000_000,
                                       "situation": "入户走访"}, record_id=own_visit)])
    state_a, cursor_a, pages_a = _http_pull(first)
    assert _builds(centre.engine, key) == 1
    assert pages_a >= 3  # several pages from the snapshot
    assert ("visit", own_visit) not in state_a
    assert state_a == _feed(centre.engine, _auth(centre, first))
    assert sum(1 for kind, _ in state_a if kind == "household") == 30
    assert sum(1 for kind, _ in state_a if kind == "visit") > 10

    second = _device(centre, grid["workers"][1])
    state_b, cursor_b, _pages = _http_pull(second)
    assert _builds(centre.engine, key) == 1  # the same snapshot
    assert ("visit", own_visit) in state_b  # another device's visit
    assert state_b == _feed(centre.engine, _auth(centre, second))
    # both past the snapshot's end (a's may be further: nothing newer for it, so the
    # look's head; b got a's visit from the feed, its cursor that row's number)
    with centre.engine.connect() as conn:
        stored = conn.execute(select(db.pull_snapshots.c.cursor)
                              .where(db.pull_snapshots.c.key == key)).scalar_one()
    assert min(cursor_a, cursor_b) >= stored

    # a write after the snapshot: the next pull of a device that had it brings it, and
    # a first pull from the (reused) snapshot ends with it too
    new_house = str(uuid.uuid4())
    _push(first, [_op("household.create", {"grid_id": grid["id"], "head_name": "快照后新户",
                                           "address": "勤勇村3组7号", "category": "ordinary"},
                      record_id=new_house)])
    later, _cursor, _n = _http_pull(second, cursor_b)
    assert later[("household", new_house)]["head_name"] == "快照后新户"
    third = _device(centre, grid["workers"][0])
    state_c, _cursor, _n = _http_pull(third)
    assert state_c[("household", new_house)]["head_name"] == "快照后新户"
    assert state_c == _feed(centre.engine, _auth(centre, third))
    assert _builds(centre.engine, key) == 1


def test_a_supervisor_gets_its_own_masked_snapshot(centre: Server) -> None:
    worker = _device(centre, centre.grid(1)["workers"][0])
    assert worker.get(protocol.SYNC_PULL_PATH, params={"after": 2**40}).status_code == 200
    supervisor = _device(centre, centre.demo["supervisor"])
    leader = _device(centre, centre.grid(1)["leader"])
    state_s, _c, _n = _http_pull(supervisor)
    state_l, _c, _n = _http_pull(leader)
    assert state_s == _feed(centre.engine, _auth(centre, supervisor))
    assert state_l == _feed(centre.engine, _auth(centre, leader))
    grids = tuple(sorted(g["id"] for g in centre.demo["grids"]))
    assert _builds(centre.engine, view_key("supervisor", grids)) == 1
    assert _builds(centre.engine, view_key("leader", (centre.grid(1)["id"],))) == 1
    shown = [d for (kind, _id), d in state_l.items() if kind == "household" and d.get("phone")]
    assert shown and all("*" not in d["phone"] for d in shown)
    masked = {k: d for k, d in state_s.items() if k[0] == "household" and d.get("phone")}
    assert len(masked) >= len(shown)
    for (kind, hid), data in state_l.items():
        if kind == "household" and data.get("phone"):
            assert masked[(kind, hid)]["phone"] != data["phone"]
            assert "*" in masked[(kind, hid)]["phone"]
    # the leader's snapshot lists the grid's other devices, never the leader's own
    assert ("device", leader.device_id) not in state_l
    assert ("device", worker.device_id) in state_l


def _damage(engine: Engine, key: str, body: str | None) -> None:
    s = db.pull_snapshots
    with engine.begin() as conn:
        if body is None:
            conn.execute(delete(s).where(s.c.key == key))
        else:
            conn.execute(update(s).where(s.c.key == key).values(body=body))


def test_a_damaged_or_missing_snapshot_is_rebuilt_never_served(centre: Server) -> None:
    grid = centre.grid(2)
    key = view_key("worker", (grid["id"],))
    dev = _device(centre, grid["workers"][0])
    expected = _feed(centre.engine, _auth(centre, dev))
    assert _http_pull(dev)[0] == expected
    assert _builds(centre.engine, key) == 1
    with centre.engine.connect() as conn:
        good = conn.execute(select(db.pull_snapshots.c.body)
                            .where(db.pull_snapshots.c.key == key)).scalar_one()
        other = conn.execute(select(db.pull_snapshots.c.body).where(
            db.pull_snapshots.c.key != key)).scalars().first()
    prefix, kid, sealed = good.split(":", 2)
    flipped = sealed[:40] + ("A" if sealed[40] != "A" else "B") + sealed[41:]
    damaged = [f"{prefix}:{kid}:{flipped}", good[: len(good) // 2], "not sealed at all", ""]
    if other is not None:
        damaged.append(other)  # another view's snapshot: sealed for its own key
    me = _auth(centre, dev)
    for body in damaged:
        _damage(centre.engine, key, body)
        before = _builds(centre.engine, key)
        # a process without a checked copy (as another worker process): a pull in the
        # middle of the feed is served from the feed; a first pull builds it again
        process = Snapshots(centre.engine)
        assert process.pull(me, 1, PAGE) == syncops.pull(centre.engine, me, 1, PAGE)
        assert _builds(centre.engine, key) == before
        assert _snapshot_pull(process, me) == expected
        assert _builds(centre.engine, key) == before + 1, body[:20]
        # the server (its copy now older than the row) never serves the damage either
        _damage(centre.engine, key, body)
        again = _device(centre, grid["workers"][1])
        assert _http_pull(again)[0] == _feed(centre.engine, _auth(centre, again))
        assert _builds(centre.engine, key) == before + 2, body[:20]
    _damage(centre.engine, key, None)  # gone: built again
    fresh = _device(centre, grid["workers"][0])
    assert _http_pull(fresh)[0] == expected
    assert _builds(centre.engine, key) == 1  # a new row


def test_builds_once_under_concurrent_first_pulls_and_again_after_a_write(
        centre: Server, tmp_path: Path) -> None:
    """In-process, as two server processes would (two Snapshots over their own engines):
    eight first pulls at once build once; past the reuse time a snapshot is kept while
    nothing newer is in its view, built again once something is."""
    grid = centre.grid(1)
    key = view_key("worker", (grid["id"],))
    _damage(centre.engine, key, None)
    # PostgreSQL: two processes (the advisory lock); SQLite runs one server process
    engines = [db.make_engine(centre.db_url)
               for _ in range(2 if centre.backend == "postgresql" else 1)]
    try:
        processes = [Snapshots(e, reuse_seconds=0.0) for e in engines]
        dev = _device(centre, grid["workers"][0])
        me = _auth(centre, dev)
        pages: list[dict[str, Any]] = []
        errors: list[BaseException] = []

        def first_pull(i: int) -> None:
            try:
                pages.append(processes[i % len(processes)].pull(me, 0, PAGE))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=first_pull, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors and len(pages) == 8
        assert _builds(centre.engine, key) == 1
        assert all(p == pages[0] for p in pages)
        # nothing newer: kept though older than the reuse time
        processes[0].pull(me, 0, PAGE)
        assert _builds(centre.engine, key) == 1
        writer = _device(centre, grid["workers"][1])
        _push(writer, [_op("household.create", {"grid_id": grid["id"], "head_name": "新户",
                                                "address": "勤勇村5组1号",
                                                "category": "ordinary"})])
        processes[-1].pull(me, 0, PAGE)
        assert _builds(centre.engine, key) == 2
        # the other process sees the new one (its cached copy is of the older build)
        page = processes[0].pull(me, 0, PAGE)
        assert _builds(centre.engine, key) == 2
        assert page["changes"] == processes[-1].pull(me, 0, PAGE)["changes"]
    finally:
        for e in engines:
            e.dispose()


def test_snapshot_serves_only_below_its_cursor(centre: Server) -> None:
    """A device whose cursor is at or past the snapshot's gets the feed (its no-op pull
    stays as cheap as it was); rows in one sequence number are never split."""
    grid = centre.grid(0)
    dev = _device(centre, grid["workers"][1])
    _state, cursor, _n = _http_pull(dev)
    resp = dev.get(protocol.SYNC_PULL_PATH, params={"after": cursor, "limit": PAGE})
    body = resp.json()
    # nothing newer: no rows, and the cursor may move up to the feed's head (the no-op
    # look of central/fastpath/noop.py), never back
    assert body["changes"] == [] and body["next_after"] >= cursor and not body["has_more"]
    assert snapshots.FORMAT == 1


def test_a_worker_gets_its_own_reviews_and_nobody_elses(centre: Server) -> None:
    """Reviews are the rows that differ between workers of one grid: a worker's own are
    added to the shared snapshot's pages, nobody else's are in it."""
    grid = centre.grid(2)
    with centre.engine.connect() as conn:
        visits = {int(p): str(i) for i, p in conn.execute(
            select(db.records.c.id, db.records.c.person_id).where(
                db.records.c.kind == "visit.create", db.records.c.grid_id == grid["id"]))}
    reviewed = [w for w in grid["workers"] if w in visits]
    assert reviewed
    leader = _device(centre, grid["leader"])
    review_ids = {}
    for worker in reviewed:
        review_ids[worker] = str(uuid.uuid4())
        _push(leader, [_op("review.create", {"target_kind": "visit",
                                             "target_id": visits[worker],
                                             "state": "has_issues", "comment": "照片不清楚"},
                           record_id=review_ids[worker])])
    # a row every worker sees after them, so they lie below the snapshot's cursor
    _push(leader, [_op("household.create", {"grid_id": grid["id"], "head_name": "评后新户",
                                            "address": "勤勇村8组2号",
                                            "category": "ordinary"})])
    key = view_key("worker", (grid["id"],))
    _damage(centre.engine, key, None)  # built after the reviews
    for worker in grid["workers"]:
        dev = _device(centre, worker)
        state, _cursor, _n = _http_pull(dev)
        assert state == _feed(centre.engine, _auth(centre, dev))
        got = {i for kind, i in state if kind == "review"}
        assert got == ({review_ids[worker]} if worker in review_ids else set())
    assert _builds(centre.engine, key) == 1


def test_an_encoded_page_is_the_bytes_the_response_model_gives(centre: Server) -> None:
    """A snapshot's page is sent as encoded once (EncodedPage), not through the app's
    response model: its bytes are the model's, to the byte, for rows of every kind
    (Chinese text, nulls, nested members), and it decodes to the feed's page."""
    from central.app import PullOut
    from central.shared.snapshots import EncodedPage

    grid = centre.grid(0)
    me = _auth(centre, _device(centre, grid["leader"]))
    process = Snapshots(centre.engine)
    after, kinds = 0, set()
    while True:
        page = process.page(me, after, PAGE)
        assert isinstance(page, EncodedPage)
        body = page.body("2026-12-04T08:00:00+00:00", 1796371200.25)
        plain = page.decoded()
        model = PullOut.model_validate({**plain, "server_time": "2026-12-04T08:00:00+00:00",
                                        "unix_time": 1796371200.25})
        assert body == model.model_dump_json().encode()
        assert json.loads(body)["changes"] == plain["changes"]
        kinds |= {c["kind"] for c in plain["changes"]}
        after = page.next_after
        if not page.has_more:
            break
    assert {"household", "visit", "event"} <= kinds


def test_an_enrolled_devices_view_is_built_before_its_first_pull(centre: Server,
                                                                 tmp_path: Path) -> None:
    """Enrolling builds the device's view's snapshot in the background (a room of new
    devices then syncs at once: each first pull is served, none builds); a server with
    ``--no-warm-snapshots`` builds it at the first pull."""
    import time

    grid = centre.grid(2)
    key = view_key("leader", (grid["id"],))
    _damage(centre.engine, key, None)
    for warm in (True, False):  # a server of its own (the module's may hold it fresh)
        proc, base = start_server(centre.db_url, tmp_path,
                                  *(() if warm else ("--no-warm-snapshots",)))
        try:
            code = ops.create_enrollment_code(centre.engine, grid["leader"])["code"]
            dev = Device(base)
            assert dev.enroll(code).status_code == 200
            deadline = time.monotonic() + 20
            while warm and not _builds(centre.engine, key) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # (a build that was never asked for would show by now)
            assert _builds(centre.engine, key) == (1 if warm else 0)
            state, _cursor, _n = _http_pull(dev)
            assert _builds(centre.engine, key) == 1  # served from it / built by the pull
            assert state == _feed(centre.engine, _auth(centre, dev))
        finally:
            stop_process(proc)
        _damage(centre.engine, key, None)
