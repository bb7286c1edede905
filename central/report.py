"""``central report``: the monthly assessment (月度考核) from the centre's database.

The figures are :func:`sync.protocol.review.month_figures`'s, the computation the
devices' Review page and ``fieldclient review`` use, fed from the centre's tables:
people (workers and leaders) with their grid assignments and their devices' last
contact; households with their known position and their last visit before the month's
end; the month's visit, patrol and event records (selected by migration 14's
``happened_at`` beside the sealed payload, so a month opens only its own payloads);
photo hashes from the ``photo.meta`` records; events' history for 办结. Each person is
assessed under the quota and review rules in force for their grids (the centre's
settings, else the defaults shipped in ``resources/``).

Formats: ``json`` (the figures), ``csv`` (a row per worker), ``xlsx`` (openpyxl: a
sheet of workers, one of flags) and ``pdf`` (fpdf2, no Qt: a page per grid with its
table, a bar chart of scores and the flags; Chinese text in Noto Sans CJK, Debian's
fonts-noto-cjk).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select

from central import db, settings
from sync.protocol import quotarules
from sync.protocol import review as shared

FORMATS = ("json", "csv", "xlsx", "pdf")
REVIEWED_ROLES = ("worker", "leader")
CJK_FONTS = (  # (file, collection index of Simplified Chinese)
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)
CHECK_NAMES = {
    "far_from_home": "远离住户", "no_position": "无定位", "rapid_visits": "间隔过短",
    "short_patrol": "巡查过短", "no_track": "几乎无轨迹", "same_photo": "重复照片",
    "same_text": "重复内容", "night": "夜间走访",
}
CATEGORY_NAMES = {"ordinary": "一般家庭", "hardship": "困难家庭", "key": "重点人员"}


class ReportError(ValueError):
    """The report cannot be made as asked (the message says why)."""


_BATCH = 500  # rows read at a time


def _chunks(items: Sequence[Any], size: int = _BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _rules(conn: Connection, grids: Sequence[int]) -> tuple[
        tuple[quotarules.Rule, ...], shared.ReviewRules]:
    """The quota and review rules in force for ``grids`` (as a device there gets them)."""
    found = settings.effective(conn, grids)
    quota: tuple[quotarules.Rule, ...] = quotarules.default_rules()
    review = shared.default_review_rules()
    if settings.QUOTA_RULES in found:
        try:
            quota = quotarules.parse_rules(found[settings.QUOTA_RULES]["value"])
        except quotarules.InvalidRules:
            pass
    if settings.REVIEW_RULES in found:
        try:
            review = shared.parse_review_rules(found[settings.REVIEW_RULES]["value"])
        except shared.InvalidReviewRules:
            pass
    return quota, review


def _people(conn: Connection, grid: int | None) -> list[shared.Person]:
    p, ga, d = db.people, db.grid_assignments, db.devices
    grids: dict[int, list[str]] = defaultdict(list)
    for person, g in conn.execute(select(ga.c.person_id, ga.c.grid_id).order_by(ga.c.grid_id)):
        grids[int(person)].append(str(g))
    contact = dict(conn.execute(
        select(d.c.person_id, func.max(d.c.last_contact)).group_by(d.c.person_id)).all())
    return [shared.Person(str(pid), name, tuple(grids[int(pid)]), contact.get(pid))
            for pid, name in conn.execute(
                select(p.c.id, p.c.name).where(p.c.role.in_(REVIEWED_ROLES)).order_by(p.c.id))
            if grids[int(pid)] and (grid is None or str(grid) in grids[int(pid)])]


def _unfilled(conn: Connection, kind: str, after: int | None, *where: Any
              ) -> Iterator[tuple[Any, float | None, str | None, int | None]]:
    """Records of ``kind`` migration 14's backfill may not have filled yet (``after``:
    :func:`db.review_unfilled_after`; None: there are none), with their review columns
    from their payloads: read and opened a batch at a time, so a report made while a
    large centre's backfill runs holds what it keeps, not every payload it opens."""
    if after is None:
        return
    r = db.records
    result = conn.execution_options(yield_per=_BATCH).execute(
        select(r.c.id, r.c.person_id, r.c.grid_id, r.c.payload)
        .where(r.c.kind == kind, r.c.happened_at.is_(None), r.c.seq > after, *where))
    for rows in result.partitions():
        for row in rows:
            yield (row, *db.review_columns(kind, row.payload))


