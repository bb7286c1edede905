"""The hash-chained, append-only audit log, and the events the core records in it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlcipher3
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldclient.errors import WrongPin
from fieldclient.fieldwork import households
from fieldclient.security import audit, crypto
from fieldclient.security.audit import GENESIS, AuditLog, entry_hash
from fieldclient.storage import store
from fieldclient.storage.migrations import LATEST_VERSION
from fieldclient.storage.session import Session, unlock_device

if TYPE_CHECKING:
    from device_fixtures import FakeClock

PIN = "246810"  # as in conftest.py
WRONG_PIN = "000000"
COLUMNS = ("seq", "ts", "actor", "action", "detail", "prev_hash", "hash")


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    database = store.open_database(tmp_path / "gridfield.db", crypto.random_key(), tmp_path)
    try:
        yield database
    finally:
        database.conn.close()


def _memory_db() -> sqlite_utils.Database:
    """A throw-away database with the audit schema (for property tests)."""
    db = sqlite_utils.Database(sqlcipher3.connect(":memory:"))
    store.migrate(db, Path(":memory:"), Path("unused"), target=1)
    return db


def _fill(log: AuditLog, n: int) -> None:
    with log.db.conn:
        for i in range(n):
            log.append(f"action{i}", {"i": i, "名称": f"第{i}条"})


def _drop_triggers(db: sqlite_utils.Database) -> None:
    with db.conn:
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("DROP TRIGGER audit_log_no_delete")


def _rows(db: sqlite_utils.Database) -> list[tuple[Any, ...]]:
    return db.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY seq").fetchall()


# -- the chain ------------------------------------------------------------------------------------


def test_entries_chain_from_genesis(db: sqlite_utils.Database) -> None:
    times = iter(range(100, 200))
    log = AuditLog(db, actor="device:test", clock=lambda: float(next(times)))
    assert log.verify().ok and log.verify().entries == 0
    _fill(log, 5)
    entries = list(log.entries())
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == GENESIS == "0" * 64
    for before, after in itertools.pairwise(entries):
        assert after["prev_hash"] == before["hash"]
    for row in _rows(db):
        seq, ts, actor, action, detail, prev_hash, digest = row
        assert digest == entry_hash(seq, ts, actor, action, detail, prev_hash)
        assert actor == "device:test"
    assert entries[2]["detail"] == {"i": 2, "名称": "第2条"}
    assert [e["ts"] for e in entries] == [100.0, 101.0, 102.0, 103.0, 104.0]
    result = log.verify()
    assert result.ok and result.entries == 5 and result.first_broken is None


def test_explicit_timestamp_is_kept(db: sqlite_utils.Database) -> None:
    log = AuditLog(db, actor="a", clock=lambda: 999.0)
    log.append("pin_failed", {"attempt": 1}, ts=123.5)
    assert next(log.entries())["ts"] == 123.5
    assert log.verify().ok


def test_triggers_refuse_update_and_delete(db: sqlite_utils.Database) -> None:
    log = AuditLog(db, actor="a")
    _fill(log, 3)
    before = _rows(db)
    for sql in (
        "UPDATE audit_log SET detail = '{}' WHERE seq = 2",
        "UPDATE audit_log SET ts = ts + 1",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(sqlcipher3.IntegrityError, match="append-only"), db.conn:
            db.execute(sql)
    assert _rows(db) == before
    assert log.verify().ok


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("detail", json.dumps({"i": 2, "名称": "改过的"}, ensure_ascii=False, sort_keys=True)),
        ("ts", 1.0),
        ("actor", "device:someone-else"),
        ("action", "lock"),
        ("hash", "f" * 64),
        ("prev_hash", "e" * 64),
    ],
)
def test_edit_with_triggers_dropped_is_detected(
    db: sqlite_utils.Database, column: str, value: object
) -> None:
    log = AuditLog(db, actor="a")
    _fill(log, 5)
    _drop_triggers(db)
    with db.conn:
        db.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = 3", (value,))
    result = log.verify()
    assert not result.ok
    assert result.first_broken == 3
    assert result.entries == 3  # stops at the first broken entry


def test_rehashing_an_edited_entry_breaks_the_next_link(db: sqlite_utils.Database) -> None:
    log = AuditLog(db, actor="a")
    _fill(log, 5)
    _drop_triggers(db)
    seq, ts, actor, action, _, prev_hash, _ = _rows(db)[2]
    forged = json.dumps({"i": 2, "forged": True})
    with db.conn:
        db.execute(
            "UPDATE audit_log SET detail = ?, hash = ? WHERE seq = 3",
            (forged, entry_hash(seq, ts, actor, action, forged, prev_hash)),
        )
    result = log.verify()
    assert not result.ok and result.first_broken == 4
    assert result.reason == "previous hash does not match"


def test_deleting_a_middle_entry_is_detected(db: sqlite_utils.Database) -> None:
    log = AuditLog(db, actor="a")
    _fill(log, 5)
    _drop_triggers(db)
    with db.conn:
        db.execute("DELETE FROM audit_log WHERE seq = 3")
    result = log.verify()
    assert not result.ok and result.first_broken == 3
    assert result.reason == "entry missing"


def test_renumbering_after_a_delete_is_detected(db: sqlite_utils.Database) -> None:
    log = AuditLog(db, actor="a")
    _fill(log, 5)
    _drop_triggers(db)
    with db.conn:
        db.execute("DELETE FROM audit_log WHERE seq = 3")
        db.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")
    result = log.verify()
    assert not result.ok and result.first_broken == 3


def test_swapping_two_entries_is_detected(db: sqlite_utils.Database) -> None:
    log = AuditLog(db, actor="a")
    _fill(log, 4)
    _drop_triggers(db)
    with db.conn:
        db.execute("UPDATE audit_log SET seq = -2 WHERE seq = 2")
        db.execute("UPDATE audit_log SET seq = 2 WHERE seq = 3")
        db.execute("UPDATE audit_log SET seq = 3 WHERE seq = -2")
    result = log.verify()
    assert not result.ok and result.first_broken == 2


# -- what the core records ---------------------------------------------------------------


# -- keyed entries --------------------------------------------------------------------------------


def test_a_keyed_log_needs_its_key(db: sqlite_utils.Database) -> None:
    """Entries are HMACs under a key from the DEK: a rewrite recomputed with plain
    SHA-256 (or another key) does not verify, and the log cannot be checked keyless."""
    key = crypto.random_key()
    log = AuditLog(db, actor="device:k", key=key)
    _fill(log, 4)
    assert log.verify().ok and log.head()[0] == 4
    seq, ts, actor, action, detail, prev, digest = _rows(db)[3]
    assert digest != entry_hash(seq, ts, actor, action, detail, prev)  # not plain SHA-256
    assert digest == entry_hash(seq, ts, actor, action, detail, prev, key)
    assert log.hash_at(4) == digest and log.hash_at(0) == GENESIS and log.hash_at(5) is None
    keyless = AuditLog(db, actor="device:k").verify()
    assert not keyless.ok and keyless.reason == "keyed entry and no key"
    assert not AuditLog(db, actor="device:k", key=crypto.random_key()).verify().ok
    _drop_triggers(db)
    forged = json.dumps({"i": 3, "名称": "改过的"}, ensure_ascii=False, sort_keys=True)
    with db.conn:
        db.execute("UPDATE audit_log SET detail = ?, hash = ? WHERE seq = 4",
                   (forged, entry_hash(seq, ts, actor, action, forged, prev)))
    assert log.verify().first_broken == 4


def test_a_log_begun_before_keying_goes_on_keyed(db: sqlite_utils.Database) -> None:
    _fill(AuditLog(db, actor="device:old"), 3)  # as written by earlier versions
    key = crypto.random_key()
    log = AuditLog(db, actor="device:old", key=key)
    _fill(log, 2)
    assert log.verify().ok and log.verify().entries == 5
    assert db.execute("SELECT value FROM meta WHERE key = ?", (audit.KEYED_FROM,)
                      ).fetchone()[0] == "4"
    seq, ts, actor, action, detail, prev, digest = _rows(db)[1]
    assert digest == entry_hash(seq, ts, actor, action, detail, prev)  # kept as it was


def test_a_session_log_is_keyed(session: Session) -> None:
    assert session.audit.key is not None
    assert session.audit.verify().ok
    assert session.db.execute("SELECT value FROM meta WHERE key = ?",
                              (audit.KEYED_FROM,)).fetchone()[0] == "1"


def _last(session: Session) -> dict[str, Any]:
    return list(session.audit.entries())[-1]


def test_core_events_are_audited(
    session: Session, data_dir: Path, clock: FakeClock
) -> None:
    first = list(session.audit.entries())
    assert [e["action"] for e in first] == [audit.DEVICE_SET_UP]
    assert first[0]["detail"] == {"schema": LATEST_VERSION}
    assert first[0]["actor"] == f"device:{session.device_id}"
    session.close()

    clock.advance(10)
    failed_at = clock()
    with pytest.raises(WrongPin):
        unlock_device(data_dir, WRONG_PIN, clock=clock)
    clock.advance(30)
    with unlock_device(data_dir, PIN, clock=clock) as s:
        entries = list(s.audit.entries())
        assert [e["action"] for e in entries] == [
            audit.DEVICE_SET_UP,
            audit.PIN_FAILED,
            audit.UNLOCK,
        ]
        assert entries[1]["ts"] == failed_at  # when it happened, not when drained
        assert entries[1]["detail"] == {"attempt": 1}
        assert entries[2]["ts"] == failed_at + 30

        clock.advance(1)
        household = households.create_household(
            s, "王五", "光明路3号", id_number="110105199001011234"
        )
        last = _last(s)
        assert last["action"] == audit.RECORD_CREATED
        assert last["detail"] == {"kind": "household", "id": household}
        assert last["ts"] == clock()

        assert households.reveal_field(s, household, "id_number") == "110105199001011234"
        last = _last(s)
        assert last["action"] == audit.SENSITIVE_VIEWED
        assert last["detail"] == {"kind": "household", "id": household, "field": "id_number"}
        assert "110105199001011234" not in json.dumps(last)  # the value itself is not logged

        s.record_export("households", "/media/usb/export.csv", 1)
        last = _last(s)
        assert last["action"] == audit.EXPORT
        assert last["detail"] == {"what": "households", "to": "/media/usb/export.csv", "count": 1}

        assert s.audit.verify().ok
        assert s.audit.verify().entries == 6
    # Nothing recorded while locked is left behind for the next unlock.
    with unlock_device(data_dir, PIN, clock=clock) as s:
        actions = [e["action"] for e in s.audit.entries()]
    assert actions.count(audit.PIN_FAILED) == 1
    assert actions[-1] == audit.UNLOCK


def test_audit_entries_commit_with_their_change(session: Session) -> None:
    """An entry appended inside a failed transaction disappears with it."""
    before = session.audit.verify().entries
    with pytest.raises(RuntimeError), session.db.conn:
        session.audit.append("record_created", {"id": "x"})
        raise RuntimeError("the change failed")
    assert session.audit.verify().entries == before


# -- properties ---------------------------------------------------------------------------------

_SLOW = [HealthCheck.too_slow]
_text = st.text(max_size=20)
_details = st.dictionaries(
    st.text(max_size=8), st.one_of(st.integers(), _text, st.booleans(), st.none()), max_size=4
)
_entries = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=16),
        _details,
        st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=50, deadline=None, database=None, suppress_health_check=_SLOW)
@given(entries=_entries)
def test_property_any_appends_verify(entries: list[tuple[str, dict[str, Any], float]]) -> None:
    db = _memory_db()
    log = AuditLog(db, actor="device:p")
    with db.conn:
        for action, detail, ts in entries:
            log.append(action, detail, ts=ts)
    result = log.verify()
    assert result.ok and result.entries == len(entries)
    stored = list(log.entries())
    assert [(e["action"], e["detail"], e["ts"]) for e in stored] == entries
    db.conn.close()


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=_SLOW)
@given(entries=_entries, data=st.data())
def test_property_any_single_field_tamper_is_detected(
    entries: list[tuple[str, dict[str, Any], float]], data: st.DataObject
) -> None:
    db = _memory_db()
    log = AuditLog(db, actor="device:p")
    with db.conn:
        for action, detail, ts in entries:
            log.append(action, detail, ts=ts)
    rows = _rows(db)
    index = data.draw(st.integers(min_value=0, max_value=len(rows) - 1), label="row")
    column = data.draw(st.sampled_from(COLUMNS[1:]), label="column")
    old = rows[index][COLUMNS.index(column)]
    if column == "ts":
        new: object = data.draw(
            st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v != old)
        )
    elif column in ("hash", "prev_hash"):
        new = data.draw(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
                        .filter(lambda v: v != old))
    else:
        new = data.draw(st.text(max_size=30).filter(lambda v: v != old))
    _drop_triggers(db)
    with db.conn:
        db.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = ?", (new, rows[index][0]))
    result = log.verify()
    assert not result.ok
    assert result.first_broken == rows[index][0]
    db.conn.close()
