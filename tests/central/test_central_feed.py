"""The change feed's numbers on PostgreSQL (migration 7): no shared counter row; every
number handed out after the upgrade lies above every number handed out before it, so
devices' cursors carry over."""

from __future__ import annotations

import pytest
from central_helpers import PgServer
from sqlalchemy import insert, select, text, update

from central import db


def test_an_old_postgres_database_keeps_its_cursors_across_migration_7(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.make_engine(pg_server.new_database())
    try:
        monkeypatch.setattr(db, "MIGRATIONS", db.MIGRATIONS[:6])
        db.migrate(engine)
        old_last = 2_000_000_000  # a busy pilot's counter, above (xid << 20) today
        with engine.begin() as conn:
            for table, column in db.SEQ_COLUMNS:  # as version 6 made them
                conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE INTEGER"))
            conn.execute(update(db.counters).where(db.counters.c.name == "change_seq")
                         .values(value=old_last))
            grid = conn.execute(insert(db.org_units).values(
                level="grid", name="g")).inserted_primary_key[0]
            conn.execute(insert(db.tasks).values(
                id="old", grid_id=grid, title="旧", body="", due=None, created_at="t",
                updated_seq=old_last))
        monkeypatch.undo()
        assert db.migrate(engine) == (6, db.LATEST_VERSION)
        with engine.begin() as conn:
            kinds = {kind for (kind,) in conn.execute(text(
                "SELECT DISTINCT data_type FROM information_schema.columns"
                " WHERE column_name IN ('seq', 'updated_seq', 'created_seq')"))}
            assert kinds == {"bigint"}
            first = db.next_seq(conn)
            second = db.next_seq(conn, 3)
            conn.execute(insert(db.tasks).values(
                id="new", grid_id=grid, title="新", body="", due=None, created_at="t",
                updated_seq=first))
        assert first > old_last and second == first + 3
        with engine.begin() as conn:
            third = db.next_seq(conn)  # another transaction: a later id, a higher number
        assert third > second
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            watermark = db.feed_watermark(conn)
            assert watermark is not None and watermark > first
            rows = conn.execute(select(db.tasks.c.id).where(
                db.tasks.c.updated_seq > old_last - 1, db.tasks.c.updated_seq < watermark)
                .order_by(db.tasks.c.updated_seq)).scalars().all()
            assert rows == ["old", "new"]
    finally:
        engine.dispose()
