"""Operations of the command centre, shared by the CLI and the HTTP API."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from central import db, identity

ENROLL_TTL = timedelta(hours=24)
# Crockford-like alphabet: no 0/O, 1/I/L, U; easy to read aloud and type on a tablet.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_GROUPS = 3
CODE_GROUP_LEN = 4

# The closed loop (闭环) as the command centre moves it. See central/README.md.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "reported": ("accepted", "returned", "escalated"),
    "accepted": ("dispatched", "in_progress", "returned", "escalated"),
    "dispatched": ("in_progress", "returned", "escalated"),
    "in_progress": ("resolved", "returned", "escalated"),
    "resolved": ("verified", "in_progress"),
    "verified": ("closed",),
    "closed": (),
    "returned": ("reported",),
    "escalated": ("accepted", "dispatched"),
}


class OpError(Exception):
    """A refused operation with a plain message; ``status`` is the HTTP status to use."""

    def __init__(self, message: str, status: int = 400, code: str = "bad_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


# -- lookups ---------------------------------------------------------------------------

def get_person(conn: Connection, person_id: int) -> dict[str, Any]:
    row = conn.execute(select(db.people).where(db.people.c.id == person_id)).mappings().first()
    if row is None:
        raise OpError(f"no person with id {person_id}", 404, "not_found")
    return dict(row)


def get_grid(conn: Connection, grid_id: int) -> dict[str, Any]:
    row = (
        conn.execute(select(db.org_units).where(db.org_units.c.id == grid_id)).mappings().first()
    )
    if row is None or row["level"] != "grid":
        raise OpError(f"no grid with id {grid_id}", 404, "not_found")
    return dict(row)


def person_grids(conn: Connection, person_id: int) -> list[int]:
    rows = conn.execute(
        select(db.grid_assignments.c.grid_id)
        .where(db.grid_assignments.c.person_id == person_id)
        .order_by(db.grid_assignments.c.grid_id)
    )
    return [int(r[0]) for r in rows]


# -- enrollment ------------------------------------------------------------------------

def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode("ascii", "ignore")).hexdigest()


def create_enrollment_code(engine: Engine, person_id: int) -> dict[str, Any]:
    """A one-time code for ``person_id``'s device; only its SHA-256 is stored."""
    groups = [
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LEN))
        for _ in range(CODE_GROUPS)
    ]
    code = "-".join(groups)
    now = db.now_utc()
    with engine.begin() as conn:
        person = get_person(conn, person_id)
        if person["role"] == "it_admin":
            raise OpError(f"person {person_id} is an IT administrator, not a field worker")
        conn.execute(
            insert(db.enrollment_codes).values(
                code_hash=hash_code(code),
                person_id=person_id,
                created_at=db.iso(now),
                expires_at=db.iso(now + ENROLL_TTL),
            )
        )
    return {
        "code": code,
        "person_id": person_id,
        "person_name": person["name"],
        "expires_at": db.iso(now + ENROLL_TTL),
    }


def redeem_enrollment_code(
    engine: Engine, code: str, public_key_b64: str, device_name: str
) -> dict[str, Any]:
    """Trade a code for a device id bound to the device's public key; single use.

    The same code with the same key again, while the code is valid and the device not
    revoked, answers the same device id and person: the device may have lost the first
    answer (connection cut after the commit), and without it it could never enroll.
    """
    code_hash = hash_code(code)
    now = db.now_iso()
    device_id = str(uuid.uuid4())
    ec = db.enrollment_codes
    try:
        with engine.begin() as conn:
            row = conn.execute(select(ec).where(ec.c.code_hash == code_hash)).mappings().first()
            if row is None:
                raise OpError("enrollment code not recognised", 401, "enroll_code_invalid")
            if row["expires_at"] <= now:
                raise OpError("enrollment code expired", 401, "enroll_code_expired")
            if row["used_at"] is not None:
                again = _same_enrollment(conn, row, public_key_b64)
                if again is None:
                    raise OpError("enrollment code already used", 401, "enroll_code_used")
                device_id = again
            else:
                claimed = conn.execute(
                    update(ec)
                    .where(ec.c.code_hash == code_hash, ec.c.used_at.is_(None))
                    .values(used_at=now, device_id=device_id)
                ).rowcount
                if claimed != 1:  # a concurrent request won the race
                    raise OpError("enrollment code already used; retry", 409, "conflict")
                dup = conn.execute(
                    select(db.devices.c.id).where(db.devices.c.public_key == public_key_b64)
                ).first()
                if dup is not None:
                    raise OpError("this public key is already enrolled", 409, "key_in_use")
                conn.execute(
                    insert(db.devices).values(
                        id=device_id,
                        person_id=row["person_id"],
                        name=device_name,
                        public_key=public_key_b64,
                        status="active",
                        enrolled_at=now,
                        last_contact=now,
                        contact_sent=now,
                        feed_seq=db.next_seq(conn),
                    )
                )
            person = get_person(conn, int(row["person_id"]))
            grids = person_grids(conn, int(row["person_id"]))
    except IntegrityError as exc:
        raise OpError("enrollment conflicted with another request; retry", 409, "conflict") from exc
    return {
        "device_id": device_id,
        "person": {"id": person["id"], "name": person["name"], "role": person["role"]},
        "grids": grids,
        "server_time": now,
    }


