"""Review verdicts on visits and patrols (审核, as ODK Central: approved, has issues,
rejected), on the device.

A grid leader or supervisor reviews a worker's record (:func:`review`): the verdict is
saved here at once (``reviews``, ``origin = 'local'``), queued as ``review.create`` and
audited, in one transaction. Verdicts are never edited: a new one is a new row, and a
record's state is its latest verdict (:func:`latest`). The worker's device pulls the
verdicts on its person's records (``origin = 'server'``); a visit with issues or
rejected and not corrected since is something to do (:func:`needing_correction`): the
worker files a correction (:func:`fieldclient.fieldwork.visits.record_visit` with
``corrects``), which the reviewer pulls like any visit.

Tables (migration 12): ``reviews``; ``sync_patrols`` and ``sync_devices`` (what a
reviewer's device pulls of the grid's patrols and devices, see :mod:`sync.protocol`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork.enrollment import enrollment
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.ids import new_id
from fieldclient.security import audit

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

STATES = ("approved", "has_issues", "rejected")
STATE_NAMES = {
    "approved": QT_TRANSLATE_NOOP("reviews", "合格"),
    "has_issues": QT_TRANSLATE_NOOP("reviews", "有问题"),
    "rejected": QT_TRANSLATE_NOOP("reviews", "不合格"),
}
TARGETS = ("visit", "patrol")
REVIEWER_ROLES = frozenset({"leader", "supervisor"})  # as sync.protocol.REVIEWER_ROLES
MAX_COMMENT = 2000


class NotReviewer(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "只有网格长和网格指导员可以审核。")


class ReviewOwnRecord(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "不能审核自己的记录。")


class ReviewTargetNotFound(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "本设备上找不到要审核的记录。")


class ReviewCommentNeeded(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "选“有问题”时，请写明是什么问题。")


class ReviewCommentTooLong(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "意见太长了，最多{limit}个字。")


@dataclass(frozen=True)
class Review:
    id: str
    target_kind: str
    target_id: str
    grid_id: str | None
    state: str
    comment: str
    reviewer_id: int | None
    reviewer_name: str | None
    reviewer_role: str | None
    worker_id: int | None
    household_id: str | None
    reviewed_at: float
    origin: str


COLUMNS = ("id", "target_kind", "target_id", "grid_id", "state", "comment", "reviewer_id",
           "reviewer_name", "reviewer_role", "worker_id", "household_id", "reviewed_at",
           "origin")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM reviews"


def _review(row: Any) -> Review:
    values = dict(zip(COLUMNS, row, strict=True))
    values["reviewed_at"] = float(values["reviewed_at"])
    values["comment"] = values["comment"] or ""
    return Review(**values)


def can_review(session: Session) -> bool:
    """Whether this device's person may review (a grid leader or supervisor)."""
    found = enrollment(session)
    return found is not None and found.role in REVIEWER_ROLES


def _target(session: Session, target_kind: str, target_id: str) -> tuple[Any, ...]:
    """(grid, worker person, household, device) of the record to review."""
    if target_kind == "visit":
        row = session.db.execute(
            "SELECT grid_id, person_id, household_id, device_id FROM visits WHERE id = ?",
            (target_id,)).fetchone()
    elif target_kind == "patrol":
        row = session.db.execute(
            "SELECT grid_id, person_id, NULL, device_id FROM sync_patrols WHERE id = ?",
            (target_id,)).fetchone()
    else:
        raise ValueError(f"unknown review target {target_kind!r}")
    if row is None:
        raise ReviewTargetNotFound()
    return tuple(row)


def review(session: Session, target_kind: str, target_id: str, state: str,
           comment: str = "") -> str:
    """Record a verdict on another worker's visit or patrol; returns the review id."""
    if state not in STATES:
        raise ValueError(f"unknown review state {state!r}")
    found = enrollment(session)
    if found is None or found.role not in REVIEWER_ROLES:
        raise NotReviewer()
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ReviewCommentTooLong(limit=MAX_COMMENT)
    if state == "has_issues" and not comment:
        raise ReviewCommentNeeded()
    now = session.clock()
    review_id = new_id(now)
    with session.db.conn:
        grid_id, worker_id, household_id, device_id = _target(session, target_kind, target_id)
        if device_id == session.device_id or (worker_id is not None
                                              and int(worker_id) == found.person_id):
            raise ReviewOwnRecord()
        session.db.execute(
            f"INSERT INTO reviews ({', '.join(COLUMNS)}, created_at)"
            f" VALUES ({', '.join('?' * (len(COLUMNS) + 1))})",
            (review_id, target_kind, target_id, grid_id, state, comment, found.person_id,
             found.person_name, found.role, worker_id, household_id, now, "local", now))
        payload: dict[str, Any] = {"target_kind": target_kind, "target_id": target_id,
                                   "state": state, "reviewed_at": now}
        if comment:
            payload["comment"] = comment
        session.enqueue("review.create", review_id, payload)
        session.audit.append(audit.RECORD_CREATED, {
            "kind": "review", "id": review_id, "target_kind": target_kind,
            "target_id": target_id, "state": state})
    return review_id


