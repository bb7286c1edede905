"""Quota rules (走访和巡查频次) as data and their calendar: shared by device and centre.

Moved here from :mod:`fieldclient.fieldwork.quotas` (which re-exports every name) so
the centre's monthly report (:mod:`sync.protocol.review`) evaluates the rules exactly
as the device does: one meaning of "overdue", not two. Pure Python, no I/O besides
reading the default rules file in ``resources/quotas/``.

A rule: ``{"id", "kind": "visit" | "patrol", "category" (visits only), "period":
day|week|month|quarter|year, "times": n}``; see the quotas module for what "n times a
period", due dates and "overdue" mean.
"""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

DEFAULT_RULES_FILE = (
    Path(__file__).resolve().parents[2] / "resources" / "quotas" / "default.json"
)
KINDS = ("visit", "patrol")
PERIODS = ("day", "week", "month", "quarter", "year")
CATEGORIES = ("ordinary", "hardship", "key")
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