def _same_enrollment(conn: Connection, code_row: Any, public_key_b64: str) -> str | None:
    """The device id a used code was redeemed for, if it was for this very key (and
    that device still stands); None otherwise."""
    if code_row["device_id"] is None:
        return None
    device = conn.execute(
        select(db.devices.c.id, db.devices.c.public_key, db.devices.c.status,
               db.devices.c.person_id)
        .where(db.devices.c.id == code_row["device_id"])
    ).mappings().first()
    if (device is None or device["public_key"] != public_key_b64
            or device["status"] != "active" or device["person_id"] != code_row["person_id"]):
        return None
    return str(device["id"])


def revoke_device(engine: Engine, device_id: str, upload_days: float | None = None
                  ) -> dict[str, Any]:
    """Revoke: the device is told to erase itself at its next contact. With
    ``upload_days`` it may first upload what it holds, for that long."""
    if upload_days is not None and not 0 < upload_days <= 90:
        raise OpError("the upload window must be more than 0 and at most 90 days")
    with engine.begin() as conn:
        row = (
            conn.execute(select(db.devices).where(db.devices.c.id == device_id)).mappings().first()
        )
        if row is None:
            raise OpError(f"no device with id {device_id}", 404, "not_found")
        if row["status"] == "revoked":
            return {"device_id": device_id, "status": "revoked", "already": True}
        now = db.now_utc()
        until = None if upload_days is None else db.iso(now + timedelta(days=upload_days))
        conn.execute(
            update(db.devices)
            .where(db.devices.c.id == device_id)
            .values(status="revoked", revoked_at=db.iso(now), upload_until=until,
                    feed_seq=db.next_seq(conn))  # reviewers see it revoked
        )
        identity.wipe_command(conn, device_id, until)  # signed now, sent at the next contact
    return {"device_id": device_id, "status": "revoked", "already": False,
            "upload_until": until}


# -- events ----------------------------------------------------------------------------

def event_dict(conn: Connection, event_id: str, with_history: bool = True) -> dict[str, Any]:
    row = conn.execute(select(db.events).where(db.events.c.id == event_id)).mappings().first()
    if row is None:
        raise OpError(f"no event with id {event_id}", 404, "not_found")
    out = dict(row)
    if with_history:
        h = db.event_history
        out["history"] = []
        for r in conn.execute(select(h).where(h.c.event_id == event_id).order_by(h.c.id)
                              ).mappings():
            entry = {k: r[k] for k in ("from_status", "to_status", "note", "actor", "at")}
            if r["followup_id"] is not None:  # made by a worker's follow-up (migration 4)
                entry["followup_id"] = r["followup_id"]
            out["history"].append(entry)
        f = db.event_followups
        out["followups"] = [
            dict(r) for r in conn.execute(
                select(f).where(f.c.event_id == event_id).order_by(f.c.received_at, f.c.id)
            ).mappings()
        ]
    return out


def show_event(engine: Engine, event_id: str) -> dict[str, Any]:
    """One event with its history and the workers' follow-ups (``central event show``)."""
    with engine.connect() as conn:
        return event_dict(conn, event_id)


def list_events(
    engine: Engine, status: str | None = None, grid_id: int | None = None
) -> list[dict[str, Any]]:
    query = select(db.events).order_by(db.events.c.created_at, db.events.c.id)
    if status is not None:
        query = query.where(db.events.c.status == status)
    if grid_id is not None:
        query = query.where(db.events.c.grid_id == grid_id)
    f = db.event_followups
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
        counts = dict(conn.execute(  # type: ignore[arg-type]
            select(f.c.event_id, func.count()).group_by(f.c.event_id)).all())
    for row in rows:
        row["followups"] = int(counts.get(row["id"], 0))
    return rows


