"""The device's data key (DEK): made once, kept only wrapped, unwrapped by the PIN.

wrapping key = HKDF(Argon2id(PIN), device secret). Where the device secret lives
(:mod:`fieldclient.security.keystore`) decides how far the wrong-PIN limit holds:

* **TPM 2.0** (:mod:`fieldclient.security.tpm`): the secret is sealed in the TPM under
  a KDF of the PIN, with the TPM's dictionary-attack protection. Wrong PINs in a row
  and since set-up are read from a TPM NV counter and a baseline only a successful
  unlock can move, so editing or restoring vault.json gives no tries back; the erase
  evicts the secret from the TPM, so a restored copy of the data directory cannot be
  unlocked; delays are timed by the TPM's own clock.
* **keyring**: the count is kept in vault.json and, as a copy, in the keyring; the
  larger one counts, so a vault.json edit alone resets nothing. Someone who can also
  write the keyring (the logged-in user) can reset it.
* **file**: the count is only in vault.json; a copy of the data directory holds the
  secret too and allows offline guessing at the Argon2id cost (README).

After three wrong PINs in a row each try must wait longer; after ten, the keys are
destroyed (crypto-erase). Without a TPM the waits are timed by the boot clock
(``CLOCK_BOOTTIME``, with the kernel's boot id), not the wall clock: moving the clock
changes nothing, and after a reboot the current delay starts again in full (the boot
clock restarts from zero, so there is no way to tell how much of it had run).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from fieldclient.errors import (
    AlreadySetUp,
    DeviceErased,
    InvalidPin,
    KeystoreError,
    NotSetUp,
    PinLockedOut,
    RecoveryCodeInvalid,
    TpmSecretMissing,
    VaultCorrupted,
    WrongPin,
)
from fieldclient.fsutil import atomic_write
from fieldclient.paths import DataPaths
from fieldclient.security import crypto, recovery
from fieldclient.security.keystore import SecretStore, choose_store, store_for, tpm_store_for
from fieldclient.security.tpm import (
    TpmAuthFailed,
    TpmHandles,
    TpmLockedOut,
    TpmObjectMissing,
    TpmSecretStore,
    auth_from_stretched,
)
from fieldclient.security.vaultstate import (
    MAX_ATTEMPTS,
    delay_after,
    pin_is_well_formed,
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


BootClock = Callable[[], tuple[str, float]]


def system_boot_clock() -> tuple[str, float]:
    """(this boot's id, seconds since boot) - what the non-TPM delays are timed with."""
    boot_id = "unknown"
    if sys.platform.startswith("linux"):
        try:
            boot_id = Path("/proc/sys/kernel/random/boot_id").read_text("ascii").strip()
        except OSError:
            pass
    clock_id = getattr(time, "CLOCK_BOOTTIME", None)
    seconds = time.clock_gettime(clock_id) if clock_id is not None else time.monotonic()
    return boot_id, seconds


@dataclass
class UnlockResult:
    dek: bytearray
    device_id: str
    # Events that happened while locked (wrong PINs), for the audit log.
    pending_audit: list[dict[str, Any]] = field(default_factory=list)
    previous_erase: dict[str, Any] | None = None


@dataclass
class _Counts:
    in_a_row: int
    total: int


class Vault:
    def __init__(
        self,
        data_dir: Path,
        clock: Callable[[], float] = time.time,
        boot_clock: BootClock | None = None,
    ) -> None:
        self.paths = DataPaths(Path(data_dir))
        self.clock = clock
        if boot_clock is None:
            # A test's fake wall clock also stands for the boot clock, so tests that
            # wait out a delay move one clock; the real default is the boot clock.
            boot_clock = system_boot_clock if clock is time.time else (
                lambda: ("wall-clock", clock()))
        self.boot_clock = boot_clock

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
        """Non-secret facts for status screens: device id, key store, attempts.

        ``pin_failures_total`` counts wrong PINs since set-up; with a TPM it comes from
        the TPM's NV counter, with a keyring from its copy, else from vault.json. A
        reset of vault.json does not lower it (except with the file store).
        """
        state = self._load() or {}
        store_info = state.get("secret_store", {})
        kind = store_info.get("kind")
        counts = _Counts(*self._json_counts(state))
        wait = 0.0
        if state.get("state") == "active":
            try:
                counts, now = self._counts_and_now(state)
                wait = self._wait_left(state, counts.in_a_row, now, save=False)
            except KeystoreError:
                pass  # unlock will say why; the status screen still shows the rest
        return {
            "state": state.get("state", "new"),
            "device_id": state.get("device_id"),
            "secret_store": kind,
            "secret_store_name": store_info.get("name"),
            "secret_store_is_fallback": kind == "file",
            # Without a TPM, a copy of the data (and keyring) allows offline guessing.
            "offline_guessing_possible": kind in ("file", "keyring"),
            "failed_attempts": counts.in_a_row,
            "attempts_left": max(0, MAX_ATTEMPTS - counts.in_a_row),
            "pin_failures_total": counts.total,
            "wait_seconds": max(0, int(wait + 0.999)),
            "created_at": state.get("created_at"),
            "erased_at": state.get("erased_at"),
        }

    def store_kind(self) -> str | None:
        """Which store keeps the device secret (``tpm``, ``keyring``, ``file``) as
        vault.json records it: no store is asked, so a sync may report it every time."""
        store_info = (self._load() or {}).get("secret_store")
        kind = store_info.get("kind") if isinstance(store_info, dict) else None
        return kind if isinstance(kind, str) else None

    def _store(self, state: dict[str, Any]) -> SecretStore:
        store_info = state["secret_store"]
        return store_for(store_info["kind"], store_info["name"], self.paths.root)

    @staticmethod
    def _is_tpm(state: dict[str, Any]) -> bool:
        return bool(state["secret_store"]["kind"] == "tpm")

    def _tpm(self, state: dict[str, Any]) -> tuple[TpmSecretStore, TpmHandles]:
        store_info = state["secret_store"]
        try:
            handles = TpmHandles.from_json(store_info["tpm"])
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultCorrupted(reason=f"TPM handles: {exc}") from exc
        return tpm_store_for(store_info["name"]), handles

    # -- counting and waiting ----------------------------------------------------------
    @staticmethod
    def _json_counts(state: dict[str, Any]) -> tuple[int, int]:
        try:
            in_a_row = max(0, int(state.get("failed_attempts", 0)))
            total = max(in_a_row, int(state.get("pin_failures_total", in_a_row)))
        except (TypeError, ValueError):
            return 0, 0
        return in_a_row, total

    def _counts_and_now(self, state: dict[str, Any]) -> tuple[_Counts, tuple[str, float]]:
        """Wrong PINs (in a row, since set-up) from where a file edit cannot reach, and
        the clock the delays are timed with."""
        if self._is_tpm(state):
            tpm, handles = self._tpm(state)
            try:
                count = tpm.count(handles)
            except TpmObjectMissing as exc:
                raise TpmSecretMissing() from exc
            tpm_now = tpm.now()
            return _Counts(count.in_a_row, count.total), ("tpm:" + tpm_now.epoch,
                                                          tpm_now.ms / 1000)
        in_a_row, total = self._json_counts(state)
        copy = self._store(state).get_failures(state["device_id"])
        if copy is not None:  # the keyring's copy: the larger count wins
            in_a_row, total = max(in_a_row, copy[0]), max(total, copy[1])
        return _Counts(in_a_row, max(total, in_a_row)), self.boot_clock()

    def _wait_left(
        self, state: dict[str, Any], failures: int, now: tuple[str, float], save: bool = True
    ) -> float:
        """Seconds before the next try. The delay for ``failures`` runs from the moment
        recorded in vault.json on the same clock epoch (TPM reset or boot); a record that
        is missing, from another epoch, for another count or in the future starts it
        again, in full, now."""
        required = delay_after(failures)
        if required <= 0:
            return 0.0
        epoch, seconds = now
        record = state.get("wait")
        if isinstance(record, dict):
            try:
                same = record.get("epoch") == epoch and int(record["failures"]) == failures
                elapsed = seconds - float(record["since"])
            except (KeyError, TypeError, ValueError):
                same, elapsed = False, -1.0
            if same and elapsed >= 0:
                return max(0.0, required - elapsed)
        if save:
            state["wait"] = {"epoch": epoch, "since": seconds, "failures": failures}
            state["not_before"] = self.clock() + required
            self._save(state)
        return float(required)

    # -- life cycle -------------------------------------------------------
    def create(
        self, pin: str, store: SecretStore | TpmSecretStore | None = None
    ) -> UnlockResult:
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
        device_secret = bytearray(os.urandom(crypto.KEY_BYTES))
        params = crypto.KdfParams.fresh()
        stretched = crypto.stretch_pin(pin, params)
        try:
            store_info: dict[str, Any] = {"kind": store.kind, "name": store.describe()}
            if isinstance(store, TpmSecretStore):
                handles = store.create(device_secret, auth_from_stretched(stretched))
                store_info["tpm"] = handles.to_json()
            else:
                store.put(device_id, bytes(device_secret))
                store.put_failures(device_id, 0, 0)
            dek = crypto.random_key()
            state: dict[str, Any] = {
                "format": VAULT_FORMAT,
                "state": "active",
                "device_id": device_id,
                "created_at": self.clock(),
                "secret_store": store_info,
                "failed_attempts": 0,
                "pin_failures_total": 0,
                "not_before": 0,
                "pending_audit": [],
            }
            self._wrap_into(state, dek, stretched, device_secret, params)
            self._add_recovery(state, dek, device_secret)
        finally:
            crypto.wipe(stretched)
            crypto.wipe(device_secret)
        self._save(state)
        erase_info = None
        if previous is not None and previous.get("state") == "erased":
            erase_info = {k: previous.get(k) for k in ("erased_at", "erase_reason")}
        return UnlockResult(dek=dek, device_id=device_id, previous_erase=erase_info)

    def _wrap_into(
        self,
        state: dict[str, Any],
        dek: bytearray,
        stretched: bytearray,
        device_secret: bytes | bytearray,
        params: crypto.KdfParams,
    ) -> None:
        kek = crypto.wrapping_key_from(stretched, device_secret, params)
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
        result, device_secret = self._open(pin)
        crypto.wipe(device_secret)
        return result

    def _open(self, pin: str) -> tuple[UnlockResult, bytearray]:
        """:meth:`unlock`, also returning the device secret (the caller wipes it)."""
        state = self._active_state()
        counts, now = self._counts_and_now(state)
        if counts.in_a_row >= MAX_ATTEMPTS:  # counted, but the erase did not happen
            self.erase("too_many_wrong_pins")
            raise DeviceErased()
        wait = self._wait_left(state, counts.in_a_row, now)
        if wait > 0:
            raise PinLockedOut(
                wait_seconds=int(wait + 0.999), attempts_left=MAX_ATTEMPTS - counts.in_a_row
            )
        validate_pin(pin)
        tpm = self._tpm(state) if self._is_tpm(state) else None
        store = None if tpm else self._store(state)
        try:
            params = crypto.KdfParams.from_json(state["kdf"])
            wrapped = bytes.fromhex(state["wrapped_dek"])
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultCorrupted(reason=str(exc)) from exc
        stretched = crypto.stretch_pin(pin, params)
        kek = b""
        device_secret = bytearray()
        try:
            if tpm is not None:
                device_secret = self._unseal(tpm, stretched, counts)
            else:
                assert store is not None
                secret = store.get(state["device_id"])
                if secret is None:
                    missing_from = state["secret_store"]["name"]
                    raise KeystoreError(reason=f"device secret missing from {missing_from}")
                device_secret = bytearray(secret)
                crypto.wipe_bytes(secret)
            kek = crypto.wrapping_key_from(stretched, device_secret, params)
            dek = crypto.open_sealed_into(kek, wrapped, self._aad(state))
        except TpmAuthFailed:
            self._count_failure(state, counts, None)
        except crypto.InvalidTag:
            if tpm is not None:  # the TPM accepted the PIN: the file does not match it
                crypto.wipe(device_secret)
                raise VaultCorrupted(reason="wrapped key does not match the TPM") from None
            self._count_failure(state, counts, store)
        except (KeyError, TypeError, ValueError) as exc:
            crypto.wipe(device_secret)
            raise VaultCorrupted(reason=str(exc)) from exc
        finally:  # the DEK is in a bytearray the session wipes; nothing else stays
            crypto.wipe(stretched)
            crypto.wipe_bytes(kek)
        if tpm is not None:
            tpm[0].record_success(tpm[1], device_secret)
        elif store is not None and counts.in_a_row:
            store.put_failures(state["device_id"], 0, counts.total)
        pending = list(state.get("pending_audit", []))
        if "recovery" not in state:  # a vault made before recovery shares
            self._add_recovery(state, dek, device_secret)
            self._save(state)
        if counts.in_a_row or pending or "wait" in state or state.get("failed_attempts"):
            state.pop("wait", None)
            state.update(failed_attempts=0, not_before=0, pending_audit=[],
                         pin_failures_total=counts.total)
            self._save(state)
        result = UnlockResult(dek=dek, device_id=state["device_id"], pending_audit=pending)
        return result, device_secret

    @staticmethod
    def _unseal(
        tpm: tuple[TpmSecretStore, TpmHandles], stretched: bytearray, counts: _Counts
    ) -> bytearray:
        store, handles = tpm
        left = MAX_ATTEMPTS - counts.in_a_row
        locked = store.lockout_wait()
        if locked:  # the TPM would refuse without trying the PIN: do not count a try
            raise PinLockedOut(wait_seconds=locked, attempts_left=left)
        try:
            return store.unseal(handles, auth_from_stretched(stretched))
        except TpmLockedOut as exc:
            raise PinLockedOut(wait_seconds=exc.wait_seconds, attempts_left=left - 1) from exc
        except TpmObjectMissing as exc:
            raise TpmSecretMissing() from exc

    def _count_failure(
        self, state: dict[str, Any], counts: _Counts, store: SecretStore | None
    ) -> NoReturn:
        in_a_row, total = counts.in_a_row + 1, counts.total + 1
        now = self.clock()
        pending = state.setdefault("pending_audit", [])
        pending.append({"ts": now, "action": "pin_failed", "detail": {"attempt": in_a_row}})
        state.update(failed_attempts=in_a_row, pin_failures_total=total)
        if store is not None:
            store.put_failures(state["device_id"], in_a_row, total)
        if in_a_row >= MAX_ATTEMPTS:
            self.erase("too_many_wrong_pins")
            raise DeviceErased()
        wait = delay_after(in_a_row)
        state.pop("wait", None)
        if wait:
            epoch, seconds = self._now_for(state)
            state["wait"] = {"epoch": epoch, "since": seconds, "failures": in_a_row}
        state["not_before"] = now + wait if wait else 0
        self._save(state)
        raise WrongPin(attempts_left=MAX_ATTEMPTS - in_a_row, wait_seconds=wait)

    def _now_for(self, state: dict[str, Any]) -> tuple[str, float]:
        if self._is_tpm(state):
            tpm_now = self._tpm(state)[0].now()
            return "tpm:" + tpm_now.epoch, tpm_now.ms / 1000
        return self.boot_clock()

    def change_pin(
        self, old_pin: str, new_pin: str, keep_for_audit: bool = True
    ) -> list[dict[str, Any]]:
        """Re-wrap the same DEK under a new PIN; the data itself is untouched.

        Returns the audit events (earlier wrong PINs, the change). With
        ``keep_for_audit`` they are also kept for the next unlock to record, for
        callers (the CLI) that have no open database to write them to.
        """
        validate_pin(new_pin)
        result, device_secret = self._open(old_pin)
        try:
            state = self._active_state()
            params = crypto.KdfParams.fresh()
            stretched = crypto.stretch_pin(new_pin, params)
            try:
                old_sealed = None
                if self._is_tpm(state):
                    tpm, handles = self._tpm(state)
                    new_handles = tpm.reseal(handles, device_secret,
                                             auth_from_stretched(stretched))
                    state["secret_store"]["tpm"] = new_handles.to_json()
                    old_sealed = (tpm, handles.sealed)
                self._wrap_into(state, result.dek, stretched, device_secret, params)
            finally:
                crypto.wipe(stretched)
        finally:
            crypto.wipe(device_secret)
        events = [*result.pending_audit, {"ts": self.clock(), "action": "pin_changed",
                                          "detail": {}}]
        if keep_for_audit:
            state.setdefault("pending_audit", []).extend(events)
        self._save(state)
        if old_sealed is not None:  # only once the new handle is on disk
            old_sealed[0].drop_sealed(old_sealed[1])
        crypto.wipe(result.dek)
        return events

    # -- the recovery share (fieldclient.security.recovery) -----------------------
    def _add_recovery(self, state: dict[str, Any], dek: bytearray,
                      device_secret: bytes | bytearray) -> None:
        """A new recovery wrapping of the DEK and device secret (not yet escrowed)."""
        nonce = recovery.new_nonce()
        secret = recovery.secret_for(dek, nonce)
        key = recovery.wrapping_key(secret, nonce)
        both = bytearray(dek) + bytearray(device_secret)
        try:
            sealed = crypto.seal(key, both, self._recovery_aad(state, nonce))
        finally:
            crypto.wipe(both)
            crypto.wipe(key)
            crypto.wipe(secret)
        state["recovery"] = {"nonce": nonce, "wrapped": sealed.hex(), "escrowed": False}

    @staticmethod
    def _recovery_aad(state: dict[str, Any], nonce: str) -> bytes:
        return b"gridfield recovery v1|" + str(state["device_id"]).encode("ascii") + \
            b"|" + nonce.encode("ascii")

    def recovery_to_escrow(self) -> str | None:
        """The nonce of a recovery share the centre does not hold yet (None: it does)."""
        state = self._load() or {}
        share = state.get("recovery")
        if state.get("state") != "active" or not isinstance(share, dict) \
                or share.get("escrowed"):
            return None
        nonce = share.get("nonce")
        return nonce if isinstance(nonce, str) else None

    def mark_escrowed(self, nonce: str) -> None:
        """The centre keeps the share for ``nonce`` (after its answer, never before)."""
        state = self._load() or {}
        share = state.get("recovery")
        if isinstance(share, dict) and share.get("nonce") == nonce:
            share["escrowed"] = True
            self._save(state)

    def reset_pin(self, code: str, new_pin: str) -> UnlockResult:
        """IT's recovery code sets a new PIN: the data stays, the tries come back, the
        code is used up (a new share waits for the next sync). Raises
        :class:`RecoveryCodeInvalid` for a wrong code (not counted: it cannot be
        guessed, and a typo must not bring the device closer to its erase)."""
        validate_pin(new_pin)
        state = self._active_state()
        share = state.get("recovery")
        secret = recovery.parse_code(code)
        if not isinstance(share, dict) or not share.get("escrowed") or secret is None:
            raise RecoveryCodeInvalid()
        nonce = str(share.get("nonce"))
        key = recovery.wrapping_key(secret, nonce)
        try:
            both = crypto.open_sealed_into(key, bytes.fromhex(str(share.get("wrapped"))),
                                           self._recovery_aad(state, nonce))
        except (crypto.InvalidTag, ValueError):
            raise RecoveryCodeInvalid() from None
        finally:
            crypto.wipe(key)
        dek = bytearray(both[:crypto.KEY_BYTES])
        device_secret = bytearray(both[crypto.KEY_BYTES:])
        crypto.wipe(both)
        old_sealed = None
        try:
            counts, _now = self._counts_and_now(state)
            params = crypto.KdfParams.fresh()
            stretched = crypto.stretch_pin(new_pin, params)
            try:
                if self._is_tpm(state):
                    tpm, handles = self._tpm(state)
                    auth = auth_from_stretched(stretched)
                    new_handles = tpm.reseal(handles, device_secret, auth)
                    state["secret_store"]["tpm"] = new_handles.to_json()
                    old_sealed = (tpm, handles.sealed)
                    # one real unlock with the new PIN (counted like any, then the
                    # baseline moves): the new seal is proven before vault.json names it
                    crypto.wipe(tpm.unseal(new_handles, auth))
                    tpm.record_success(new_handles, device_secret)
                else:
                    store = self._store(state)
                    if store.get(state["device_id"]) is None:
                        store.put(state["device_id"], bytes(device_secret))
                    store.put_failures(state["device_id"], 0, counts.total)
                self._wrap_into(state, dek, stretched, device_secret, params)
                self._add_recovery(state, dek, device_secret)  # this code is used up
            finally:
                crypto.wipe(stretched)
        except BaseException:
            crypto.wipe(dek)
            raise
        finally:
            crypto.wipe(device_secret)
        pending = [*state.get("pending_audit", []), {
            "ts": self.clock(), "action": "pin_reset",
            "detail": {"by": "recovery_code", "wrong_pins_before": counts.in_a_row}}]
        state.pop("wait", None)
        state.update(failed_attempts=0, not_before=0, pending_audit=[],
                     pin_failures_total=counts.total)
        self._save(state)
        if old_sealed is not None:  # only once the new handle is on disk
            old_sealed[0].drop_sealed(old_sealed[1])
        return UnlockResult(dek=dek, device_id=state["device_id"], pending_audit=pending)

    def erase(self, reason: str) -> None:
        """Crypto-erase: destroy the wrapped DEK and the device secret, then the data."""
        state = self._load()
        if state is None or state.get("state") == "erased":
            return
        try:
            if self._is_tpm(state):
                tpm, handles = self._tpm(state)
                tpm.destroy(handles)
            else:
                self._store(state).delete(state["device_id"])
        except (KeystoreError, VaultCorrupted):
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
