"""Quota computation: sub-periods, month and year ends in China Standard Time, due
dates and overdue, category changes, what counts as a visit, the centre's rules."""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from device_fixtures import FakeClock

from fieldclient.fieldwork import quotas, serverconfig
from fieldclient.fieldwork.households import create_household, update_household
from fieldclient.fieldwork.quotas import Rule, span_at
from fieldclient.fieldwork.visits import record_visit
from fieldclient.storage.session import Session

CST = ZoneInfo("Asia/Shanghai")
HARDSHIP = Rule("h", "visit", "month", 1, "hardship")
ORDINARY = Rule("o", "visit", "year", 2, "ordinary")


def ts(*parts: int) -> float:
    return datetime(*parts, tzinfo=CST).timestamp()  # type: ignore[misc]


def household(session: Session, clock: FakeClock, at: float, category: str,
              name: str = "张三") -> str:
    clock.now = at
    return create_household(session, name, "庄市街道1组1号", category=category)


def visit(session: Session, clock: FakeClock, household_id: str, at: float, **extra: object) -> str:
    clock.now = at
    return record_visit(session, household_id, visit_type="home", situation="身体好",
                        **extra)  # type: ignore[arg-type]


def progress(session: Session, now: float, rule_id: str) -> quotas.RuleProgress:
    status = quotas.quota_status(session, now)
    return next(r for r in status.rules if r.rule.id == rule_id)


def test_sub_periods_split_the_period_evenly() -> None:
    halves = span_at(ORDINARY, datetime(2026, 3, 15))
    assert (halves.start, halves.end) == (datetime(2026, 1, 1), datetime(2026, 7, 1))
    assert halves.last_day == date(2026, 6, 30)
    assert span_at(ORDINARY, datetime(2026, 7, 1)).start == datetime(2026, 7, 1)
    assert span_at(ORDINARY, datetime(2026, 12, 31, 23, 59)).last_day == date(2026, 12, 31)
    quarter = span_at(Rule("q", "visit", "quarter", 1, "key"), datetime(2026, 11, 2))
    assert (quarter.start, quarter.last_day) == (datetime(2026, 10, 1), date(2026, 12, 31))
    week = span_at(Rule("w", "visit", "week", 1, "key"), datetime(2026, 11, 21, 15))  # Sat
    assert (week.start, week.last_day) == (datetime(2026, 11, 16), date(2026, 11, 22))
    twice_a_month = Rule("m", "visit", "month", 2, "key")
    assert span_at(twice_a_month, datetime(2026, 11, 20)).start == datetime(2026, 11, 16)
    assert span_at(twice_a_month, datetime(2026, 2, 14)).last_day == date(2026, 2, 14)
    twice_a_day = Rule("p", "patrol", "day", 2)
    assert span_at(twice_a_day, datetime(2026, 11, 21, 13)).start == datetime(2026, 11, 21, 12)


def test_month_end_in_china_time(session: Session, clock: FakeClock) -> None:
    late = household(session, clock, ts(2026, 10, 1), "hardship", "晚")
    early = household(session, clock, ts(2026, 10, 1), "hardship", "早")
    december_night = ts(2026, 12, 31, 23, 30)
    january_morning = ts(2027, 1, 1, 0, 10)
    # Both moments are 31 December in UTC.
    assert datetime.fromtimestamp(december_night, UTC).date() == date(2026, 12, 31)
    assert datetime.fromtimestamp(january_morning, UTC).date() == date(2026, 12, 31)
    visit(session, clock, late, december_night)
    december = progress(session, ts(2026, 12, 31, 23, 50), "visit_hardship")
    assert (december.done, december.total) == (1, 2)
    assert december.span.last_day == date(2026, 12, 31)
    visit(session, clock, early, january_morning)
    january = progress(session, ts(2027, 1, 15), "visit_hardship")
    assert (january.done, january.total, january.overdue) == (1, 2, 0)
    due_late = quotas.household_due(session, late, ts(2027, 1, 15))
    due_early = quotas.household_due(session, early, ts(2027, 1, 15))
    assert due_late is not None and due_early is not None
    assert (due_late.due_date, due_late.overdue) == (date(2027, 1, 31), False)
    assert (due_early.due_date, due_early.overdue) == (date(2027, 2, 28), False)


