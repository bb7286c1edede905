"""Report a patrol finding as an event (事件上报).

The draft (:class:`fieldclient.fieldwork.patrols.EventDraft`: the item's class, note,
photos and the patrol's last position) goes through
:func:`fieldclient.fieldwork.events.report_event`, so the finding gets a local ``events``
row (it shows under "My events") and its ``event.report`` op and audit entry in
one transaction. The payload's ``source`` names the patrol and item.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from fieldclient.fieldwork import events
from fieldclient.fieldwork.events import MAX_DESCRIPTION
from fieldclient.fieldwork.events import EventDescriptionMissing as EventDescriptionEmpty
from fieldclient.fieldwork.events import EventTextTooLong as EventDescriptionTooLong
from fieldclient.geo.geometry import Fix

if TYPE_CHECKING:
    from fieldclient.fieldwork.patrols import EventDraft
    from fieldclient.storage.session import Session

__all__ = ["MAX_DESCRIPTION", "EventDescriptionEmpty", "EventDescriptionTooLong",
           "report_event", "reported_items"]


def report_event(session: Session, draft: EventDraft, description: str | None = None) -> str:
    """Save and queue the event; returns its id. ``description`` replaces the draft's."""
    position = None
    if draft.lat is not None and draft.lon is not None:
        position = Fix(t=draft.located_at if draft.located_at is not None else session.clock(),
                       lat=draft.lat, lon=draft.lon, accuracy_m=draft.accuracy_m)
    return events.report_event(
        session,
        category=events.category_for(session, draft.category),
        description=draft.description if description is None else description,
        position=position,
        photos=draft.photos,
        grid_id=draft.grid_id,
        source={"kind": "patrol", "patrol_id": draft.patrol_id, "item": draft.item_code},
    )


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
