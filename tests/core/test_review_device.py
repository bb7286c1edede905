"""The device's monthly review loads its roster grouped in SQL (``quota_households``,
migration 13): the figures are exactly those of the whole roster handed to the shared
computation one household at a time, for the current month and for months gone by."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from device_fixtures import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldclient.fieldwork import quotas
from fieldclient.fieldwork import review as device_review
from fieldclient.security import crypto
from fieldclient.storage import store
from fieldclient.storage.session import Session
from sync.protocol import quotarules
from sync.protocol import review as shared

ZONE = shared.CHINA
DAY = 86400.0


def at(year: int, month: int, day: int, hour: int = 10) -> float:
    return datetime(year, month, day, hour, tzinfo=ZONE).timestamp()


NOW = at(2026, 12, 20)


def _fill(db: sqlite_utils.Database, rng: random.Random, households: int = 300) -> None:
    """Households of three grids (some without a registration time or a position) and a
    year of visits, some training, some corrections, some after the months asked."""
    with db.conn:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('sync.person', ?)",
                   (json.dumps({"id": 7, "name": "督导", "role": "leader"}),))
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('sync.grids', ?)",
                   (json.dumps(["1", "2", "3"]),))
        for i in range(households):
            created = 0.0 if i % 17 == 0 else NOW - rng.uniform(0, 500) * DAY
            position = (None, None) if i % 11 == 0 else (30 + rng.random() / 100,
                                                          120 + rng.random() / 100)
            db.execute(
                "INSERT INTO households (id, grid_id, head_name, address, category,"
                " created_at, updated_at, lat, lon) VALUES (?, ?, '住户', '庄市街道', ?, ?, ?,"
                " ?, ?)",
                (f"h{i:04d}", str(1 + i % 3), rng.choice(["ordinary", "hardship", "key"]),
                 created, created, *position))
        for i in range(households * 4):
            when = NOW - rng.uniform(0, 400) * DAY
            home = f"h{rng.randrange(households):04d}"
            db.execute(
                "INSERT INTO visits (id, household_id, grid_id, person_id, visit_type,"
                " visited_at, situation, lat, lon, origin, worker, created_at, training,"
                " corrects) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'server', '网格员', ?, ?, ?)",
                (f"v{i:05d}", home, str(1 + int(home[1:]) % 3), str(1 + i % 5),
                 rng.choice(["home", "phone", "revisit"]), when, f"情况{rng.randrange(50)}",
                 30 + rng.random() / 50, 120 + rng.random() / 50, when,
                 int(rng.random() < 0.05),
                 f"v{i - 1:05d}" if i and rng.random() < 0.03 else None))


def _whole_roster(db: sqlite_utils.Database, window: shared.MonthWindow
                  ) -> list[shared.Household]:
    """Every household with its last visit (not training) before the month's end, read
    straight from the registry and the visits (the loader before migration 13)."""
    last = dict(db.execute(
        "SELECT household_id, max(visited_at) FROM visits WHERE training = 0"
        " AND visited_at < ? GROUP BY household_id", (window.until,)).fetchall())
    return [shared.Household(hid, str(grid), category, float(created or 0.0), last.get(hid),
                             lat, lon)
            for hid, grid, category, created, lat, lon in db.execute(
                "SELECT id, grid_id, category, created_at, lat, lon FROM households"
                " WHERE grid_id IS NOT NULL")]


def _reference(session: Session, month: str, grid: str | None = None) -> dict[str, Any]:
    """The figures with the whole roster handed over one household at a time."""
    db = session.db
    window = shared.month_window(month, NOW, ZONE)
    me, _name = device_review._me(db)
    visits, others, _households = device_review._visits(db, me, window)
    events, _reporters = device_review._events(db, me)
    people = [shared.Person(me, "督导", tuple(quotas.worker_grids(db)), None)]
    people += [shared.Person(p, name, tuple(sorted(grids)))
               for p, (name, grids) in sorted(others.items())]
    return shared.month_figures(
        month, people=people, households=_whole_roster(db, window), visits=visits,
        patrols=device_review._patrols(db, me, window), events=events,
        quota_rules=quotas.rules_in_force(db),
        review_rules=device_review.review_rules_in_force(db), now=NOW, zone=ZONE, grid=grid)


def _comparable(result: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(({k: v for k, v in w.items() if k not in ("name", "last_sync")}
                   for w in result["workers"]), key=lambda w: w["person_id"])


def test_grouped_roster_gives_the_figures_of_the_whole_roster(
        session: Session, clock: FakeClock) -> None:
    clock.now = NOW
    _fill(session.db, random.Random(5))
    for month in ("2026-12", "2026-11", "2026-07", "2026-01", "2025-12"):
        for grid in (None, "2"):
            got = device_review.month_figures(session, month, grid, now=NOW, zone=ZONE)
            want = _reference(session, month, grid)
            assert _comparable(got) == _comparable(want), (month, grid)
    overdue = sum(w["overdue_households"] for w in
                  device_review.month_figures(session, "2026-12", now=NOW, zone=ZONE)["workers"])
    assert overdue > 0  # the data exercise the overdue test, not only the visited one


def test_the_roster_copy_follows_every_change(session: Session, clock: FakeClock) -> None:
    """A household moved to another grid, re-categorised or re-positioned, a new one and a
    deleted one: the grouped figures keep matching the registry."""
    clock.now = NOW
    db = session.db
    _fill(db, random.Random(9), households=60)
    with db.conn:
        db.execute("UPDATE households SET grid_id = '3', lat = 31.0, lon = 121.0"
                   " WHERE id = 'h0001'")
        db.execute("UPDATE households SET category = 'key' WHERE id = 'h0002'")
        db.execute("DELETE FROM households WHERE id = 'h0004'")
        db.execute("INSERT INTO households (id, grid_id, head_name, address, category,"
                   " created_at, updated_at, lat, lon) VALUES ('new', '1', '新户', '庄市',"
                   " 'hardship', ?, ?, 30.1, 120.1)", (NOW - 90 * DAY, NOW - 90 * DAY))
    copy = {r[0]: r[1:] for r in db.execute(
        "SELECT h.id, q.grid_id, q.category, q.lat, q.lon FROM households h"
        " JOIN quota_households q ON q.household_rowid = h.rowid")}
    registry = {r[0]: r[1:] for r in db.execute(
        "SELECT id, grid_id, category, lat, lon FROM households")}
    assert copy == registry
    assert db.execute("SELECT count(*) FROM quota_households").fetchone()[0] == len(registry)
    for month in ("2026-12", "2026-10"):
        assert _comparable(device_review.month_figures(session, month, now=NOW, zone=ZONE)) \
            == _comparable(_reference(session, month))


def test_migration_13_fills_grid_and_position_of_an_existing_roster(tmp_path: Path) -> None:
    key = crypto.random_key()
    path = tmp_path / "gridfield.db"
    old = store.open_database(path, key, tmp_path / "backups", target=12)
    with old.conn:
        for i in range(5):
            old.execute(
                "INSERT INTO households (id, grid_id, head_name, address, category,"
                " created_at, updated_at, lat, lon) VALUES (?, ?, '住户', '庄市', 'key',"
                " 1, 1, ?, ?)", (f"h{i}", None if i == 4 else str(i % 2), 30.0 + i, 120.0))
    old.conn.close()
    db = store.open_database(path, key, tmp_path / "backups")
    try:
        rows = db.execute("SELECT h.id, q.grid_id, q.lat, q.lon FROM households h JOIN"
                          " quota_households q ON q.household_rowid = h.rowid"
                          " ORDER BY h.id").fetchall()
        assert rows == [(f"h{i}", None if i == 4 else str(i % 2), 30.0 + i, 120.0)
                        for i in range(5)]
        assert list((tmp_path / "backups").iterdir())  # a backup before migrating
    finally:
        db.conn.close()


_TIMES = st.one_of(st.none(), st.floats(at(2024, 1, 1), NOW), st.just(0.0))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["g1", "g2"]),
                          st.sampled_from(["ordinary", "hardship", "key"]),
                          st.one_of(st.just(0.0), st.floats(at(2024, 1, 1), NOW)),
                          _TIMES), max_size=40),
       st.sampled_from(["2026-12", "2026-09", "2026-06", "2026-01"]))
def test_tallies_count_as_the_households_they_stand_for(
        rows: list[tuple[str, str, float, float | None]], month: str) -> None:
    """Grouping by the thresholds' ranks never changes a count (the shared part)."""
    window = shared.month_window(month, NOW, ZONE)
    homes = [shared.Household(f"h{i}", g, c, reg,
                              None if last is None or last >= window.until else last)
             for i, (g, c, reg, last) in enumerate(rows)]
    rules = quotarules.default_rules()
    thresholds = shared.tally_thresholds(rules, month, NOW, ZONE)
    groups: dict[tuple[str, str, int, int], int] = {}
    for h in homes:
        key = (h.grid_id, h.category, shared.tally_rank(h.registered_at, thresholds),
               shared.tally_rank(h.last_visit_at, thresholds))
        groups[key] = groups.get(key, 0) + 1
    tallies = [shared.HouseholdTally(g, c, shared.tally_value(r, thresholds),
                                     None if s == 0 else shared.tally_value(s, thresholds), n)
               for (g, c, r, s), n in groups.items()]
    people = [shared.Person("1", "甲", ("g1",)), shared.Person("2", "乙", ("g1", "g2"))]
    common: dict[str, Any] = {
        "people": people, "visits": [], "patrols": [], "events": [], "quota_rules": rules,
        "review_rules": shared.default_review_rules(), "now": NOW, "zone": ZONE}
    assert shared.month_figures(month, households=homes, **common) == \
        shared.month_figures(month, households=[], household_tallies=tallies, **common)


