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
