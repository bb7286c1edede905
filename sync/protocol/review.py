"""The monthly review figures (督导考核): one computation for the device and the centre.

The device (:mod:`fieldclient.fieldwork.review`, ``fieldclient review``, the Review page)
and the centre (``central report``) each load their own data into the plain inputs
below and call :func:`month_figures`; nothing here reads a database, so the two cannot
count differently.

Inputs: :class:`Person` (with grids and last contact), :class:`Household` (grid,
category, registration time, known position, last visit before the month's end),
:class:`Visit`, :class:`Patrol` (finished ones), :class:`Event`; the quota rules
(:mod:`sync.protocol.quotarules`) and the review rules (:func:`parse_review_rules`,
defaults in ``resources/review/review_rules.json``, the centre's ``review_rules``
setting per district).

What counts (per worker, for the month up to ``now`` when it is the current one):

- ``visits``: the worker's visits in the month, corrections and training left out;
  ``visits_by_category`` by the household's current category.
- ``patrol_days``: days with a finished patrol; ``patrol_target``/``patrol_done``: the
  patrol rules' sub-periods in the month so far and those with a patrol.
- ``overdue_households``: households of the worker's grids overdue at the month's end
  (or now) under the visit rules, the same test as the Today page's quotas;
  ``quota``: per category the households, those visited in the current sub-period, the
  overdue ones.
- ``events_reported``: reported in the month (not training); ``events_closed``: the
  worker's events that reached 办结 (resolved, verified or closed) in the month.
- ``flags``: the checks below, each ``{"check", "record_id", "reason", "detail"}``;
  ``reason`` is Chinese (the device translates it from ``check`` and ``detail``).
- ``score`` (0-100, one decimal): ``patrol × done/target + visits × (1 - overdue /
  households) + events × closed/reported`` (a share with nothing to count is full),
  less ``per_flag`` per flag up to ``max_flag_penalty``. Default weights 40/40/20, 5
  per flag, at most 40.

Checks (thresholds in the review rules; a check missing from them is off). Only counted
visits are checked, and position checks only on-site visits (home, revisit):

- ``far_from_home``: recorded farther than ``max_distance_m`` from the household's
  known position; ``no_position``: an on-site visit with no position.
- ``rapid_visits``: an on-site visit within ``within_minutes`` of the worker's previous
  one and at least ``min_distance_m`` away from it.
- ``short_patrol``: a finished patrol shorter than ``min_minutes``; ``no_track``: fewer
  than ``min_points`` track points or less than ``min_distance_m`` walked.
- ``same_photo``: a photo (SHA-256) already in an earlier visit or patrol of the month.
- ``same_text``: a visit's text (situation, needs, follow-up; at least ``min_chars``
  characters once spaces and punctuation are gone) already written for another
  household's visit earlier in the month.
- ``night``: an on-site visit between ``from_hour`` and ``to_hour`` (local time).

Workers come worst first (lowest score, then most flags). Times are Unix seconds;
calendar arithmetic happens in ``zone`` (China Standard Time by default).
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sync.protocol.quotarules import (
    CATEGORIES,
    Rule,
    local_time,
    next_span,
    previous_span,
    span_at,
)

DEFAULT_REVIEW_RULES_FILE = (
    Path(__file__).resolve().parents[2] / "resources" / "review" / "review_rules.json"
)
CHINA = ZoneInfo("Asia/Shanghai")
ON_SITE_TYPES = ("home", "revisit")
CLOSED_STATUSES = ("resolved", "verified", "closed")  # 办结 and after
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")

# check -> its parameters (name -> (lowest, highest)); an empty dict: none
CHECKS: dict[str, dict[str, tuple[float, float]]] = {
    "far_from_home": {"max_distance_m": (1, 100_000)},
    "no_position": {},
    "rapid_visits": {"within_minutes": (1, 24 * 60), "min_distance_m": (1, 100_000)},
    "short_patrol": {"min_minutes": (1, 24 * 60)},
    "no_track": {"min_points": (0, 100_000), "min_distance_m": (0, 100_000)},
    "same_photo": {},
    "same_text": {"min_chars": (1, 5000)},
    "night": {"from_hour": (0, 23), "to_hour": (0, 23)},
}
SCORE_WEIGHTS = ("patrol", "visits", "events", "per_flag", "max_flag_penalty")

# The reasons as shown, Chinese (source text; fieldclient.fieldwork.review marks the
# same texts for translation, context "review"), filled from the flag's ``detail``.
REASONS: dict[str, str] = {
    "far_from_home": "走访位置距离住户登记位置{distance_m}米（超过{limit_m}米）",
    "no_position": "入户走访没有定位",
    "rapid_visits": "距上一次走访仅{minutes}分钟，两处相距{distance_m}米",
    "short_patrol": "巡查只有{minutes}分钟（少于{limit}分钟）",
    "no_track": "巡查几乎没有轨迹：{points}个点，{distance_m}米",
    "same_photo": "同一张照片已用于记录{first}",
    "same_text": "与走访记录{first}的内容相同",
    "night": "夜间走访（{time}）",
}


class InvalidReviewRules(ValueError):
    """Review rules that do not follow the format (the centre's or a file's)."""


class InvalidMonth(ValueError):
    """A month that is not ``YYYY-MM``."""


@dataclass(frozen=True)
class ReviewRules:
    checks: Mapping[str, Mapping[str, float]]
    score: Mapping[str, float]

    def as_json(self) -> dict[str, Any]:
        return {"checks": {k: dict(v) for k, v in self.checks.items()},
                "score": dict(self.score)}


class Person(NamedTuple):
    id: str
    name: str
    grid_ids: tuple[str, ...]
    last_sync: str | None = None  # ISO time of the person's devices' last contact


class Household(NamedTuple):
    id: str
    grid_id: str
    category: str
    registered_at: float  # 0: on the roster since before registration times were kept
    last_visit_at: float | None  # the last visit (not training) before the month's end
    lat: float | None = None  # the household's known position (WGS-84)
    lon: float | None = None


class HouseholdTally(NamedTuple):
    """``number`` households of a grid and category whose registration and last visit
    fall in the same intervals between :func:`tally_thresholds`: the quota test
    compares them with those times only, so they count alike. A loader that groups
    in SQL passes these instead of every household (:func:`tally_value` gives a
    group's stand-in time)."""

    grid_id: str
    category: str
    registered_at: float
    last_visit_at: float | None
    number: int = 1  # how many households


class Visit(NamedTuple):
    id: str
    person_id: str
    household_id: str
    visit_type: str
    visited_at: float
    lat: float | None = None
    lon: float | None = None
    text: str = ""
    photo_sha256: tuple[str, ...] = ()
    correction: bool = False
    training: bool = False


class Patrol(NamedTuple):
    id: str
    person_id: str
    grid_id: str
    started_at: float
    finished_at: float
    distance_m: float
    track_points: int
    photo_sha256: tuple[str, ...] = ()


class Event(NamedTuple):
    id: str
    person_id: str
    reported_at: float
    closed_at: float | None = None
    training: bool = False


@dataclass(frozen=True)
class MonthWindow:
    """The month ``start`` ≤ t < ``until`` (its end, or ``now`` when earlier)."""

    month: str
    start: float
    end: float
    until: float


@dataclass
class _Worker:
    person: Person
    visits: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    patrol_days: set[str] = field(default_factory=set)
    patrol_done: set[tuple[str, datetime]] = field(default_factory=set)
    events_reported: int = 0
    events_closed: int = 0
    flags: list[dict[str, Any]] = field(default_factory=list)


# -- rules ---------------------------------------------------------------------------
def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or not low <= value <= high:
        raise InvalidReviewRules(f"{where} must be a number from {low:g} to {high:g}")
    return int(value) if isinstance(value, int) else float(value)


def parse_review_rules(data: Any) -> ReviewRules:
    """``{"checks": {name: {param: n}}, "score": {weight: n}}``; raises
    :class:`InvalidReviewRules` saying what is wrong."""
    if not isinstance(data, dict) or set(data) != {"checks", "score"}:
        raise InvalidReviewRules('expected {"checks": {...}, "score": {...}}')
    checks, score = data["checks"], data["score"]
    if not isinstance(checks, dict):
        raise InvalidReviewRules("checks must be an object")
    parsed: dict[str, dict[str, float]] = {}
    for name, params in checks.items():
        known = CHECKS.get(name)
        if known is None:
            raise InvalidReviewRules(f"unknown check {name!r}; one of {', '.join(CHECKS)}")
        if not isinstance(params, dict) or set(params) != set(known):
            raise InvalidReviewRules(
                f"checks.{name} must be an object with {', '.join(known) or 'no keys'}")
        parsed[name] = {key: _number(params[key], f"checks.{name}.{key}", *known[key])
                        for key in known}
    if not isinstance(score, dict) or set(score) != set(SCORE_WEIGHTS):
        raise InvalidReviewRules(f"score must be an object with {', '.join(SCORE_WEIGHTS)}")
    weights = {key: _number(score[key], f"score.{key}", 0, 100) for key in SCORE_WEIGHTS}
    if weights["patrol"] + weights["visits"] + weights["events"] != 100:
        raise InvalidReviewRules("score.patrol + score.visits + score.events must be 100")
    return ReviewRules(parsed, weights)


@functools.lru_cache(maxsize=1)
def default_review_rules() -> ReviewRules:
    return parse_review_rules(json.loads(DEFAULT_REVIEW_RULES_FILE.read_text("utf-8")))


# -- the month -----------------------------------------------------------------------
def month_window(month: str | None, now: float, zone: tzinfo = CHINA) -> MonthWindow:
    """The month ``YYYY-MM`` (None: the one containing ``now``) in ``zone``."""
    if month is None:
        month = local_time(now, zone).strftime("%Y-%m")
    found = MONTH_RE.match(month)
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1970:
        raise InvalidMonth(month)
    year, number = int(found.group(1)), int(found.group(2))
    first = datetime(year, number, 1, tzinfo=zone)
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    start, end = first.timestamp(), following.timestamp()
    return MonthWindow(month, start, end, max(start, min(end, now)))


def iso_time(text: Any) -> float | None:
    """An ISO 8601 time with its offset (the centre's times) as Unix time; None if not."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def closed_at(history: Iterable[tuple[Any, Any]]) -> float | None:
    """When an event first reached 办结 or later, from its history ``(to_status, at
    ISO time)``; None when it has not."""
    times = [ts for status, at in history
             if status in CLOSED_STATUSES and (ts := iso_time(at)) is not None]
    return min(times) if times else None


def visit_text(*parts: str | None) -> str:
    """A visit's text as the same-text check compares it (situation, needs,
    follow-up): joined; the check drops spaces and punctuation itself."""
    return "\n".join(p for p in parts if p)


_NOT_WORD = re.compile(r"[\W_]+")
_NOT_WORD_NOR_NUL = re.compile(r"[^\w\x00]+")  # and "_", by str.replace: faster


def _normal_text(text: str) -> str:
    """Letters and digits only (spaces, punctuation and symbols dropped), NFKC, lower.
    (Most notes are NFKC already: the quick check spares normalising them.)"""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return _NOT_WORD.sub("", text.lower())


# Chinese notes' fullwidth punctuation and what NFKC makes of it (their compatibility
# decomposition, one character each): replacing them first gives NFKC the same text to
# decompose, and leaves most notes already normalised (the check then spares the pass)
_WIDE_PUNCTUATION = tuple((c, unicodedata.normalize("NFKC", c)) for c in "，：；！？（）")


def _normal_texts(texts: Sequence[str]) -> list[str]:
    """:func:`_normal_text` of each text, in a few calls for all of them instead of
    three per text (a month's notes: a quarter of the checks' time one by one).

    The texts are joined with NUL, which no text here holds (else one by one): NFKC
    never composes or reorders across NUL (a starter that combines with nothing),
    ``lower`` treats it as a word boundary as it does a text's ends (final sigma),
    neither produces one, and the regular expression keeps it to split on."""
    if not texts:
        return []
    joined = "\x00".join(texts)
    if joined.count("\x00") != len(texts) - 1:
        return [_normal_text(t) for t in texts]
    for wide, narrow in _WIDE_PUNCTUATION:  # most notes are NFKC but for these
        joined = joined.replace(wide, narrow)
    if not unicodedata.is_normalized("NFKC", joined):
        joined = unicodedata.normalize("NFKC", joined)
    return _NOT_WORD_NOR_NUL.sub("", joined.lower()).replace("_", "").split("\x00")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


def _surely_within(lat1: float, lon1: float, lat2: float, lon2: float, limit: float) -> bool:
    """Whether two nearby points are certainly closer than ``limit`` metres, by the flat
    (equirectangular) estimate with a wide margin: it saves the exact distance for
    the many visits recorded at the door. False means "compute it"."""
    if abs(lat1) > 70 or abs(lat1 - lat2) > 1 or abs(lon1 - lon2) > 1:
        return False
    dy = math.radians(lat2 - lat1)
    dx = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return 6_371_008.8 * math.sqrt(dx * dx + dy * dy) < 0.9 * limit


class _LocalClock:
    """Local wall times of many instants: the zone's offset looked up once per quarter
    hour (offsets and their changes fall on quarter hours)."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self.blocks: dict[int, datetime] = {}
        self.offsets: dict[int, float] = {}

    def at(self, ts: float) -> datetime:
        block = int(ts // 900)
        base = self.blocks.get(block)
        if base is None:
            base = self.blocks[block] = local_time(block * 900.0, self.zone)
        return base + timedelta(seconds=ts - block * 900.0)

    def offset(self, block: int) -> float:
        """The zone's offset (seconds) in the quarter hour ``block`` (``ts // 900``)."""
        offset = self.offsets.get(block)
        if offset is None:
            base = self.at(block * 900.0)
            offset = self.offsets[block] = (
                base.hour * 3600 + base.minute * 60 + base.second - (block * 900) % 86400)
        return offset

    def hour(self, ts: float) -> int:
        """The local hour of ``ts`` (what :meth:`at` gives, without building a datetime)."""
        return int(((ts + self.offset(int(ts // 900))) % 86400) // 3600)

    def hh_mm(self, ts: float, seconds: float) -> str:
        """``at(ts).strftime("%H:%M")`` given ``seconds``, the local time of day (``(ts
        + offset) % 86400``): from it, but by the datetime in the last microsecond of
        a minute, which ``at`` rounds up into the next one."""
        if seconds % 60 >= 59.999999:
            return self.at(ts).strftime("%H:%M")
        return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}"


def _flag(check: str, record_id: str, **detail: Any) -> dict[str, Any]:
    return {"check": check, "record_id": record_id,
            "reason": REASONS[check].format(**detail), "detail": detail}


# -- the checks ----------------------------------------------------------------------
def _visit_checks(
    visits: Sequence[Visit], households: Mapping[str, Household], rules: ReviewRules,
    zone: tzinfo,
) -> list[tuple[str, dict[str, Any]]]:
    """(person id, flag) for the month's counted visits, in time order. (Called on every
    visit of a month, so written for speed: :func:`_surely_within` and
    :meth:`_LocalClock.hour` inline, the night hours as a set.)"""
    out: list[tuple[str, dict[str, Any]]] = []
    checks = rules.checks
    far, night = checks.get("far_from_home"), checks.get("night")
    rapid = checks.get("rapid_visits")
    no_position = "no_position" in checks
    far_m = far["max_distance_m"] if far is not None else 0.0
    within = 0.9 * far_m  # _surely_within's margin
    # degrees of latitude and of longitude both under this: the flat estimate is under
    # ``within`` (a degree of longitude is never longer than one of latitude)
    box = math.degrees(within / math.sqrt(2) / 6_371_008.8)
    rapid_minutes = rapid["within_minutes"] if rapid is not None else 0.0
    rapid_m = rapid["min_distance_m"] if rapid is not None else 0.0
    night_hours: frozenset[int] = frozenset()
    if night is not None:
        low, high = int(night["from_hour"]), int(night["to_hour"])
        night_hours = frozenset(h for h in range(24) if (
            (h >= low or h < high) if low > high else (low <= h < high)))
    previous: dict[str, tuple[float, float, float, str]] = {}  # time, lat, lon, id
    clock = _LocalClock(zone)
    offsets = clock.offsets
    radians, cos, sqrt = math.radians, math.cos, math.sqrt
    for (vid, person, household, kind, ts, lat, lon, _text, _photos, _correction,
         _training) in visits:
        if kind not in ON_SITE_TYPES:
            continue
        if lat is None or lon is None:
            if no_position:
                out.append((person, _flag("no_position", vid)))
        else:
            home = households.get(household) if far is not None else None
            if home is not None and home.lat is not None and home.lon is not None:
                # _surely_within, inline, after a box inside its circle (what most visits
                # at the door fall in: two subtractions)
                h_lat, h_lon = home.lat, home.lon
                if abs(lat - h_lat) < box and abs(lon - h_lon) < box:
                    near = True
                elif abs(lat) > 70 or abs(lat - h_lat) > 1 or abs(lon - h_lon) > 1:
                    near = False
                else:
                    dy = radians(h_lat - lat)
                    dx = radians(h_lon - lon) * cos(radians((lat + h_lat) / 2))
                    near = 6_371_008.8 * sqrt(dx * dx + dy * dy) < within
                if not near:
                    gap = distance_m(lat, lon, h_lat, h_lon)
                    if gap > far_m:
                        out.append((person, _flag(
                            "far_from_home", vid, distance_m=round(gap), limit_m=far_m)))
            last = previous.get(person)
            if rapid is not None and last is not None:
                minutes = (ts - last[0]) / 60
                if minutes <= rapid_minutes:
                    gap = distance_m(lat, lon, last[1], last[2])
                    if gap >= rapid_m:
                        out.append((person, _flag(
                            "rapid_visits", vid, minutes=round(minutes),
                            distance_m=round(gap), previous=last[3])))
            previous[person] = (ts, lat, lon, vid)
        if night_hours:
            block = int(ts // 900)
            offset = offsets.get(block)
            if offset is None:
                offset = clock.offset(block)
            seconds = (ts + offset) % 86400
            if int(seconds // 3600) in night_hours:
                out.append((person, _flag("night", vid, time=clock.hh_mm(ts, seconds))))
    return out


def _repeat_checks(
    visits: Sequence[Visit], patrols: Sequence[Patrol], rules: ReviewRules
) -> list[tuple[str, dict[str, Any]]]:
    """(person id, flag) for photos and texts already used earlier in the month."""
    out: list[tuple[str, dict[str, Any]]] = []
    if "same_photo" in rules.checks:
        first_use: dict[str, str] = {}
        records = sorted([(v.visited_at, v.id, v.person_id, v.photo_sha256) for v in visits
                          if v.photo_sha256]
                         + [(p.finished_at, p.id, p.person_id, p.photo_sha256)
                            for p in patrols if p.photo_sha256])
        for _at, record_id, person_id, hashes in records:
            reused = sorted({first_use[h] for h in hashes if h in first_use} - {record_id})
            for h in hashes:
                first_use.setdefault(h, record_id)
            if reused:
                out.append((person_id, _flag("same_photo", record_id, first=reused[0])))
    same_text = rules.checks.get("same_text")
    if same_text is not None:
        first_text: dict[str, Visit] = {}
        for v, text in zip(visits, _normal_texts([v.text for v in visits]), strict=True):
            if len(text) < same_text["min_chars"]:
                continue
            first = first_text.setdefault(text, v)
            if first is not v and first.household_id != v.household_id:
                out.append((v.person_id, _flag("same_text", v.id, first=first.id)))
    return out


def _patrol_checks(
    patrols: Sequence[Patrol], rules: ReviewRules
) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    short, track = rules.checks.get("short_patrol"), rules.checks.get("no_track")
    for p in patrols:
        minutes = (p.finished_at - p.started_at) / 60
        if short is not None and minutes < short["min_minutes"]:
            out.append((p.person_id, _flag("short_patrol", p.id, minutes=round(minutes),
                                           limit=short["min_minutes"])))
        if track is not None and (p.track_points < track["min_points"]
                                  or p.distance_m < track["min_distance_m"]):
            out.append((p.person_id, _flag("no_track", p.id, points=p.track_points,
                                           distance_m=round(p.distance_m))))
    return out


# -- household tallies -----------------------------------------------------------------
def _visit_spans(quota_rules: Sequence[Rule], window: MonthWindow, zone: tzinfo
                 ) -> list[tuple[str | None, float, float]]:
    """(category, current sub-period's start, previous one's start) per visit rule, at
    the month's end (or now)."""
    moment = local_time(max(window.start, window.until - 0.001), zone)
    spans = []
    for rule in quota_rules:
        if rule.kind == "visit":
            current = span_at(rule, moment)
            spans.append((rule.category, current.start_ts(zone),
                          previous_span(rule, current).start_ts(zone)))
    return spans


def tally_thresholds(quota_rules: Sequence[Rule], month: str | None, now: float,
                     zone: tzinfo = CHINA) -> tuple[float, ...]:
    """The times (ascending) the quota test compares a household's registration and
    last visit with, for the month: a loader groups households by how many of them
    each time reaches (``rank``: ``sum(t >= threshold)``)."""
    window = month_window(month, now, zone)
    return tuple(sorted({t for _c, current, previous in _visit_spans(quota_rules, window, zone)
                         for t in (current, previous)}))


def tally_value(rank: int, thresholds: Sequence[float]) -> float:
    """A stand-in time for a group: below every threshold for rank 0 (never visited,
    or on the roster since before), else the ``rank``-th threshold itself."""
    if rank <= 0:
        return -1.0
    return float(thresholds[min(rank, len(thresholds)) - 1])


def tally_rank(value: float | None, thresholds: Sequence[float]) -> int:
    """How many thresholds ``value`` reaches (None: never visited, 0)."""
    if value is None:
        return 0
    return sum(1 for t in thresholds if value >= t)


# -- the figures ---------------------------------------------------------------------
def month_figures(
    month: str | None,
    *,
    people: Sequence[Person],
    households: Iterable[Household],
    visits: Iterable[Visit],
    patrols: Iterable[Patrol],
    events: Iterable[Event],
    quota_rules: Sequence[Rule],
    review_rules: ReviewRules,
    now: float,
    zone: tzinfo = CHINA,
    grid: str | None = None,
    household_tallies: Iterable[HouseholdTally] | None = None,
) -> dict[str, Any]:
    """The month's figures per worker, worst first (see the module docstring).
    ``grid``: only the people assigned to it, and only its households count.
    ``household_tallies``: the roster grouped (see :class:`HouseholdTally`); then
    ``households`` need hold only those the month's visits name (their category,
    grid and position). Without it, ``households`` is the whole roster."""
    window = month_window(month, now, zone)
    start, until = window.start, window.until
    chosen = [p for p in people if grid is None or grid in p.grid_ids]
    workers = {p.id: _Worker(p, by_category=dict.fromkeys(CATEGORIES, 0)) for p in chosen}
    grids_wanted = {g for p in chosen for g in p.grid_ids if grid is None or g == grid}
    homes = {h.id: h for h in households}
    if household_tallies is None:
        household_tallies = (HouseholdTally(h.grid_id, h.category, h.registered_at,
                                            h.last_visit_at) for h in homes.values())

    # households: overdue and visited per grid and category, the quota test of
    # sync.protocol.quotarules (overdue: registered before the current sub-period and
    # not visited since the previous one began; see quotas._visit_counts)
    spans = _visit_spans(quota_rules, window, zone)
    per_grid: dict[str, dict[str, list[int]]] = defaultdict(
        lambda: {c: [0, 0, 0] for c in CATEGORIES})
    for h in household_tallies:
        if h.grid_id not in grids_wanted or h.category not in CATEGORIES:
            continue
        ruled = overdue = visited = False
        last = -1.0 if h.last_visit_at is None else h.last_visit_at
        for category, span_start, previous_start in spans:
            if category != h.category:
                continue
            ruled = True
            if last >= span_start:
                visited = True
            elif h.registered_at < span_start and last < previous_start:
                overdue = True
        if ruled:
            counts = per_grid[h.grid_id][h.category]
            counts[0] += h.number
            counts[1] += h.number * int(visited and not overdue)
            counts[2] += h.number * int(overdue)

    # visits of the month, counted ones only, in time order
    counted = [v for v in visits if not v.training and not v.correction
               and start <= v.visited_at < until and v.person_id in workers]
    if grid is not None:
        counted = [v for v in counted if (home := homes.get(v.household_id)) is not None
                   and home.grid_id == grid]
    counted.sort(key=attrgetter("visited_at", "id"))
    # (person, category) -> visits, counted in C (a month's visits one by one in Python
    # took a tenth of the figures' time); first seen first, as one by one
    category_of = {h.id: h.category for h in homes.values()}
    for (person_id, category), number in Counter(zip(
            map(attrgetter("person_id"), counted),
            map(category_of.get, map(attrgetter("household_id"), counted),
                repeat("unknown")), strict=True)).items():
        visitor = workers[person_id]
        visitor.visits += number
        visitor.by_category[category] = visitor.by_category.get(category, 0) + number

    finished = sorted((p for p in patrols if start <= p.finished_at < until
                       and p.person_id in workers and (grid is None or p.grid_id == grid)),
                      key=lambda p: (p.finished_at, p.id))
    patrol_rules = [r for r in quota_rules if r.kind == "patrol"]
    for patrol in finished:
        doer = workers[patrol.person_id]
        at = local_time(patrol.finished_at, zone)
        doer.patrol_days.add(at.date().isoformat())
        for rule in patrol_rules:
            doer.patrol_done.add((rule.id, span_at(rule, at).start))
    target = 0
    month_start = local_time(start, zone)
    for rule in patrol_rules:
        span = span_at(rule, month_start)
        while span.start_ts(zone) < until:
            target += 1
            span = next_span(rule, span)

    for e in events:
        reporter = workers.get(e.person_id)
        if reporter is None or e.training:
            continue
        if start <= e.reported_at < until:
            reporter.events_reported += 1
        if e.closed_at is not None and start <= e.closed_at < until:
            reporter.events_closed += 1

    for person_id, flag in (_visit_checks(counted, homes, review_rules, zone)
                            + _repeat_checks(counted, finished, review_rules)
                            + _patrol_checks(finished, review_rules)):
        if person_id in workers:
            workers[person_id].flags.append(flag)

    weights = review_rules.score
    out: list[dict[str, Any]] = []
    for w in workers.values():
        quota = {c: {"households": 0, "visited": 0, "overdue": 0} for c in CATEGORIES}
        for g in w.person.grid_ids:
            if g in grids_wanted and g in per_grid:
                for c, (total, seen, late) in per_grid[g].items():
                    quota[c]["households"] += total
                    quota[c]["visited"] += seen
                    quota[c]["overdue"] += late
        households_total = sum(q["households"] for q in quota.values())
        late_total = sum(q["overdue"] for q in quota.values())
        done = len(w.patrol_done)
        patrol_share = min(1.0, done / target) if target else 1.0
        visit_share = 1 - late_total / households_total if households_total else 1.0
        event_share = (min(1.0, w.events_closed / w.events_reported)
                       if w.events_reported else 1.0)
        penalty = min(weights["max_flag_penalty"], weights["per_flag"] * len(w.flags))
        score = (weights["patrol"] * patrol_share + weights["visits"] * visit_share
                 + weights["events"] * event_share - penalty)
        w.flags.sort(key=lambda f: (f["check"], f["record_id"]))
        out.append({
            "person_id": w.person.id, "name": w.person.name,
            "grid_ids": [g for g in w.person.grid_ids if grid is None or g == grid],
            "patrol_days": len(w.patrol_days), "patrol_target": target,
            "patrol_done": done, "visits": w.visits,
            "visits_by_category": w.by_category, "quota": quota,
            "overdue_households": late_total, "events_reported": w.events_reported,
            "events_closed": w.events_closed, "flags": w.flags,
            "score": round(max(0.0, min(100.0, score)), 1), "last_sync": w.person.last_sync,
        })
    out.sort(key=lambda r: (r["score"], -len(r["flags"]), r["name"], r["person_id"]))
    return {"month": window.month,
            "from": local_time(start, zone).date().isoformat(),
            "until": local_time(until, zone).isoformat(timespec="seconds"),
            "grid": grid, "workers": out}


def counts_as_visit(training: Any, corrects: Any) -> bool:
    """Whether a visit counts (not training, not a correction): both sides' loaders."""
    return not training and not corrects
