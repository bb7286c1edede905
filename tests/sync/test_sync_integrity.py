"""Faults that broke "every record reaches everyone who should have it, exactly once",
each as a regression test over a real ``central serve`` (SQLite and PostgreSQL):

- one device's deeply nested visit stopped its grid's pull for good (500 on every pull);
- one op that fails in the database (a primary key, a NUL, NaN, a lone surrogate, a grid
  id of 1e400) made the whole batch 503 forever, so innocent ops never arrived;
- a stale conflict decision overwrote a value set after the conflict arose;
- the pull read each kind in its own snapshot, so a push committing in between was
  skipped by the cursor for good.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from central_helpers import central
from sync_helpers import LiveServer, launch, new_grid, two_devices

from central import ops
from fieldclient.fieldwork.households import create_household, update_household
from sync import protocol
from sync.errors import ServerFailed
from sync.protocol import schemas

MakeDevice = Callable[..., Any]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def unthrottled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """A server whose per-device rate limit is far above the default: the race test
    below pushes and pulls as fast as the server answers, on purpose."""
    workdir = tmp_path_factory.mktemp(f"central-unthrottled-{request.param}")
    db_url = None
    if request.param == "postgresql":
        db_url = request.getfixturevalue("pg_server").new_database()
    server = launch(workdir, "--rate-limit", "10000", "--rate-burst", "10000", db_url=db_url)
    try:
        yield server
    finally:
        server.stop()


def _visit_op(grid_id: int, household_id: str, **extra: Any) -> dict[str, Any]:
    rid = uuid.uuid4().hex
    payload = {"grid_id": grid_id, "household_id": household_id, "visited_at": 1.7e9,
               "situation": "入户走访", **extra}
    return {"op_id": uuid.uuid4().hex, "kind": "visit.create", "record_id": rid,
            "base_version": None, "payload": payload}


def _worker_with_household(
    live: LiveServer, make_device: MakeDevice
) -> tuple[dict[str, Any], Any, str]:
    """A fresh grid, one worker's device and a household it created and synced."""
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0], "w")
    hid = create_household(dev.session, "测试户", "测试路1号")
    assert dev.engine.run_once().ok
    return grid, dev, hid