# -- the month's reads (issue 13: the month in 500 ms) --------------------------------
def _plain_visits(db: sqlite_utils.Database, me: str, window: shared.MonthWindow
                  ) -> tuple[list[shared.Visit], dict[str, tuple[str, set[str]]],
                             list[shared.Household]]:
    """The month's visits read the plain way, each row converted in Python (the loader
    before it had SQL shape them), and their households from the registry."""
    visits: list[shared.Visit] = []
    others: dict[str, tuple[str, set[str]]] = {}
    hashes = dict(db.execute("SELECT photo_id, sha256 FROM photo_hashes").fetchall())
    for (vid, person, origin, household, kind, when, lat, lon, situation, needs, follow_up,
         photos, corrects, training, worker, grid_id) in db.execute(
            "SELECT id, person_id, origin, household_id, visit_type, visited_at, lat, lon,"
            " situation, needs, follow_up, photos, corrects, training, worker, grid_id"
            " FROM visits WHERE visited_at >= ? AND visited_at < ?"
            " ORDER BY visited_at, rowid",
            (window.start, window.until)):
        if person is None and origin == "local":
            person = me
        if person is None:
            continue
        person = str(person)
        if person != me:
            _name, grids = others.setdefault(person, (str(worker or person), set()))
            if grid_id is not None:
                grids.add(str(grid_id))
        visits.append(shared.Visit(
            vid, person, household, kind, float(when), lat, lon,
            shared.visit_text(situation, needs, follow_up),
            tuple(hashes[p] for p in json.loads(photos) if p in hashes),
            bool(corrects), bool(training)))
    named = {v.household_id for v in visits}
    households = [shared.Household(hid, str(grid), category, float(created or 0.0), None,
                                   lat, lon)
                  for hid, grid, category, created, lat, lon in db.execute(
                      "SELECT id, grid_id, category, created_at, lat, lon FROM households"
                      " WHERE grid_id IS NOT NULL")
                  if hid in named]
    return visits, others, households


