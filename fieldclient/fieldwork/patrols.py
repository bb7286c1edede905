"""Patrols (巡查): start, record the checklist as you go, track, finish.

Save as you go: every change to an item (result, note, photo) and every
accepted GPS fix is committed at once as a draft, so a crash or a closed app
loses nothing; :func:`active_patrol` finds the patrol again after unlocking.
:func:`finish_patrol` turns the drafts into immutable records in one
transaction: the ``checklist_results``, the simplified track, the finished
patrol, and their outbox entries (``track.segment``, ``checklist.result``,
``patrol.report``). A finished patrol never changes. Photos are ids of
:mod:`fieldclient.photos.pipeline` (whose pipeline queued their ``photo.meta`` already).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from fieldclient.devicetime import CST as CHINA_TZ
from fieldclient.errors import BlobMissing, FieldClientError
from fieldclient.fieldwork.checklist import (
    Checklist,
    ChecklistItem,
    checklist_in_force,
    checklist_version,
    ensure_stored,
)
from fieldclient.fieldwork.tracks import DEFAULT_TOLERANCE_M, ProcessedTrack, store_track
from fieldclient.geo.geometry import Fix, FixFilter, RunningPath
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate
from fieldclient.ids import new_id
from fieldclient.security import audit

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

MAX_NOTE = 2000
MAX_PHOTOS = 9


class ItemResult(StrEnum):
    NORMAL = "normal"
    PROBLEM = "problem"
    NOT_APPLICABLE = "not_applicable"


RESULT_LABELS: dict[ItemResult, str] = {
    ItemResult.NORMAL: QT_TRANSLATE_NOOP("patrol", "正常"),
    ItemResult.PROBLEM: QT_TRANSLATE_NOOP("patrol", "发现问题"),
    ItemResult.NOT_APPLICABLE: QT_TRANSLATE_NOOP("patrol", "不涉及"),
}
EVENT_DESCRIPTION = QT_TRANSLATE_NOOP("patrol", "巡查发现问题：{item}")

# Event classes of domain.md for the default items; a checklist may name its own
# (``event_category``), and an unknown item falls back to its platform's class.
EVENT_CATEGORY_BY_CODE = {
    "P01": "矛盾纠纷", "P02": "治安隐患", "P03": "特殊人群", "P04": "流动人口",
    "P05": "信访维稳", "P06": "治安隐患", "P07": "消防安全", "P08": "安全生产",
    "P09": "安全生产", "P10": "住房与物业", "P11": "公共设施", "P12": "道路交通",
    "P13": "自然灾害", "P14": "食品药品", "P15": "食品药品", "P16": "市场监管",
    "P17": "市场监管", "P18": "违法建设", "P19": "市容环卫", "P20": "市容环卫",
    "P21": "环境保护", "P22": "环境保护", "P23": "环境保护", "P24": "道路交通",
    "P25": "民政救助", "P26": "民政救助", "P27": "公共设施", "P28": "政策咨询",
}
EVENT_CATEGORY_BY_GROUP = {
    "governance": "治安隐患", "market": "市场监管", "enforcement": "市容环卫",
    "services": "民政救助",
}
OTHER_CATEGORY = "其他"


# -- errors ------------------------------------------------------------------
class PatrolNotFound(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "找不到这次巡查（{patrol_id}）。")


class PatrolAlreadyActive(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "网格{grid_id}的巡查还没有结束，请先结束或放弃它，再开始新的巡查。"
    )


class PatrolClosed(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "这次巡查已经结束，不能再修改。")


class UnknownItem(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "巡查清单里没有“{code}”这一项。")


class PhotoRequired(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "“{item}”发现问题时必须拍照留证：请先拍照，再保存。"
    )

    def __init__(self, item: ChecklistItem) -> None:
        # The English translation names the item with {item_en}.
        super().__init__(item=item.name_zh, item_en=item.name_en, code=item.code)
        self.item = item


class PatrolIncomplete(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "还有{missing}项没有检查，请检查完再结束巡查。")


class NoteTooLong(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "备注太长了，最多{limit}个字。")


class TooManyPhotos(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "每一项最多{limit}张照片。")


# -- model -------------------------------------------------------------------
@dataclass(frozen=True)
class ItemState:
    """One item of a patrol: a draft while the patrol runs, final once it is finished."""

    code: str
    result: ItemResult | None = None
    note: str = ""
    photos: tuple[str, ...] = ()
    updated_at: float | None = None
    record_id: str | None = None  # the checklist.result id, once finished

    @property
    def done(self) -> bool:
        return self.result is not None


@dataclass(frozen=True)
class Patrol:
    id: str
    grid_id: str
    checklist: Checklist
    worker_id: str | None
    state: str  # active | finished | abandoned
    started_at: float
    finished_at: float | None
    items: dict[str, ItemState]  # every checklist code, in checklist order
    fixes: int = 0  # live fixes recorded so far (active patrols)
    summary: dict[str, Any] | None = None  # once finished

    @property
    def active(self) -> bool:
        return self.state == "active"

    @property
    def items_done(self) -> int:
        return sum(1 for s in self.items.values() if s.done)

    @property
    def problems(self) -> int:
        return sum(1 for s in self.items.values() if s.result is ItemResult.PROBLEM)

    @property
    def missing(self) -> list[str]:
        return [code for code, s in self.items.items() if not s.done]


@dataclass(frozen=True)
class PatrolSummary:
    patrol_id: str
    grid_id: str
    checklist_version: int
    items_total: int
    items_done: int
    problems: int
    normal: int
    not_applicable: int
    distance_m: float
    duration_s: float
    started_at: float
    finished_at: float | None
    track_points: int

    def as_json(self) -> dict[str, Any]:
        return {
            "patrol_id": self.patrol_id,
            "grid_id": self.grid_id,
            "checklist_version": self.checklist_version,
            "items_total": self.items_total,
            "items_done": self.items_done,
            "problems": self.problems,
            "normal": self.normal,
            "not_applicable": self.not_applicable,
            "distance_m": round(self.distance_m, 1),
            "duration_s": round(self.duration_s, 1),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "track_points": self.track_points,
        }


@dataclass(frozen=True)
class EventDraft:
    """An event filled from a checklist item ("report as event"); the events page
    shows it for the worker to complete and send."""

    grid_id: str
    category: str
    description: str
    photos: tuple[str, ...]
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    located_at: float | None
    patrol_id: str
    item_code: str
    item_name_zh: str
    item_name_en: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_payload(self) -> dict[str, Any]:
        return {
            "grid_id": self.grid_id,
            "category": self.category,
            "description": self.description,
            "photos": list(self.photos),
            "location": None
            if self.lat is None or self.lon is None
            else {
                "lat": self.lat,
                "lon": self.lon,
                "accuracy_m": self.accuracy_m,
                "at": self.located_at,
            },
            "source": {"kind": "patrol", "patrol_id": self.patrol_id, "item": self.item_code},
        }


# -- reading -----------------------------------------------------------------
def _row(session: Session, patrol_id: str) -> tuple[Any, ...]:
    row = session.db.execute(
        "SELECT id, grid_id, checklist_version, worker_id, state, started_at, finished_at,"
        " summary FROM patrols WHERE id = ?",
        (patrol_id,),
    ).fetchone()
    if row is None:
        raise PatrolNotFound(patrol_id=patrol_id)
    return tuple(row)


def _build(session: Session, row: tuple[Any, ...]) -> Patrol:
    patrol_id, grid_id, version, worker_id, state, started_at, finished_at, summary = row
    checklist = checklist_version(session, int(version))
    states = {code: ItemState(code) for code in checklist.codes}
    if state == "finished":
        rows = session.db.execute(
            "SELECT code, result, note, photos, recorded_at, id FROM checklist_results"
            " WHERE patrol_id = ?",
            (patrol_id,),
        ).fetchall()
    else:
        rows = session.db.execute(
            "SELECT code, result, note, photos, updated_at, NULL FROM patrol_item_drafts"
            " WHERE patrol_id = ?",
            (patrol_id,),
        ).fetchall()
    for code, result, note, photos, updated_at, record_id in rows:
        if code in states:
            states[code] = ItemState(
                code,
                ItemResult(result) if result else None,
                note,
                tuple(json.loads(photos)),
                updated_at,
                record_id,
            )
    fixes = int(
        session.db.execute(
            "SELECT count(*) FROM patrol_fixes WHERE patrol_id = ?", (patrol_id,)
        ).fetchone()[0]
    )
    return Patrol(
        id=patrol_id,
        grid_id=grid_id,
        checklist=checklist,
        worker_id=worker_id,
        state=state,
        started_at=started_at,
        finished_at=finished_at,
        items=states,
        fixes=fixes,
        summary=json.loads(summary) if summary else None,
    )


def get_patrol(session: Session, patrol_id: str) -> Patrol:
    return _build(session, _row(session, patrol_id))


def active_patrol(session: Session) -> Patrol | None:
    """The patrol under way (at most one), with everything saved so far; None if none."""
    row = session.db.execute("SELECT id FROM patrols WHERE state = 'active'").fetchone()
    return get_patrol(session, row[0]) if row else None


def list_patrols(
    session: Session, grid_id: str | None = None, limit: int = 50
) -> list[PatrolSummary]:
    """Finished patrols, newest first."""
    sql = "SELECT summary FROM patrols WHERE state = 'finished'"
    params: list[Any] = []
    if grid_id is not None:
        sql += " AND grid_id = ?"
        params.append(grid_id)
    sql += " ORDER BY finished_at DESC LIMIT ?"
    params.append(limit)
    return [
        PatrolSummary(**json.loads(r[0])) for r in session.db.execute(sql, params).fetchall()
    ]


# -- writing -----------------------------------------------------------------
def start_patrol(
    session: Session,
    grid_id: str,
    checklist: Checklist | None = None,
    worker_id: str | None = None,
) -> Patrol:
    """Start a patrol of ``grid_id`` with the checklist in force (or the one given).

    The patrol keeps that checklist version to the end, whatever the centre
    installs meanwhile. Only one patrol runs at a time.
    """
    grid_id = str(grid_id).strip()
    if not grid_id:
        raise ValueError("grid_id is required")
    running = session.db.execute(
        "SELECT grid_id FROM patrols WHERE state = 'active'"
    ).fetchone()
    if running:
        raise PatrolAlreadyActive(grid_id=running[0])
    checklist = checklist or checklist_in_force(session)
    now = session.clock()
    patrol_id = new_id(now)
    with session.db.conn:
        ensure_stored(session, checklist)
        session.db.execute(
            "INSERT INTO patrols (id, grid_id, checklist_version, worker_id, state, started_at)"
            " VALUES (?, ?, ?, ?, 'active', ?)",
            (patrol_id, grid_id, checklist.version, worker_id, now),
        )
    return get_patrol(session, patrol_id)


def _active(session: Session, patrol_id: str) -> tuple[Checklist, str]:
    _, grid_id, version, _, state, *_ = _row(session, patrol_id)
    if state != "active":
        raise PatrolClosed()
    return checklist_version(session, int(version)), grid_id


def _item(checklist: Checklist, code: str) -> ChecklistItem:
    item = checklist.item(code)
    if item is None:
        raise UnknownItem(code=code)
    return item


def _draft(session: Session, patrol_id: str, code: str) -> ItemState:
    row = session.db.execute(
        "SELECT result, note, photos, updated_at FROM patrol_item_drafts"
        " WHERE patrol_id = ? AND code = ?",
        (patrol_id, code),
    ).fetchone()
    if row is None:
        return ItemState(code)
    result, note, photos, updated_at = row
    return ItemState(
        code, ItemResult(result) if result else None, note, tuple(json.loads(photos)), updated_at
    )


def _check_photos(session: Session, photos: Sequence[str]) -> None:
    if len(photos) > MAX_PHOTOS:
        raise TooManyPhotos(limit=MAX_PHOTOS)
    for photo_id in photos:
        known = session.db.execute("SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone()
        if known is None:
            raise BlobMissing(blob_id=photo_id)


def _save(
    session: Session,
    patrol_id: str,
    item: ChecklistItem,
    result: ItemResult | None,
    note: str,
    photos: Sequence[str],
) -> ItemState:
    if len(note) > MAX_NOTE:
        raise NoteTooLong(limit=MAX_NOTE)
    photos = list(dict.fromkeys(photos))  # no duplicates, order kept
    _check_photos(session, photos)
    if result is ItemResult.PROBLEM and item.photo_required_on_problem and not photos:
        raise PhotoRequired(item)
    now = session.clock()
    with session.db.conn:
        session.db.execute(
            "INSERT INTO patrol_item_drafts (patrol_id, code, result, note, photos, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (patrol_id, code) DO UPDATE SET result = excluded.result,"
            " note = excluded.note, photos = excluded.photos, updated_at = excluded.updated_at",
            (patrol_id, item.code, result.value if result else None, note,
             json.dumps(photos), now),
        )
    return ItemState(item.code, result, note, tuple(photos), now)


def record_item(
    session: Session,
    patrol_id: str,
    code: str,
    result: ItemResult | str,
    note: str | None = None,
    photos: Sequence[str] | None = None,
) -> ItemState:
    """Set an item's result (正常 / 发现问题 / 不涉及), saved at once.

    ``note`` / ``photos`` left as None keep what the draft already has. A problem
    on an item that requires a photo is refused (:class:`PhotoRequired`) until
    the item has one.
    """
    checklist, _ = _active(session, patrol_id)
    item = _item(checklist, code)
    draft = _draft(session, patrol_id, code)
    note = draft.note if note is None else note
    try:
        return _save(
            session,
            patrol_id,
            item,
            ItemResult(result),
            note,
            draft.photos if photos is None else photos,
        )
    except PhotoRequired:
        if note != draft.note:  # keep what was typed; the result waits for the photo
            _save(session, patrol_id, item, draft.result, note, draft.photos)
        raise


def mark_rest_normal(session: Session, patrol_id: str, codes: Iterable[str]) -> list[str]:
    """"其余正常": mark those of ``codes`` that have no result yet as normal, in one
    transaction (the worker confirmed the list first). Items answered meanwhile keep
    their answer; notes and photos stay. Returns the codes marked."""
    checklist, _ = _active(session, patrol_id)
    wanted = [_item(checklist, code).code for code in dict.fromkeys(codes)]
    answered = {
        row[0] for row in session.db.execute(
            "SELECT code FROM patrol_item_drafts WHERE patrol_id = ? AND result IS NOT NULL",
            (patrol_id,),
        )
    }
    marked = [code for code in wanted if code not in answered]
    now = session.clock()
    with session.db.conn:
        session.db.conn.executemany(
            "INSERT INTO patrol_item_drafts (patrol_id, code, result, note, photos, updated_at)"
            " VALUES (?, ?, 'normal', '', '[]', ?)"
            " ON CONFLICT (patrol_id, code) DO UPDATE SET result = 'normal',"
            " updated_at = excluded.updated_at",
            [(patrol_id, code, now) for code in marked],
        )
    return marked


def save_note(session: Session, patrol_id: str, code: str, note: str) -> ItemState:
    """Save the note as it is typed (with or without a result yet)."""
    checklist, _ = _active(session, patrol_id)
    item = _item(checklist, code)
    draft = _draft(session, patrol_id, code)
    return _save(session, patrol_id, item, draft.result, note, draft.photos)


def add_photo(session: Session, patrol_id: str, code: str, photo_id: str) -> ItemState:
    """Attach a stored photo (``Photo.id`` from :func:`fieldclient.photos.pipeline.add_photo`)."""
    checklist, _ = _active(session, patrol_id)
    item = _item(checklist, code)
    draft = _draft(session, patrol_id, code)
    return _save(session, patrol_id, item, draft.result, draft.note, [*draft.photos, photo_id])


def remove_photo(session: Session, patrol_id: str, code: str, photo_id: str) -> ItemState:
    """Detach a photo; refused when it is the last evidence of a problem that needs one."""
    checklist, _ = _active(session, patrol_id)
    item = _item(checklist, code)
    draft = _draft(session, patrol_id, code)
    photos = [p for p in draft.photos if p != photo_id]
    return _save(session, patrol_id, item, draft.result, draft.note, photos)


def clear_result(session: Session, patrol_id: str, code: str) -> ItemState:
    """Undo a result (the note and photos stay)."""
    checklist, _ = _active(session, patrol_id)
    item = _item(checklist, code)
    draft = _draft(session, patrol_id, code)
    return _save(session, patrol_id, item, None, draft.note, draft.photos)


# -- the live track ----------------------------------------------------------
_FIX_COLUMNS = "t, lat, lon, alt, accuracy_m, hdop, speed_mps"


def _fix(r: Sequence[Any]) -> Fix:
    return Fix(t=r[0], lat=r[1], lon=r[2], alt=r[3], accuracy_m=r[4], hdop=r[5], speed_mps=r[6])


def _patrol_fixes(session: Session, patrol_id: str, after_id: int = 0) -> list[Fix]:
    rows = session.db.execute(
        f"SELECT {_FIX_COLUMNS} FROM patrol_fixes WHERE patrol_id = ? AND id > ? ORDER BY id",
        (patrol_id, after_id),
    ).fetchall()
    return [_fix(r) for r in rows]


def last_fix_id(session: Session, patrol_id: str) -> int:
    """The id of the newest saved fix of the patrol (0: none): where a path read stops."""
    row = session.db.execute(
        "SELECT max(id) FROM patrol_fixes WHERE patrol_id = ?", (patrol_id,)
    ).fetchone()
    return int(row[0] or 0)


def last_fix(session: Session, patrol_id: str) -> Fix | None:
    row = session.db.execute(
        f"SELECT {_FIX_COLUMNS} FROM patrol_fixes WHERE patrol_id = ? ORDER BY id DESC LIMIT 1",
        (patrol_id,),
    ).fetchone()
    return _fix(row) if row else None


@dataclass
class LivePath:
    """The running figures of a patrol's live track: the path simplified as it grows
    (:class:`RunningPath`, the same one the finished track is made of, so the distance
    shown while walking is the one reported) and the id of the last saved fix in it.

    Built once from the saved fixes (:func:`live_path`, slow for a long day: off the
    UI thread), then kept up to date fix by fix (:meth:`add`) or caught up from the
    database (:meth:`catch_up`), so no update re-reads the day.
    """

    patrol_id: str
    path: RunningPath
    last_id: int = 0

    def add(self, fixes: Iterable[Fix], last_id: int | None = None) -> None:
        """Fixes just saved (in order); ``last_id``: the id of the last of them, if known."""
        self.path.extend(fixes)
        if last_id is not None:
            self.last_id = last_id

    def catch_up(self, session: Session) -> int:
        """Add the fixes saved after ``last_id``; returns how many."""
        rows = session.db.execute(
            f"SELECT id, {_FIX_COLUMNS} FROM patrol_fixes WHERE patrol_id = ? AND id > ?"
            " ORDER BY id",
            (self.patrol_id, self.last_id),
        ).fetchall()
        for row in rows:
            self.path.add(_fix(row[1:]))
        if rows:
            self.last_id = int(rows[-1][0])
        return len(rows)

    @property
    def distance_m(self) -> float:
        return self.path.length_m

    @property
    def points(self) -> int:
        return self.path.count


def live_path(
    session: Session, patrol_id: str, upto_id: int | None = None,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> LivePath:
    """The patrol's live path from its saved fixes (up to ``upto_id`` if given).

    Reads the whole day: call it on a thread (its own :meth:`Session.fork`), once per
    patrol and app start; afterwards :class:`LivePath` keeps up by itself.
    """
    sql = f"SELECT id, {_FIX_COLUMNS} FROM patrol_fixes WHERE patrol_id = ?"
    params: list[Any] = [patrol_id]
    if upto_id is not None:
        sql += " AND id <= ?"
        params.append(upto_id)
    live = LivePath(patrol_id, RunningPath(tolerance_m))
    last = 0
    for row in session.db.execute(sql + " ORDER BY id", params):
        live.path.add(_fix(row[1:]))
        last = row[0]
    live.last_id = int(last)
    return live


class TrackRecorder:
    """Filters the live fixes of an active patrol and saves the good ones at once.

    The UI keeps one per running patrol and feeds it every position update; after
    a restart a new recorder continues from the last saved fix.
    """

    def __init__(
        self, session: Session, patrol_id: str, fix_filter: FixFilter | None = None
    ) -> None:
        _active(session, patrol_id)
        self.session = session
        self.patrol_id = patrol_id
        self.filter = fix_filter or FixFilter()
        last = last_fix(session, patrol_id)
        if last is not None:
            self.filter.last = Fix(t=last.t, lat=last.lat, lon=last.lon)
        self.last_id = last_fix_id(session, patrol_id) if last is not None else 0

    @property
    def last(self) -> Fix | None:
        return self.filter.last

    def add(self, fix: Fix) -> bool:
        return len(self.record([fix])) == 1

    def add_many(self, fixes: Iterable[Fix]) -> int:
        """Filter and save; returns how many were kept. One transaction for all."""
        return len(self.record(fixes))

    def record(self, fixes: Iterable[Fix]) -> list[Fix]:
        """Filter and save in one transaction; returns the fixes kept (``last_id`` then
        names the last of them)."""
        kept = [f for f in fixes if self.filter.accept(f)]
        if kept:
            with self.session.db.conn:
                self.session.db.conn.executemany(
                    "INSERT INTO patrol_fixes (patrol_id, t, lat, lon, alt, accuracy_m, hdop,"
                    " speed_mps) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (self.patrol_id, f.t, f.lat, f.lon, f.alt, f.accuracy_m, f.hdop,
                         f.speed_mps)
                        for f in kept
                    ],
                )
                self.last_id = last_fix_id(self.session, self.patrol_id)
        return kept

    def distance_m(self) -> float:
        return live_path(self.session, self.patrol_id).distance_m


# -- finishing ---------------------------------------------------------------
def _summary(
    patrol: Patrol, distance: float, now: float, track_points: int, finished: bool
) -> PatrolSummary:
    results = [s.result for s in patrol.items.values()]
    return PatrolSummary(
        patrol_id=patrol.id,
        grid_id=patrol.grid_id,
        checklist_version=patrol.checklist.version,
        items_total=len(patrol.items),
        items_done=patrol.items_done,
        problems=results.count(ItemResult.PROBLEM),
        normal=results.count(ItemResult.NORMAL),
        not_applicable=results.count(ItemResult.NOT_APPLICABLE),
        distance_m=distance,
        duration_s=max(0.0, now - patrol.started_at),
        started_at=patrol.started_at,
        finished_at=now if finished else None,
        track_points=track_points,
    )


def imported_distance_m(session: Session, patrol_id: str) -> float:
    """Metres of the tracks imported into the patrol (GPS logger files)."""
    row = session.db.execute(
        "SELECT coalesce(sum(distance_m), 0) FROM tracks WHERE patrol_id = ?", (patrol_id,)
    ).fetchone()
    return float(row[0])


def live_summary(
    patrol: Patrol, live: LivePath | None, now: float, imported_m: float = 0.0
) -> PatrolSummary:
    """The running totals from what is in memory: the items as last read and the live
    path kept up to date fix by fix. No database read: the status line of a patrol
    costs the same at its 8th hour as at its first minute."""
    if patrol.summary is not None:
        return PatrolSummary(**patrol.summary)
    distance = (live.distance_m if live is not None else 0.0) + imported_m
    points = live.points if live is not None else 0
    return _summary(patrol, distance, now, points, finished=False)


def progress(session: Session, patrol_id: str, live: LivePath | None = None) -> PatrolSummary:
    """The running totals of a patrol (its final summary once finished).

    Without ``live`` the path is built from the saved fixes (the whole day: for the
    command line; the app keeps a :class:`LivePath` and uses :func:`live_summary`).
    """
    patrol = get_patrol(session, patrol_id)
    if patrol.summary is not None:
        return PatrolSummary(**patrol.summary)
    if live is None:
        live = live_path(session, patrol_id)
    else:
        live.catch_up(session)
    return live_summary(patrol, live, session.clock(), imported_distance_m(session, patrol_id))


def check_finishable(patrol: Patrol, allow_incomplete: bool = False) -> None:
    """Raise what :func:`finish_patrol` would refuse: a closed patrol, unanswered items
    (unless ``allow_incomplete``), a problem without the photo its item requires."""
    if not patrol.active:
        raise PatrolClosed()
    if patrol.missing and not allow_incomplete:
        raise PatrolIncomplete(missing=len(patrol.missing))
    for state in patrol.items.values():  # the invariant _save keeps, checked once more
        item = _item(patrol.checklist, state.code)
        if state.result is ItemResult.PROBLEM and item.photo_required_on_problem:
            if not state.photos:
                raise PhotoRequired(item)


def finish_patrol(
    session: Session,
    patrol_id: str,
    allow_incomplete: bool = False,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    live: LivePath | None = None,
    purge_fixes: bool = True,
) -> PatrolSummary:
    """Close the patrol: immutable records and their outbox entries, in one transaction.

    Unanswered items are refused (:class:`PatrolIncomplete`) unless
    ``allow_incomplete`` (the UI asks the worker first); they are simply absent
    from the results. The track stored is the live path (``live``, caught up here
    with any fix saved since; built from the saved fixes when not given): the
    distance reported is the one shown while walking.
    """
    patrol = get_patrol(session, patrol_id)
    check_finishable(patrol, allow_incomplete)
    if live is None or live.patrol_id != patrol_id or live.path.tolerance_m != tolerance_m:
        live = live_path(session, patrol_id, tolerance_m=tolerance_m)
    else:
        live.catch_up(session)
    now = session.clock()
    grid_id = patrol.grid_id
    with session.db.conn:
        # The photos' own photo.meta records were queued when they were taken
        # (fieldclient.photos.pipeline); the results name them by id and hash.
        photo_ids = list(dict.fromkeys(p for s in patrol.items.values() for p in s.photos))
        hashes: dict[str, str] = {}
        for photo_id in photo_ids:
            meta = session.db.execute(
                "SELECT sha256 FROM photos WHERE id = ?", (photo_id,)
            ).fetchone()
            if meta is None:
                raise BlobMissing(blob_id=photo_id)
            hashes[photo_id] = meta[0]
        if live.points:
            store_track(
                session,
                ProcessedTrack([live.path.points()], live.points, live.points, {}, tolerance_m,
                               known_distance_m=live.distance_m),
                "live",
                patrol_id,
                grid_id,
            )
        tracks = session.db.execute(
            "SELECT id, distance_m, points_kept FROM tracks WHERE patrol_id = ?", (patrol_id,)
        ).fetchall()
        distance = sum(float(t[1]) for t in tracks)
        result_ids: list[str] = []
        for state in patrol.items.values():
            if state.result is None:
                continue
            record_id = new_id(now)
            photos = [{"id": p, "sha256": hashes[p]} for p in state.photos]
            session.db.execute(
                "INSERT INTO checklist_results (id, patrol_id, code, result, note, photos,"
                " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record_id, patrol_id, state.code, state.result.value, state.note,
                 json.dumps(list(state.photos)), state.updated_at or now),
            )
            session.enqueue(
                "checklist.result",
                record_id,
                {"id": record_id, "patrol_id": patrol_id, "grid_id": grid_id,
                 "checklist_version": patrol.checklist.version, "code": state.code,
                 "result": state.result.value, "note": state.note, "photos": photos,
                 "recorded_at": state.updated_at or now},
            )
            result_ids.append(record_id)
        summary = _summary(patrol, distance, now, sum(int(t[2]) for t in tracks), True)
        session.db.execute(
            "UPDATE patrols SET state = 'finished', finished_at = ?, summary = ? WHERE id = ?",
            (now, json.dumps(asdict(summary)), patrol_id),
        )
        session.enqueue(
            "patrol.report",
            patrol_id,
            {**summary.as_json(), "id": patrol_id, "device_id": session.device_id,
             "worker_id": patrol.worker_id, "results": result_ids,
             "tracks": [t[0] for t in tracks], "photos": photo_ids,
             "incomplete": patrol.missing},
        )
        session.db.execute("DELETE FROM patrol_item_drafts WHERE patrol_id = ?", (patrol_id,))
        if purge_fixes:
            session.db.execute("DELETE FROM patrol_fixes WHERE patrol_id = ?", (patrol_id,))
        session.audit.append(
            audit.RECORD_CREATED,
            {"kind": "patrol", "id": patrol_id, "grid_id": grid_id,
             "results": len(result_ids), "problems": summary.problems},
        )
    return summary


def purge_finished_fixes(session: Session, batch: int = 2000) -> int:
    """Delete the raw fixes of patrols no longer running (their track is stored), a
    ``batch`` at a time so that a write of another connection waits milliseconds at
    most; returns how many. Safe to call any time, also after a crash."""
    removed = 0
    while True:
        with session.db.conn:
            cursor = session.db.execute(
                "DELETE FROM patrol_fixes WHERE id IN (SELECT f.id FROM patrol_fixes f"
                " JOIN patrols p ON p.id = f.patrol_id WHERE p.state != 'active' LIMIT ?)",
                (batch,),
            )
            count = int(cursor.rowcount)
        removed += max(count, 0)
        if count < batch:
            return removed


def abandon_patrol(session: Session, patrol_id: str) -> dict[str, int]:
    """Cancel a patrol started by mistake (the worker confirmed it).

    Nothing of it is half-recorded or sent: a patrol reaches the outbox only when
    finished, so a running one never synced. Its drafts and its live fixes are
    discarded; the patrol row stays, marked abandoned (patrols are never deleted),
    and the audit log says what was discarded. What was sent on its own stays:
    events reported from an item are events, and photos are the pipeline's
    immutable records (their ``photo.meta`` was queued when taken). Returns the
    counts written to the audit entry.
    """
    _active(session, patrol_id)
    with session.db.conn:
        items = session.db.execute(
            "SELECT count(*) FROM patrol_item_drafts WHERE patrol_id = ? AND result IS NOT NULL",
            (patrol_id,),
        ).fetchone()[0]
        fixes = session.db.execute(
            "SELECT count(*) FROM patrol_fixes WHERE patrol_id = ?", (patrol_id,)
        ).fetchone()[0]
        session.db.execute("DELETE FROM patrol_item_drafts WHERE patrol_id = ?", (patrol_id,))
        session.db.execute("DELETE FROM patrol_fixes WHERE patrol_id = ?", (patrol_id,))
        session.db.execute(
            "UPDATE patrols SET state = 'abandoned', finished_at = ? WHERE id = ?",
            (session.clock(), patrol_id),
        )
        counts = {"items_discarded": int(items), "fixes_discarded": int(fixes)}
        session.audit.append(
            audit.RECORD_CREATED,
            {"kind": "patrol", "id": patrol_id, "state": "abandoned", **counts},
        )
    return counts


# -- report as event ---------------------------------------------------------
def event_category(item: ChecklistItem) -> str:
    """The event class for an item: the checklist's own, the default map, the platform's."""
    return (
        item.event_category
        or EVENT_CATEGORY_BY_CODE.get(item.code)
        or EVENT_CATEGORY_BY_GROUP.get(item.group.key)
        or OTHER_CATEGORY
    )


def event_draft(
    session: Session, patrol_id: str, code: str, position: Fix | None = None
) -> EventDraft:
    """An event filled from a checklist item: category, note, photos and position.

    ``position`` defaults to the patrol's last recorded fix.
    """
    patrol = get_patrol(session, patrol_id)
    item = _item(patrol.checklist, code)
    state = patrol.items[code]
    if position is None:
        position = last_fix(session, patrol_id)
    description = state.note.strip() or EVENT_DESCRIPTION.format(item=item.name_zh)
    return EventDraft(
        grid_id=patrol.grid_id,
        category=event_category(item),
        description=description,
        photos=state.photos,
        lat=position.lat if position else None,
        lon=position.lon if position else None,
        accuracy_m=position.accuracy_m if position else None,
        located_at=position.t if position else None,
        patrol_id=patrol_id,
        item_code=code,
        item_name_zh=item.name_zh,
        item_name_en=item.name_en,
    )


# -- today -------------------------------------------------------------------
def day_bounds(now: float, tz: timezone = CHINA_TZ) -> tuple[float, float]:
    """Start and end (Unix time) of the calendar day containing ``now`` in ``tz``."""
    local = datetime.fromtimestamp(now, tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def patrol_done_today(
    session: Session, grid_id: str, tz: timezone = CHINA_TZ, now: float | None = None
) -> bool:
    """Whether a patrol of ``grid_id`` was finished today (China Standard Time by default)."""
    start, end = day_bounds(session.clock() if now is None else now, tz)
    row = session.db.execute(
        "SELECT 1 FROM patrols WHERE grid_id = ? AND state = 'finished'"
        " AND finished_at >= ? AND finished_at < ? LIMIT 1",
        (str(grid_id), start, end),
    ).fetchone()
    return row is not None


def today_status(
    session: Session, grid_ids: Iterable[str], tz: timezone = CHINA_TZ, now: float | None = None
) -> dict[str, bool]:
    """``patrol_done_today`` for each grid (the Today page)."""
    return {str(g): patrol_done_today(session, str(g), tz, now) for g in grid_ids}


def result_label(result: ItemResult, language: str | None = None) -> str:
    return translate("patrol", RESULT_LABELS[result], language)
