"""Household visits (走访): record, correct, list.

A saved visit never changes (the table refuses UPDATE and DELETE). A correction
is a new visit whose ``corrects`` names the one it replaces; the old one stays,
shown as superseded. A correction keeps the corrected visit's time, household and
training mark, so it does not count as another visit for the quotas
(``visit_summary``'s trigger ignores it).

Saving writes the ``visits`` row, the ``visit.create`` outbox op (its payload is
the row's columns except ``origin`` and ``created_at``) and the audit entry in one
transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from fieldclient.devicetime import device_zone
from fieldclient.errors import FieldClientError
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.ids import new_id
from fieldclient.security import audit

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

VISIT_TYPES = ("home", "phone", "revisit", "other")
VISIT_TYPE_NAMES = {
    "home": QT_TRANSLATE_NOOP("visits", "入户走访"),
    "phone": QT_TRANSLATE_NOOP("visits", "电话联系"),
    "revisit": QT_TRANSLATE_NOOP("visits", "回访"),
    "other": QT_TRANSLATE_NOOP("visits", "其他"),
}
MAX_PEOPLE = 200
MAX_TEXT = 2000
MAX_PHOTOS = 9
# Columns of ``visits`` in table order; the op payload leaves out origin and created_at.
COLUMNS = (
    "id", "household_id", "grid_id", "visit_type", "visited_at", "tz_offset_minutes",
    "people_met", "situation", "needs", "follow_up", "follow_up_due", "photos", "lat", "lon",
    "accuracy_m", "corrects", "worker", "device_id", "training", "origin", "created_at",
)
PAYLOAD_COLUMNS = tuple(c for c in COLUMNS if c not in ("origin", "created_at"))


class Position(Protocol):
    """A position fix (:class:`fieldclient.geo.geometry.Fix` fits)."""

    @property
    def lat(self) -> float: ...

    @property
    def lon(self) -> float: ...

    @property
    def accuracy_m(self) -> float | None: ...


class UnknownVisitType(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "请选择走访方式。")


class VisitSituationEmpty(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "请写一句走访的情况，再保存。")


class VisitTextTooLong(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "有一项内容太长了，最多{limit}个字。")


class VisitTooManyPhotos(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "一次走访最多{limit}张照片。")


class VisitPhotoMissing(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "有一张照片在本设备上找不到了，请重新拍照。")


class VisitHouseholdNotFound(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "本设备上没有这户的记录。")


class VisitNotFound(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "找不到要更正的走访记录。")


class VisitAlreadyCorrected(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "这条走访记录已经更正过了，请更正最新的那一条。")


class VisitCorrectionMismatch(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "更正只能针对同一户的走访记录。")


@dataclass(frozen=True)
class Visit:
    id: str
    household_id: str
    grid_id: str | None
    visit_type: str
    visited_at: float
    tz_offset_minutes: int
    people_met: str
    situation: str
    needs: str
    follow_up: str
    follow_up_due: date | None
    photos: tuple[str, ...]
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    corrects: str | None
    worker: str | None
    device_id: str | None
    training: bool
    origin: str
    created_at: float
    superseded_by: str | None = None  # the correction that replaced this visit

    @property
    def superseded(self) -> bool:
        return self.superseded_by is not None


def _visit(row: Sequence[Any], superseded_by: str | None) -> Visit:
    values = dict(zip(COLUMNS, row, strict=True))
    due = values["follow_up_due"]
    return Visit(
        id=values["id"], household_id=values["household_id"],
        grid_id=None if values["grid_id"] is None else str(values["grid_id"]),
        visit_type=values["visit_type"], visited_at=float(values["visited_at"]),
        tz_offset_minutes=int(values["tz_offset_minutes"]),
        people_met=values["people_met"], situation=values["situation"],
        needs=values["needs"], follow_up=values["follow_up"],
        follow_up_due=date.fromisoformat(due) if due else None,
        photos=tuple(json.loads(values["photos"] or "[]")),
        lat=values["lat"], lon=values["lon"], accuracy_m=values["accuracy_m"],
        corrects=values["corrects"], worker=values["worker"], device_id=values["device_id"],
        training=bool(values["training"]), origin=values["origin"],
        created_at=float(values["created_at"]), superseded_by=superseded_by,
    )


_SELECT = (
    "SELECT " + ", ".join(f"v.{c}" for c in COLUMNS)
    + ", (SELECT c.id FROM visits c WHERE c.corrects = v.id ORDER BY c.created_at DESC"
    " LIMIT 1) FROM visits v"
)


def get_visit(session: Session, visit_id: str) -> Visit:
    row = session.db.execute(_SELECT + " WHERE v.id = ?", (visit_id,)).fetchone()
    if row is None:
        raise VisitNotFound()
    return _visit(row[:-1], row[-1])


def visits_for_household(session: Session, household_id: str) -> list[Visit]:
    """The household's visits, newest first; a corrected one knows ``superseded_by``."""
    rows = session.db.execute(
        _SELECT + " WHERE v.household_id = ? ORDER BY v.visited_at DESC, v.created_at DESC",
        (household_id,),
    ).fetchall()
    return [_visit(row[:-1], row[-1]) for row in rows]


