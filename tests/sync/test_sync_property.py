"""Randomized multi-device property test: offline edits, random sync order, dropped
requests and responses; in the end everyone agrees, every op took effect exactly once
and every colliding value is preserved in a conflict record."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sync_helpers import FAST_RETRY, PIN, DropProxy, LiveServer, new_grid

from central import db, ops
from fieldclient.fieldwork.households import (
    add_member,
    change_tags,
    create_household,
    update_household,
    update_member,
)
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import Session, setup_device
from sync.engine import SyncEngine, enroll_device, transport_for

DEVICES = 3
STATS = {"dropped": 0, "examples": 0}
FIELD_VALUES: dict[str, list[Any]] = {
    "head_name": ["张伟", "王芳", "李娜"],
    "address": ["东路1号", "西路2号", "南路3号"],
    "phone": ["13800000001", "13900000002", None],
    "category": ["ordinary", "hardship", "key"],
    "tags": [[], ["独居"], ["低保", "残疾"]],
}

MEMBER_VALUES: dict[str, list[Any]] = {
    "name": ["张小伟", "王小芳", "李小娜"],
    "phone": ["13700000001", "13700000002", None],
    "residence": ["registered", "floating", "tenant"],
}
TAGS = ["甲", "乙", "丙"]

action = st.one_of(
    st.tuples(st.just("create"), st.integers(0, DEVICES - 1)),
    st.tuples(st.just("member"), st.integers(0, DEVICES - 1), st.integers(0, 20),
              st.sampled_from(sorted(MEMBER_VALUES)), st.integers(0, 2)),
    st.tuples(st.just("tag"), st.integers(0, DEVICES - 1), st.integers(0, 20),
              st.sampled_from(TAGS)),
    st.tuples(st.just("update"), st.integers(0, DEVICES - 1), st.integers(0, 20),
              st.sampled_from(sorted(FIELD_VALUES)), st.integers(0, 2)),
    st.tuples(st.just("sync"), st.integers(0, DEVICES - 1), st.booleans()),
)


class Device:
    def __init__(self, live: LiveServer, person: int, root: Path, i: int) -> None:
        data_dir = root / f"d{i}"
        self.session: Session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
        code = ops.create_enrollment_code(live.engine, person)["code"]
        enroll_device(self.session, live.base, code, f"平板{i}")
        self.transport = transport_for(self.session, timeout=(2.0, 5.0))
        self.engine = SyncEngine(self.session, self.transport, retry=FAST_RETRY, batch_size=3,
                                 page_size=4)

    def households(self) -> dict[str, dict[str, Any]]:
        rows = self.session.db.execute(
            "SELECT id, head_name, address, phone, category, tags, version FROM households"
        ).fetchall()
        return {r[0]: {"head_name": r[1], "address": r[2], "phone": r[3], "category": r[4],
                       "tags": json.loads(r[5]), "version": r[6]} for r in rows}

    def members(self) -> dict[str, dict[str, Any]]:
        rows = self.session.db.execute(
            "SELECT id, household_id, name, phone, residence, version FROM members").fetchall()
        return {r[0]: {"household_id": r[1], "name": r[2], "phone": r[3], "residence": r[4],
                       "version": r[5]} for r in rows}

    def op_ids(self) -> dict[str, tuple[str, str, dict[str, Any]]]:
        rows = self.session.db.execute(
            "SELECT op_id, kind, record_id, payload, state FROM outbox").fetchall()
        assert all(r[4] != "pending" for r in rows)
        return {r[0]: (r[1], r[2], json.loads(r[3])) for r in rows}


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=1, max_size=20), seed=st.integers(0, 2**32 - 1))
def test_devices_converge_exactly_once(live: LiveServer, actions: list[Any], seed: int) -> None:
    grid = new_grid(live.engine, workers=DEVICES)
    proxy = DropProxy(live.base, random.Random(seed))
    proxy.p_response, proxy.p_request = 0.4, 0.1
    with tempfile.TemporaryDirectory() as tmp:
        devices = [Device(live, p, Path(tmp), i) for i, p in enumerate(grid["workers"])]
        try:
            hid = create_household(devices[0].session, "初始户", "起点路1号")
            add_member(devices[0].session, hid, "初始成员", "子女")
            add_member(devices[0].session, hid, "第二成员", "配偶")
            for d in devices:
                assert d.engine.run_once().ok
            known = [hid]
            for act in actions:
                dev = devices[act[1]]
                if act[0] == "create":
                    n = len(known)
                    known.append(create_household(dev.session, f"户{n}", f"{n}号"))
                elif act[0] == "update":
                    local = dev.households()
                    ids = [h for h in known if h in local]
                    target = ids[act[2] % len(ids)]
                    field, value = act[3], FIELD_VALUES[act[3]][act[4]]
                    update_household(dev.session, target, {field: value})
                elif act[0] == "member":
                    members = sorted(dev.members())
                    field, value = act[3], MEMBER_VALUES[act[3]][act[4]]
                    update_member(dev.session, members[act[2] % len(members)], {field: value})
                elif act[0] == "tag":
                    local = dev.households()
                    ids = [h for h in known if h in local]
                    change_tags(dev.session, ids[act[2] % len(ids)], add=[act[3]])
                else:
                    dev.transport.base = proxy.base if act[2] else live.base
                    dev.engine.run_once()  # may end early with an error: nothing lost
            for d in devices:
                d.transport.base = live.base
            for _round in range(2):
                for d in devices:
                    report = d.engine.run_once()
                    assert report.ok, report.error
            check(live, devices, grid["id"])
            STATS["dropped"] += proxy.dropped
            STATS["examples"] += 1
        finally:
            proxy.close()
            for d in devices:
                d.session.close()


def check(live: LiveServer, devices: list[Device], grid_id: int) -> None:
    with live.engine.connect() as conn:
        server = {
            r["id"]: {k: r[k] for k in ("head_name", "address", "phone", "category", "tags",
                                        "version")}
            for r in conn.execute(select(db.households).where(
                db.households.c.grid_id == grid_id)).mappings()
        }
        device_ids = [d.engine.enrollment().device_id for d in devices]  # type: ignore[union-attr]
        stored = {
            r["op_id"]: dict(r)
            for r in conn.execute(select(db.sync_ops).where(
                db.sync_ops.c.device_id.in_(device_ids))).mappings()
        }
        conflicts = [dict(r) for r in conn.execute(select(db.conflicts).where(
            db.conflicts.c.grid_id == grid_id)).mappings()]
        members = {
            r["id"]: {"household_id": r["household_id"], "name": r["name"], "phone": r["phone"],
                      "residence": r["residence"]}
            for r in conn.execute(select(db.members).where(
                db.members.c.household_id.in_(list(server)))).mappings()
        }
        member_versions = {
            r["member_id"]: int(r["version"])
            for r in conn.execute(select(db.member_state).where(
                db.member_state.c.household_id.in_(list(server)))).mappings()
        }
    for mid in members:
        members[mid]["version"] = member_versions.get(mid, 1)
    # all devices and the server agree on every household
    for d in devices:
        assert d.households() == server
        assert d.members() == members
    # every op the devices made reached the server exactly once (one row per op id)
    made: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for d in devices:
        made.update(d.op_ids())
    assert set(made) == set(stored)
    creates = [m for m in made.values() if m[0] == "household.create"]
    assert len(creates) == len(server)
    # versions count the applied updates exactly once
    applied_per_household: dict[str, int] = {}
    applied_per_member: dict[str, int] = {}
    for op_id, (kind, record_id, payload) in made.items():
        if kind not in ("household.update", "household.tags", "member.update"):
            continue
        result = stored[op_id]["result"]
        assert result["status"] in ("applied", "conflict"), result
        counts = applied_per_member if kind == "member.update" else applied_per_household
        if result["applied_fields"]:
            counts[record_id] = counts.get(record_id, 0) + 1
        if kind == "household.tags":
            assert result["status"] == "applied"  # a set merge never conflicts
            continue
        # every value is applied, was already there, or kept in a conflict record
        for name, value in payload["fields"].items():
            if name in result["applied_fields"] or name in result["unchanged_fields"]:
                continue
            assert any(
                c["other_op_id"] == op_id and c["field"] == name and c["other_value"] == value
                for c in conflicts
            ), (op_id, name, value)
    for household_id, row in server.items():
        assert row["version"] == 1 + applied_per_household.get(household_id, 0)
    for member_id, row in members.items():
        assert row["version"] == 1 + applied_per_member.get(member_id, 0)
    # the conflicts reached every device
    for d in devices:
        assert {c["id"] for c in d.engine.conflicts()} == {c["id"] for c in conflicts}


def test_the_property_run_really_was_interrupted() -> None:
    """Runs after the property test (file order): the proxy did drop traffic."""
    print(STATS)
    if STATS["examples"] >= 10:
        assert STATS["dropped"] > 0