def test_year_end_and_halves(session: Session, clock: FakeClock) -> None:
    first = household(session, clock, ts(2026, 3, 1), "ordinary", "甲")
    second = household(session, clock, ts(2026, 3, 1), "ordinary", "乙")
    never = household(session, clock, ts(2026, 3, 1), "ordinary", "丙")
    visit(session, clock, first, ts(2026, 5, 1))  # first half of 2026
    visit(session, clock, first, ts(2026, 12, 31, 23, 30))  # second half of 2026
    visit(session, clock, second, ts(2027, 1, 1, 0, 10))  # first half of 2027
    now = ts(2027, 1, 10)
    found = {d.household_id: d for d in quotas.due_households(session, now, within_days=365)}
    assert (found[first].due_date, found[first].overdue) == (date(2027, 6, 30), False)
    assert (found[second].due_date, found[second].overdue) == (date(2027, 12, 31), False)
    # Never visited since March 2026: the first half of 2026 was missed.
    assert (found[never].due_date, found[never].overdue) == (date(2026, 6, 30), True)
    assert found[never].days_overdue(date(2027, 1, 10)) == 194
    ordinary = progress(session, now, "visit_ordinary")
    assert (ordinary.done, ordinary.total, ordinary.overdue) == (1, 3, 1)


def test_overdue_due_soon_and_new_households(session: Session, clock: FakeClock) -> None:
    missed = household(session, clock, ts(2026, 10, 5), "hardship", "漏访")
    fresh = household(session, clock, ts(2026, 11, 3), "hardship", "新户")
    visited = household(session, clock, ts(2026, 9, 1), "hardship", "已访")
    visit(session, clock, missed, ts(2026, 9, 20))  # before it existed here: from the centre
    visit(session, clock, visited, ts(2026, 10, 20))
    visit(session, clock, visited, ts(2026, 11, 4))
    now = ts(2026, 11, 10, 9)
    due = quotas.due_households(session, now)
    assert [d.household_id for d in due] == [missed]  # November's end is not this week
    assert due[0].overdue and due[0].due_date == date(2026, 10, 31)
    assert due[0].days_overdue(date(2026, 11, 10)) == 10
    late_month = ts(2026, 11, 26, 9)
    due = quotas.due_households(session, late_month)
    assert [d.household_id for d in due] == [missed, fresh]  # overdue first
    assert (due[1].due_date, due[1].overdue) == (date(2026, 11, 30), False)
    status = quotas.quota_status(session, late_month)
    assert (status.overdue, status.due_soon) == (1, 1)
    assert [d.household_id for d in status.due] == [missed, fresh]


def test_category_change_applies_at_once(session: Session, clock: FakeClock) -> None:
    hid = household(session, clock, ts(2026, 1, 5), "ordinary")
    visit(session, clock, hid, ts(2026, 8, 10))
    now = ts(2026, 11, 10)
    ordinary = quotas.household_due(session, hid, now)
    assert ordinary is not None and (ordinary.due_date, ordinary.overdue) == (
        date(2027, 6, 30), False)  # visited in this half year: due at the end of the next
    clock.now = now
    update_household(session, hid, {"category": "key"})
    key = quotas.household_due(session, hid, now)
    assert key is not None and (key.due_date, key.overdue) == (date(2026, 9, 30), True)
    assert key.rule_id == "visit_key"


def test_corrections_and_training_do_not_count(session: Session, clock: FakeClock) -> None:
    hid = household(session, clock, ts(2026, 9, 1), "hardship")
    original = visit(session, clock, hid, ts(2026, 10, 20))
    visit(session, clock, hid, ts(2026, 11, 2), training=True)
    clock.now = ts(2026, 11, 5)
    record_visit(session, hid, visit_type="phone", situation="更正：电话联系",
                 corrects=original)
    now = ts(2026, 11, 10)
    hardship = progress(session, now, "visit_hardship")
    assert (hardship.done, hardship.total, hardship.overdue) == (0, 1, 0)
    due = quotas.household_due(session, hid, now)
    assert due is not None and due.last_visit_at == ts(2026, 10, 20)
    assert session.db.execute(
        "SELECT visits FROM visit_summary WHERE household_id = ?", (hid,)).fetchone()[0] == 1


