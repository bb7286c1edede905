"""The device's data key (DEK): made once, kept only wrapped, unwrapped by the PIN.

wrapping key = HKDF(Argon2id(PIN), device secret from the OS keystore).
Wrong PINs are counted in the vault file, so the count survives restarts; after
three, each try must wait longer; after ten, the keys are destroyed (crypto-erase).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldclient.errors import (
    AlreadySetUp,
    DeviceErased,
    InvalidPin,
    KeystoreError,
    NotSetUp,
    PinLockedOut,
    VaultCorrupted,
    WrongPin,
)
from fieldclient.fsutil import atomic_write
from fieldclient.paths import DataPaths
from fieldclient.security import crypto
from fieldclient.security.keystore import SecretStore, choose_store, store_for
from fieldclient.security.vaultstate import (
    MAX_ATTEMPTS,
    delay_after,
    pin_is_well_formed,
    remaining_wait,
)

VAULT_FORMAT = 1


def validate_pin(pin: str) -> None:
    if not pin_is_well_formed(pin):
        raise InvalidPin()


def _check_fields(state: dict[str, Any]) -> None:
    """Raise ValueError if a parsed vault lacks what status/unlock read unguarded.

    Without this a truncated-but-valid JSON file surfaced as a bare KeyError
    instead of :class:`VaultCorrupted`.
    """
    if state.get("state") == "erased":
        return
    if state.get("state") != "active":
        raise ValueError(f"unknown vault state {state.get('state')!r}")
    missing = [k for k in ("device_id", "secret_store", "kdf", "wrapped_dek") if k not in state]
    store = state.get("secret_store")
    if not missing and not (isinstance(store, dict) and "kind" in store and "name" in store):
        missing.append("secret_store.kind/name")
    if missing:
        raise ValueError("missing " + ", ".join(missing))


@dataclass
class UnlockResult:
    dek: bytearray
    device_id: str
    # Events that happened while locked (wrong PINs), for the audit log.
    pending_audit: list[dict[str, Any]] = field(default_factory=list)
    previous_erase: dict[str, Any] | None = None


class Vault:
    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.paths = DataPaths(Path(data_dir))
        self.clock = clock

    # -- state file -------------------------------------------------------
    def _load(self) -> dict[str, Any] | None:
        try:
            raw = self.paths.vault.read_bytes()
        except FileNotFoundError:
            return None
        try:
            state = json.loads(raw)
            if not isinstance(state, dict) or state.get("format") != VAULT_FORMAT:
                raise ValueError("unknown vault format")
            _check_fields(state)
            return state
        except ValueError as exc:
            raise VaultCorrupted(reason=str(exc)) from exc

    def _save(self, state: dict[str, Any]) -> None:
        atomic_write(self.paths.vault, json.dumps(state, indent=1).encode("utf-8"))

    def status(self) -> str:
        """'new', 'active' or 'erased'."""
        state = self._load()
        if state is None:
            return "new"
        return str(state["state"])

    def info(self) -> dict[str, Any]:
        """Non-secret facts for status screens: device id, key store, attempts."""
        state = self._load() or {}
        failures = int(state.get("failed_attempts", 0))
        return {
            "state": state.get("state", "new"),
            "device_id": state.get("device_id"),
            "secret_store": state.get("secret_store", {}).get("kind"),
            "secret_store_name": state.get("secret_store", {}).get("name"),
            "secret_store_is_fallback": state.get("secret_store", {}).get("kind") == "file",
            "failed_attempts": failures,
            "attempts_left": MAX_ATTEMPTS - failures,
            "wait_seconds": max(
                0,
                int(remaining_wait(float(state.get("not_before", 0)), failures, self.clock())
                    + 0.999),
            ),
            "created_at": state.get("created_at"),
            "erased_at": state.get("erased_at"),
        }

    def _store(self, state: dict[str, Any]) -> SecretStore:
        store_info = state["secret_store"]
        return store_for(store_info["kind"], store_info["name"], self.paths.root)

    # -- life cycle -------------------------------------------------------
    def create(self, pin: str, store: SecretStore | None = None) -> UnlockResult:
        """Set the device up: new DEK, new device secret, wrapped under ``pin``."""
        validate_pin(pin)
        previous = self._load()
        if previous is not None and previous.get("state") == "active":
            raise AlreadySetUp()
        self.paths.ensure()
        if previous is not None:  # an erased device being set up again
            self._remove_data()
        store = store or choose_store(self.paths.root)
        device_id = uuid.uuid4().hex
        device_secret = os.urandom(crypto.KEY_BYTES)
        store.put(device_id, device_secret)
        dek = crypto.random_key()
        state: dict[str, Any] = {
            "format": VAULT_FORMAT,
            "state": "active",
            "device_id": device_id,
            "created_at": self.clock(),
            "secret_store": {"kind": store.kind, "name": store.describe()},
            "failed_attempts": 0,
            "not_before": 0,
            "pending_audit": [],
        }
        self._wrap_into(state, dek, pin, device_secret)
        self._save(state)
        erase_info = None
        if previous is not None and previous.get("state") == "erased":
            erase_info = {k: previous.get(k) for k in ("erased_at", "erase_reason")}
        return UnlockResult(dek=dek, device_id=device_id, previous_erase=erase_info)

    def _wrap_into(
        self, state: dict[str, Any], dek: bytearray, pin: str, device_secret: bytes
    ) -> None:
        params = crypto.KdfParams.fresh()
        kek = crypto.derive_wrapping_key(pin, device_secret, params)
        state["kdf"] = params.to_json()
        try:
            state["wrapped_dek"] = crypto.seal(kek, dek, self._aad(state)).hex()
        finally:
            crypto.wipe_bytes(kek)

    @staticmethod
    def _aad(state: dict[str, Any]) -> bytes:
        return b"gridfield dek v1|" + str(state["device_id"]).encode("ascii")

    def _active_state(self) -> dict[str, Any]:
        state = self._load()
        if state is None:
            raise NotSetUp()
        if state.get("state") == "erased":
            raise DeviceErased()
        return state

    def unlock(self, pin: str) -> UnlockResult:
        """Unwrap the DEK, counting a wrong PIN; the tenth in a row erases the device."""
        state = self._active_state()
        failures = int(state.get("failed_attempts", 0))
        wait = float(state.get("not_before", 0)) - self.clock()
        if wait > delay_after(failures):
            # The clock went back (dead RTC battery, manual change): restart the
            # delay from now instead of locking the worker out for days or years.
            wait = delay_after(failures)
            state["not_before"] = self.clock() + wait
            self._save(state)
        if wait > 0:
            raise PinLockedOut(
                wait_seconds=int(wait + 0.999), attempts_left=MAX_ATTEMPTS - failures
            )
        validate_pin(pin)
        device_secret = self._store(state).get(state["device_id"])
        if device_secret is None:
            missing_from = state["secret_store"]["name"]
            raise KeystoreError(reason=f"device secret missing from {missing_from}")
        kek = b""
        try:
            kek = crypto.derive_wrapping_key(
                pin, device_secret, crypto.KdfParams.from_json(state["kdf"])
            )
            dek = crypto.open_sealed_into(
                kek, bytes.fromhex(state["wrapped_dek"]), self._aad(state)
            )
        except crypto.InvalidTag:
            return self._count_failure(state, failures + 1)
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultCorrupted(reason=str(exc)) from exc
        finally:  # the DEK is in a bytearray the session wipes; nothing else stays
            crypto.wipe_bytes(kek)
        pending = list(state.get("pending_audit", []))
        if failures or pending:
            state.update(failed_attempts=0, not_before=0, pending_audit=[])
            self._save(state)
        return UnlockResult(dek=dek, device_id=state["device_id"], pending_audit=pending)

    def _count_failure(self, state: dict[str, Any], failures: int) -> UnlockResult:
        now = self.clock()
        pending = state.setdefault("pending_audit", [])
        pending.append({"ts": now, "action": "pin_failed", "detail": {"attempt": failures}})
        if failures >= MAX_ATTEMPTS:
            self.erase("too_many_wrong_pins")
            raise DeviceErased()
        wait = delay_after(failures)
        state.update(failed_attempts=failures, not_before=now + wait if wait else 0)
        self._save(state)
        raise WrongPin(attempts_left=MAX_ATTEMPTS - failures, wait_seconds=wait)

    def change_pin(
        self, old_pin: str, new_pin: str, keep_for_audit: bool = True
    ) -> list[dict[str, Any]]:
        """Re-wrap the same DEK under a new PIN; the data itself is untouched.

        Returns the audit events (earlier wrong PINs, the change). With
        ``keep_for_audit`` they are also kept for the next unlock to record, for
        callers (the CLI) that have no open database to write them to.
        """
        validate_pin(new_pin)
        result = self.unlock(old_pin)
        state = self._active_state()
        device_secret = self._store(state).get(state["device_id"])
        if device_secret is None:
            raise KeystoreError(reason="device secret missing")
        self._wrap_into(state, result.dek, new_pin, device_secret)
        events = [*result.pending_audit, {"ts": self.clock(), "action": "pin_changed",
                                          "detail": {}}]
        if keep_for_audit:
            state.setdefault("pending_audit", []).extend(events)
        self._save(state)
        crypto.wipe(result.dek)
        return events

    def erase(self, reason: str) -> None:
        """Crypto-erase: destroy the wrapped DEK and the device secret, then the data."""
        state = self._load()
        if state is None or state.get("state") == "erased":
            return
        try:
            self._store(state).delete(state["device_id"])
        except KeystoreError:
            pass  # the wrapped DEK goes below; without it the secret is useless
        erased = {
            "format": VAULT_FORMAT,
            "state": "erased",
            "device_id": state.get("device_id"),
            "erased_at": self.clock(),
            "erase_reason": reason,
        }
        self._save(erased)
        self._remove_data()

    def _remove_data(self) -> None:
        """Delete the (now undecryptable) database, blobs and backups to free space."""
        for path in (self.paths.blobs, self.paths.backups):
            shutil.rmtree(path, ignore_errors=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(self.paths.database) + suffix).unlink(missing_ok=True)
