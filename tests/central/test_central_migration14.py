"""Centre migration 14 (review figures) on a centre that already holds visits, patrol
reports and event reports: a database at version 13 (the columns migration 14 adds
dropped, as a centre at version 13 never had them) migrated to the latest on SQLite and
PostgreSQL. The schema change is one transaction; the records' ``happened_at``,
``household_id`` and ``counted`` are filled afterwards from their sealed payloads by the
backfill ``14.records``, a batch per transaction. Every record ends with the columns a
centre always at version 14 wrote when it stored it; ``central report`` gives that
centre's figures before, during and after the backfill; interrupted, the backfill
resumes (``central init`` or ``central serve`` start-up) and ends as an uninterrupted
one."""

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
from sqlalchemy import Engine, MetaData, Table, func, insert, inspect, select, text

from central import db, report
from sync import protocol
from sync.protocol.review import CHINA

NS = uuid.UUID("5f0e7c52-3a1b-4c8e-9d2f-140000000014")
MONTH = "2026-03"
NOW = datetime(2026, 4, 20, 12, tzinfo=CHINA).timestamp()  # the report is made then
CONTACT = "2026-04-19T08:00:00.000000Z"  # every device's last contact


def uid(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(map(str, parts))))


def at(month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=CHINA).timestamp()


# Migration 14's columns on tables made before it (a table is created with today's
# definition, so a database built with MIGRATIONS[:13] has them: dropped)
V14_COLUMNS = {"records": ("happened_at", "household_id", "counted"),
               "households": ("lat", "lon")}
V14_INDEXES = ("ix_records_happened", "ix_records_visit_household")
REVIEW_COLUMNS = ("happened_at", "household_id", "counted")
RECORDS_V13, HOUSEHOLDS_V13 = (
    Table(t.name, MetaData(), *(c._copy() for c in t.columns
                                if c.name not in V14_COLUMNS[t.name]))
    for t in (db.records, db.households))


