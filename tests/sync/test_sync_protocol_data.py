"""The protocol as data and version skew, over a real ``central serve`` (SQLite and
PostgreSQL): one schema per op and pull kind (``sync.protocol.schemas``) checked op by op and
published in ``/openapi.json``; a newer device's kinds and fields wait (``retry_later``)
instead of being refused for good; cross-grid references are refused; a pull page is
bounded in bytes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import requests
from sync_helpers import LiveServer, new_grid

from central import db
from fieldclient.fieldwork.households import create_household
from sync import protocol
from sync.protocol import schemas

MakeDevice = Callable[..., Any]


def _op(kind: str, payload: dict[str, Any], record_id: str | None = None,
        base_version: int | None = None, **envelope: Any) -> dict[str, Any]:
    return {"op_id": uuid.uuid4().hex, "kind": kind, "record_id": record_id or uuid.uuid4().hex,
            "base_version": base_version, "payload": payload, **envelope}


def _push(dev: Any, ops: list[dict[str, Any]], ascii: bool = True) -> list[dict[str, Any]]:
    body = json.dumps({"ops": ops}, ensure_ascii=ascii).encode()
    return list(dev.transport._request("POST", protocol.SYNC_PUSH_PATH, body)["results"])


def _pull_all(dev: Any, limit: int = 1000) -> list[dict[str, Any]]:
    after, out = 0, []
    while True:
        page = dev.transport.pull(after, limit)
        out.extend(page["changes"])
        after = int(page["next_after"])
        if not page["has_more"]:
            return out


def _worker(live: LiveServer, make_device: MakeDevice, label: str = "w"
            ) -> tuple[dict[str, Any], Any, str]:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0], label)
    hid = create_household(dev.session, "测试户", "测试路1号")
    assert dev.engine.run_once().ok
    return grid, dev, hid


def _stored_ops(live: LiveServer, op_id: str) -> int:
    with live.engine.connect() as conn:
        return int(conn.execute(db.sync_ops.select().where(
            db.sync_ops.c.op_id == op_id).with_only_columns(db.sync_ops.c.op_id)
        ).fetchall().__len__())


def test_a_newer_devices_kind_and_field_wait_and_are_not_recorded(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid, dev, hid = _worker(live, make_device)
    future_kind = _op("household.photo_wall", {"grid_id": grid["id"], "note": "新功能"})
    future_field = _op("household.update", {"fields": {"phone": "13800000009",
                                                       "wechat": "wx123"}}, hid, 1)
    visit = _op("visit.create", {"grid_id": grid["id"], "household_id": hid,
                                 "visited_at": 1.7e9, "situation": "正常"})
    results = _push(dev, [future_kind, future_field, visit])
    assert [(r["status"], r.get("reason")) for r in results] == [
        ("retry_later", "unsupported_kind"), ("retry_later", "unsupported_field"),
        ("applied", None)]
    # nothing recorded: after the server's upgrade the same op ids are applied, not
    # answered "duplicate" of a refusal
    assert _stored_ops(live, future_kind["op_id"]) == 0
    assert _stored_ops(live, future_field["op_id"]) == 0
    again = _push(dev, [future_kind, future_field, visit])
    assert [r["status"] for r in again] == ["retry_later", "retry_later", "duplicate"]


def test_unknown_optional_fields_are_kept_and_reach_the_grid(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid, dev, hid = _worker(live, make_device)
    visit = _op("visit.create", {"grid_id": grid["id"], "household_id": hid,
                                 "visited_at": 1.7e9, "situation": "正常",
                                 "mood": {"score": 4, "note": "心情好"}},
                client_hint="envelope fields of a newer device are ignored")
    (result,) = _push(dev, [visit])
    assert result["status"] == "applied", result
    leader = make_device(live, grid["leader"], "leader")
    (pulled,) = [c for c in _pull_all(leader) if c["kind"] == "visit"]
    assert pulled["data"]["mood"] == {"score": 4, "note": "心情好"}


def test_payloads_are_checked_against_their_kind_schema(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid, dev, hid = _worker(live, make_device)
    g = grid["id"]
    bad = [
        _op("visit.create", {"grid_id": g, "household_id": hid, "visited_at": "昨天"}),
        _op("visit.create", {"grid_id": g, "household_id": hid, "people_met": True}),
        _op("visit.create", {"grid_id": g, "household_id": hid, "situation": "长" * 5001}),
        _op("event.report", {"grid_id": g, "category": "其他", "description": "  "}),
        _op("event.report", {"grid_id": g, "category": "其他", "description": "x",
                             "location": {"lat": 95.0, "lon": 120.0}}),
        _op("track.segment", {"grid_id": g, "track_id": "t", "points": [[1.7e9, 30.0]]}),
        _op("photo.meta", {"grid_id": g, "sha256": "not-a-hash"}),
        _op("household.tags", {"add": ["x" * 51]}, hid),
        _op("conflict.resolve", {"choice": "both"}, "c1"),
    ]
    results = _push(dev, bad)
    assert [(r["status"], r["reason"]) for r in results] == [("rejected", "invalid")] * len(bad)
    assert all(r["detail"] for r in results)


def test_a_field_that_cannot_be_null_is_refused_as_null(
    live: LiveServer, make_device: MakeDevice
) -> None:
    """Found by fuzzing: ``household.update {"tags": null}`` was applied, and from then
    on the grid's household list (``GET /api/v1/households``) was a 500 for every
    device. The schema now says (and checks) that these fields are never null."""
    grid, dev, hid = _worker(live, make_device)
    names = ("tags", "head_name", "address", "category")
    results = _push(dev, [_op("household.update", {"fields": {name: None}}, hid, 1)
                          for name in names])
    assert [(r["status"], r["reason"]) for r in results] == [("rejected", "invalid")] * 4
    fields = live_schema(live)["Op_household_update"]["properties"]["fields"]["properties"]
    for name in names:
        assert "null" not in json.dumps(fields[name]), fields[name]
    resp = dev.transport._request("GET", f"/api/v1/households?grid={grid['id']}")
    assert [h["tags"] for h in resp["households"]] == [[]]


def live_schema(live: LiveServer) -> dict[str, Any]:
    return dict(requests.get(live.base + "/openapi.json", timeout=10).json()[
        "components"]["schemas"])


def test_references_to_another_grid_are_refused(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid, dev, hid = _worker(live, make_device)
    other, stranger, their_hid = _worker(live, make_device, "stranger")
    theirs = _op("event.report", {"grid_id": other["id"], "category": "其他",
                                  "description": "他们的事件"})
    their_photo = _op("photo.meta", {"grid_id": other["id"], "sha256": "a" * 64})
    assert [r["status"] for r in _push(stranger, [theirs, their_photo])] == ["applied"] * 2
    from central_helpers import central

    task = json.loads(central(live.db_url, "task", "push", "--grid", str(grid["id"]),
                              "--title", "排查", "--body", "请排查", "--json").stdout)
    g = grid["id"]
    refused = [
        _op("event.report", {"grid_id": g, "category": "其他", "description": "x",
                             "household_id": their_hid}),
        _op("task.answer", {"task_id": task["id"], "text": "见事件",
                            "event_id": theirs["record_id"]}),
        _op("visit.create", {"grid_id": g, "household_id": hid, "visited_at": 1.7e9,
                             "photos": [their_photo["record_id"]]}),
        _op("event.followup", {"event_id": theirs["record_id"], "kind": "supplement",
                               "text": "补充"}),
    ]
    results = _push(dev, refused)
    assert [(r["status"], r["reason"]) for r in results] == [
        ("rejected", "forbidden_grid")] * len(refused), results


def test_a_pull_page_is_bounded_in_bytes(live: LiveServer, make_device: MakeDevice) -> None:
    grid, dev, hid = _worker(live, make_device)
    long_text = "入户了解情况，" * 700  # ~4,900 characters, ~14.7 KB of UTF-8
    for _ in range(27):  # 81 visits, ~1.2 MB: more than one page's bytes
        batch = [_op("visit.create", {"grid_id": grid["id"], "household_id": hid,
                                      "visited_at": 1.7e9, "situation": long_text})
                 for _ in range(3)]
        assert {r["status"] for r in _push(dev, batch, ascii=False)} == {"applied"}
    leader = make_device(live, grid["leader"], "leader")
    first = leader.transport.pull(0, 1000)
    size = len(json.dumps(first["changes"], ensure_ascii=False).encode())
    assert first["has_more"]
    assert size <= protocol.MAX_PULL_BYTES + 20_000
    visits = [c for c in _pull_all(leader) if c["kind"] == "visit"]
    assert len(visits) == 81 and len({v["id"] for v in visits}) == 81


def test_every_pulled_row_fits_its_schema(live: LiveServer, make_device: MakeDevice) -> None:
    from fieldclient.fieldwork.simulate import simulate

    grid, dev, _hid = _worker(live, make_device)
    simulate(dev.session, visits=6, events=2, photos=1, patrols=1, seed=4)
    assert dev.engine.run_once().ok
    leader = make_device(live, grid["leader"], "leader")
    changes = _pull_all(leader)
    assert {c["kind"] for c in changes} >= {"household", "visit", "event"}
    for change in changes:
        schemas.check_change(change)


def test_levels_are_announced_and_too_old_devices_told_to_update(live: LiveServer) -> None:
    health = requests.get(live.base + "/api/v1/health", timeout=10)
    assert health.headers[protocol.HEADER_PROTOCOL] == str(protocol.PROTOCOL_LEVEL)
    assert health.headers[protocol.HEADER_MIN_PROTOCOL] == str(protocol.MIN_PROTOCOL_LEVEL)
    body = health.json()
    assert set(body["op_kinds"]) == set(protocol.OP_KINDS)
    assert set(body["pull_kinds"]) == set(protocol.PULL_KINDS)
    old = requests.get(live.base + "/api/v1/health", timeout=10,
                       headers={protocol.HEADER_PROTOCOL: "0"})
    assert old.status_code == 426 and old.json()["error"] == "upgrade_required"


def test_openapi_publishes_every_op_and_pull_schema(live: LiveServer) -> None:
    doc = requests.get(live.base + "/openapi.json", timeout=10).json()
    components = doc["components"]["schemas"]
    for kind in protocol.OP_KINDS:
        assert "Op_" + kind.replace(".", "_") in components
    for kind in protocol.PULL_KINDS:
        assert "Pull_" + kind in components
    visit = components["Op_visit_create"]["properties"]
    assert visit["situation"]["anyOf"][0]["maxLength"] == schemas.MAX_TEXT


def test_an_op_the_schema_refuses_is_set_aside_on_the_device_and_never_sent(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid, dev, hid = _worker(live, make_device)
    with dev.session.db.conn:
        bad = dev.session.enqueue("visit.create", "v-bad", {
            "grid_id": str(grid["id"]), "household_id": hid, "visited_at": "昨天"})
        good = dev.session.enqueue("visit.create", "v-good", {
            "grid_id": str(grid["id"]), "household_id": hid, "visited_at": 1.7e9})
    sent_before = dev.transport.bytes_sent
    report = dev.engine.run_once()
    assert report.ok and report.pushed == {"applied": 1, "rejected": 1}
    (aside,) = dev.engine.set_aside()
    assert (aside["record_id"], aside["reason"]) == ("v-bad", "invalid")
    assert _stored_ops(live, bad) == 0 and _stored_ops(live, good) == 1
    assert dev.transport.bytes_sent > sent_before
