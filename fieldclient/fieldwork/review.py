"""The monthly review on the device (督导): this device's data into the shared figures.

API for the Review page and ``fieldclient review``::

    month_figures(session, month=None, grid=None, *, now=None, zone=None) -> dict

``month`` is ``YYYY-MM`` (None: this month; :class:`~sync.protocol.review.InvalidMonth`
otherwise), ``grid`` narrows to one grid. The answer is
:func:`sync.protocol.review.month_figures`'s: ``{"month", "from", "until", "grid",
"workers": [{"person_id", "name", "grid_ids", "patrol_days", "patrol_target",
"patrol_done", "visits", "visits_by_category", "quota", "overdue_households",
"events_reported", "events_closed", "flags": [{"check", "record_id", "reason",
"detail"}], "score", "last_sync"}]}``, worst first. The centre's ``central report``
computes the same from its database, so both show the same numbers for what both hold.
:func:`flag_reason` gives a flag's reason in the user's language.

What the device holds: its own visits, patrols and events, its grids' households (with
the known position the centre sends) and, on a leader's or supervisor's device, the
grids' visits the centre sent down (who made them: ``visits.person_id``) and the
grids' events. People are the enrolled person (with the device's grids) and whoever
made a pulled visit or event (with the grids of their visits). Photos are compared by
the SHA-256 of their content: the device's own photos' (``photos``) and those the
centre sent with the grid's visits and patrols (``photo_hashes``, the patrol's
``photo_sha256``), as ``central report`` compares the ``photo.meta`` records'.
Review rules: the centre's ``review_rules`` setting, else the defaults.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from fieldclient.devicetime import device_zone
from fieldclient.fieldwork import quotas, serverconfig
from fieldclient.gcpause import paused_gc
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate
from sync.protocol import review as shared
from sync.protocol.review import InvalidMonth, InvalidReviewRules

if TYPE_CHECKING:
    import sqlite_utils

    from fieldclient.storage.session import Session

log = logging.getLogger("gridfield.review")

__all__ = ["InvalidMonth", "InvalidReviewRules", "flag_reason", "month_figures",
           "review_rules_in_force"]

# The shared module's reasons, marked for translation (context "review"); a test checks
# they are the same texts.
REASONS = {
    "far_from_home": QT_TRANSLATE_NOOP(
        "review", "走访位置距离住户登记位置{distance_m}米（超过{limit_m}米）"),
    "no_position": QT_TRANSLATE_NOOP("review", "入户走访没有定位"),
    "rapid_visits": QT_TRANSLATE_NOOP(
        "review", "距上一次走访仅{minutes}分钟，两处相距{distance_m}米"),
    "short_patrol": QT_TRANSLATE_NOOP("review", "巡查只有{minutes}分钟（少于{limit}分钟）"),
    "no_track": QT_TRANSLATE_NOOP("review", "巡查几乎没有轨迹：{points}个点，{distance_m}米"),
    "same_photo": QT_TRANSLATE_NOOP("review", "同一张照片已用于记录{first}"),
    "same_text": QT_TRANSLATE_NOOP("review", "与走访记录{first}的内容相同"),
    "night": QT_TRANSLATE_NOOP("review", "夜间走访（{time}）"),
}
THIS_DEVICE = QT_TRANSLATE_NOOP("review", "本机")
REVIEWED_ROLES = frozenset({"worker", "leader"})  # whose work the Review page shows


def flag_reason(flag: dict[str, Any], language: str | None = None) -> str:
    """A flag's reason in the user's language (Chinese: as computed)."""
    template = REASONS.get(str(flag.get("check")))
    if template is None:
        return str(flag.get("reason", ""))
    return translate("review", template, language).format(**flag.get("detail", {}))


def review_rules_in_force(db: sqlite_utils.Database) -> shared.ReviewRules:
    """The centre's review rules for this district when valid, else the defaults."""
    data = serverconfig.get(db, serverconfig.REVIEW_RULES)
    if data is None:
        return shared.default_review_rules()
    try:
        return shared.parse_review_rules(data)
    except InvalidReviewRules as exc:
        log.warning("the centre's review rules are invalid (%s); using the defaults", exc)
        return shared.default_review_rules()


def _meta(db: sqlite_utils.Database, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0])
    except (TypeError, ValueError):
        return None


def _iso(ts: Any) -> str | None:
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
    return None


def _me(db: sqlite_utils.Database) -> tuple[str, str]:
    person = _meta(db, "sync.person")
    if isinstance(person, dict) and person.get("id") is not None:
        return str(person["id"]), str(person.get("name") or "")
    return "", THIS_DEVICE


