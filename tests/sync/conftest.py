"""Fixtures for the sync tests: a real ``central serve`` (SQLite and PostgreSQL) on
loopback, devices (real SQLCipher sessions, cheap KDF) enrolled to it, a dropping TCP
proxy. Helpers live in ``sync_helpers`` (importable by name from the test modules)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sync_helpers import PIN, Dev, DropProxy, LiveServer, launch

from central import ops
from fieldclient.security import crypto
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import setup_device
from sync.engine import enroll_device


@pytest.fixture(autouse=True)
def _cheap_device_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDFIELD_SECRET_STORE", "file")
    monkeypatch.setattr(
        crypto.KdfParams, "fresh",
        classmethod(lambda cls: cls(salt=os.urandom(16), memory_kib=1024, iterations=1, lanes=1)),
    )


def _central_conftest() -> Any:
    """tests/central/conftest.py under another name, for its ``pg_server`` fixture."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "central" / "conftest.py"
    spec = importlib.util.spec_from_file_location("central_tests_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pg_server = _central_conftest().pg_server


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[LiveServer]:
    """A real ``central serve`` with the demo district: on SQLite with photos in a
    directory, on PostgreSQL with photos in the database (as servers on several machines
    keep them), so every photo test runs against both photo stores."""
    workdir = tmp_path_factory.mktemp(f"central-sync-{request.param}")
    db_url = None
    photo_store = "dir"
    if request.param == "postgresql":
        db_url = request.getfixturevalue("pg_server").new_database()
        photo_store = "database"
    server = launch(workdir, db_url=db_url, photo_store=photo_store)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def make_device(tmp_path: Path) -> Iterator[Callable[..., Dev]]:
    made: list[Dev] = []

    def make(server: LiveServer, person_id: int, name: str | None = None) -> Dev:
        data_dir = tmp_path / (name or f"dev{len(made)}")
        session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
        code = ops.create_enrollment_code(server.engine, person_id)["code"]
        enroll_device(session, server.base, code, f"平板{len(made)}")
        dev = Dev(data_dir, session)
        made.append(dev)
        return dev

    yield make
    for dev in made:
        dev.session.close()


@pytest.fixture()
def proxy(live: LiveServer) -> Iterator[DropProxy]:
    p = DropProxy(live.base)
    yield p
    p.close()
