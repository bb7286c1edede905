"""Events round the closed loop between a device and a live ``central serve``:
report -> the centre advances it (real ``central event advance``) -> the device sees
the new status and history; supplement a returned event; verify a resolved one
with a photo; a follow-up that arrives after the centre moved the event is kept
as a note; bad follow-ups are rejected, never a server error."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from central_helpers import central, central_json
from PIL import Image
from sqlalchemy import inspect, select, text
from sync_helpers import LiveServer, new_grid

from central import db, ops
from fieldclient.fieldwork import events
from fieldclient.photos.pipeline import add_photo

MakeDevice = Callable[..., Any]


def _photo(dev: Any) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 90, 40)).save(buffer, "JPEG")
    return add_photo(dev.session, buffer.getvalue(), allow_duplicate=True).id


def _report(dev: Any, grid: dict[str, Any], **extra: Any) -> str:
    return events.report_event(dev.session, category="公共设施", description="路灯不亮",
                               grid_id=str(grid["id"]), **extra)


def _server_event(live: LiveServer, event_id: str) -> dict[str, Any]:
    with live.engine.connect() as conn:
        return ops.event_dict(conn, event_id)


def _advance(live: LiveServer, event_id: str, *steps: str) -> None:
    for step in steps:
        ops.advance_event(live.engine, event_id, step, f"到{step}")


def test_status_advanced_on_the_centre_reaches_the_device(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    photo = _photo(dev)
    event_id = _report(dev, grid, urgency="emergency", address="幸福路3号", photos=[photo])
    assert events.get_event(dev.session, event_id).status == events.PENDING
    assert dev.engine.run_once().ok
    server = _server_event(live, event_id)
    assert server["urgency"] == "emergency" and server["address"] == "幸福路3号"
    assert server["photos"] == [photo] and server["status"] == "reported"
    assert events.get_event(dev.session, event_id).status == "reported"

    central(live.db_url, "event", "advance", event_id, "--to", "accepted",
            "--note", "已受理，派人查看")
    assert dev.engine.run_once().pulled.get("event") == 1
    summary = events.get_event(dev.session, event_id)
    assert summary.status == "accepted" and not summary.pending_upload
    timeline = events.event_timeline(dev.session, event_id)
    assert [(e.kind, e.status) for e in timeline] == [("report", "reported"),
                                                      ("status", "accepted")]
    assert timeline[-1].text == "已受理，派人查看" and timeline[0].uploaded
    row = dev.session.db.execute(
        "SELECT urgency, address, reporter_id, created_at FROM sync_events WHERE id = ?",
        (event_id,)).fetchone()
    assert row[0] == "emergency" and row[1] == "幸福路3号" and row[2] == grid["workers"][0]
    assert row[3]


def test_supplement_moves_a_returned_event_back_to_reported(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    event_id = _report(dev, grid)
    dev.engine.run_once()
    _advance(live, event_id, "returned")
    dev.engine.run_once()
    assert events.get_event(dev.session, event_id).action == events.SUPPLEMENT
    followup_id = events.supplement(dev.session, event_id, "在幸福路3号门口，第二根灯杆")
    report = dev.engine.run_once()
    assert report.pushed == {"applied": 1} and report.pulled.get("event") == 1
    server = _server_event(live, event_id)
    assert server["status"] == "reported"
    last = server["history"][-1]
    assert (last["from_status"], last["to_status"], last["note"], last["followup_id"]) == (
        "returned", "reported", "在幸福路3号门口，第二根灯杆", followup_id)
    assert server["followups"][0]["result"] == "transition"
    timeline = events.event_timeline(dev.session, event_id)
    assert [(e.kind, e.status) for e in timeline][-1] == ("supplement", "reported")
    shown = central_json(live.db_url, "event", "show", event_id)
    assert shown["followups"][0]["kind"] == "supplement"


def test_verify_with_photo_ends_the_workers_part(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    event_id = _report(dev, grid)
    dev.engine.run_once()
    _advance(live, event_id, "accepted", "in_progress", "resolved")
    dev.engine.run_once()
    photo = _photo(dev)
    events.verify(dev.session, event_id, events.PASSED, "灯已修好", [photo])
    assert dev.engine.run_once().ok
    server = _server_event(live, event_id)
    assert server["status"] == "verified"
    assert server["followups"][0]["photos"] == [photo]
    summary = events.get_event(dev.session, event_id)
    assert summary.status == "verified" and summary.work_done and summary.action is None
    assert dev.engine.pending_counts() == {}  # the photo went up too


def test_failed_check_sends_it_back_and_a_late_followup_is_kept_as_a_note(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    event_id = _report(dev, grid)
    dev.engine.run_once()
    _advance(live, event_id, "accepted", "in_progress", "resolved")
    dev.engine.run_once()
    events.verify(dev.session, event_id, events.FAILED, "还是不亮", [_photo(dev)])
    dev.engine.run_once()
    assert _server_event(live, event_id)["status"] == "in_progress"
    _advance(live, event_id, "resolved")
    dev.engine.run_once()
    # The device checks while, meanwhile, the centre closes the loop itself.
    events.verify(dev.session, event_id, events.PASSED, "这次亮了", [_photo(dev)])
    _advance(live, event_id, "verified", "closed")
    assert dev.engine.run_once().pushed == {"applied": 2}  # the photo and the check
    server = _server_event(live, event_id)
    assert server["status"] == "closed"
    last = server["history"][-1]
    assert (last["from_status"], last["to_status"], last["note"]) == ("closed", "closed",
                                                                      "这次亮了")
    assert [f["result"] for f in server["followups"]] == ["transition", "note"]
    timeline = events.event_timeline(dev.session, event_id)
    assert (timeline[-1].kind, timeline[-1].status, timeline[-1].text) == (
        "verify", None, "这次亮了")
    assert events.get_event(dev.session, event_id).status == "closed"


def test_bad_followups_are_rejected_not_server_errors(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid, other = new_grid(live.engine), new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    stranger = make_device(live, other["workers"][0], "stranger")
    event_id = _report(dev, grid)
    dev.engine.run_once()
    _advance(live, event_id, "accepted", "in_progress", "resolved")
    good = {"event_id": event_id, "kind": "verify", "outcome": "passed", "text": "",
            "photos": ["p1"], "location": None, "created_at": 1.0}
    bad = [
        {**good, "event_id": "no-such-event"},
        {**good, "kind": "inspect"},
        {**good, "outcome": "maybe"},
        {**good, "photos": []},
        {**good, "photos": "p1"},
        {**good, "text": 5},
        {**good, "text": "长" * 5001},
        {**good, "location": {"lat": 200, "lon": 1}},
        {**good, "created_at": "yesterday"},
        {"kind": "supplement", "event_id": event_id, "text": "  "},
    ]
    with dev.session.db.conn:
        for index, payload in enumerate(bad):
            dev.session.enqueue("event.followup", f"bad-{index}", payload)
    report = dev.engine.run_once()
    assert report.ok and report.pushed == {"rejected": len(bad)}
    reasons = [a["reason"] for a in dev.engine.set_aside()]
    assert reasons[0] == "unknown_record" and set(reasons[1:]) == {"invalid"}
    with stranger.session.db.conn:
        stranger.session.enqueue("event.followup", "foreign-1", good)
    assert stranger.engine.run_once().pushed == {"rejected": 1}
    assert [a["reason"] for a in stranger.engine.set_aside()] == ["forbidden_grid"]
    assert _server_event(live, event_id)["status"] == "resolved"
    # bad details of a report are refused too
    with dev.session.db.conn:
        dev.session.enqueue("event.report", "bad-report-1", {
            "id": "bad-report-1", "grid_id": grid["id"], "category": "其他",
            "description": "x", "urgency": "whenever"})
    assert dev.engine.run_once().pushed == {"rejected": 1}


def test_migration_4_upgrades_an_older_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = db.make_engine(url)
    db.migrate(engine)
    with engine.begin() as conn:  # back to what a version-3 database looked like
        conn.execute(text("DROP TABLE event_followups"))
        for name in db.V4_EVENT_COLUMNS:
            conn.execute(text(f"ALTER TABLE events DROP COLUMN {name}"))
        conn.execute(text("ALTER TABLE event_history DROP COLUMN followup_id"))
    with engine.begin() as conn:
        db._migration_4(conn)
    columns = {c["name"] for c in inspect(engine).get_columns("events")}
    assert set(db.V4_EVENT_COLUMNS) <= columns
    with engine.connect() as conn:
        assert conn.execute(select(db.event_followups)).all() == []
    engine.dispose()


@pytest.mark.parametrize("as_json", [True, False])
def test_event_list_and_show_cli(live: LiveServer, make_device: MakeDevice,
                                 as_json: bool) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    event_id = _report(dev, grid)
    dev.engine.run_once()
    if as_json:
        listed = central_json(live.db_url, "event", "list", "--grid", str(grid["id"]))
        assert [(e["id"], e["followups"], e["urgency"]) for e in listed] == [
            (event_id, 0, "normal")]
        assert json.loads(central(live.db_url, "event", "show", event_id, "--json").stdout)[
            "history"][0]["to_status"] == "reported"
    else:
        out = central(live.db_url, "event", "show", event_id).stdout
        assert "follow-ups: none" in out and "-> reported" in out
        assert central(live.db_url, "event", "show", "nope", check=False).returncode == 2