def _photo_hashes(db: sqlite_utils.Database, ids: Iterable[str]) -> dict[str, str]:
    """photo id -> SHA-256: this device's own photos (``photos``), else those of other
    devices the centre sent with their visits (``photo_hashes``)."""
    wanted = sorted(set(ids))
    found: dict[str, str] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(
            f"SELECT photo_id, sha256 FROM photo_hashes WHERE photo_id IN ({marks})",
            chunk).fetchall())
        found.update(db.execute(
            f"SELECT id, sha256 FROM photos WHERE id IN ({marks})", chunk).fetchall())
    return found


def _photo_list(value: Any) -> list[str]:
    if value == "[]":
        return []
    try:
        items = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return [p for p in items if isinstance(p, str)] if isinstance(items, list) else []


def _visits(db: sqlite_utils.Database, me: str, window: shared.MonthWindow
            ) -> tuple[list[shared.Visit], dict[str, tuple[str, set[str]]],
                       list[shared.Household]]:
    """The month's visits, who made the pulled ones (name, grids), and the households
    they name (:func:`_visited_households`). The rows come shaped as the visits (person
    as text, the text as :func:`sync.protocol.review.visit_text` joins it, no photos as
    NULL): Python builds each visit with no work of its own (it took 130 of the
    month's 700 ms when each row was converted here)."""
    rows = db.execute(
        "SELECT id, CAST(coalesce(person_id, CASE WHEN origin = 'local' THEN :me END)"
        " AS TEXT) AS person, household_id, visit_type, visited_at, lat, lon,"
        " CASE WHEN needs = '' AND follow_up = '' THEN coalesce(situation, '')"
        " ELSE concat_ws(char(10), nullif(situation, ''), nullif(needs, ''),"
        " nullif(follow_up, '')) END, nullif(photos, '[]'), coalesce(corrects, '') <> '',"
        " training <> 0, worker, grid_id FROM visits"
        " WHERE visited_at >= :start AND visited_at < :until"
        " AND person IS NOT NULL"  # NULL: pulled from an older centre that did not say who
        " ORDER BY visited_at",  # the index's order (no sort): each person's first visit
        {"me": me, "start": window.start, "until": window.until}).fetchall()
    photo_ids = {r[0]: _photo_list(r[8]) for r in rows if r[8] is not None}
    hashes = _photo_hashes(db, (p for ids in photo_ids.values() for p in ids))
    Visit = shared.Visit
    visits = [Visit(vid, person, household, kind, when, lat, lon, text,
                    (tuple(hashes[p] for p in photo_ids[vid] if p in hashes)
                     if photos is not None else ()),
                    correction == 1, training == 1)
              for (vid, person, household, kind, when, lat, lon, text, photos, correction,
                   training, _worker, _grid) in rows]
    others: dict[str, tuple[str, set[str]]] = {}
    # each person's name as their first visit of the month gives it
    for person, worker, grid_id in dict.fromkeys(map(itemgetter(1, 11, 12), rows)):
        if person != me:
            _name, grids = others.setdefault(person, (str(worker or person), set()))
            if grid_id is not None:
                grids.add(str(grid_id))
    return visits, others, _visited_households(db, set(map(itemgetter(2), visits)))