def _unfilled_positions(conn: Connection, grids: list[int], after: int | None
                        ) -> dict[str, tuple[float, float]]:
    """Known positions migration 15's backfill may not have written yet (``after``:
    :func:`db.positions_unfilled_after`; None: none): those in the ``household.create``
    payloads of the grids' households with no position, numbered above ``after``."""
    if after is None:
        return {}
    h, r = db.households, db.records
    result = conn.execution_options(yield_per=_BATCH).execute(
        select(r.c.id, r.c.payload).select_from(r.join(h, h.c.id == r.c.id))
        .where(r.c.kind == "household.create", r.c.seq > after, h.c.lat.is_(None),
               h.c.grid_id.in_(grids)))
    found: dict[str, tuple[float, float]] = {}
    for rows in result.partitions():
        for row in rows:
            if (place := db.household_position(row.payload)) is not None:
                found[str(row.id)] = place
    return found


def _households(conn: Connection, grids: list[int], until: float, after: int | None,
                places_after: int | None = None) -> list[shared.Household]:
    h, r = db.households, db.records
    # positions still in payloads first, then the households: one filled between the
    # two has its position in both (the same), none is missed
    places = _unfilled_positions(conn, grids, places_after)
    # not filled yet, then filled: a visit filled between the two is seen twice, never
    # missed (a batch may commit between them), and a maximum does not mind
    last: dict[str, float] = {}
    for _row, happened, household, counted in _unfilled(conn, "visit.create", after):
        if household is not None and happened is not None and counted and happened < until:
            last[household] = max(happened, last.get(household, happened))
    for row in conn.execute(
            select(r.c.household_id, func.max(r.c.happened_at))
            .where(r.c.kind == "visit.create", r.c.counted > 0, r.c.happened_at < until)
            .group_by(r.c.household_id)):
        if row[0] is not None and row[1] is not None:
            when = float(row[1])
            last[str(row[0])] = max(when, last.get(str(row[0]), when))
    out = []
    for hid, g, category, registered, lat, lon in conn.execute(
            select(h.c.id, h.c.grid_id, h.c.category, h.c.registered_at, h.c.lat, h.c.lon)
            .where(h.c.grid_id.in_(grids))):
        if lat is None or lon is None:
            lat, lon = places.get(str(hid), (None, None))
        out.append(shared.Household(hid, str(g), category, float(registered or 0.0),
                                    last.get(str(hid)), lat, lon))
    return out


def _month_records(conn: Connection, kind: str, grids: list[int],
                   window: shared.MonthWindow, after: int | None) -> list[Any]:
    """The month's records of ``kind`` in ``grids``, by ``happened_at``; those the
    backfill has not filled yet by their payloads' time (read first, then the filled
    ones: a record filled between the two is seen twice and kept once)."""
    r = db.records
    found: dict[str, Any] = {}
    for row, happened, _household, _counted in _unfilled(
            conn, kind, after, r.c.grid_id.in_(grids)):
        if happened is not None and window.start <= happened < window.until:
            found[row.id] = row
    for row in conn.execute(
            select(r.c.id, r.c.person_id, r.c.grid_id, r.c.payload)
            .where(r.c.kind == kind, r.c.happened_at >= window.start,
                   r.c.happened_at < window.until, r.c.grid_id.in_(grids))):
        found[row.id] = row
    return [found[i] for i in sorted(found)]  # one order, however they were read


