"""What the Review page (督导) shows besides the month's figures: months to pick, the
six months' trend, a worker's visits and patrols of the month, a household's history,
and the assessment as XLSX.

API (Qt-free; the page runs the slow ones off the UI thread)::

    this_month(session, zone=None) -> "YYYY-MM"
    shift_month("2026-03", -1) -> "2026-02";  last_months("2026-03", 6) -> oldest first
    trend(session, month, grid=None, months=6, now=None, zone=None) -> [month_figures...]
    worker_visits(session, person_id, month, grid=None, zone=None) -> [VisitRow]
    worker_patrols(session, person_id, month, grid=None, zone=None) -> [PatrolRow]
    household_history(session, household_id) -> [VisitRow] (oldest first)
    to_xlsx(figures, grid_names=None) -> bytes  (the same numbers as ``month_figures``)

A visit's or patrol's ``flags`` are the month's flags on that record (from the
figures), so the drill-down marks them with their reason.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from fieldclient.devicetime import device_zone
from fieldclient.fieldwork import review
from sync.protocol import review as shared

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

MEASURES = ("score", "patrol_days", "visits", "overdue_households", "events_reported",
            "events_closed", "flags")
CATEGORIES = ("ordinary", "hardship", "key")


@dataclass(frozen=True)
class VisitRow:
    id: str
    person_id: str | None
    worker: str
    household_id: str
    head_name: str
    address: str
    category: str
    home_lat: float | None
    home_lon: float | None
    visit_type: str
    visited_at: float
    lat: float | None
    lon: float | None
    people_met: str
    situation: str
    needs: str
    follow_up: str
    photos: tuple[str, ...]
    corrects: str | None
    training: bool
    origin: str
    flags: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class PatrolRow:
    id: str
    person_id: str
    grid_id: str
    started_at: float
    finished_at: float
    distance_m: float
    items_total: int | None
    items_done: int | None
    problems: int | None
    results: list[dict[str, Any]]
    track: list[list[tuple[float, float, float]]]  # parts of (t, lat, lon)
    own: bool  # this device's patrol (not pulled)
    flags: tuple[dict[str, Any], ...] = field(default=())

    @property
    def points(self) -> int:
        return sum(len(part) for part in self.track)


def this_month(session: Session, zone: tzinfo | None = None) -> str:
    return shared.month_window(None, session.clock(), zone or device_zone()).month


def shift_month(month: str, delta: int) -> str:
    year, number = (int(x) for x in month.split("-"))
    index = year * 12 + number - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def last_months(month: str, count: int) -> list[str]:
    """``count`` months ending with ``month``, oldest first."""
    return [shift_month(month, -i) for i in range(count - 1, -1, -1)]


def trend(session: Session, month: str, grid: str | None = None, months: int = 6, *,
          now: float | None = None, zone: tzinfo | None = None) -> list[dict[str, Any]]:
    """The figures of the ``months`` months ending with ``month``, oldest first."""
    return [review.month_figures(session, m, grid, now=now, zone=zone)
            for m in last_months(month, months)]


def _flags_by_record(figures: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for worker in (figures or {}).get("workers", []):
        for flag in worker["flags"]:
            out.setdefault(str(flag["record_id"]), []).append(flag)
    return out


_VISIT_SELECT = (
    "SELECT v.id, v.person_id, v.origin, coalesce(v.worker, ''), v.household_id,"
    " coalesce(h.head_name, ''), coalesce(h.address, ''), coalesce(h.category, ''), h.lat, h.lon,"
    " v.visit_type, v.visited_at, v.lat, v.lon, v.people_met, v.situation, v.needs,"
    " v.follow_up, v.photos, v.corrects, v.training FROM visits v"
    " LEFT JOIN households h ON h.id = v.household_id")


def _visit_rows(rows: list[Any], me: str, flags: dict[str, list[dict[str, Any]]]
                ) -> list[VisitRow]:
    out = []
    for (vid, person, origin, worker, hid, head, address, category, hlat, hlon, kind, when,
         lat, lon, met, situation, needs, follow_up, photos, corrects, training) in rows:
        who = str(person) if person is not None else (me if origin == "local" else None)
        out.append(VisitRow(
            vid, who, worker, hid, head, address, category, hlat, hlon, kind, float(when),
            lat, lon, met or "", situation or "", needs or "", follow_up or "",
            tuple(review._photo_list(photos)), corrects, bool(training), origin,
            tuple(flags.get(vid, ()))))
    return out


def _me(session: Session) -> str:
    return review._me(session.db)[0]


def worker_visits(session: Session, person_id: str, month: str, grid: str | None = None,
                  *, figures: dict[str, Any] | None = None, zone: tzinfo | None = None
                  ) -> list[VisitRow]:
    """The person's visits of the month (corrections and training too, marked), newest
    first; ``figures`` (the month's) marks the flagged ones."""
    window = shared.month_window(month, session.clock(), zone or device_zone())
    me = _me(session)
    where = " WHERE v.visited_at >= ? AND v.visited_at < ? AND "
    params: list[Any] = [window.start, window.end]
    if person_id == me:
        where += "(v.person_id = ? OR (v.person_id IS NULL AND v.origin = 'local'))"
    else:
        where += "v.person_id = ?"
    params.append(person_id)
    if grid is not None:
        where += " AND h.grid_id = ?"
        params.append(grid)
    rows = session.db.execute(_VISIT_SELECT + where + " ORDER BY v.visited_at DESC, v.id",
                              params).fetchall()
    return _visit_rows(rows, me, _flags_by_record(figures))


def household_history(session: Session, household_id: str, *,
                      figures: dict[str, Any] | None = None) -> list[VisitRow]:
    """Every visit of the household here (anyone's), oldest first."""
    rows = session.db.execute(_VISIT_SELECT + " WHERE v.household_id = ?"
                              " ORDER BY v.visited_at, v.id", (household_id,)).fetchall()
    return _visit_rows(rows, _me(session), _flags_by_record(figures))


def _track(value: Any) -> list[list[tuple[float, float, float]]]:
    try:
        parts = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    out = []
    for part in parts if isinstance(parts, list) else []:
        line = [(float(p[0]), float(p[1]), float(p[2])) for p in part
                if isinstance(p, list | tuple) and len(p) >= 3
                and all(isinstance(x, int | float) for x in p[:3])] \
            if isinstance(part, list) else []
        if line:
            out.append(line)
    return out


def worker_patrols(session: Session, person_id: str, month: str, grid: str | None = None,
                   *, figures: dict[str, Any] | None = None, zone: tzinfo | None = None
                   ) -> list[PatrolRow]:
    """The person's finished patrols of the month with their tracks, newest first."""
    from fieldclient.fieldwork import tracks

    window = shared.month_window(month, session.clock(), zone or device_zone())
    flags = _flags_by_record(figures)
    out: list[PatrolRow] = []
    query = ("SELECT id, grid_id, started_at, finished_at, distance_m, items_total, items_done,"
             " problems, results, track FROM sync_patrols WHERE person_id = ?"
             " AND finished_at >= ? AND finished_at < ?")
    params: list[Any] = [int(person_id) if person_id.isdigit() else -1, window.start,
                         window.end]
    if grid is not None:
        query += " AND grid_id = ?"
        params.append(grid)
    for (pid, grid_id, started, finished, distance, total, done, problems, results,
         track) in session.db.execute(query, params):
        try:
            items = json.loads(results or "[]")
        except ValueError:
            items = []
        out.append(PatrolRow(pid, person_id, str(grid_id), float(started or finished),
                             float(finished), float(distance or 0.0), total, done, problems,
                             items if isinstance(items, list) else [], _track(track), False,
                             tuple(flags.get(pid, ()))))
    if person_id == _me(session):
        query = ("SELECT id, grid_id, started_at, finished_at, summary FROM patrols"
                 " WHERE state = 'finished' AND finished_at >= ? AND finished_at < ?")
        params = [window.start, window.end]
        if grid is not None:
            query += " AND grid_id = ?"
            params.append(grid)
        for pid, grid_id, started, finished, summary in session.db.execute(query, params)\
                .fetchall():
            facts = json.loads(summary) if summary else {}
            parts = [[(f.t, f.lat, f.lon) for f in part]
                     for info in tracks.patrol_tracks(session, pid)
                     for part in tracks.load_track_points(session, info.track_id)]
            out.append(PatrolRow(
                pid, person_id, str(grid_id), float(started), float(finished),
                float(facts.get("distance_m") or 0.0), facts.get("items_total"),
                facts.get("items_done"), facts.get("problems"), [],
                [p for p in parts if p], True, tuple(flags.get(pid, ()))))
    out.sort(key=lambda p: (-p.finished_at, p.id))
    return out


# -- the assessment as XLSX ---------------------------------------------------------------

HEADINGS = ("人员编号", "姓名", "网格", "得分", "巡查天数", "应巡查", "已巡查", "走访次数",
            "一般家庭", "困难家庭", "重点人员", "逾期户数", "上报事件", "办结事件", "疑点",
            "最近同步")


def table_row(w: dict[str, Any]) -> list[Any]:
    """A worker's figures in the order of :data:`HEADINGS` (the PDF's too)."""
    by = w["visits_by_category"]
    return [w["person_id"], w["name"], " ".join(w["grid_ids"]), w["score"], w["patrol_days"],
            w["patrol_target"], w["patrol_done"], w["visits"], by.get("ordinary", 0),
            by.get("hardship", 0), by.get("key", 0), w["overdue_households"],
            w["events_reported"], w["events_closed"], len(w["flags"]), w["last_sync"] or ""]


def grids_of(figures: dict[str, Any]) -> list[str]:
    """The grids the figures cover, in order (one report page each)."""
    if figures.get("grid"):
        return [str(figures["grid"])]
    found = {g for w in figures["workers"] for g in w["grid_ids"]}
    return sorted(found, key=lambda g: (not g.isdigit(), int(g) if g.isdigit() else 0, g))


def to_xlsx(figures: dict[str, Any], grid_names: dict[str, str] | None = None) -> bytes:
    """The month's assessment: a sheet of everyone, a sheet per grid, the flags."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    names = grid_names or {}
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{figures['month']}考核"
    sheet.append(list(HEADINGS))
    for w in figures["workers"]:
        sheet.append(table_row(w))
    sheets = [sheet]
    for grid in grids_of(figures):
        ws = book.create_sheet((names.get(grid) or f"网格{grid}")[:31])
        ws.append(list(HEADINGS))
        for w in figures["workers"]:
            if grid in w["grid_ids"]:
                ws.append(table_row(w))
        sheets.append(ws)
    flags = book.create_sheet("疑点")
    flags.append(["人员编号", "姓名", "检查", "记录", "原因"])
    for w in figures["workers"]:
        for f in w["flags"]:
            flags.append([w["person_id"], w["name"], f["check"], f["record_id"],
                          review.flag_reason(f, "zh_CN")])
    sheets.append(flags)
    for ws in sheets:
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
