"""Quotas (走访和巡查频次): rules as data, each household's due date, progress.

A rule says how often: ``{"id", "kind": "visit" | "patrol", "category" (visits
only: ordinary/hardship/key), "period": day|week|month|quarter|year, "times": n}``.
The defaults (domain.md, Penglai) ship in ``resources/quotas/default.json``; the
centre may replace them per district (server setting ``quota_rules``). Centre data
that does not parse is ignored with a logged warning: the defaults apply.

"n times a period" means: the period is split into n equal sub-periods and each
needs one visit (2 a year: January–June and July–December). Sub-periods are whole
months when the months divide evenly, else whole days, else equal parts of a day.

A household's **due date** is the last day of the current sub-period when it has not
been visited in it yet, else the last day of the next one. It is **overdue** when an
earlier sub-period passed without a visit while the household existed (one created
in the current sub-period never is); its due date is then the last day of the first
sub-period missed, so "overdue N days" counts from there. The household's current
category applies (a change takes effect at once). Visits are counted through
``visit_summary`` (kept by a trigger): corrections and training visits do not count,
visits other devices made and the centre sent down do. The figures read
``quota_households`` (category, registration, last visit; kept by triggers, with a
covering index), never the registry itself: fast on 100,000 households.

Calendar arithmetic happens in the device's zone (China Standard Time,
``Asia/Shanghai``, by default), weeks start on Monday: a visit at 2026-12-31 23:30
CST belongs to December 2026 although it is 15:30 UTC.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from fieldclient.devicetime import device_zone
from fieldclient.fieldwork import serverconfig
from fieldclient.i18n import QT_TRANSLATE_NOOP
from sync.protocol.quotarules import (  # the rules and their calendar, shared with the centre
    CATEGORIES,
    DEFAULT_RULES_FILE,
    KINDS,
    MAX_RULES,
    MAX_TIMES,
    PERIOD_MONTHS,
    PERIODS,
    InvalidRules,
    Rule,
    Span,
    _period,
    default_rules,
    household_due_date,
    local_time,
    next_span,
    parse_rules,
    previous_span,
    span_at,
)

if TYPE_CHECKING:
    import sqlite_utils

    from fieldclient.storage.session import Session

log = logging.getLogger("gridfield.quotas")

# The rules and their calendar live in sync.protocol.quotarules (the centre's report
# evaluates them too); these names stay importable from here.
__all__ = [
    "CATEGORIES", "CATEGORY_NAMES", "DEFAULT_RULES_FILE", "KINDS", "MAX_RULES", "MAX_TIMES",
    "PERIODS", "PERIOD_MONTHS", "PERIOD_NAMES", "DueHousehold", "InvalidRules", "QuotaStatus",
    "Rule", "RuleProgress", "Span", "default_rules", "due_households", "household_due",
    "household_due_date", "local_time", "next_span", "parse_rules", "previous_span",
    "quota_status", "rules_in_force", "span_at", "worker_grids",
]

# Their names for people (context "quota"): the CLI and the UI both show these.
CATEGORY_NAMES = {
    "ordinary": QT_TRANSLATE_NOOP("quota", "一般家庭"),
    "hardship": QT_TRANSLATE_NOOP("quota", "困难家庭"),
    "key": QT_TRANSLATE_NOOP("quota", "重点人员"),
}
PERIOD_NAMES = {
    "day": QT_TRANSLATE_NOOP("quota", "每天"),
    "week": QT_TRANSLATE_NOOP("quota", "每周"),
    "month": QT_TRANSLATE_NOOP("quota", "每月"),
    "quarter": QT_TRANSLATE_NOOP("quota", "每季度"),
    "year": QT_TRANSLATE_NOOP("quota", "每年"),
}
@dataclass(frozen=True)
class DueHousehold:
    household_id: str
    head_name: str
    address: str
    category: str
    due_date: date
    overdue: bool
    last_visit_at: float | None
    rule_id: str = ""

    def days_overdue(self, today: date) -> int:
        return max(0, (today - self.due_date).days) if self.overdue else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "household_id": self.household_id, "head_name": self.head_name,
            "address": self.address, "category": self.category,
            "due_date": self.due_date.isoformat(), "overdue": self.overdue,
            "last_visit_at": self.last_visit_at, "rule_id": self.rule_id,
        }


@dataclass(frozen=True)
class RuleProgress:
    """A rule in the current sub-period: ``done`` of ``total`` (households visited or
    grids patrolled). Patrol rules also say which grid is done and, this month, on
    how many days so far there was a patrol."""

    rule: Rule
    span: Span
    done: int
    total: int
    overdue: int = 0
    due_soon: int = 0
    grids: dict[str, bool] = field(default_factory=dict)
    patrol_days: int = 0
    days_so_far: int = 0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.rule.id, "kind": self.rule.kind, "category": self.rule.category,
            "period": self.rule.period, "times": self.rule.times,
            "from": self.span.start.date().isoformat(), "to": self.span.last_day.isoformat(),
            "done": self.done, "total": self.total,
        }
        if self.rule.kind == "visit":
            out.update(overdue=self.overdue, due_soon=self.due_soon)
        else:
            out.update(grids=self.grids, patrol_days=self.patrol_days,
                       days_so_far=self.days_so_far)
        return out


@dataclass(frozen=True)
class QuotaStatus:
    today: date
    rules: list[RuleProgress]
    overdue: int  # households overdue (counted once per rule they fall under)
    due_soon: int  # households due within the window, not overdue
    due: list[DueHousehold]  # the first ones: overdue first, then by due date

    def as_json(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(), "rules": [r.as_json() for r in self.rules],
            "overdue": self.overdue, "due_soon": self.due_soon,
            "households": [d.as_json() for d in self.due],
        }


# -- rules ---------------------------------------------------------------------
def rules_in_force(db: sqlite_utils.Database) -> tuple[Rule, ...]:
    """The centre's rules for this district when valid, else the defaults."""
    data = serverconfig.get(db, serverconfig.QUOTA_RULES)
    if data is None:
        return default_rules()
    try:
        return parse_rules(data)
    except InvalidRules as exc:
        log.warning("the centre's quota rules are invalid (%s); using the defaults", exc)
        return default_rules()


