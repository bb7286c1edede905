"""Visits: saved with their outbox op and audit entry in one transaction, never
changed afterwards; a correction is a new record pointing to the old one."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from device_fixtures import FakeClock
from PIL import Image

from fieldclient.fieldwork import visits
from fieldclient.fieldwork.households import create_household
from fieldclient.fieldwork.simulate import simulate
from fieldclient.geo.geometry import Fix
from fieldclient.photos.pipeline import add_photo
from fieldclient.storage.session import Session


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def test_record_writes_row_op_and_audit(session: Session, clock: FakeClock) -> None:
    hid = create_household(session, "王秀英", "庄市街道2组8号", category="hardship",
                           grid_id="3301")
    photo = add_photo(session, jpeg(), grid_id="3301")
    clock.advance(60)
    vid = visits.record_visit(
        session, hid, visit_type="home", people_met="户主及老伴", situation="身体尚可",
        needs="想了解低保", follow_up="下周带表格", follow_up_due=date(2023, 11, 22),
        photos=[photo.id], position=Fix(t=clock.now, lat=29.95, lon=121.6, accuracy_m=8.0))
    [saved] = visits.visits_for_household(session, hid)
    assert saved.id == vid and saved.visited_at == clock.now
    assert (saved.people_met, saved.needs, saved.follow_up_due) == (
        "户主及老伴", "想了解低保", date(2023, 11, 22))
    assert saved.photos == (photo.id,) and (saved.lat, saved.accuracy_m) == (29.95, 8.0)
    assert saved.grid_id == "3301" and saved.tz_offset_minutes == 480
    assert not saved.training and saved.superseded_by is None
    kind, record_id, payload = session.db.execute(
        "SELECT kind, record_id, payload FROM outbox WHERE record_id = ?", (vid,)).fetchone()
    body = json.loads(payload)
    assert (kind, record_id) == ("visit.create", vid)
    assert set(body) == set(visits.PAYLOAD_COLUMNS)
    assert "origin" not in body and "created_at" not in body
    assert body["photos"] == json.dumps([photo.id]) and body["follow_up_due"] == "2023-11-22"
    entry = list(session.audit.entries())[-1]
    assert entry["action"] == "record_created"
    assert entry["detail"] == {"kind": "visit", "id": vid, "household_id": hid}
    assert session.records_by_kind()["visit"] == 1


def test_saved_visit_cannot_change(session: Session) -> None:
    hid = create_household(session, "李四", "一组1号")
    vid = visits.record_visit(session, hid, visit_type="phone", situation="电话问候")
    for sql in ("UPDATE visits SET situation = 'x' WHERE id = ?",
                "DELETE FROM visits WHERE id = ?"):
        with pytest.raises(Exception, match="insert-only"), session.db.conn:
            session.db.execute(sql, (vid,))
    assert visits.get_visit(session, vid).situation == "电话问候"


def test_correction_is_a_new_record(session: Session, clock: FakeClock) -> None:
    hid = create_household(session, "赵建国", "二组3号")
    other = create_household(session, "陈芳", "二组4号")
    old = visits.record_visit(session, hid, visit_type="home", situation="写错了")
    visited_at = clock.now
    clock.advance(3600)
    new = visits.record_visit(session, hid, visit_type="revisit", situation="改正后的情况",
                              corrects=old)
    newest, oldest = visits.visits_for_household(session, hid)
    assert (newest.id, newest.corrects, newest.superseded_by) == (new, old, None)
    assert (oldest.id, oldest.superseded_by, oldest.situation) == (old, new, "写错了")
    assert newest.visited_at == visited_at and newest.created_at == visited_at + 3600
    ops = session.db.execute(
        "SELECT record_id FROM outbox WHERE kind = 'visit.create' ORDER BY created_at").fetchall()
    assert [r[0] for r in ops] == [old, new]
    assert json.loads(session.db.execute(
        "SELECT payload FROM outbox WHERE record_id = ?", (new,)).fetchone()[0])["corrects"] == old
    with pytest.raises(visits.VisitAlreadyCorrected):
        visits.record_visit(session, hid, visit_type="home", situation="再改", corrects=old)
    with pytest.raises(visits.VisitCorrectionMismatch):
        visits.record_visit(session, other, visit_type="home", situation="别户", corrects=new)
    with pytest.raises(visits.VisitNotFound):
        visits.record_visit(session, hid, visit_type="home", situation="无", corrects="nope")


def test_bad_input_saves_nothing(session: Session) -> None:
    hid = create_household(session, "周军", "三组1号")
    before = session.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    cases: list[tuple[type[Exception], dict[str, object]]] = [
        (visits.UnknownVisitType, {"visit_type": "drive-by", "situation": "x"}),
        (visits.VisitSituationEmpty, {"visit_type": "home", "situation": "   "}),
        (visits.VisitTextTooLong, {"visit_type": "home", "situation": "长" * 2001}),
        (visits.VisitPhotoMissing, {"visit_type": "home", "situation": "x",
                                    "photos": ["no-such-photo"]}),
    ]
    for error, fields in cases:
        with pytest.raises(error):
            visits.record_visit(session, hid, **fields)  # type: ignore[arg-type]
    with pytest.raises(visits.VisitHouseholdNotFound):
        visits.record_visit(session, "missing", visit_type="home", situation="x")
    assert "最多2000个字" in visits.VisitTextTooLong(limit=2000).message("zh_CN")
    assert session.db.execute("SELECT count(*) FROM visits").fetchone()[0] == 0
    assert session.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == before


def test_simulated_visits_are_training_rows(session: Session) -> None:
    result = simulate(session, visits=6, seed=3)
    assert result.visits == 6
    rows = session.db.execute("SELECT training, origin FROM visits").fetchall()
    assert rows == [(1, "local")] * 6
    payloads = [json.loads(p) for (p,) in session.db.execute(
        "SELECT payload FROM outbox WHERE kind = 'visit.create'")]
    assert len(payloads) == 6 and all(p["training"] == 1 for p in payloads)
    assert session.db.execute("SELECT count(*) FROM visit_summary").fetchone()[0] == 0


def test_device_vocabulary_matches_the_wire() -> None:
    """The visit types and urgencies the device offers are the ones the server accepts."""
    from fieldclient.fieldwork import events, visits
    from sync import protocol

    assert visits.VISIT_TYPES == protocol.VISIT_TYPES
    assert events.URGENCIES == protocol.EVENT_URGENCIES
