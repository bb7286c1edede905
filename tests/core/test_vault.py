"""The vault: DEK wrap/unwrap, wrong-PIN counting, lockout delays, crypto-erase, PIN change.

Tests about counting and state use the ``fast_kdf`` fixture (cheap Argon2id); the
round trip, the PIN change and the ten-wrong-PINs erase run with the real cost.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

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
from fieldclient.fieldwork import households
from fieldclient.paths import DataPaths
from fieldclient.security import keystore
from fieldclient.security.keystore import FileSecretStore, KeyringSecretStore
from fieldclient.security.vault import Vault
from fieldclient.security.vaultstate import (
    BASE_DELAY_SECONDS,
    FREE_ATTEMPTS,
    MAX_ATTEMPTS,
    MAX_DELAY_SECONDS,
    delay_after,
)
from fieldclient.storage import store
from fieldclient.storage.session import setup_device, unlock_device

if TYPE_CHECKING:
    from device_fixtures import FakeClock

PIN = "246810"
NEW_PIN = "135790"
WRONG_PIN = "000000"


def _vault_json(data_dir: Path) -> dict[str, Any]:
    return json.loads((data_dir / "vault.json").read_text("utf-8"))  # type: ignore[no-any-return]


def _fail_once(vault: Vault, clock: FakeClock) -> WrongPin:
    """One wrong PIN after any pending lockout has run out."""
    clock.advance(vault.info()["wait_seconds"])
    with pytest.raises(WrongPin) as info:
        vault.unlock(WRONG_PIN)
    return info.value


# -- set-up and unlock --------------------------------------------------------------


def test_create_then_unlock_returns_the_same_dek(data_dir: Path, clock: FakeClock) -> None:
    vault = Vault(data_dir, clock=clock)
    assert vault.status() == "new"
    created = vault.create(PIN, FileSecretStore(data_dir))
    dek = bytes(created.dek)
    assert len(dek) == 32
    assert vault.status() == "active"

    unlocked = Vault(data_dir, clock=clock).unlock(PIN)  # a fresh object: a restart
    assert bytes(unlocked.dek) == dek
    assert unlocked.device_id == created.device_id

    state = _vault_json(data_dir)
    assert state["device_id"] == created.device_id
    assert state["secret_store"]["kind"] == "file"
    raw = (data_dir / "vault.json").read_bytes()
    assert dek not in raw and dek.hex().encode() not in raw  # only ever stored wrapped
    assert bytes.fromhex(state["wrapped_dek"]) != dek


def test_vault_records_the_production_kdf_cost(data_dir: Path) -> None:
    Vault(data_dir).create(PIN, FileSecretStore(data_dir))
    kdf = _vault_json(data_dir)["kdf"]
    assert (kdf["memory_kib"], kdf["iterations"], kdf["lanes"]) == (64 * 1024, 3, 4)
    assert len(bytes.fromhex(kdf["salt"])) == 16


@pytest.mark.usefixtures("fast_kdf")
def test_create_twice_is_refused(data_dir: Path, clock: FakeClock) -> None:
    vault = Vault(data_dir, clock=clock)
    first = vault.create(PIN, FileSecretStore(data_dir))
    with pytest.raises(AlreadySetUp):
        vault.create(NEW_PIN, FileSecretStore(data_dir))
    assert bytes(vault.unlock(PIN).dek) == bytes(first.dek)


def test_unlock_before_setup(data_dir: Path) -> None:
    with pytest.raises(NotSetUp):
        Vault(data_dir).unlock(PIN)


# -- wrong PINs, lockout --------------------------------------------------------------


@pytest.mark.usefixtures("fast_kdf")
def test_wrong_pin_counts_down_and_survives_restart(data_dir: Path, clock: FakeClock) -> None:
    Vault(data_dir, clock=clock).create(PIN, FileSecretStore(data_dir))

    vault = Vault(data_dir, clock=clock)
    assert _fail_once(vault, clock).attempts_left == MAX_ATTEMPTS - 1
    assert _fail_once(vault, clock).attempts_left == MAX_ATTEMPTS - 2

    restarted = Vault(data_dir, clock=clock)  # the count lives in vault.json
    assert restarted.info()["failed_attempts"] == 2
    third = _fail_once(restarted, clock)
    assert third.attempts_left == MAX_ATTEMPTS - 3
    assert third.wait_seconds == BASE_DELAY_SECONDS  # the delay starts after three
    assert _vault_json(data_dir)["failed_attempts"] == 3


@pytest.mark.usefixtures("fast_kdf")
def test_lockout_delay_grows_and_is_enforced(data_dir: Path, clock: FakeClock) -> None:
    Vault(data_dir, clock=clock).create(PIN, FileSecretStore(data_dir))
    vault = Vault(data_dir, clock=clock)
    for _ in range(FREE_ATTEMPTS - 1):
        assert _fail_once(vault, clock).wait_seconds == 0

    waits = []
    for failures in range(FREE_ATTEMPTS, MAX_ATTEMPTS):
        error = _fail_once(vault, clock)
        assert error.attempts_left == MAX_ATTEMPTS - failures
        waits.append(error.wait_seconds)
        # While waiting every attempt is refused before the PIN is even looked at:
        # not counted, and the right PIN does not get through either.
        for pin in (WRONG_PIN, PIN):
            with pytest.raises(PinLockedOut) as locked:
                Vault(data_dir, clock=clock).unlock(pin)
            assert locked.value.wait_seconds == error.wait_seconds
            assert locked.value.attempts_left == MAX_ATTEMPTS - failures
        clock.advance(error.wait_seconds - 1)
        with pytest.raises(PinLockedOut) as locked:
            vault.unlock(PIN)
        assert locked.value.wait_seconds == 1
        assert vault.info()["failed_attempts"] == failures

    assert waits == [delay_after(n) for n in range(FREE_ATTEMPTS, MAX_ATTEMPTS)]
    assert waits == sorted(waits) and waits[0] == BASE_DELAY_SECONDS
    assert waits[1] > waits[0] and waits[-1] == MAX_DELAY_SECONDS

    clock.advance(1)
    assert vault.info()["wait_seconds"] == 0
    vault.unlock(PIN)  # nine wrong, then right: still alive, counter reset
    assert vault.info()["failed_attempts"] == 0
    assert _fail_once(vault, clock).attempts_left == MAX_ATTEMPTS - 1


@pytest.mark.usefixtures("fast_kdf")
def test_correct_pin_resets_the_counter(data_dir: Path, clock: FakeClock) -> None:
    vault = Vault(data_dir, clock=clock)
    vault.create(PIN, FileSecretStore(data_dir))
    _fail_once(vault, clock)
    _fail_once(vault, clock)
    result = vault.unlock(PIN)
    assert [e["action"] for e in result.pending_audit] == ["pin_failed", "pin_failed"]
    state = _vault_json(data_dir)
    assert state["failed_attempts"] == 0 and state["not_before"] == 0
    assert state["pending_audit"] == []
    assert _fail_once(vault, clock).attempts_left == MAX_ATTEMPTS - 1


@pytest.mark.usefixtures("fast_kdf")
def test_clock_set_back_does_not_lock_out_for_ages(data_dir: Path, clock: FakeClock) -> None:
    vault = Vault(data_dir, clock=clock)
    vault.create(PIN, FileSecretStore(data_dir))
    for _ in range(FREE_ATTEMPTS):
        error = _fail_once(vault, clock)
    assert error.wait_seconds == BASE_DELAY_SECONDS
    clock.advance(-30 * 24 * 3600)  # the tablet's clock jumps back a month
    assert vault.info()["wait_seconds"] == BASE_DELAY_SECONDS
    with pytest.raises(PinLockedOut) as locked:
        vault.unlock(PIN)
    assert locked.value.wait_seconds == BASE_DELAY_SECONDS  # not a month
    clock.advance(BASE_DELAY_SECONDS)
    vault.unlock(PIN)
    assert vault.info()["failed_attempts"] == 0


@pytest.mark.usefixtures("fast_kdf")
def test_files_are_private(data_dir: Path) -> None:
    Vault(data_dir).create(PIN, FileSecretStore(data_dir))
    assert stat.S_IMODE(data_dir.stat().st_mode) & 0o077 == 0
    for name in ("vault.json", keystore.FILE_NAME):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600


def test_delay_schedule() -> None:
    assert [delay_after(n) for n in range(FREE_ATTEMPTS)] == [0] * FREE_ATTEMPTS
    assert delay_after(FREE_ATTEMPTS) == BASE_DELAY_SECONDS
    assert delay_after(FREE_ATTEMPTS + 1) == 2 * BASE_DELAY_SECONDS
    assert delay_after(100) == MAX_DELAY_SECONDS


# -- crypto-erase -------------------------------------------------------------------------


def test_ten_wrong_pins_crypto_erase_then_set_up_again(
    tmp_path: Path, data_dir: Path, clock: FakeClock
) -> None:
    paths = DataPaths(data_dir)
    with setup_device(data_dir, PIN, store=FileSecretStore(data_dir), clock=clock) as s:
        households.create_household(s, "张三", "幸福路1号")
        s.blobs.put(b"photo")
        store.backup(s.db, paths.database, paths.backups, "manual")
        device_id = s.device_id
    secret_file = data_dir / keystore.FILE_NAME
    secret_before = secret_file.read_bytes()
    peek = tmp_path / "peek"  # a second name for the secret file's inode
    os.link(secret_file, peek)
    assert paths.database.exists() and any(paths.blobs.rglob("*")) and any(paths.backups.iterdir())

    vault = Vault(data_dir, clock=clock)
    for attempt in range(1, MAX_ATTEMPTS):
        assert _fail_once(vault, clock).attempts_left == MAX_ATTEMPTS - attempt
    clock.advance(vault.info()["wait_seconds"])
    erased_at = clock()
    with pytest.raises(DeviceErased):
        vault.unlock(WRONG_PIN)

    assert vault.status() == "erased"
    assert vault.info()["state"] == "erased"
    state = _vault_json(data_dir)
    assert state["state"] == "erased"
    assert state["erase_reason"] == "too_many_wrong_pins"
    assert "wrapped_dek" not in state and "kdf" not in state
    assert not secret_file.exists()
    assert peek.read_bytes() != secret_before  # overwritten before unlinking
    for suffix in ("", "-wal", "-shm", "-journal"):
        assert not Path(f"{paths.database}{suffix}").exists()
    assert not paths.blobs.exists() and not paths.backups.exists()
    for pin in (PIN, WRONG_PIN):  # nothing left to unlock, not even with the right PIN
        with pytest.raises(DeviceErased):
            Vault(data_dir, clock=clock).unlock(pin)

    clock.advance(60)
    with setup_device(data_dir, NEW_PIN, store=FileSecretStore(data_dir), clock=clock) as s:
        entries = list(s.audit.entries())
        assert s.device_id != device_id
        assert s.records_by_kind()["household"] == 0
    assert [e["action"] for e in entries] == ["wipe", "device_set_up"]
    assert entries[0]["ts"] == erased_at
    assert entries[0]["detail"]["erase_reason"] == "too_many_wrong_pins"
    assert Vault(data_dir, clock=clock).status() == "active"
    with unlock_device(data_dir, NEW_PIN, clock=clock) as s:
        assert s.audit.verify().ok


@pytest.mark.usefixtures("fast_kdf")
def test_explicit_erase_and_erase_of_a_new_device(data_dir: Path, clock: FakeClock) -> None:
    vault = Vault(data_dir, clock=clock)
    vault.erase("remote")  # nothing set up: nothing to do
    assert vault.status() == "new"
    vault.create(PIN, FileSecretStore(data_dir))
    vault.erase("remote")
    assert _vault_json(data_dir)["erase_reason"] == "remote"
    vault.erase("again")  # idempotent: the first reason stays
    assert _vault_json(data_dir)["erase_reason"] == "remote"
    with pytest.raises(DeviceErased):
        vault.unlock(PIN)


# -- PIN change ------------------------------------------------------------------------------


def test_change_pin_rewraps_only_the_dek(data_dir: Path, clock: FakeClock) -> None:
    paths = DataPaths(data_dir)
    with setup_device(data_dir, PIN, store=FileSecretStore(data_dir), clock=clock) as s:
        household = households.create_household(s, "李四", "和平街2号")
        dek = bytes(s._dek or b"")
    db_digest = hashlib.sha256(paths.database.read_bytes()).hexdigest()
    salt_before = _vault_json(data_dir)["kdf"]["salt"]
    secret_before = (data_dir / keystore.FILE_NAME).read_bytes()

    Vault(data_dir, clock=clock).change_pin(PIN, NEW_PIN)

    assert hashlib.sha256(paths.database.read_bytes()).hexdigest() == db_digest
    assert (data_dir / keystore.FILE_NAME).read_bytes() == secret_before
    assert _vault_json(data_dir)["kdf"]["salt"] != salt_before
    with pytest.raises(WrongPin):
        Vault(data_dir, clock=clock).unlock(PIN)
    with unlock_device(data_dir, NEW_PIN, clock=clock) as s:
        assert bytes(s._dek or b"") == dek
        assert households.get_household(s, household)["head_name"] == "李四"
        actions = [e["action"] for e in s.audit.entries()]
        assert s.audit.verify().ok
    # The PIN change and the old PIN tried afterwards were kept while locked, then drained.
    assert actions == ["device_set_up", "record_created", "pin_changed", "pin_failed", "unlock"]


@pytest.mark.usefixtures("fast_kdf")
def test_change_pin_with_wrong_old_pin_counts(data_dir: Path, clock: FakeClock) -> None:
    vault = Vault(data_dir, clock=clock)
    vault.create(PIN, FileSecretStore(data_dir))
    with pytest.raises(WrongPin):
        vault.change_pin(WRONG_PIN, NEW_PIN)
    assert vault.info()["failed_attempts"] == 1
    with pytest.raises(InvalidPin):
        vault.change_pin(PIN, "12")
    assert vault.info()["failed_attempts"] == 1
    vault.unlock(PIN)


# -- invalid PINs ------------------------------------------------------------------------------

BAD_PINS = ["", "12345", "abcdef", "12345a", "123 456", "１２３４５６", "١٢٣٤٥٦", "12345\n"]


@pytest.mark.parametrize("bad", BAD_PINS)
def test_invalid_pin_rejected_at_setup(data_dir: Path, bad: str) -> None:
    with pytest.raises(InvalidPin):
        Vault(data_dir).create(bad, FileSecretStore(data_dir))
    assert not (data_dir / "vault.json").exists()


@pytest.mark.usefixtures("fast_kdf")
def test_invalid_pin_at_unlock_is_not_counted(data_dir: Path, clock: FakeClock) -> None:
    vault = Vault(data_dir, clock=clock)
    vault.create(PIN, FileSecretStore(data_dir))
    for bad in BAD_PINS:
        with pytest.raises(InvalidPin):
            vault.unlock(bad)
    assert vault.info()["failed_attempts"] == 0
    assert vault.info()["attempts_left"] == MAX_ATTEMPTS
    assert _vault_json(data_dir)["pending_audit"] == []
    vault.unlock(PIN)


@pytest.mark.usefixtures("fast_kdf")
def test_longer_pins_work(data_dir: Path) -> None:
    vault = Vault(data_dir)
    first = vault.create("0123456789", FileSecretStore(data_dir))
    assert bytes(vault.unlock("0123456789").dek) == bytes(first.dek)


# -- damaged or unavailable key material ----------------------------------------------------------

CORRUPT_VAULTS = [
    b"",
    b"not json",
    b'{"format": 1, "state": "active"',
    b"\xff\xfe\x00garbage",
    b"[]",
    b"null",
    b'{"format": 2, "state": "active"}',
    b'{"format": 1, "state": "active"}',
    b'{"format": 1}',
    b'{"format": 1, "state": "frozen"}',
]


@pytest.mark.parametrize("content", CORRUPT_VAULTS)
def test_corrupt_vault_file(data_dir: Path, content: bytes) -> None:
    data_dir.mkdir()
    (data_dir / "vault.json").write_bytes(content)
    vault = Vault(data_dir)
    with pytest.raises(VaultCorrupted):
        vault.unlock(PIN)
    with pytest.raises(VaultCorrupted):
        vault.status()
    with pytest.raises(VaultCorrupted):
        vault.create(PIN, FileSecretStore(data_dir))  # never silently overwritten


@pytest.mark.usefixtures("fast_kdf")
@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.update(wrapped_dek="zz-not-hex"),
        lambda s: s.update(kdf="argon2"),
        lambda s: s["kdf"].pop("salt"),
        lambda s: s.pop("wrapped_dek"),
        lambda s: s.update(secret_store="keyring"),
    ],
)
def test_damaged_fields_are_vault_corrupted_and_not_counted(
    data_dir: Path, damage: Any
) -> None:
    Vault(data_dir).create(PIN, FileSecretStore(data_dir))
    state = _vault_json(data_dir)
    damage(state)
    (data_dir / "vault.json").write_text(json.dumps(state), "utf-8")
    with pytest.raises(VaultCorrupted):
        Vault(data_dir).unlock(PIN)
    assert _vault_json(data_dir).get("failed_attempts", 0) == 0


class _MemoryKeyring:
    """A stand-in keyring backend (the real Secret Service is in test_keystore.py)."""

    priority = 1

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.items.get((service, user))

    def set_password(self, service: str, user: str, password: str) -> None:
        self.items[(service, user)] = password

    def delete_password(self, service: str, user: str) -> None:
        self.items.pop((service, user), None)


class _LockedKeyring(_MemoryKeyring):
    def get_password(self, service: str, user: str) -> str | None:
        raise RuntimeError("collection is locked")


@pytest.mark.usefixtures("fast_kdf")
def test_keyring_vault_without_keyring_is_an_error_not_a_fallback(
    data_dir: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRIDFIELD_SECRET_STORE")
    backend = _MemoryKeyring()
    created = Vault(data_dir, clock=clock).create(PIN, KeyringSecretStore(backend))
    assert _vault_json(data_dir)["secret_store"]["kind"] == "keyring"
    assert not (data_dir / keystore.FILE_NAME).exists()

    # The keyring answers again: unlock works through it.
    monkeypatch.setattr(keystore, "system_keyring", lambda: backend)
    assert bytes(Vault(data_dir, clock=clock).unlock(PIN).dek) == bytes(created.dek)

    # A file holding the right secret must not be used instead of the missing keyring.
    device_id = created.device_id
    secret = bytes.fromhex(backend.items[(keystore.SERVICE, device_id)])
    FileSecretStore(data_dir).put(device_id, secret)
    monkeypatch.setattr(keystore, "system_keyring", lambda: None)
    with pytest.raises(KeystoreError):
        Vault(data_dir, clock=clock).unlock(PIN)

    monkeypatch.setattr(keystore, "system_keyring", lambda: _LockedKeyring())
    with pytest.raises(KeystoreError):
        Vault(data_dir, clock=clock).unlock(PIN)

    # A keyring that works but has lost the secret: an error, not a wrong PIN.
    monkeypatch.setattr(keystore, "system_keyring", lambda: _MemoryKeyring())
    with pytest.raises(KeystoreError):
        Vault(data_dir, clock=clock).unlock(PIN)
    assert Vault(data_dir, clock=clock).info()["failed_attempts"] == 0

    # GRIDFIELD_SECRET_STORE=file never downgrades a vault set up with a keyring.
    monkeypatch.setattr(keystore, "system_keyring", lambda: backend)
    monkeypatch.setenv("GRIDFIELD_SECRET_STORE", "file")
    with pytest.raises(KeystoreError):
        Vault(data_dir, clock=clock).unlock(PIN)
    assert Vault(data_dir, clock=clock).info()["failed_attempts"] == 0


@pytest.mark.usefixtures("fast_kdf")
def test_erase_with_unavailable_keyring_still_destroys_the_wrapped_dek(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Vault(data_dir).create(PIN, KeyringSecretStore(_MemoryKeyring()))
    monkeypatch.setattr(keystore, "system_keyring", lambda: None)
    Vault(data_dir).erase("remote")
    state = _vault_json(data_dir)
    assert state["state"] == "erased" and "wrapped_dek" not in state


@pytest.mark.usefixtures("fast_kdf")
def test_wrong_pin_message_has_attempts_left(data_dir: Path) -> None:
    vault = Vault(data_dir)
    vault.create(PIN, FileSecretStore(data_dir))
    with pytest.raises(WrongPin) as info:
        vault.unlock(WRONG_PIN)
    assert "9" in info.value.message("zh_CN")
    assert "9" in info.value.message("en")


@pytest.mark.usefixtures("fast_kdf")
def test_without_a_tpm_the_delay_runs_on_the_boot_clock(
    data_dir: Path, clock: FakeClock
) -> None:
    """Moving the wall clock forward, or deleting the delay's record, skips nothing."""
    from fieldclient.security.vault import system_boot_clock

    vault = Vault(data_dir, clock=clock, boot_clock=system_boot_clock)
    vault.create(PIN, FileSecretStore(data_dir))
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises(WrongPin):
            vault.unlock(WRONG_PIN)
    clock.advance(24 * 3600)
    with pytest.raises(PinLockedOut) as info:
        vault.unlock(PIN)
    assert 0 < info.value.wait_seconds <= BASE_DELAY_SECONDS
    state = _vault_json(data_dir)
    state.pop("wait")
    state["not_before"] = 0
    (data_dir / "vault.json").write_text(json.dumps(state), "utf-8")
    with pytest.raises(PinLockedOut):
        vault.unlock(PIN)
    # Another boot (another boot id): the delay starts again, in full.
    other_boot = Vault(data_dir, clock=clock, boot_clock=lambda: ("other-boot", 1.0))
    with pytest.raises(PinLockedOut) as info:
        other_boot.unlock(PIN)
    assert info.value.wait_seconds == BASE_DELAY_SECONDS