def _raw_push(dev: Any, op_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Push exactly these bytes (ASCII escapes: lone surrogates and NaN go through)."""
    body = json.dumps({"ops": op_list}, ensure_ascii=True).encode()
    answer = dev.transport._request("POST", protocol.SYNC_PUSH_PATH, body)
    return list(answer["results"])


def test_a_deeply_nested_visit_is_refused_and_the_grid_still_pulls(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid, worker, hid = _worker_with_household(live, make_device)
    nested: Any = "底"
    for _ in range(300):
        nested = {"x": nested}
    (result,) = _raw_push(worker, [_visit_op(grid["id"], hid, extra=nested)])
    assert (result["status"], result["reason"]) == ("rejected", "invalid")
    leader = make_device(live, grid["leader"], "leader")
    report = leader.engine.run_once()
    assert report.ok, report.error
    assert report.pulled.get("household") == 1


def test_one_op_failing_in_the_database_does_not_hold_back_the_batch(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid, dev, hid = _worker_with_household(live, make_device)
    task = json.loads(central(live.db_url, "task", "push", "--grid", str(grid["id"]),
                              "--title", "排查", "--body", "请排查", "--json").stdout)
    same = uuid.uuid4().hex
    event = {"grid_id": grid["id"], "category": "其他", "description": "正常"}

    def op(kind: str, payload: dict[str, Any], record_id: str | None = None) -> dict[str, Any]:
        return {"op_id": uuid.uuid4().hex, "kind": kind, "record_id": record_id or
                uuid.uuid4().hex, "base_version": None, "payload": payload}

    batch = [
        op("task.ack", {"task_id": task["id"], "acknowledged_at": 1.7e9}, same),
        op("task.answer", {"task_id": task["id"], "text": "同一编号"}, same),  # same key
        op("event.report", {**event, "description": "含\x00字符"}),
        op("event.report", {**event, "description": "孤立\ud800代理"}),
        op("event.report", {**event, "lat": float("nan"), "lon": 120.0}),
        op("event.report", {**event, "grid_id": float("inf")}),
        op("event.report", {**event, "grid_id": True}),
        _visit_op(grid["id"], hid),  # innocent
    ]
    results = _raw_push(dev, batch)
    got = [(r["status"], r.get("reason")) for r in results]
    assert got[0] == ("applied", None)
    assert got[1] == ("rejected", "content_differs")  # checked, not a primary key error
    assert all(status == "rejected" for status, _ in got[1:7]), got
    assert got[7] == ("applied", None)
    # the answers are stored: a retry gets the same, nothing is stuck
    assert [r["status"] for r in _raw_push(dev, batch)] == ["duplicate"] * len(batch)


def test_a_record_id_no_database_can_hold_is_refused_and_never_served(
    live: LiveServer, make_device: MakeDevice
) -> None:
    """Found by fuzzing: a record id with a NUL was stored on SQLite and served to the
    whole grid (whose devices could only quarantine it); on PostgreSQL it failed the
    batch's bookkeeping with a 500. The envelope is the device's own making: like a
    lone surrogate (refused so already), a NUL there is the batch's 422."""
    grid, dev, hid = _worker_with_household(live, make_device)
    event = {"grid_id": grid["id"], "category": "其他", "description": "正常"}
    bad_ids = ("ev\x00nul", "孤立\ud800代理")
    for rid in bad_ids:
        batch = [{"op_id": uuid.uuid4().hex, "kind": "event.report", "record_id": rid,
                  "base_version": None, "payload": event}, _visit_op(grid["id"], hid)]
        with pytest.raises(ServerFailed) as failed:
            _raw_push(dev, batch)
        assert failed.value.status == 422 and "record_id" in str(failed.value)
    leader = make_device(live, grid["leader"], "leader")
    page = leader.transport.pull(0, protocol.MAX_PULL_LIMIT)
    assert not {c["id"] for c in page["changes"]} & set(bad_ids)
    for change in page["changes"]:
        schemas.check_change(dict(change))


def test_a_stale_conflict_decision_does_not_overwrite_a_newer_value(
    live: LiveServer, make_device: MakeDevice
) -> None:
    a, b, leader, hid, _grid = two_devices(live, make_device)
    update_household(a.session, hid, {"phone": "13800000002"})
    update_household(b.session, hid, {"phone": "13800000003"})
    assert a.engine.run_once().pushed == {"applied": 1}  # kept
    assert b.engine.run_once().pushed == {"conflict": 1}
    update_household(a.session, hid, {"phone": "13800000004"})  # a third value, later
    assert a.engine.run_once().pushed == {"applied": 1}
    leader.engine.run_once()
    (conflict,) = leader.engine.conflicts()
    leader.engine.resolve_conflict(conflict["id"], "other")  # B's value, decided on old facts
    leader.engine.run_once()
    (refused,) = leader.engine.set_aside()
    assert refused["reason"] == "stale"
    for dev in (a, b, leader):
        dev.engine.run_once()
        (phone,) = dev.session.db.execute(
            "SELECT phone FROM households WHERE id = ?", (hid,)).fetchone()
        assert phone == "13800000004"


def test_the_feed_skips_nothing_while_devices_push(
    unthrottled: LiveServer, make_device: MakeDevice
) -> None:
    """Several devices push events, household edits and visits while a leader pulls in a
    loop; at the end the leader has exactly what a fresh pull from 0 gives."""
    grid = new_grid(unthrottled.engine, workers=4)
    leader = make_device(unthrottled, grid["leader"], "leader")
    pushers = []
    for i, person in enumerate(grid["workers"]):
        dev = make_device(unthrottled, person, f"w{i}")
        hid = create_household(dev.session, f"户主{i}", f"测试路{i}号")
        assert dev.engine.run_once().ok
        pushers.append((dev, hid))
    stop = time.monotonic() + 8.0
    errors: list[BaseException] = []

    def push_loop(dev: Any, hid: str) -> None:
        version = 1
        n = 0
        try:
            while time.monotonic() < stop:
                n += 1
                event = {"op_id": uuid.uuid4().hex, "kind": "event.report",
                         "record_id": uuid.uuid4().hex, "base_version": None,
                         "payload": {"grid_id": grid["id"], "category": "其他",
                                     "description": f"事件{n}"}}
                edit = {"op_id": uuid.uuid4().hex, "kind": "household.update",
                        "record_id": hid, "base_version": version,
                        "payload": {"fields": {"address": f"测试路{n}号"}}}
                answer = dev.transport.push([event, edit, _visit_op(grid["id"], hid)])
                version = answer["results"][1].get("version") or version
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=push_loop, args=p) for p in pushers]
    for thread in threads:
        thread.start()
    after = 0
    seen: dict[tuple[str, str], int] = {}
    while any(t.is_alive() for t in threads):
        page = leader.transport.pull(after, 50)
        for change in page["changes"]:
            seen[(change["kind"], change["id"])] = int(change["seq"])
        after = int(page["next_after"])
    for thread in threads:
        thread.join()
    assert not errors, errors
    while True:  # catch up after the pushers stopped
        page = leader.transport.pull(after, 500)
        for change in page["changes"]:
            seen[(change["kind"], change["id"])] = int(change["seq"])
        after = int(page["next_after"])
        if not page["has_more"]:
            break
    fresh: set[tuple[str, str]] = set()
    after = 0
    while True:
        page = leader.transport.pull(after, 1000)
        fresh.update((c["kind"], c["id"]) for c in page["changes"])
        after = int(page["next_after"])
        if not page["has_more"]:
            break
    missing = fresh - set(seen)
    events = sum(1 for kind, _ in fresh if kind == "event")
    assert events > 20, "the pushers hardly pushed: the race was not exercised"
    assert not missing, f"{len(missing)} of {len(fresh)} changes never reached the puller"
    ops.stats(unthrottled.engine)  # the server still answers its own queries


