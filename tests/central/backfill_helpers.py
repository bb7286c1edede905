"""What the tests of the centre's resumable backfills (migrations 14, 15) share: the
databases on one backend, a backfill the power cuts mid-batch and its finish at the next
start, and another server's batch committing while a report reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from central_helpers import start_server, stop_process
from sqlalchemy import Engine, event

from central import db


def backends(request: pytest.FixtureRequest, tmp_path: Path,
             old: Callable[[str, Path, pytest.MonkeyPatch], Engine],
             reference: Callable[[str, Path], Engine],
             ) -> Iterator[tuple[Engine, Engine, str, Path]]:
    """For a fixture parametrised "sqlite"/"postgresql": an old-version database made
    by ``old`` and a reference made by ``reference`` on that backend, as (old engine,
    reference, the old one's URL, its key file)."""
    if request.param == "sqlite":
        url, other = (f"sqlite:///{tmp_path / 'central.db'}",
                      f"sqlite:///{tmp_path / 'reference.db'}")
    else:
        pg = request.getfixturevalue("pg_server")
        url, other = pg.new_database(), pg.new_database()
    key_file = tmp_path / "keys.json"
    engine = old(url, key_file, request.getfixturevalue("monkeypatch"))
    ref = reference(other, tmp_path / "reference-keys.json")
    try:
        yield engine, ref, url, key_file
    finally:
        engine.dispose()
        ref.dispose()


def latest(url: str, key_file: Path) -> Engine:
    """A reference database always at the latest version."""
    engine = db.make_engine(url, key_file=key_file)
    db.migrate(engine)
    return engine


def cut_mid_batch(engine: Engine, name: str, batch: int, cut_at: int) -> list[int]:
    """Run the migrations with the power going during backfill ``name``'s batch number
    ``cut_at`` (it rolls back); the rows of each batch begun, in order."""
    batches: list[int] = []

    def crash(backfill: str, rows: int) -> None:
        if backfill != name:
            return
        batches.append(rows)
        if len(batches) == cut_at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        db.migrate(engine, backfill_batch=batch, on_batch=crash)
    return batches


def finish_after_restart(engine: Engine, url: str, tmp_path: Path, key_file: Path,
                         batch: int) -> None:
    """What resumes an interrupted backfill: the server's start-up before it serves
    (SQLite), or ``central init`` again (PostgreSQL). Afterwards none is pending."""
    if url.startswith("sqlite"):
        proc, _base = start_server(url, tmp_path, "--key-file", str(key_file))
        stop_process(proc)
    else:
        assert db.migrate(engine, backfill_batch=batch) == (db.LATEST_VERSION,
                                                            db.LATEST_VERSION)
    with engine.connect() as conn:
        assert db.pending_backfills(conn) == []


def stop_before_backfill(engine: Engine, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Migrate to the latest schema with backfill ``name`` not begun."""
    with monkeypatch.context() as m:
        m.setitem(db.BACKFILLS, name, lambda *_a: (_ for _ in ()).throw(KeyboardInterrupt()))
        with pytest.raises(KeyboardInterrupt):
            db.migrate(engine)


def read_while_another_server_fills(
        engine: Engine, url: str, key_file: Path, name: str, before: str,
        read: Callable[[], Any], committed: Callable[[Engine], None]) -> Any:
    """``read()`` (as JSON) with another server running all of backfill ``name`` in one
    batch and committing just before the first statement containing ``before``;
    ``committed(other_engine)`` checks the batch is in."""
    other = db.make_engine(url, key_file=key_file)
    fired: list[str] = []

    def batch_from_another_server(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        if before not in statement or fired:
            return
        fired.append(statement)
        with other.begin() as conn, db.local_seq(conn):
            db.lock_writer(conn, "backfill")
            position, rows = db.BACKFILLS[name](conn, None, 10_000)
            conn.execute(db.backfills.update().where(db.backfills.c.name == name)
                         .values(position=position, rows_done=rows))
        committed(other)

    event.listen(engine, "before_cursor_execute", batch_from_another_server)
    try:
        got = json.loads(json.dumps(read()))
    finally:
        event.remove(engine, "before_cursor_execute", batch_from_another_server)
        other.dispose()
    assert fired, f"no statement with {before!r}"
    return got