def version_13(url: str, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """A database at version 13 (its backfills done: there was nothing to gather)."""
    engine = db.make_engine(url, key_file=key_file)
    with monkeypatch.context() as m:
        m.setattr(db, "MIGRATIONS", [s for s in db.MIGRATIONS if s[0] <= 13])
        assert db.migrate(engine) == (0, 13)
    with engine.begin() as conn:
        for index in V14_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
        for table, columns in V14_COLUMNS.items():
            for column in columns:
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        assert db.pending_backfills(conn) == []
    return engine


def version_14(url: str, key_file: Path) -> Engine:
    """The reference: a centre at version 14 from the start (its push filled the
    columns as it stored each record)."""
    engine = db.make_engine(url, key_file=key_file)
    db.migrate(engine)
    return engine


@dataclass
class Centre:
    grids: list[int] = field(default_factory=list)
    workers: dict[int, list[int]] = field(default_factory=dict)
    review_records: int = 0  # visits, patrol reports, event reports
    timed: int = 0  # those whose payload says when (the rest have no happened_at)


def visit(worker: int, device: str, grid: int, n: int, household: str | None,
          when: float | None, **extra: Any) -> dict[str, Any]:
    rid = uid("visit", worker, n)
    payload: dict[str, Any] = {
        "id": rid, "grid_id": str(grid), "visit_type": ("home", "phone", "revisit")[n % 3],
        "situation": f"第{n}次走访，情况稳定。", "needs": "", "follow_up": "",
        "lat": 29.95 + n * 1e-4, "lon": 121.58, "device_id": device, **extra}
    if household is not None:
        payload["household_id"] = household
    if when is not None:
        payload["visited_at"] = int(when) if n % 5 == 0 else when  # older clients: ints
    return {"kind": "visit.create", "id": rid, "payload": payload}


def populate(engine: Engine, modern: bool) -> Centre:
    """The same centre on a version-13 database (``modern`` False: records and
    households as version 13 wrote them) or on the reference (True)."""
    records_table = db.records if modern else RECORDS_V13
    households_table = db.households if modern else HOUSEHOLDS_V13
    centre = Centre()
    rows: list[dict[str, Any]] = []
    with engine.begin() as conn:
        conn.execute(insert(db.org_units).values(id=1, level="town", name="庄市街道"))
        for g in range(2):
            grid = 2 + g
            centre.grids.append(grid)
            conn.execute(insert(db.org_units).values(id=grid, parent_id=1, level="grid",
                                                     name=f"第{g + 1}网格"))
            homes = [f"hh-{grid}-{i}" for i in range(6)]
            for i, hid in enumerate(homes):
                conn.execute(insert(households_table).values(
                    id=hid, grid_id=grid, head_name=f"户主{i}", address=f"测试路{i}号",
                    category=("ordinary", "hardship", "key")[i % 3], tags=[], version=1,
                    updated_seq=db.next_seq(conn), registered_at=at(1, 5, 9)))
            centre.workers[grid] = []
            for w, role in enumerate(("leader", "worker", "worker")):
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
                if role == "leader":
                    continue
                centre.workers[grid].append(person)
                mine: list[dict[str, Any]] = []
                for n in range(14):  # February to April, a visit every week or so
                    month, day = (2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 2, 3)[n], 1 + 2 * n % 27
                    mine.append(visit(person, device, grid, n, homes[n % 6],
                                      at(month, day, 10 + n % 8)))
                photo = uid("photo", person)
                mine[3]["payload"]["photos"] = [photo]
                mine[4]["payload"]["photos"] = [photo]  # the same photo twice
                rows.append({"kind": "photo.meta", "id": photo, "person": person,
                             "device": device, "grid": grid, "payload": {
                                 "id": photo, "sha256": "ab" * 32, "bytes": 1000}})
                mine.append(visit(person, device, grid, 20, homes[0], at(3, 20, 23, 30),
                                  situation="夜里去的。"))
                mine.append(visit(person, device, grid, 21, homes[1], at(3, 21, 10),
                                  corrects=mine[2]["id"]))  # a correction
                mine.append(visit(person, device, grid, 22, homes[2], at(3, 22, 10),
                                  training=True))  # training: never counts
                mine.append(visit(person, device, grid, 23, homes[3], None))  # no time
                mine.append(visit(person, device, grid, 24, None, at(3, 23, 10)))  # nobody's
                for day in (2, 9, 16, 23, 30):  # patrols, one of minutes
                    pid = uid("patrol", person, day)
                    minutes = 6 if day == 9 else 70
                    mine.append({"kind": "patrol.report", "id": pid, "payload": {
                        "id": pid, "patrol_id": pid, "grid_id": str(grid),
                        "started_at": at(3, day, 8), "finished_at": at(3, day, 8) + 60 * minutes,
                        "distance_m": 900.0, "track_points": 0 if day == 16 else 400,
                        "device_id": device, "worker_id": person}})
                for k, day in enumerate((4, 28)):  # events: reported in March, kept in April
                    eid = uid("event", person, k)
                    mine.append({"kind": "event.report", "id": eid, "payload": {
                        "id": eid, "grid_id": str(grid), "category": "公共设施",
                        "description": "路灯不亮", "reported_at": at(3, day, 9)}})
                    conn.execute(insert(db.events).values(
                        id=eid, grid_id=grid, reporter_id=person, category="公共设施",
                        description="路灯不亮", status="closed" if k == 0 else "reported",
                        created_at="2026-04-02T01:00:00.000000Z",
                        updated_at="2026-04-02T01:00:00.000000Z",
                        updated_seq=db.next_seq(conn)))
                    if k == 0:
                        conn.execute(insert(db.event_history).values(
                            event_id=eid, from_status="resolved", to_status="closed",
                            actor="leader", at="2026-03-10T02:00:00.000000Z"))
                rows += [{**r, "person": person, "device": device, "grid": grid}
                         for r in mine]
        stored = []
        for i, r in enumerate(rows):
            # a dozen records stored under one feed number (more than a backfill batch)
            seq = db.next_seq(conn) if not 20 <= i < 32 else (
                db.next_seq(conn) if i == 20 else stored[-1]["seq"])
            stored.append({"kind": r["kind"], "id": r["id"], "grid_id": r["grid"],
                           "device_id": r["device"], "person_id": r["person"],
                           "content_hash": protocol.content_hash(r["payload"]),
                           "payload": r["payload"], "seq": seq, "received_at": CONTACT})
        conn.execute(insert(records_table), stored)
    centre.review_records = sum(1 for r in rows if r["kind"] in db.REVIEW_TIMES)
    centre.timed = sum(1 for r in rows if r["kind"] in db.REVIEW_TIMES
                       and db.review_columns(r["kind"], r["payload"])[0] is not None)
    assert 0 < centre.timed < centre.review_records
    return centre


def columns(engine: Engine) -> dict[tuple[str, str], tuple[Any, ...]]:
    r = db.records
    with engine.connect() as conn:
        return {(row.kind, row.id): tuple(row)[2:] for row in conn.execute(
            select(r.c.kind, r.c.id, *(r.c[c] for c in REVIEW_COLUMNS)))}


def figures(engine: Engine) -> dict[str, Any]:
    """The March report for every grid, and February's for the first grid alone."""
    out = {"all": report.month_report(engine, MONTH, NOW)}
    out["feb"] = report.month_report(engine, "2026-02", NOW, str(2))
    return json.loads(json.dumps(out))


def unfilled(engine: Engine) -> int:
    """Review records whose columns the backfill has not written yet (and should)."""
    r = db.records
    with engine.connect() as conn:
        return sum(1 for row in conn.execute(
            select(r.c.kind, r.c.payload).where(r.c.kind.in_(list(db.REVIEW_TIMES)),
                                                r.c.happened_at.is_(None)))
            if db.review_columns(row.kind, row.payload)[0] is not None)


@pytest.fixture(params=["sqlite", "postgresql"])
def backends(request: pytest.FixtureRequest, tmp_path: Path
             ) -> Iterator[tuple[Engine, Engine, str, Path]]:
    """A version-13 database and a reference always at 14, on one backend:
    (version 13, reference, its URL, its key file)."""
    yield from backfill_helpers.backends(request, tmp_path, version_13, version_14)


def check_reference(reference: Engine, centre: Centre) -> dict[str, Any]:
    """The reference's figures are not trivial: the visits, patrols, events and the
    flags the payloads carry are all counted."""
    got = figures(reference)
    workers = {w["person_id"]: w for w in got["all"]["workers"]}
    persons = [str(p) for ps in centre.workers.values() for p in ps]
    assert set(persons) <= set(workers)
    for person in persons:
        w = workers[person]
        # March's ten visits and the night one (a correction stands for what it
        # corrects, training never counts, one without a time or household is nowhere)
        assert w["visits"] == 11, w
        assert w["patrol_days"] == 5 and w["events_reported"] == 2, w
        assert {"night", "same_photo", "short_patrol", "no_track"} <= {
            f["check"] for f in w["flags"]}, w["flags"]
    assert got["feb"]["workers"] and all(w["visits"] == 2 for w in got["feb"]["workers"]
                                         if w["person_id"] in persons)
    return got


def test_migration_14_fills_stored_records_in_batches_and_the_report_never_differs(
        backends: tuple[Engine, Engine, str, Path]) -> None:
    engine, reference, _url, _key = backends
    centre = populate(engine, modern=False)
    populate(reference, modern=True)
    want = check_reference(reference, centre)
    reports: list[int] = []

    def report_meanwhile(name: str, rows: int) -> None:
        # another connection, while this batch is written and not committed yet
        if name != "14.records" or not rows:  # the last drops the index: a reader waits
            return
        left = unfilled(engine)
        assert 0 < left <= centre.timed
        assert figures(engine) == want
        reports.append(left)

    assert db.migrate(engine, backfill_batch=7, on_batch=report_meanwhile) == (
        13, db.LATEST_VERSION)
    assert len(reports) >= 10 and reports == sorted(reports, reverse=True)
    assert columns(engine) == columns(reference)
    assert unfilled(engine) == 0
    assert figures(engine) == want
    with engine.connect() as conn:
        assert db.pending_backfills(conn) == []
        state = conn.execute(select(db.backfills).where(
            db.backfills.c.name == "14.records")).mappings().one()
        assert state["rows_done"] == centre.review_records
        names = {i["name"] for i in inspect(conn).get_indexes("records")}
        assert db.REVIEW_BACKFILL_INDEX not in names
        assert set(V14_INDEXES) <= names
        households = {c["name"] for c in inspect(conn).get_columns("households")}
        assert {"lat", "lon"} <= households
    # a second run changes nothing
    before = columns(engine)
    assert db.migrate(engine) == (db.LATEST_VERSION, db.LATEST_VERSION)
    assert columns(engine) == before


def test_the_report_before_the_backfill_reads_payloads(
        backends: tuple[Engine, Engine, str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Migration 14's schema change committed, no batch yet (the process stopped right
    after it): every review record still unfilled, the report the same."""
    engine, reference, _url, _key = backends
    centre = populate(engine, modern=False)
    populate(reference, modern=True)
    want = check_reference(reference, centre)
    monkeypatch.setitem(db.BACKFILLS, "14.records", lambda *_a: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        db.migrate(engine)
    assert unfilled(engine) == centre.timed
    assert figures(engine) == want


def test_an_interrupted_backfill_resumes_and_ends_as_an_uninterrupted_one(
        backends: tuple[Engine, Engine, str, Path], tmp_path: Path) -> None:
    engine, reference, url, key_file = backends
    centre = populate(engine, modern=False)
    populate(reference, modern=True)
    want = check_reference(reference, centre)
    batches = backfill_helpers.cut_mid_batch(engine, "14.records", batch=7, cut_at=4)
    with engine.connect() as conn:
        assert db.current_version(conn) == db.LATEST_VERSION  # the schema is there
        assert db.pending_backfills(conn)[0] == "14.records"  # (15's after it)
        done = conn.execute(select(db.backfills.c.rows_done).where(
            db.backfills.c.name == "14.records")).scalar_one()
        assert done == sum(batches[:3]) > 0  # three batches committed, not the fourth
        filled = conn.execute(select(func.count()).select_from(db.records).where(
            db.records.c.happened_at.is_not(None))).scalar_one()
        assert filled <= done
    assert unfilled(engine) == centre.timed - filled
    assert figures(engine) == want  # the report meanwhile: the payloads of the rest
    backfill_helpers.finish_after_restart(engine, url, tmp_path, key_file, batch=7)
    with engine.connect() as conn:
        assert db.REVIEW_BACKFILL_INDEX not in {
            i["name"] for i in inspect(conn).get_indexes("records")}
    assert columns(engine) == columns(reference)
    assert figures(engine) == want


@pytest.mark.parametrize("before", ["max(records.happened_at)",  # households' last visit
                                    "records.happened_at >=",  # the month's visits
                                    "records.happened_at IS NOT NULL"])  # events' times
def test_a_batch_committing_while_the_report_reads_changes_nothing(
        backends: tuple[Engine, Engine, str, Path], monkeypatch: pytest.MonkeyPatch,
        before: str) -> None:
    """The report reads the records not filled yet, then the filled ones: a batch that
    commits between the two (here: one filling every record, as another server's would,
    just before the report's statement ``before``) makes it see records twice, which
    it counts once."""
    engine, reference, url, key_file = backends
    populate(engine, modern=False)
    populate(reference, modern=True)
    want = figures(reference)
    backfill_helpers.stop_before_backfill(engine, "14.records", monkeypatch)

    def committed(other: Engine) -> None:
        assert unfilled(other) == 0  # the rest of the report reads columns

    got = backfill_helpers.read_while_another_server_fills(
        engine, url, key_file, "14.records", before,
        lambda: report.month_report(engine, MONTH, NOW), committed)
    assert got == want["all"]
