"""Sync on the central server: apply pushed ops exactly once, serve the change feed.

The wire format and the conflict rule are defined in ``sync/protocol.py``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

from pydantic_core import to_json
from sqlalchemy import BigInteger, Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, StatementError

from central import db, ops, reviews
from central import settings as central_settings
from central.photos import known_photos
from sync import protocol
from sync.protocol import schemas

log = logging.getLogger("central.sync")

TASK_KINDS = ("task.ack", "task.answer")


class Rejected(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class PushBusy(Exception):
    """Another request is applying the same op right now: retry shortly."""


MAX_ID = schemas.MAX_ID


def strict_id(value: Any) -> int | None:
    """``value`` as a positive whole-number id (an int, or a short string of digits), or
    None: never a float (``1e400``), a bool or anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < MAX_ID else None
    if isinstance(value, str) and 0 < len(value) <= 15 and value.isascii() and value.isdigit():
        return int(value)
    return None


def _grid_of(payload: dict[str, Any], device: Any) -> int:
    grid = payload.get("grid_id")
    if grid is None and len(device.grids) == 1:
        return int(device.grids[0])
    grid_id = strict_id(grid)
    if grid_id is None:
        raise Rejected("invalid", "grid_id must be a whole number")
    if grid_id not in device.grids:
        raise Rejected("forbidden_grid", f"grid {grid_id} is not assigned to this worker")
    return grid_id


