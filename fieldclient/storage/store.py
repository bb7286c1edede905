"""The encrypted database: SQLCipher 4 through sqlcipher3, used via sqlite-utils.

Keyed with a raw 256-bit key derived from the DEK (no per-open passphrase KDF:
the PIN's Argon2id already paid for that), WAL journal, temp data in memory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

import sqlcipher3
import sqlite_utils

from fieldclient.errors import DatabaseLocked, MigrationFailed, SchemaTooNew
from fieldclient.fsutil import fsync_dir
from fieldclient.security import crypto
from fieldclient.storage import dbbridge
from fieldclient.storage.migrations import MIGRATIONS, Migration

KEEP_BACKUPS = 3


def database_key(dek: bytes | bytearray) -> bytearray:
    """The SQLCipher key, in a bytearray the caller wipes (:func:`crypto.wipe`)."""
    return crypto.subkey_into(dek, b"gridfield sqlcipher v1")


_HEX_DIGITS = b"0123456789abcdef"


def _raw_key_text(key: bytes | bytearray) -> bytearray:
    """SQLCipher's raw-key form ``x'<hex>'``, built in a bytearray (no ``str`` copy)."""
    text = bytearray(3 + 2 * len(key))
    text[0:2] = b"x'"
    for i, byte in enumerate(key):
        text[2 + 2 * i] = _HEX_DIGITS[byte >> 4]
        text[3 + 2 * i] = _HEX_DIGITS[byte & 15]
    text[-1] = ord("'")
    return text


