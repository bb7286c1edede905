"""Append-only, hash-chained audit log inside the encrypted database.

Each entry's hash covers its content and the previous entry's hash, so editing,
deleting or reordering any entry breaks every hash after it. Triggers refuse
UPDATE and DELETE; the chain catches whoever goes around them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

GENESIS = "0" * 64

# Actions recorded; the UI shows them translated.
UNLOCK = "unlock"
PIN_FAILED = "pin_failed"
PIN_CHANGED = "pin_changed"
DEVICE_SET_UP = "device_set_up"
RECORD_CREATED = "record_created"
RECORD_UPDATED = "record_updated"
SYNC_ENROLLED = "sync_enrolled"
CONFLICT_RESOLVED = "conflict_resolved"
SENSITIVE_VIEWED = "sensitive_viewed"
EXPORT = "export"
WIPE = "wipe"
LOCK = "lock"


def entry_hash(
    seq: int, ts: float, actor: str, action: str, detail: str, prev_hash: str
) -> str:
    canonical = json.dumps(
        [seq, repr(float(ts)), actor, action, detail, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_broken: int | None = None
    reason: str = ""


class AuditLog:
    def __init__(
        self, db: sqlite_utils.Database, actor: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.actor = actor
        self.clock = clock

    def append(
        self, action: str, detail: dict[str, Any] | None = None, ts: float | None = None
    ) -> int:
        """Add an entry; call inside the caller's transaction when it belongs to one."""
        last = self.db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        row = last.fetchone()
        seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
        ts = self.clock() if ts is None else float(ts)
        detail_text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
        digest = entry_hash(seq, ts, self.actor, action, detail_text, prev)
        self.db.execute(
            "INSERT INTO audit_log (seq, ts, actor, action, detail, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, self.actor, action, detail_text, prev, digest),
        )
        return seq

    def entries(self) -> Iterator[dict[str, Any]]:
        cursor = self.db.execute(
            "SELECT seq, ts, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY seq"
        )
        for seq, ts, actor, action, detail, prev_hash, digest in cursor:
            yield {
                "seq": seq,
                "ts": ts,
                "actor": actor,
                "action": action,
                "detail": json.loads(detail),
                "prev_hash": prev_hash,
                "hash": digest,
            }

    def verify(self) -> Verification:
        prev = GENESIS
        expected_seq = 1
        count = 0
        cursor = self.db.execute(
            "SELECT seq, ts, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY seq"
        )
        for seq, ts, actor, action, detail, prev_hash, digest in cursor:
            count += 1
            if seq != expected_seq:
                return Verification(False, count, expected_seq, "entry missing")
            if prev_hash != prev:
                return Verification(False, count, seq, "previous hash does not match")
            if entry_hash(seq, ts, actor, action, detail, prev_hash) != digest:
                return Verification(False, count, seq, "content does not match its hash")
            prev = digest
            expected_seq += 1
        return Verification(True, count)