def _household(
    conn: Connection, household_id: str, lock: bool = False
) -> dict[str, Any] | None:
    """The household row; with ``lock`` held until the transaction ends (PostgreSQL
    ``FOR UPDATE``: pushes run side by side there, and an op that reads a household's
    fields and then writes them must not interleave with another; SQLite serialises
    writers anyway)."""
    query = select(db.households).where(db.households.c.id == household_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    return dict(row) if row is not None else None


_RECORD_HASH = select(db.records.c.content_hash).where(
    db.records.c.kind == bindparam("kind"), db.records.c.id == bindparam("record_id")
)
_KNOWN_HASHES = "gridfield.push_record_hashes"


def _record_hashes(
    conn: Connection, op_list: list[dict[str, Any]]
) -> dict[tuple[str, str], str | None]:
    """Content hashes (None: no such record) of the stored records the batch's immutable
    ops name, one query per 500 ids (the writer lock is held: nothing else writes
    records meanwhile; push's own inserts are added as they happen)."""
    wanted = {(o["kind"], o["record_id"]) for o in op_list
              if o.get("kind") in protocol.IMMUTABLE_KINDS and isinstance(o.get("record_id"), str)}
    found: dict[tuple[str, str], str | None] = dict.fromkeys(wanted)
    kinds = sorted({kind for kind, _rid in wanted})
    ids = sorted({rid for _kind, rid in wanted})
    r = db.records
    for start in range(0, len(ids), 500):
        for kind, rid, digest in conn.execute(
            select(r.c.kind, r.c.id, r.c.content_hash)
            .where(r.c.kind.in_(kinds), r.c.id.in_(ids[start:start + 500]))
        ):
            if (kind, rid) in found:
                found[(kind, rid)] = digest
    return found



def _apply_immutable(
    conn: Connection, device: Any, op: dict[str, Any], now: str,
    pending: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Store an immutable record (once: the same content again is a duplicate). With
    ``pending`` (a :data:`FAST_KINDS` op, see :func:`_push_ops`) the record row is added
    to it instead of being inserted now: nothing else is written for those kinds."""
    kind, record_id, payload = op["kind"], op["record_id"], op["payload"]
    if kind == "member.create":
        grid_id = _member_create_grid(conn, device, record_id, payload)
    elif kind in TASK_KINDS:
        grid_id = _task_grid(conn, device, payload)
    elif kind == "event.followup":
        grid_id = _followup_grid(conn, device, payload)
    elif kind == "review.create":
        try:
            target = reviews.review_target(conn, device, payload)
        except reviews.ReviewRefused as refused:
            raise Rejected(refused.reason, refused.detail) from None
        grid_id = target["grid_id"]
    else:
        grid_id = _grid_of(payload, device)
    digest = protocol.content_hash(payload)
    known_hashes: dict[tuple[str, str], str | None] | None = conn.info.get(_KNOWN_HASHES)
    if known_hashes is not None and (kind, record_id) in known_hashes:
        # the whole batch's records, looked up at once by push()
        found = known_hashes[(kind, record_id)]
        existing = None if found is None else (found,)
    else:
        existing = conn.execute(_RECORD_HASH, {"kind": kind, "record_id": record_id}).first()
    if existing is not None:
        if existing[0] == digest:
            return {"status": "duplicate", "reason": None}
        raise Rejected("content_differs", f"{kind} {record_id} exists with different content")
    if kind == "household.create":
        if len(record_id) > 36:
            raise Rejected("invalid", "household id is longer than 36 characters")
        if _household(conn, record_id) is not None:
            raise Rejected("content_differs", f"household {record_id} already exists")
    elif kind == "member.create":
        known = conn.execute(select(db.members.c.id).where(db.members.c.id == record_id)).first()
        if known is not None or _member_state(conn, record_id) is not None:
            raise Rejected("content_differs", f"member {record_id} already exists")
    elif kind == "event.report":
        household_id = payload.get("household_id")
        if household_id is not None:
            _household_in_grids(conn, device, household_id)
        if len(record_id) > 36:
            raise Rejected("invalid", "event id is longer than 36 characters")
        if conn.execute(select(db.events.c.id).where(db.events.c.id == record_id)).first():
            raise Rejected("content_differs", f"event {record_id} already exists")
    elif kind == "event.followup":
        if len(record_id) > 36:
            raise Rejected("invalid", "follow-up id is longer than 36 characters")
    elif kind == "visit.create":
        household_id = payload.get("household_id")
        if household_id is not None:  # records of older clients may not name one
            _household_in_grids(conn, device, household_id)
    elif kind in TASK_KINDS:
        _check_task_response(conn, device, kind, record_id, payload)
    _check_photo_refs(conn, device, payload)
    seq = db.next_seq(conn)
    row = {
        "kind": kind, "id": record_id, "grid_id": grid_id, "device_id": device.device_id,
        "person_id": device.person_id, "content_hash": digest, "payload": payload, "seq": seq,
        "received_at": now,
    }
    if known_hashes is not None:
        known_hashes[(kind, record_id)] = digest
    if pending is not None:
        pending.append(row)
        return {"status": "applied", "reason": None, "version": None}
    conn.execute(insert(db.records), row)  # constant statement: cheap to compile (hot path)
    if kind in reviews.PATROL_KINDS:
        reviews.note_patrol_records(conn, [row])
    elif kind == "review.create":
        try:
            reviews.apply_review(conn, device, record_id, payload, target, seq, now)
        except reviews.ReviewRefused as refused:
            raise Rejected(refused.reason, refused.detail) from None
    version = None
    if kind == "member.create":
        version = 1
        conn.execute(insert(db.members).values(
            id=record_id, **{k: payload.get(k) for k in ("household_id", *protocol.MEMBER_FIELDS)}
        ))
        conn.execute(update(db.households).where(
            db.households.c.id == payload["household_id"]).values(updated_seq=seq))
    if kind == "household.create":
        version = 1
        conn.execute(
            insert(db.households).values(
                id=record_id, grid_id=grid_id, head_name=payload["head_name"],
                address=payload["address"], category=payload.get("category") or "ordinary",
                phone=payload.get("phone"), id_number=payload.get("id_number"),
                tags=list(payload.get("tags") or []), version=1, updated_seq=seq,
                registered_at=time.time(), lat=payload.get("lat"), lon=payload.get("lon"),
            )
        )
    elif kind == "event.report":
        conn.execute(
            insert(db.events).values(
                id=record_id, grid_id=grid_id, reporter_id=device.person_id,
                category=payload["category"], description=payload["description"],
                status="reported", created_at=now, updated_at=now, updated_seq=seq,
                **_event_extras(payload),
            )
        )
        ops.record_transition(
            conn, record_id, None, "reported", None, f"person:{device.person_id}", now
        )
    elif kind == "event.followup":
        _apply_followup(conn, device, record_id, payload, now)
    elif kind in TASK_KINDS:
        answer = kind == "task.answer"
        conn.execute(insert(db.task_responses).values(
            id=record_id, task_id=payload["task_id"], kind="answer" if answer else "ack",
            person_id=device.person_id, device_id=device.device_id,
            text=payload.get("text") if answer else None,
            photos=list(payload.get("photos") or []) if answer else [],
            event_id=payload.get("event_id") if answer else None,
            at=_when(payload.get("answered_at" if answer else "acknowledged_at")),
            received_at=now, seq=seq,
        ))
    return {"status": "applied", "reason": None, "version": version}


# -- events: report details and follow-ups (migration 4) ---------------------------------

FOLLOWUP_OUTCOMES = ("passed", "failed")


def _event_extras(payload: dict[str, Any]) -> dict[str, Any]:
    """The migration-4 columns of an ``event.report`` (checked before)."""
    location = payload.get("location") or {}
    return {
        "urgency": payload.get("urgency") or "normal",
        "household_id": payload.get("household_id"),
        "address": payload.get("address"),
        "lat": location.get("lat"),
        "lon": location.get("lon"),
        "photos": list(payload.get("photos") or []),
    }


def _followup_grid(conn: Connection, device: Any, payload: dict[str, Any]) -> int:
    """The grid of the event a follow-up is about: it must be one of the device's."""
    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 36:
        raise Rejected("invalid", "event_id is required")
    row = conn.execute(select(db.events.c.grid_id).where(db.events.c.id == event_id)
                       .with_for_update()).first()  # its status moves below
    if row is None:
        raise Rejected("unknown_record", f"no event {event_id}")
    if int(row[0]) not in device.grids:
        raise Rejected("forbidden_grid", "event is in a grid not assigned to this worker")
    return int(row[0])


_FOLLOWUP_MOVES = {
    ("supplement", None, "returned"): "reported",
    ("verify", "passed", "resolved"): "verified",
    ("verify", "failed", "resolved"): "in_progress",
}


def _apply_followup(
    conn: Connection, device: Any, record_id: str, payload: dict[str, Any], now: str
) -> None:
    """Store the follow-up and move the event if it is where the worker saw it;
    otherwise (the centre moved it meanwhile) keep it as a note in the history:
    the worker's text is never lost."""
    event = ops.event_dict(conn, payload["event_id"], with_history=False)
    status = event["status"]
    kind, outcome = payload["kind"], payload.get("outcome")
    to_status = _FOLLOWUP_MOVES.get((kind, outcome, status))
    text = (payload.get("text") or "").strip()
    location = payload.get("location") or {}
    conn.execute(insert(db.event_followups).values(
        id=record_id, event_id=event["id"], kind=kind, outcome=outcome, text=text,
        photos=list(payload.get("photos") or []), lat=location.get("lat"),
        lon=location.get("lon"), person_id=device.person_id, device_id=device.device_id,
        created_at=_when(payload.get("created_at")), received_at=now,
        result="note" if to_status is None else "transition",
    ))
    seq = db.next_seq(conn)
    conn.execute(update(db.events).where(db.events.c.id == event["id"]).values(
        status=to_status or status, updated_at=now, updated_seq=seq))
    conn.execute(insert(db.event_history).values(
        event_id=event["id"], from_status=status, to_status=to_status or status,
        note=text or None, actor=f"person:{device.person_id}", at=now, followup_id=record_id,
    ))


EVENT_FEED_COLUMNS = (
    "id", "grid_id", "category", "description", "status", "updated_at", "updated_seq",
    "created_at", "reporter_id", "household_id", "address", "urgency",
)


def _events_page(
    conn: Connection, grids: tuple[int, ...], after: int, limit: int, before: int
) -> list[dict[str, Any]]:
    """Events with their whole history (oldest first), one history query per page."""
    page = _simple_page(conn, db.events, "event", grids, after, limit, before,
                        EVENT_FEED_COLUMNS)
    if page:
        h = db.event_history
        by_id: dict[str, list[dict[str, Any]]] = {c["id"]: [] for c in page}
        ids = list(by_id)
        for start in range(0, len(ids), 500):
            for r in conn.execute(
                select(h.c.event_id, h.c.from_status, h.c.to_status, h.c.note, h.c.actor,
                       h.c.at, h.c.followup_id)
                .where(h.c.event_id.in_(ids[start:start + 500])).order_by(h.c.id)
            ):
                by_id[r.event_id].append({
                    "from_status": r.from_status, "to_status": r.to_status, "note": r.note,
                    "actor": r.actor, "at": r.at, "followup_id": r.followup_id})
        for change in page:
            change["data"]["history"] = by_id[change["id"]]
    return page


# -- visits and task responses (migration 5) ----------------------------------------------

def _task_grid(conn: Connection, device: Any, payload: dict[str, Any]) -> int:
    task_id = payload.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise Rejected("invalid", "task_id is required")
    row = conn.execute(select(db.tasks.c.grid_id).where(db.tasks.c.id == task_id)).first()
    if row is None:
        raise Rejected("unknown_record", f"no task {task_id}")
    if int(row[0]) not in device.grids:
        raise Rejected("forbidden_grid", "task is for a grid not assigned to this worker")
    return int(row[0])


def _check_task_response(
    conn: Connection, device: Any, kind: str, record_id: str, payload: dict[str, Any]
) -> None:
    """The schema checked the fields; an answer's event must be one of the device's
    grids (the answer travels to the centre with it)."""
    if len(record_id) > 64:
        raise Rejected("invalid", "record id is longer than 64 characters")
    if conn.execute(select(db.task_responses.c.id)
                    .where(db.task_responses.c.id == record_id)).first() is not None:
        # the other kind with the same id (the same kind was a duplicate above): refused
        # here, not by the table's primary key as a database error
        raise Rejected("content_differs", f"task response {record_id} already exists")
    event_id = payload.get("event_id") if kind == "task.answer" else None
    if event_id:
        row = conn.execute(select(db.events.c.grid_id).where(db.events.c.id == event_id)).first()
        if row is None:
            raise Rejected("unknown_record", f"no event {event_id}")
        if int(row[0]) not in device.grids:
            raise Rejected("forbidden_grid", "event is in a grid not assigned to this worker")


def _photo_ids(payload: dict[str, Any]) -> list[str]:
    """The photo ids a record names (``photos``: ids, ``{"id", "sha256"}`` items, or an
    older device's JSON text of a list)."""
    photos = payload.get("photos")
    if isinstance(photos, str):
        try:
            photos = json.loads(photos)
        except ValueError:
            raise Rejected("invalid", "photos must be a list of photo ids") from None
    if not isinstance(photos, list):
        return []
    out = []
    for item in photos:
        value = item.get("id") if isinstance(item, dict) else item
        if not isinstance(value, str):
            raise Rejected("invalid", "photos must be a list of photo ids")
        out.append(value)
    return out


def _check_photo_refs(conn: Connection, device: Any, payload: dict[str, Any]) -> None:
    """A record may name only photos of the device's grids: a photo another grid's
    device described (``photo.meta``) is refused (``forbidden_grid``). A photo id the
    centre has no description of yet is accepted: the description may still come."""
    ids = _photo_ids(payload)
    if not ids:
        return
    known: dict[str, int] | None = conn.info.get(_BATCH_PHOTOS)
    if known is not None and all(i in known for i in ids):
        grids = [known[i] for i in ids]
    else:
        r = db.records
        grids = [int(g) for (g,) in conn.execute(select(r.c.grid_id).where(
            r.c.kind == "photo.meta", r.c.id.in_(sorted(set(ids)))))]
    if any(g not in device.grids for g in grids if g is not None):
        raise Rejected("forbidden_grid", "a photo of a grid not assigned to this worker")


def _when(value: Any) -> str | None:
    """A device's Unix time as the server's ISO text (None when absent)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    from datetime import UTC, datetime

    try:
        return db.iso(datetime.fromtimestamp(float(value), UTC))
    except (OverflowError, OSError, ValueError):
        return None


def _apply_update(conn: Connection, device: Any, op: dict[str, Any], now: str) -> dict[str, Any]:
    fields = op["payload"]["fields"]  # names and values checked by the schema
    base = _check_base(op)
    hh = _household(conn, op["record_id"], lock=True)
    if hh is None:
        raise Rejected("unknown_record", f"no household {op['record_id']}")
    if hh["grid_id"] not in device.grids:
        raise Rejected("forbidden_grid", "household is in a grid not assigned to this worker")
    hf = db.household_fields
    last = {
        r["field"]: dict(r)
        for r in conn.execute(select(hf).where(hf.c.household_id == hh["id"])).mappings()
    }
    seq = db.next_seq(conn)
    applied: dict[str, Any] = {}
    conflict_ids: list[str] = []
    unchanged: list[str] = []
    for name, value in fields.items():
        current = hh[name]
        if value == current:
            unchanged.append(name)  # nothing to change; not a collision either
            continue
        prev = last.get(name)
        collides = (
            prev is not None and prev["version"] > base and prev["device_id"] != device.device_id
        )
        if collides:
            assert prev is not None
            kept_person = None
            if prev["device_id"]:
                kept_person = conn.execute(
                    select(db.devices.c.person_id).where(db.devices.c.id == prev["device_id"])
                ).scalar()
            conflict_id = str(uuid.uuid4())
            conflict_seq = db.next_seq(conn)  # every feed row its own number: pages cut cleanly
            conn.execute(
                insert(db.conflicts).values(
                    id=conflict_id, household_id=hh["id"], grid_id=hh["grid_id"], field=name,
                    kept_value=current, other_value=value, kept_device=prev["device_id"],
                    kept_person=kept_person, other_device=device.device_id,
                    other_person=device.person_id, other_op_id=op["op_id"], base_version=base,
                    created_seq=conflict_seq, created_at=now, status="open",
                    updated_seq=conflict_seq,
                )
            )
            conflict_ids.append(conflict_id)
        else:
            applied[name] = value
    version = int(hh["version"])
    if applied:
        version += 1
        _write_fields(conn, hh["id"], applied, version, seq, device.device_id, last)
    elif conflict_ids:
        # Same version, new feed position: the losing device pulls the kept value back.
        conn.execute(
            update(db.households).where(db.households.c.id == hh["id"]).values(updated_seq=seq)
        )
    status = "conflict" if conflict_ids else "applied"
    return {
        "status": status,
        "reason": None,
        "version": version,
        "conflicts": conflict_ids,
        "applied_fields": sorted(applied),
        "unchanged_fields": sorted(unchanged),
    }


def _write_fields(
    conn: Connection,
    household_id: str,
    values: dict[str, Any],
    version: int,
    seq: int,
    device_id: str | None,
    last: dict[str, Any],
) -> None:
    conn.execute(
        update(db.households)
        .where(db.households.c.id == household_id)
        .values(**db.with_blind_index(conn, values), version=version, updated_seq=seq)
    )
    hf = db.household_fields
    for name in values:
        row = {"version": version, "seq": seq, "device_id": device_id}
        if name in last:
            conn.execute(
                update(hf)
                .where(hf.c.household_id == household_id, hf.c.field == name)
                .values(**row)
            )
        else:
            conn.execute(insert(hf).values(household_id=household_id, field=name, **row))


def _apply_resolve(conn: Connection, device: Any, op: dict[str, Any], now: str) -> dict[str, Any]:
    choice = op["payload"]["choice"]  # kept or other: checked by the schema
    c = (
        conn.execute(select(db.conflicts).where(db.conflicts.c.id == op["record_id"])
                     .with_for_update())
        .mappings()
        .first()
    )
    if c is None:
        raise Rejected("unknown_record", f"no conflict {op['record_id']}")
    if c["grid_id"] not in device.grids:
        raise Rejected("forbidden_grid", "conflict is in a grid not assigned to this worker")
    if device.role != "leader":
        raise Rejected("not_leader", "only the grid leader settles conflicts")
    if c["status"] != "open":
        raise Rejected("already_resolved", "this conflict has already been settled")
    seq = db.next_seq(conn)
    if c.get("member_id") is not None:
        return _resolve_member(conn, device, dict(c), choice, seq, now)
    hh = _household(conn, c["household_id"], lock=True)
    assert hh is not None
    version = int(hh["version"])
    if choice == "other" and hh[c["field"]] != c["kept_value"]:
        # The field moved on since the conflict arose: the other value would overwrite a
        # newer one that nobody has seen in this conflict. The leader sees the current value.
        raise Rejected("stale", json.dumps({"field": c["field"], "current": hh[c["field"]]},
                                           ensure_ascii=False))
    if choice == "other" and hh[c["field"]] != c["other_value"]:
        version += 1
        hf = db.household_fields
        last = {
            r["field"]: dict(r)
            for r in conn.execute(select(hf).where(hf.c.household_id == hh["id"])).mappings()
        }
        _write_fields(
            conn, hh["id"], {c["field"]: c["other_value"]}, version, seq, device.device_id, last
        )
    conn.execute(
        update(db.conflicts)
        .where(db.conflicts.c.id == c["id"])
        .values(status="resolved", choice=choice, resolved_by=device.person_id,
                resolved_at=now, updated_seq=db.next_seq(conn))
    )
    return {"status": "applied", "reason": None, "version": version}


def _apply_one(conn: Connection, device: Any, op: dict[str, Any], now: str) -> dict[str, Any]:
    kind = op["kind"]
    if device.role not in reviews.WRITE_ROLES and not (
            kind == "review.create" and device.role in protocol.REVIEWER_ROLES):
        raise Rejected("read_only", f"a {device.role}'s device reads its grids but does not write")
    if kind in protocol.IMMUTABLE_KINDS:
        return _apply_immutable(conn, device, op, now)
    if kind == "household.update":
        return _apply_update(conn, device, op, now)
    if kind == "conflict.resolve":
        return _apply_resolve(conn, device, op, now)
    if kind == "household.tags":
        return _apply_tags(conn, device, op, now)
    if kind == "member.update":
        return _apply_member_update(conn, device, op, now)
    if kind == "member.remove":
        return _apply_member_remove(conn, device, op, now)
    raise Rejected("unknown_kind", f"unknown op kind {kind!r}")


# -- members and tags (migration 3) --------------------------------------------------------

def _check_base(op: dict[str, Any]) -> int:
    base = op.get("base_version")
    if not isinstance(base, int) or isinstance(base, bool) or base < 0:
        raise Rejected("invalid", "base_version must be a whole number")
    return base


def _household_in_grids(
    conn: Connection, device: Any, household_id: Any, lock: bool = False
) -> dict[str, Any]:
    if not lock:  # only the grid is needed: the batch's look-up may know it already
        grid = conn.info.get(_BATCH_GRIDS, {}).get(household_id)
        if grid is not None:
            if grid not in device.grids:
                raise Rejected("forbidden_grid",
                               "household is in a grid not assigned to this worker")
            return {"id": household_id, "grid_id": grid}
    hh = _household(conn, household_id, lock) if isinstance(household_id, str) else None
    if hh is None:
        raise Rejected("unknown_record", f"no household {household_id}")
    if hh["grid_id"] not in device.grids:
        raise Rejected("forbidden_grid", "household is in a grid not assigned to this worker")
    return hh


def _member_create_grid(
    conn: Connection, device: Any, record_id: str, payload: dict[str, Any]
) -> int:
    """Checks of a ``member.create``; the grid is the household's."""
    hh = _household_in_grids(conn, device, payload.get("household_id"), lock=True)
    if len(record_id) > 36:
        raise Rejected("invalid", "member id is longer than 36 characters")
    return int(hh["grid_id"])


def _member(conn: Connection, member_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(db.members).where(db.members.c.id == member_id)).mappings().first()
    return dict(row) if row is not None else None


def _member_state(conn: Connection, member_id: str) -> dict[str, Any] | None:
    ms = db.member_state
    row = conn.execute(select(ms).where(ms.c.member_id == member_id)).mappings().first()
    return dict(row) if row is not None else None


def _member_fields(conn: Connection, member_id: str) -> dict[str, dict[str, Any]]:
    mf = db.member_fields
    return {
        r["field"]: dict(r)
        for r in conn.execute(select(mf).where(mf.c.member_id == member_id)).mappings()
    }


def _person_of(conn: Connection, device_id: str | None) -> int | None:
    if not device_id:
        return None
    value = conn.execute(
        select(db.devices.c.person_id).where(db.devices.c.id == device_id)
    ).scalar()
    return None if value is None else int(value)


def _member_conflict(
    conn: Connection, device: Any, op: dict[str, Any], hh: dict[str, Any], member_id: str,
    field: str, kept_value: Any, other_value: Any, kept_device: str | None, now: str,
) -> str:
    conflict_id = str(uuid.uuid4())
    conflict_seq = db.next_seq(conn)
    conn.execute(
        insert(db.conflicts).values(
            id=conflict_id, household_id=hh["id"], grid_id=hh["grid_id"], member_id=member_id,
            field=field, kept_value=kept_value, other_value=other_value, kept_device=kept_device,
            kept_person=_person_of(conn, kept_device), other_device=device.device_id,
            other_person=device.person_id, other_op_id=op["op_id"],
            base_version=op.get("base_version"), created_seq=conflict_seq, created_at=now,
            status="open", updated_seq=conflict_seq,
        )
    )
    return conflict_id


def _write_member(
    conn: Connection, member_id: str, household_id: str, values: dict[str, Any],
    state: dict[str, Any] | None, seq: int, device_id: str | None,
    last: dict[str, dict[str, Any]], removed: bool = False,
) -> int:
    """Write a member's new values (``values`` = the full row without ids; re-inserted
    when the member was removed), or remove it (``removed``): one new version. Fields
    that changed get this version in ``member_fields``. Returns the new version."""
    version = (int(state["version"]) if state is not None else 1) + 1
    live = _member(conn, member_id)
    before = {k: live[k] for k in protocol.MEMBER_FIELDS} if live is not None else None
    m = db.members
    if removed:
        conn.execute(m.delete().where(m.c.id == member_id))
        changed = [protocol.REMOVED_FIELD]
    elif live is None:
        conn.execute(insert(m).values(id=member_id, household_id=household_id, **values))
        old = (state or {}).get("snapshot") or {}
        changed = [protocol.REMOVED_FIELD, *(k for k in values if values[k] != old.get(k))]
    else:
        conn.execute(update(m).where(m.c.id == member_id)
                     .values(**db.with_blind_index(conn, values)))
        changed = [k for k in values if before is not None and values[k] != before[k]]
    ms = db.member_state
    row = {"version": version, "removed": int(removed), "updated_seq": seq,
           "snapshot": before if removed else None}
    if state is None:
        conn.execute(insert(ms).values(member_id=member_id, household_id=household_id, **row))
    else:
        conn.execute(update(ms).where(ms.c.member_id == member_id).values(**row))
    mf = db.member_fields
    for name in changed:
        field_row = {"version": version, "seq": seq, "device_id": device_id}
        if name in last:
            conn.execute(update(mf).where(mf.c.member_id == member_id, mf.c.field == name)
                         .values(**field_row))
        else:
            conn.execute(insert(mf).values(member_id=member_id, field=name, **field_row))
        last[name] = {"field": name, **field_row}
    conn.execute(update(db.households).where(db.households.c.id == household_id)
                 .values(updated_seq=seq))
    return version


def _member_target(
    conn: Connection, device: Any, member_id: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any]]:
    """(live row or None when removed, member_state row, household); rejects unknown
    members and members of other grids."""
    live = _member(conn, member_id)
    state = _member_state(conn, member_id)
    if live is None and (state is None or not state["removed"]):
        raise Rejected("unknown_record", f"no member {member_id}")
    household_id = live["household_id"] if live is not None else state["household_id"]  # type: ignore[index]
    hh = _household_in_grids(conn, device, household_id, lock=True)
    # read again under the household's lock (PostgreSQL: another push may have just
    # changed the member; READ COMMITTED shows it to statements after the lock)
    return _member(conn, member_id), _member_state(conn, member_id), hh


def _apply_member_update(
    conn: Connection, device: Any, op: dict[str, Any], now: str
) -> dict[str, Any]:
    fields = op["payload"]["fields"]  # names and values checked by the schema
    base = _check_base(op)
    member_id = op["record_id"]
    live, state, hh = _member_target(conn, device, member_id)
    last = _member_fields(conn, member_id)
    seq = db.next_seq(conn)
    version = int(state["version"]) if state is not None else 1
    if live is None:
        # Removed before this edit reached the server: the removal stays (first to the
        # server wins); the edit is kept whole in one conflict record, and the leader's
        # "other" brings the member back with these values.
        assert state is not None
        remover = (last.get(protocol.REMOVED_FIELD) or {}).get("device_id")
        conflict_id = _member_conflict(
            conn, device, op, hh, member_id, protocol.REMOVED_FIELD, True,
            {"fields": dict(fields)}, remover, now,
        )
        conn.execute(update(db.households).where(db.households.c.id == hh["id"])
                     .values(updated_seq=seq))
        return {"status": "conflict", "reason": None, "version": version,
                "conflicts": [conflict_id], "applied_fields": [], "unchanged_fields": []}
    applied: dict[str, Any] = {}
    unchanged: list[str] = []
    conflict_ids: list[str] = []
    for name, value in fields.items():
        if value == live[name]:
            unchanged.append(name)
            continue
        prev = last.get(name)
        if prev is not None and prev["version"] > base and prev["device_id"] != device.device_id:
            conflict_ids.append(_member_conflict(
                conn, device, op, hh, member_id, name, live[name], value, prev["device_id"], now,
            ))
        else:
            applied[name] = value
    if applied:
        values = {k: live[k] for k in protocol.MEMBER_FIELDS} | applied
        version = _write_member(conn, member_id, hh["id"], values, state, seq,
                                device.device_id, last)
    elif conflict_ids:
        conn.execute(update(db.households).where(db.households.c.id == hh["id"])
                     .values(updated_seq=seq))
    return {"status": "conflict" if conflict_ids else "applied", "reason": None,
            "version": version, "conflicts": conflict_ids, "applied_fields": sorted(applied),
            "unchanged_fields": sorted(unchanged)}


def _apply_member_remove(
    conn: Connection, device: Any, op: dict[str, Any], now: str
) -> dict[str, Any]:
    base = _check_base(op)
    member_id = op["record_id"]
    live, state, hh = _member_target(conn, device, member_id)
    version = int(state["version"]) if state is not None else 1
    if live is None:  # removed already: nothing more to do
        return {"status": "applied", "reason": None, "version": version, "conflicts": [],
                "applied_fields": [], "unchanged_fields": [protocol.REMOVED_FIELD]}
    last = _member_fields(conn, member_id)
    edits = [
        f for name, f in last.items()
        if name != protocol.REMOVED_FIELD and f["version"] > base
        and f["device_id"] != device.device_id
    ]
    seq = db.next_seq(conn)
    if edits:
        # Edited by another device after the remover last saw it: the edit stays (it
        # reached the server first) and the removal becomes a conflict record for the
        # leader ("other" removes the member after all).
        latest = max(edits, key=lambda f: int(f["seq"]))
        conflict_id = _member_conflict(
            conn, device, op, hh, member_id, protocol.REMOVED_FIELD, False, True,
            latest["device_id"], now,
        )
        conn.execute(update(db.households).where(db.households.c.id == hh["id"])
                     .values(updated_seq=seq))
        return {"status": "conflict", "reason": None, "version": version,
                "conflicts": [conflict_id], "applied_fields": [], "unchanged_fields": []}
    version = _write_member(conn, member_id, hh["id"], {}, state, seq, device.device_id, last,
                            removed=True)
    return {"status": "applied", "reason": None, "version": version, "conflicts": [],
            "applied_fields": [protocol.REMOVED_FIELD], "unchanged_fields": []}


def _resolve_member(
    conn: Connection, device: Any, c: dict[str, Any], choice: str, seq: int, now: str
) -> dict[str, Any]:
    member_id = str(c["member_id"])
    _household(conn, c["household_id"], lock=True)  # member ops of the household wait
    live = _member(conn, member_id)
    state = _member_state(conn, member_id)
    version = int(state["version"]) if state is not None else 1
    if (choice == "other" and c["field"] != protocol.REMOVED_FIELD and live is not None
            and live[c["field"]] != c["kept_value"]):
        # the member's field moved on since the conflict arose (see _apply_resolve)
        raise Rejected("stale", json.dumps({"field": c["field"], "current": live[c["field"]]},
                                           ensure_ascii=False))
    if choice == "other":
        last = _member_fields(conn, member_id)
        base_values = (
            {k: live[k] for k in protocol.MEMBER_FIELDS} if live is not None
            else dict((state or {}).get("snapshot") or {})
        )
        other = c["other_value"]
        if c["field"] == protocol.REMOVED_FIELD and other is True:
            if live is not None:
                version = _write_member(conn, member_id, c["household_id"], {}, state, seq,
                                        device.device_id, last, removed=True)
        else:
            changes = (
                dict(other.get("fields") or {}) if c["field"] == protocol.REMOVED_FIELD
                else {c["field"]: other}
            )
            values = {k: base_values.get(k) for k in protocol.MEMBER_FIELDS} | changes
            if live is None or any(live[k] != v for k, v in values.items()):
                version = _write_member(conn, member_id, c["household_id"], values, state, seq,
                                        device.device_id, last)
    conn.execute(
        update(db.conflicts)
        .where(db.conflicts.c.id == c["id"])
        .values(status="resolved", choice=choice, resolved_by=device.person_id,
                resolved_at=now, updated_seq=db.next_seq(conn))
    )
    return {"status": "applied", "reason": None, "version": version}


def _tag_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 50 or not all(
        isinstance(t, str) and 0 < len(t) <= 50 for t in value
    ):
        raise Rejected("invalid", f"{name} must be a list of short texts")
    return list(dict.fromkeys(value))


def _apply_tags(conn: Connection, device: Any, op: dict[str, Any], now: str) -> dict[str, Any]:
    """``household.tags``: a set merge, never a conflict (remove, then add)."""
    add = _tag_list(op["payload"].get("add"), "add")
    remove = _tag_list(op["payload"].get("remove"), "remove")
    if not add and not remove:
        raise Rejected("invalid", "add or remove must name a tag")
    hh = _household_in_grids(conn, device, op["record_id"], lock=True)
    current = list(hh["tags"] or [])
    kept = [t for t in current if t not in remove]
    tags = kept + [t for t in add if t not in kept]
    if len(tags) > 50:
        raise Rejected("invalid", "a household has at most 50 tags")
    version = int(hh["version"])
    if tags == current:
        return {"status": "applied", "reason": None, "version": version, "conflicts": [],
                "applied_fields": [], "unchanged_fields": ["tags"]}
    hf = db.household_fields
    last = {
        r["field"]: dict(r)
        for r in conn.execute(select(hf).where(hf.c.household_id == hh["id"])).mappings()
    }
    version += 1
    _write_fields(conn, hh["id"], {"tags": tags}, version, db.next_seq(conn), device.device_id,
                  last)
    return {"status": "applied", "reason": None, "version": version, "conflicts": [],
            "applied_fields": ["tags"], "unchanged_fields": []}


def push(engine: Engine, device: Any, op_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``op_list`` in order, each at most once, in one transaction.

    SQLite: the change counter is taken first (the database write lock: before any
    read, so nothing read can go stale), and pushes run one at a time. PostgreSQL:
    pushes of different devices run side by side (no shared counter row: see
    ``db.next_seq``); one device's requests wait for each other (an advisory lock on the
    device id, so a retry that overtakes its original sees its ops as duplicates), and
    an op that reads and then writes a household, member, conflict or event locks that
    row first.

    The batch is tried on the fast path first (:func:`_push_ops`); when the database
    refuses its deferred inserts, the whole transaction is rolled back and the batch is
    applied again op by op, each in its own savepoint, so the refusal is one op's
    answer."""
    try:
        return _push_in_transaction(engine, device, op_list, fast=True)
    except _FastPathRefused:
        return _push_in_transaction(engine, device, op_list, fast=False)


class _FastPathRefused(Exception):
    """The deferred inserts of the fast path failed: redo the batch op by op."""


def _push_in_transaction(
    engine: Engine, device: Any, op_list: list[dict[str, Any]], fast: bool
) -> list[dict[str, Any]]:
    now = db.now_iso()
    try:
        with engine.begin() as conn, db.local_seq(conn):
            db.lock_writer(conn, f"push:{device.device_id}")  # see push
            conn.info[_KNOWN_HASHES] = _record_hashes(conn, op_list)
            conn.info[_BATCH_GRIDS], conn.info[_BATCH_PHOTOS] = _batch_refs(conn, op_list)
            try:
                return _push_ops(conn, device, op_list, now, fast)
            finally:
                for key in (_KNOWN_HASHES, _BATCH_GRIDS, _BATCH_PHOTOS):
                    conn.info.pop(key, None)
    except _FastPathRefused:
        raise
    except (IntegrityError, OperationalError) as exc:
        if db.is_storage_full(exc):
            raise  # 507: the server's failure, the batch is retried later as it is
        raise PushBusy() from exc


_BATCH_GRIDS = "gridfield.push_household_grids"
_BATCH_PHOTOS = "gridfield.push_photo_grids"


def _batch_refs(
    conn: Connection, op_list: list[dict[str, Any]]
) -> tuple[dict[str, int], dict[str, int]]:
    """The grids of the households and photos the batch's records name, one query each
    (a visit then costs no look-up of its own). Only what exists now: a household or
    photo the batch itself creates is looked up when an op needs it."""
    households: set[str] = set()
    photos: set[str] = set()
    for op in op_list:
        payload = op.get("payload")
        if op.get("kind") not in protocol.IMMUTABLE_KINDS or not isinstance(payload, dict):
            continue
        hid = payload.get("household_id")
        if isinstance(hid, str) and len(hid) <= 36:
            households.add(hid)
        try:
            photos.update(i for i in _photo_ids(payload) if len(i) <= 64)
        except Rejected:
            pass  # the op's own check answers it
    grids: dict[str, int] = {}
    photo_grids: dict[str, int] = {}
    h, r = db.households, db.records
    wanted = sorted(households)
    for start in range(0, len(wanted), 500):
        grids.update((str(i), int(g)) for i, g in conn.execute(
            select(h.c.id, h.c.grid_id).where(h.c.id.in_(wanted[start:start + 500]))))
    wanted = sorted(photos)
    for start in range(0, len(wanted), 500):
        photo_grids.update((str(i), int(g)) for i, g in conn.execute(
            select(r.c.id, r.c.grid_id).where(r.c.kind == "photo.meta",
                                              r.c.id.in_(wanted[start:start + 500]))))
    return grids, photo_grids


# Kinds whose only write is their record row: on the fast path they are checked in
# Python and their rows inserted together (no savepoint, no statement of their own).
FAST_KINDS = frozenset(
    {"visit.create", "photo.meta", "track.segment", "checklist.result", "patrol.report"})


def _apply_fast(
    conn: Connection, device: Any, op: dict[str, Any], now: str,
    pending: list[dict[str, Any]],
) -> dict[str, Any]:
    """A :data:`FAST_KINDS` op: every check, and its record row added to ``pending``.
    It writes nothing itself, so a refusal needs no savepoint to undo."""
    try:
        schemas.check_op_payload(op["kind"], op.get("payload"))
        if device.role not in ("worker", "leader"):
            raise Rejected("read_only",
                           f"a {device.role}'s device reads its grids but does not write")
        return _apply_immutable(conn, device, op, now, pending)
    except schemas.SchemaError as exc:
        return {"status": "rejected", "reason": "invalid", "detail": exc.detail}
    except Rejected as rej:
        return {"status": "rejected", "reason": rej.reason, "detail": rej.detail}
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        return {"status": "rejected", "reason": "invalid",
                "detail": f"this op could not be applied ({type(exc).__name__})"}


def _flush(conn: Connection, pending: list[dict[str, Any]]) -> None:
    """Insert the fast path's record rows (one statement); a refusal redoes the batch."""
    if not pending:
        return
    try:
        conn.execute(insert(db.records), pending)
        if any(row["kind"] in reviews.PATROL_KINDS for row in pending):
            reviews.note_patrol_records(conn, pending)
    except (IntegrityError, OperationalError, DBAPIError, StatementError) as exc:
        if isinstance(exc, OperationalError) and _is_contention(exc):
            raise  # 503
        if isinstance(exc, DBAPIError) and db.is_storage_full(exc):
            raise  # 507
        raise _FastPathRefused() from exc  # e.g. another device stored the same record
    pending.clear()


def _is_contention(exc: OperationalError) -> bool:
    """A lock or serialisation failure that a retry can get past (503), as opposed to an
    error that this op's content causes every time (its own ``rejected`` answer)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return str(sqlstate) in ("40001", "40P01", "55P03", "57014")
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


def _transaction_lost(conn: Connection) -> bool:
    """SQLite rolls the whole transaction back by itself after some errors (a full disk,
    an I/O error); the ops after it would then each commit on their own, so the batch
    must stop there (rolled back, answered 503/507, sent again as it is)."""
    dbapi = getattr(conn.connection, "dbapi_connection", None)
    return isinstance(dbapi, sqlite3.Connection) and not dbapi.in_transaction


def _apply_isolated(
    conn: Connection, device: Any, op: dict[str, Any], now: str
) -> dict[str, Any]:
    """Apply one op in its own savepoint: whatever it raises is this op's answer
    (``rejected`` with a reason), never the batch's. Only contention is the batch's (503).
    A kind or a field this server does not know yet is ``retry_later``: a newer device's
    op waits on the device for the server's upgrade instead of being refused for good.
    """
    kind = op["kind"]
    if kind not in schemas.OP_PAYLOADS:
        return {"status": protocol.RETRY_LATER, "reason": "unsupported_kind",
                "detail": f"this server does not know op kind {kind!r} yet"}
    try:
        schemas.check_op_payload(kind, op.get("payload"))
        newer = schemas.unknown_fields(kind, op["payload"])
        if newer:
            return {"status": protocol.RETRY_LATER, "reason": "unsupported_field",
                    "detail": f"this server does not know field(s) {', '.join(newer)} yet"}
        with conn.begin_nested():
            return _apply_one(conn, device, op, now)
    except schemas.SchemaError as exc:
        return {"status": "rejected", "reason": "invalid", "detail": exc.detail}
    except Rejected as rej:
        return {"status": "rejected", "reason": rej.reason, "detail": rej.detail}
    except OperationalError as exc:
        if _is_contention(exc) or db.is_storage_full(exc) or _transaction_lost(conn):
            raise  # the batch's (503, 507): never this op's answer, stored for good
        log.warning("op %s (%s) failed in the database", op.get("op_id"), op.get("kind"),
                    exc_info=True)
        return {"status": "rejected", "reason": "invalid",
                "detail": f"the database refused this op ({type(exc.orig).__name__})"}
    except (IntegrityError, DBAPIError, StatementError) as exc:
        if db.is_storage_full(exc) or _transaction_lost(conn):
            raise
        if isinstance(exc, IntegrityError) and kind in protocol.IMMUTABLE_KINDS:
            # PostgreSQL: another device's push stored this record meanwhile (same id)
            stored = conn.execute(_RECORD_HASH, {"kind": kind,
                                                 "record_id": op["record_id"]}).first()
            if stored is not None:
                if stored[0] == protocol.content_hash(op["payload"]):
                    return {"status": "duplicate", "reason": None}
                return {"status": "rejected", "reason": "content_differs",
                        "detail": f"{kind} {op['record_id']} exists with different content"}
        log.warning("op %s (%s) failed in the database", op.get("op_id"), op.get("kind"),
                    exc_info=True)
        kind = type(getattr(exc, "orig", None) or exc).__name__
        return {"status": "rejected", "reason": "invalid",
                "detail": f"the database refused this op ({kind})"}
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError,
            RecursionError) as exc:
        log.warning("op %s (%s) could not be applied", op.get("op_id"), op.get("kind"),
                    exc_info=True)
        return {"status": "rejected", "reason": "invalid",
                "detail": f"this op could not be applied ({type(exc).__name__})"}


def _push_ops(
    conn: Connection, device: Any, op_list: list[dict[str, Any]], now: str, fast: bool = True
) -> list[dict[str, Any]]:
    """Each op once, in order. ``fast``: :data:`FAST_KINDS` ops are checked in Python and
    their rows inserted together just before the next other op (which may read them)
    and at the end; every other op runs in its own savepoint (:func:`_apply_isolated`)."""
    results: list[dict[str, Any]] = []
    ids = [o["op_id"] for o in op_list]
    stored = {
        r["op_id"]: dict(r)
        for r in conn.execute(
            select(db.sync_ops).where(db.sync_ops.c.op_id.in_(ids))
        ).mappings()
    } if ids else {}
    seen: set[str] = set()
    applied_ops: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for op in op_list:
        op_id = op["op_id"]
        prior = stored.get(op_id)
        if prior is not None or op_id in seen:
            if prior is not None and prior["device_id"] != device.device_id:
                results.append({"op_id": op_id, "status": "rejected",
                                "reason": "op_id_in_use", "original": None})
                continue
            original = prior["result"] if prior is not None else None
            if original is None:  # the same op twice in one batch
                original = next(r for r in results if r["op_id"] == op_id)
            results.append(duplicate_answer(op_id, original))
            continue
        if fast and op["kind"] in FAST_KINDS:
            result = _apply_fast(conn, device, op, now, pending)
        else:
            _flush(conn, pending)
            result = _apply_isolated(conn, device, op, now)
        result["op_id"] = op_id
        if result["status"] == protocol.RETRY_LATER:  # not recorded: offered again later
            results.append(result)
            continue
        seen.add(op_id)
        if result["status"] == "duplicate":  # an immutable record seen before
            result["original"] = None
        applied_ops.append({
            "op_id": op_id, "device_id": device.device_id, "kind": op["kind"][:32],
            "record_id": op["record_id"][:64], "status": result["status"],
            "result": result, "seq": db.next_seq(conn), "received_at": now,
        })
        results.append(result)
    _flush(conn, pending)
    if applied_ops:  # nothing in the batch reads sync_ops: one executemany
        conn.execute(insert(db.sync_ops), applied_ops)
    return results


def duplicate_answer(op_id: str, original: dict[str, Any]) -> dict[str, Any]:
    """The answer to an op applied before: compact (a retry on a 2G link should cost
    less than the first try), with what the device needs of the first answer only when
    that was not ``applied``: its status and reason, and a conflict's fields."""
    answer: dict[str, Any] = {"op_id": op_id, "status": "duplicate"}
    if original.get("version") is not None:
        answer["version"] = original["version"]
    status = original.get("status")
    if status not in ("applied", None):
        answer["original"] = {"status": status, "reason": original.get("reason")}
        if original.get("conflicts"):
            answer["conflicts"] = list(original["conflicts"])
    return answer


def note_photos_stored(engine: Engine, device: Any, op_list: list[dict[str, Any]],
                       results: list[dict[str, Any]]) -> None:
    """Add ``photo_stored`` to each taken ``photo.meta`` answer: whether the device may
    consider the photo's bytes here, by the rule of ``/photos/missing`` (it sent them
    itself, or another device's record in its grids names them: its own record does
    not count, or naming a hash would probe for it). The device then sends the photos
    the centre lacks without asking first: a round trip less on a 2G link."""
    shas = {o["op_id"]: str(o["payload"].get("sha256", "")).lower() for o in op_list
            if o.get("kind") == "photo.meta" and isinstance(o.get("payload"), dict)}
    taken = [r for r in results if r.get("op_id") in shas
             and r.get("status") in ("applied", "duplicate")]
    if not taken:
        return
    with engine.connect() as conn:
        stored = {str(row[0]) for row in conn.execute(select(db.photos.c.sha256).where(
            db.photos.c.sha256.in_(sorted({shas[r["op_id"]] for r in taken}))))}
        held = known_photos(conn, device.device_id, tuple(device.grids), stored)
    for result in taken:
        result["photo_stored"] = shas[result["op_id"]] in held


def stored_answers(engine: Engine, device_id: str, op_ids: list[str]) -> list[dict[str, Any]]:
    """The answers kept for those of ``op_ids`` this device pushed before (compact, as
    to a retry); ops never applied are left out, so the device sends just those."""
    wanted = list(dict.fromkeys(op_ids))
    if not wanted:
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            select(db.sync_ops.c.op_id, db.sync_ops.c.result)
            .where(db.sync_ops.c.op_id.in_(wanted), db.sync_ops.c.device_id == device_id)
        ).all()
    return [duplicate_answer(str(op_id), dict(result)) for op_id, result in rows]


