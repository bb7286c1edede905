"""Where the device secret lives: the 0600 file fallback and a real Secret Service."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fieldclient.errors import DeviceErased, KeystoreError, WrongPin
from fieldclient.security import keystore
from fieldclient.security import vault as vault_module
from fieldclient.security.keystore import (
    SERVICE,
    FileSecretStore,
    KeyringSecretStore,
    choose_store,
    store_for,
    system_keyring,
)
from fieldclient.security.vault import Vault
from fieldclient.storage.session import setup_device, unlock_device

PIN = "246810"
WRONG_PIN = "000000"

# -- file fallback ---------------------------------------------------------------------


def test_file_store_round_trip_and_permissions(tmp_path: Path) -> None:
    store = FileSecretStore(tmp_path)
    assert store.kind == "file" and store.is_fallback
    assert store.get("dev1") is None
    secret = os.urandom(32)
    store.put("dev1", secret)
    assert store.get("dev1") == secret
    assert store.get("another-device") is None  # bound to its device id
    path = tmp_path / keystore.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [keystore.FILE_NAME]  # no temp left

    newer = os.urandom(32)
    store.put("dev2", newer)  # replaced atomically, still 0600
    assert store.get("dev2") == newer and store.get("dev1") is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    store.delete("dev2")
    assert not path.exists()
    assert store.get("dev2") is None
    store.delete("dev2")  # deleting twice is fine
    assert str(path) in store.describe()


def test_file_store_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        FileSecretStore(tmp_path).put("dev", os.urandom(32))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / keystore.FILE_NAME).stat().st_mode) == 0o600


def test_env_forces_the_file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDFIELD_SECRET_STORE", "file")
    assert system_keyring() is None
    chosen = choose_store(tmp_path)
    assert isinstance(chosen, FileSecretStore)
    assert chosen.kind == "file" and chosen.is_fallback
    assert isinstance(store_for("file", "file:x", tmp_path), FileSecretStore)
    with pytest.raises(KeystoreError):  # a keyring vault is never handed a file instead
        store_for("keyring", "SecretService.Keyring", tmp_path)


def test_no_working_keyring_falls_back_to_file_at_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRIDFIELD_SECRET_STORE")
    monkeypatch.setattr(keystore, "system_keyring", lambda: None)
    assert choose_store(tmp_path).kind == "file"


def test_file_vault_round_trip(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with setup_device(data_dir, PIN) as s:  # env: file store
        device_id = s.device_id
    assert Vault(data_dir).info()["secret_store"] == "file"
    assert Vault(data_dir).info()["secret_store_is_fallback"] is True
    assert FileSecretStore(data_dir).get(device_id) is not None
    with unlock_device(data_dir, PIN) as s:
        assert s.device_id == device_id


# -- the real Secret Service (private gnome-keyring on a private D-Bus) -----------------


@pytest.fixture()
def keyring_env(secret_service: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("GRIDFIELD_SECRET_STORE")
    assert os.environ["DBUS_SESSION_BUS_ADDRESS"] == secret_service
    return secret_service


def test_system_keyring_is_the_secret_service(keyring_env: str) -> None:
    backend = system_keyring()
    assert backend is not None
    assert type(backend).__module__ == "keyring.backends.SecretService"
    chosen = choose_store(Path("/nonexistent"))
    assert isinstance(chosen, KeyringSecretStore)
    assert chosen.kind == "keyring" and not chosen.is_fallback
    assert chosen.describe() == "SecretService.Keyring"

    secret = os.urandom(32)
    chosen.put("roundtrip", secret)
    assert chosen.get("roundtrip") == secret
    chosen.delete("roundtrip")
    assert chosen.get("roundtrip") is None
    chosen.delete("roundtrip")  # already gone is fine


def test_device_secret_lives_in_the_keyring(keyring_env: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with setup_device(data_dir, PIN) as s:  # no store given: choose_store picks the keyring
        device_id = s.device_id
        dek = bytes(s._dek or b"")
    info = Vault(data_dir).info()
    assert info["secret_store"] == "keyring"
    assert info["secret_store_is_fallback"] is False
    assert not (data_dir / keystore.FILE_NAME).exists()
    backend = system_keyring()
    stored = backend.get_password(SERVICE, device_id)
    assert stored is not None and len(bytes.fromhex(stored)) == 32
    for path in data_dir.rglob("*"):  # the secret is nowhere in the data dir
        if path.is_file():
            content = path.read_bytes()
            assert stored.encode() not in content and bytes.fromhex(stored) not in content

    with unlock_device(data_dir, PIN) as s:
        assert bytes(s._dek or b"") == dek

    Vault(data_dir).erase("remote")
    assert backend.get_password(SERVICE, device_id) is None
    assert Vault(data_dir).status() == "erased"


def test_tenth_wrong_pin_erases_the_keyring_secret(
    keyring_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Delays are timed by the boot clock, which a file edit cannot move: skip them here.
    monkeypatch.setattr(vault_module, "delay_after", lambda failures: 0)
    data_dir = tmp_path / "data"
    device_id = Vault(data_dir).create(PIN).device_id
    backend = system_keyring()
    assert backend.get_password(SERVICE, device_id) is not None
    # Skip the nine slow wrong PINs (test_vault.py does those): start at nine.
    state = json.loads((data_dir / "vault.json").read_text("utf-8"))
    state.update(failed_attempts=9, not_before=0)
    (data_dir / "vault.json").write_text(json.dumps(state), "utf-8")
    with pytest.raises(DeviceErased):
        Vault(data_dir).unlock(WRONG_PIN)
    assert backend.get_password(SERVICE, device_id) is None


def test_keyring_vault_refuses_file_mode(
    keyring_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    Vault(data_dir).create(PIN)
    assert Vault(data_dir).info()["secret_store"] == "keyring"
    monkeypatch.setenv("GRIDFIELD_SECRET_STORE", "file")
    with pytest.raises(KeystoreError):
        Vault(data_dir).unlock(PIN)
    monkeypatch.delenv("GRIDFIELD_SECRET_STORE")
    Vault(data_dir).unlock(PIN)
    Vault(data_dir).erase("cleanup")


def test_keyring_keeps_a_copy_of_the_wrong_pin_count(
    keyring_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zeroing or restoring vault.json gives no tries back: the keyring's copy counts."""
    monkeypatch.setattr(vault_module, "delay_after", lambda failures: 0)
    data_dir = tmp_path / "data"
    device_id = Vault(data_dir).create(PIN).device_id
    old = (data_dir / "vault.json").read_bytes()
    for _ in range(3):
        with pytest.raises(WrongPin):
            Vault(data_dir).unlock(WRONG_PIN)
    (data_dir / "vault.json").write_bytes(old)
    info = Vault(data_dir).info()
    assert info["failed_attempts"] == 3 and info["pin_failures_total"] == 3
    assert info["offline_guessing_possible"] is True
    Vault(data_dir).unlock(PIN)
    assert Vault(data_dir).info()["failed_attempts"] == 0
    assert Vault(data_dir).info()["pin_failures_total"] == 3
    Vault(data_dir).erase("cleanup")
    assert system_keyring().get_password(keystore.FAILURES_SERVICE, device_id) is None
