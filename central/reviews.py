"""Review access at the centre (issue 13): who sees what, and the review verdicts.

* ``review.create`` ops (a leader's or supervisor's verdict on a visit or a patrol):
  checked and stored in ``reviews`` (:func:`apply_review`), pulled back as kind
  ``review`` (the reviewed worker's device gets the reviews of its own records).
* Patrols gathered from their records as they arrive (:func:`note_patrol_records`):
  the report, the checklist results and a simplified track, pulled as kind ``patrol``
  by leaders and supervisors only (a worker's device gets no other worker's track).
* Devices with their last contact, pulled as kind ``device`` by leaders and
  supervisors (:func:`note_contact` moves a device in the feed at most every
  :data:`sync.protocol.CONTACT_STEP_SECONDS`).
* Masking for roles that may not reveal (:func:`mask_change`): a supervisor's device
  gets no ID number, phone or special-group tag in the clear.

The wire format is in :mod:`sync.protocol` ("Review access").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, insert, select, text, update

from central import db
from sync import protocol
from sync.protocol.tracks import simplify_parts

PATROL_KINDS = ("patrol.report", "checklist.result", "track.segment")
REVEAL_ROLES = ("worker", "leader")  # as the device's REVEAL_ROLES
WRITE_ROLES = ("worker", "leader")  # a supervisor's device writes reviews only


class ReviewRefused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


# -- review.create ---------------------------------------------------------------------

def review_target(conn: Connection, device: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The reviewed record's grid, person and household, after the checks of who may
    review it (raises :class:`ReviewRefused` with the reason)."""
    if device.role not in protocol.REVIEWER_ROLES:
        raise ReviewRefused("not_reviewer",
                            "only a grid leader or supervisor of the grid reviews work")
    kind, target_id = payload.get("target_kind"), payload.get("target_id")
    found: dict[str, Any] | None = None
    if kind == "visit":
        r = db.records
        row = conn.execute(select(r.c.grid_id, r.c.person_id, r.c.payload).where(
            r.c.kind == "visit.create", r.c.id == target_id)).first()
        if row is not None:
            household = row.payload.get("household_id") if isinstance(row.payload, dict) \
                else None
            found = {"grid_id": int(row.grid_id), "worker_id": int(row.person_id),
                     "household_id": household if isinstance(household, str) else None}
    elif kind == "patrol":
        p = db.patrols
        row = conn.execute(select(p.c.grid_id, p.c.person_id).where(
            p.c.id == target_id, p.c.finished.is_(True))).first()
        if row is not None:
            found = {"grid_id": int(row.grid_id), "worker_id": int(row.person_id),
                     "household_id": None}
    if found is None:
        raise ReviewRefused("unknown_record", f"no {kind} {target_id} at the centre")
    if found["grid_id"] not in device.grids:
        raise ReviewRefused("forbidden_grid",
                            "the record is in a grid this reviewer is not assigned to")
    if found["worker_id"] == device.person_id:
        raise ReviewRefused("own_record", "nobody reviews their own work")
    return found


def apply_review(conn: Connection, device: Any, record_id: str, payload: dict[str, Any],
                 target: dict[str, Any], seq: int, now: str) -> None:
    """Store the verdict (its record row is stored by the caller, same transaction)."""
    if len(record_id) > 36:
        raise ReviewRefused("invalid", "review id is longer than 36 characters")
    comment = (payload.get("comment") or "").strip() or None
    conn.execute(insert(db.reviews).values(
        id=record_id, target_kind=payload["target_kind"], target_id=payload["target_id"],
        grid_id=target["grid_id"], worker_id=target["worker_id"],
        household_id=target["household_id"], state=payload["state"], comment=comment,
        reviewer_id=device.person_id, reviewer_role=device.role, device_id=device.device_id,
        reviewed_at=payload.get("reviewed_at"), received_at=now, updated_seq=seq,
    ))


