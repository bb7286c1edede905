"""The centre's side of audit anchoring: each device's audit chain may only grow.

A device sends its chain's head after a sync (``sync.protocol``, "audit anchoring");
this module checks it against the head the centre kept last time, stores the new head
with a verdict, and gives IT the overview (``central devices``). The rows are never
changed or deleted: a flag, once raised, stays on record; IT acknowledges it with
``central devices accept`` (an ``accepted`` row), after which only new flags show.

The fleet view for IT (``central devices``, :func:`fleet_overview`) lives here too, on
top of the anchors: every device with its person and grids, app version, update
channel, last contact, what it still has to send, its audit log's state, where it keeps
its device secret, and whether it is revoked. What only the device knows it reports at
a sync (``sync.protocol``, "device status", level 5), checked by
:func:`sync.protocol.schemas.check_device_status` before anything is kept, since an
enrolled device may be hostile. The app version and protocol level come from the
headers of its signed requests (:func:`contact_values`); a value that does not look like
one is not kept. A device that never reported (an older app) shows its status as
unknown (``None``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from central import db
from sync import protocol
from sync.protocol import schemas


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


# -- the fleet view (central devices) -------------------------------------------------------

_APP_VERSION = re.compile(protocol.APP_VERSION_PATTERN)
MAX_LEVEL = 999  # a protocol level the centre keeps (a header of digits, at most 3)

# The keys of each device in ``central devices --json``, in order (stable for scripts:
# new keys are added at the end, none is renamed or removed)
FIELDS = ("device_id", "name", "person_id", "person", "role", "grids", "status", "revoked",
          "enrolled_at", "last_contact", "upload_until", "app_version", "protocol_level",
          "channel", "pending_ops", "photos_waiting", "photo_bytes", "secret_store",
          "status_reported_at", "audit_head", "audit_anchored_at", "audit_state",
          "pin_failures_total", "flags")


def contact_values(headers: Mapping[str, str]) -> dict[str, Any]:
    """The app version and protocol level a signed request's headers state, as columns
    to write with its last contact; a header that is absent or does not fit (too long,
    odd characters, not a small number) is left out, so what was kept stays."""
    values: dict[str, Any] = {}
    version = headers.get(protocol.HEADER_APP_VERSION.lower(), "")
    if _APP_VERSION.fullmatch(version):
        values["app_version"] = version
    level = headers.get(protocol.HEADER_PROTOCOL.lower(), "").strip()
    if level.isascii() and level.isdigit() and len(level) <= 3:
        values["protocol_level"] = min(int(level), MAX_LEVEL)
    return values


def store_status(engine: Engine, device_id: str, status: Any) -> dict[str, Any]:
    """Check and keep a device's status report; :class:`schemas.SchemaError` (nothing
    kept) when it does not fit."""
    clean = schemas.check_device_status(status)
    with engine.begin() as conn:
        conn.execute(update(db.devices).where(db.devices.c.id == device_id).values(
            update_channel=clean["channel"], pending_ops=clean["pending_ops"],
            photos_waiting=clean["photos_waiting"], photo_bytes=clean["photo_bytes"],
            secret_store=clean["secret_store"], status_at=db.now_iso()))
    return clean


def _audit_state(row: Mapping[str, Any]) -> str:
    """One word for the audit column: never anchored, flagged, or anchored and fine."""
    if row["flags"]:
        return "flagged"
    return "never" if row["audit_head"] is None else "ok"


def fleet_overview(engine: Engine) -> list[dict[str, Any]]:
    """Every device (flagged first, then by enrollment, as :func:`overview`)
    with the keys of :data:`FIELDS`; what a device never reported is None."""
    audit_rows = overview(engine)
    d, g = db.devices, db.grid_assignments
    with engine.connect() as conn:
        extra = {str(r["id"]): r for r in conn.execute(
            select(d.c.id, d.c.person_id, *(d.c[name] for name in db.FLEET_COLUMNS))
        ).mappings()}
        grids: dict[int, list[int]] = {}
        for person_id, grid_id in conn.execute(
                select(g.c.person_id, g.c.grid_id).order_by(g.c.person_id, g.c.grid_id)):
            grids.setdefault(int(person_id), []).append(int(grid_id))
    out = []
    for row in audit_rows:
        more = extra.get(str(row["device_id"]))
        if more is None:  # enrolled between the two reads: next time
            continue
        person_id = int(more["person_id"])
        item = {
            **row, "person_id": person_id, "grids": grids.get(person_id, []),
            "revoked": row["status"] == "revoked",
            "app_version": more["app_version"], "protocol_level": more["protocol_level"],
            "channel": more["update_channel"],
            "pending_ops": _int(more["pending_ops"]),
            "photos_waiting": _int(more["photos_waiting"]),
            "photo_bytes": _int(more["photo_bytes"]),
            "secret_store": more["secret_store"], "status_reported_at": more["status_at"],
            "audit_state": _audit_state(row),
        }
        out.append({key: item[key] for key in FIELDS})
    return out


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# -- the table for people ------------------------------------------------------------------

UNKNOWN = "unknown"
# (Chinese heading, English heading) per column of ``central devices``
COLUMNS = (("设备", "device"), ("名称", "name"), ("人员", "person"), ("网格", "grids"),
           ("版本", "version"), ("渠道", "channel"), ("最近联系", "last contact"),
           ("待传记录", "ops"), ("待传照片", "photos"), ("审计日志", "audit log"),
           ("错误PIN", "wrong PINs"), ("密钥存储", "secret"), ("状态", "status"))


def human_bytes(value: int) -> str:
    """1536 -> ``1.5 KB``: what IT reads at a glance."""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _short_time(value: Any) -> str:
    """``2026-12-03T23:10:05.123456Z`` -> ``2026-12-03 23:10Z``."""
    if not value:
        return "never"
    text = str(value)
    return f"{text[:10]} {text[11:16]}Z" if len(text) >= 16 else text


def one_line(value: Any) -> str:
    """``value`` as text on one line: a line break or tab a device put in its name is
    shown as ``\\n``/``\\t``, never as a row of its own (``central`` escapes the rest)."""
    return str(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def table_row(row: Mapping[str, Any]) -> list[str]:
    """A device's cells in :data:`COLUMNS` order."""
    def known(value: Any) -> str:
        return UNKNOWN if value is None else str(value)

    photos = UNKNOWN
    if row["photos_waiting"] is not None and row["photo_bytes"] is not None:
        photos = (f"{row['photos_waiting']} ({human_bytes(row['photo_bytes'])})"
                  if row["photos_waiting"] else "0")
    audit = {"never": "never anchored", "flagged": f"{row['audit_head']} FLAGGED",
             "ok": f"{row['audit_head']} ok"}[row["audit_state"]]
    status = row["status"]
    if row["revoked"] and row["upload_until"]:
        status += f" (uploading until {_short_time(row['upload_until'])})"
    return [one_line(row["device_id"]), one_line(row["name"]),
            one_line(f"{row['person']} ({row['role']})"),
            ",".join(str(g) for g in row["grids"]) or "-", known(row["app_version"]),
            known(row["channel"]), _short_time(row["last_contact"]),
            known(row["pending_ops"]), photos, audit, known(row["pin_failures_total"]),
            known(row["secret_store"]), status]


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def render_table(rows: list[Mapping[str, Any]]) -> str:
    """The devices as an aligned table, Chinese headings over English ones, then each
    flagged device's open flags (``FLAG <verdict> at <time>: <detail>``)."""
    lines = [[zh for zh, _ in COLUMNS], [en for _, en in COLUMNS],
             *(table_row(r) for r in rows)]
    widths = [max(width(line[i]) for line in lines) for i in range(len(COLUMNS))]
    out = ["  ".join(cell + " " * (widths[i] - width(cell)) for i, cell in enumerate(line))
           .rstrip() for line in lines]
    for r in rows:
        for flag in r["flags"]:
            out.append(one_line(f"{r['device_id']} FLAG {flag['verdict']} at "
                                f"{flag['received_at']}: {flag['detail']}"))
    return "\n".join(out) + "\n"
