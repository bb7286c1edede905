"""Fixtures for the photo pipeline tests: a fresh unlocked device and test images.

Same conventions as tests/core/conftest.py (file secret store only, fake clock,
cheap KDF); the images are generated here, in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldclient import crypto
from fieldclient.keystore import FileSecretStore
from fieldclient.session import Session, setup_device

PIN = "246810"


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _file_secret_store_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDFIELD_SECRET_STORE", "file")


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture()
def session(data_dir: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.setattr(
        crypto.KdfParams,
        "fresh",
        classmethod(lambda cls: cls(salt=os.urandom(16), memory_kib=1024, iterations=1, lanes=1)),
    )
    s = setup_device(data_dir, PIN, store=FileSecretStore(data_dir), clock=clock)
    try:
        yield s
    finally:
        s.close()