def reviews_of(session: Session, target_kind: str, target_id: str) -> list[Review]:
    """Every verdict on the record, oldest first (comments are never edited)."""
    rows = session.db.execute(
        _SELECT + " WHERE target_kind = ? AND target_id = ? ORDER BY reviewed_at, id",
        (target_kind, target_id)).fetchall()
    return [_review(r) for r in rows]


def reviews_for_visits(session: Session, visit_ids: list[str]) -> list[Review]:
    """Every verdict on these visits, oldest first."""
    out: list[Review] = []
    for start in range(0, len(visit_ids), 500):
        chunk = visit_ids[start:start + 500]
        out += [_review(r) for r in session.db.execute(
            _SELECT + f" WHERE target_kind = 'visit' AND target_id IN"
            f" ({','.join('?' * len(chunk))}) ORDER BY reviewed_at, id", chunk).fetchall()]
    out.sort(key=lambda r: (r.reviewed_at, r.id))
    return out


def latest(session: Session, target_kind: str, ids: list[str]) -> dict[str, Review]:
    """The latest verdict per record id (records without one are absent)."""
    out: dict[str, Review] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = session.db.execute(
            _SELECT + f" WHERE target_kind = ? AND target_id IN ({','.join('?' * len(chunk))})"
            " ORDER BY reviewed_at, id", (target_kind, *chunk)).fetchall()
        for row in rows:
            item = _review(row)
            out[item.target_id] = item
    return out


def needing_correction(session: Session) -> list[Review]:
    """The latest verdicts that ask this device's worker for a correction: on a visit
    of theirs, ``has_issues`` or ``rejected``, and no correction of it made since."""
    rows = session.db.execute(
        _SELECT + " r WHERE target_kind = 'visit' AND state IN ('has_issues', 'rejected')"
        " AND reviewed_at = (SELECT max(reviewed_at) FROM reviews x"
        "   WHERE x.target_kind = 'visit' AND x.target_id = r.target_id)"
        " AND EXISTS (SELECT 1 FROM visits v WHERE v.id = r.target_id AND v.origin = 'local')"
        " AND NOT EXISTS (SELECT 1 FROM visits c WHERE c.corrects = r.target_id)"
        " ORDER BY reviewed_at DESC").fetchall()
    return [_review(r) for r in rows]


# -- pulled rows (sync engine) ---------------------------------------------------------------

def save_pulled_review(session: Session, data: dict[str, Any], seq: int, now: float) -> None:
    """A verdict from the centre; one already here (this device's own) stays as it is."""
    reviewed = data.get("reviewed_at")
    session.db.execute(
        f"INSERT OR IGNORE INTO reviews ({', '.join(COLUMNS)}, server_seq, created_at)"
        f" VALUES ({', '.join('?' * (len(COLUMNS) + 2))})",
        (data["id"], data["target_kind"], data["target_id"], str(data["grid_id"]),
         data["state"], data.get("comment") or "", data.get("reviewer_id"),
         data.get("reviewer_name"), data.get("reviewer_role"), data.get("worker_id"),
         data.get("household_id"),
         float(reviewed) if isinstance(reviewed, int | float) else now, "server", seq, now))


def save_pulled_patrol(session: Session, data: dict[str, Any], seq: int) -> None:
    """Another device's finished patrol (the whole row again when more of it came)."""
    def number(name: str) -> float | None:
        value = data.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(
            value, bool) else None

    def whole(name: str) -> int | None:
        value = data.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    session.db.execute(
        "INSERT OR REPLACE INTO sync_patrols (id, grid_id, person_id, device_id, started_at,"
        " finished_at, duration_s, distance_m, checklist_version, items_total, items_done,"
        " problems, results, track, data, server_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (data["id"], str(data["grid_id"]), int(data["person_id"]), data.get("device_id"),
         number("started_at"), number("finished_at"), number("duration_s"),
         number("distance_m"), whole("checklist_version"), whole("items_total"),
         whole("items_done"), whole("problems"),
         json.dumps(data.get("results") or [], ensure_ascii=False),
         json.dumps(data.get("track") or []), json.dumps(data, ensure_ascii=False), seq))


def save_pulled_device(session: Session, data: dict[str, Any], seq: int) -> None:
    session.db.execute(
        "INSERT OR REPLACE INTO sync_devices (id, person_id, person_name, role, grid_ids, name,"
        " status, enrolled_at, last_contact, server_seq) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (data["id"], int(data["person_id"]), data.get("person_name"), data.get("role"),
         json.dumps([str(g) for g in data.get("grid_ids") or []]), data.get("name"),
         data.get("status"), data.get("enrolled_at"), data.get("last_contact"), seq))
