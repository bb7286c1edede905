"""The centre's side of audit anchoring: each device's audit chain may only grow.

A device sends its chain's head after a sync (``sync.protocol``, "audit anchoring");
this module checks it against the head the centre kept last time, stores the new head
with a verdict, and gives IT the overview (``central devices``). The rows are never
changed or deleted: a flag, once raised, stays on record; IT acknowledges it with
``central devices accept`` (an ``accepted`` row), after which only new flags show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from central import db


@dataclass(frozen=True)
class Anchor:
    """What a device sent (already checked for shape by the API model)."""

    head_seq: int
    head_hash: str
    at_seq: int
    at_hash: str | None
    intact: bool
    pin_failures_total: int | None


def _latest(conn: Connection, device_id: str) -> dict[str, Any] | None:
    t = db.audit_anchors
    row = conn.execute(
        select(t).where(t.c.device_id == device_id).order_by(t.c.id.desc()).limit(1)
    ).mappings().first()
    return dict(row) if row is not None else None


def _judge(last: dict[str, Any] | None, sent: Anchor) -> tuple[str, str]:
    """The verdict on ``sent`` given the kept head, and a short reason for IT."""
    if last is None:
        if not sent.intact:
            return "broken", "the chain does not verify on the device"
        return "first", ""
    kept_seq, kept_hash = int(last["head_seq"]), str(last["head_hash"])
    if sent.head_seq < kept_seq:
        return "shrank", f"head {sent.head_seq} is below the anchored {kept_seq}"
    if sent.at_hash != kept_hash:
        return "forked", f"entry {kept_seq} is not the one anchored"
    if not sent.intact:
        return "broken", "the chain does not verify on the device"
    kept_failures = last["pin_failures_total"]
    if (sent.pin_failures_total is not None and kept_failures is not None
            and sent.pin_failures_total < int(kept_failures)):
        return "counter_reset", (f"wrong-PIN count {sent.pin_failures_total} is below the"
                                 f" {int(kept_failures)} reported before")
    if sent.head_seq == kept_seq:
        return "same", ""
    return "grew", ""


def record(engine: Engine, device_id: str, sent: Anchor) -> dict[str, Any]:
    """Check and keep one anchor; the answer for the device."""
    t = db.audit_anchors
    with engine.begin() as conn:
        # a write first: SQLite takes its write lock, PostgreSQL locks the device row,
        # so two anchors of one device are judged one after the other
        conn.execute(update(db.devices).where(db.devices.c.id == device_id)
                     .values(id=db.devices.c.id))
        last = _latest(conn, device_id)
        if last is not None and sent.at_seq != int(last["head_seq"]):
            return {"verdict": "resync", "anchored_seq": int(last["head_seq"])}
        verdict, detail = _judge(last, sent)
        if (verdict == "same" and last is not None
                and sent.pin_failures_total == last["pin_failures_total"]):
            return {"verdict": verdict, "anchored_seq": sent.head_seq}  # nothing new to keep
        if verdict == "same":  # only the wrong-PIN count moved
            detail = _failures_note(last, sent)
        elif verdict == "grew":
            detail = _failures_note(last, sent)
        conn.execute(insert(t).values(
            device_id=device_id, head_seq=sent.head_seq, head_hash=sent.head_hash,
            pin_failures_total=sent.pin_failures_total, intact=sent.intact,
            verdict=verdict, detail=detail[:300], received_at=db.now_iso()))
    return {"verdict": verdict, "anchored_seq": sent.head_seq}


def _failures_note(last: dict[str, Any] | None, sent: Anchor) -> str:
    before = None if last is None else last["pin_failures_total"]
    if sent.pin_failures_total is None or before is None:
        return ""
    more = sent.pin_failures_total - int(before)
    return f"{more} wrong PIN(s) since the last anchor" if more > 0 else ""


def accept(engine: Engine, device_id: str, operator: str) -> bool:
    """IT has looked at the device's flags: keep the current head, clear the flag view.
    False when the device never anchored."""
    t = db.audit_anchors
    with engine.begin() as conn:
        conn.execute(update(db.devices).where(db.devices.c.id == device_id)
                     .values(id=db.devices.c.id))
        last = _latest(conn, device_id)
        if last is None:
            return False
        conn.execute(insert(t).values(
            device_id=device_id, head_seq=last["head_seq"], head_hash=last["head_hash"],
            pin_failures_total=last["pin_failures_total"], intact=last["intact"],
            verdict="accepted", detail=f"flags acknowledged by {operator}"[:300],
            received_at=db.now_iso()))
    return True


def overview(engine: Engine) -> list[dict[str, Any]]:
    """Every device with its person, status, last contact, anchored head, wrong-PIN
    count and open flags (raised since IT last accepted), flagged devices first."""
    t, d, p = db.audit_anchors, db.devices, db.people
    with engine.connect() as conn:
        devices = conn.execute(
            select(d.c.id, d.c.name, d.c.status, d.c.last_contact, d.c.enrolled_at,
                   d.c.upload_until, p.c.name.label("person"), p.c.role)
            .select_from(d.join(p, p.c.id == d.c.person_id)).order_by(d.c.enrolled_at)
        ).mappings().all()
        newest = {
            str(r["device_id"]): int(r["id"]) for r in conn.execute(
                select(t.c.device_id, func.max(t.c.id).label("id")).group_by(t.c.device_id)
            ).mappings()
        }
        accepted = {
            str(r["device_id"]): int(r["id"]) for r in conn.execute(
                select(t.c.device_id, func.max(t.c.id).label("id"))
                .where(t.c.verdict == "accepted").group_by(t.c.device_id)
            ).mappings()
        }
        flags: dict[str, list[dict[str, Any]]] = {}
        for r in conn.execute(
            select(t.c.device_id, t.c.id, t.c.verdict, t.c.detail, t.c.received_at)
            .where(t.c.verdict.in_(db.AUDIT_FLAG_VERDICTS)).order_by(t.c.id)
        ).mappings():
            if int(r["id"]) > accepted.get(str(r["device_id"]), 0):
                flags.setdefault(str(r["device_id"]), []).append(
                    {"verdict": r["verdict"], "detail": r["detail"],
                     "received_at": r["received_at"]})
        heads = {
            int(r["id"]): dict(r) for r in conn.execute(
                select(t.c.id, t.c.head_seq, t.c.pin_failures_total, t.c.received_at)
                .where(t.c.id.in_(list(newest.values()) or [-1]))
            ).mappings()
        }
    result = []
    for dev in devices:
        head = heads.get(newest.get(str(dev["id"]), -1))
        result.append({
            "device_id": dev["id"], "name": dev["name"], "person": dev["person"],
            "role": dev["role"], "status": dev["status"],
            "enrolled_at": dev["enrolled_at"], "last_contact": dev["last_contact"],
            "upload_until": dev["upload_until"],
            "audit_head": None if head is None else int(head["head_seq"]),
            "audit_anchored_at": None if head is None else head["received_at"],
            "pin_failures_total": None if head is None else head["pin_failures_total"],
            "flags": flags.get(str(dev["id"]), []),
        })
    result.sort(key=lambda r: (not r["flags"], r["enrolled_at"] or ""))
    return result


def history(engine: Engine, device_id: str) -> list[dict[str, Any]]:
    """All anchors of one device, oldest first (IT's evidence)."""
    t = db.audit_anchors
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(t.c.head_seq, t.c.head_hash, t.c.pin_failures_total, t.c.intact,
                   t.c.verdict, t.c.detail, t.c.received_at)
            .where(t.c.device_id == device_id).order_by(t.c.id)).mappings()]