# -- due households -------------------------------------------------------------
# ``quota_households`` (migration 9) holds category, registration time and last
# counted visit per household; its index (category, last_visit_at, created_at) makes
# every query below a range of that index, read in order, so LIMIT stops early. The
# CROSS JOIN keeps that index the outer loop: names are read (by rowid) for listed
# rows only.
_DUE_SELECT = (
    "SELECT h.id, h.head_name, h.address, q.category, q.created_at,"
    " q.last_visit_at FROM quota_households q CROSS JOIN households h"
    " ON h.rowid = q.household_rowid WHERE q.category = :c AND "
)


def _due_rows(
    db: sqlite_utils.Database, rule: Rule, current: Span, zone: tzinfo, horizon: date,
    limit: int | None,
) -> list[DueHousehold]:
    """The households of ``rule`` that are overdue or due by ``horizon``; with
    ``limit``, at least the first ``limit`` of each kind in due-date order."""
    start = current.start_ts(zone)
    previous = previous_span(rule, current).start_ts(zone)
    following = next_span(rule, current)
    cap = "" if limit is None else f" LIMIT {int(limit)}"
    params = {"c": rule.category, "s": start, "p": previous}
    now_due, next_due = (current.last_day, False), (following.last_day, False)
    # (condition, the (due date, overdue) all its rows share, or None: per row)
    conditions: list[tuple[str, tuple[date, bool] | None]] = [
        # overdue, visited before: the longest ago first
        ("q.last_visit_at < :p AND q.created_at < :s ORDER BY q.last_visit_at", None),
        # overdue, never visited: the oldest first
        ("q.last_visit_at IS NULL AND q.created_at < :s ORDER BY q.created_at", None),
    ]
    if current.last_day <= horizon:  # not visited in this sub-period, not overdue
        conditions += [
            # registered in this sub-period, never visited
            ("q.last_visit_at IS NULL AND q.created_at >= :s ORDER BY q.created_at", now_due),
            # visited in the previous sub-period
            ("q.last_visit_at >= :p AND q.last_visit_at < :s ORDER BY q.last_visit_at",
             now_due),
            # registered in this sub-period after an older visit (pulled first)
            ("q.last_visit_at < :p AND q.created_at >= :s ORDER BY q.last_visit_at", now_due),
        ]
    if following.last_day <= horizon:  # visited in this sub-period, due in the next
        conditions.append(("q.last_visit_at >= :s ORDER BY q.last_visit_at", next_due))
    found: list[DueHousehold] = []
    for condition, shared in conditions:
        for hid, name, address, category, created, last in db.execute(
                _DUE_SELECT + condition + cap, params):
            due, overdue = shared or household_due_date(rule, current, last, created, zone)
            if overdue or due <= horizon:
                found.append(DueHousehold(hid, name, address, category, due, overdue,
                                          last, rule.id))
    return found


