"""Version skew, device side (issue 10): tablets update days apart, so the device and
the centre speak different versions, and nothing may be lost or get stuck.

- every request carries the device's protocol level and app version; the server's
  level is kept; ``426 upgrade_required`` is a clear error that changes nothing;
- an op answered ``retry_later`` stays pending, goes once per run, holds nothing back
  and is offered again at the next sync;
- pulled rows of a kind the app does not know are kept (raw, in the encrypted
  database) and applied after the app's upgrade, oldest first, without pulling again;
- a pulled row that fails here is held aside, the rest of the page goes on, and it is
  tried again once per app version.

The centre is a real ``central serve`` where it can produce the case, else
:class:`sync_helpers.SkewServer`, a small real HTTP server speaking the documented
protocol for the cases today's centre does not produce yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text, update
from sync_helpers import PIN, Dev, LiveServer, SkewServer, new_grid

import fieldclient
from central import db, ops
from fieldclient.fieldwork import events
from fieldclient.fieldwork.households import create_household, update_household
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import setup_device
from sync import engine as sync_engine
from sync import protocol
from sync.engine import SyncEngine, SyncSchedule, enroll_device
from sync.errors import UpgradeRequired

MakeDevice = Callable[..., Any]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def skew() -> Iterator[SkewServer]:
    server = SkewServer(level=2)  # a centre a release behind: plain level-2 requests
    yield server
    server.close()


@pytest.fixture()
def skew_device(skew: SkewServer, tmp_path: Path) -> Iterator[Dev]:
    """A device set up and enrolled with the :class:`SkewServer`."""
    data_dir = tmp_path / "skew-dev"
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    enroll_device(session, skew.base, "ABCD-EFGH-JKMN", "平板")
    dev = Dev(data_dir, session)
    yield dev
    if dev.session.is_open:
        dev.session.close()


def _held(dev: Dev) -> list[tuple[Any, ...]]:
    return dev.session.db.execute(
        "SELECT seq, kind, record_id, reason, tried_version, tries FROM sync_held"
        " ORDER BY seq").fetchall()


def _outbox(dev: Dev, op_id: str) -> tuple[Any, ...]:
    return tuple(dev.session.db.execute(
        "SELECT state, reason, retry_later_at IS NOT NULL FROM outbox WHERE op_id = ?",
        (op_id,)).fetchone())


# -- levels and versions -------------------------------------------------------------------

def test_every_request_carries_the_level_and_app_version_and_the_servers_is_kept(
    skew: SkewServer, skew_device: Dev
) -> None:
    dev = skew_device
    create_household(dev.session, "甲", "一路1号", grid_id="1")
    report = dev.engine.run_once()
    assert report.ok, report.error
    paths = [r["path"].split("?")[0] for r in skew.requests]
    assert paths[0] == protocol.API_PREFIX + "/enroll"
    assert protocol.SYNC_PUSH_PATH in paths and protocol.SYNC_PULL_PATH in paths
    for request in skew.requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers[protocol.HEADER_PROTOCOL.lower()] == str(protocol.PROTOCOL_LEVEL)
        assert headers[protocol.HEADER_APP_VERSION.lower()] == fieldclient.__version__
    assert (report.server_protocol, report.server_min_protocol) == (2, 1)
    # a level-2 centre gets level-2 requests: no compressed body, no level-3 path
    assert not any("content-encoding" in {k.lower() for k in r["headers"]}
                   for r in skew.requests)
    assert not {protocol.SYNC_ANSWERS_PATH, protocol.PHOTO_BUNDLE_PATH} & set(paths)
    assert dev.engine.server_protocol() == 2  # kept for the next start
    data = report.as_dict()
    assert data["server_protocol"] == 2 and data["protocol"] == protocol.PROTOCOL_LEVEL
    assert data["app_version"] == fieldclient.__version__


def test_upgrade_required_is_a_clear_error_that_loses_nothing(
    skew: SkewServer, skew_device: Dev
) -> None:
    dev = skew_device
    hid = create_household(dev.session, "乙", "二路2号", grid_id="1")
    skew.min_level = protocol.PROTOCOL_LEVEL + 1  # the centre no longer serves this app
    skew.level = protocol.PROTOCOL_LEVEL + 2
    report = dev.engine.run_once()
    assert not report.ok and isinstance(report.error, UpgradeRequired)
    assert report.as_dict()["error"] == "upgrade_required"
    assert "更新" in (report.error_message("zh_CN") or "")
    english = report.error_message("en") or ""
    assert "update" in english.lower() and not any("\u4e00" <= c <= "\u9fff" for c in english)
    assert (report.error.server_level, report.error.min_level) == (
        protocol.PROTOCOL_LEVEL + 2, protocol.PROTOCOL_LEVEL + 1)
    # one request, refused; the outbox is as it was, nothing set aside
    assert len(skew.requests) == 2 and skew.offered == {}
    assert dev.engine.pending_counts() == {"household.create": 1}
    assert dev.engine.set_aside() == [] and report.pending == 1
    assert dev.engine.server_protocol() == report.server_protocol == protocol.PROTOCOL_LEVEL + 2
    # not retried in a loop: it needs a person (an update), like a refused key
    schedule = SyncSchedule()
    assert schedule.next_delay(report) == schedule.max_delay
    # after the app's update (the centre serves it again) the record goes
    skew.min_level = 1
    assert dev.engine.run_once().ok
    assert dev.engine.pending_counts() == {} and len(skew.recorded) == 1
    assert dev.session.db.execute("SELECT count(*) FROM households WHERE id = ?",
                                  (hid,)).fetchone() == (1,)


# -- retry_later ---------------------------------------------------------------------------

def test_retry_later_op_stays_pending_goes_once_per_run_and_holds_nothing_back(
    skew: SkewServer, skew_device: Dev
) -> None:
    dev = skew_device
    skew.unsupported = {"household.tags"}  # a centre from before tags were merged as a set
    first = create_household(dev.session, "丙", "三路3号", grid_id="1")
    tags_op = update_household(dev.session, first, {"tags": ["独居老人"]})
    second = create_household(dev.session, "丁", "四路4号", grid_id="1")
    engine = SyncEngine(dev.session, dev.transport, retry=dev.engine.retry, batch_size=1)

    report = engine.run_once()
    assert report.ok, report.error
    assert report.pushed == {"applied": 2, "retry_later": 1}
    assert skew.offered[tags_op] == 1  # once in the run: no loop
    assert len(skew.recorded) == 2  # the op after it went in the same run
    assert _outbox(dev, tags_op) == ("pending", "unsupported_kind", 1)
    assert engine.set_aside() == [] and report.newly_set_aside == []
    assert engine.pending_counts() == {"household.tags": 1}
    assert engine.waiting_for_server() == {"household.tags": 1}
    assert report.waiting_for_server == 1 and report.pending == 1
    # the device still shows its own edit while it waits
    assert json.loads(dev.session.db.execute(
        "SELECT tags FROM households WHERE id = ?", (first,)).fetchone()[0]) == ["独居老人"]
    assert second

    # the next sync offers it again, once; still waiting
    report = engine.run_once()
    assert report.ok and report.pushed == {"retry_later": 1} and skew.offered[tags_op] == 2
    assert _outbox(dev, tags_op)[0] == "pending"

    # after the centre's upgrade it is applied like any other op
    skew.unsupported = set()
    report = engine.run_once()
    assert report.ok and report.pushed == {"applied": 1} and skew.offered[tags_op] == 3
    assert _outbox(dev, tags_op)[0] == "applied"
    assert engine.waiting_for_server() == {} and engine.pending_counts() == {}


def _enqueue(dev: Dev, kind: str, record_id: str, payload: dict[str, Any]) -> str:
    with dev.session.db.conn:  # Session.enqueue joins the caller's transaction
        return str(dev.session.enqueue(kind, record_id, payload))


def test_central_defers_what_it_does_not_know_yet_and_the_device_keeps_it_pending(
    live: LiveServer, make_device: MakeDevice
) -> None:
    """Against the real centre: an op of a kind newer than the centre, and an update
    naming a field newer than the centre, are answered retry_later; they stay pending
    and the op after them goes in."""
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    hid = create_household(dev.session, "己", "七路7号")
    assert dev.engine.run_once().ok
    newer_kind = _enqueue(dev, "household.photo", hid, {"photo_id": "p1"})
    newer_field = _enqueue(dev, "household.update", hid,
                           {"base_version": 1, "fields": {"floor": "3"}})
    update_household(dev.session, hid, {"phone": "13800000007"})
    report = dev.engine.run_once()
    assert report.ok, report.error
    assert report.pushed == {"applied": 1, "retry_later": 2}
    assert report.server_protocol == protocol.PROTOCOL_LEVEL  # the centre's, declared
    assert _outbox(dev, newer_kind) == ("pending", "unsupported_kind", 1)
    assert _outbox(dev, newer_field) == ("pending", "unsupported_field", 1)
    assert dev.engine.waiting_for_server() == {"household.photo": 1, "household.update": 1}
    assert dev.engine.set_aside() == []
    with live.engine.connect() as conn:
        phone = conn.execute(db.households.select().where(db.households.c.id == hid)).first()
    assert phone is not None and phone.phone == "13800000007"
    report = dev.engine.run_once()  # offered again, once, still waiting: nothing lost
    assert report.ok and report.pushed == {"retry_later": 2} and report.pending == 2


def test_central_refuses_an_app_below_its_oldest_level_and_nothing_is_lost(
    live: LiveServer, make_device: MakeDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    hid = create_household(dev.session, "庚", "八路8号")
    centre_level = protocol.PROTOCOL_LEVEL
    monkeypatch.setattr(protocol, "PROTOCOL_LEVEL", protocol.MIN_PROTOCOL_LEVEL - 1)
    report = dev.engine.run_once()
    assert isinstance(report.error, UpgradeRequired) and not report.ok
    assert (report.error.server_level, report.error.min_level) == (
        centre_level, protocol.MIN_PROTOCOL_LEVEL)
    assert dev.engine.pending_counts() == {"household.create": 1}
    monkeypatch.undo()  # the app is updated
    assert dev.engine.run_once().ok and dev.engine.pending_counts() == {}
    with live.engine.connect() as conn:
        assert conn.execute(db.households.select().where(db.households.c.id == hid)).first()


# -- pulled rows of kinds the app does not know ----------------------------------------------

def test_rows_of_unknown_kinds_are_kept_and_applied_after_the_upgrade_in_order(
    live: LiveServer, make_device: MakeDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = new_grid(live.engine)
    reporter = make_device(live, grid["workers"][0], "reporter")
    event_id = events.report_event(reporter.session, category="公共设施", description="路灯不亮",
                                   grid_id=str(grid["id"]))
    assert reporter.engine.run_once().ok
    task = ops.push_task(live.engine, grid["id"], "入户走访", "本周完成", None)
    create_household(reporter.session, "戊", "五路5号")
    assert reporter.engine.run_once().ok

    # an older app: it knows neither events nor tasks
    monkeypatch.delitem(sync_engine.PULL_APPLIERS, "event")
    monkeypatch.delitem(sync_engine.PULL_APPLIERS, "task")
    old = make_device(live, grid["workers"][1], "old")
    report = old.engine.run_once()
    assert report.ok, report.error
    assert report.pulled.get("event") == 1 and report.pulled.get("task") == 1
    assert report.held_new == 2 and report.held_total == 2
    assert [(k, r) for _s, k, r, reason, _v, _t in _held(old)
            if reason == "unknown_kind"] == [("event", event_id), ("task", task["id"])]
    assert old.session.db.execute("SELECT count(*) FROM sync_events").fetchone() == (0,)
    assert old.session.db.execute("SELECT count(*) FROM households").fetchone() == (1,)
    cursor = old.engine.cursor()
    assert cursor > 0  # the feed moved on past them

    # the centre moves the event on twice; the old app keeps each row, oldest first
    ops.advance_event(live.engine, event_id, "accepted", "已受理")
    ops.advance_event(live.engine, event_id, "in_progress", "处理中")
    report = old.engine.run_once()
    assert report.ok and report.held_new == 1 and report.held_applied == 0
    assert [k for _s, k, *_rest in _held(old)] == ["event", "task", "event"]
    again = report.held_total
    assert old.engine.run_once().held_total == again  # kept, not retried in vain

    # the app is upgraded: the held rows are applied, without pulling from 0 again
    monkeypatch.undo()
    cursor = old.engine.cursor()
    pulls: list[int] = []
    real_pull = old.transport.pull
    old.transport.pull = lambda after, limit: pulls.append(after) or real_pull(after, limit)
    report = old.engine.run_once()
    assert report.ok, report.error
    assert pulls == [cursor] and report.pulled == {}
    assert report.held_applied == 3 and report.held_total == 0 and _held(old) == []
    status = old.session.db.execute(
        "SELECT status FROM sync_events WHERE id = ?", (event_id,)).fetchone()
    assert status == ("in_progress",)  # the newest row won, not the first one held
    assert old.session.db.execute(
        "SELECT title FROM sync_tasks WHERE id = ?", (task["id"],)).fetchone() == ("入户走访",)


def test_a_future_kind_is_kept_raw_in_the_encrypted_database(
    skew: SkewServer, skew_device: Dev
) -> None:
    dev = skew_device
    marker = "notice-body-7f3a9c"
    skew.add_row("notice", "n1", {"id": "n1", "grid_id": 1, "text": marker, "title": "通知"})
    skew.add_row("task", "t1", {"id": "t1", "grid_id": 1, "title": "巡查", "body": "今天",
                                "due": None, "created_at": "2025-01-01T00:00:00Z"})
    report = dev.engine.run_once()
    assert report.ok, report.error
    assert report.held_new == 1 and dev.engine.cursor() == 2
    row = dev.session.db.execute(
        "SELECT kind, record_id, reason, data FROM sync_held").fetchone()
    assert row[:3] == ("notice", "n1", "unknown_kind")
    assert json.loads(row[3]) == {"id": "n1", "grid_id": 1, "text": marker, "title": "通知"}
    assert dev.session.db.execute("SELECT title FROM sync_tasks").fetchall() == [("巡查",)]
    dev.session.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in dev.data_dir.rglob("*"):
        if path.is_file():
            assert marker.encode() not in path.read_bytes(), path
    # still unknown next time: kept, not retried, not lost
    assert dev.engine.run_once().held_total == 1


def test_the_device_understands_every_pull_kind_of_its_protocol() -> None:
    assert set(sync_engine.PULL_APPLIERS) == set(protocol.PULL_KINDS)
    assert sync_engine.validate_pulled_row(
        {"seq": 1, "kind": "notice", "id": "x", "data": {"id": "x"}})[0] == "unknown_kind"
    assert sync_engine.validate_pulled_row(
        {"seq": 1, "kind": "task", "id": "x", "data": []})[0] == "failed"
    assert sync_engine.validate_pulled_row(
        {"seq": 1, "kind": "task", "id": "x", "data": {"id": "x"}})[0] == "failed"  # schema
    assert sync_engine.validate_pulled_row(
        {"seq": 1, "kind": "task", "id": "x",
         "data": {"id": "x", "grid_id": 3, "title": "入户走访"}}) is None


# -- pulled rows that fail here ------------------------------------------------------------------

def _newer_category(live: LiveServer, household_id: str, category: str) -> None:
    """What a newer centre would do: give a household a category this app's CHECK does
    not allow (written past the centre's own CHECK, in the next feed position)."""
    with live.engine.begin() as conn:
        conn.execute(text("PRAGMA ignore_check_constraints = ON"))
        try:
            conn.execute(update(db.households).where(db.households.c.id == household_id)
                         .values(category=category, updated_seq=db.next_seq(conn),
                                 version=db.households.c.version + 1))
        finally:
            conn.execute(text("PRAGMA ignore_check_constraints = OFF"))


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_a_row_that_fails_here_is_held_and_the_rest_of_the_page_goes_on(
    live: LiveServer, make_device: MakeDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync.protocol import schemas

    class LenientHousehold(schemas.PulledHousehold):
        category: str  # type: ignore[assignment]

    # the row must get past the schema to fail in the local database (CHECK) itself
    monkeypatch.setitem(schemas.PULL_DATA, "household", LenientHousehold)
    grid = new_grid(live.engine)
    a = make_device(live, grid["workers"][0], "a")
    ids = [create_household(a.session, f"户{i}", f"六路{i}号") for i in range(3)]
    assert a.engine.run_once().ok
    _newer_category(live, ids[1], "elderly")
    ops.push_task(live.engine, grid["id"], "入户走访", "本周完成", None)

    # a device new to the grid: the households arrive in one batch, one of them fails
    b = make_device(live, grid["workers"][1], "b")
    report = b.engine.run_once()
    assert report.ok, report.error
    # 3 households; a 4th row when b's first pull comes from the snapshot a's first pull
    # built (reused for 5 minutes: central/shared/snapshots.py) and the feed after it
    # brings the changed household again, the newer version, which is the one held
    assert report.held_new == 1 and report.pulled["task"] == 1
    assert report.pulled["household"] in (3, 4), report.pulled
    assert [(k, r, reason, v, t) for _s, k, r, reason, v, t in _held(b)] == [
        ("household", ids[1], "failed", fieldclient.__version__, 1)]
    error = b.engine.held_rows()[0]["error"]
    assert "IntegrityError" in error and "CHECK" in error
    # without the older version (a normal first pull) b has the two others; with it
    # (the snapshot's) b is as a below: the older copy stays, the newer one is held
    kept = {ids[0], ids[2]} | ({ids[1]} if report.pulled["household"] == 4 else set())
    assert {r[0] for r in b.session.db.execute("SELECT id FROM households")} == kept
    # the batch that failed was undone cleanly before its rows went in one by one
    assert b.session.db.execute("SELECT count(*) FROM quota_households").fetchone() == (
        len(kept),)
    assert b.session.db.execute("SELECT count(*) FROM sync_tasks").fetchone() == (1,)

    # a device that has the household: the update fails here, its old copy stays
    report = a.engine.run_once()
    assert report.ok and report.held_new == 1
    assert a.session.db.execute("SELECT category FROM households WHERE id = ?",
                                (ids[1],)).fetchone() == ("ordinary",)

    # later syncs go on; the same app version does not try it again
    for dev in (a, b):
        report = dev.engine.run_once()
        assert report.ok and report.held_applied == 0 and report.held_total == 1
        assert _held(dev)[0][-1] == 1

    # a new app version tries it once (this one still cannot store it)
    monkeypatch.setattr(fieldclient, "__version__", "99.0.0")
    report = b.engine.run_once()
    assert report.ok and report.held_applied == 0
    assert _held(b)[0][3:] == ("failed", "99.0.0", 2)
    assert b.engine.run_once().ok and _held(b)[0][-1] == 2  # once per version

    # the centre sets a category this app knows: the newer row goes in and the held
    # older one is dropped (it would overwrite the newer state)
    with live.engine.begin() as conn:
        conn.execute(update(db.households).where(db.households.c.id == ids[1])
                     .values(category="hardship", updated_seq=db.next_seq(conn),
                             version=db.households.c.version + 1))
    for dev in (a, b):
        report = dev.engine.run_once()
        assert report.ok and report.held_total == 0 and _held(dev) == []
        assert dev.session.db.execute("SELECT category FROM households WHERE id = ?",
                                      (ids[1],)).fetchone() == ("hardship",)


# -- the CLI -----------------------------------------------------------------------------------

def _fieldclient(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDFIELD_SECRET_STORE": "file", "FIELDCLIENT_LANG": "en"}
    return subprocess.run(
        [sys.executable, "-m", "fieldclient.cli", "--data-dir", str(data_dir), *args],
        input=PIN + "\n", capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
    )


def test_cli_sync_reports_held_rows_waiting_ops_and_the_server_level(
    skew: SkewServer, tmp_path: Path
) -> None:
    data = tmp_path / "cli"
    out = _fieldclient(data, "init", "--server", skew.base, "--enroll-code", "ABCD-EFGH-JKMN",
                       "--pin-stdin", "--json")
    assert out.returncode == 0, out.stderr
    skew.unsupported = {"event.report"}
    skew.add_row("notice", "n1", {"id": "n1", "grid_id": 1, "text": "停水通知"})
    out = _fieldclient(data, "simulate", "--visits", "1", "--events", "1", "--pin-stdin")
    assert out.returncode == 0, out.stderr
    out = _fieldclient(data, "sync", "--pin-stdin", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["pushed"] == {"applied": 2, "retry_later": 1}
    assert report["waiting_for_server"] == 1 and report["pending"] == 1
    assert report["server_protocol"] == 2 and report["protocol"] == protocol.PROTOCOL_LEVEL
    assert report["held"]["new"] == 1 and report["held"]["total"] == 1
    (row,) = report["held"]["rows"]
    assert (row["kind"], row["record_id"], row["reason"]) == ("notice", "n1", "unknown_kind")
    out = _fieldclient(data, "sync", "--pin-stdin")
    assert out.returncode == 0, out.stderr
    assert "waiting for the command centre's upgrade: 1" in out.stdout, out.stdout
    assert "1 record(s) from the command centre" in out.stdout, out.stdout

    skew.min_level = 9
    out = _fieldclient(data, "sync", "--pin-stdin", "--json")
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["error"] == "upgrade_required" and "update" in report["error_message"]
    assert report["pending"] == 1


def _serve_as_old_centre(live: LiveServer, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """The same database behind a centre that predates ``household.tags`` (the kind is
    taken out of its schemas before it starts): an older server release."""
    from central_helpers import REPO

    code = ("import sys; from sync.protocol import schemas; "
            "del schemas.OP_PAYLOADS['household.tags']; "
            "from central.cli import main; sys.exit(main(sys.argv[1:]))")
    with open(workdir / f"old-{port}.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "--db", live.db_url, "serve", "--host", "127.0.0.1",
             "--port", str(port), "--photo-dir", str(live.photo_dir),
             "--photo-store", live.photo_store],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    _wait_up(f"http://127.0.0.1:{port}", proc)
    return proc


def _wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(base + "/api/v1/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("the old centre did not start")


def test_a_new_app_against_an_old_centre_loses_nothing_after_the_centre_upgrades(
    live: LiveServer, make_device: MakeDevice, tmp_path: Path
) -> None:
    """New client, old server: the op the old centre cannot take waits on the device
    (the rest goes in); once the centre runs the new release on the same database, the
    next sync applies it. Nothing lost, nothing stuck, nothing refused for good."""
    from central_helpers import CENTRAL, REPO, free_port

    port = free_port()
    old = _serve_as_old_centre(live, port, tmp_path)
    procs = [old]
    try:
        grid = new_grid(live.engine)
        old_live = LiveServer(old, f"http://127.0.0.1:{port}", live.db_url, live.demo,
                              live.engine, live.photo_dir, live.photo_store)
        dev = make_device(old_live, grid["workers"][0])
        hid = create_household(dev.session, "辛", "九路9号")
        assert dev.engine.run_once().ok
        set_household_tags = _enqueue(dev, "household.tags", hid, {"add": ["独居老人"]})
        update_household(dev.session, hid, {"phone": "13800000009"})
        report = dev.engine.run_once()
        assert report.ok and report.pushed == {"applied": 1, "retry_later": 1}
        assert _outbox(dev, set_household_tags) == ("pending", "unsupported_kind", 1)
        old.terminate()
        old.wait(timeout=10)
        new = subprocess.Popen(  # the centre's upgrade: same database, same address
            [*CENTRAL, "--db", live.db_url, "serve", "--host", "127.0.0.1", "--port",
             str(port), "--photo-dir", str(live.photo_dir),
             "--photo-store", live.photo_store],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(new)
        _wait_up(f"http://127.0.0.1:{port}", new)
        report = dev.engine.run_once()
        assert report.ok and report.pushed == {"applied": 1}
        assert dev.engine.pending_counts() == {} and dev.engine.set_aside() == []
        with live.engine.connect() as conn:
            row = conn.execute(db.households.select().where(db.households.c.id == hid)).first()
        assert row is not None and row.tags == ["独居老人"] and row.phone == "13800000009"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
