"""Fixtures for the patrol tests: an open device, signing keys, photos through the pipeline.

The BeiDou logs are read from ``../shared/fixtures/nmea/`` (never copied into
the project); tests that need them skip when they are absent.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from device_fixtures import (  # noqa: F401 - fixtures registered for this folder
    clock,
    data_dir,
    fast_kdf,
    file_secret_store_only,
    session,
)
from patrol_helpers import SigningKey, jpeg_bytes

from fieldclient.fieldwork import checklist
from fieldclient.storage.session import Session


@pytest.fixture()
def it_key(monkeypatch: pytest.MonkeyPatch) -> SigningKey:
    """A test key pinned next to the development key (the bundled default still verifies)."""
    key = SigningKey()
    monkeypatch.setattr(
        checklist, "PINNED_PUBLIC_KEYS", (*checklist.PINNED_PUBLIC_KEYS, key.public_b64)
    )
    return key


@pytest.fixture()
def take_photo(session: Session) -> Callable[..., str]:  # noqa: F811 - the fixture
    """Run a generated picture through the real photo pipeline; returns the photo id."""
    from fieldclient.photos import pipeline as photos

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
