"""An unlocked device: the DEK in memory, the database, blobs and audit log open.

``setup_device`` and ``unlock_device`` are the only ways in; ``Session.close``
(locking) drops the key and closes everything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from fieldclient.errors import SessionLocked
from fieldclient.ids import new_id
from fieldclient.paths import DataPaths
from fieldclient.security import audit, crypto
from fieldclient.security.audit import AuditLog
from fieldclient.security.blobs import BlobStore
from fieldclient.security.keystore import SecretStore
from fieldclient.security.vault import UnlockResult, Vault
from fieldclient.storage.migrations import LATEST_VERSION
from fieldclient.storage.store import open_database, schema_version

# Record kind -> table, for status screens ("records by kind").
RECORD_TABLES = {
    "household": "households",
    "member": "members",
    "patrol": "patrols",
    "checklist_result": "checklist_results",
    "track": "tracks",
    "photo": "photos",
    "event": "events",
    "visit": "visits",
}


class Session:
    def __init__(
        self,
        data_dir: Path,
        unlocked: UnlockResult,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.paths = DataPaths(Path(data_dir))
        self.device_id = unlocked.device_id
        # The PIN used to unlock is shorter than IT's policy: the UI asks for a new one
        # (set by fieldclient.fieldwork.pinpolicy, which knows the policy).
        self.pin_change_required = False
        self.clock = clock
        self._dek: bytearray | None = unlocked.dek
        try:
            self.db: sqlite_utils.Database = open_database(
                self.paths.database, unlocked.dek, self.paths.backups
            )
        except BaseException:
            crypto.wipe(unlocked.dek)  # a failed open must not leave the key behind
            self._dek = None
            raise
        self.blobs = BlobStore(self.paths.blobs, unlocked.dek)
        self._audit_key = crypto.subkey_into(unlocked.dek, audit.KEY_PURPOSE)
        self.audit = AuditLog(self.db, actor=f"device:{self.device_id}", clock=clock,
                              key=self._audit_key)

    @property
    def is_open(self) -> bool:
        return self._dek is not None

    def close(self) -> None:
        """Lock: forget the key material and close the database."""
        if self._dek is None:
            return
        crypto.wipe(self._dek)
        crypto.wipe(self._audit_key)
        self._dek = None
        self.blobs.close()
        self.db.conn.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- facts for status screens ----------------------------------------
    def schema_version(self) -> int:
        return schema_version(self.db)

    def records_by_kind(self) -> dict[str, int]:
        return {
            kind: int(self.db.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0])
            for kind, table in RECORD_TABLES.items()
        }

    def pending_uploads(self) -> int:
        row = self.db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()
        return int(row[0])

    # -- writes ------------------------------------------------------------
    def enqueue(self, kind: str, record_id: str, payload: dict[str, Any]) -> str:
        """Add an outbox entry; call inside the transaction that made the change."""
        op_id = new_id()
        self.db.execute(
            "INSERT INTO outbox (op_id, kind, record_id, payload, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (op_id, kind, record_id, json.dumps(payload, ensure_ascii=False), self.clock()),
        )
        return op_id

    def fork(self) -> Session:
        """A second connection to the same encrypted database, with its own key copy.

        For work on another thread (a sync run) that must not share this session's
        transactions. Closing either one wipes only its own copy of the key.
        """
        if self._dek is None:
            raise SessionLocked()
        copy = UnlockResult(dek=bytearray(self._dek), device_id=self.device_id)
        return Session(self.paths.root, copy, self.clock)

    def recovery_code(self, nonce: str) -> str:
        """The recovery code of the vault's share ``nonce``, to escrow at the centre."""
        from fieldclient.security import recovery

        if self._dek is None:
            raise SessionLocked()
        secret = recovery.secret_for(self._dek, nonce)
        try:
            return recovery.format_code(secret)
        finally:
            crypto.wipe(secret)

    def change_pin(self, old_pin: str, new_pin: str) -> None:
        """Change the PIN of the unlocked device and record it in the audit log now
        (IT's policy on its length: :mod:`fieldclient.fieldwork.pinpolicy`)."""
        events = Vault(self.paths.root, self.clock).change_pin(
            old_pin, new_pin, keep_for_audit=False
        )
        with self.db.conn:
            for event in events:
                self.audit.append(event["action"], event.get("detail"), ts=event["ts"])

    def record_export(self, what: str, destination: str, count: int) -> None:
        with self.db.conn:
            self.audit.append(audit.EXPORT, {"what": what, "to": destination, "count": count})


def _open_session(
    data_dir: Path, result: UnlockResult, action: str, clock: Callable[[], float]
) -> Session:
    session = Session(data_dir, result, clock)
    try:
        with session.db.conn:
            if result.previous_erase:
                erased_at = result.previous_erase.get("erased_at")
                session.audit.append(audit.WIPE, result.previous_erase, ts=erased_at)
            for event in result.pending_audit:
                session.audit.append(event["action"], event.get("detail"), ts=event["ts"])
            session.audit.append(action, {"schema": LATEST_VERSION})
    except BaseException:
        session.close()
        raise
    return session


def setup_device(
    data_dir: Path,
    pin: str,
    store: SecretStore | None = None,
    clock: Callable[[], float] = time.time,
) -> Session:
    result = Vault(data_dir, clock).create(pin, store)
    return _open_session(data_dir, result, audit.DEVICE_SET_UP, clock)


def reset_pin_device(data_dir: Path, code: str, new_pin: str,
                     clock: Callable[[], float] = time.time) -> Session:
    """A forgotten PIN replaced with IT's recovery code: the device opens with the new
    PIN set (the reset is in the audit log)."""
    result = Vault(data_dir, clock).reset_pin(code, new_pin)
    return _open_session(data_dir, result, audit.UNLOCK, clock)


def unlock_device(data_dir: Path, pin: str, clock: Callable[[], float] = time.time) -> Session:
    """Unlock with ``pin``. A full disk says so (:class:`StorageFull`): the vault
    counts a try on disk before checking it, so with no room it tries nothing (no
    guess goes uncounted) and nothing is lost."""
    from fieldclient.fsutil import storage_full

    try:
        result = Vault(data_dir, clock).unlock(pin)
    except OSError as exc:
        full = storage_full(data_dir, exc)
        if full is None:
            raise
        raise full from exc
    return _open_session(data_dir, result, audit.UNLOCK, clock)
