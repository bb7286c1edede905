"""Where the 256-bit device secret lives: a TPM 2.0, the OS keystore, or a file.

At set-up the best one that works is chosen: a TPM (:mod:`fieldclient.security.tpm`,
sealed under the PIN with the TPM's own wrong-PIN lockout), then the OS keyring,
then a file. The vault records which store it used and insists on the same one at
every unlock, so a missing TPM or a broken keyring is an error, never a silent
downgrade.

The keyring also keeps a copy of the wrong-PIN count (in a row, and since set-up)
next to the secret; the vault takes the larger of it and vault.json's, so editing or
restoring vault.json alone gives no tries back. The file store cannot do that: a copy
of the data directory holds the secret, the count and the wrapped key together, and
whoever has it can guess PINs offline at the Argon2id cost (README, "How the data is
protected").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fieldclient.errors import KeystoreError
from fieldclient.fsutil import atomic_write, shred

if TYPE_CHECKING:
    from fieldclient.security.tpm import TpmSecretStore

SERVICE = "gridfield-device-secret"
FAILURES_SERVICE = "gridfield-pin-failures"
FILE_NAME = "device-secret.key"
_SKIPPED_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyring.backends.chainer")


class SecretStore(Protocol):
    kind: str  # "keyring" or "file", recorded in the vault ("tpm": see tpm.py)
    is_fallback: bool

    def describe(self) -> str: ...
    def get(self, device_id: str) -> bytes | None: ...
    def put(self, device_id: str, secret: bytes) -> None: ...
    def delete(self, device_id: str) -> None: ...
    def get_failures(self, device_id: str) -> tuple[int, int] | None: ...
    def put_failures(self, device_id: str, in_a_row: int, total: int) -> None: ...


class KeyringSecretStore:
    """The device secret in the OS keystore (Secret Service, Windows Credential Locker...)."""

    kind = "keyring"
    is_fallback = False

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def describe(self) -> str:
        cls = type(self.backend)
        return f"{cls.__module__.removeprefix('keyring.backends.')}.{cls.__name__}"

    def get(self, device_id: str) -> bytes | None:
        try:
            value = self.backend.get_password(SERVICE, device_id)
        except Exception as exc:
            raise KeystoreError(reason=str(exc) or type(exc).__name__) from exc
        return bytes.fromhex(value) if value else None

    def put(self, device_id: str, secret: bytes) -> None:
        try:
            self.backend.set_password(SERVICE, device_id, secret.hex())
        except Exception as exc:
            raise KeystoreError(reason=str(exc) or type(exc).__name__) from exc

    def delete(self, device_id: str) -> None:
        try:
            self.backend.delete_password(SERVICE, device_id)
        except Exception as exc:  # already gone is fine; anything else must be reported
            if type(exc).__name__ != "PasswordDeleteError":
                raise KeystoreError(reason=str(exc) or type(exc).__name__) from exc
        try:
            self.backend.delete_password(FAILURES_SERVICE, device_id)
        except Exception:
            pass  # the count without the secret protects nothing

    def get_failures(self, device_id: str) -> tuple[int, int] | None:
        """The keyring's copy of the wrong-PIN count: (in a row, since set-up)."""
        try:
            value = self.backend.get_password(FAILURES_SERVICE, device_id)
        except Exception as exc:
            raise KeystoreError(reason=str(exc) or type(exc).__name__) from exc
        if not value:
            return None
        in_a_row, _, total = value.partition(":")
        try:
            return max(0, int(in_a_row)), max(0, int(total))
        except ValueError:
            return None

    def put_failures(self, device_id: str, in_a_row: int, total: int) -> None:
        try:
            self.backend.set_password(FAILURES_SERVICE, device_id, f"{in_a_row}:{total}")
        except Exception as exc:
            raise KeystoreError(reason=str(exc) or type(exc).__name__) from exc


class FileSecretStore:
    """Fallback for machines without a keystore (headless Linux): a 0600 file.

    Weaker: whoever copies the data directory also has this half of the key, so
    the PIN's Argon2id cost is all that protects the data. Settings and
    ``fieldclient status`` say so.
    """

    kind = "file"
    is_fallback = True

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def describe(self) -> str:
        return f"file:{self.path}"

    def get(self, device_id: str) -> bytes | None:
        if not self.path.exists():
            return None
        raw = self.path.read_text("ascii").strip()
        stored_id, _, value = raw.partition(":")
        if stored_id != device_id:
            return None
        return bytes.fromhex(value)

    def put(self, device_id: str, secret: bytes) -> None:
        atomic_write(self.path, f"{device_id}:{secret.hex()}".encode("ascii"))

    def delete(self, device_id: str) -> None:
        shred(self.path)

    def get_failures(self, device_id: str) -> tuple[int, int] | None:
        """None: the count is only in vault.json, next to this file (see the module doc)."""
        return None

    def put_failures(self, device_id: str, in_a_row: int, total: int) -> None:
        return None


def system_keyring() -> Any | None:
    """The best working OS keyring backend right now, or None.

    Evaluated afresh (keyring's own choice is cached for the process), and probed
    with a write/read/delete so a locked or absent Secret Service is not chosen.
    """
    if os.environ.get("GRIDFIELD_SECRET_STORE") == "file":
        return None
    from keyring.backend import KeyringBackend, get_all_keyring

    get_all_keyring()  # loads plug-in backends once
    candidates = []
    for cls in KeyringBackend.get_viable_backends():
        if cls.__module__.startswith(_SKIPPED_MODULES):
            continue
        try:
            candidates.append(cls())
        except Exception:
            continue
    for backend in sorted(candidates, key=lambda b: b.priority, reverse=True):
        if _probe(backend):
            return backend
    return None


def _probe(backend: Any) -> bool:
    probe_user = "probe-" + os.urandom(4).hex()
    try:
        backend.set_password(SERVICE, probe_user, "ok")
        ok = backend.get_password(SERVICE, probe_user) == "ok"
        backend.delete_password(SERVICE, probe_user)
        return bool(ok)
    except Exception:
        return False


def forced_kind() -> str | None:
    """``GRIDFIELD_SECRET_STORE``: "file" or "keyring" to skip the better stores."""
    kind = os.environ.get("GRIDFIELD_SECRET_STORE", "").strip()
    return kind if kind in ("file", "keyring") else None


def choose_store(data_dir: Path) -> SecretStore | TpmSecretStore:
    """At set-up: a TPM when one works, else the OS keystore, else the file fallback."""
    if forced_kind() is None:
        from fieldclient.security.tpm import available_tpm

        tpm = available_tpm()
        if tpm is not None:
            return tpm
    backend = system_keyring()
    if backend is not None:
        return KeyringSecretStore(backend)
    return FileSecretStore(data_dir)


def store_for(kind: str, backend_name: str, data_dir: Path) -> SecretStore:
    """At unlock: the store recorded at set-up, or a clear error if it is unavailable."""
    if kind == "file":
        return FileSecretStore(data_dir)
    backend = None if os.environ.get("GRIDFIELD_SECRET_STORE") == "file" else system_keyring()
    if backend is None:
        raise KeystoreError(reason=f"{backend_name} unavailable")
    return KeyringSecretStore(backend)


def tpm_store_for(backend_name: str) -> TpmSecretStore:
    """At unlock of a TPM vault: the configured TPM, or a clear error when it is gone."""
    from fieldclient.errors import TpmUnavailable
    from fieldclient.security.tpm import TpmSecretStore, configured_tcti

    tcti = configured_tcti()
    if tcti is None or forced_kind() is not None:
        raise TpmUnavailable(reason=backend_name)
    return TpmSecretStore(tcti)
