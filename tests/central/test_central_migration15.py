"""Centre migration 15 on a centre whose households were registered before migration 14:
their ``lat``/``lon`` are empty (14 added the columns, a push fills them from then on),
so the review's far-from-home check could not judge a visit to them. The positions are
in the sealed payloads of their ``household.create`` records; the backfill
``15.positions`` writes them, a batch of records per transaction, on SQLite and
PostgreSQL. Every household ends with the position a centre always at version 15 wrote
when it stored it (a household whose payload gave none, or a bad one, stays without),
the devices of its grid pull it again with the position, and ``central report`` gives
that centre's figures (far-from-home flags included) before, during and after the
backfill; interrupted, the backfill resumes (``central init`` or ``central serve``
start-up) and ends as an uninterrupted one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import backfill_helpers
import pytest
from sqlalchemy import Engine, insert, inspect, select, update

from central import db, report, syncops
from central.app import AuthDevice
from sync import protocol
from sync.protocol import schemas
from sync.protocol.review import CHINA

NS = uuid.UUID("5f0e7c52-3a1b-4c8e-9d2f-150000000015")
MONTH = "2026-03"
NOW = datetime(2026, 4, 20, 12, tzinfo=CHINA).timestamp()
CONTACT = "2026-04-19T08:00:00.000000Z"
HOME = (29.95, 121.58)  # the first household; the others east of it, 100 m apart
EAST = 0.00103  # about 100 m of longitude at 30°N


def uid(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(map(str, parts))))


def at(day: int, hour: int) -> float:
    return datetime(2026, 3, day, hour, tzinfo=CHINA).timestamp()


@dataclass
class Centre:
    grids: list[int] = field(default_factory=list)
    leaders: dict[int, AuthDevice] = field(default_factory=dict)
    positions: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    far_visits: set[str] = field(default_factory=set)  # visits the check must flag
    creates: int = 0  # household.create records
    last_seq: int = 0  # the highest feed number before the upgrade


def version_14(url: str, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """A centre at version 14 (its backfills done): the schema households registered
    before it live in."""
    engine = db.make_engine(url, key_file=key_file)
    with monkeypatch.context() as m:
        m.setattr(db, "MIGRATIONS", [s for s in db.MIGRATIONS if s[0] <= 14])
        assert db.migrate(engine) == (0, 14)
    with engine.connect() as conn:
        assert db.pending_backfills(conn) == []
    return engine


def populate(engine: Engine, modern: bool) -> Centre:
    """Households registered through ``household.create`` records (their payloads say
    where most of them live) with visits near and far from them: as a centre before
    migration 14 stored them (``modern`` False: positions only in the payloads) or as
    one always at 15 (True: the push wrote them on the household too)."""
    centre = Centre()
    with engine.begin() as conn:
        conn.execute(insert(db.org_units).values(id=1, level="town", name="庄市街道"))
        stored: list[dict[str, Any]] = []
        for g in range(2):
            grid = 2 + g
            centre.grids.append(grid)
            conn.execute(insert(db.org_units).values(id=grid, parent_id=1, level="grid",
                                                     name=f"第{g + 1}网格"))
            people = []
            for w, role in enumerate(("leader", "worker")):
                person = 10 * grid + w
                conn.execute(insert(db.people).values(id=person, name=f"网格员{grid}-{w}",
                                                      role=role))
                conn.execute(insert(db.grid_assignments).values(person_id=person,
                                                                grid_id=grid))
                device = uid("device", person)
                conn.execute(insert(db.devices).values(
                    id=device, person_id=person, name=f"平板{person}",
                    public_key=f"pk{person:030d}", status="active", enrolled_at=CONTACT,
                    last_contact=CONTACT, feed_seq=db.next_seq(conn)))
                people.append((person, device))
            (leader, leader_device), (worker, device) = people
            centre.leaders[grid] = AuthDevice(leader_device, leader, "leader", (grid,))
            for i in range(9):
                hid = uid("household", grid, i)
                place: tuple[float, float] | None = (HOME[0] + g * 0.01, HOME[1] + i * EAST)
                payload: dict[str, Any] = {"grid_id": str(grid), "head_name": f"户主{i}",
                                           "address": f"测试路{i}号", "category": "ordinary"}
                if i == 7:
                    place = None  # registered without a position
                elif i == 8:
                    payload.update(lat=95.0, lon=121.58)  # a bad one (older clients)
                    place = None
                if place is not None:
                    payload.update(lat=place[0], lon=place[1])
                centre.positions[hid] = place
                row: dict[str, Any] = {
                    "id": hid, "grid_id": grid, "head_name": payload["head_name"],
                    "address": payload["address"], "category": "ordinary", "tags": [],
                    "version": 1, "updated_seq": db.next_seq(conn),
                    "registered_at": at(1, 9)}
                if modern and place is not None:
                    row.update(lat=place[0], lon=place[1])
                conn.execute(insert(db.households).values(**row))
                stored.append({"kind": "household.create", "id": hid, "grid_id": grid,
                               "device_id": device, "person_id": worker, "payload": payload})
                # a home visit at the household, and one recorded 1 km east of it
                for n, (shift, day) in enumerate(((0.0, 2 + i), (10 * EAST, 12 + i))):
                    vid = uid("visit", grid, i, n)
                    where = place or (HOME[0] + g * 0.01, HOME[1])
                    stored.append({
                        "kind": "visit.create", "id": vid, "grid_id": grid,
                        "device_id": device, "person_id": worker, "payload": {
                            "id": vid, "household_id": hid, "grid_id": str(grid),
                            "visit_type": "home", "visited_at": at(day, 10),
                            "situation": f"第{i}户第{n}次走访", "lat": where[0],
                            "lon": where[1] + shift, "device_id": device}})
                    if shift and place is not None:
                        centre.far_visits.add(vid)
        conn.execute(insert(db.records), [
            {**r, "content_hash": protocol.content_hash(r["payload"]),
             "seq": db.next_seq(conn), "received_at": CONTACT} for r in stored])
        centre.creates = sum(1 for r in stored if r["kind"] == "household.create")
        centre.last_seq = db.next_seq(conn)
    return centre


def positions(engine: Engine) -> dict[str, tuple[float, float] | None]:
    h = db.households
    with engine.connect() as conn:
        return {str(r.id): None if r.lat is None else (r.lat, r.lon)
                for r in conn.execute(select(h.c.id, h.c.lat, h.c.lon))}


def figures(engine: Engine) -> dict[str, Any]:
    return {"all": json.loads(json.dumps(report.month_report(engine, MONTH, NOW))),
            "grid": json.loads(json.dumps(report.month_report(engine, MONTH, NOW, "3")))}


def far_flags(got: dict[str, Any]) -> set[str]:
    return {f["record_id"] for w in got["all"]["workers"] for f in w["flags"]
            if f["check"] == "far_from_home"}


def pull_all(engine: Engine, device: AuthDevice, after: int) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for _ in range(1000):
        page = syncops.pull(engine, device, after, 5)
        for change in page["changes"]:
            schemas.check_change(change)  # what the device accepts
        changes += page["changes"]
        after = page["next_after"]
        if not page["has_more"]:
            return changes
    raise AssertionError("the feed never ended")


@pytest.fixture(params=["sqlite", "postgresql"])
def backends(request: pytest.FixtureRequest, tmp_path: Path
             ) -> Iterator[tuple[Engine, Engine, str, Path]]:
    """A version-14 database and a reference always at the latest, on one backend:
    (version 14, reference, its URL, its key file)."""
    yield from backfill_helpers.backends(request, tmp_path, version_14,
                                         backfill_helpers.latest)


def check_reference(reference: Engine, centre: Centre) -> dict[str, Any]:
    """The reference flags every far visit to a household with a known position and
    nothing else far (nor the visits to the households without one)."""
    got = figures(reference)
    assert far_flags(got) == centre.far_visits and len(centre.far_visits) == 14
    assert positions(reference) == centre.positions
    return got


def test_migration_15_fills_known_positions_and_devices_pull_them(
        backends: tuple[Engine, Engine, str, Path]) -> None:
    engine, reference, _url, _key = backends
    centre = populate(engine, modern=False)
    populate(reference, modern=True)
    want = check_reference(reference, centre)
    # before: no household has a position, so no visit is far from one
    assert set(positions(engine).values()) == {None}
    assert far_flags(figures(engine)) == set()
    meanwhile: list[int] = []

    def report_meanwhile(name: str, rows: int) -> None:
        # another connection, while this batch is written and not committed yet
        if name != "15.positions" or not rows:  # the last drops the index
            return
        assert figures(engine) == want
        meanwhile.append(sum(1 for p in positions(engine).values() if p is None))

    assert db.migrate(engine, backfill_batch=4, on_batch=report_meanwhile) == (
        14, db.LATEST_VERSION)
    assert len(meanwhile) >= 4 and meanwhile == sorted(meanwhile, reverse=True)
    assert meanwhile[0] > 4  # the first batches saw households still empty
    assert positions(engine) == centre.positions
    assert figures(engine) == want
    with engine.connect() as conn:
        assert db.pending_backfills(conn) == []
        state = conn.execute(select(db.backfills).where(
            db.backfills.c.name == "15.positions")).mappings().one()
        assert state["rows_done"] == centre.creates
        assert db.POSITION_BACKFILL_INDEX not in {
            i["name"] for i in inspect(conn).get_indexes("records")}
    # a leader's device, its cursor where it was before, pulls its grid's households
    # again, with their positions (and nothing else)
    for grid, leader in centre.leaders.items():
        changes = pull_all(engine, leader, centre.last_seq)
        assert {c["kind"] for c in changes} == {"household"}
        got = {c["id"]: (c["data"]["lat"], c["data"]["lon"]) for c in changes}
        assert got == {hid: place for hid, place in centre.positions.items()
                       if place is not None and hid in {uid("household", grid, i)
                                                        for i in range(9)}}
    # a second run changes nothing
    with engine.connect() as conn:
        seqs = dict(conn.execute(select(db.households.c.id, db.households.c.updated_seq)).all())
    assert db.migrate(engine) == (db.LATEST_VERSION, db.LATEST_VERSION)
    with engine.connect() as conn:
        assert dict(conn.execute(
            select(db.households.c.id, db.households.c.updated_seq)).all()) == seqs


def test_a_position_stored_since_is_kept(backends: tuple[Engine, Engine, str, Path]
                                         ) -> None:
    """A household that has a position when the backfill reaches it keeps it (and its
    place in the feed): the backfill only fills empty ones."""
    engine, _reference, _url, _key = backends
    centre = populate(engine, modern=False)
    moved = uid("household", 2, 0)
    with engine.begin() as conn:
        conn.execute(update(db.households).where(db.households.c.id == moved)
                     .values(lat=30.0, lon=121.0))
        before = conn.execute(select(db.households.c.updated_seq).where(
            db.households.c.id == moved)).scalar_one()
    db.migrate(engine)
    got = positions(engine)
    assert got[moved] == (30.0, 121.0)
    assert {k: v for k, v in got.items() if k != moved} == {
        k: v for k, v in centre.positions.items() if k != moved}
    with engine.connect() as conn:
        assert conn.execute(select(db.households.c.updated_seq).where(
            db.households.c.id == moved)).scalar_one() == before


def test_an_interrupted_backfill_resumes_and_ends_as_an_uninterrupted_one(
        backends: tuple[Engine, Engine, str, Path], tmp_path: Path) -> None:
    engine, reference, url, key_file = backends
    centre = populate(engine, modern=False)
    populate(reference, modern=True)
    want = check_reference(reference, centre)
    batches = backfill_helpers.cut_mid_batch(engine, "15.positions", batch=4, cut_at=3)
    with engine.connect() as conn:
        assert db.current_version(conn) == db.LATEST_VERSION
        assert db.pending_backfills(conn) == ["15.positions"]
        assert conn.execute(select(db.backfills.c.rows_done).where(
            db.backfills.c.name == "15.positions")).scalar_one() == sum(batches[:2]) > 0
    filled = sum(1 for p in positions(engine).values() if p is not None)
    assert 0 < filled < sum(1 for p in centre.positions.values() if p is not None)
    assert figures(engine) == want  # the rest read from their payloads meanwhile
    backfill_helpers.finish_after_restart(engine, url, tmp_path, key_file, batch=4)
    assert positions(engine) == centre.positions
    assert figures(engine) == want


@pytest.mark.parametrize("before", ["JOIN households",  # the positions still in payloads
                                    "households.registered_at"])  # the households
def test_a_batch_committing_while_the_report_reads_changes_nothing(
        backends: tuple[Engine, Engine, str, Path], monkeypatch: pytest.MonkeyPatch,
        before: str) -> None:
    """The report reads the positions still in payloads, then the households: another
    server's batch committing before either (here: one filling every household, just
    before the statement ``before``) makes it see a position twice, the same, and miss
    none (read the other way round, a batch committing between would hide some)."""
    engine, reference, url, key_file = backends
    populate(engine, modern=False)
    centre = populate(reference, modern=True)
    want = check_reference(reference, centre)
    backfill_helpers.stop_before_backfill(engine, "15.positions", monkeypatch)

    def committed(other: Engine) -> None:
        assert positions(other) == centre.positions

    got = backfill_helpers.read_while_another_server_fills(
        engine, url, key_file, "15.positions", before,
        lambda: report.month_report(engine, MONTH, NOW), committed)
    assert got == want["all"]
