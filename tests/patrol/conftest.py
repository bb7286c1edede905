"""Fixtures for the patrol tests: an open device, signing keys, photos through the pipeline.

The BeiDou logs are read from ``../shared/fixtures/nmea/`` (never copied into
the project); tests that need them skip when they are absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from patrol_helpers import PIN, FakeClock, SigningKey, jpeg_bytes

from fieldclient import checklist, crypto
from fieldclient.keystore import FileSecretStore
from fieldclient.session import Session, setup_device


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
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        crypto.KdfParams,
        "fresh",
        classmethod(lambda cls: cls(salt=os.urandom(16), memory_kib=1024, iterations=1, lanes=1)),
    )


@pytest.fixture()
def session(data_dir: Path, clock: FakeClock, fast_kdf: None) -> Iterator[Session]:
    s = setup_device(data_dir, PIN, store=FileSecretStore(data_dir), clock=clock)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture()
def it_key(monkeypatch: pytest.MonkeyPatch) -> SigningKey:
    """A test key pinned next to the development key (the bundled default still verifies)."""
    key = SigningKey()
    monkeypatch.setattr(
        checklist, "PINNED_PUBLIC_KEYS", (*checklist.PINNED_PUBLIC_KEYS, key.public_b64)
    )
    return key


@pytest.fixture()
def take_photo(session: Session) -> Callable[..., str]:
    """Run a generated picture through the real photo pipeline; returns the photo id."""
    from fieldclient import photos

    counter = iter(range(1, 10_000))

    def take(grid_id: str = "101") -> str:
        n = next(counter)
        data = jpeg_bytes(colour=(n * 37 % 256, n * 91 % 256, n * 13 % 256))
        try:
            photo = photos.add_photo(session, data, grid_id=grid_id, lat=31.2479, lon=121.5874)
        except photos.CjkFontMissing:
            pytest.skip("no CJK font for the photo watermark")
        return photo.id

    return take