def reviews_page(conn: Connection, device: Any, grids: tuple[int, ...], after: int,
                 limit: int, before: int) -> list[dict[str, Any]]:
    """Reviews of the grids: all of them for a reviewer, a worker's own otherwise."""
    rv = db.reviews
    query = (select(rv).where(rv.c.grid_id.in_(grids), rv.c.updated_seq > db.seq_cursor(after),
                              rv.c.updated_seq < before)
             .order_by(rv.c.updated_seq).limit(limit))
    if device.role not in protocol.REVIEW_ROLES:
        query = query.where(rv.c.worker_id == device.person_id)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    names = _names(conn, {int(r["reviewer_id"]) for r in rows})
    out = []
    for r in rows:
        data = {
            "id": r["id"], "target_kind": r["target_kind"], "target_id": r["target_id"],
            "grid_id": str(r["grid_id"]), "state": r["state"], "comment": r["comment"],
            "reviewer_id": int(r["reviewer_id"]),
            "reviewer_name": names.get(int(r["reviewer_id"])),
            "reviewer_role": r["reviewer_role"], "worker_id": r["worker_id"],
            "household_id": r["household_id"], "reviewed_at": r["reviewed_at"],
            "received_at": r["received_at"],
        }
        out.append({"seq": int(r["updated_seq"]), "kind": "review", "id": r["id"],
                    "data": data})
    return out


