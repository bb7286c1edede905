"""Fixtures for the install/update tests: device sessions (tests/device_fixtures.py)."""

from __future__ import annotations

from device_fixtures import (  # noqa: F401 - fixtures registered for this folder
    PIN,
    FakeClock,
    clock,
    data_dir,
    fast_kdf,
    file_secret_store_only,
    session,
)
