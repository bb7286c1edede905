"""The SQLCipher database: encryption at rest, pragmas, migrations, the sqlite-utils bridge."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlcipher3
import sqlite_utils

from fieldclient.errors import DatabaseLocked, MigrationFailed, SchemaTooNew
from fieldclient.security import crypto
from fieldclient.storage import store
from fieldclient.storage.migrations import LATEST_VERSION, MIGRATIONS, Migration
from fieldclient.storage.sqlscript import run_script, split_script


@pytest.fixture()
def dek() -> bytearray:
    return crypto.random_key()


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "gridfield.db"


@pytest.fixture()
def backups(tmp_path: Path) -> Path:
    return tmp_path / "backups"


@pytest.fixture()
def db(db_path: Path, dek: bytearray, backups: Path) -> Iterator[sqlite_utils.Database]:
    database = store.open_database(db_path, dek, backups)
    try:
        yield database
    finally:
        database.conn.close()


def _tables(db: sqlite_utils.Database) -> set[str]:
    return set(db.table_names())


# -- encryption at rest ------------------------------------------------------------------


def test_database_is_unreadable_without_the_key(
    db: sqlite_utils.Database, db_path: Path
) -> None:
    with db.conn:
        db.execute("INSERT INTO meta (key, value) VALUES ('marker', 'plain-text-marker')")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = db_path.read_bytes()
    assert not raw.startswith(b"SQLite format 3")
    assert b"plain-text-marker" not in raw and b"audit_log" not in raw

    plain = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.DatabaseError):
            plain.execute("select * from sqlite_master").fetchall()
    finally:
        plain.close()


def test_wrong_key_is_database_locked(db: sqlite_utils.Database, db_path: Path) -> None:
    db.conn.close()
    with pytest.raises(DatabaseLocked):
        store.connect(db_path, store.database_key(crypto.random_key()))
    with pytest.raises(DatabaseLocked):
        store.open_database(db_path, crypto.random_key(), db_path.parent / "backups")
    # A key that is not the DEK's database subkey: the raw DEK itself.
    with pytest.raises(DatabaseLocked):
        store.connect(db_path, b"\x00" * 32)


def test_database_key_is_a_subkey(dek: bytearray) -> None:
    key = store.database_key(dek)
    assert len(key) == 32 and key != bytes(dek)
    assert key == store.database_key(bytes(dek))


def test_pragmas(db: sqlite_utils.Database) -> None:
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA cipher_version").fetchone()[0].startswith("4.")
    assert store.schema_version(db) == LATEST_VERSION


def test_fresh_database_gets_every_migration_and_no_backup(
    db: sqlite_utils.Database, backups: Path
) -> None:
    assert {"meta", "audit_log", "outbox", "blobs", "households", "members"} <= _tables(db)
    assert not backups.exists() or not any(backups.iterdir())  # nothing worth backing up


# -- migrations ------------------------------------------------------------------------------


def test_upgrade_backs_up_first_and_keeps_data(
    db_path: Path, dek: bytearray, backups: Path
) -> None:
    old = store.open_database(db_path, dek, backups, target=1)
    assert store.schema_version(old) == 1
    assert "households" not in _tables(old)
    with old.conn:
        old.execute("INSERT INTO meta (key, value) VALUES ('grid', 'A-07')")
        old.execute(
            "INSERT INTO outbox (op_id, kind, record_id, payload, created_at)"
            " VALUES ('op1', 'k', 'r', '{}', 1.0)"
        )
    old.conn.close()

    new = store.open_database(db_path, dek, backups)
    try:
        assert store.schema_version(new) == LATEST_VERSION
        assert "households" in _tables(new)
        assert new.execute("SELECT value FROM meta WHERE key='grid'").fetchone() == ("A-07",)
        assert new.execute("SELECT count(*) FROM outbox").fetchone() == (1,)
    finally:
        new.conn.close()

    made = sorted(backups.glob("gridfield-v1-*.db"))
    assert len(made) == 1
    copy = store.connect(made[0], store.database_key(dek))  # same key, old version
    try:
        assert copy.execute("PRAGMA user_version").fetchone() == (1,)
        assert copy.execute("SELECT value FROM meta WHERE key='grid'").fetchone() == ("A-07",)
        names = {r[0] for r in copy.execute("SELECT name FROM sqlite_master")}
        assert "households" not in names
    finally:
        copy.close()
    assert not made[0].read_bytes().startswith(b"SQLite format 3")

    again = store.open_database(db_path, dek, backups)  # up to date: no new backup
    again.conn.close()
    assert len(list(backups.iterdir())) == 1


def _failing_at_2(apply_first: str) -> tuple[Migration, ...]:
    def apply(db: sqlite_utils.Database) -> None:
        run_script(db, apply_first)
        raise RuntimeError("disk on fire")

    return (*MIGRATIONS[:1], Migration(2, "broken", apply))


def test_failed_migration_rolls_back(db_path: Path, dek: bytearray, backups: Path) -> None:
    old = store.open_database(db_path, dek, backups, target=1)
    with old.conn:
        old.execute("INSERT INTO meta (key, value) VALUES ('k', 'before')")
    old.conn.close()

    broken = _failing_at_2(
        "CREATE TABLE partial (id INTEGER PRIMARY KEY);"
        "INSERT INTO partial (id) VALUES (1);"
        "UPDATE meta SET value = 'during' WHERE key = 'k';"
    )
    with pytest.raises(MigrationFailed) as info:
        store.open_database(db_path, dek, backups, migrations=broken)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert info.value.params["version"] == 2
    backup_path = Path(info.value.params["backup"])
    assert backup_path.parent == backups and backup_path.exists()
    assert str(backup_path) in info.value.message("zh_CN")

    check = store.open_database(db_path, dek, backups, target=1)
    try:
        assert store.schema_version(check) == 1
        assert "partial" not in _tables(check)
        assert check.execute("SELECT value FROM meta WHERE key='k'").fetchone() == ("before",)
    finally:
        check.conn.close()

    fixed = store.open_database(db_path, dek, backups)  # the real migration still applies
    assert store.schema_version(fixed) == LATEST_VERSION
    fixed.conn.close()


def test_later_failure_keeps_earlier_migrations(
    db_path: Path, dek: bytearray, backups: Path
) -> None:
    def boom(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE half (x)")
        raise ValueError("nope")

    migrations = (*MIGRATIONS, Migration(LATEST_VERSION + 1, "broken", boom))
    with pytest.raises(MigrationFailed) as info:
        store.open_database(db_path, dek, backups, migrations=migrations)
    assert info.value.params["version"] == LATEST_VERSION + 1
    db = store.open_database(db_path, dek, backups)
    try:
        assert store.schema_version(db) == LATEST_VERSION  # each step commits on its own
        assert "half" not in _tables(db)
    finally:
        db.conn.close()


def test_migration_that_commits_by_itself_is_reported(
    db_path: Path, dek: bytearray, backups: Path
) -> None:
    """sqlite-utils' table API commits; the migration must fail clearly, not with
    'cannot rollback - no transaction is active'."""

    def sneaky(db: sqlite_utils.Database) -> None:
        db["sneaky"].insert({"id": 1}, pk="id")

    old = store.open_database(db_path, dek, backups, target=1)
    old.conn.close()
    with pytest.raises(MigrationFailed):
        store.open_database(
            db_path, dek, backups, migrations=(*MIGRATIONS[:1], Migration(2, "x", sneaky))
        )
    check = store.open_database(db_path, dek, backups, target=1)
    assert store.schema_version(check) == 1
    check.conn.close()


def test_schema_too_new(db_path: Path, dek: bytearray, backups: Path) -> None:
    conn = store.connect(db_path, store.database_key(dek))
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew) as info:
        store.open_database(db_path, dek, backups)
    assert info.value.params == {"found": LATEST_VERSION + 1, "supported": LATEST_VERSION}
    conn = store.connect(db_path, store.database_key(dek))  # untouched, no backup made
    assert conn.execute("PRAGMA user_version").fetchone() == (LATEST_VERSION + 1,)
    conn.close()
    assert not backups.exists()


def test_backups_are_pruned(db: sqlite_utils.Database, db_path: Path, backups: Path) -> None:
    made = [store.backup(db, db_path, backups, f"n{i}") for i in range(store.KEEP_BACKUPS + 2)]
    kept = sorted(backups.iterdir())
    assert len(kept) == store.KEEP_BACKUPS
    assert made[-1] in kept


def test_migrations_are_numbered_in_order() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(set(versions)) and versions[0] == 1  # gaps allowed
    assert LATEST_VERSION == versions[-1]


def _gap(version: int) -> Migration:
    def apply(db: sqlite_utils.Database) -> None:
        run_script(db, f"CREATE TABLE gap_{version} (id INTEGER PRIMARY KEY);")

    return Migration(version, f"gap {version}", apply)


def test_a_migration_filling_a_gap_later_still_runs(
    db_path: Path, dek: bytearray, backups: Path
) -> None:
    """Numbers may have gaps (a number kept for a change still being written): a
    database that had the higher one gets the lower one when it arrives."""
    first = (*MIGRATIONS, _gap(LATEST_VERSION + 2))
    db = store.open_database(db_path, dek, backups, migrations=first)
    assert store.schema_version(db) == LATEST_VERSION + 2
    assert store.applied_versions(db, first) == {m.version for m in first}
    db.conn.close()
    later = (*MIGRATIONS, _gap(LATEST_VERSION + 1), _gap(LATEST_VERSION + 2))
    db = store.open_database(db_path, dek, backups, migrations=later)
    try:
        assert {f"gap_{LATEST_VERSION + 1}", f"gap_{LATEST_VERSION + 2}"} <= _tables(db)
        assert store.schema_version(db) == LATEST_VERSION + 2  # the highest stays
        assert store.applied_versions(db, later) == {m.version for m in later}
    finally:
        db.conn.close()
    # an older app that knows neither: the database is too new for it
    with pytest.raises(SchemaTooNew):
        store.open_database(db_path, dek, backups)


def test_a_database_from_before_the_applied_table_counts_every_number_up_to_its_version(
    db_path: Path, dek: bytearray, backups: Path
) -> None:
    old = store.open_database(db_path, dek, backups, target=3)
    with old.conn:
        old.execute(f"DROP TABLE {store.APPLIED_TABLE}")  # as the runner before it left it
    assert store.applied_versions(old) == {1, 2, 3}
    old.conn.close()
    new = store.open_database(db_path, dek, backups)
    try:
        assert store.applied_versions(new) == {m.version for m in MIGRATIONS}
        assert store.schema_version(new) == LATEST_VERSION
    finally:
        new.conn.close()


def test_split_script_keeps_trigger_bodies_whole() -> None:
    script = """
        CREATE TABLE t (x);
        CREATE TRIGGER t_no_update BEFORE UPDATE ON t
            BEGIN SELECT RAISE(ABORT, 'no; really'); SELECT 1; END;
        INSERT INTO t VALUES (';');
    """
    statements = list(split_script(script))
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


def test_split_script_splits_statements_sharing_a_line() -> None:
    statements = list(split_script("CREATE TABLE a (x); INSERT INTO a VALUES ('1;2'); -- c;\n"))
    assert statements[:2] == ["CREATE TABLE a (x);", "INSERT INTO a VALUES ('1;2');"]
    conn = sqlcipher3.connect(":memory:")
    run_script(sqlite_utils.Database(conn), "CREATE TABLE a (x); INSERT INTO a VALUES (';');")
    assert conn.execute("SELECT x FROM a").fetchall() == [(";",)]
    conn.close()


# -- sqlite-utils on sqlcipher3: the exception bridge -----------------------------------------


def test_bridge_makes_sqlite_utils_work_on_the_encrypted_db(db: sqlite_utils.Database) -> None:
    assert isinstance(db.conn, sqlcipher3.Connection)
    db["missing"].drop(ignore=True)  # type: ignore[union-attr]

    table = db["things"]
    table.insert({"id": 1, "name": "a"}, pk="id")  # type: ignore[union-attr]
    table.update(1, {"new_col": 1}, alter=True)  # type: ignore[union-attr]
    assert "new_col" in table.columns_dict
    assert db.execute("SELECT new_col FROM things WHERE id = 1").fetchone() == (1,)

    assert db.cached_counts() == {}

    first = table.create_index(["name"], find_unique_name=True)  # type: ignore[union-attr]
    table.create_index(["name"], find_unique_name=True)  # type: ignore[union-attr]
    assert first is not None
    names = [i.name for i in table.indexes]  # type: ignore[union-attr]
    assert len(names) == 2 and len(set(names)) == 2


def test_without_the_bridge_sqlite_utils_breaks(tmp_path: Path) -> None:
    """The same call in a process that never installs the bridge: proves the bug is real."""
    assert not issubclass(sqlcipher3.OperationalError, sqlite3.OperationalError)
    code = textwrap.dedent(
        f"""
        import sys
        import sqlcipher3, sqlite_utils
        assert "fieldclient.storage.dbbridge" not in sys.modules
        conn = sqlcipher3.connect({str(tmp_path / "raw.db")!r})
        conn.execute("PRAGMA key = \\"x'{"11" * 32}'\\"")
        db = sqlite_utils.Database(conn)
        try:
            db["missing"].drop(ignore=True)
        except Exception as exc:
            print(type(exc).__module__, type(exc).__name__)
            sys.exit(0)
        print("no error")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sqlcipher3.dbapi2", "OperationalError"]