def _pulled(db: sqlite_utils.Database, rng: random.Random, n: int) -> None:
    """Colleagues' visits as a pull stores them (sync.pulled_visits): notes with needs
    and follow-ups, photos with their hashes, corrections, training, one from an
    older centre that did not say who, one of a household not on this device."""
    from sync.pulled_visits import save_pulled_visit

    with db.conn:
        for i in range(n):
            when = NOW - rng.uniform(0, 200) * DAY
            photos = [f"ph{i}-{k}" for k in range(rng.randrange(3))]
            save_pulled_visit(db, {
                "id": f"pv{i:04d}", "household_id": f"h{rng.randrange(60):04d}"
                if i % 13 else "elsewhere", "grid_id": str(1 + i % 3),
                "visit_type": rng.choice(["home", "phone", "revisit"]), "visited_at": when,
                "situation": rng.choice(["", "情况稳定", "老人身体尚可，需要复查"]),
                "needs": rng.choice(["", "", "送药"]), "follow_up": rng.choice(["", "下周再来"]),
                "photos": photos,
                "photo_sha256": {p: f"{rng.randrange(4):064x}" for p in photos[:1]},
                "lat": 30.0, "lon": 120.0, "person_id": None if i % 17 == 0 else 20 + i % 4,
                "worker": rng.choice(["王五", "", None]), "training": i % 11 == 0,
                "corrects": f"pv{i - 1:04d}" if i % 7 == 0 and i else None}, when)


