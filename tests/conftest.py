"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

try:  # tests/ on sys.path (rootdir conftest, no tests/__init__.py)
    from secret_service import private_secret_service, secret_service_available
except ImportError:  # tests/ is a package
    from tests.secret_service import (  # type: ignore[no-redef]
        private_secret_service,
        secret_service_available,
    )


@pytest.fixture(scope="session")
def secret_service() -> Iterator[str]:
    """A private, unlocked gnome-keyring Secret Service on its own D-Bus session bus.

    Yields the bus address; DBUS_SESSION_BUS_ADDRESS points at it while the session
    runs. Missing binaries: a failure under CI (env CI set), a skip otherwise.
    """
    if not secret_service_available():
        msg = ("dbus-daemon / gnome-keyring-daemon not found "
               "(run scripts/install-sysdeps.sh as root)")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    with private_secret_service() as address:
        yield address
