"""Fixtures for the Qt-free core tests: a fake clock, fresh data dirs, open sessions
(tests/device_fixtures.py). ``GRIDFIELD_SECRET_STORE=file`` applies to every test;
the Secret Service tests in ``test_keystore.py`` lift it while the private
``secret_service`` fixture is running.
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