def _order(items: Iterable[DueHousehold]) -> list[DueHousehold]:
    """Overdue first, then by due date; each household once (its most pressing rule)."""
    ordered = sorted(items, key=lambda d: (not d.overdue, d.due_date, d.last_visit_at or 0.0,
                                            d.head_name))
    seen: set[str] = set()
    out: list[DueHousehold] = []
    for item in ordered:
        if item.household_id not in seen:
            seen.add(item.household_id)
            out.append(item)
    return out


def _now(session: Session, now: float | None) -> float:
    return session.clock() if now is None else now


def due_households(
    session: Session,
    now: float | None = None,
    within_days: int = 7,
    *,
    zone: tzinfo | None = None,
    rules: Sequence[Rule] | None = None,
    limit: int | None = None,
) -> list[DueHousehold]:
    """Households overdue or due within ``within_days`` days (overdue first, then by
    due date); ``limit`` keeps the first ones only (fast on 100,000 households)."""
    zone = zone or device_zone()
    at = _now(session, now)
    today = local_time(at, zone)
    horizon = today.date() + timedelta(days=within_days)
    found: list[DueHousehold] = []
    for rule in rules if rules is not None else rules_in_force(session.db):
        if rule.kind == "visit":
            found += _due_rows(session.db, rule, span_at(rule, today), zone, horizon, limit)
    ordered = _order(found)
    return ordered if limit is None else ordered[:limit]


def household_due(
    session: Session,
    household_id: str,
    now: float | None = None,
    *,
    zone: tzinfo | None = None,
    rules: Sequence[Rule] | None = None,
) -> DueHousehold | None:
    """When the household is due next (None: no rule covers its category)."""
    zone = zone or device_zone()
    at = _now(session, now)
    row = session.db.execute(
        "SELECT h.category, h.created_at, h.head_name, h.address, vs.last_visit_at"
        " FROM households h LEFT JOIN visit_summary vs ON vs.household_id = h.id"
        " WHERE h.id = ?", (household_id,)).fetchone()
    if row is None:
        return None
    category, created, name, address, last = row
    today = local_time(at, zone)
    found: list[DueHousehold] = []
    for rule in rules if rules is not None else rules_in_force(session.db):
        if rule.kind == "visit" and rule.category == category:
            due, overdue = household_due_date(rule, span_at(rule, today), last, created, zone)
            found.append(DueHousehold(household_id, name, address, category, due, overdue,
                                      last, rule.id))
    ordered = _order(found)
    return ordered[0] if ordered else None


