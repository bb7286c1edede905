"""Numbered schema migrations, applied in order on ``PRAGMA user_version``.

Each migration runs in one transaction together with the version bump, after a
backup of the database file; a failure rolls back and leaves the old version.
Append new migrations; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from fieldclient.sqlscript import run_script


@dataclass(frozen=True)
class Migration:
    """``apply`` runs inside the migration's transaction and must not commit: use
    :func:`run_script` or ``db.execute``, not sqlite-utils' table methods, which
    wrap themselves in ``with conn:`` and commit (``migrate`` then refuses)."""

    version: int
    description: str
    apply: Callable[[sqlite_utils.Database], None]


def _core_tables(db: sqlite_utils.Database) -> None:
    run_script(db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
        CREATE TABLE outbox (
            op_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            record_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
        );
        CREATE INDEX outbox_state ON outbox(state, created_at);
        CREATE TABLE blobs (
            blob_id TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            media_type TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        """
    )


def _households(db: sqlite_utils.Database) -> None:
    run_script(db,
        """
        CREATE TABLE households (
            id TEXT PRIMARY KEY,
            grid_id TEXT,
            head_name TEXT NOT NULL,
            address TEXT NOT NULL,
            category TEXT NOT NULL DEFAULT 'ordinary'
                CHECK (category IN ('ordinary', 'hardship', 'key')),
            phone TEXT,
            id_number TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            version INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX households_grid ON households(grid_id);
        CREATE TABLE members (
            id TEXT PRIMARY KEY,
            household_id TEXT NOT NULL REFERENCES households(id),
            name TEXT NOT NULL,
            relation TEXT,
            id_number TEXT,
            phone TEXT,
            residence TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX members_household ON members(household_id);
        """
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "core: meta, append-only audit log, outbox, blob index", _core_tables),
    Migration(2, "household registry and members", _households),
)

LATEST_VERSION = MIGRATIONS[-1].version
