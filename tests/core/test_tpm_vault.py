"""The vault with its device secret sealed in a (software) TPM 2.0: issue 12, fault 2.

Each attack from the issue is a test: vault.json's counters zeroed after every guess,
an old vault.json restored, a copy of the data directory restored after the erase,
the clock moved forward, the wrong-PIN total reset. A fresh swtpm per test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fieldclient.errors import (
    DeviceErased,
    KeystoreError,
    PinLockedOut,
    TpmSecretMissing,
    TpmUnavailable,
    WrongPin,
)
from fieldclient.security import keystore
from fieldclient.security import vault as vault_module
from fieldclient.security.keystore import choose_store
from fieldclient.security.tpm import TpmSecretStore
from fieldclient.security.vault import Vault
from fieldclient.security.vaultstate import MAX_ATTEMPTS
from fieldclient.storage.session import setup_device, unlock_device

if TYPE_CHECKING:
    from device_fixtures import FakeClock

PIN = "246810"
NEW_PIN = "13579024"
WRONG_PIN = "000000"

pytestmark = pytest.mark.usefixtures("fast_kdf", "swtpm")


def _state(data_dir: Path) -> dict[str, Any]:
    return json.loads((data_dir / "vault.json").read_text("utf-8"))  # type: ignore[no-any-return]


def _write(data_dir: Path, state: dict[str, Any]) -> None:
    (data_dir / "vault.json").write_text(json.dumps(state), "utf-8")


def _reset_counters(data_dir: Path) -> None:
    """What the attacker did: every trace of the wrong PINs out of vault.json."""
    state = _state(data_dir)
    state.update(failed_attempts=0, not_before=0, pin_failures_total=0, pending_audit=[])
    state.pop("wait", None)
    _write(data_dir, state)


@pytest.fixture()
def no_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests about the count, not the delays (those have their own test)."""
    monkeypatch.setattr(vault_module, "delay_after", lambda failures: 0)


def test_setup_picks_the_tpm_and_round_trips(data_dir: Path, clock: FakeClock) -> None:
    store = choose_store(data_dir)
    assert isinstance(store, TpmSecretStore) and store.kind == "tpm"
    with setup_device(data_dir, PIN, clock=clock) as s:
        device_id = s.device_id
        dek = bytes(s._dek or b"")
    info = Vault(data_dir).info()
    assert info["secret_store"] == "tpm" and info["secret_store_name"].startswith("TPM 2.0")
    assert info["offline_guessing_possible"] is False
    assert info["pin_failures_total"] == 0
    assert not (data_dir / keystore.FILE_NAME).exists()
    state = _state(data_dir)
    assert set(state["secret_store"]["tpm"]) == {"sealed", "counter", "baseline"}
    with unlock_device(data_dir, PIN, clock=clock) as s:
        assert s.device_id == device_id and bytes(s._dek or b"") == dek

    with pytest.raises(WrongPin):
        Vault(data_dir, clock=clock).unlock(WRONG_PIN)
    assert Vault(data_dir).info()["failed_attempts"] == 1

    Vault(data_dir, clock=clock).change_pin(PIN, NEW_PIN)
    assert Vault(data_dir).info()["failed_attempts"] == 0
    assert _state(data_dir)["secret_store"]["tpm"]["sealed"] != state["secret_store"]["tpm"][
        "sealed"]
    with pytest.raises(WrongPin):
        Vault(data_dir, clock=clock).unlock(PIN)
    assert bytes(Vault(data_dir, clock=clock).unlock(NEW_PIN).dek) == dek
    assert Vault(data_dir).info()["pin_failures_total"] == 2

    Vault(data_dir, clock=clock).erase("remote")
    assert Vault(data_dir).status() == "erased"
    with pytest.raises(DeviceErased):
        Vault(data_dir).unlock(NEW_PIN)


@pytest.mark.usefixtures("no_delays")
def test_zeroed_counters_after_each_guess_still_erase_at_the_tenth(data_dir: Path) -> None:
    Vault(data_dir).create(PIN)
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(WrongPin) as info:
            Vault(data_dir).unlock(WRONG_PIN)
        assert info.value.attempts_left == MAX_ATTEMPTS - attempt
        _reset_counters(data_dir)
        assert Vault(data_dir).info()["attempts_left"] == MAX_ATTEMPTS - attempt
    with pytest.raises(DeviceErased):
        Vault(data_dir).unlock(WRONG_PIN)
    with pytest.raises(DeviceErased):
        Vault(data_dir).unlock(PIN)


@pytest.mark.usefixtures("no_delays")
def test_an_old_vault_json_restored_gives_no_tries_back(data_dir: Path) -> None:
    Vault(data_dir).create(PIN)
    old = (data_dir / "vault.json").read_bytes()
    for _ in range(5):
        with pytest.raises(WrongPin):
            Vault(data_dir).unlock(WRONG_PIN)
    (data_dir / "vault.json").write_bytes(old)
    assert Vault(data_dir).info()["attempts_left"] == MAX_ATTEMPTS - 5
    for _ in range(4):
        with pytest.raises(WrongPin):
            Vault(data_dir).unlock(WRONG_PIN)
        (data_dir / "vault.json").write_bytes(old)
    with pytest.raises(DeviceErased):
        Vault(data_dir).unlock(WRONG_PIN)