def _names(conn: Connection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    p = db.people
    return {int(i): str(n)[:100] for i, n in conn.execute(
        select(p.c.id, p.c.name).where(p.c.id.in_(sorted(ids))))}


# -- patrols ---------------------------------------------------------------------------

def _patrol_id(row: dict[str, Any]) -> str | None:
    payload = row.get("payload")
    if not isinstance(payload, dict):
        return None
    if row["kind"] == "patrol.report":
        return str(row["id"])
    value = payload.get("patrol_id")
    return value if isinstance(value, str) and value else None


def _photo_ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        photo = item.get("id") if isinstance(item, dict) else item
        if isinstance(photo, str):
            out.append(photo)
    return out


def photo_refs(value: Any) -> list[str]:
    """The photo ids a record's ``photos`` names: ids, ``{"id", ...}`` items, or the
    JSON text of such a list (older clients); anything else names none."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return _photo_ids(value)


def photo_hashes(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """photo id -> the SHA-256 of its content, from the ``photo.meta`` records the
    centre has (beside their sealed payloads), for the photos ``ids`` names."""
    wanted = sorted({i for i in ids if isinstance(i, str) and len(i) <= 64})
    r = db.records
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        found.update((str(i), str(sha)) for i, sha in conn.execute(
            select(r.c.id, r.c.photo_sha256).where(
                r.c.kind == "photo.meta", r.c.id.in_(wanted[start:start + 500]),
                r.c.photo_sha256.is_not(None))))
    return {i: sha for i, sha in found.items() if _SHA256.fullmatch(sha)}


_SHA256 = re.compile(r"[0-9a-f]{64}")


def note_patrol_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Gather stored ``patrol.report``/``checklist.result``/``track.segment`` record
    rows (dicts with kind, id, grid_id, device_id, person_id, payload), in the order
    they were stored, into their patrols: one read of the patrols touched and one write
    of each that changed, in the caller's transaction. A patrol is the device's that
    stored its first record: a record of another device naming it is left out, and so
    is a segment of no patrol (an imported track on its own). A record gathered before
    changes nothing (the same rows twice: no write, the feed number stays)."""
    by_patrol: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("kind") not in PATROL_KINDS:
            continue
        patrol_id = _patrol_id(row)
        if patrol_id is not None and len(patrol_id) <= 64:
            by_patrol.setdefault(patrol_id, []).append(row)
    if not by_patrol:
        return
    p = db.patrols
    ids = sorted(by_patrol)
    stored: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        for found in conn.execute(select(p).where(p.c.id.in_(ids[start:start + 500]))
                                  .order_by(p.c.id).with_for_update()).mappings():
            stored[str(found["id"])] = dict(found)
    new_rows: list[dict[str, Any]] = []
    for patrol_id, items in by_patrol.items():
        current = stored.get(patrol_id)
        first = items[0]
        state: dict[str, Any] = dict(current) if current is not None else {
            "id": patrol_id, "grid_id": int(first["grid_id"]),
            "person_id": int(first["person_id"]), "device_id": str(first["device_id"]),
            "finished": False, "report": None, "results": [], "segments": [], "track": [],
        }
        items = [row for row in items if str(row["device_id"]) == state["device_id"]]
        if not items:
            continue  # another device naming this patrol: not part of it
        results = list(state["results"] or [])
        segments = list(state["segments"] or [])
        new_segments = False
        for row in items:
            payload = row["payload"]
            if row["kind"] == "patrol.report":
                state["report"] = payload
                state["finished"] = True
                state["grid_id"] = int(row["grid_id"])
            elif row["kind"] == "checklist.result":
                if all(r.get("id") != row["id"] for r in results):
                    results.append({
                        "id": str(row["id"]), "code": str(payload.get("code", ""))[:16],
                        "result": str(payload.get("result", ""))[:32],
                        "note": payload.get("note") if isinstance(payload.get("note"), str)
                        else None,
                        "photos": _photo_ids(payload.get("photos"))[:20],
                        "recorded_at": payload.get("recorded_at"),
                    })
            elif str(row["id"]) not in segments:
                segments.append(str(row["id"]))
                new_segments = True
        state["results"] = results
        state["segments"] = segments
        if new_segments:
            state["track"] = _track(conn, segments, {str(r["id"]): r["payload"] for r in items
                                                     if r["kind"] == "track.segment"})
        values = {k: state[k] for k in _PATROL_VALUES}
        if current is not None and all(current[k] == values[k] for k in _PATROL_VALUES):
            continue  # nothing new (a record gathered before)
        values["updated_seq"] = db.next_seq(conn)
        if current is None:
            new_rows.append({"id": patrol_id, **values})
        else:
            conn.execute(update(p).where(p.c.id == patrol_id).values(**values))
    if new_rows:
        conn.execute(insert(p), new_rows)


_PATROL_VALUES = ("grid_id", "person_id", "device_id", "finished", "report", "results",
                  "segments", "track")

# Migration 13's backfill (central.db.BACKFILLS "13.patrols"): the patrol records stored
# before it, in the order they were stored, a batch per transaction. The partial index
# lives while the backfill runs (a keyset walk over millions of records by feed number
# needs one; kept, it would cost every record stored later); the query names the kinds
# as the index does, literally, so SQLite and PostgreSQL both see that it applies.
BACKFILL_INDEX = "ix_records_patrol_backfill"
_PATROL_RECORDS = "kind IN ('patrol.report', 'checklist.result', 'track.segment')"
assert _PATROL_RECORDS == "kind IN (" + ", ".join(f"'{k}'" for k in PATROL_KINDS) + ")"


def create_backfill_index(conn: Connection) -> None:
    conn.execute(text(f"CREATE INDEX {BACKFILL_INDEX} ON records (seq) WHERE {_PATROL_RECORDS}"))
    if conn.dialect.name == "postgresql":  # fresh statistics: the planner walks the index
        conn.execute(text("ANALYZE records"))  # (a sample: seconds for millions of rows)


def _backfill_query(conn: Connection, condition: str, limit: int | None) -> Any:
    """Patrol records by feed number through the backfill's index: named on SQLite
    (``INDEXED BY``: a database never analysed would walk the kind index and sort every
    remaining record for each batch; SQLite refuses the query rather than do that),
    chosen by PostgreSQL's planner (the ``ORDER BY seq LIMIT`` matches the index)."""
    r = db.records
    source = "records"
    if conn.dialect.name == "sqlite":
        source += f" INDEXED BY {BACKFILL_INDEX}"
    sql = (f"SELECT kind, id, grid_id, device_id, person_id, payload, seq FROM {source}"
           f" WHERE {_PATROL_RECORDS} AND {condition} ORDER BY seq")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return text(sql).columns(r.c.kind, r.c.id, r.c.grid_id, r.c.device_id, r.c.person_id,
                             r.c.payload, r.c.seq)


def backfill_patrols(conn: Connection, position: int | None, batch: int
                     ) -> tuple[int | None, int]:
    """Gather the next ``batch`` patrol records after feed number ``position`` into
    their patrols, in the order they were stored; returns the batch's last number and
    how many records it gathered. None left: drops the index, returns 0. Records sharing
    a number are never split between two batches (the position is a number).

    PostgreSQL: takes the push lock of each device whose records are in the batch
    first (as ``syncops.push`` does, before any row), so a push of the same device on
    a server already serving waits instead of racing it for a patrol's row."""
    after = -1 if position is None else position
    rows = [dict(x) for x in conn.execute(
        _backfill_query(conn, "seq > :after", batch + 1), {"after": after}).mappings()]
    if not rows:
        conn.execute(text(f"DROP INDEX IF EXISTS {BACKFILL_INDEX}"))
        return position, 0
    if len(rows) > batch:
        boundary = int(rows[batch]["seq"])
        rows = [x for x in rows if int(x["seq"]) < boundary]
        if not rows:  # more than a batch share one number: all of them at once
            rows = [dict(x) for x in conn.execute(
                _backfill_query(conn, "seq = :at", None), {"at": boundary}).mappings()]
    rows.sort(key=lambda x: (int(x["seq"]), str(x["kind"]), str(x["id"])))
    if conn.dialect.name == "postgresql":
        for device_id in sorted({str(x["device_id"]) for x in rows}):
            db.lock_key(conn, f"push:{device_id}")
    note_patrol_records(conn, rows)
    return int(rows[-1]["seq"]), len(rows)


def _track(conn: Connection, segment_ids: list[str],
           known: dict[str, Any]) -> list[list[list[float]]]:
    """The patrol's simplified track from all its segments (the batch's and stored)."""
    payloads = dict(known)
    wanted = [i for i in segment_ids if i not in payloads]
    r = db.records
    for start in range(0, len(wanted), 500):
        for rid, payload in conn.execute(select(r.c.id, r.c.payload).where(
                r.c.kind == "track.segment", r.c.id.in_(wanted[start:start + 500]))):
            payloads[str(rid)] = payload
    parts: dict[tuple[str, int], list[tuple[int, list[Any]]]] = {}
    for payload in payloads.values():
        if not isinstance(payload, dict) or not isinstance(payload.get("points"), list):
            continue
        key = (str(payload.get("track_id")), int(payload.get("part") or 0))
        parts.setdefault(key, []).append((int(payload.get("seq") or 0), payload["points"]))
    lines: list[list[list[Any]]] = []
    for key in sorted(parts, key=lambda k: _first_time(parts[k])):
        line: list[list[Any]] = []
        for _seq, points in sorted(parts[key], key=lambda item: item[0]):
            for point in points:
                if line and list(point[:3]) == line[-1][:3]:
                    continue  # chunks of one segment share their boundary point
                line.append(point)
        lines.append(line)
    return simplify_parts(lines, protocol.MAX_REVIEW_TRACK_POINTS)


def _first_time(chunks: list[tuple[int, list[Any]]]) -> float:
    for _seq, points in sorted(chunks, key=lambda item: item[0]):
        for point in points:
            if point and isinstance(point[0], int | float):
                return float(point[0])
    return 0.0


REPORT_FIELDS = ("started_at", "finished_at", "duration_s", "distance_m", "checklist_version",
                 "items_total", "items_done", "problems", "normal", "not_applicable",
                 "incomplete", "photos", "track_points")


def patrols_page(conn: Connection, device: Any, grids: tuple[int, ...], after: int,
                 limit: int, before: int) -> list[dict[str, Any]]:
    """Other devices' finished patrols of the grids, for a reviewer's device only."""
    if device.role not in protocol.REVIEW_ROLES:
        return []
    p = db.patrols
    rows = conn.execute(
        select(p).where(p.c.grid_id.in_(grids), p.c.finished.is_(True),
                        p.c.device_id != device.device_id,
                        p.c.updated_seq > db.seq_cursor(after), p.c.updated_seq < before)
        .order_by(p.c.updated_seq).limit(limit)).mappings().all()
    out = []
    for r in rows:
        report = r["report"] if isinstance(r["report"], dict) else {}
        data: dict[str, Any] = {k: report.get(k) for k in REPORT_FIELDS}
        data.update(id=r["id"], grid_id=str(r["grid_id"]), person_id=int(r["person_id"]),
                    device_id=r["device_id"], results=list(r["results"] or []),
                    track=list(r["track"] or []))
        out.append({"seq": int(r["updated_seq"]), "kind": "patrol", "id": r["id"],
                    "data": data})
    # the SHA-256 of the report's and the results' photos (the same-photo check)
    photos = {c["id"]: [*photo_refs(c["data"].get("photos")), *(
        p for result in c["data"]["results"] if isinstance(result, dict)
        for p in photo_refs(result.get("photos")))] for c in out}
    hashes = photo_hashes(conn, (p for ids in photos.values() for p in ids))
    for change in out:
        change["data"]["photo_sha256"] = {p: hashes[p] for p in photos[change["id"]]
                                          if p in hashes}
    return out


# -- devices and their last contact ------------------------------------------------------

def note_contact(conn: Connection, device_row: Any, now: Any) -> dict[str, Any]:
    """The values to write on a device's row at a signed request: its last contact,
    and a new place in the review feed when the contact last sent there is at least
    :data:`protocol.CONTACT_STEP_SECONDS` old."""
    values: dict[str, Any] = {"last_contact": db.iso(now)}
    sent = device_row.get("contact_sent") if hasattr(device_row, "get") else None
    if sent is not None:
        try:
            from datetime import datetime

            age = (now - datetime.fromisoformat(str(sent).replace("Z", "+00:00"))
                   ).total_seconds()
        except ValueError:
            age = float("inf")
        if age < protocol.CONTACT_STEP_SECONDS:
            return values
    values["contact_sent"] = db.iso(now)
    values["feed_seq"] = db.next_seq(conn)
    return values


def devices_page(conn: Connection, device: Any, grids: tuple[int, ...], after: int,
                 limit: int, before: int) -> list[dict[str, Any]]:
    """Devices of the workers and leaders of the grids, for a reviewer's device."""
    if device.role not in protocol.REVIEW_ROLES:
        return []
    d, g, p = db.devices, db.grid_assignments, db.people
    people = select(g.c.person_id).where(g.c.grid_id.in_(grids)).distinct()
    rows = conn.execute(
        select(d.c.id, d.c.person_id, d.c.name, d.c.status, d.c.enrolled_at, d.c.last_contact,
               d.c.contact_sent, d.c.feed_seq, p.c.name.label("person_name"), p.c.role)
        .select_from(d.join(p, p.c.id == d.c.person_id))
        .where(d.c.person_id.in_(people), p.c.role.in_(REVEAL_ROLES), d.c.id != device.device_id,
               d.c.feed_seq > db.seq_cursor(after), d.c.feed_seq < before)
        .order_by(d.c.feed_seq).limit(limit)).mappings().all()
    if not rows:
        return []
    person_grids: dict[int, list[str]] = {}
    for person_id, grid_id in conn.execute(
            select(g.c.person_id, g.c.grid_id).where(
                g.c.person_id.in_(sorted({int(r["person_id"]) for r in rows})),
                g.c.grid_id.in_(grids)).order_by(g.c.grid_id)):
        person_grids.setdefault(int(person_id), []).append(str(grid_id))
    out = []
    for r in rows:
        data = {
            "id": r["id"], "person_id": int(r["person_id"]),
            "person_name": str(r["person_name"])[:100], "role": r["role"],
            "grid_ids": person_grids.get(int(r["person_id"]), []), "name": r["name"],
            "status": r["status"], "enrolled_at": r["enrolled_at"],
            # the contact last sent: what the feed promised, not a newer value that
            # did not move the row (every reader sees the same)
            "last_contact": r["contact_sent"] or r["last_contact"],
        }
        out.append({"seq": int(r["feed_seq"]), "kind": "device", "id": r["id"], "data": data})
    return out


# -- masking for roles that may not reveal ------------------------------------------------

def mask_id_number(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    if len(value) <= 8:
        return mask(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    if len(value) <= 7:
        return mask(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    return "*" * max(0, len(value) - 4) + value[-4:]


def mask_tags(tags: Any) -> Any:
    if not isinstance(tags, list):
        return tags
    shown = [t for t in tags if t not in protocol.SENSITIVE_TAGS]
    return [*shown, protocol.HIDDEN_TAG] if len(shown) < len(tags) else shown


_MASKS = {"id_number": mask_id_number, "phone": mask_phone, "tags": mask_tags}


def _mask_fields(values: dict[str, Any]) -> None:
    for name, fn in _MASKS.items():
        if name in values:
            values[name] = fn(values[name])


def mask_change(change: dict[str, Any]) -> None:
    """Mask a pulled row in place for a device whose role may not reveal (see
    :data:`REVEAL_ROLES`): households and members, and conflicts about those fields."""
    data = change["data"]
    if change["kind"] == "household":
        _mask_fields(data)
        for member in data.get("members") or []:
            _mask_fields(member)
    elif change["kind"] == "conflict":
        fn = _MASKS.get(str(data.get("field")))
        for name in ("kept_value", "other_value"):
            value = data.get(name)
            if fn is not None:
                data[name] = fn(value)
            elif isinstance(value, dict) and isinstance(value.get("fields"), dict):
                fields = dict(value["fields"])
                _mask_fields(fields)
                data[name] = {**value, "fields": fields}