def test_a_slow_writer_neither_blocks_pushes_nor_loses_its_row(
    live: LiveServer, make_device: MakeDevice
) -> None:
    """PostgreSQL: writers share no counter row, so a transaction left open does not
    hold other devices' pushes; and the feed's watermark keeps the puller from passing
    the open transaction's number: its row arrives once it commits, none skipped."""
    import pytest
    from sqlalchemy import insert

    from central import db

    if not live.db_url.startswith("postgres"):
        pytest.skip("SQLite serialises writers by design")
    grid = new_grid(live.engine)
    worker = make_device(live, grid["workers"][0], "w")
    leader = make_device(live, grid["leader"], "leader")
    with live.engine.connect() as slow:
        transaction = slow.begin()
        slow.execute(insert(db.tasks).values(
            id="slow-task", grid_id=grid["id"], title="慢任务", body="晚提交",
            due=None, created_at=db.now_iso(), updated_seq=db.next_seq(slow)))
        start = time.monotonic()
        event = {"op_id": uuid.uuid4().hex, "kind": "event.report",
                 "record_id": uuid.uuid4().hex, "base_version": None,
                 "payload": {"grid_id": grid["id"], "category": "其他", "description": "快"}}
        (result,) = worker.transport.push([event])["results"]
        assert result["status"] == "applied"
        assert time.monotonic() - start < 5, "a push waited for another transaction"
        held = leader.transport.pull(0, 1000)
        assert {c["id"] for c in held["changes"]} & {"slow-task", event["record_id"]} == set()
        after = int(held["next_after"])
        transaction.commit()
    page = leader.transport.pull(after, 1000)
    assert {c["id"] for c in page["changes"]} >= {"slow-task", event["record_id"]}
