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

import functools
import itertools
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldclient.devicetime import device_zone
from fieldclient.fieldwork import serverconfig
from fieldclient.i18n import QT_TRANSLATE_NOOP

if TYPE_CHECKING:
    import sqlite_utils

    from fieldclient.storage.session import Session

log = logging.getLogger("gridfield.quotas")

DEFAULT_RULES_FILE = (
    Path(__file__).resolve().parents[2] / "resources" / "quotas" / "default.json"
)
KINDS = ("visit", "patrol")
PERIODS = ("day", "week", "month", "quarter", "year")
CATEGORIES = ("ordinary", "hardship", "key")
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
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
MAX_TIMES = 1000
MAX_RULES = 100


class InvalidRules(ValueError):
    """Rules data that does not follow the format (the centre's or a file's)."""


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    period: str
    times: int
    category: str | None = None


@dataclass(frozen=True)
class Span:
    """One sub-period, in the zone's wall-clock time: ``start`` ≤ t < ``end``."""

    start: datetime
    end: datetime

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date()

    def start_ts(self, zone: tzinfo) -> float:
        return self.start.replace(tzinfo=zone).timestamp()

    def end_ts(self, zone: tzinfo) -> float:
        return self.end.replace(tzinfo=zone).timestamp()


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


# -- the zone ------------------------------------------------------------------
def local_time(ts: float, zone: tzinfo) -> datetime:
    """Unix time as naive wall-clock time in ``zone``."""
    return datetime.fromtimestamp(ts, zone).replace(tzinfo=None)


# -- rules ---------------------------------------------------------------------
def parse_rules(data: Any) -> tuple[Rule, ...]:
    """``{"rules": [...]}`` as rules; :class:`InvalidRules` says what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise InvalidRules('expected {"rules": [...]}')
    items = data["rules"]
    if not items or len(items) > MAX_RULES:
        raise InvalidRules(f"expected 1 to {MAX_RULES} rules")
    rules: list[Rule] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidRules(f"rule {index} is not an object")
        rule_id, kind, period = item.get("id"), item.get("kind"), item.get("period")
        times, category = item.get("times"), item.get("category")
        if not isinstance(rule_id, str) or not rule_id.strip() or len(rule_id) > 64:
            raise InvalidRules(f"rule {index}: id must be a short text")
        if kind not in KINDS:
            raise InvalidRules(f"rule {rule_id}: kind must be one of {KINDS}")
        if period not in PERIODS:
            raise InvalidRules(f"rule {rule_id}: period must be one of {PERIODS}")
        if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_TIMES:
            raise InvalidRules(f"rule {rule_id}: times must be a whole number from 1")
        if kind == "visit" and category not in CATEGORIES:
            raise InvalidRules(f"rule {rule_id}: category must be one of {CATEGORIES}")
        if kind == "patrol" and category is not None:
            raise InvalidRules(f"rule {rule_id}: a patrol rule has no category")
        if any(r.id == rule_id for r in rules):
            raise InvalidRules(f"rule id {rule_id} appears twice")
        rules.append(Rule(rule_id, kind, period, times, category))
    return tuple(rules)


@functools.lru_cache(maxsize=1)
def default_rules() -> tuple[Rule, ...]:
    return parse_rules(json.loads(DEFAULT_RULES_FILE.read_text(encoding="utf-8")))


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


# -- calendar ------------------------------------------------------------------
def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=1)


def _period(period: str, moment: datetime) -> tuple[datetime, datetime]:
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight, midnight + timedelta(days=1)
    if period == "week":
        start = midnight - timedelta(days=midnight.weekday())
        return start, start + timedelta(days=7)
    months = PERIOD_MONTHS[period]
    first = midnight.replace(day=1)
    start = _add_months(first, -((first.month - 1) % months))
    return start, _add_months(start, months)


def _boundaries(period: str, times: int, start: datetime, end: datetime) -> list[datetime]:
    months = PERIOD_MONTHS.get(period, 0)
    if months and months % times == 0:
        return [_add_months(start, k * months // times) for k in range(times + 1)]
    days = (end - start).days
    if days % times == 0:
        return [start + timedelta(days=k * days // times) for k in range(times + 1)]
    length = end - start
    return [start + length * k / times for k in range(times)] + [end]


def span_at(rule: Rule, moment: datetime) -> Span:
    """The sub-period of ``rule`` containing the wall-clock time ``moment``."""
    start, end = _period(rule.period, moment)
    if rule.times == 1:
        return Span(start, end)
    bounds = _boundaries(rule.period, rule.times, start, end)
    for low, high in itertools.pairwise(bounds):
        if low <= moment < high:
            return Span(low, high)
    return Span(bounds[-2], bounds[-1])  # unreachable: the bounds cover the period


def next_span(rule: Rule, span: Span) -> Span:
    return span_at(rule, span.end)


def previous_span(rule: Rule, span: Span) -> Span:
    return span_at(rule, span.start - timedelta(microseconds=1))


def household_due_date(
    rule: Rule, current: Span, last_visit_at: float | None, created_at: float, zone: tzinfo
) -> tuple[date, bool]:
    """(due date, overdue) of one household under ``rule`` (see the module docstring)."""
    if last_visit_at is not None and last_visit_at >= current.start_ts(zone):
        return next_span(rule, current).last_day, False
    # created_at 0: on the centre's roster since before it kept registration times;
    # overdue since the last sub-period, not since 1970.
    first_missed = (span_at(rule, local_time(created_at, zone)) if created_at > 0
                    else previous_span(rule, current))
    if last_visit_at is not None:
        after_visit = next_span(rule, span_at(rule, local_time(last_visit_at, zone)))
        if after_visit.start > first_missed.start:
            first_missed = after_visit
    if first_missed.start >= current.start:
        return current.last_day, False
    return first_missed.last_day, True


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
