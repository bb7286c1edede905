"""The sync engine against a real ``central serve`` over loopback HTTP (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sync_helpers import DropProxy, LiveServer, new_grid, two_devices

from central import db, ops
from fieldclient.fieldwork.households import create_household, update_household
from fieldclient.security.keystore import FileSecretStore
from fieldclient.security.vault import Vault
from fieldclient.storage.session import setup_device
from sync import protocol
from sync.engine import SyncEngine, enroll_device
from sync.errors import (
    AlreadyEnrolled,
    DeviceRevoked,
    EnrollCodeRefused,
    NotLeader,
    ServerUnreachable,
)

MakeDevice = Callable[..., Any]


def server_household(live: LiveServer, hid: str) -> dict[str, Any]:
    with live.engine.connect() as conn:
        row = conn.execute(select(db.households).where(db.households.c.id == hid)).mappings().one()
    return dict(row)


def local_household(dev: Any, hid: str) -> dict[str, Any]:
    row = dev.session.db.execute(
        "SELECT head_name, address, category, phone, id_number, tags, version FROM households"
        " WHERE id = ?", (hid,)).fetchone()
    keys = ("head_name", "address", "category", "phone", "id_number", "tags", "version")
    out = dict(zip(keys, row, strict=True))
    out["tags"] = json.loads(out["tags"])
    return out


def op_count(live: LiveServer, **where: Any) -> int:
    q = select(func.count()).select_from(db.sync_ops)
    for k, v in where.items():
        q = q.where(getattr(db.sync_ops.c, k) == v)
    with live.engine.connect() as conn:
        return int(conn.execute(q).scalar() or 0)


def enqueue(session: Any, kind: str, record_id: str, payload: dict[str, Any]) -> str:
    with session.db.conn:  # Session.enqueue joins the caller's transaction
        return str(session.enqueue(kind, record_id, payload))


# -- enrollment ------------------------------------------------------------------------

def test_enroll_stores_identity_encrypted(live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    info = dev.engine.enrollment()
    assert info is not None and info.grids == [grid["id"]] and info.role == "worker"
    raw = (dev.data_dir / "gridfield.db").read_bytes()
    key_hex = dev.session.db.execute(
        "SELECT value FROM meta WHERE key = 'sync.private_key'").fetchone()[0]
    assert bytes.fromhex(key_hex) not in raw and key_hex.encode() not in raw
    assert b"sync.private_key" not in raw  # the whole database is encrypted
    with pytest.raises(AlreadyEnrolled):
        enroll_device(dev.session, live.base, "XXXX-XXXX-XXXX")


def test_wrong_and_used_codes_are_refused(live: LiveServer, tmp_path: Any) -> None:
    grid = new_grid(live.engine)
    session = setup_device(tmp_path / "d", "246810", store=FileSecretStore(tmp_path / "d"))
    try:
        with pytest.raises(EnrollCodeRefused):
            enroll_device(session, live.base, "AAAA-BBBB-CCCC")
        code = ops.create_enrollment_code(live.engine, grid["workers"][0])["code"]
        other = setup_device(tmp_path / "e", "246810", store=FileSecretStore(tmp_path / "e"))
        enroll_device(other, live.base, code)
        other.close()
        with pytest.raises(EnrollCodeRefused):
            enroll_device(session, live.base, code)
        assert SyncEngine(session).enrollment() is None
    finally:
        session.close()


def test_unreachable_server_is_a_clear_error_and_nothing_lost(
    live: LiveServer, make_device: MakeDevice, proxy: DropProxy
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    create_household(dev.session, "张三", "人民路1号")
    dev.via("http://127.0.0.1:9")  # nothing listens on the discard port
    report = dev.engine.run_once()
    assert not report.ok and isinstance(report.error, ServerUnreachable)
    assert report.error_message("en") and report.pending == 1
    dev.via(live.base)
    report = dev.engine.run_once()
    assert report.ok and report.pushed == {"applied": 1} and report.pending == 0


# -- push ------------------------------------------------------------------------------

def test_push_applies_once_and_nothing_to_do_is_one_request(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    hid = create_household(dev.session, "李四", "幸福路2号", tags=["独居"])
    enqueue(dev.session, "visit.create", "v1" + hid[:20], {"household_id": hid, "note": "走访"})
    seen: list[Any] = []
    report = dev.engine.run_once(seen.append)
    assert report.ok, report.error
    assert report.pushed == {"applied": 2}
    assert report.pulled == {"household": 1}
    assert {p.phase for p in seen} == {"push", "pull"}
    row = server_household(live, hid)
    assert (row["head_name"], row["grid_id"], row["tags"], row["version"]) == (
        "李四", grid["id"], ["独居"], 1)
    assert local_household(dev, hid)["version"] == 1
    assert dev.engine.last_success() is not None
    again = dev.engine.run_once()
    assert again.ok and again.requests == 1 and not again.pushed and not again.pulled


def test_same_batch_twice_is_all_duplicate(live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    ops_ = [
        {"op_id": f"op-{i}-" + "x" * 10, "kind": "visit.create", "record_id": f"visit-{i}",
         "base_version": None, "payload": {"grid_id": grid["id"], "note": f"第{i}次"}}
        for i in range(3)
    ]
    first = dev.transport.push(ops_)
    assert [r["status"] for r in first["results"]] == ["applied"] * 3
    second = dev.transport.push(ops_)
    assert [r["status"] for r in second["results"]] == ["duplicate"] * 3
    # compact: the first answer was "applied", so nothing more is said about it
    assert all(set(r) == {"op_id", "status"} for r in second["results"])
    with live.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(db.records).where(
            db.records.c.grid_id == grid["id"])).scalar()
    assert n == 3


def test_response_lost_after_commit_then_retry_is_duplicate(
    live: LiveServer, make_device: MakeDevice, proxy: DropProxy
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    hid = create_household(dev.session, "王五", "和平路3号")
    dev.engine.run_once()
    update_household(dev.session, hid, {"address": "和平路5号"})
    enqueue(dev.session, "event.report", "ev-" + hid[:30],
                        {"grid_id": grid["id"], "category": "市容环卫", "description": "垃圾堆放"})
    dev.via(proxy.base)
    proxy.drop_responses = 1  # the push reaches the server, its answer does not
    report = dev.engine.run_once()
    assert report.ok, report.error
    assert proxy.dropped == 1
    assert report.pushed == {"duplicate": 2}
    row = server_household(live, hid)
    assert row["address"] == "和平路5号" and row["version"] == 2  # applied once, not twice
    with live.engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(db.events).where(
            db.events.c.grid_id == grid["id"])).scalar()
        history = conn.execute(select(func.count()).select_from(db.event_history).where(
            db.event_history.c.event_id == "ev-" + hid[:30])).scalar()
    assert events == 1 and history == 1
    assert dev.session.pending_uploads() == 0


def test_rejected_op_is_set_aside_and_the_rest_goes_on(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    other = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    hid = create_household(dev.session, "赵六", "建设路6号")
    enqueue(dev.session, "visit.create", "bad-visit", {"grid_id": other["id"], "note": "越权"})
    enqueue(dev.session, "visit.create", "bad-visit2", {"grid_id": grid["id"], "visited_at": "x"})
    update_household(dev.session, hid, {"category": "hardship"})
    report = dev.engine.run_once()
    assert report.ok
    assert report.pushed == {"applied": 2, "rejected": 2}
    reasons = {a["record_id"]: a["reason"] for a in dev.engine.set_aside()}
    assert reasons == {"bad-visit": "forbidden_grid", "bad-visit2": "invalid"}
    assert server_household(live, hid)["category"] == "hardship"
    assert dev.engine.pending_counts() == {}
    # set aside for good: the next run sends nothing
    assert dev.engine.run_once().requests == 1


def test_immutable_same_id_different_content_is_rejected(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    payload = {"grid_id": grid["id"], "category": "消防安全", "description": "楼道堆物"}
    enqueue(dev.session, "event.report", "ev-same-id-1", payload)
    enqueue(dev.session, "event.report", "ev-same-id-1", payload)  # same content, new op
    enqueue(dev.session, "event.report", "ev-same-id-1", {**payload, "description": "改了"})
    report = dev.engine.run_once()
    assert report.pushed == {"applied": 1, "duplicate": 1, "rejected": 1}
    assert [a["reason"] for a in dev.engine.set_aside()] == ["content_differs"]
    assert report.pulled.get("event") == 1


# -- merge and conflicts -----------------------------------------------------------------

def test_different_fields_merge(live: LiveServer, make_device: MakeDevice) -> None:
    a, b, _leader, hid, _grid = two_devices(live, make_device)
    update_household(a.session, hid, {"address": "解放路9号"})
    update_household(b.session, hid, {"phone": "13900000002", "tags": ["低保"]})
    assert a.engine.run_once().pushed == {"applied": 1}
    assert b.engine.run_once().pushed == {"applied": 2}  # household.tags + household.update
    a.engine.run_once()
    want = {"address": "解放路9号", "phone": "13900000002", "tags": ["低保"], "version": 4}
    for dev in (a, b):
        got = local_household(dev, hid)
        assert {k: got[k] for k in want} == want
    assert not a.engine.conflicts() and not b.engine.conflicts()


def test_same_field_conflict_kept_shown_and_resolved_by_leader(
    live: LiveServer, make_device: MakeDevice
) -> None:
    a, b, leader, hid, _grid = two_devices(live, make_device)
    update_household(a.session, hid, {"head_name": "钱七甲", "address": "解放路8号"})
    update_household(b.session, hid, {"head_name": "钱七乙"})
    assert a.engine.run_once().pushed == {"applied": 1}  # first to arrive: stays
    rb = b.engine.run_once()
    assert rb.pushed == {"conflict": 1} and rb.new_conflicts == 1
    # b's local row follows the server again; its value lives on in the conflict record
    assert local_household(b, hid)["head_name"] == "钱七甲"
    a.engine.run_once()
    leader.engine.run_once()
    for dev in (a, b, leader):
        (c,) = dev.engine.conflicts()
        assert (c["field"], c["kept_value"], c["other_value"]) == ("head_name", "钱七甲", "钱七乙")
        assert c["kept_device"] == a.engine.enrollment().device_id
        assert c["other_device"] == b.engine.enrollment().device_id
        assert (c["kept_person_name"], c["other_person_name"]) == ("网格员0", "网格员1")
    # a worker may not settle it
    with pytest.raises(NotLeader):
        a.engine.resolve_conflict(c["id"], "other")
    leader.engine.resolve_conflict(c["id"], "other")
    assert leader.engine.run_once().pushed == {"applied": 1}
    for dev in (a, b):
        dev.engine.run_once()
    for dev in (a, b, leader):
        assert local_household(dev, hid)["head_name"] == "钱七乙"
        assert dev.engine.conflicts() == []
        (c2,) = dev.engine.conflicts(include_resolved=True)
        assert c2["status"] == "resolved" and c2["choice"] == "other"
    # the resolution is applied exactly once, even if delivered again
    with live.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(db.sync_ops).where(
            db.sync_ops.c.kind == "conflict.resolve", db.sync_ops.c.record_id == c["id"])).scalar()
    assert n == 1


def test_worker_resolution_op_is_rejected_by_server(
    live: LiveServer, make_device: MakeDevice
) -> None:
    a, b, _leader, hid, _grid = two_devices(live, make_device)
    update_household(a.session, hid, {"address": "甲"})
    update_household(b.session, hid, {"address": "乙"})
    a.engine.run_once()
    b.engine.run_once()
    (c,) = b.engine.conflicts()
    enqueue(b.session, "conflict.resolve", c["id"], {"choice": "other"})  # bypassing the API
    b.engine.run_once()
    assert [x["reason"] for x in b.engine.set_aside()] == ["not_leader"]


# -- pull --------------------------------------------------------------------------------

def test_pull_pages_and_cursor_saved_with_rows(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    writer = make_device(live, grid["workers"][0], "w")
    for i in range(23):
        create_household(writer.session, f"住户{i}", f"新村{i}号")
    assert writer.engine.run_once().pushed == {"applied": 23}
    ops.push_task(live.engine, grid["id"], "检查秸秆焚烧", "今晚巡查", None)
    reader = make_device(live, grid["workers"][1], "r")
    reader.engine.page_size = 5
    pages: list[int] = []
    original = reader.transport.pull

    def counting_pull(after: int, limit: int) -> Any:
        page = original(after, limit)
        pages.append(len(page["changes"]))
        # the cursor stored so far never runs ahead of the rows stored
        stored = reader.session.db.execute("SELECT count(*) FROM households").fetchone()[0]
        assert stored == min(23, sum(pages[:-1]))
        return page

    reader.transport.pull = counting_pull  # type: ignore[method-assign]
    report = reader.engine.run_once()
    assert report.ok and report.pulled == {"household": 23, "task": 1}
    assert pages == [5, 5, 5, 5, 4]
    assert reader.engine.cursor() > 0
    assert reader.session.db.execute("SELECT title FROM sync_tasks").fetchone()[0] == "检查秸秆焚烧"


def test_pull_is_scoped_to_the_devices_grids(live: LiveServer, make_device: MakeDevice) -> None:
    g1, g2 = new_grid(live.engine), new_grid(live.engine)
    d1 = make_device(live, g1["workers"][0])
    d2 = make_device(live, g2["workers"][0])
    create_household(d1.session, "甲", "一号")
    d1.engine.run_once()
    assert d2.engine.run_once().pulled == {}
    assert d2.session.db.execute("SELECT count(*) FROM households").fetchone()[0] == 0


def test_event_status_changes_reach_the_device(live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    enqueue(dev.session, "event.report", "ev-status-1",
                        {"grid_id": grid["id"], "category": "治安隐患", "description": "路灯坏"})
    dev.engine.run_once()
    ops.advance_event(live.engine, "ev-status-1", "accepted", None)
    assert dev.engine.run_once().pulled == {"event": 1}
    status = dev.session.db.execute(
        "SELECT status FROM sync_events WHERE id = 'ev-status-1'").fetchone()[0]
    assert status == "accepted"


# -- server pressure, revocation, clock ------------------------------------------------------

def test_revoked_device_is_wiped(live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    create_household(dev.session, "孙八", "胜利路8号")
    ops.revoke_device(live.engine, dev.engine.enrollment().device_id)
    report = dev.engine.run_once()
    assert report.wiped and not report.ok
    assert Vault(dev.data_dir).status() == "erased"
    assert Vault(dev.data_dir).info()["state"] == "erased"
    assert not (dev.data_dir / "gridfield.db").exists()


def test_clock_skew_is_measured_and_warned(live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    real = dev.transport.clock
    dev.transport.clock = lambda: real() + 3600  # device clock an hour fast
    report = dev.engine.run_once()
    assert report.ok, report.error
    assert report.clock_warning and 3500 < (report.clock_skew or 0) < 3700
    assert dev.engine.clock_warning()


def test_bad_sync_input_is_4xx(live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    cases = [b"{", b'{"ops": []}', b'{"ops": [{"op_id": "short"}]}',
             json.dumps({"ops": [{"op_id": "abcdefgh", "kind": "x", "record_id": "r",
                                  "payload": [], "base_version": None}]}).encode()]
    for body in cases:
        headers = protocol.sign_headers(dev.transport.private_key, dev.transport.device_id,
                                        "POST", protocol.SYNC_PUSH_PATH, body)
        resp = requests.post(live.base + protocol.SYNC_PUSH_PATH, data=body, headers=headers,
                             timeout=10)
        assert 400 <= resp.status_code < 500, resp.text
    for query in ("after=-1", "limit=0", "limit=100000", "after=x"):
        path = f"{protocol.SYNC_PULL_PATH}?{query}"
        headers = protocol.sign_headers(dev.transport.private_key, dev.transport.device_id,
                                        "GET", path, b"")
        resp = requests.get(live.base + path, headers=headers, timeout=10)
        assert resp.status_code == 422, resp.text
    # an update of an unknown household: rejected per op, not an HTTP error
    enqueue(dev.session, "household.update", "nope",
                        {"base_version": 0, "fields": {"address": "x"}})
    dev.engine.run_once()
    assert [a["reason"] for a in dev.engine.set_aside()] == ["unknown_record"]


def test_simulated_training_work_syncs(live: LiveServer, make_device: MakeDevice) -> None:
    from fieldclient.fieldwork.simulate import simulate

    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    result = simulate(dev.session, visits=12, patrols=2, photos=3, events=4, seed=5)
    assert result.as_dict() == {"households": 10, "visits": 12, "patrols": 2, "photos": 3,
                                "events": 4}
    counts = dev.engine.pending_counts()
    assert counts["visit.create"] == 12 and counts["event.report"] == 4
    assert counts["patrol.report"] == 2 and counts["photo"] == 3
    report = dev.engine.run_once()
    assert report.ok, report.error
    assert set(report.pushed) == {"applied"} and report.photos_uploaded == 3
    with live.engine.connect() as conn:
        kinds = dict(conn.execute(
            select(db.records.c.kind, func.count()).where(db.records.c.grid_id == grid["id"])
            .group_by(db.records.c.kind)).all())
        payloads = [r[0] for r in conn.execute(select(db.records.c.payload).where(
            db.records.c.grid_id == grid["id"], db.records.c.kind == "visit.create"))]
    assert kinds["visit.create"] == 12 and kinds["event.report"] == 4
    assert kinds["patrol.report"] == 2 and kinds["photo.meta"] == 3
    assert kinds["household.create"] == 10
    assert all(p["training"] == 1 for p in payloads)  # the row value: 1 = training
    with live.engine.connect() as conn:
        marked = [r[0] for r in conn.execute(select(db.records.c.payload).where(
            db.records.c.grid_id == grid["id"],
            db.records.c.kind.in_(("event.report", "photo.meta"))))]
    assert len(marked) == 7 and all(p["training"] for p in marked)
    # On the device as at the centre: the events listed (marked), the photos stored.
    from fieldclient.fieldwork import events
    from fieldclient.photos.pipeline import list_photos

    mine = events.my_events(dev.session)
    assert len(mine) == 4 and all(e.training for e in mine)
    assert all(e.status == "reported" for e in mine)  # the centre's status, after the sync
    stored = list_photos(dev.session)
    assert len(stored) == 3 and all(p.training for p in stored)


def test_schedule_backs_off_and_resets() -> None:
    from sync.engine import SyncReport, SyncSchedule
    from sync.errors import AuthRefused, ServerBusy

    schedule = SyncSchedule(base=10, max_delay=100, rng=lambda: 1.0)
    failed = SyncReport(error=ServerUnreachable())
    assert [schedule.next_delay(failed) for _ in range(5)] == [10, 20, 40, 80, 100]
    assert schedule.next_delay(SyncReport(error=ServerBusy(7))) == 17
    assert schedule.next_delay(SyncReport(error=AuthRefused("bad_signature"))) == 100
    assert schedule.next_delay(SyncReport(ok=True)) == schedule.interval
    assert schedule.failures == 0
    assert schedule.next_delay(SyncReport(wiped=True)) is None
    assert schedule.connectivity_regained() == 0.0


def test_supervisor_reads_all_its_grids_but_cannot_write(
    live: LiveServer, make_device: MakeDevice
) -> None:
    sup = make_device(live, live.demo["supervisor"], "sup")
    report = sup.engine.run_once()
    assert report.ok and report.pulled["household"] >= 10  # both demo grids
    hid = sup.session.db.execute("SELECT id FROM households LIMIT 1").fetchone()[0]
    update_household(sup.session, hid, {"address": "越权修改"})
    sup.engine.run_once()
    assert [a["reason"] for a in sup.engine.set_aside()] == ["read_only"]
    assert server_household(live, hid)["address"] != "越权修改"
    assert local_household(sup, hid)["address"] != "越权修改"  # rebuilt from the server copy


def test_revoked_device_that_missed_the_wipe_still_wipes(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    ops.revoke_device(live.engine, dev.engine.enrollment().device_id)
    with pytest.raises(DeviceRevoked):  # the 410 is consumed, as if the device crashed then
        dev.transport.pull(0, 1)
    report = dev.engine.run_once()  # now a 401 "revoked"
    assert report.wiped and Vault(dev.data_dir).status() == "erased"