def _photo_ids(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(
        value, bool) else None


def _photo_hashes(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """photo id -> its SHA-256, from the ``photo.meta`` records (beside the payload)."""
    wanted = sorted(set(ids))
    r = db.records
    hashes: dict[str, str] = {}
    for chunk in _chunks(wanted):
        hashes.update(conn.execute(select(r.c.id, r.c.photo_sha256).where(
            r.c.kind == "photo.meta", r.c.id.in_(list(chunk)))).all())
    return hashes


def _visits(conn: Connection, grids: list[int], window: shared.MonthWindow,
            after: int | None) -> list[shared.Visit]:
    rows = _month_records(conn, "visit.create", grids, window, after)
    photos = {row.id: _photo_ids(row.payload.get("photos")) for row in rows}
    hashes = _photo_hashes(conn, (p for ids in photos.values() for p in ids))
    out = []
    for row in rows:
        v = row.payload
        when = _number(v.get("visited_at"))
        if when is None or not isinstance(v.get("household_id"), str):
            continue
        out.append(shared.Visit(
            row.id, str(row.person_id), v["household_id"],
            v.get("visit_type") if v.get("visit_type") in ("home", "phone", "revisit")
            else "other", when, _number(v.get("lat")), _number(v.get("lon")),
            shared.visit_text(*(v.get(k) if isinstance(v.get(k), str) else ""
                                for k in ("situation", "needs", "follow_up"))),
            tuple(hashes[p] for p in photos[row.id] if hashes.get(p)),
            correction=bool(v.get("corrects")), training=bool(v.get("training"))))
    return out


def _patrols(conn: Connection, grids: list[int], window: shared.MonthWindow,
             after: int | None) -> list[shared.Patrol]:
    out = []
    rows = _month_records(conn, "patrol.report", grids, window, after)
    photos = {row.id: list(dict.fromkeys(_photo_ids(row.payload.get("photos"))))
              for row in rows}
    hashes = _photo_hashes(conn, (p for ids in photos.values() for p in ids))
    for row in rows:
        p = row.payload
        started, finished = _number(p.get("started_at")), _number(p.get("finished_at"))
        if started is None or finished is None:
            continue
        out.append(shared.Patrol(row.id, str(row.person_id), str(row.grid_id), started,
                                 finished, _number(p.get("distance_m")) or 0.0,
                                 int(p.get("track_points") or 0),
                                 tuple(hashes[i] for i in photos[row.id] if hashes.get(i))))
    return out


def _events(conn: Connection, grids: list[int], after: int | None) -> list[shared.Event]:
    """The grids' events with their reporter, report time (the device's, from the
    record) and when they reached 办结."""
    e, h, r = db.events, db.event_history, db.records
    closed: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for event_id, status, at in conn.execute(
            select(h.c.event_id, h.c.to_status, h.c.at).join(e, e.c.id == h.c.event_id)
            .where(e.c.grid_id.in_(grids), h.c.to_status.in_(shared.CLOSED_STATUSES))):
        closed[event_id].append((status, at))
    reported = {row.id: happened for row, happened, _h, _c in _unfilled(
        conn, "event.report", after, r.c.grid_id.in_(grids)) if happened is not None}
    reported.update((str(x[0]), float(x[1])) for x in conn.execute(
        select(r.c.id, r.c.happened_at).where(r.c.kind == "event.report",
                                              r.c.grid_id.in_(grids),
                                              r.c.happened_at.is_not(None))))
    out = []
    for event_id, reporter, created in conn.execute(
            select(e.c.id, e.c.reporter_id, e.c.created_at).where(
                and_(e.c.grid_id.in_(grids), e.c.reporter_id.is_not(None)))):
        when = reported.get(event_id) or shared.iso_time(created)
        if when is None:
            continue
        out.append(shared.Event(event_id, str(reporter), float(when),
                                shared.closed_at(closed.get(event_id, []))))
    return out


def month_report(engine: Engine, month: str | None, now: float, grid: str | None = None,
                 zone: tzinfo = shared.CHINA) -> dict[str, Any]:
    """The month's figures for every reviewed person (or those of ``grid``), worst
    first, each under the rules in force for their grids."""
    window = shared.month_window(month, now, zone)
    grid_id: int | None = None
    if grid is not None:
        if not grid.isdigit():
            raise ReportError(f"grid must be a grid's number, not {grid!r}")
        grid_id = int(grid)
    with engine.connect() as conn:
        if grid_id is not None and conn.execute(select(db.org_units.c.id).where(
                db.org_units.c.id == grid_id, db.org_units.c.level == "grid")).first() is None:
            raise ReportError(f"no grid with id {grid_id}")
        people = _people(conn, grid_id)
        grids = sorted({int(g) for p in people for g in p.grid_ids
                        if grid_id is None or int(g) == grid_id})
        names = dict(conn.execute(select(db.org_units.c.id, db.org_units.c.name).where(
            db.org_units.c.id.in_(grids))).all()) if grids else {}
        # migration 14's backfill not finished: the records it has not reached yet are
        # read by their payloads (read before the records: it only moves on)
        after = db.review_unfilled_after(conn)
        # and migration 15's: households' positions still only in their payloads
        places_after = db.positions_unfilled_after(conn)
        households = _households(conn, grids, window.until, after,
                                 places_after) if grids else []
        visits = _visits(conn, grids, window, after) if grids else []
        patrols = _patrols(conn, grids, window, after) if grids else []
        events = _events(conn, grids, after) if grids else []
        groups: dict[str, tuple[Any, list[shared.Person]]] = {}
        for person in people:
            rules = _rules(conn, [int(g) for g in person.grid_ids])
            key = json.dumps([[vars(r) for r in rules[0]], rules[1].as_json()], sort_keys=True)
            groups.setdefault(key, (rules, []))[1].append(person)
    workers: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    for (quota, review), members in groups.values():
        result = shared.month_figures(
            window.month, people=members, households=households, visits=visits,
            patrols=patrols, events=events, quota_rules=quota, review_rules=review,
            now=now, zone=zone, grid=grid)
        workers += result["workers"]
    if not result:
        result = shared.month_figures(
            window.month, people=[], households=[], visits=[], patrols=[], events=[],
            quota_rules=quotarules.default_rules(), review_rules=shared.default_review_rules(),
            now=now, zone=zone, grid=grid)
    workers.sort(key=lambda w: (w["score"], -len(w["flags"]), w["name"], w["person_id"]))
    result["workers"] = workers
    result["grids"] = {str(g): names.get(g, str(g)) for g in grids}
    return result


# -- formats ----------------------------------------------------------------------------
COLUMNS = ("person_id", "name", "grid_ids", "score", "patrol_days", "patrol_target",
           "visits", "visits_ordinary", "visits_hardship", "visits_key",
           "overdue_households", "events_reported", "events_closed", "flags", "last_sync")
HEADINGS = ("人员编号", "姓名", "网格", "得分", "巡查天数", "应巡查", "走访次数",
            "一般家庭", "困难家庭", "重点人员", "逾期户数", "上报事件", "办结事件",
            "疑点", "最近同步")


def _row(w: dict[str, Any]) -> list[Any]:
    by = w["visits_by_category"]
    return [w["person_id"], w["name"], " ".join(w["grid_ids"]), w["score"], w["patrol_days"],
            w["patrol_target"], w["visits"], by.get("ordinary", 0), by.get("hardship", 0),
            by.get("key", 0), w["overdue_households"], w["events_reported"],
            w["events_closed"], len(w["flags"]), w["last_sync"] or ""]


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["month", *COLUMNS])
    for w in report["workers"]:
        writer.writerow([report["month"], *_row(w)])
    return out.getvalue()


def to_xlsx(report: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{report['month']}考核"
    sheet.append(list(HEADINGS))
    for w in report["workers"]:
        sheet.append(_row(w))
    flags = book.create_sheet("疑点")
    flags.append(["人员编号", "姓名", "检查", "记录", "原因"])
    for w in report["workers"]:
        for f in w["flags"]:
            flags.append([w["person_id"], w["name"], CHECK_NAMES.get(f["check"], f["check"]),
                          f["record_id"], f["reason"]])
    for ws in (sheet, flags):
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def cjk_font() -> tuple[str, int]:
    """A Chinese font file fpdf2 can embed (fonts-noto-cjk, else fonts-wqy-zenhei)."""
    for path, index in CJK_FONTS:
        if Path(path).is_file():
            return path, index
    raise ReportError("no Chinese font found: install fonts-noto-cjk "
                      "(scripts/install-sysdeps.sh)")


def to_pdf(report: dict[str, Any]) -> bytes:
    """A page per grid: its workers' table, a bar chart of their scores, their flags."""
    from fpdf import FPDF

    path, index = cjk_font()
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("cjk", fname=path, collection_font_number=index)
    grids = report.get("grids") or {}
    for grid_id, grid_name in grids.items():
        people = [w for w in report["workers"] if grid_id in w["grid_ids"]]
        pdf.add_page()
        pdf.set_font("cjk", size=16)
        pdf.cell(0, 10, f"{grid_name}（网格 {grid_id}）{report['month']} 月度考核",
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=9)
        pdf.cell(0, 6, f"统计时段：{report['from']} 至 {report['until']}；共 {len(people)} 人",
                 new_x="LMARGIN", new_y="NEXT")
        widths = (36, 16, 18, 16, 18, 16, 16, 16, 18, 18, 18, 14)
        heads = ("姓名", "得分", "巡查天数", "应巡查", "走访次数", "一般", "困难", "重点",
                 "逾期户数", "上报事件", "办结事件", "疑点")
        pdf.set_fill_color(230, 230, 230)
        for width, head in zip(widths, heads, strict=True):
            pdf.cell(width, 7, head, border=1, fill=True, align="C")
        pdf.ln()
        shown = people[:14]  # one page: the worst 14 (the XLSX has everyone)
        for w in shown:
            by = w["visits_by_category"]
            values = (w["name"][:12], w["score"], w["patrol_days"], w["patrol_target"],
                      w["visits"], by.get("ordinary", 0), by.get("hardship", 0),
                      by.get("key", 0), w["overdue_households"], w["events_reported"],
                      w["events_closed"], len(w["flags"]))
            for width, value in zip(widths, values, strict=True):
                pdf.cell(width, 6, str(value), border=1, align="C")
            pdf.ln()
        if len(people) > len(shown):
            pdf.cell(0, 6, f"另有 {len(people) - len(shown)} 人见 XLSX 报表",
                     new_x="LMARGIN", new_y="NEXT")
        # the bar chart of scores
        top = pdf.get_y() + 4
        left, height = 20.0, 50.0
        pdf.set_font("cjk", size=8)
        pdf.cell(0, 4, "得分", new_x="LMARGIN", new_y="NEXT")
        pdf.line(left, top + height, left + 250, top + height)
        bar = min(16.0, 250 / max(1, len(shown)) - 2)
        for i, w in enumerate(shown):
            x = left + 2 + i * (bar + 2)
            tall = height * w["score"] / 100
            pdf.set_fill_color(200, 60, 60) if w["score"] < 60 else pdf.set_fill_color(
                70, 120, 190)
            pdf.rect(x, top + height - tall, bar, tall, style="F")
            pdf.text(x, top + height - tall - 1, f"{w['score']:g}")
            pdf.text(x, top + height + 4, w["name"][:4])
        pdf.set_y(top + height + 8)
        flags = [(w["name"], f) for w in people for f in w["flags"]]
        for name, f in flags[:8]:
            pdf.cell(0, 5, f"{name}：{CHECK_NAMES.get(f['check'], f['check'])} "
                     f"{f['record_id']} {f['reason']}"[:110], new_x="LMARGIN", new_y="NEXT")
        if len(flags) > 8:
            pdf.cell(0, 5, f"另有 {len(flags) - 8} 条疑点见 XLSX 报表",
                     new_x="LMARGIN", new_y="NEXT")
    if not grids:
        pdf.add_page()
        pdf.set_font("cjk", size=14)
        pdf.cell(0, 10, f"{report['month']} 月度考核：没有人员", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def render(report: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(report, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    if fmt == "csv":
        return to_csv(report).encode("utf-8")
    if fmt == "xlsx":
        return to_xlsx(report)
    if fmt == "pdf":
        return to_pdf(report)
    raise ReportError(f"format must be one of {', '.join(FORMATS)}")