def record_transition(
    conn: Connection,
    event_id: str,
    from_status: str | None,
    to_status: str,
    note: str | None,
    actor: str,
    at: str,
) -> None:
    conn.execute(
        insert(db.event_history).values(
            event_id=event_id,
            from_status=from_status,
            to_status=to_status,
            note=note,
            actor=actor,
            at=at,
        )
    )


def advance_event(
    engine: Engine, event_id: str, to_status: str, note: str | None, actor: str = "command_centre"
) -> dict[str, Any]:
    """Move an event along the closed loop; refuses transitions the loop does not allow."""
    if to_status not in db.EVENT_STATUSES:
        raise OpError(
            f"unknown status {to_status!r}; one of: {', '.join(db.EVENT_STATUSES)}"
        )
    with engine.begin() as conn:
        current = event_dict(conn, event_id, with_history=False)
        allowed = TRANSITIONS[current["status"]]
        if to_status not in allowed:
            options = ", ".join(allowed) if allowed else "none (final status)"
            raise OpError(
                f"cannot move event from {current['status']} to {to_status}; allowed: {options}",
                409,
                "invalid_transition",
            )
        now = db.now_iso()
        seq = db.next_seq(conn)
        # Guard on the status read above so a concurrent advance cannot interleave.
        changed = conn.execute(
            update(db.events)
            .where(db.events.c.id == event_id, db.events.c.status == current["status"])
            .values(status=to_status, updated_at=now, updated_seq=seq)
        ).rowcount
        if changed != 1:
            raise OpError("event changed concurrently; retry", 409, "conflict")
        record_transition(conn, event_id, current["status"], to_status, note, actor, now)
        return event_dict(conn, event_id)


# -- tasks -----------------------------------------------------------------------------

def parse_due(value: str) -> str:
    """A due date or date-time (ISO 8601) normalized to UTC text; ValueError if unparsable."""
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"due {value!r} is not an ISO 8601 date or date-time") from exc
    if dt.tzinfo is None:
        raise ValueError(f"due {value!r} needs a time zone (e.g. +08:00 or Z)")
    return db.iso(dt)


def push_task(
    engine: Engine, grid_id: int, title: str, body: str, due: str | None
) -> dict[str, Any]:
    title = title.strip()
    if not title:
        raise OpError("task title must not be empty")
    if len(title) > 200:
        raise OpError("task title is longer than 200 characters")
    due_norm = None
    if due is not None:
        try:
            due_norm = parse_due(due)
        except ValueError as exc:
            raise OpError(str(exc)) from exc
    task = {
        "id": str(uuid.uuid4()),
        "grid_id": grid_id,
        "title": title,
        "body": body,
        "due": due_norm,
        "created_at": db.now_iso(),
    }
    with engine.begin() as conn:
        get_grid(conn, grid_id)
        conn.execute(insert(db.tasks).values(**task, updated_seq=db.next_seq(conn)))
    return task


