"""Sync on the central server: apply pushed ops exactly once, serve the change feed.

The wire format and the conflict rule are defined in ``sync/protocol.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from central import db, ops
from sync import protocol


class Rejected(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class PushBusy(Exception):
    """Another request is applying the same op right now: retry shortly."""


def _check_str(payload: dict[str, Any], name: str, max_len: int, required: bool) -> None:
    value = payload.get(name)
    if value is None:
        if required:
            raise Rejected("invalid", f"{name} is required")
        return
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        raise Rejected("invalid", f"{name} must be text of at most {max_len} characters")


def _check_field(name: str, value: Any) -> None:
    if name not in protocol.HOUSEHOLD_FIELDS:
        raise Rejected("invalid", f"unknown household field {name!r}")
    if name == "head_name":
        _check_str({name: value}, name, 50, True)
    elif name == "address":
        _check_str({name: value}, name, 200, True)
    elif name == "category":
        if value not in db.CATEGORIES:
            raise Rejected("invalid", "category must be ordinary, hardship or key")
    elif name in ("phone", "id_number"):
        _check_str({name: value}, name, 20 if name == "phone" else 18, False)
    elif name == "tags":
        if not isinstance(value, list) or not all(
            isinstance(t, str) and len(t) <= 50 for t in value
        ) or len(value) > 50:
            raise Rejected("invalid", "tags must be a list of short texts")


def _grid_of(payload: dict[str, Any], device: Any) -> int:
    grid = payload.get("grid_id")
    if grid is None and len(device.grids) == 1:
        return int(device.grids[0])
    try:
        grid_id = int(grid)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Rejected("invalid", "grid_id is required") from None
    if grid_id not in device.grids:
        raise Rejected("forbidden_grid", f"grid {grid_id} is not assigned to this worker")
    return grid_id


def _household(conn: Connection, household_id: str) -> dict[str, Any] | None:
    row = (
        conn.execute(select(db.households).where(db.households.c.id == household_id))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def _apply_immutable(
    conn: Connection, device: Any, op: dict[str, Any], now: str
) -> dict[str, Any]:
    kind, record_id, payload = op["kind"], op["record_id"], op["payload"]
    grid_id = _grid_of(payload, device)
    digest = protocol.content_hash(payload)
    existing = conn.execute(
        select(db.records.c.content_hash).where(
            db.records.c.kind == kind, db.records.c.id == record_id
        )
    ).first()
    if existing is not None:
        if existing[0] == digest:
            return {"status": "duplicate", "reason": None}
        raise Rejected("content_differs", f"{kind} {record_id} exists with different content")
    if kind == "household.create":
        for name in protocol.HOUSEHOLD_FIELDS:
            if name in ("head_name", "address") or payload.get(name) is not None:
                _check_field(name, payload.get(name))
        if len(record_id) > 36:
            raise Rejected("invalid", "household id is longer than 36 characters")
        if _household(conn, record_id) is not None:
            raise Rejected("content_differs", f"household {record_id} already exists")
    elif kind == "event.report":
        _check_str(payload, "category", 20, True)
        _check_str(payload, "description", 5000, True)
        if len(record_id) > 36:
            raise Rejected("invalid", "event id is longer than 36 characters")
        if conn.execute(select(db.events.c.id).where(db.events.c.id == record_id)).first():
            raise Rejected("content_differs", f"event {record_id} already exists")
    seq = db.next_seq(conn)
    conn.execute(
        insert(db.records).values(
            kind=kind, id=record_id, grid_id=grid_id, device_id=device.device_id,
            person_id=device.person_id, content_hash=digest, payload=payload, seq=seq,
            received_at=now,
        )
    )
    version = None
    if kind == "household.create":
        version = 1
        conn.execute(
            insert(db.households).values(
                id=record_id, grid_id=grid_id, head_name=payload["head_name"],
                address=payload["address"], category=payload.get("category") or "ordinary",
                phone=payload.get("phone"), id_number=payload.get("id_number"),
                tags=list(payload.get("tags") or []), version=1, updated_seq=seq,
            )
        )
    elif kind == "event.report":
        conn.execute(
            insert(db.events).values(
                id=record_id, grid_id=grid_id, reporter_id=device.person_id,
                category=payload["category"], description=payload["description"],
                status="reported", created_at=now, updated_at=now, updated_seq=seq,
            )
        )
        ops.record_transition(
            conn, record_id, None, "reported", None, f"person:{device.person_id}", now
        )
    return {"status": "applied", "reason": None, "version": version}


def _apply_update(conn: Connection, device: Any, op: dict[str, Any], now: str) -> dict[str, Any]:
    fields = op["payload"].get("fields")
    if not isinstance(fields, dict) or not fields:
        raise Rejected("invalid", "payload.fields must be a non-empty object")
    for name, value in fields.items():
        _check_field(name, value)
    base = op.get("base_version")
    if not isinstance(base, int) or isinstance(base, bool) or base < 0:
        raise Rejected("invalid", "base_version must be a whole number")
    hh = _household(conn, op["record_id"])
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
        .values(**values, version=version, updated_seq=seq)
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
    choice = op["payload"].get("choice")
    if choice not in protocol.CONFLICT_CHOICES:
        raise Rejected("invalid", "choice must be 'kept' or 'other'")
    c = (
        conn.execute(select(db.conflicts).where(db.conflicts.c.id == op["record_id"]))
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
    hh = _household(conn, c["household_id"])
    assert hh is not None
    version = int(hh["version"])
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
    if not isinstance(op.get("payload"), dict):
        raise Rejected("invalid", "payload must be an object")
    if device.role not in ("worker", "leader"):
        raise Rejected("read_only", f"a {device.role}'s device reads its grids but does not write")
    if kind in protocol.IMMUTABLE_KINDS:
        return _apply_immutable(conn, device, op, now)
    if kind == "household.update":
        return _apply_update(conn, device, op, now)
    if kind == "conflict.resolve":
        return _apply_resolve(conn, device, op, now)
    raise Rejected("unknown_kind", f"unknown op kind {kind!r}")


def push(engine: Engine, device: Any, op_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``op_list`` in order, each at most once, in one transaction."""
    results: list[dict[str, Any]] = []
    now = db.now_iso()
    try:
        with engine.begin() as conn:
            # Take the writer lock first (SQLite: before any read, so the snapshot cannot
            # go stale; PostgreSQL: the counter row lock serializes pushes, so commit
            # order is sequence order and the pull cursor never skips a change).
            db.next_seq(conn)
            ids = [o["op_id"] for o in op_list]
            stored = {
                r["op_id"]: dict(r)
                for r in conn.execute(
                    select(db.sync_ops).where(db.sync_ops.c.op_id.in_(ids))
                ).mappings()
            } if ids else {}
            seen: set[str] = set()
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
                    results.append({
                        "op_id": op_id, "status": "duplicate", "reason": None,
                        "version": original.get("version"), "conflicts": original.get(
                            "conflicts", []), "original": original,
                    })
                    continue
                seen.add(op_id)
                try:
                    # every Rejected is raised before the op writes anything
                    result = _apply_one(conn, device, op, now)
                except Rejected as rej:
                    result = {"status": "rejected", "reason": rej.reason, "detail": rej.detail}
                result["op_id"] = op_id
                if result["status"] == "duplicate":  # an immutable record seen before
                    result["original"] = None
                conn.execute(
                    insert(db.sync_ops).values(
                        op_id=op_id, device_id=device.device_id, kind=op["kind"][:32],
                        record_id=op["record_id"][:64], status=result["status"],
                        result=result, seq=db.next_seq(conn), received_at=now,
                    )
                )
                results.append(result)
    except (IntegrityError, OperationalError) as exc:
        raise PushBusy() from exc
    return results


