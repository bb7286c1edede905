"""Events (事件): report one from anywhere, follow it round the closed loop, and
do the worker's two later steps, supplement (补充材料) and on-the-spot check (核查).

The device's own reports live in the insert-only ``events`` table; what the
centre did with them arrives through the pull feed in ``sync_events`` (status
and history, oldest first). Supplements and checks are insert-only
``event_followups`` rows, sent as ``event.followup`` ops (``sync/protocol.py``).
Each write is one transaction: the row, its outbox op and its audit entry.

The event classes come from the centre (server setting ``event_categories``) or
default to the 22 classes of domain.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import serverconfig
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.ids import new_id
from fieldclient.security import audit

if TYPE_CHECKING:
    from fieldclient.geo.geometry import Fix
    from fieldclient.storage.session import Session

MAX_DESCRIPTION = 5000
MAX_CATEGORY = 20
MAX_ADDRESS = 200
MAX_PHOTOS = 9
URGENCIES = ("normal", "urgent", "emergency")
URGENCY_TEXT = {
    "normal": QT_TRANSLATE_NOOP("events", "一般"),
    "urgent": QT_TRANSLATE_NOOP("events", "紧急"),
    "emergency": QT_TRANSLATE_NOOP("events", "特急"),
}
# The main line of the closed loop, in order; returned and escalated are side states.
LOOP = ("reported", "accepted", "dispatched", "in_progress", "resolved", "verified", "closed")
PENDING = "pending"  # not uploaded yet (local status)
REJECTED = "rejected"  # the centre refused the report (local status)
STATUS_TEXT = {
    PENDING: QT_TRANSLATE_NOOP("events", "待上传"),
    REJECTED: QT_TRANSLATE_NOOP("events", "未被接收"),
    "reported": QT_TRANSLATE_NOOP("events", "已上报"),
    "accepted": QT_TRANSLATE_NOOP("events", "已受理"),
    "dispatched": QT_TRANSLATE_NOOP("events", "已派遣"),
    "in_progress": QT_TRANSLATE_NOOP("events", "处置中"),
    "resolved": QT_TRANSLATE_NOOP("events", "已办结"),
    "verified": QT_TRANSLATE_NOOP("events", "已核查"),
    "closed": QT_TRANSLATE_NOOP("events", "已评价"),
    "returned": QT_TRANSLATE_NOOP("events", "退回"),
    "escalated": QT_TRANSLATE_NOOP("events", "上报上级"),
}
SUPPLEMENT, VERIFY = "supplement", "verify"
PASSED, FAILED = "passed", "failed"

# domain.md's 22 default classes (Ningbo merged 123 matters into them).
DEFAULT_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("矛盾纠纷", "Disputes"), ("治安隐患", "Public security hazards"),
    ("安全生产", "Workplace safety"), ("消防安全", "Fire safety"),
    ("食品药品", "Food and drugs"), ("市场监管", "Market regulation"),
    ("违法建设", "Illegal construction"), ("市容环卫", "City appearance and sanitation"),
    ("环境保护", "Environmental protection"), ("道路交通", "Road traffic"),
    ("公共设施", "Public facilities"), ("民政救助", "Civil assistance"),
    ("特殊人群", "Special groups"), ("流动人口", "Floating population"),
    ("信访维稳", "Petitions and stability"), ("自然灾害", "Natural disasters"),
    ("卫生防疫", "Health and epidemic prevention"), ("教育与未成年人", "Education and minors"),
    ("劳动保障", "Labour and social security"), ("住房与物业", "Housing and property"),
    ("政策咨询", "Policy questions"), ("其他", "Other"),
)
OTHER_CATEGORY = "其他"


# -- errors ------------------------------------------------------------------
class EventCategoryUnknown(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "请选择一个事件类别。")


class EventDescriptionMissing(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "请写一句话说明发现的问题，再上报。")


class EventTextTooLong(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "文字太长了，最多{limit}个字。")


class EventUrgencyUnknown(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "紧急程度只能是一般、紧急或特急。")


class EventAddressTooLong(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "地址太长了，最多{limit}个字。")


class EventTooManyPhotos(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "照片太多了，一次最多{limit}张。")


class EventPhotoMissing(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "找不到要附上的照片（{photo_id}），请重新拍照。")


class EventHouseholdUnknown(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "找不到这户住户（{household_id}）。")


class EventNotFound(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "找不到这个事件（{event_id}）。")


class SupplementNotNeeded(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "这个事件现在是“{status}”，不需要补充材料。只有被退回的事件才能补充。")


class SupplementTextMissing(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "请写明补充的情况，再提交。")


class VerifyNotPossible(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "这个事件现在是“{status}”，还不能核查。要等指挥中心办结后才能现场核查。")


class VerifyPhotoRequired(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "现场核查至少要拍一张照片。")


class VerifyOutcomeUnknown(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "请选择核查结果：已解决，或没有解决。")


class VerifyReasonMissing(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "没有解决时，请写明还存在什么问题。")


class FollowupAlreadyWaiting(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "您已经提交过了，正在等待上传到指挥中心。")


# -- what the pages show ---------------------------------------------------------
@dataclass(frozen=True)
class Category:
    zh: str
    en: str

    def name(self, language: str) -> str:
        return self.zh if language.startswith("zh") or not self.en else self.en


@dataclass(frozen=True)
class EventSummary:
    """One of the device's events as the lists show it.

    ``status`` is the centre's status, or ``pending`` (not uploaded yet) /
    ``rejected``. ``action`` is what the worker should do now (``supplement`` or
    ``verify``), ``waiting`` the kind of a follow-up not uploaded yet.
    """

    id: str
    grid_id: str | None
    category: str
    description: str
    urgency: str
    status: str
    household_id: str | None
    address: str | None
    photos: tuple[str, ...]
    reported_at: float
    last_change: float
    pending_upload: bool
    action: str | None
    waiting: str | None
    work_done: bool
    own: bool = True  # reported on this device; False: another worker's (pulled)
    reporter_id: int | None = None
    training: bool = False  # synthetic (fieldclient simulate): shown as 培训数据


@dataclass(frozen=True)
class TimelineEntry:
    """One step of an event's story, oldest first.

    ``kind``: ``report`` (the worker's report), ``status`` (the centre moved it),
    ``note`` (a remark without a status change), ``supplement`` or ``verify``
    (the worker's follow-ups). ``status`` is the status reached, if any;
    ``uploaded`` is False while the worker's own entry waits for the network.
    """

    at: float
    kind: str
    status: str | None
    from_status: str | None
    text: str
    actor: str
    photos: tuple[str, ...]
    outcome: str | None
    uploaded: bool
    rejected: bool = False


@dataclass(frozen=True)
class LoopStep:
    """A step of the closed loop for the vertical timeline: ``done``, ``current`` or
    ``pending``; ``at`` is when it was reached (if known)."""

    status: str
    state: str
    at: float | None


# -- categories -----------------------------------------------------------------
def _parse_categories(value: Any) -> list[Category] | None:
    if not isinstance(value, dict) or not isinstance(value.get("categories"), list):
        return None
    found: list[Category] = []
    for entry in value["categories"]:
        if not isinstance(entry, dict):
            return None
        zh, en = entry.get("zh"), entry.get("en", "")
        if not isinstance(zh, str) or not zh.strip() or len(zh.strip()) > MAX_CATEGORY:
            return None
        if not isinstance(en, str):
            return None
        if zh.strip() not in {c.zh for c in found}:
            found.append(Category(zh.strip(), en.strip()))
    return found or None


def event_categories(session: Session) -> list[Category]:
    """The event classes in force: the centre's list if it sent a valid one, else
    domain.md's 22 defaults (a malformed setting never blocks reporting)."""
    parsed = _parse_categories(serverconfig.get(session.db, serverconfig.EVENT_CATEGORIES))
    if parsed is not None:
        return parsed
    return [Category(zh, en) for zh, en in DEFAULT_CATEGORIES]


def category_for(session: Session, wanted: str) -> str:
    """``wanted`` if it is a class in force, else 其他 (or the last class): a patrol
    finding's mapped class must not be lost when the centre changed the list."""
    names = [c.zh for c in event_categories(session)]
    if wanted in names:
        return wanted
    return OTHER_CATEGORY if OTHER_CATEGORY in names else names[-1]


# -- reporting ---------------------------------------------------------------------
def _check_photos(session: Session, photos: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(str(p) for p in photos))
    if len(ids) > MAX_PHOTOS:
        raise EventTooManyPhotos(limit=MAX_PHOTOS)
    for photo_id in ids:
        if session.db.execute("SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone() is None:
            raise EventPhotoMissing(photo_id=photo_id)
    return ids


def _location(position: Fix | None) -> dict[str, Any] | None:
    if position is None or not (math.isfinite(position.lat) and math.isfinite(position.lon)):
        return None
    return {"lat": position.lat, "lon": position.lon, "accuracy_m": position.accuracy_m,
            "at": position.t}


def report_event(
    session: Session,
    *,
    category: str,
    description: str,
    urgency: str = "normal",
    household_id: str | None = None,
    address: str | None = None,
    position: Fix | None = None,
    photos: Sequence[str] = (),
    grid_id: str | None = None,
    source: dict[str, Any] | None = None,
    training: bool = False,
) -> str:
    """Save and queue a new event; returns its id. ``training``: synthetic (``fieldclient
    simulate``), marked so here and at the centre.

    The grid defaults to the household's. The address defaults to the household's
    when the event is about one.
    """
    category = category.strip()
    if category not in {c.zh for c in event_categories(session)}:
        raise EventCategoryUnknown()
    text = description.strip()
    if not text:
        raise EventDescriptionMissing()
    if len(text) > MAX_DESCRIPTION:
        raise EventTextTooLong(limit=MAX_DESCRIPTION)
    if urgency not in URGENCIES:
        raise EventUrgencyUnknown()
    if household_id is not None:
        row = session.db.execute(
            "SELECT grid_id, address FROM households WHERE id = ?", (household_id,)).fetchone()
        if row is None:
            raise EventHouseholdUnknown(household_id=household_id)
        grid_id = grid_id if grid_id is not None else row[0]
        address = address if address is not None else row[1]
    place = address.strip() if address else None
    if place is not None and len(place) > MAX_ADDRESS:
        raise EventAddressTooLong(limit=MAX_ADDRESS)
    photo_ids = _check_photos(session, photos)
    location = _location(position)
    now = session.clock()
    event_id = new_id(now)
    grid_text = str(grid_id) if grid_id is not None else None
    payload: dict[str, Any] = {
        "id": event_id,
        "grid_id": grid_text,
        "category": category,
        "description": text,
        "urgency": urgency,
        "household_id": household_id,
        "address": place or None,
        "location": location,
        "photos": photo_ids,
        "reported_at": now,
        "device_id": session.device_id,
    }
    if source is not None:
        payload["source"] = source
    if training:
        payload["training"] = True
    with session.db.conn:
        session.db.execute(
            "INSERT INTO events (id, grid_id, category, description, urgency, household_id,"
            " address, lat, lon, accuracy_m, photos, source, reported_at, training)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (event_id, grid_text, category, text, urgency, household_id, place or None,
             location["lat"] if location else None, location["lon"] if location else None,
             location["accuracy_m"] if location else None,
             json.dumps(photo_ids), json.dumps(source, ensure_ascii=False) if source else None,
             now, int(training)),
        )
        session.enqueue("event.report", event_id, payload)
        detail: dict[str, Any] = {"kind": "event", "id": event_id, "grid_id": grid_text}
        if source and source.get("kind") == "patrol":
            detail.update(patrol_id=source.get("patrol_id"), item=source.get("item"))
        elif household_id is not None:
            detail["household_id"] = household_id
        session.audit.append(audit.RECORD_CREATED, detail)
    return event_id


# -- reading -------------------------------------------------------------------------
def _timestamp(value: Any) -> float | None:
    """A server ISO 8601 time (or a number) as Unix time; None when unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _history(raw: Any) -> list[dict[str, Any]]:
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [h for h in items if isinstance(h, dict) and isinstance(h.get("to_status"), str)]


def _op_states(session: Session, kind: str) -> dict[str, str]:
    """record id -> upload state of its ``kind`` op: ``pending`` while any op waits,
    else ``done`` when one was taken, else ``rejected``."""
    states: dict[str, str] = {}
    rank = {"pending": 2, "done": 1, "rejected": 0}
    for record_id, state in session.db.execute(
        "SELECT record_id, state FROM outbox WHERE kind = ?", (kind,)
    ):
        value = state if state in ("pending", "rejected") else "done"
        if rank[value] >= rank.get(states.get(record_id, "rejected"), 0):
            states[record_id] = value
    return states


@dataclass(frozen=True)
class _Followup:
    id: str
    event_id: str
    kind: str
    outcome: str | None
    text: str
    photos: tuple[str, ...]
    created_at: float


def _followups(session: Session, event_ids: Sequence[str] | None = None) -> list[_Followup]:
    query = ("SELECT id, event_id, kind, outcome, text, photos, created_at FROM event_followups")
    params: list[str] = []
    if event_ids is not None:
        if not event_ids:
            return []
        params = list(event_ids)
        query += f" WHERE event_id IN ({','.join('?' * len(params))})"
    rows = session.db.execute(query + " ORDER BY created_at, id", params).fetchall()
    return [_Followup(r[0], r[1], r[2], r[3], r[4] or "", tuple(json.loads(r[5] or "[]")), r[6])
            for r in rows]


_SUMMARY_SQL = (
    "SELECT e.id, e.grid_id, e.category, e.description, e.urgency, e.household_id, e.address,"
    " e.photos, e.reported_at, s.status, s.history, s.updated_at, e.training"
    " FROM events e LEFT JOIN sync_events s ON s.id = e.id"
)


def _summaries(session: Session, where: str = "", params: Sequence[Any] = ()) -> list[EventSummary]:
    rows = session.db.execute(
        f"{_SUMMARY_SQL} {where} ORDER BY e.reported_at DESC, e.id DESC", list(params)
    ).fetchall()
    if not rows:
        return []
    reports = _op_states(session, "event.report")
    followup_ops = _op_states(session, "event.followup")
    by_event: dict[str, list[_Followup]] = {}
    for f in _followups(session, [r[0] for r in rows] if len(rows) <= 500 else None):
        by_event.setdefault(f.event_id, []).append(f)
    out = []
    for (event_id, grid_id, category, description, urgency, household_id, address, photos,
         reported_at, status, history_raw, updated_at, training) in rows:
        history = _history(history_raw)
        confirmed = {h.get("followup_id") for h in history}
        own = by_event.get(event_id, [])
        waiting_list = [f for f in own if f.id not in confirmed
                        and followup_ops.get(f.id) == "pending"]
        waiting = waiting_list[-1].kind if waiting_list else None
        state = reports.get(event_id)
        if status is None:
            status = PENDING if state == "pending" else (
                REJECTED if state == "rejected" else "reported")
        action = None
        if waiting is None and status == "returned":
            action = SUPPLEMENT
        elif waiting is None and status == "resolved":
            action = VERIFY
        work_done = status in ("verified", "closed") or any(
            f.kind == VERIFY and f.outcome == PASSED and f.id not in confirmed
            and followup_ops.get(f.id) == "pending" for f in own)
        times = [reported_at, *(f.created_at for f in own)]
        times += [t for t in (_timestamp(h.get("at")) for h in history) if t is not None]
        updated = _timestamp(updated_at)
        if updated is not None:
            times.append(updated)
        out.append(EventSummary(
            id=event_id, grid_id=grid_id, category=category, description=description,
            urgency=urgency, status=status, household_id=household_id, address=address,
            photos=tuple(json.loads(photos or "[]")), reported_at=reported_at,
            last_change=max(times),
            pending_upload=state == "pending" or bool(waiting_list),
            action=action, waiting=waiting, work_done=work_done, training=bool(training),
        ))
    return out


def my_events(session: Session) -> list[EventSummary]:
    """Every event this device reported, newest first, with the centre's status."""
    return _summaries(session)


def events_for_household(session: Session, household_id: str) -> list[EventSummary]:
    """This device's events about one household, newest first."""
    return _summaries(session, "WHERE e.household_id = ?", (household_id,))


def _grid_summaries(session: Session, where: str = "", params: Sequence[Any] = ()
                    ) -> list[EventSummary]:
    rows = session.db.execute(
        "SELECT s.id, s.grid_id, s.category, s.description, s.urgency, s.household_id,"
        " s.address, s.status, s.history, s.updated_at, s.created_at, s.reporter_id"
        " FROM sync_events s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.id)"
        f" {where} ORDER BY s.created_at DESC, s.id DESC", list(params)).fetchall()
    out = []
    for (event_id, grid_id, category, description, urgency, household_id, address, status,
         history_raw, updated_at, created_at, reporter_id) in rows:
        reported = _timestamp(created_at) or 0.0
        times = [reported, *(t for t in (_timestamp(h.get("at"))
                                         for h in _history(history_raw)) if t is not None)]
        updated = _timestamp(updated_at)
        if updated is not None:
            times.append(updated)
        out.append(EventSummary(
            id=event_id, grid_id=grid_id, category=category or "", description=description or "",
            urgency=urgency if urgency in URGENCIES else "normal", status=status,
            household_id=household_id, address=address, photos=(), reported_at=reported,
            last_change=max(times), pending_upload=False, action=None, waiting=None,
            work_done=status in ("verified", "closed"), own=False, reporter_id=reporter_id))
    return out


def grid_events(session: Session) -> list[EventSummary]:
    """The events of the device's grids that other devices reported (pulled from the
    centre with their status), newest first: the grid leader's view of the grid."""
    return _grid_summaries(session)


def reporter_names(session: Session) -> dict[int, str]:
    """Person id -> name, from the devices a leader's or supervisor's device pulled."""
    return {int(r[0]): str(r[1]) for r in session.db.execute(
        "SELECT person_id, person_name FROM sync_devices WHERE person_name IS NOT NULL")}


def get_event(session: Session, event_id: str) -> EventSummary:
    found = _summaries(session, "WHERE e.id = ?", (event_id,)) or _grid_summaries(
        session, "AND s.id = ?", (event_id,))
    if not found:
        raise EventNotFound(event_id=event_id)
    return found[0]


def event_timeline(session: Session, event_id: str) -> list[TimelineEntry]:
    """The event's story in order: the report, what the centre did (pulled
    history), and the worker's follow-ups; a follow-up the centre has recorded is
    shown once, where the centre put it."""
    event = get_event(session, event_id)
    row = session.db.execute(
        "SELECT history FROM sync_events WHERE id = ?", (event_id,)).fetchone()
    history = _history(row[0]) if row is not None else []
    own = {f.id: f for f in _followups(session, [event_id])}
    ops = _op_states(session, "event.followup")
    entries = [TimelineEntry(
        at=event.reported_at, kind="report", status="reported", from_status=None,
        text=event.description, actor="me" if event.own else "reporter", photos=event.photos,
        outcome=None,
        uploaded=event.status not in (PENDING, REJECTED), rejected=event.status == REJECTED,
    )]
    confirmed: set[str] = set()
    for h in history:
        from_status, to_status = h.get("from_status"), str(h["to_status"])
        at = _timestamp(h.get("at")) or event.reported_at
        note = str(h.get("note") or "")
        followup = own.get(str(h.get("followup_id") or ""))
        changed = from_status != to_status
        if from_status is None and to_status == "reported":
            continue  # the report itself, shown above
        if followup is not None:
            confirmed.add(followup.id)
            entries.append(TimelineEntry(
                at=at, kind=followup.kind, status=to_status if changed else None,
                from_status=from_status, text=followup.text, actor="me", photos=followup.photos,
                outcome=followup.outcome, uploaded=True))
        else:
            entries.append(TimelineEntry(
                at=at, kind="status" if changed else "note",
                status=to_status if changed else None, from_status=from_status, text=note,
                actor=str(h.get("actor") or ""), photos=(), outcome=None, uploaded=True))
    for f in own.values():
        if f.id not in confirmed:
            entries.append(TimelineEntry(
                at=f.created_at, kind=f.kind, status=None, from_status=None, text=f.text,
                actor="me", photos=f.photos, outcome=f.outcome,
                uploaded=ops.get(f.id) == "done", rejected=ops.get(f.id) == "rejected"))
    return entries


def loop_steps(status: str, timeline: Sequence[TimelineEntry]) -> list[LoopStep]:
    """The closed loop's main steps for ``status``: done up to the furthest step
    reached (a skipped step, e.g. 已派遣, counts as done), the current one, then
    the steps still to come. A returned or escalated event stays at the step it
    had reached."""
    reached: dict[str, float] = {}
    furthest = -1
    for entry in timeline:
        if entry.status in LOOP:
            reached[entry.status] = entry.at
    if status in LOOP:
        furthest = LOOP.index(status)
    else:
        for name in reversed(LOOP):
            if name in reached:
                furthest = LOOP.index(name)
                break
    steps = []
    for index, name in enumerate(LOOP):
        if index < furthest or (index == furthest and status not in LOOP):
            state = "done"
        elif index == furthest:
            state = "done" if name == "closed" else "current"
        else:
            state = "pending"
        steps.append(LoopStep(name, state, reached.get(name)))
    return steps


# -- follow-ups ----------------------------------------------------------------------
def _add_followup(
    session: Session,
    event: EventSummary,
    kind: str,
    text: str,
    photos: Sequence[str],
    outcome: str | None = None,
    position: Fix | None = None,
) -> str:
    if event.waiting is not None:
        raise FollowupAlreadyWaiting()
    if len(text) > MAX_DESCRIPTION:
        raise EventTextTooLong(limit=MAX_DESCRIPTION)
    photo_ids = _check_photos(session, photos)
    location = _location(position)
    now = session.clock()
    followup_id = new_id(now)
    payload = {
        "event_id": event.id, "kind": kind, "outcome": outcome, "text": text,
        "photos": photo_ids, "location": location, "created_at": now,
    }
    with session.db.conn:
        session.db.execute(
            "INSERT INTO event_followups (id, event_id, kind, outcome, text, photos, lat, lon,"
            " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (followup_id, event.id, kind, outcome, text, json.dumps(photo_ids),
             location["lat"] if location else None, location["lon"] if location else None, now),
        )
        session.enqueue("event.followup", followup_id, payload)
        session.audit.append(audit.RECORD_CREATED, {
            "kind": "event_followup", "id": followup_id, "event_id": event.id,
            "followup": kind, "outcome": outcome})
    return followup_id


def supplement(session: Session, event_id: str, text: str, photos: Sequence[str] = ()) -> str:
    """Add what the centre asked for to a returned event; returns the follow-up id.
    The centre then sees the event as reported again, with this text."""
    event = get_event(session, event_id)
    if event.status != "returned":
        raise SupplementNotNeeded(status=STATUS_TEXT.get(event.status, event.status))
    text = text.strip()
    if not text:
        raise SupplementTextMissing()
    return _add_followup(session, event, SUPPLEMENT, text, photos)


def verify(
    session: Session,
    event_id: str,
    outcome: str,
    text: str = "",
    photos: Sequence[str] = (),
    position: Fix | None = None,
) -> str:
    """The on-the-spot check of a resolved event (核查), with at least one photo.
    ``passed`` ends the worker's part; ``failed`` sends it back to be handled."""
    event = get_event(session, event_id)
    if event.status != "resolved":
        raise VerifyNotPossible(status=STATUS_TEXT.get(event.status, event.status))
    if outcome not in (PASSED, FAILED):
        raise VerifyOutcomeUnknown()
    text = text.strip()
    if outcome == FAILED and not text:
        raise VerifyReasonMissing()
    if not photos:
        raise VerifyPhotoRequired()
    return _add_followup(session, event, VERIFY, text, photos, outcome, position)