def test_the_month_s_visits_are_read_as_each_row_says(session: Session, clock: FakeClock
                                                      ) -> None:
    """The visits shaped in SQL are those converted one by one: text joined from its
    parts, photos by their hashes, corrections and training marked, the device's own
    as its person's, pulled ones as theirs (named by their first visit)."""
    from fieldclient.fieldwork.visits import record_visit

    clock.now = NOW
    db = session.db
    _fill(db, random.Random(21), households=60)
    _pulled(db, random.Random(22), 80)
    clock.now = NOW - 2 * DAY  # in the month so far
    first = record_visit(session, "h0003", visit_type="home", situation="本机走访",
                         needs="轮椅", follow_up="")
    record_visit(session, "h0003", visit_type="home", situation="更正：本机走访",
                 corrects=first)
    record_visit(session, "h0004", visit_type="phone", situation="培训", training=True)
    me, _name = device_review._me(db)
    for month in ("2026-12", "2026-09", "2026-06"):
        window = shared.month_window(month, NOW, ZONE)
        got = device_review._visits(db, me, window)
        want = _plain_visits(db, me, window)
        assert sorted(got[0]) == sorted(want[0]), month
        assert got[1] == want[1], month
        assert sorted(got[2]) == sorted(want[2]), month
    december = device_review._visits(db, me, shared.month_window("2026-12", NOW, ZONE))[0]
    assert {v.person_id for v in december} >= {me, "20", "21"}
    assert any(v.correction for v in december) and any(v.training for v in december)
    assert any(v.photo_sha256 for v in december)
    assert any("\n" in v.text for v in december)  # a need or a follow-up joined


def _tally_plans(session: Session, month: str, grid: str | None = None) -> list[str]:
    """The query plans of the month's roster statements."""
    statements: list[str] = []
    session.db.conn.set_trace_callback(statements.append)
    try:
        device_review.month_figures(session, month, grid, now=NOW, zone=ZONE)
    finally:
        session.db.conn.set_trace_callback(None)
    return [" | ".join(row[3] for row in session.db.execute("EXPLAIN QUERY PLAN " + sql))
            for sql in statements if "FROM quota_households q" in sql]


