"""Shared pytest fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

try:  # tests/ on sys.path (rootdir conftest, no tests/__init__.py)
    from secret_service import private_secret_service, secret_service_available
    from swtpm import private_swtpm, swtpm_available
except ImportError:  # tests/ is a package
    from tests.secret_service import (  # type: ignore[no-redef]
        private_secret_service,
        secret_service_available,
    )
    from tests.swtpm import private_swtpm, swtpm_available  # type: ignore[no-redef]


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


@pytest.fixture()
def swtpm(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh software TPM 2.0 for one test; GRIDFIELD_TPM_TCTI points at it.

    Lifts ``GRIDFIELD_SECRET_STORE=file`` so set-up picks the TPM. Skipped only off
    Linux; a missing swtpm elsewhere is a failure (scripts/install-sysdeps.sh).
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("swtpm tests run on Linux")
    if not swtpm_available():
        pytest.fail("swtpm not found (run scripts/install-sysdeps.sh as root)")
    with private_swtpm() as tcti:
        monkeypatch.delenv("GRIDFIELD_SECRET_STORE", raising=False)
        monkeypatch.setenv("GRIDFIELD_TPM_TCTI", tcti)
        yield tcti
