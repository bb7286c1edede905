"""Device fixtures shared by the Qt-free test folders (core, patrol, photos).

A folder's conftest imports the ones it wants; importing the autouse
``file_secret_store_only`` makes it apply to that folder: nothing ever reaches the
developer's real keyring (the Secret Service tests lift it explicitly).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldclient.security import crypto
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import Session, setup_device

PIN = "246810"


class FakeClock:
    """A wall clock the test moves by hand (``Vault(..., clock=FakeClock())``)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def file_secret_store_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDFIELD_SECRET_STORE", "file")


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    """A device data directory that does not exist yet (as on first start)."""
    return tmp_path / "data"


@pytest.fixture()
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2id parameters for tests that are not about the PIN's cost.

    The vault records the parameters it wrapped with, so later unlocks of the
    same device are cheap too. Tests about the PIN's cost use the real ones.
    """
    monkeypatch.setattr(
        crypto.KdfParams,
        "fresh",
        classmethod(lambda cls: cls(salt=os.urandom(16), memory_kib=1024, iterations=1, lanes=1)),
    )


@pytest.fixture()
def session(data_dir: Path, clock: FakeClock, fast_kdf: None) -> Iterator[Session]:
    """A freshly set-up, unlocked device (file secret store, fake clock, cheap KDF)."""
    s = setup_device(data_dir, PIN, store=FileSecretStore(data_dir), clock=clock)
    try:
        yield s
    finally:
        s.close()
