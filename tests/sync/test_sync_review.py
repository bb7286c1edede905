"""Review access over a real ``central serve`` (issue 13): who pulls what (masking for a
supervisor, other workers' patrols and tracks for reviewers only, each device's last
contact), and review verdicts both ways: a leader reviews a visit, the worker sees the
comment and files a correction, the leader sees the correction; a worker's review is
refused; an older device keeps the new kinds for after its upgrade."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import insert, select
from sync_helpers import LiveServer, new_grid

from central import db
from fieldclient.fieldwork import reviews, visits
from fieldclient.fieldwork.households import add_member, create_household
from fieldclient.fieldwork.patrols import (
    TrackRecorder,
    finish_patrol,
    record_item,
    start_patrol,
)
from fieldclient.geo.geometry import Fix
from sync import engine as sync_engine
from sync import protocol

MakeDevice = Callable[..., Any]
ID_NUMBER = "330205198001011234"
MEMBER_ID_NUMBER = "330205200503046789"


def add_supervisor(live: LiveServer, grid: int) -> int:
    with live.engine.begin() as conn:
        person = conn.execute(insert(db.people).values(
            name="赵指导员", role="supervisor")).inserted_primary_key[0]
        conn.execute(insert(db.grid_assignments).values(person_id=person, grid_id=grid))
    return int(person)


def rows(dev: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in dev.session.db.execute(sql, args).fetchall()]


def test_a_supervisor_pulls_no_sensitive_field_in_the_clear(
        live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    sup_id = add_supervisor(live, grid["id"])
    worker = make_device(live, grid["workers"][0], "w")
    hid = create_household(worker.session, "孙八", "建设路8号", phone="13812345678",
                           id_number=ID_NUMBER, tags=["低保户", "社区矫正人员"])
    add_member(worker.session, hid, "孙小八", "子女", id_number=MEMBER_ID_NUMBER,
               phone="13987654321")
    assert worker.engine.run_once().ok
    leader = make_device(live, grid["leader"], "leader")
    supervisor = make_device(live, sup_id, "sup")
    assert leader.engine.run_once().ok and supervisor.engine.run_once().ok

    assert rows(leader, "SELECT phone, id_number, tags FROM households WHERE id = ?", hid) == [
        ("13812345678", ID_NUMBER, json.dumps(["低保户", "社区矫正人员"], ensure_ascii=False))]
    [(phone, id_number, tags)] = rows(
        supervisor, "SELECT phone, id_number, tags FROM households WHERE id = ?", hid)
    assert (phone, id_number) == ("138****5678", "3302**********1234")
    assert json.loads(tags) == ["低保户", protocol.HIDDEN_TAG]
    assert rows(supervisor, "SELECT id_number, phone FROM members WHERE household_id = ?",
                hid) == [("3302**********6789", "139****4321")]
    # nowhere in the supervisor's database, not even in the server copy or search keys
    for sql in ("SELECT synced FROM households", "SELECT * FROM members",
                "SELECT * FROM household_search"):
        text = json.dumps(rows(supervisor, sql), ensure_ascii=False)
        for secret in (ID_NUMBER, MEMBER_ID_NUMBER, "13812345678", "社区矫正人员"):
            assert secret not in text, (sql, secret)


def _patrol(dev: Any, grid: int, points: int = 3000) -> str:
    patrol = start_patrol(dev.session, str(grid))
    record_item(dev.session, patrol.id, "P01", "normal", note="无纠纷")
    record_item(dev.session, patrol.id, "P02", "not_applicable")
    recorder = TrackRecorder(dev.session, patrol.id)
    t0 = dev.session.clock() - points
    recorder.add_many([Fix(t=t0 + i, lat=30.0 + i * 1e-5, lon=120.0 + (i % 40) * 2e-5,
                           accuracy_m=5.0) for i in range(points)])
    finish_patrol(dev.session, patrol.id, allow_incomplete=True, tolerance_m=0.1)
    return patrol.id


def test_patrols_tracks_and_devices_go_to_reviewers_only(
        live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    sup_id = add_supervisor(live, grid["id"])
    a = make_device(live, grid["workers"][0], "a")
    b = make_device(live, grid["workers"][1], "b")
    patrol_id = _patrol(a, grid["id"])
    assert a.engine.run_once().ok
    assert b.engine.run_once().ok
    leader = make_device(live, grid["leader"], "leader")
    supervisor = make_device(live, sup_id, "sup")
    assert leader.engine.run_once().ok and supervisor.engine.run_once().ok

    # a worker gets no other worker's patrol, track or device
    for sql in ("SELECT count(*) FROM sync_patrols", "SELECT count(*) FROM sync_devices",
                "SELECT count(*) FROM tracks", "SELECT count(*) FROM patrols"):
        assert rows(b, sql) == [(0,)], sql
    a_id = a.engine.enrollment().device_id
    b_id = b.engine.enrollment().device_id
    for reviewer in (leader, supervisor):
        [(pid, person, results, track)] = rows(
            reviewer, "SELECT id, person_id, results, track FROM sync_patrols")
        assert (pid, person) == (patrol_id, grid["workers"][0])
        assert sorted((r["code"], r["result"]) for r in json.loads(results)) == [
            ("P01", "normal"), ("P02", "not_applicable")]
        parts = json.loads(track)
        count = sum(len(part) for part in parts)
        assert 2 <= count <= protocol.MAX_REVIEW_TRACK_POINTS
        assert all(len(p) == 3 for part in parts for p in part)
        devices = {r[0]: r[1:] for r in rows(
            reviewer, "SELECT id, person_id, person_name, last_contact FROM sync_devices")}
        assert {a_id, b_id} <= set(devices)
        assert devices[a_id][:2] == (grid["workers"][0], "网格员0")
        assert devices[a_id][2]  # its last contact
    assert leader.engine.enrollment().device_id in {r[0] for r in rows(
        supervisor, "SELECT id FROM sync_devices")}
    # the whole track arrived: the centre's patrol keeps every segment
    with live.engine.connect() as conn:
        stored = conn.execute(select(db.patrols).where(db.patrols.c.id == patrol_id)
                              ).mappings().one()
    assert stored["finished"] and stored["segments"]
    # a second sync of the reviewers brings nothing new about it
    assert leader.engine.run_once().pulled.get("patrol") is None


def _visit(dev: Any, hid: str, text: str = "老人身体好，家里整洁") -> str:
    return visits.record_visit(dev.session, hid, visit_type="home", situation=text)


def test_review_comment_reaches_the_worker_who_corrects_and_the_leader_sees_it(
        live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    worker = make_device(live, grid["workers"][0], "w")
    hid = create_household(worker.session, "周九", "东风路9号")
    visit_id = _visit(worker, hid)
    assert worker.engine.run_once().ok
    leader = make_device(live, grid["leader"], "leader")
    assert leader.engine.run_once().ok
    assert reviews.can_review(leader.session) and not reviews.can_review(worker.session)
    with pytest.raises(reviews.ReviewCommentNeeded):
        reviews.review(leader.session, "visit", visit_id, "has_issues", "  ")
    review_id = reviews.review(leader.session, "visit", visit_id, "has_issues",
                               "没有写见到的人，请补充")
    report = leader.engine.run_once()
    assert report.ok and report.pushed == {"applied": 1}
    # stored once at the centre, with who and what
    with live.engine.connect() as conn:
        [stored] = conn.execute(select(db.reviews).where(
            db.reviews.c.target_id == visit_id)).mappings().all()
    assert (stored["id"], stored["state"], stored["comment"], stored["reviewer_id"],
            stored["worker_id"], stored["household_id"]) == (
        review_id, "has_issues", "没有写见到的人，请补充", grid["leader"], grid["workers"][0], hid)
    assert leader.engine.run_once().pushed == {}  # nothing sent twice

    report = worker.engine.run_once()
    assert report.ok and report.pulled.get("review") == 1
    [seen] = reviews.reviews_of(worker.session, "visit", visit_id)
    assert (seen.state, seen.comment, seen.reviewer_name, seen.origin) == (
        "has_issues", "没有写见到的人，请补充", "王网格长", "server")
    assert [r.id for r in reviews.needing_correction(worker.session)] == [review_id]
    with pytest.raises(Exception, match="insert-only"):  # comments are never edited
        with worker.session.db.conn:
            worker.session.db.execute("UPDATE reviews SET comment = 'x'")
    correction = visits.record_visit(worker.session, hid, visit_type="home",
                                     people_met="户主周九", situation="老人身体好，家里整洁",
                                     corrects=visit_id)
    assert reviews.needing_correction(worker.session) == []
    assert worker.engine.run_once().ok

    report = leader.engine.run_once()
    assert report.ok and report.pulled.get("visit") == 1
    history = {v.id: v for v in visits.visits_for_household(leader.session, hid)}
    assert history[correction].corrects == visit_id
    assert history[visit_id].superseded_by == correction
    # a new verdict adds to the record, the first comment stays as it was
    reviews.review(leader.session, "visit", correction, "approved")
    assert leader.engine.run_once().ok and worker.engine.run_once().ok
    assert [(r.state, r.comment) for r in reviews.reviews_of(worker.session, "visit",
                                                               visit_id)] == [
        ("has_issues", "没有写见到的人，请补充")]
    assert [r.state for r in reviews.reviews_of(worker.session, "visit", correction)] == [
        "approved"]


def _push_review(dev: Any, target_id: str, state: str = "approved") -> dict[str, Any]:
    """A review op as a device would send it (past the device's own checks)."""
    review_id = f"rv-{target_id[:20]}-{state}"
    with dev.session.db.conn:
        dev.session.enqueue("review.create", review_id, {
            "target_kind": "visit", "target_id": target_id, "state": state,
            "reviewed_at": dev.session.clock()})
    report = dev.engine.run_once()
    assert report.ok, report.error
    [entry] = dev.engine.set_aside() or [{"reason": None}]
    return dict(entry)


def test_reviews_from_others_than_the_grid_s_reviewers_are_refused(
        live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    other = new_grid(live.engine)
    a = make_device(live, grid["workers"][0], "a")
    b = make_device(live, grid["workers"][1], "b")
    hid = create_household(a.session, "吴十", "西湖路10号")
    visit_id = _visit(a, hid)
    assert a.engine.run_once().ok and b.engine.run_once().ok
    with pytest.raises(reviews.NotReviewer):
        reviews.review(b.session, "visit", visit_id, "approved")
    assert _push_review(b, visit_id)["reason"] == "not_reviewer"
    stranger = make_device(live, other["leader"], "stranger")
    assert _push_review(stranger, visit_id)["reason"] == "forbidden_grid"
    # a leader who recorded the visit does not review it either
    leader = make_device(live, grid["leader"], "leader")
    own_hid = create_household(leader.session, "郑十一", "西湖路11号")
    own_visit = _visit(leader, own_hid)
    assert leader.engine.run_once().ok
    with pytest.raises(reviews.ReviewOwnRecord):
        reviews.review(leader.session, "visit", own_visit, "approved")
    assert _push_review(leader, own_visit)["reason"] == "own_record"
    with live.engine.connect() as conn:
        assert conn.execute(select(db.reviews.c.id).where(
            db.reviews.c.grid_id == grid["id"])).all() == []


def test_an_older_device_keeps_the_review_kinds_for_after_its_upgrade(
        live: LiveServer, make_device: MakeDevice, monkeypatch: pytest.MonkeyPatch) -> None:
    grid = new_grid(live.engine)
    worker = make_device(live, grid["workers"][0], "w")
    hid = create_household(worker.session, "冯十二", "北山路12号")
    visit_id = _visit(worker, hid)
    _patrol(worker, grid["id"], points=50)
    assert worker.engine.run_once().ok
    reviewer = make_device(live, grid["leader"], "leader")
    assert reviewer.engine.run_once().ok
    reviews.review(reviewer.session, "visit", visit_id, "rejected", "地址不对")
    assert reviewer.engine.run_once().ok

    for kind in ("review", "patrol", "device"):  # an app from before issue 13
        monkeypatch.delitem(sync_engine.PULL_APPLIERS, kind)
    old = make_device(live, grid["leader"], "old")
    report = old.engine.run_once()
    assert report.ok, report.error
    held = {k for (k,) in rows(old, "SELECT kind FROM sync_held WHERE reason = 'unknown_kind'")}
    assert {"review", "patrol", "device"} <= held
    assert rows(old, "SELECT count(*) FROM reviews") == [(0,)]

    monkeypatch.undo()
    report = old.engine.run_once()
    assert report.ok and report.held_total == 0
    assert [r.comment for r in reviews.reviews_of(old.session, "visit", visit_id)] == ["地址不对"]
    assert rows(old, "SELECT count(*) FROM sync_patrols") == [(1,)]


def test_the_device_and_the_centre_hide_the_same_special_groups() -> None:
    from central import reviews as central_reviews
    from fieldclient.fieldwork import households

    assert protocol.SENSITIVE_TAGS == households.SENSITIVE_TAGS
    assert protocol.HIDDEN_TAG == households.HIDDEN_TAG
    assert central_reviews.REVEAL_ROLES == tuple(sorted(households.REVEAL_ROLES, reverse=True))
    assert central_reviews.mask_tags(["低保户", "吸毒人员"]) == households.mask_tags(
        ["低保户", "吸毒人员"])
    assert central_reviews.mask_id_number(ID_NUMBER) == households.mask_id_number(ID_NUMBER)
    assert central_reviews.mask_phone("13812345678") == households.mask_phone("13812345678")
