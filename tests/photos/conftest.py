"""Fixtures for the photo pipeline tests: a fresh unlocked device and test images.

The device fixtures are the shared ones (tests/device_fixtures.py); the images
are generated in the tests, in memory.
"""

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
