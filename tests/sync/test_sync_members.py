"""Members and tags over real HTTP against a real ``central serve``: member create,
field-level member updates that merge or conflict, removal against a concurrent edit
(nothing lost), tags as a set, grid authorization of member ops."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sync_helpers import LiveServer, new_grid

from central import db
from fieldclient.fieldwork.households import (
    add_member,
    change_tags,
    create_household,
    list_members,
    remove_member,
    update_member,
)

MakeDevice = Callable[..., Any]


def local_members(dev: Any, hid: str) -> dict[str, dict[str, Any]]:
    rows = dev.session.db.execute(
        "SELECT id, name, relation, phone, residence, version FROM members"
        " WHERE household_id = ?", (hid,)).fetchall()
    return {r[0]: {"name": r[1], "relation": r[2], "phone": r[3], "residence": r[4],
                   "version": r[5]} for r in rows}


def server_members(live: LiveServer, hid: str) -> dict[str, dict[str, Any]]:
    with live.engine.connect() as conn:
        rows = conn.execute(select(db.members).where(
            db.members.c.household_id == hid)).mappings().all()
    return {r["id"]: dict(r) for r in rows}


def local_tags(dev: Any, hid: str) -> list[str]:
    row = dev.session.db.execute("SELECT tags FROM households WHERE id = ?", (hid,)).fetchone()
    return list(json.loads(row[0]))


def setup(live: LiveServer, make_device: MakeDevice) -> tuple[Any, Any, Any, str, str]:
    """Two workers and the leader of a fresh grid, a household with one member, all
    synced."""
    grid = new_grid(live.engine)
    a = make_device(live, grid["workers"][0], "a")
    b = make_device(live, grid["workers"][1], "b")
    leader = make_device(live, grid["leader"], "leader")
    hid = create_household(a.session, "孙八", "胜利路8号", tags=["独居"])
    mid = add_member(a.session, hid, "孙小八", "子女", phone="13700000001")
    for dev in (a, b, leader):
        assert dev.engine.run_once().ok
    return a, b, leader, hid, mid


def test_member_create_syncs_to_another_device(
    live: LiveServer, make_device: MakeDevice
) -> None:
    a, b, _leader, hid, mid = setup(live, make_device)
    assert server_members(live, hid)[mid]["name"] == "孙小八"
    got = local_members(b, hid)[mid]
    assert (got["name"], got["relation"], got["phone"], got["version"]) == (
        "孙小八", "子女", "13700000001", 1)
    # a member added while another member op is pending survives a pull on the device
    mid2 = add_member(b.session, hid, "孙老太", "母亲", residence="floating")
    a.engine.run_once()  # a pulls nothing new; b's op still pending on b
    assert mid2 in local_members(b, hid)
    assert b.engine.run_once().pushed == {"applied": 1}
    a.engine.run_once()
    assert set(local_members(a, hid)) == {mid, mid2}
    assert [m["phone"] for m in list_members(a.session, hid) if m["id"] == mid] == ["*******0001"]
    # retrying the same create is a duplicate, not a second member
    again = b.transport.push([{"op_id": "m-retry-1", "kind": "member.create", "record_id": mid2,
                               "base_version": None,
                               "payload": {"household_id": hid, "name": "孙老太",
                                           "relation": "母亲", "id_number": None,
                                           "phone": None, "residence": "floating"}}])
    assert again["results"][0]["status"] == "duplicate"
    assert len(server_members(live, hid)) == 2


def test_member_different_fields_merge(live: LiveServer, make_device: MakeDevice) -> None:
    a, b, _leader, hid, mid = setup(live, make_device)
    update_member(a.session, mid, {"phone": "13700000009"})
    update_member(b.session, mid, {"residence": "tenant"})
    assert a.engine.run_once().pushed == {"applied": 1}
    assert b.engine.run_once().pushed == {"applied": 1}
    a.engine.run_once()
    for dev in (a, b):
        got = local_members(dev, hid)[mid]
        assert (got["phone"], got["residence"], got["version"]) == ("13700000009", "tenant", 3)
        assert dev.engine.conflicts() == []


def test_member_same_field_conflict_kept_and_leader_resolves(
    live: LiveServer, make_device: MakeDevice
) -> None:
    a, b, leader, hid, mid = setup(live, make_device)
    update_member(a.session, mid, {"name": "孙晓八"})
    update_member(b.session, mid, {"name": "孙小巴"})
    assert a.engine.run_once().pushed == {"applied": 1}
    rb = b.engine.run_once()
    assert rb.pushed == {"conflict": 1} and rb.new_conflicts == 1
    assert local_members(b, hid)[mid]["name"] == "孙晓八"  # follows the server again
    for dev in (a, leader):
        dev.engine.run_once()
    for dev in (a, b, leader):
        (c,) = dev.engine.conflicts()
        assert (c["member_id"], c["field"], c["kept_value"], c["other_value"]) == (
            mid, "name", "孙晓八", "孙小巴")
    leader.engine.resolve_conflict(c["id"], "other")
    assert leader.engine.run_once().pushed == {"applied": 1}
    for dev in (a, b, leader):
        dev.engine.run_once()
        assert local_members(dev, hid)[mid]["name"] == "孙小巴"
        assert dev.engine.conflicts() == []
    assert server_members(live, hid)[mid]["name"] == "孙小巴"


def test_remove_after_concurrent_edit_becomes_a_conflict(
    live: LiveServer, make_device: MakeDevice
) -> None:
    a, b, leader, hid, mid = setup(live, make_device)
    update_member(a.session, mid, {"phone": "13700000005"})
    remove_member(b.session, mid)
    assert mid not in local_members(b, hid)
    assert a.engine.run_once().pushed == {"applied": 1}
    assert b.engine.run_once().pushed == {"conflict": 1}
    # the edit reached the server first: the member stays, with the edit
    assert server_members(live, hid)[mid]["phone"] == "13700000005"
    assert local_members(b, hid)[mid]["phone"] == "13700000005"
    leader.engine.run_once()
    (c,) = leader.engine.conflicts()
    assert (c["member_id"], c["field"], c["kept_value"], c["other_value"]) == (
        mid, "removed", False, True)
    leader.engine.resolve_conflict(c["id"], "other")  # the leader confirms the removal
    leader.engine.run_once()
    for dev in (a, b, leader):
        dev.engine.run_once()
        assert mid not in local_members(dev, hid)
    assert mid not in server_members(live, hid)


def test_edit_after_concurrent_remove_is_kept_and_restorable(
    live: LiveServer, make_device: MakeDevice
) -> None:
    a, b, leader, hid, mid = setup(live, make_device)
    remove_member(a.session, mid)
    update_member(b.session, mid, {"phone": "13700000006", "relation": "孙子"})
    assert a.engine.run_once().pushed == {"applied": 1}
    assert b.engine.run_once().pushed == {"conflict": 1}
    assert mid not in server_members(live, hid)
    assert mid not in local_members(b, hid)  # b follows the server: removed
    leader.engine.run_once()
    (c,) = leader.engine.conflicts()
    assert (c["field"], c["kept_value"]) == ("removed", True)
    assert c["other_value"] == {"fields": {"phone": "13700000006", "relation": "孙子"}}
    leader.engine.resolve_conflict(c["id"], "other")  # bring the member back, edited
    leader.engine.run_once()
    for dev in (a, b, leader):
        dev.engine.run_once()
        got = local_members(dev, hid)[mid]
        assert (got["name"], got["phone"], got["relation"]) == ("孙小八", "13700000006", "孙子")


def test_same_device_edit_then_remove_is_plain(
    live: LiveServer, make_device: MakeDevice
) -> None:
    a, _b, _leader, hid, mid = setup(live, make_device)
    update_member(a.session, mid, {"phone": "13700000007"})
    remove_member(a.session, mid)
    assert a.engine.run_once().pushed == {"applied": 2}
    assert mid not in server_members(live, hid) and a.engine.conflicts() == []


def test_tags_added_on_two_devices_both_survive(
    live: LiveServer, make_device: MakeDevice
) -> None:
    a, b, _leader, hid, _mid = setup(live, make_device)
    change_tags(a.session, hid, add=["低保"])
    change_tags(b.session, hid, add=["残疾"], remove=["独居"])
    assert a.engine.run_once().pushed == {"applied": 1}
    assert b.engine.run_once().pushed == {"applied": 1}
    a.engine.run_once()
    for dev in (a, b):
        assert local_tags(dev, hid) == ["低保", "残疾"]
        assert dev.engine.conflicts() == []
    with live.engine.connect() as conn:
        tags = conn.execute(select(db.households.c.tags).where(
            db.households.c.id == hid)).scalar()
    assert tags == ["低保", "残疾"]


def test_member_ops_of_another_grid_are_rejected(
    live: LiveServer, make_device: MakeDevice
) -> None:
    _a, _b, _leader, hid, mid = setup(live, make_device)
    other = new_grid(live.engine)
    intruder = make_device(live, other["workers"][0], "intruder")
    assert intruder.engine.run_once().ok and local_members(intruder, hid) == {}
    ops_ = [
        {"op_id": "x-create-1", "kind": "member.create", "record_id": "x-member-1",
         "base_version": None,
         "payload": {"household_id": hid, "name": "外人", "relation": "其他", "id_number": None,
                     "phone": None, "residence": "registered"}},
        {"op_id": "x-update-1", "kind": "member.update", "record_id": mid, "base_version": 1,
         "payload": {"fields": {"name": "改名"}}},
        {"op_id": "x-remove-1", "kind": "member.remove", "record_id": mid, "base_version": 1,
         "payload": {}},
        {"op_id": "x-tags-1", "kind": "household.tags", "record_id": hid, "base_version": None,
         "payload": {"add": ["越权"], "remove": []}},
    ]
    answer = intruder.transport.push(ops_)
    assert [(r["status"], r["reason"]) for r in answer["results"]] == [
        ("rejected", "forbidden_grid")] * 4
    got = server_members(live, hid)
    assert set(got) == {mid} and got[mid]["name"] == "孙小八"
