"""Append-only, hash-chained audit log inside the encrypted database.

Each entry's hash covers its content and the previous entry's hash, so editing,
deleting or reordering any entry breaks every hash after it. Triggers refuse
UPDATE and DELETE; the chain catches whoever goes around them.

The hashes are keyed (HMAC-SHA256 with a key derived from the device's data key):
recomputing a rewritten chain needs that key, not just write access to the file.
Logs begun before keying keep their plain SHA-256 entries up to ``audit.keyed_from``
(in ``meta``), and every entry from there on is keyed. Whoever holds the key (a worker
who knows the PIN) could still rewrite the chain on the tablet, so each sync sends the
chain's head to the centre, which keeps it and flags a chain that shrank or forked
(``sync.protocol``, "audit anchoring").
"""

from __future__ import annotations

import hashlib
import hmac
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
PIN_RESET = "pin_reset"  # a forgotten PIN replaced with IT's recovery code
DEVICE_SET_UP = "device_set_up"
RECORD_CREATED = "record_created"
RECORD_UPDATED = "record_updated"
SYNC_ENROLLED = "sync_enrolled"
CONFLICT_RESOLVED = "conflict_resolved"
SENSITIVE_VIEWED = "sensitive_viewed"
EXPORT = "export"
PHOTOS_FREED = "photos_freed"  # full JPEGs the centre holds, deleted here for space
WIPE = "wipe"
LOCK = "lock"


KEY_PURPOSE = b"gridfield audit v1"
KEYED_FROM = "audit.keyed_from"  # meta: the first entry hashed with the key


def entry_hash(
    seq: int, ts: float, actor: str, action: str, detail: str, prev_hash: str,
    key: bytes | bytearray | None = None,
) -> str:
    canonical = json.dumps(
        [seq, repr(float(ts)), actor, action, detail, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    if key is None:
        return hashlib.sha256(canonical).hexdigest()
    return hmac.new(key, canonical, "sha256").hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_broken: int | None = None
    reason: str = ""


class AuditLog:
    """The log of one device. With ``key`` (the session's, wiped by it on lock) new
    entries are keyed; without one (tests of the chain itself) they are plain SHA-256."""

    def __init__(
        self, db: sqlite_utils.Database, actor: str, clock: Callable[[], float] = time.time,
        key: bytearray | None = None,
    ) -> None:
        self.db = db
        self.actor = actor
        self.clock = clock
        self.key = key
        self._keyed_from: int | None = None

    def _keyed_from_seq(self) -> int | None:
        """The first keyed entry's seq (None: the log is not keyed)."""
        if self._keyed_from is None:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?",
                                  (KEYED_FROM,)).fetchone()
            if row is not None:
                self._keyed_from = int(row[0])
        return self._keyed_from

    def _key_for(self, seq: int) -> bytearray | None:
        keyed_from = self._keyed_from_seq()
        if keyed_from is None or seq < keyed_from:
            return None
        if self.key is None:
            raise ValueError("this audit log is keyed: open it with its key")
        return self.key

    def append(
        self, action: str, detail: dict[str, Any] | None = None, ts: float | None = None
    ) -> int:
        """Add an entry; call inside the caller's transaction when it belongs to one."""
        last = self.db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        row = last.fetchone()
        seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
        if self.key is not None and self._keyed_from_seq() is None:
            self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (KEYED_FROM, str(seq)))
            self._keyed_from = seq
        ts = self.clock() if ts is None else float(ts)
        detail_text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
        digest = entry_hash(seq, ts, self.actor, action, detail_text, prev, self._key_for(seq))
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
            try:
                key = self._key_for(seq)
            except ValueError:
                return Verification(False, count, seq, "keyed entry and no key")
            if not hmac.compare_digest(
                    entry_hash(seq, ts, actor, action, detail, prev_hash, key), digest):
                return Verification(False, count, seq, "content does not match its hash")
            prev = digest
            expected_seq += 1
        return Verification(True, count)

    def head(self) -> tuple[int, str]:
        """The last entry's (seq, hash); (0, GENESIS) for an empty log."""
        row = self.db.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def hash_at(self, seq: int) -> str | None:
        """Entry ``seq``'s hash (GENESIS for 0), None when there is no such entry."""
        if seq == 0:
            return GENESIS
        row = self.db.execute("SELECT hash FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else str(row[0])