def _task_responses(conn: Connection, task_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Acknowledgements and answers per task, oldest first, with who sent them and,
    for each answer photo, its hash and whether its bytes reached the server."""
    tr = db.task_responses
    by_task: dict[str, list[dict[str, Any]]] = {t: [] for t in task_ids}
    rows = [dict(r) for r in conn.execute(
        select(tr, db.people.c.name.label("person_name"))
        .join(db.people, db.people.c.id == tr.c.person_id, isouter=True)
        .where(tr.c.task_id.in_(task_ids)).order_by(tr.c.seq)
    ).mappings()] if task_ids else []
    photo_ids = sorted({p for r in rows for p in (r["photos"] or [])})
    hashes: dict[str, str] = {}
    for start in range(0, len(photo_ids), 500):
        for rid, payload in conn.execute(
            select(db.records.c.id, db.records.c.payload).where(
                db.records.c.kind == "photo.meta",
                db.records.c.id.in_(photo_ids[start:start + 500]))
        ):
            if isinstance(payload, dict) and isinstance(payload.get("sha256"), str):
                hashes[str(rid)] = payload["sha256"]
    wanted = sorted(set(hashes.values()))
    arrived = {r[0] for r in conn.execute(
        select(db.photos.c.sha256).where(db.photos.c.sha256.in_(wanted)))} if wanted else set()
    for r in rows:
        item = {k: r[k] for k in ("id", "kind", "person_id", "person_name", "device_id", "at",
                                  "received_at")}
        if r["kind"] == "answer":
            item["text"] = r["text"]
            item["event_id"] = r["event_id"]
            item["photos"] = [
                {"id": p, "sha256": hashes.get(p), "received": hashes.get(p) in arrived}
                for p in r["photos"] or []
            ]
        by_task[r["task_id"]].append(item)
    return by_task


def _task_with_responses(task: dict[str, Any], responses: list[dict[str, Any]]) -> dict[str, Any]:
    out = {k: task[k] for k in ("id", "grid_id", "title", "body", "due", "created_at")}
    out["acknowledgements"] = [r for r in responses if r["kind"] == "ack"]
    out["answers"] = [r for r in responses if r["kind"] == "answer"]
    return out


def list_tasks(engine: Engine, grid_id: int | None = None) -> list[dict[str, Any]]:
    """Tasks, newest first, each with its acknowledgements and answers."""
    query = select(db.tasks).order_by(db.tasks.c.created_at.desc(), db.tasks.c.id)
    if grid_id is not None:
        query = query.where(db.tasks.c.grid_id == grid_id)
    with engine.connect() as conn:
        tasks = [dict(r) for r in conn.execute(query).mappings()]
        responses = _task_responses(conn, [t["id"] for t in tasks])
    return [_task_with_responses(t, responses[t["id"]]) for t in tasks]


def show_task(engine: Engine, task_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(db.tasks).where(db.tasks.c.id == task_id)).mappings().first()
        if row is None:
            raise OpError(f"no task with id {task_id}", 404, "not_found")
        responses = _task_responses(conn, [task_id])
    return _task_with_responses(dict(row), responses[task_id])


# -- households ------------------------------------------------------------------------

def find_by_id_number(engine: Engine, id_number: str) -> list[dict[str, Any]]:
    """Households whose head or a member has this ID number, found by its blind index
    (the numbers themselves are sealed): one row per match."""
    ring = db.keyring(engine)
    wanted = ring.blind(id_number.strip().upper())  # under every key (rotation)
    hh, m = db.households, db.members
    out: list[dict[str, Any]] = []
    with engine.connect() as conn:
        heads = conn.execute(select(hh).where(hh.c.id_number_bidx.in_(wanted))).mappings()
        for r in heads:
            out.append({"household_id": r["id"], "grid_id": r["grid_id"],
                        "head_name": r["head_name"], "address": r["address"],
                        "match": "head", "name": r["head_name"], "relation": "户主"})
        found = conn.execute(
            select(m.c.name, m.c.relation, hh.c.id, hh.c.grid_id, hh.c.head_name, hh.c.address)
            .join(hh, hh.c.id == m.c.household_id).where(m.c.id_number_bidx.in_(wanted))
        ).mappings()
        for r in found:
            out.append({"household_id": r["id"], "grid_id": r["grid_id"],
                        "head_name": r["head_name"], "address": r["address"],
                        "match": "member", "name": r["name"], "relation": r["relation"]})
    return out


# -- stats -----------------------------------------------------------------------------

def stats(engine: Engine) -> dict[str, Any]:
    def grouped(conn: Connection, col: Any) -> dict[str, int]:
        rows = conn.execute(
            select(col.label("key"), func.count().label("n")).group_by(col).order_by(col)
        ).mappings()
        return {str(r["key"]): int(r["n"]) for r in rows}

    def count(conn: Connection, table: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)

    with engine.connect() as conn:
        device_rows = conn.execute(
            select(
                db.devices.c.id,
                db.devices.c.name,
                db.devices.c.person_id,
                db.people.c.name.label("person_name"),
                db.devices.c.status,
                db.devices.c.enrolled_at,
                db.devices.c.last_contact,
            )
            .join(db.people, db.people.c.id == db.devices.c.person_id)
            .order_by(db.devices.c.enrolled_at)
        ).mappings()
        return {
            "org_units": grouped(conn, db.org_units.c.level),
            "people": grouped(conn, db.people.c.role),
            "households": grouped(conn, db.households.c.category),
            "members": count(conn, db.members),
            "events": grouped(conn, db.events.c.status),
            "tasks": count(conn, db.tasks),
            "records": grouped(conn, db.records.c.kind),
            "conflicts": grouped(conn, db.conflicts.c.status),
            "photos": count(conn, db.photos),
            "ops_by_device": grouped(conn, db.sync_ops.c.device_id),
            "devices": [dict(r) for r in device_rows],
        }