def test_the_roster_index_follows_every_change_and_the_month_reads_by_it(
        session: Session, clock: FakeClock) -> None:
    """``quota_households_tally`` (migration 19) after new, moved, re-categorised and
    deleted households, visits of the device (a correction, training) and pulled ones
    (a correction, training, a visit before its household): the index holds what the
    table holds, this month's roster is read through it (grouped without sorting the
    households first) and the figures are the whole roster's."""
    from fieldclient.fieldwork.visits import record_visit

    clock.now = NOW
    db = session.db
    _fill(db, random.Random(31), households=90)
    _pulled(db, random.Random(32), 60)
    clock.now = NOW - 2 * DAY
    first = record_visit(session, "h0005", visit_type="home", situation="走访")
    record_visit(session, "h0005", visit_type="home", situation="更正", corrects=first)
    record_visit(session, "h0006", visit_type="home", situation="培训", training=True)
    with db.conn:
        db.execute("UPDATE households SET grid_id = '3', lat = 31.0 WHERE id = 'h0001'")
        db.execute("UPDATE households SET category = 'key' WHERE id = 'h0002'")
        db.execute("UPDATE households SET created_at = ? WHERE id = 'h0007'", (NOW - DAY,))
        db.execute("DELETE FROM households WHERE id = 'h0004'")
        db.execute("INSERT INTO households (id, grid_id, head_name, address, category,"
                   " created_at, updated_at) VALUES ('elsewhere', '2', '后到', '庄市',"
                   " 'hardship', ?, ?)", (NOW - 400 * DAY, NOW - 400 * DAY))
        # registered and visited at the very instants the quota test compares with
        rules = quotas.rules_in_force(db)
        for month in ("2026-12", "2026-08"):
            for i, t in enumerate(shared.tally_thresholds(rules, month, NOW, ZONE)):
                for category in ("ordinary", "hardship", "key"):
                    hid = f"edge-{month}-{i}-{category}"
                    db.execute("INSERT INTO households (id, grid_id, head_name, address,"
                               " category, created_at, updated_at) VALUES (?, '1', '边界',"
                               " '庄市', ?, ?, ?)", (hid, category, t, t))
                    db.execute("INSERT INTO visits (id, household_id, grid_id, person_id,"
                               " visit_type, visited_at, situation, origin, created_at)"
                               " VALUES (?, ?, '1', 1, 'home', ?, '边界', 'server', ?)",
                               (f"v-{hid}", f"h{i:04d}" if category == "key" else hid, t, t))
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    through_index = db.execute(
        "SELECT household_rowid, grid_id, category, created_at, last_visit_at"
        " FROM quota_households INDEXED BY quota_households_tally"
        " WHERE grid_id IS NOT NULL ORDER BY household_rowid").fetchall()
    table = db.execute(
        "SELECT household_rowid, grid_id, category, created_at, last_visit_at"
        " FROM quota_households NOT INDEXED WHERE grid_id IS NOT NULL"
        " ORDER BY household_rowid").fetchall()
    assert through_index == table and len(table) > 90
    for month, grid in (("2026-12", None), ("2026-12", "2"), ("2026-08", None),
                        ("2026-08", "3")):
        plans = _tally_plans(session, month, grid)
        assert len(plans) == 1, plans
        if month == "2026-12":  # this month: through the index, grouped as it goes
            assert "COVERING INDEX quota_households_tally" in plans[0], plans
            assert "SCAN q" not in plans[0], plans
        else:  # a month gone by: the roster in its own order (lookups near each other)
            assert "SCAN q" in plans[0] and "quota_households_tally" not in plans[0], plans
            # each household's last visit from the index alone (migration 20)
            assert "COVERING INDEX visits_household" in plans[0], plans
        got = device_review.month_figures(session, month, grid, now=NOW, zone=ZONE)
        assert _comparable(got) == _comparable(_reference(session, month, grid)), month


def test_migration_19_indexes_an_existing_roster(tmp_path: Path) -> None:
    key = crypto.random_key()
    path = tmp_path / "gridfield.db"
    old = store.open_database(path, key, tmp_path / "backups", target=18)
    _fill(old, random.Random(41), households=50)
    assert old.execute("SELECT count(*) FROM sqlite_master WHERE name ="
                       " 'quota_households_tally'").fetchone() == (0,)
    old.conn.close()
    db = store.open_database(path, key, tmp_path / "backups")
    try:
        assert store.schema_version(db) >= 19
        rows = db.execute(
            "SELECT household_rowid, grid_id, category, created_at, last_visit_at"
            " FROM quota_households INDEXED BY quota_households_tally"
            " WHERE grid_id IS NOT NULL ORDER BY household_rowid").fetchall()
        assert len(rows) == 50 and any(r[4] is not None for r in rows)  # visited ones
        assert rows == db.execute(
            "SELECT household_rowid, grid_id, category, created_at, last_visit_at"
            " FROM quota_households NOT INDEXED WHERE grid_id IS NOT NULL"
            " ORDER BY household_rowid").fetchall()
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert list((tmp_path / "backups").iterdir())  # a backup before migrating
    finally:
        db.conn.close()


def test_migration_20_answers_last_visits_from_the_index(
        tmp_path: Path, clock: FakeClock) -> None:
    """An existing device's visits index gains ``training`` (the plan test above shows
    the months gone by reading last visits from it alone)."""
    key = crypto.random_key()
    path = tmp_path / "gridfield.db"
    old = store.open_database(path, key, tmp_path / "backups", target=19)
    _fill(old, random.Random(43), households=60)
    old.conn.close()
    db = store.open_database(path, key, tmp_path / "backups")
    try:
        assert store.schema_version(db) >= 20
        columns = [r[2] for r in db.execute("PRAGMA index_info(visits_household)")]
        assert columns == ["household_id", "visited_at", "training"]
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.conn.close()
