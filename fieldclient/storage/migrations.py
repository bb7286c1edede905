"""Numbered schema migrations, applied in order on ``PRAGMA user_version``.

Each migration runs in one transaction together with the version bump, after a
backup of the database file; a failure rolls back and leaves the old version.
Append new migrations; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from fieldclient.storage.sqlscript import run_script


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


def _sync(db: sqlite_utils.Database) -> None:
    """Sync engine state: op results, server copies of households, conflicts, feed rows.

    Enrollment and cursor facts live in ``meta`` under ``sync.*`` keys (the device's
    Ed25519 private key among them: the database is encrypted, the key never is in
    clear on disk).
    """
    run_script(db,
        """
        ALTER TABLE outbox ADD COLUMN reason TEXT;
        ALTER TABLE outbox ADD COLUMN result TEXT;
        ALTER TABLE outbox ADD COLUMN done_at REAL;
        ALTER TABLE households ADD COLUMN synced TEXT;
        CREATE TABLE sync_conflicts (
            id TEXT PRIMARY KEY,
            household_id TEXT NOT NULL,
            grid_id TEXT,
            field TEXT NOT NULL,
            kept_value TEXT,
            other_value TEXT,
            kept_device TEXT,
            kept_person INTEGER,
            other_device TEXT,
            other_person INTEGER,
            status TEXT NOT NULL,
            choice TEXT,
            resolved_by INTEGER,
            created_at TEXT,
            resolved_at TEXT,
            server_seq INTEGER NOT NULL,
            local_choice TEXT
        );
        CREATE INDEX sync_conflicts_status ON sync_conflicts(status);
        CREATE TABLE sync_events (
            id TEXT PRIMARY KEY,
            grid_id TEXT,
            category TEXT,
            description TEXT,
            status TEXT NOT NULL,
            updated_at TEXT,
            server_seq INTEGER NOT NULL
        );
        CREATE TABLE sync_tasks (
            id TEXT PRIMARY KEY,
            grid_id TEXT,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            due TEXT,
            created_at TEXT,
            server_seq INTEGER NOT NULL
        );
        CREATE TABLE photo_uploads (
            sha256 TEXT PRIMARY KEY,
            blob_id TEXT NOT NULL,
            size INTEGER NOT NULL,
            offset INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT 'pending',
            updated_at REAL NOT NULL
        );
        """
    )


def _patrols(db: sqlite_utils.Database) -> None:
    """Patrols (issue 4): signed checklist versions, patrols with their draft item
    results and live fixes (saved as they happen), and the immutable records a
    finished patrol leaves: checklist results, tracks and their segments."""
    immutable = ("checklists", "checklist_results", "tracks", "track_segments")
    run_script(db,
        """
        CREATE TABLE checklists (
            version INTEGER PRIMARY KEY,
            checklist_id TEXT NOT NULL,
            definition BLOB NOT NULL,
            signature TEXT NOT NULL,
            source TEXT NOT NULL,
            installed_at REAL NOT NULL
        );
        CREATE TABLE patrols (
            id TEXT PRIMARY KEY,
            grid_id TEXT NOT NULL,
            checklist_version INTEGER NOT NULL REFERENCES checklists(version),
            worker_id TEXT,
            state TEXT NOT NULL DEFAULT 'active'
                CHECK (state IN ('active', 'finished', 'abandoned')),
            started_at REAL NOT NULL,
            finished_at REAL,
            summary TEXT
        );
        CREATE UNIQUE INDEX patrols_one_active ON patrols(state) WHERE state = 'active';
        CREATE INDEX patrols_grid ON patrols(grid_id, finished_at);
        CREATE TRIGGER patrols_closed_immutable BEFORE UPDATE ON patrols
            WHEN OLD.state <> 'active'
            BEGIN SELECT RAISE(ABORT, 'a finished patrol cannot change'); END;
        CREATE TRIGGER patrols_no_delete BEFORE DELETE ON patrols
            BEGIN SELECT RAISE(ABORT, 'patrols are never deleted'); END;
        CREATE TABLE patrol_item_drafts (
            patrol_id TEXT NOT NULL REFERENCES patrols(id),
            code TEXT NOT NULL,
            result TEXT
                CHECK (result IS NULL OR result IN ('normal', 'problem', 'not_applicable')),
            note TEXT NOT NULL DEFAULT '',
            photos TEXT NOT NULL DEFAULT '[]',
            updated_at REAL NOT NULL,
            PRIMARY KEY (patrol_id, code)
        );
        CREATE TRIGGER patrol_item_drafts_insert_open BEFORE INSERT ON patrol_item_drafts
            WHEN (SELECT state FROM patrols WHERE id = NEW.patrol_id) IS NOT 'active'
            BEGIN SELECT RAISE(ABORT, 'patrol is not active'); END;
        CREATE TRIGGER patrol_item_drafts_update_open BEFORE UPDATE ON patrol_item_drafts
            WHEN (SELECT state FROM patrols WHERE id = OLD.patrol_id) IS NOT 'active'
            BEGIN SELECT RAISE(ABORT, 'patrol is not active'); END;
        CREATE TABLE patrol_fixes (
            id INTEGER PRIMARY KEY,
            patrol_id TEXT NOT NULL REFERENCES patrols(id),
            t REAL NOT NULL,
            lat REAL NOT NULL,
            lon REAL NOT NULL,
            alt REAL,
            accuracy_m REAL,
            hdop REAL,
            speed_mps REAL
        );
        CREATE INDEX patrol_fixes_patrol ON patrol_fixes(patrol_id, id);
        CREATE TRIGGER patrol_fixes_insert_open BEFORE INSERT ON patrol_fixes
            WHEN (SELECT state FROM patrols WHERE id = NEW.patrol_id) IS NOT 'active'
            BEGIN SELECT RAISE(ABORT, 'patrol is not active'); END;
        CREATE TABLE checklist_results (
            id TEXT PRIMARY KEY,
            patrol_id TEXT NOT NULL REFERENCES patrols(id),
            code TEXT NOT NULL,
            result TEXT NOT NULL CHECK (result IN ('normal', 'problem', 'not_applicable')),
            note TEXT NOT NULL,
            photos TEXT NOT NULL,
            recorded_at REAL NOT NULL,
            UNIQUE (patrol_id, code)
        );
        CREATE TABLE tracks (
            id TEXT PRIMARY KEY,
            patrol_id TEXT REFERENCES patrols(id),
            grid_id TEXT,
            source TEXT NOT NULL CHECK (source IN ('live', 'nmea', 'gpx')),
            started_at REAL,
            ended_at REAL,
            points_read INTEGER NOT NULL,
            points_kept INTEGER NOT NULL,
            distance_m REAL NOT NULL,
            tolerance_m REAL NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX tracks_patrol ON tracks(patrol_id);
        CREATE TABLE track_segments (
            id TEXT PRIMARY KEY,
            track_id TEXT NOT NULL REFERENCES tracks(id),
            seq INTEGER NOT NULL,
            part INTEGER NOT NULL,
            points TEXT NOT NULL,
            UNIQUE (track_id, seq)
        );
        """
    )
    for table in immutable:  # insert-only: a correction is a new record
        run_script(db,
            f"""
            CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} are insert-only'); END;
            CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} are insert-only'); END;
            """
        )


def _photos(db: sqlite_utils.Database) -> None:
    """Evidence photos (issue 4): the final JPEG and its thumbnail are encrypted
    blobs; this row is their immutable metadata (``photo.meta`` in the outbox)."""
    run_script(db,
        """
        CREATE TABLE photos (
            id TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            blob_id TEXT NOT NULL,
            thumb_blob_id TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            thumb_width INTEGER NOT NULL,
            thumb_height INTEGER NOT NULL,
            captured_at REAL NOT NULL,
            tz_offset_minutes INTEGER NOT NULL,
            lat REAL,
            lon REAL,
            place TEXT,
            grid_id TEXT,
            grid_name TEXT,
            worker TEXT,
            device_id TEXT NOT NULL,
            source_sha256 TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX photos_sha256 ON photos(sha256);
        CREATE INDEX photos_source ON photos(source_sha256);
        CREATE INDEX photos_captured ON photos(captured_at);
        CREATE TRIGGER photos_no_update BEFORE UPDATE ON photos
            BEGIN SELECT RAISE(ABORT, 'photos are insert-only'); END;
        """
    )


def _member_sync(db: sqlite_utils.Database) -> None:
    """Member sync (issue 3): members carry the server version their edits are based on;
    a conflict may be about a member (``member_id``; ``field`` a member field or
    ``removed``)."""
    run_script(db,
        """
        ALTER TABLE members ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE members ADD COLUMN updated_at REAL;
        ALTER TABLE sync_conflicts ADD COLUMN member_id TEXT;
        """
    )


def _field_work(db: sqlite_utils.Database) -> None:
    """Field work (issue 5): visits with a per-household summary for quotas, the
    device's own event reports and their follow-ups, task reading state and answers,
    the server's per-district settings (quota rules, event classes), and the extra
    facts pulled about events (history, place, household).

    Visits, events, follow-ups and answers are insert-only: a correction is a new
    record (``visits.corrects`` names the visit it replaces). ``visit_summary`` is
    kept by a trigger so the Today page never has to scan a year of visits; a
    correction and a training (simulated) visit do not count as another visit.
    """
    run_script(db,
        """
        CREATE TABLE visits (
            id TEXT PRIMARY KEY,
            household_id TEXT NOT NULL,
            grid_id TEXT,
            visit_type TEXT NOT NULL
                CHECK (visit_type IN ('home', 'phone', 'revisit', 'other')),
            visited_at REAL NOT NULL,
            tz_offset_minutes INTEGER NOT NULL DEFAULT 480,
            people_met TEXT NOT NULL DEFAULT '',
            situation TEXT NOT NULL DEFAULT '',
            needs TEXT NOT NULL DEFAULT '',
            follow_up TEXT NOT NULL DEFAULT '',
            follow_up_due TEXT,
            photos TEXT NOT NULL DEFAULT '[]',
            lat REAL,
            lon REAL,
            accuracy_m REAL,
            corrects TEXT REFERENCES visits(id),
            worker TEXT,
            device_id TEXT,
            training INTEGER NOT NULL DEFAULT 0,
            origin TEXT NOT NULL DEFAULT 'local' CHECK (origin IN ('local', 'server')),
            created_at REAL NOT NULL
        );
        CREATE INDEX visits_household ON visits(household_id, visited_at);
        CREATE INDEX visits_time ON visits(visited_at);
        CREATE INDEX visits_corrects ON visits(corrects) WHERE corrects IS NOT NULL;
        CREATE TABLE visit_summary (
            household_id TEXT PRIMARY KEY,
            last_visit_at REAL NOT NULL,
            visits INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX visit_summary_last ON visit_summary(last_visit_at);
        CREATE TRIGGER visits_summary AFTER INSERT ON visits
            WHEN NEW.training = 0
            BEGIN
                INSERT INTO visit_summary (household_id, last_visit_at, visits)
                VALUES (NEW.household_id, NEW.visited_at, CASE WHEN NEW.corrects IS NULL
                        THEN 1 ELSE 0 END)
                ON CONFLICT(household_id) DO UPDATE SET
                    last_visit_at = max(last_visit_at, excluded.last_visit_at),
                    visits = visits + excluded.visits;
            END;
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            grid_id TEXT,
            category TEXT NOT NULL,
            description TEXT NOT NULL,
            urgency TEXT NOT NULL DEFAULT 'normal'
                CHECK (urgency IN ('normal', 'urgent', 'emergency')),
            household_id TEXT,
            address TEXT,
            lat REAL,
            lon REAL,
            accuracy_m REAL,
            photos TEXT NOT NULL DEFAULT '[]',
            source TEXT,
            reported_at REAL NOT NULL,
            training INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX events_household ON events(household_id) WHERE household_id IS NOT NULL;
        CREATE INDEX events_reported ON events(reported_at);
        CREATE TABLE event_followups (
            id TEXT PRIMARY KEY,
            event_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('supplement', 'verify')),
            outcome TEXT CHECK (outcome IS NULL OR outcome IN ('passed', 'failed')),
            text TEXT NOT NULL DEFAULT '',
            photos TEXT NOT NULL DEFAULT '[]',
            lat REAL,
            lon REAL,
            created_at REAL NOT NULL
        );
        CREATE INDEX event_followups_event ON event_followups(event_id, created_at);
        ALTER TABLE sync_events ADD COLUMN history TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE sync_events ADD COLUMN created_at TEXT;
        ALTER TABLE sync_events ADD COLUMN reporter_id INTEGER;
        ALTER TABLE sync_events ADD COLUMN household_id TEXT;
        ALTER TABLE sync_events ADD COLUMN address TEXT;
        ALTER TABLE sync_events ADD COLUMN urgency TEXT;
        ALTER TABLE sync_conflicts ADD COLUMN kept_person_name TEXT;
        ALTER TABLE sync_conflicts ADD COLUMN other_person_name TEXT;
        CREATE TABLE task_state (
            task_id TEXT PRIMARY KEY,
            read_at REAL,
            acknowledged_at REAL
        );
        CREATE TABLE task_answers (
            id TEXT PRIMARY KEY,
            task_id TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            photos TEXT NOT NULL DEFAULT '[]',
            event_id TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX task_answers_task ON task_answers(task_id, created_at);
        CREATE TABLE server_config (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            server_seq INTEGER NOT NULL
        );
        """
    )
    for table in ("visits", "events", "event_followups", "task_answers"):
        run_script(db,
            f"""
            CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} are insert-only'); END;
            CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} are insert-only'); END;
            """
        )


def _household_search(db: sqlite_utils.Database) -> None:
    """Household search (issue 5): one row of lower-case search keys per household
    (names with pinyin and initials, address, phone and ID tails, category and tags
    for the filters; layout in :mod:`fieldclient.fieldwork.search_keys`).

    The keys are computed in Python (pinyin), lazily, by
    :func:`fieldclient.fieldwork.search.refresh_index`: a trigger calling Python for each of the
    ~400,000 rows of a first pull cost that pull several seconds (measured: ~+30 %),
    so the triggers here are plain SQL and only say what is stale. New rows are found
    by rowid above the high-water marks in ``household_search_state``; a changed or
    removed row queues its household in ``household_search_dirty`` (a sequence, so a
    refresh clears only what it has read). Deleting the row with the highest rowid
    lowers the mark (SQLite hands that rowid out again) and counts in ``lowered``, so
    a refresh running meanwhile does not raise it back. Bulk inserts fire nothing.
    ``household_search_log`` lists the households each refresh rewrote, so a search
    cache on another connection knows what to re-read.
    """
    run_script(db,
        """
        CREATE TABLE household_search (
            household_id TEXT PRIMARY KEY,
            category TEXT NOT NULL,
            tags TEXT NOT NULL,
            sort_key TEXT NOT NULL,
            names TEXT NOT NULL,
            place TEXT NOT NULL,
            digits TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX household_search_sort ON household_search(sort_key);
        CREATE TABLE household_search_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            households_seen INTEGER NOT NULL,
            members_seen INTEGER NOT NULL,
            lowered INTEGER NOT NULL
        );
        INSERT INTO household_search_state (id, households_seen, members_seen, lowered)
            VALUES (1, 0, 0, 0);
        CREATE TABLE household_search_dirty (
            seq INTEGER PRIMARY KEY,
            household_id TEXT NOT NULL
        );
        CREATE TABLE household_search_log (
            seq INTEGER PRIMARY KEY,
            household_id TEXT NOT NULL
        );
        CREATE TRIGGER households_search_update AFTER UPDATE OF
                id, head_name, address, phone, id_number, category, tags ON households
            WHEN OLD.id IS NOT NEW.id OR OLD.head_name IS NOT NEW.head_name
                OR OLD.address IS NOT NEW.address OR OLD.phone IS NOT NEW.phone
                OR OLD.id_number IS NOT NEW.id_number OR OLD.category IS NOT NEW.category
                OR OLD.tags IS NOT NEW.tags
            BEGIN
                INSERT INTO household_search_dirty (household_id) VALUES (OLD.id);
                INSERT INTO household_search_dirty (household_id) VALUES (NEW.id);
            END;
        CREATE TRIGGER households_search_delete AFTER DELETE ON households BEGIN
            INSERT INTO household_search_dirty (household_id) VALUES (OLD.id);
            UPDATE household_search_state
                SET households_seen = min(households_seen, OLD.rowid - 1), lowered = lowered + 1
                WHERE OLD.rowid > (SELECT coalesce(max(rowid), 0) FROM households);
        END;
        CREATE TRIGGER members_search_update AFTER UPDATE OF
                household_id, name, phone, id_number ON members
            WHEN OLD.household_id IS NOT NEW.household_id OR OLD.name IS NOT NEW.name
                OR OLD.phone IS NOT NEW.phone OR OLD.id_number IS NOT NEW.id_number
            BEGIN
                INSERT INTO household_search_dirty (household_id) VALUES (OLD.household_id);
                INSERT INTO household_search_dirty (household_id) VALUES (NEW.household_id);
            END;
        CREATE TRIGGER members_search_delete AFTER DELETE ON members BEGIN
            INSERT INTO household_search_dirty (household_id) VALUES (OLD.household_id);
            UPDATE household_search_state
                SET members_seen = min(members_seen, OLD.rowid - 1), lowered = lowered + 1
                WHERE OLD.rowid > (SELECT coalesce(max(rowid), 0) FROM members);
        END;
        """
    )


def _quota_households(db: sqlite_utils.Database) -> None:
    """Quota figures without reading the registry (issue 5): per household only
    what the due rules need (category, registration time, last counted visit), kept
    by plain SQL triggers, with a covering index so the Today page counts and lists
    due households from the index alone: scanning ``households`` joined with
    ``visit_summary`` under SQLCipher took 1–2 s for 100,000 households.

    Rows are keyed by the household's rowid (like ``household_search_state``'s marks:
    nothing here VACUUMs), which keeps table and index small and a first pull's
    inserts cheap: one appended row and one index entry per household. A plain
    INSERT, not INSERT OR REPLACE: REPLACE seeks before every insert (measured +1 s
    per 100,000 households); households are never written with REPLACE (which would
    fire no delete trigger: the stale row would make the insert fail, not go unseen).
    ``last_visit_at`` mirrors ``visit_summary`` (NULL: never visited), also for a
    visit that arrived before its household.
    """
    run_script(db,
        """
        CREATE TABLE quota_households (
            household_rowid INTEGER PRIMARY KEY,
            category TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_visit_at REAL
        );
        INSERT INTO quota_households (household_rowid, category, created_at, last_visit_at)
            SELECT h.rowid, h.category, h.created_at, vs.last_visit_at
            FROM households h LEFT JOIN visit_summary vs ON vs.household_id = h.id;
        CREATE INDEX quota_households_due
            ON quota_households(category, last_visit_at, created_at);
        CREATE TRIGGER households_quota_insert AFTER INSERT ON households BEGIN
            INSERT INTO quota_households
                (household_rowid, category, created_at, last_visit_at)
                VALUES (NEW.rowid, NEW.category, NEW.created_at,
                        (SELECT last_visit_at FROM visit_summary WHERE household_id = NEW.id));
        END;
        CREATE TRIGGER households_quota_update AFTER UPDATE OF id, category, created_at
                ON households
            WHEN OLD.id IS NOT NEW.id OR OLD.category IS NOT NEW.category
                OR OLD.created_at IS NOT NEW.created_at
            BEGIN
                UPDATE quota_households SET category = NEW.category,
                    created_at = NEW.created_at,
                    last_visit_at = (SELECT last_visit_at FROM visit_summary
                                     WHERE household_id = NEW.id)
                    WHERE household_rowid = NEW.rowid;
            END;
        CREATE TRIGGER households_quota_delete AFTER DELETE ON households BEGIN
            DELETE FROM quota_households WHERE household_rowid = OLD.rowid;
        END;
        CREATE TRIGGER visit_summary_quota_insert AFTER INSERT ON visit_summary BEGIN
            UPDATE quota_households SET last_visit_at = NEW.last_visit_at
                WHERE household_rowid =
                    (SELECT rowid FROM households WHERE id = NEW.household_id);
        END;
        CREATE TRIGGER visit_summary_quota_update AFTER UPDATE OF last_visit_at
                ON visit_summary
            WHEN OLD.last_visit_at IS NOT NEW.last_visit_at
            BEGIN
                UPDATE quota_households SET last_visit_at = NEW.last_visit_at
                    WHERE household_rowid =
                        (SELECT rowid FROM households WHERE id = NEW.household_id);
            END;
        """
    )


def _version_skew(db: sqlite_utils.Database) -> None:
    """Version skew (issue 10): nothing from the centre or for it is lost when the
    device and the server run different versions.

    ``sync_held`` keeps pulled rows this device could not apply, raw, in this
    encrypted database: ``reason`` ``unknown_kind`` (a kind newer than the app: applied
    after the app's upgrade) or ``failed`` (applying it raised, e.g. a CHECK
    constraint: retried once per app version, ``tried_version``). The cursor moves on
    past them, so one such row never stops the rest of the feed. Several rows of one
    record may be held; they are applied oldest first, and a newer row of the record
    that was applied supersedes the older held ones.

    ``outbox.retry_later_at``: when the server last answered an op ``retry_later``
    (it cannot handle that kind yet); the op stays ``pending`` and goes again at a
    later sync.
    """
    run_script(db,
        """
        CREATE TABLE sync_held (
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            record_id TEXT NOT NULL,
            data TEXT NOT NULL,
            reason TEXT NOT NULL CHECK (reason IN ('unknown_kind', 'failed')),
            error TEXT,
            held_at REAL NOT NULL,
            tried_version TEXT NOT NULL,
            tries INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (seq, kind, record_id)
        );
        CREATE INDEX sync_held_record ON sync_held(kind, record_id);
        ALTER TABLE outbox ADD COLUMN retry_later_at REAL;
        """
    )


def _review(db: sqlite_utils.Database) -> None:
    """Review figures (issue 13): a household's known position as the centre sends it
    (WGS-84; the far-from-home check), and who made a pulled visit (``person_id``, the
    centre's person; NULL on the device's own visits: its enrolled person). The month's
    visits are read by time (``visits_time``), so no new index."""
    _visit_person(db)
    run_script(db,
        """
        ALTER TABLE households ADD COLUMN lat REAL;
        ALTER TABLE households ADD COLUMN lon REAL;
        """
    )


def _visit_person(db: sqlite_utils.Database) -> None:
    """``visits.person_id`` (the centre's person who made a pulled visit), added by
    whichever of migrations 11 and 12 runs first (they may arrive in either order)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(visits)")}
    if "person_id" not in columns:
        db.execute("ALTER TABLE visits ADD COLUMN person_id INTEGER")


def _review_access(db: sqlite_utils.Database) -> None:
    """Review access (issue 13; number 12, 11 being another change's: the runner applies
    every number it has not had, so the gap fills whenever 11 arrives).

    ``reviews``: verdicts on visits and patrols (approved, has issues, rejected, with a
    comment), the device's own (``origin = 'local'``, also queued as ``review.create``)
    and pulled ones (``origin = 'server'``); insert-only: a new verdict is a new row, the
    latest by ``reviewed_at`` is a record's state. ``sync_patrols``: other devices'
    finished patrols with their results and simplified track, and ``sync_devices``: the
    devices of the grid's workers with their last contact (both pulled by leaders and
    supervisors only). ``visits.person_id``: who recorded a pulled visit.
    """
    _visit_person(db)
    run_script(db,
        """
        CREATE TABLE reviews (
            id TEXT PRIMARY KEY,
            target_kind TEXT NOT NULL CHECK (target_kind IN ('visit', 'patrol')),
            target_id TEXT NOT NULL,
            grid_id TEXT,
            state TEXT NOT NULL CHECK (state IN ('approved', 'has_issues', 'rejected')),
            comment TEXT NOT NULL DEFAULT '',
            reviewer_id INTEGER,
            reviewer_name TEXT,
            reviewer_role TEXT,
            worker_id INTEGER,
            household_id TEXT,
            reviewed_at REAL NOT NULL,
            origin TEXT NOT NULL CHECK (origin IN ('local', 'server')),
            server_seq INTEGER,
            created_at REAL NOT NULL
        );
        CREATE INDEX reviews_target ON reviews(target_kind, target_id, reviewed_at);
        CREATE INDEX reviews_worker ON reviews(worker_id, reviewed_at);
        CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews
            BEGIN SELECT RAISE(ABORT, 'reviews are insert-only'); END;
        CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews
            BEGIN SELECT RAISE(ABORT, 'reviews are insert-only'); END;
        CREATE TABLE sync_patrols (
            id TEXT PRIMARY KEY,
            grid_id TEXT NOT NULL,
            person_id INTEGER NOT NULL,
            device_id TEXT,
            started_at REAL,
            finished_at REAL,
            duration_s REAL,
            distance_m REAL,
            checklist_version INTEGER,
            items_total INTEGER,
            items_done INTEGER,
            problems INTEGER,
            results TEXT NOT NULL DEFAULT '[]',
            track TEXT NOT NULL DEFAULT '[]',
            data TEXT NOT NULL,
            server_seq INTEGER NOT NULL
        );
        CREATE INDEX sync_patrols_person ON sync_patrols(person_id, finished_at);
        CREATE INDEX sync_patrols_grid ON sync_patrols(grid_id, finished_at);
        CREATE TABLE sync_devices (
            id TEXT PRIMARY KEY,
            person_id INTEGER NOT NULL,
            person_name TEXT,
            role TEXT,
            grid_ids TEXT NOT NULL DEFAULT '[]',
            name TEXT,
            status TEXT,
            enrolled_at TEXT,
            last_contact TEXT,
            server_seq INTEGER NOT NULL
        );
        CREATE INDEX sync_devices_person ON sync_devices(person_id);
        CREATE INDEX visits_person ON visits(person_id, visited_at);
        """
    )


def _quota_grids(db: sqlite_utils.Database) -> None:
    """Each household's grid and known position beside its quota facts (issue 13): the
    Review page counts a month's visited and overdue households per grid and category
    from ``quota_households`` alone, and finds the position of a visited household
    there (keyed by rowid, through the id index alone), where reading the registry's
    wide rows took 100-200 ms more per month under SQLCipher (100,000 households).
    Kept by the same triggers."""
    run_script(db,
        """
        ALTER TABLE quota_households ADD COLUMN grid_id TEXT;
        ALTER TABLE quota_households ADD COLUMN lat REAL;
        ALTER TABLE quota_households ADD COLUMN lon REAL;
        UPDATE quota_households SET (grid_id, lat, lon) =
            (SELECT grid_id, lat, lon FROM households WHERE rowid = household_rowid);
        DROP TRIGGER households_quota_insert;
        CREATE TRIGGER households_quota_insert AFTER INSERT ON households BEGIN
            INSERT INTO quota_households
                (household_rowid, category, created_at, last_visit_at, grid_id, lat, lon)
                VALUES (NEW.rowid, NEW.category, NEW.created_at,
                        (SELECT last_visit_at FROM visit_summary WHERE household_id = NEW.id),
                        NEW.grid_id, NEW.lat, NEW.lon);
        END;
        DROP TRIGGER households_quota_update;
        CREATE TRIGGER households_quota_update
                AFTER UPDATE OF id, category, created_at, grid_id, lat, lon ON households
            WHEN OLD.id IS NOT NEW.id OR OLD.category IS NOT NEW.category
                OR OLD.created_at IS NOT NEW.created_at OR OLD.grid_id IS NOT NEW.grid_id
                OR OLD.lat IS NOT NEW.lat OR OLD.lon IS NOT NEW.lon
            BEGIN
                UPDATE quota_households SET category = NEW.category,
                    created_at = NEW.created_at, grid_id = NEW.grid_id,
                    lat = NEW.lat, lon = NEW.lon,
                    last_visit_at = (SELECT last_visit_at FROM visit_summary
                                     WHERE household_id = NEW.id)
                    WHERE household_rowid = NEW.rowid;
            END;
        """
    )


def _grids(db: sqlite_utils.Database) -> None:
    """Grid-level data from the centre (pull kind ``grid``): each grid's boundary
    (GeoJSON MultiPolygon, WGS-84; NULL when IT removed it), drawn on the maps of that
    grid (fieldclient.fieldwork.serverconfig.grid_boundary)."""
    run_script(db,
        """
        CREATE TABLE sync_grids (
            id TEXT PRIMARY KEY,
            name TEXT,
            boundary TEXT,
            updated_at TEXT,
            server_seq INTEGER NOT NULL
        );
        """
    )


def _photo_hashes(db: sqlite_utils.Database) -> None:
    """Review (issue 13): the SHA-256 (of the photo's content, as in ``photo.meta``) of
    photos other devices took, as the centre sends them with their visits
    (``photo_sha256``), so the same-photo check on a leader's or supervisor's device
    sees a worker using one photo in several records (this device's own photos are in
    ``photos``; a pulled patrol keeps its map in ``sync_patrols.data``)."""
    run_script(db,
        """
        CREATE TABLE photo_hashes (
            photo_id TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL
        );
        """
    )


def _training_marks(db: sqlite_utils.Database) -> None:
    """Training data looks on the device as at the centre (issue 15): ``fieldclient
    simulate``'s events (``events.training`` exists since 7) and photos are real rows
    marked ``training`` (they were outbox ops only, so the device never showed them)."""
    run_script(db, "ALTER TABLE photos ADD COLUMN training INTEGER NOT NULL DEFAULT 0;")


def _photos_freed(db: sqlite_utils.Database) -> None:
    """Freeing synced photos (issue 15): a photo whose full JPEG the centre confirmed
    holding may have that file deleted here to free space; its ``photos`` row (the
    metadata) and its encrypted thumbnail stay, and this row says when and how much."""
    run_script(db,
        """
        CREATE TABLE photos_freed (
            photo_id TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            freed_at REAL NOT NULL
        );
        CREATE TRIGGER photos_freed_no_update BEFORE UPDATE ON photos_freed
            BEGIN SELECT RAISE(ABORT, 'photos_freed is insert-only'); END;
        """
    )


def _signed_config(db: sqlite_utils.Database) -> None:
    """Signed configuration (issue 14): the checklist, quota rules, review rules and
    event classes as the centre's TUF config role signed them (fieldclient.update.config),
    each with the target's SHA-256 and the config metadata version it came in. A row
    here wins over the unsigned ``server_config`` value of the same key; the meta key
    ``signed_config_version`` (the newest config version verified) marks a device that
    has seen signed configuration: from then on it takes these keys signed only."""
    run_script(db,
        """
        CREATE TABLE signed_config (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            config_version INTEGER NOT NULL,
            applied_at REAL NOT NULL
        );
        """
    )


def _quota_tally_index(db: sqlite_utils.Database) -> None:
    """The Review page's month (issue 13): the roster grouped per grid, category and the
    intervals of registration and last visit (``review._household_tallies``) read in
    the order of this covering index, so SQLite groups 100,000 households without
    sorting them first: 50 ms against 160-200 ms under SQLCipher. The same columns
    ``quota_households`` keeps by its triggers; SQLite keeps the index."""
    run_script(db,
        """
        CREATE INDEX quota_households_tally
            ON quota_households(grid_id, category, created_at, last_visit_at);
        """
    )


def _visits_household_training(db: sqlite_utils.Database) -> None:
    """The Review page's months gone by (issue 13): each household's last visit before
    the month's end, not training (``review._household_tallies``), answered from the
    index alone once ``training`` is in it; before, every household cost a read of its
    visit row as well (September on the 100,000-household bench: 590-690 ms, now
    400-460 ms). The same index serves every query the old one did (same leading
    columns)."""
    run_script(db,
        """
        DROP INDEX visits_household;
        CREATE INDEX visits_household ON visits(household_id, visited_at, training);
        """
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "core: meta, append-only audit log, outbox, blob index", _core_tables),
    Migration(2, "household registry and members", _households),
    Migration(3, "sync: op results, household server copies, conflicts, events, tasks", _sync),
    Migration(4, "patrols: checklists, patrols, item results, tracks", _patrols),
    Migration(5, "evidence photos: metadata of encrypted JPEGs and thumbnails", _photos),
    Migration(6, "member sync: member versions, member conflicts", _member_sync),
    Migration(7, "field work: visits, events, follow-ups, tasks, server settings", _field_work),
    Migration(8, "household search: names, pinyin, address, number tails", _household_search),
    Migration(9, "quota figures: category, registration and last visit per household",
              _quota_households),
    Migration(10, "version skew: pulled rows held for later, ops the server defers",
              _version_skew),
    Migration(11, "review: households' known positions, who made a pulled visit", _review),
    Migration(12, "review access: reviews, other devices' patrols and last contact",
              _review_access),
    Migration(13, "review speed: each household's grid and position beside its quota"
              " facts", _quota_grids),
    Migration(14, "grid boundaries from the centre", _grids),
    Migration(15, "review: the SHA-256 of other devices' photos", _photo_hashes),
    Migration(16, "training photos marked", _training_marks),
    Migration(17, "synced photos freed on the device", _photos_freed),
    Migration(18, "signed configuration (TUF config role)", _signed_config),
    Migration(19, "review speed: the quota roster indexed by grid and category",
              _quota_tally_index),
    Migration(20, "review speed: a household's last visit (not training) from the index"
              " alone", _visits_household_training),
)

LATEST_VERSION = MIGRATIONS[-1].version
