"""Report a patrol finding as an event (事件上报): queued for the centre.

There is no local events module yet, so the report is what the sync protocol
takes: an immutable ``event.report`` outbox record (``sync/protocol.py``; the
server requires ``grid_id``, ``category`` ≤ 20 characters, ``description``
≤ 5,000 and an id ≤ 36), written with its audit entry in one transaction.
The payload is :meth:`fieldclient.patrols.EventDraft.as_payload` plus the id,
the reporting device and time.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from fieldclient import audit
from fieldclient.errors import FieldClientError
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.ids import new_id

if TYPE_CHECKING:
    from fieldclient.patrols import EventDraft
    from fieldclient.session import Session

MAX_DESCRIPTION = 5000


class EventDescriptionEmpty(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "请写一句话说明发现的问题，再上报。")


class EventDescriptionTooLong(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "问题说明太长了，最多{limit}个字。")


def report_event(session: Session, draft: EventDraft, description: str | None = None) -> str:
    """Queue the event; returns its id. ``description`` replaces the draft's."""
    text = (draft.description if description is None else description).strip()
    if not text:
        raise EventDescriptionEmpty()
    if len(text) > MAX_DESCRIPTION:
        raise EventDescriptionTooLong(limit=MAX_DESCRIPTION)
    now = session.clock()
    event_id = new_id(now)
    payload = {
        **draft.as_payload(),
        "id": event_id,
        "description": text,
        "reported_at": now,
        "device_id": session.device_id,
    }
    with session.db.conn:
        session.enqueue("event.report", event_id, payload)
        session.audit.append(
            audit.RECORD_CREATED,
            {"kind": "event", "id": event_id, "grid_id": draft.grid_id,
             "patrol_id": draft.patrol_id, "item": draft.item_code},
        )
    return event_id


def reported_items(session: Session, patrol_id: str) -> dict[str, str]:
    """Items of a patrol already reported as events: code -> event id."""
    rows = session.db.execute(
        "SELECT record_id, payload FROM outbox WHERE kind = 'event.report'"
        " AND payload LIKE ? ORDER BY created_at",
        (f"%{patrol_id}%",),
    ).fetchall()
    found: dict[str, str] = {}
    for record_id, payload in rows:
        source = json.loads(payload).get("source") or {}
        if source.get("kind") == "patrol" and source.get("patrol_id") == patrol_id:
            found[str(source.get("item"))] = record_id
    return found
