"""Tasks and notices from the centre (任务/通知): the inbox, reading, acknowledging, answering.

Tasks arrive through the pull feed into ``sync_tasks``. What the worker did with
them lives on the device: ``task_state`` (read, acknowledged) and the insert-only
``task_answers``. An acknowledgement and an answer reach the centre as immutable
``task.ack`` / ``task.answer`` outbox ops, each written with its local row and an
audit entry in one transaction. Reading is the device's own business (not sent).

A task without a due time is a notice (通知). A due date without a time means the
end of that day, China Standard Time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from fieldclient.devicetime import CST
from fieldclient.errors import FieldClientError
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.ids import new_id
from fieldclient.security import audit

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

MAX_ANSWER_TEXT = 5000
MAX_ANSWER_PHOTOS = 20


class TaskNotFound(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "找不到这条任务（编号{task_id}）。请先同步。")


class AnswerEmpty(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "回复是空的。请写几句话、拍张照片或上报一个事件，再发送。")


class AnswerTooLong(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "回复太长了，最多{limit}个字。")


class AnswerTooManyPhotos(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "一条回复最多带{limit}张照片。")


class AnswerPhotoMissing(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "找不到要附上的照片（编号{photo_id}），请重新拍照。")


@dataclass(frozen=True)
class TaskAnswer:
    id: str
    text: str
    photos: tuple[str, ...]
    event_id: str | None
    created_at: float


@dataclass(frozen=True)
class InboxTask:
    """One task or notice as the inbox shows it."""

    id: str
    grid_id: str | None
    title: str
    body: str
    due: datetime | None  # China Standard Time; None: a notice
    created_at: datetime | None
    read_at: float | None
    acknowledged_at: float | None
    answers: tuple[TaskAnswer, ...]
    overdue: bool  # due and passed, and not answered yet

    @property
    def is_notice(self) -> bool:
        return self.due is None

    @property
    def unread(self) -> bool:
        return self.read_at is None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def answered(self) -> bool:
        return bool(self.answers)


def parse_server_time(value: str | None, end_of_day: bool = False) -> datetime | None:
    """A time the centre sent (ISO date or UTC date-time) in China Standard Time;
    None when absent or unreadable (a damaged value never hides the task)."""
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59) if end_of_day else time(0, 0), CST)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CST)


_INBOX = (
    "SELECT t.id, t.grid_id, t.title, t.body, t.due, t.created_at, s.read_at,"
    " s.acknowledged_at FROM sync_tasks t LEFT JOIN task_state s ON s.task_id = t.id"
)


def _answers(session: Session, task_ids: Sequence[str]) -> dict[str, list[TaskAnswer]]:
    found: dict[str, list[TaskAnswer]] = {t: [] for t in task_ids}
    for start in range(0, len(task_ids), 500):
        chunk = list(task_ids[start:start + 500])
        for answer_id, task_id, text, photos, event_id, created_at in session.db.execute(
            "SELECT id, task_id, text, photos, event_id, created_at FROM task_answers"
            f" WHERE task_id IN ({','.join('?' * len(chunk))}) ORDER BY created_at",
            chunk,
        ):
            found[task_id].append(TaskAnswer(
                answer_id, text, tuple(json.loads(photos or "[]")), event_id, created_at))
    return found


def _build(row: Sequence[object], answers: list[TaskAnswer], now: float) -> InboxTask:
    task_id, grid_id, title, body, due_text, created_text, read_at, ack_at = row
    due = parse_server_time(str(due_text) if due_text else None, end_of_day=True)
    return InboxTask(
        id=str(task_id), grid_id=None if grid_id is None else str(grid_id), title=str(title),
        body=str(body), due=due,
        created_at=parse_server_time(str(created_text) if created_text else None),
        read_at=read_at if isinstance(read_at, float | int) else None,
        acknowledged_at=ack_at if isinstance(ack_at, float | int) else None,
        answers=tuple(answers),
        overdue=due is not None and not answers and due.timestamp() < now,
    )


def inbox(session: Session, now: float | None = None) -> list[InboxTask]:
    """Every task and notice: unread first, then newest first."""
    now = session.clock() if now is None else now
    rows = session.db.execute(
        _INBOX + " ORDER BY s.read_at IS NOT NULL, t.created_at DESC, t.server_seq DESC"
    ).fetchall()
    answers = _answers(session, [r[0] for r in rows])
    return [_build(r, answers[r[0]], now) for r in rows]


def get_task(session: Session, task_id: str, now: float | None = None) -> InboxTask:
    row = session.db.execute(_INBOX + " WHERE t.id = ?", (task_id,)).fetchone()
    if row is None:
        raise TaskNotFound(task_id=task_id)
    now = session.clock() if now is None else now
    return _build(row, _answers(session, [task_id])[task_id], now)


def unread_count(session: Session) -> int:
    row = session.db.execute(
        "SELECT count(*) FROM sync_tasks t LEFT JOIN task_state s ON s.task_id = t.id"
        " WHERE s.read_at IS NULL"
    ).fetchone()
    return int(row[0])


def _require(session: Session, task_id: str) -> None:
    if session.db.execute("SELECT 1 FROM sync_tasks WHERE id = ?", (task_id,)).fetchone() is None:
        raise TaskNotFound(task_id=task_id)


def _touch(session: Session, task_id: str, now: float, acknowledged: bool) -> None:
    """Mark read (and acknowledged); earlier times are kept."""
    session.db.execute(
        "INSERT INTO task_state (task_id, read_at, acknowledged_at) VALUES (?, ?, ?)"
        " ON CONFLICT(task_id) DO UPDATE SET read_at = coalesce(read_at, excluded.read_at),"
        " acknowledged_at = coalesce(acknowledged_at, excluded.acknowledged_at)",
        (task_id, now, now if acknowledged else None),
    )


def mark_read(session: Session, task_id: str) -> bool:
    """The worker opened the task; True when it was unread."""
    _require(session, task_id)
    with session.db.conn:
        row = session.db.execute(
            "SELECT read_at FROM task_state WHERE task_id = ?", (task_id,)).fetchone()
        if row is not None and row[0] is not None:
            return False
        _touch(session, task_id, session.clock(), acknowledged=False)
    return True


def _enqueue_ack(session: Session, task_id: str, now: float) -> str:
    ack_id = new_id(now)
    session.enqueue("task.ack", ack_id, {"task_id": task_id, "acknowledged_at": now})
    session.audit.append(audit.RECORD_CREATED, {"kind": "task_ack", "id": ack_id,
                                                "task_id": task_id})
    return ack_id


def acknowledge(session: Session, task_id: str) -> str | None:
    """确认收到: tell the centre the task reached the worker. Returns the new record
    id, or None when it had been acknowledged already (nothing is sent twice)."""
    _require(session, task_id)
    with session.db.conn:
        row = session.db.execute(
            "SELECT acknowledged_at FROM task_state WHERE task_id = ?", (task_id,)).fetchone()
        if row is not None and row[0] is not None:
            return None
        now = session.clock()
        _touch(session, task_id, now, acknowledged=True)
        return _enqueue_ack(session, task_id, now)


def answer(
    session: Session,
    task_id: str,
    text: str = "",
    photos: Sequence[str] = (),
    event_id: str | None = None,
) -> str:
    """回复: text, photos (ids of stored photos) and/or a reported event. An answer
    acknowledges the task too. Returns the answer id."""
    _require(session, task_id)
    text = text.strip()
    photos = list(dict.fromkeys(photos))
    if not text and not photos and not event_id:
        raise AnswerEmpty()
    if len(text) > MAX_ANSWER_TEXT:
        raise AnswerTooLong(limit=MAX_ANSWER_TEXT)
    if len(photos) > MAX_ANSWER_PHOTOS:
        raise AnswerTooManyPhotos(limit=MAX_ANSWER_PHOTOS)
    for photo_id in photos:
        if session.db.execute("SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone() is None:
            raise AnswerPhotoMissing(photo_id=photo_id)
    now = session.clock()
    answer_id = new_id(now)
    payload: dict[str, Any] = {
        "task_id": task_id, "text": text, "photos": photos, "answered_at": now}
    if event_id:
        payload["event_id"] = event_id
    with session.db.conn:
        state = session.db.execute(
            "SELECT acknowledged_at FROM task_state WHERE task_id = ?", (task_id,)).fetchone()
        if state is None or state[0] is None:
            _enqueue_ack(session, task_id, now)
        _touch(session, task_id, now, acknowledged=True)
        session.db.execute(
            "INSERT INTO task_answers (id, task_id, text, photos, event_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (answer_id, task_id, text, json.dumps(photos), event_id, now),
        )
        session.enqueue("task.answer", answer_id, payload)
        session.audit.append(audit.RECORD_CREATED, {
            "kind": "task_answer", "id": answer_id, "task_id": task_id,
            "photos": len(photos), "event_id": event_id})
    return answer_id