@pytest.mark.usefixtures("no_delays")
def test_a_copy_of_the_data_directory_restored_after_the_erase_cannot_unlock(
    data_dir: Path, tmp_path: Path
) -> None:
    with setup_device(data_dir, PIN):
        pass
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(WrongPin):
            Vault(data_dir).unlock(WRONG_PIN)
    with pytest.raises(DeviceErased):
        Vault(data_dir).unlock(WRONG_PIN)

    shutil.rmtree(data_dir)
    shutil.copytree(copy, data_dir)
    assert Vault(data_dir).status() == "active"
    with pytest.raises(TpmSecretMissing) as info:
        Vault(data_dir).unlock(PIN)
    assert "TPM" in info.value.message("zh_CN") and "TPM" in info.value.message("en")
    assert info.value.message("en") != info.value.message("zh_CN")


def test_moving_the_clock_forward_does_not_skip_the_delay(
    data_dir: Path, clock: FakeClock
) -> None:
    Vault(data_dir, clock=clock).create(PIN)
    for _ in range(3):
        with pytest.raises(WrongPin):
            Vault(data_dir, clock=clock).unlock(WRONG_PIN)
    clock.advance(24 * 3600)  # the wall clock a day ahead
    with pytest.raises(PinLockedOut) as info:
        Vault(data_dir, clock=clock).unlock(PIN)
    assert 0 < info.value.wait_seconds <= 15
    _reset_counters(data_dir)  # and the delay's record out of vault.json: it starts again
    with pytest.raises(PinLockedOut):
        Vault(data_dir, clock=clock).unlock(PIN)
    assert Vault(data_dir, clock=clock).info()["wait_seconds"] > 0


@pytest.mark.usefixtures("no_delays")
def test_wrong_pin_total_survives_a_vault_json_reset(data_dir: Path) -> None:
    Vault(data_dir).create(PIN)
    for _ in range(4):
        with pytest.raises(WrongPin):
            Vault(data_dir).unlock(WRONG_PIN)
    Vault(data_dir).unlock(PIN)
    for _ in range(2):
        with pytest.raises(WrongPin):
            Vault(data_dir).unlock(WRONG_PIN)
    _reset_counters(data_dir)
    info = Vault(data_dir).info()
    assert info["pin_failures_total"] == 6
    assert info["failed_attempts"] == 2


def test_tpm_gone_is_a_clear_error_not_a_fallback(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Vault(data_dir).create(PIN)
    FileSecretStore = keystore.FileSecretStore
    assert FileSecretStore(data_dir).get(_state(data_dir)["device_id"]) is None
    monkeypatch.setenv("GRIDFIELD_TPM_TCTI", "swtpm:host=127.0.0.1,port=1")
    with pytest.raises(TpmUnavailable) as info:
        Vault(data_dir).unlock(PIN)
    assert isinstance(info.value, KeystoreError)
    assert "TPM 2.0" in info.value.message("zh_CN")
    assert "TPM" in info.value.message("en") and info.value.message("en") != info.value.message(
        "zh_CN")
    monkeypatch.setenv("GRIDFIELD_SECRET_STORE", "file")  # never downgraded to a file
    with pytest.raises(TpmUnavailable):
        Vault(data_dir).unlock(PIN)
    assert Vault(data_dir).info()["secret_store"] == "tpm"  # status still answers
    monkeypatch.delenv("GRIDFIELD_SECRET_STORE")
    monkeypatch.undo()


def test_a_second_device_on_the_same_tpm_is_separate(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    Vault(first).create(PIN)
    Vault(second).create(NEW_PIN)
    with pytest.raises(WrongPin):
        Vault(first).unlock(NEW_PIN)
    Vault(second).erase("remote")
    assert Vault(first).unlock(PIN).device_id == _state(first)["device_id"]


@pytest.mark.usefixtures("no_delays")
def test_a_recovery_code_resets_the_pin_in_the_tpm(data_dir: Path) -> None:
    """IT's recovery code (fieldclient.security.recovery) re-seals the secret under the
    new PIN and moves the TPM's baseline: the tries come back, the old PIN is gone."""
    from fieldclient.errors import RecoveryCodeInvalid

    with setup_device(data_dir, PIN) as s:
        nonce = Vault(data_dir).recovery_to_escrow()
        assert nonce is not None
        code = s.recovery_code(nonce)
        dek = bytes(s._dek or b"")
    Vault(data_dir).mark_escrowed(nonce)  # what the centre's answer does
    for _ in range(6):
        with pytest.raises(WrongPin):
            Vault(data_dir).unlock(WRONG_PIN)
    assert Vault(data_dir).info()["attempts_left"] == MAX_ATTEMPTS - 6
    result = Vault(data_dir).reset_pin(code, NEW_PIN)
    assert bytes(result.dek) == dek
    assert [e["action"] for e in result.pending_audit][-1] == "pin_reset"
    info = Vault(data_dir).info()
    assert info["attempts_left"] == MAX_ATTEMPTS and info["pin_failures_total"] == 6
    with pytest.raises(WrongPin):
        Vault(data_dir).unlock(PIN)
    assert bytes(Vault(data_dir).unlock(NEW_PIN).dek) == dek
    with pytest.raises(RecoveryCodeInvalid):  # used up: a new share waits to be escrowed
        Vault(data_dir).reset_pin(code, PIN)
    assert Vault(data_dir).recovery_to_escrow() not in (None, nonce)