def _visited_households(db: sqlite_utils.Database, ids: set[str]) -> list[shared.Household]:
    """The households the month's visits name: category, grid and known position from
    the quota roster, in one statement (the ids as a JSON array, looked up in order
    through the id's covering index, then the roster by rowid: measured 45-50 ms for
    28,000 against 85 ms in chunks of 500 and 150 ms joined to each visit), each row
    shaped as a :class:`sync.protocol.review.Household`."""
    return list(map(shared.Household._make, db.execute(
        "SELECT h.id, CAST(q.grid_id AS TEXT), q.category, coalesce(q.created_at, 0.0),"
        " NULL, q.lat, q.lon"
        " FROM households h JOIN quota_households q ON q.household_rowid = h.rowid"
        " WHERE q.grid_id IS NOT NULL AND h.id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(ids)),))))


def _household_tallies(db: sqlite_utils.Database, window: shared.MonthWindow, now: float,
                       thresholds: tuple[float, ...], grid: str | None = None
                       ) -> list[shared.HouseholdTally]:
    """The roster grouped by grid, category and the intervals its registration and
    last visit (not training) before the month's end fall in, each interval by one CASE
    that stops at the first threshold above (``tally_rank``). ``grid``: only that
    grid's households (the shared computation counts no other).

    This month: kept by triggers (``quota_households``) and read in the order of
    ``quota_households_tally`` (migration 19), so grid and category come grouped. A
    month gone by: the last visit looked up for the households visited since it ended,
    once each, in the roster's own (rowid) order, which keeps those lookups near each
    other in the registry and the visits' household index (in the tally index's order
    they took twice as long)."""
    params: dict[str, Any] = {"until": window.until, "grid": grid}
    params.update((f"t{i}", t) for i, t in enumerate(thresholds))
    where = "q.grid_id IS NOT NULL" if grid is None else "q.grid_id = :grid"

    def rank(value: str) -> str:  # sync.protocol.review.tally_rank, in SQL
        if not thresholds:
            return "0"
        return ("CASE" + "".join(f" WHEN {value} < :t{i} THEN {i}"
                                 for i in range(len(thresholds)))
                + f" ELSE {len(thresholds)} END")

    if window.until < now:
        rows = db.execute(
            "WITH facts AS MATERIALIZED (SELECT q.grid_id AS grid_id,"
            " q.category AS category, coalesce(q.created_at, 0) AS created,"
            " CASE WHEN q.last_visit_at IS NULL THEN -1"
            " WHEN q.last_visit_at < :until THEN q.last_visit_at"
            " ELSE coalesce((SELECT max(v.visited_at) FROM visits v"
            " WHERE v.household_id = (SELECT id FROM households"
            " WHERE rowid = q.household_rowid)"
            " AND v.training = 0 AND v.visited_at < :until), -1) END AS last"
            f" FROM quota_households q NOT INDEXED WHERE {where})"
            f" SELECT grid_id, category, {rank('created')}, {rank('last')}, count(*)"
            " FROM facts GROUP BY 1, 2, 3, 4", params).fetchall()
    else:
        rows = db.execute(
            f"SELECT q.grid_id, q.category, {rank('coalesce(q.created_at, 0)')},"
            f" {rank('coalesce(q.last_visit_at, -1)')}, count(*) FROM quota_households q"
            f" WHERE {where} GROUP BY 1, 2, 3, 4", params).fetchall()
    return [shared.HouseholdTally(str(grid_id), category,
                                  shared.tally_value(born, thresholds),
                                  (None if seen == 0 else shared.tally_value(seen, thresholds)),
                                  count)
            for grid_id, category, born, seen, count in rows]


def _patrols(db: sqlite_utils.Database, me: str, window: shared.MonthWindow
             ) -> list[shared.Patrol]:
    """The device's finished patrols of the month, with the figures its report sent, and
    on a reviewer's device the grid's other patrols the centre sent (``sync_patrols``:
    the report's figures, as ``central report`` reads them)."""
    out = []
    for pid, person, grid, started, finished, distance, data in db.execute(
            "SELECT id, person_id, grid_id, started_at, finished_at, distance_m, data"
            " FROM sync_patrols WHERE finished_at >= ? AND finished_at < ?",
            (window.start, window.until)):
        if started is None or finished is None:
            continue
        try:
            facts = json.loads(data) if data else {}
        except ValueError:
            facts = {}
        if not isinstance(facts, dict):
            facts = {}
        points = facts.get("track_points")
        out.append(shared.Patrol(
            pid, str(person), str(grid), float(started), float(finished),
            float(distance or 0.0),
            points if isinstance(points, int) and not isinstance(points, bool) else 0,
            _pulled_patrol_photos(facts)))
    own = db.execute(
        "SELECT id, grid_id, started_at, finished_at, summary FROM patrols"
        " WHERE state = 'finished' AND finished_at >= ? AND finished_at < ?",
        (window.start, window.until)).fetchall()
    photos = _own_patrol_photos(db, [row[0] for row in own])
    for pid, grid, started, finished, summary in own:
        facts = json.loads(summary) if summary else {}
        out.append(shared.Patrol(
            pid, me, str(grid), float(facts.get("started_at") or started),
            float(facts.get("finished_at") or finished),
            round(float(facts.get("distance_m") or 0.0), 1),
            int(facts.get("track_points") or 0), photos.get(pid, ())))
    return out


def _pulled_patrol_photos(data: dict[str, Any]) -> tuple[str, ...]:
    """The SHA-256 of a pulled patrol's photos: those its report names (as ``central
    report`` counts them), by the hashes the centre sent with it."""
    hashes = data.get("photo_sha256")
    if not isinstance(hashes, dict):
        return ()
    return tuple(hashes[p] for p in dict.fromkeys(_photo_list(data.get("photos")))
                 if isinstance(hashes.get(p), str))


def _own_patrol_photos(db: sqlite_utils.Database, patrol_ids: list[str]
                       ) -> dict[str, tuple[str, ...]]:
    """The SHA-256 of the photos of this device's finished patrols (their checklist
    results' photos: what the patrol's report named)."""
    found: dict[str, list[str]] = {}
    for i in range(0, len(patrol_ids), 500):
        chunk = patrol_ids[i:i + 500]
        for pid, photos in db.execute(
                "SELECT patrol_id, photos FROM checklist_results WHERE photos <> '[]'"
                f" AND patrol_id IN ({','.join('?' * len(chunk))}) ORDER BY recorded_at, id",
                chunk):
            found.setdefault(pid, []).extend(_photo_list(photos))
    hashes = _photo_hashes(db, (p for ids in found.values() for p in ids))
    return {pid: tuple(hashes[p] for p in dict.fromkeys(ids) if p in hashes)
            for pid, ids in found.items()}


def _events(db: sqlite_utils.Database, me: str) -> tuple[list[shared.Event], dict[str, str]]:
    """Events this device reported and those the centre sent (reporter, history)."""
    pulled = {eid: (reporter, created, history) for eid, reporter, created, history in
              db.execute("SELECT id, reporter_id, created_at, history FROM sync_events")}

    def closed(history: Any) -> float | None:
        try:
            entries = json.loads(history) if history else []
        except ValueError:
            return None
        return shared.closed_at((e.get("to_status"), e.get("at")) for e in entries
                                if isinstance(e, dict))

    out: list[shared.Event] = []
    for eid, reported, training in db.execute(
            "SELECT id, reported_at, training FROM events"):
        history = pulled.pop(eid, (None, None, None))[2]
        out.append(shared.Event(eid, me, float(reported), closed(history), bool(training)))
    reporters: dict[str, str] = {}
    for eid, (reporter, created, history) in pulled.items():
        when = shared.iso_time(created)  # the centre's receipt time
        if reporter is None or when is None:
            continue
        reporters[str(reporter)] = str(reporter)
        out.append(shared.Event(eid, str(reporter), when, closed(history)))
    return out, reporters


def _devices(db: sqlite_utils.Database) -> dict[str, tuple[str, tuple[str, ...], str | None]]:
    """The grids' workers and leaders the centre told a reviewer's device about
    (``sync_devices``): name, grids and the last contact of any of their devices."""
    out: dict[str, tuple[str, tuple[str, ...], str | None]] = {}
    for person, name, role, grid_ids, contact in db.execute(
            "SELECT person_id, person_name, role, grid_ids, last_contact FROM sync_devices"
            " ORDER BY last_contact"):
        if role not in REVIEWED_ROLES:
            continue
        try:
            grids = tuple(sorted(str(g) for g in json.loads(grid_ids or "[]")))
        except (TypeError, ValueError):
            grids = ()
        key = str(person)
        _old_name, old_grids, old_contact = out.get(key, ("", (), None))
        out[key] = (str(name or key), tuple(sorted(set(grids) | set(old_grids))),
                    _latest(old_contact, contact))
    return out


def _latest(a: Any, b: Any) -> str | None:
    times = [t for t in (a, b) if isinstance(t, str) and shared.iso_time(t) is not None]
    return max(times, key=lambda t: shared.iso_time(t) or 0.0) if times else None


def month_figures(
    session: Session, month: str | None = None, grid: str | None = None, *,
    now: float | None = None, zone: tzinfo | None = None,
) -> dict[str, Any]:
    """The month's review figures from this device's data (see the module docstring),
    computed without cyclic collections (:mod:`fieldclient.gcpause`: tens of thousands
    of visits as tuples, none of them garbage)."""
    with paused_gc():
        return _month_figures(session, month, grid, now=now, zone=zone)


def _month_figures(
    session: Session, month: str | None, grid: str | None, *,
    now: float | None, zone: tzinfo | None,
) -> dict[str, Any]:
    db = session.db
    zone = zone or device_zone()
    at = session.clock() if now is None else now
    window = shared.month_window(month, at, zone)
    me, my_name = _me(db)
    visits, others, households = _visits(db, me, window)
    events, reporters = _events(db, me)
    person = _meta(db, "sync.person")
    role = person.get("role") if isinstance(person, dict) else None
    people = [] if role == "supervisor" else [  # a supervisor reviews, is not reviewed
        shared.Person(me, my_name, tuple(quotas.worker_grids(db)),
                      _iso(_meta(db, "sync.last_success")))]
    devices = _devices(db)
    for person, (name, grids) in sorted(others.items()):
        known_name, known_grids, contact = devices.pop(person, (name, (), None))
        people.append(shared.Person(person, known_name or name,
                                    tuple(sorted(grids | set(known_grids))), contact))
    for person, (name, device_grids, contact) in sorted(devices.items()):
        if person != me:
            people.append(shared.Person(person, name, device_grids, contact))
    known = {p.id for p in people}
    for reporter in sorted(set(reporters) - known):
        people.append(shared.Person(reporter, reporter, ()))
    quota_rules = quotas.rules_in_force(db)
    thresholds = shared.tally_thresholds(quota_rules, window.month, at, zone)
    return shared.month_figures(
        window.month, people=people,
        households=households,
        household_tallies=_household_tallies(db, window, at, thresholds, grid),
        visits=visits,
        patrols=_patrols(db, me, window), events=events, quota_rules=quota_rules,
        review_rules=review_rules_in_force(db), now=at, zone=zone, grid=grid)