def connect(path: Path, key: bytes | bytearray) -> sqlcipher3.Connection:
    """Open (or create) an encrypted database; a wrong key is a clear error.

    The key goes through ``sqlite3_key`` from a bytearray that is wiped at once: a
    ``PRAGMA key`` statement would leave its text in Python strings and the statement
    cache. SQLCipher wipes its own key material when a connection closes.

    ``cipher_memory_security`` (process-wide in SQLCipher) would also zero every block
    SQLite frees, the decrypted page cache included. It is off unless
    ``GRIDFIELD_SQLCIPHER_MEMORY_SECURITY=on``: measured, it made the first pull of
    100,000 households 5× slower (109 s against 19 s) and the storage benchmark 5.7×
    (writes) and 8× (reads) slower than plain SQLite. Without it, decrypted pages a
    closed connection freed may stay in the heap until reused; the process is not
    dumpable and writes no core files (``fieldclient.security.hardening``), and ending
    the unlocked process on lock is the way to close that too (issue 12).
    """
    dbbridge.install()
    conn = sqlcipher3.connect(str(path), check_same_thread=False)
    secure = os.environ.get("GRIDFIELD_SQLCIPHER_MEMORY_SECURITY", "off").lower() == "on"
    conn.execute(f"PRAGMA cipher_memory_security = {'ON' if secure else 'OFF'}")
    text = _raw_key_text(key)
    try:
        conn.set_key(text)
    finally:
        crypto.wipe(text)
    # SHA-256 page HMACs: CPUs with SHA extensions (tablets included) do them far
    # faster than SHA-512, and 256-bit integrity is ample. Part of the file format.
    conn.execute("PRAGMA cipher_hmac_algorithm = HMAC_SHA256")
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError as exc:
        conn.close()
        from fieldclient.fsutil import storage_full

        full = storage_full(path.parent, exc)  # a full disk, not a wrong key
        if full is not None:
            raise full from exc
        raise DatabaseLocked() from exc
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: what the worker saw saved survives the battery dying a moment later (with
    # NORMAL the last WAL commits can roll back on power loss).
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    restrict_files(path)
    return conn


def restrict_files(path: Path) -> None:
    """The database and its WAL and shared-memory files: 0600 (whatever the umask was)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def backup(db: sqlite_utils.Database, path: Path, backups_dir: Path, label: str) -> Path:
    """Copy the (already encrypted) database file after folding in the WAL."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    backups_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = backups_dir / f"{path.stem}-{label}-{time.strftime('%Y%m%dT%H%M%S')}.db"
    shutil.copyfile(path, target)
    os.chmod(target, 0o600)
    with open(target, "rb") as fh:
        os.fsync(fh.fileno())
    fsync_dir(backups_dir)
    old = sorted(backups_dir.glob(f"{path.stem}-*.db"), key=lambda p: p.stat().st_mtime)
    for stale in old[:-KEEP_BACKUPS]:
        stale.unlink(missing_ok=True)
    return target


APPLIED_TABLE = "schema_migrations"


def applied_versions(db: sqlite_utils.Database,
                     migrations: tuple[Migration, ...] = MIGRATIONS) -> set[int]:
    """The migration numbers this database has had. Kept in ``schema_migrations`` (one
    row per migration, written in the migration's own transaction); a database from
    before that table (no gaps then) has had every number up to ``user_version``."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                  (APPLIED_TABLE,)).fetchone() is not None:
        return {int(r[0]) for r in db.execute(f"SELECT version FROM {APPLIED_TABLE}")}
    current = schema_version(db)
    return {m.version for m in migrations if m.version <= current}


def migrate(
    db: sqlite_utils.Database,
    path: Path,
    backups_dir: Path,
    migrations: tuple[Migration, ...] = MIGRATIONS,
    target: int | None = None,
) -> list[int]:
    """Bring the schema to ``target`` (default: latest); returns versions applied.

    Every known migration this database has not had runs, in order, also one numbered
    below the highest applied (numbers may have gaps: a migration numbered while another
    was being written fills its gap later); ``user_version`` is the highest applied."""
    latest = migrations[-1].version
    target = latest if target is None else target
    current = schema_version(db)
    if current > latest:
        raise SchemaTooNew(found=current, supported=latest)
    done = applied_versions(db, migrations)
    unknown = done - {m.version for m in migrations}
    if unknown:  # a newer app filled a gap this one does not know
        raise SchemaTooNew(found=max(unknown), supported=latest)
    pending = [m for m in migrations if m.version not in done and m.version <= target]
    if not pending:
        return []
    backup_path = backup(db, path, backups_dir, f"v{current}") if current > 0 else None
    conn = db.conn
    previous_isolation = conn.isolation_level
    conn.isolation_level = None  # we issue BEGIN/COMMIT ourselves
    applied: list[int] = []
    try:
        for migration in pending:
            conn.execute("BEGIN IMMEDIATE")
            try:
                _record_applied(db, done, migration.version)
                migration.apply(db)
                if not conn.in_transaction:
                    # sqlite-utils' table methods (create, insert...) run inside
                    # ``with conn:``, which COMMITs: the migration is no longer atomic.
                    raise RuntimeError(
                        "migration ended its own transaction; use run_script/db.execute"
                    )
                conn.execute(
                    f"PRAGMA user_version = {max(schema_version(db), int(migration.version))}")
                conn.execute("COMMIT")
            except Exception as exc:
                if conn.in_transaction:  # else ROLLBACK itself fails and hides the cause
                    conn.execute("ROLLBACK")
                raise MigrationFailed(
                    version=migration.version, backup=str(backup_path or "-")
                ) from exc
            done.add(migration.version)
            applied.append(migration.version)
    finally:
        conn.isolation_level = previous_isolation
    return applied


def _record_applied(db: sqlite_utils.Database, done: set[int], version: int) -> None:
    """In the migration's transaction: the table of applied numbers (made with the
    numbers already applied, the first time) and this one."""
    db.execute(f"CREATE TABLE IF NOT EXISTS {APPLIED_TABLE} (version INTEGER PRIMARY KEY)")
    db.conn.executemany(f"INSERT OR IGNORE INTO {APPLIED_TABLE} (version) VALUES (?)",
                        [(v,) for v in sorted(done | {version})])


def open_database(
    path: Path,
    dek: bytes | bytearray,
    backups_dir: Path,
    migrations: tuple[Migration, ...] = MIGRATIONS,
    target: int | None = None,
) -> sqlite_utils.Database:
    key = database_key(dek)
    try:
        conn = connect(path, key)
    finally:
        crypto.wipe(key)
    db = sqlite_utils.Database(conn)
    try:
        migrate(db, path, backups_dir, migrations, target)
    except BaseException:
        conn.close()
        raise
    return db
