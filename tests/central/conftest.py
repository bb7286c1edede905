"""Fixtures for the central server tests: a throw-away PostgreSQL server, databases on
SQLite and PostgreSQL, and a real ``central serve`` subprocess on a loopback port."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from central_helpers import (
    Device,
    PgServer,
    Server,
    _pg_bindir,
    seeded_database,
    start_server,
    stop_process,
    throwaway_postgres,
)

from central import db, ops


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bindir = _pg_bindir()
    if bindir is None:
        msg = "PostgreSQL binaries not found (run scripts/install-sysdeps.sh as root)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    with throwaway_postgres() as server:
        yield server


# -- databases and servers -------------------------------------------------------------

def _initialised(url: str) -> str:
    engine = db.make_engine(url)
    db.migrate(engine)  # in-process for speed; `central init` has its own test
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL (schema initialised) on each backend."""
    if request.param == "sqlite":
        return _initialised(f"sqlite:///{tmp_path / 'central.db'}")
    return _initialised(request.getfixturevalue("pg_server").new_database())


@pytest.fixture()
def sqlite_db(tmp_path: Path) -> str:
    """An empty SQLite database URL (schema initialised), for backend-neutral CLI checks."""
    return _initialised(f"sqlite:///{tmp_path / 'central.db'}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    """A real ``central serve`` process on a loopback port, after init and seed-demo."""
    workdir = tmp_path_factory.mktemp(f"central-{request.param}")
    db_url, demo = seeded_database(request.param, workdir, request)
    proc, base = start_server(db_url, workdir)
    engine = db.make_engine(db_url)
    try:
        yield Server(request.param, base, db_url, demo, engine)
    finally:
        engine.dispose()
        stop_process(proc)


@pytest.fixture()
def new_device(server: Server) -> Callable[[int], Device]:
    """Enroll a fresh device for a person id on the running server."""

    def make(person_id: int) -> Device:
        # in-process for speed; the `central enroll` command has its own tests
        code = ops.create_enrollment_code(server.engine, person_id)["code"]
        dev = Device(server.base)
        resp = dev.enroll(code)
        assert resp.status_code == 200, resp.text
        return dev

    return make
