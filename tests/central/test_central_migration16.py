"""Centre migration 16 (the fleet view) on a centre at version 15 with enrolled devices,
on SQLite and PostgreSQL: the columns are added, no row changes, a second run changes
nothing, and ``central devices`` shows the devices with their status unknown until they
report it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import insert, inspect, select, text

from central import db

CLI = [sys.executable, "-m", "central.cli"]


def _version_15(url: str, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> db.Engine:
    """A database at version 15 (migration 16's columns dropped: a table is created with
    today's definition)."""
    engine = db.make_engine(url, key_file=key_file)
    with monkeypatch.context() as m:
        m.setattr(db, "MIGRATIONS", [s for s in db.MIGRATIONS if s[0] <= 15])
        assert db.migrate(engine) == (0, 15)
    with engine.begin() as conn:
        for column in db.FLEET_COLUMNS:
            conn.execute(text(f"ALTER TABLE devices DROP COLUMN {column}"))
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.db'}"
    return str(request.getfixturevalue("pg_server").new_database())


def test_migration_16_adds_the_fleet_columns_and_keeps_every_device(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "keys.json"
    engine = _version_15(url, key_file, monkeypatch)
    with engine.begin() as conn:
        person = conn.execute(insert(db.people).values(name="网格员", role="worker")
                              ).inserted_primary_key[0]
        conn.execute(text(
            "INSERT INTO devices (id, person_id, name, public_key, status, enrolled_at,"
            " last_contact) VALUES ('dev-1', :p, '平板', :k, 'active',"
            " '2026-11-01T00:00:00.000000Z', '2026-12-01T00:00:00.000000Z')"),
            {"p": person, "k": "k" * 44})
        before = dict(conn.execute(text("SELECT * FROM devices")).mappings().one())
    with engine.connect() as conn:
        assert db.pending_versions(conn) == list(range(16, db.LATEST_VERSION + 1))
    assert db.migrate(engine) == (15, db.LATEST_VERSION)
    with engine.connect() as conn:
        names = {c["name"] for c in inspect(conn).get_columns("devices")}
        assert set(db.FLEET_COLUMNS) <= names
        row = dict(conn.execute(select(db.devices)).mappings().one())
    assert {k: row[k] for k in before} == before
    assert all(row[c] is None for c in db.FLEET_COLUMNS)
    assert db.migrate(engine) == (db.LATEST_VERSION, db.LATEST_VERSION)  # once is enough
    out = subprocess.run([*CLI, "devices", "--json", "--db", url, "--key-file", str(key_file)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    (shown,) = json.loads(out.stdout)
    assert shown["device_id"] == "dev-1" and shown["channel"] is None
    assert shown["app_version"] is None and shown["audit_state"] == "never"
    engine.dispose()