# -- progress ------------------------------------------------------------------
def _visit_counts(
    db: sqlite_utils.Database, visit_rules: list[tuple[Rule, float, float]]
) -> dict[str, tuple[int, int, int]]:
    """rule id -> (households, visited this sub-period, overdue): one pass over the
    rule's category in the index of ``quota_households`` (not the registry)."""
    counts: dict[str, tuple[int, int, int]] = {}
    for rule, start, previous in visit_rules:
        total, done, late = db.execute(
            "SELECT count(*), coalesce(sum(last_visit_at >= :s), 0),"
            " coalesce(sum(created_at < :s AND coalesce(last_visit_at, -1) < :p), 0)"
            " FROM quota_households WHERE category = :c",
            {"c": rule.category, "s": start, "p": previous}).fetchone()
        counts[rule.id] = (int(total), int(done), int(late))
    return counts


def worker_grids(db: sqlite_utils.Database) -> list[str]:
    """The grids the centre assigned (enrolled devices), else those patrolled here."""
    row = db.execute("SELECT value FROM meta WHERE key = 'sync.grids'").fetchone()
    try:
        grids = [str(g) for g in json.loads(row[0])] if row else []
    except (TypeError, ValueError):
        grids = []
    if grids:
        return grids
    return [str(g) for (g,) in db.execute(
        "SELECT grid_id FROM patrols GROUP BY grid_id ORDER BY max(started_at) DESC LIMIT 12")]


def _patrol_progress(
    db: sqlite_utils.Database, rule: Rule, current: Span, today: datetime, zone: tzinfo,
    grids: Sequence[str],
) -> RuleProgress:
    start, end = current.start_ts(zone), current.end_ts(zone)
    done_grids = {str(g) for (g,) in db.execute(
        "SELECT DISTINCT grid_id FROM patrols WHERE state = 'finished'"
        " AND finished_at >= ? AND finished_at < ?", (start, end))}
    status = {g: g in done_grids for g in grids}
    month_start, _ = _period("month", today)
    first = month_start.replace(tzinfo=zone).timestamp()
    wanted = set(grids)
    days = {local_time(t, zone).date() for g, t in db.execute(
        "SELECT grid_id, finished_at FROM patrols WHERE state = 'finished'"
        " AND finished_at >= ?", (first,)) if not wanted or str(g) in wanted}
    return RuleProgress(rule, current, sum(status.values()), len(status), grids=status,
                        patrol_days=len(days), days_so_far=today.day)


def quota_status(
    session: Session,
    now: float | None = None,
    *,
    zone: tzinfo | None = None,
    rules: Sequence[Rule] | None = None,
    grids: Sequence[str] | None = None,
    within_days: int = 7,
    sample: int = 20,
) -> QuotaStatus:
    """Everything the Today page and ``fieldclient quota`` show: each rule's progress
    in its current sub-period, how many households are overdue or due soon, and the
    first ``sample`` of them."""
    zone = zone or device_zone()
    at = _now(session, now)
    today = local_time(at, zone)
    horizon = today.date() + timedelta(days=within_days)
    rules = list(rules if rules is not None else rules_in_force(session.db))
    spans = {rule.id: span_at(rule, today) for rule in rules}
    visit_rules = [
        (rule, spans[rule.id].start_ts(zone), previous_span(rule, spans[rule.id]).start_ts(zone))
        for rule in rules if rule.kind == "visit"]
    counts = _visit_counts(session.db, visit_rules)
    if grids is None and any(rule.kind == "patrol" for rule in rules):
        grids = worker_grids(session.db)
    progress: list[RuleProgress] = []
    overdue = due_soon = 0
    found: list[DueHousehold] = []
    for rule in rules:
        current = spans[rule.id]
        if rule.kind == "patrol":
            progress.append(_patrol_progress(session.db, rule, current, today, zone, grids or ()))
            continue
        total, done, late = counts.get(rule.id, (0, 0, 0))
        soon = 0
        if current.last_day <= horizon:
            soon += total - done - late
        if next_span(rule, current).last_day <= horizon:
            soon += done
        progress.append(RuleProgress(rule, current, done, total, overdue=late, due_soon=soon))
        overdue += late
        due_soon += soon
        if sample and (late or soon):
            found += _due_rows(session.db, rule, current, zone, horizon, sample)
    return QuotaStatus(today.date(), progress, overdue, due_soon, _order(found)[:sample])