# -- pull ------------------------------------------------------------------------------

def _households_page(
    conn: Connection, grids: tuple[int, ...], after: int, limit: int
) -> list[dict[str, Any]]:
    h = db.households
    rows = [
        dict(r)
        for r in conn.execute(
            select(h)
            .where(h.c.grid_id.in_(grids), h.c.updated_seq > after)
            .order_by(h.c.updated_seq)
            .limit(limit)
        ).mappings()
    ]
    if rows:
        by_id: dict[str, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
        m = db.members
        for member in conn.execute(
            select(m).where(m.c.household_id.in_(list(by_id))).order_by(m.c.id)
        ).mappings():
            item = dict(member)
            by_id[item.pop("household_id")].append(item)
        for r in rows:
            r["members"] = by_id[r["id"]]
    return [{"seq": r["updated_seq"], "kind": "household", "id": r["id"], "data": r} for r in rows]


def _simple_page(
    conn: Connection, table: Any, kind: str, grids: tuple[int, ...], after: int, limit: int,
    columns: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(table)
        .where(table.c.grid_id.in_(grids), table.c.updated_seq > after)
        .order_by(table.c.updated_seq)
        .limit(limit)
    ).mappings()
    out = []
    for r in rows:
        data = dict(r) if columns is None else {k: r[k] for k in columns}
        out.append({"seq": r["updated_seq"], "kind": kind, "id": r["id"], "data": data})
    return out


def pull(engine: Engine, device: Any, after: int, limit: int) -> dict[str, Any]:
    grids = tuple(device.grids)
    if not grids:
        return {"changes": [], "next_after": after, "has_more": False}
    with engine.connect() as conn:
        candidates = _households_page(conn, grids, after, limit + 1)
        candidates += _simple_page(conn, db.conflicts, "conflict", grids, after, limit + 1)
        candidates += _simple_page(
            conn, db.events, "event", grids, after, limit + 1,
            ("id", "grid_id", "category", "description", "status", "updated_at", "updated_seq"),
        )
        candidates += _simple_page(conn, db.tasks, "task", grids, after, limit + 1)
    candidates.sort(key=lambda c: int(c["seq"]))
    page = candidates[:limit]
    while len(page) < len(candidates) and candidates[len(page)]["seq"] == page[-1]["seq"]:
        page.append(candidates[len(page)])  # never cut between rows of one sequence number
    has_more = len(candidates) > limit
    next_after = int(page[-1]["seq"]) if page else after
    return {"changes": page, "next_after": next_after, "has_more": has_more}