def test_centre_rules_override_and_bad_ones_fall_back(
    session: Session, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    hid = household(session, clock, ts(2026, 11, 2), "hardship")
    visit(session, clock, hid, ts(2026, 11, 3))
    weekly = {"rules": [{"id": "weekly", "kind": "visit", "category": "hardship",
                         "period": "week", "times": 1}]}
    with session.db.conn:
        serverconfig.put(session.db, serverconfig.QUOTA_RULES, weekly, 7)
    assert quotas.rules_in_force(session.db) == (Rule("weekly", "visit", "week", 1, "hardship"),)
    now = ts(2026, 11, 12)  # Thursday of the next week
    status = quotas.quota_status(session, now)
    assert [r.rule.id for r in status.rules] == ["weekly"]
    assert status.rules[0].span.last_day == date(2026, 11, 15)
    assert [(d.household_id, d.overdue) for d in status.due] == [(hid, False)]
    for bad in ({"rules": [{"id": "x", "kind": "visit", "period": "fortnight", "times": 1,
                            "category": "key"}]},
                {"rules": [{"id": "x", "kind": "visit", "period": "month", "times": 0,
                            "category": "key"}]},
                {"rules": []}, ["not", "rules"], "garbage"):
        with session.db.conn:
            serverconfig.put(session.db, serverconfig.QUOTA_RULES, bad, 8)
        with caplog.at_level(logging.WARNING, logger="gridfield.quotas"):
            caplog.clear()
            assert quotas.rules_in_force(session.db) == quotas.default_rules()
            assert "invalid" in caplog.text
    assert [r.rule.id for r in quotas.quota_status(session, now).rules] == [
        "patrol_daily", "visit_hardship", "visit_key", "visit_ordinary"]


def test_counts_agree_with_each_household(session: Session, clock: FakeClock) -> None:
    """The one-pass SQL counts and the short lists agree with the rule applied to
    every household on its own (random households, visits, and a 'now')."""
    rng = random.Random(7)
    start = ts(2025, 1, 1)
    ids = []
    for i in range(60):
        hid = household(session, clock, start + rng.uniform(0, 500) * 86400,
                        rng.choice(["ordinary", "hardship", "key"]), f"户{i}")
        ids.append(hid)
        created = clock.now
        for _ in range(rng.randint(0, 4)):
            visit(session, clock, hid, created + rng.uniform(0, 300) * 86400)
    now = ts(2026, 6, 28, 12)
    status = quotas.quota_status(session, now, sample=1000)
    everything = {d.household_id: d for d in quotas.due_households(session, now)}
    expected_overdue = expected_soon = 0
    for hid in ids:
        one = quotas.household_due(session, hid, now)
        assert one is not None
        if one.overdue:
            expected_overdue += 1
        elif one.due_date <= date(2026, 7, 5):
            expected_soon += 1
        if one.overdue or one.due_date <= date(2026, 7, 5):
            assert everything[hid] == one
        else:
            assert hid not in everything
    assert (status.overdue, status.due_soon) == (expected_overdue, expected_soon)
    assert status.due == list(everything.values())
    limited = quotas.due_households(session, now, limit=5)
    assert limited == list(everything.values())[:5]


def test_patrol_rule_progress(session: Session, clock: FakeClock) -> None:
    from fieldclient.fieldwork import patrols

    def patrol(grid: str, at: float) -> None:
        clock.now = at
        p = patrols.start_patrol(session, grid, worker_id="w")
        patrols.finish_patrol(session, p.id, allow_incomplete=True)

    patrol("12", ts(2026, 11, 3, 9))
    patrol("12", ts(2026, 11, 3, 15))
    patrol("13", ts(2026, 11, 5, 23, 50))
    patrol("12", ts(2026, 11, 10, 0, 5))
    daily = progress(session, ts(2026, 11, 10, 18), "patrol_daily")
    assert daily.grids == {"12": True, "13": False}
    assert (daily.done, daily.total, daily.patrol_days, daily.days_so_far) == (1, 2, 3, 10)


def quota_rows(session: Session) -> list[tuple[object, ...]]:
    return session.db.execute(
        "SELECT household_rowid, category, created_at, last_visit_at FROM quota_households"
        " ORDER BY household_rowid").fetchall()


def registry_rows(session: Session) -> list[tuple[object, ...]]:
    """What ``quota_households`` must say: the registry and ``visit_summary``."""
    return session.db.execute(
        "SELECT h.rowid, h.category, h.created_at, vs.last_visit_at FROM households h"
        " LEFT JOIN visit_summary vs ON vs.household_id = h.id ORDER BY h.rowid").fetchall()


def test_quota_table_follows_the_registry(session: Session, clock: FakeClock) -> None:
    """Migration 9's triggers: new, changed and removed households, counted visits,
    a visit pulled before its household, a migration over existing data."""
    from fieldclient.storage.migrations import MIGRATIONS

    first = household(session, clock, ts(2026, 9, 1), "hardship", "甲")
    second = household(session, clock, ts(2026, 9, 2), "ordinary", "乙")
    visit(session, clock, first, ts(2026, 10, 3))
    visit(session, clock, first, ts(2026, 9, 20))  # older: the last visit stays
    visit(session, clock, second, ts(2026, 11, 2), training=True)  # does not count
    clock.now = ts(2026, 11, 3)
    update_household(session, second, {"category": "key"})
    assert quota_rows(session) == registry_rows(session)
    assert quota_rows(session)[0][3] == ts(2026, 10, 3)
    assert quota_rows(session)[1][1:] == ("key", ts(2026, 9, 2), None)
    # A colleague's visit arrives before the household it belongs to (sync order).
    pulled = "0" * 31 + "9"
    with session.db.conn:
        session.db.execute(
            "INSERT INTO visits (id, household_id, visit_type, visited_at, origin,"
            " created_at) VALUES ('v-pulled', ?, 'home', ?, 'server', ?)",
            (pulled, ts(2026, 11, 1), ts(2026, 11, 4)))
        session.db.execute(
            "INSERT INTO households (id, head_name, address, category, created_at,"
            " updated_at) VALUES (?, '丙', '三组3号', 'hardship', ?, ?)",
            (pulled, ts(2026, 8, 1), ts(2026, 11, 4)))
    assert quota_rows(session) == registry_rows(session)
    found = quotas.household_due(session, pulled, ts(2026, 11, 10))
    assert found is not None and found.last_visit_at == ts(2026, 11, 1)
    assert progress(session, ts(2026, 11, 10), "visit_hardship").done == 1
    with session.db.conn:
        session.db.execute("DELETE FROM households WHERE id = ?", (first,))
    assert quota_rows(session) == registry_rows(session)
    # Upgrading a device with data fills the table from the registry.
    with session.db.conn:
        for name in ("households_quota_insert", "households_quota_update",
                     "households_quota_delete", "visit_summary_quota_insert",
                     "visit_summary_quota_update"):
            session.db.execute(f"DROP TRIGGER {name}")
        session.db.execute("DROP TABLE quota_households")
        MIGRATIONS[8].apply(session.db)
    assert MIGRATIONS[8].version == 9
    assert quota_rows(session) == registry_rows(session) and len(quota_rows(session)) == 2


def test_figures_read_the_index_not_the_registry(session: Session, clock: FakeClock) -> None:
    """Every query of the Today page's figures is a range of the covering index of
    ``quota_households``: none scans the registry (1–2 s for 100,000 households
    under SQLCipher); households are read by rowid for the listed rows only."""
    for i, category in enumerate(["ordinary", "hardship", "key"] * 3):
        hid = household(session, clock, ts(2025, 3, 1 + i), category, f"户{i}")
        if i % 2:
            visit(session, clock, hid, ts(2026, 5, 1 + i))
    statements: list[str] = []
    session.db.conn.set_trace_callback(statements.append)
    try:
        status = quotas.quota_status(session, ts(2026, 12, 28, 10), sample=20)
        everything = quotas.due_households(session, ts(2026, 12, 28, 10))
    finally:
        session.db.conn.set_trace_callback(None)
    assert status.overdue + status.due_soon == len(everything) > 0
    figures = [s for s in statements if "quota_households" in s]
    assert len(figures) >= 3 + 3 * 5  # counts per visit rule, due lists per rule
    for sql in figures:
        plan = " | ".join(row[3] for row in session.db.execute("EXPLAIN QUERY PLAN " + sql))
        assert "COVERING INDEX quota_households_due (category=?" in plan, (sql, plan)
        assert "SCAN" not in plan, (sql, plan)
        if "households h" in sql:
            assert "SEARCH h USING INTEGER PRIMARY KEY (rowid=?)" in plan, (sql, plan)


def test_roster_households_of_unknown_registration_are_overdue_since_last_period(
    session: Session, clock: FakeClock
) -> None:
    """A household pulled from the centre's old roster has created_at 0 (registration
    time unknown): never visited, it is overdue since the last sub-period ended, not
    since 1970; one visited last month is not overdue."""
    never = household(session, clock, ts(2026, 11, 1), "hardship", "老户未访")
    visited = household(session, clock, ts(2026, 11, 1), "hardship", "老户已访")
    with session.db.conn:
        session.db.execute("UPDATE households SET created_at = 0")
    visit(session, clock, visited, ts(2026, 10, 12))
    now = ts(2026, 11, 10, 9)
    due = quotas.due_households(session, now)
    assert [d.household_id for d in due] == [never]
    assert due[0].overdue and due[0].due_date == date(2026, 10, 31)
    assert due[0].days_overdue(date(2026, 11, 10)) == 10
    assert quotas.household_due(session, visited, now).overdue is False  # type: ignore[union-attr]