def _worker(session: Session) -> str | None:
    """The enrolled person (``{"id", "name"}`` stored by the sync engine), as text."""
    row = session.db.execute("SELECT value FROM meta WHERE key = 'sync.person'").fetchone()
    if row is None:
        return None
    try:
        person = json.loads(row[0])
    except (TypeError, ValueError):
        return None
    name = str(person.get("name") or "") if isinstance(person, dict) else ""
    return name or None


def _check_text(name: str, value: str, limit: int) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text")
    value = value.strip()
    if len(value) > limit:
        raise VisitTextTooLong(field=name, limit=limit)
    return value


def _offset_minutes(at: float) -> int:
    offset = datetime.fromtimestamp(at, device_zone()).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def record_visit(
    session: Session,
    household_id: str,
    *,
    visit_type: str,
    people_met: str = "",
    situation: str = "",
    needs: str = "",
    follow_up: str = "",
    follow_up_due: date | None = None,
    photos: Sequence[str] = (),
    position: Position | None = None,
    corrects: str | None = None,
    training: bool = False,
    worker: str | None = None,
) -> str:
    """Save a visit (or, with ``corrects``, a correction of one); returns its id."""
    if visit_type not in VISIT_TYPES:
        raise UnknownVisitType()
    people_met = _check_text("people_met", people_met, MAX_PEOPLE)
    situation = _check_text("situation", situation, MAX_TEXT)
    needs = _check_text("needs", needs, MAX_TEXT)
    follow_up = _check_text("follow_up", follow_up, MAX_TEXT)
    if not situation:
        raise VisitSituationEmpty()
    if follow_up_due is not None and not isinstance(follow_up_due, date):
        raise TypeError("follow_up_due must be a date")
    photo_ids = list(dict.fromkeys(photos))
    if len(photo_ids) > MAX_PHOTOS:
        raise VisitTooManyPhotos(limit=MAX_PHOTOS)
    now = session.clock()
    visit_id = new_id(now)
    with session.db.conn:
        household = session.db.execute(
            "SELECT grid_id FROM households WHERE id = ?", (household_id,)).fetchone()
        if household is None:
            raise VisitHouseholdNotFound()
        for photo_id in photo_ids:
            if session.db.execute(
                    "SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone() is None:
                raise VisitPhotoMissing()
        visited_at, is_training = now, training
        if corrects is not None:
            old = session.db.execute(
                "SELECT household_id, visited_at, training FROM visits WHERE id = ?",
                (corrects,)).fetchone()
            if old is None:
                raise VisitNotFound()
            if old[0] != household_id:
                raise VisitCorrectionMismatch()
            if session.db.execute(
                    "SELECT 1 FROM visits WHERE corrects = ?", (corrects,)).fetchone():
                raise VisitAlreadyCorrected()
            visited_at, is_training = float(old[1]), bool(old[2])
        row: dict[str, Any] = {
            "id": visit_id,
            "household_id": household_id,
            "grid_id": household[0],
            "visit_type": visit_type,
            "visited_at": visited_at,
            "tz_offset_minutes": _offset_minutes(visited_at),
            "people_met": people_met,
            "situation": situation,
            "needs": needs,
            "follow_up": follow_up,
            "follow_up_due": follow_up_due.isoformat() if follow_up_due else None,
            "photos": json.dumps(photo_ids),
            "lat": position.lat if position is not None else None,
            "lon": position.lon if position is not None else None,
            "accuracy_m": position.accuracy_m if position is not None else None,
            "corrects": corrects,
            "worker": worker if worker is not None else _worker(session),
            "device_id": session.device_id,
            "training": 1 if is_training else 0,
            "origin": "local",
            "created_at": now,
        }
        session.db.execute(
            f"INSERT INTO visits ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            [row[c] for c in COLUMNS],
        )
        session.enqueue("visit.create", visit_id, {c: row[c] for c in PAYLOAD_COLUMNS})
        detail: dict[str, Any] = {"kind": "visit", "id": visit_id, "household_id": household_id}
        if corrects is not None:
            detail["corrects"] = corrects
        if is_training:
            detail["training"] = True
        session.audit.append(audit.RECORD_CREATED, detail)
    return visit_id