# -- pull ------------------------------------------------------------------------------

def _dicts(result: Any) -> list[dict[str, Any]]:
    """Rows as dicts with plain ``str`` keys (SQLAlchemy's ``quoted_name`` keys make
    pydantic's JSON serializer take a slow path: a third of a pull page's cost)."""
    keys = [str(k) for k in result.keys()]
    return [dict(zip(keys, row, strict=True)) for row in result]


# What a device pulls of a household and its members: every column but the centre's
# own blind index of the ID number (migration 12), so pulled rows stay as they were.
_PULLED_HOUSEHOLD = tuple(c for c in db.households.c if c.name != "id_number_bidx")
_PULLED_MEMBER = tuple(c for c in db.members.c if c.name != "id_number_bidx")


def _households_page(
    conn: Connection, grids: tuple[int, ...], after: int, limit: int, before: int
) -> list[dict[str, Any]]:
    h = db.households
    rows = _dicts(conn.execute(
        select(*_PULLED_HOUSEHOLD)
        .where(h.c.grid_id.in_(grids), h.c.updated_seq > db.seq_cursor(after),
               h.c.updated_seq < before)
        .order_by(h.c.updated_seq)
        .limit(limit)
    ))
    if rows:
        by_id: dict[str, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
        m = db.members
        for item in _dicts(conn.execute(
            select(*_PULLED_MEMBER).where(m.c.household_id.in_(list(by_id))).order_by(m.c.id)
        )):
            by_id[item.pop("household_id")].append(item)
        ms = db.member_state
        versions = {
            r[0]: int(r[1])
            for r in conn.execute(
                select(ms.c.member_id, ms.c.version).where(ms.c.household_id.in_(list(by_id)))
            )
        }
        for items in by_id.values():
            for item in items:
                item["version"] = versions.get(item["id"], 1)  # 1: never changed by sync
        for r in rows:
            r["members"] = by_id[r["id"]]
    return [{"seq": r["updated_seq"], "kind": "household", "id": r["id"], "data": r} for r in rows]


def _simple_page(
    conn: Connection, table: Any, kind: str, grids: tuple[int, ...], after: int, limit: int,
    before: int, columns: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    rows = _dicts(conn.execute(
        select(table)
        .where(table.c.grid_id.in_(grids), table.c.updated_seq > db.seq_cursor(after),
               table.c.updated_seq < before)
        .order_by(table.c.updated_seq)
        .limit(limit)
    ))
    out = []
    for r in rows:
        data = dict(r) if columns is None else {k: r[k] for k in columns}
        out.append({"seq": r["updated_seq"], "kind": kind, "id": r["id"], "data": data})
    return out


_VISITS = (
    select(db.records.c.id, db.records.c.grid_id, db.records.c.device_id,
           db.records.c.person_id, db.records.c.payload, db.records.c.seq)
    .where(db.records.c.kind == "visit.create",
           db.records.c.grid_id.in_(bindparam("grids", expanding=True)),
           db.records.c.seq > bindparam("after", type_=BigInteger()),
           db.records.c.seq < bindparam("before", type_=BigInteger()),
           db.records.c.device_id != bindparam("device"))
    .order_by(db.records.c.seq)
    .limit(bindparam("limit"))
)


def _visits_page(
    conn: Connection, grids: tuple[int, ...], after: int, limit: int, before: int,
    device_id: str = "", reviewer: bool = False,
) -> list[dict[str, Any]]:
    """Visits recorded in the device's grids by other devices (the device has its own;
    index ix_records_kind_grid); for a ``reviewer``'s device with the SHA-256 of the
    photos they name (``photo_sha256``: its same-photo check). A row stored before
    payloads were validated that does not fit the schema now is left out (logged), so
    it cannot break its grid's feed."""
    out = []
    rows = conn.execute(_VISITS, {"grids": list(grids), "after": after, "limit": limit,
                                  "before": before, "device": device_id}).all()
    photos = {r.id: reviews.photo_refs(r.payload.get("photos"))
              for r in rows if reviewer and isinstance(r.payload, dict)}
    hashes = reviews.photo_hashes(conn, (p for ids in photos.values() for p in ids))
    for r in rows:
        payload = r.payload
        data = dict(payload) if isinstance(payload, dict) else {}
        data.pop("photo_sha256", None)  # the centre's to say, never the sender's
        data.update(id=r.id, grid_id=str(r.grid_id), person_id=r.person_id)
        if reviewer:
            data["photo_sha256"] = {p: hashes[p] for p in photos.get(r.id, ()) if p in hashes}
        data.setdefault("device_id", r.device_id)
        change = {"seq": int(r.seq), "kind": "visit", "id": r.id, "data": data}
        try:
            schemas.check_change(change)
        except schemas.SchemaError as exc:
            log.warning("visit %s left out of the feed: %s", r.id, exc.detail)
            continue
        out.append(change)
    return out


def _conflicts_page(
    conn: Connection, grids: tuple[int, ...], after: int, limit: int, before: int
) -> list[dict[str, Any]]:
    """Conflicts with the names of both people: the leader decides between colleagues,
    not between person numbers."""
    page = _simple_page(conn, db.conflicts, "conflict", grids, after, limit, before)
    wanted = {c["data"][k] for c in page for k in ("kept_person", "other_person")
              if c["data"].get(k) is not None}
    names: dict[int, str] = {}
    if wanted:
        p = db.people
        names = {int(r[0]): str(r[1]) for r in conn.execute(
            select(p.c.id, p.c.name).where(p.c.id.in_(sorted(wanted))))}
    for change in page:
        data = change["data"]
        data["kept_person_name"] = names.get(data.get("kept_person"))  # type: ignore[arg-type]
        data["other_person_name"] = names.get(data.get("other_person"))  # type: ignore[arg-type]
    return page


@contextlib.contextmanager
def _snapshot(engine: Engine) -> Iterator[tuple[Connection, int]]:
    """One read transaction for every statement of a pull page, so the page is one
    consistent snapshot, and the watermark below which every number in it is final.

    Why no number is ever skipped (the cursor is the last number handed out):

    * SQLite: every writer takes the change counter first (``db.next_seq``, under the
      database write lock) and holds it until it commits, so writers commit in number
      order and a snapshot holds every number up to its highest one (gaps are numbers
      of rolled-back transactions, which never appear).
    * PostgreSQL: writers share no row (a number is its transaction id, shifted, plus a
      count: ``db.next_seq``), so they commit in any order. The snapshot's ``xmin`` is
      the oldest transaction still running; every transaction with a lower id has
      finished, and any transaction that commits later has an id at or above it. The
      page hands out only numbers below that watermark (``db.feed_watermark``), so a
      number at or below the cursor can never appear later. Rows above it wait for the
      next pull (a transaction left open for long holds the feed back, never loses it).

    Read statement by statement instead (each its own snapshot under READ COMMITTED,
    or SQLite without BEGIN), a push committing between two statements showed the
    puller a higher number while a lower one of another kind was still unread, and the
    cursor passed it for good."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")  # pysqlite opens none for reads on its own
        else:  # before the first statement, which begins the transaction
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            watermark = db.feed_watermark(conn)  # first: in the transaction's snapshot
            yield conn, NO_WATERMARK if watermark is None else watermark
        finally:
            conn.rollback()


NO_WATERMARK = 2**63 - 1


def _grid_names(conn: Connection, grids: tuple[int, ...]) -> list[dict[str, Any]]:
    """The device's grids with their names (勤勇村第1网格): devices show names, never
    bare numbers. A few rows by primary key on every pull, so a rename arrives too."""
    rows = conn.execute(select(db.org_units.c.id, db.org_units.c.name)
                        .where(db.org_units.c.id.in_(grids)).order_by(db.org_units.c.id))
    return [{"id": int(r[0]), "name": str(r[1])} for r in rows]


def pull(engine: Engine, device: Any, after: int, limit: int,
         max_bytes: int | None = protocol.MAX_PULL_BYTES) -> dict[str, Any]:
    """The page after ``after``: at most ``limit`` rows and about ``max_bytes`` of JSON
    (:func:`_bounded`; None: no byte bound, for a snapshot's build, which is never sent
    as one page)."""
    grids = tuple(device.grids)
    if not grids:
        return {"changes": [], "next_after": after, "has_more": False, "grids": []}
    with _snapshot(engine) as (conn, before):
        names = _grid_names(conn, grids)
        candidates = _households_page(conn, grids, after, limit + 1, before)
        candidates += _conflicts_page(conn, grids, after, limit + 1, before)
        candidates += _events_page(conn, grids, after, limit + 1, before)
        candidates += _simple_page(conn, db.tasks, "task", grids, after, limit + 1, before)
        candidates += _visits_page(conn, grids, after, limit + 1, before, device.device_id,
                                   device.role in protocol.REVIEW_ROLES)
        candidates += central_settings.config_page(conn, grids, after, before)
        candidates += reviews.reviews_page(conn, device, grids, after, limit + 1, before)
        candidates += reviews.patrols_page(conn, device, grids, after, limit + 1, before)
        candidates += reviews.devices_page(conn, device, grids, after, limit + 1, before)
        candidates += central_settings.grids_page(conn, grids, after, limit + 1, before)
    candidates.sort(key=lambda c: int(c["seq"]))
    if device.role not in reviews.REVEAL_ROLES:  # a supervisor: nothing sensitive in clear
        for change in candidates:
            reviews.mask_change(change)
    page = _bounded(candidates, limit, max_bytes)
    has_more = len(candidates) > len(page)
    next_after = int(page[-1]["seq"]) if page else after
    return {"changes": page, "next_after": next_after, "has_more": has_more, "grids": names}


def _bounded(candidates: list[dict[str, Any]], limit: int,
             max_bytes: int | None = protocol.MAX_PULL_BYTES) -> list[dict[str, Any]]:
    """The first rows up to ``limit`` rows and about ``max_bytes`` of JSON (at least one
    row; :func:`wire_size`), never cut between rows of one sequence number (the cursor
    is a sequence number)."""
    page: list[dict[str, Any]] = []
    size = 0
    for change in candidates:
        seq = change["seq"]
        if page and seq != page[-1]["seq"] and (
                len(page) >= limit or (max_bytes is not None and size >= max_bytes)):
            break
        if max_bytes is not None:
            size += wire_size(change)
        page.append(change)
    return page


def wire_size(change: dict[str, Any]) -> int:
    """About the bytes ``change`` takes in a page's JSON: its compact JSON (encoded in
    Rust: with ``json.dumps`` this cost a fifth of a first pull's server time)."""
    return len(to_json(change, fallback=str))


def encode_change(change: dict[str, Any]) -> bytes:
    """``change`` as a pull page's JSON carries it: the bytes the app's response model
    (``ChangeOut``: seq, kind, id, data) gives, so a page of rows encoded once (a first
    pull's snapshot, central/shared/snapshots.py) is sent without encoding them again."""
    return to_json({"seq": int(change["seq"]), "kind": str(change["kind"]),
                    "id": str(change["id"]), "data": change["data"]})
