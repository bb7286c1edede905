"""Events on the device: report, validation, the closed-loop timeline, supplement and
on-the-spot check, and patrol findings getting a local events row.

What the centre did arrives through the pull feed; here it is written into
``sync_events`` the way the sync engine stores a pulled ``event`` change (the
engine itself is exercised against a live server in tests/sync/test_sync_events.py).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from device_fixtures import PIN, FakeClock
from PIL import Image

from fieldclient.fieldwork import events, serverconfig
from fieldclient.fieldwork.households import create_household
from fieldclient.geo.geometry import Fix
from fieldclient.photos.pipeline import add_photo
from fieldclient.storage.session import Session


def _photo(session: Session, shade: int = 90) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (shade, 120, 200)).save(buffer, "JPEG")
    return add_photo(session, buffer.getvalue(), allow_duplicate=True).id


def _pulled(session: Session, event_id: str, status: str, history: list[dict[str, Any]],
            seq: int = 1) -> None:
    """Store a pulled event change as sync/engine.py does (after pushing the report)."""
    with session.db.conn:
        session.db.execute("UPDATE outbox SET state = 'applied' WHERE kind = 'event.report'"
                           " AND record_id = ? AND state = 'pending'", (event_id,))
        session.db.execute(
            "INSERT OR REPLACE INTO sync_events (id, grid_id, category, description, status,"
            " updated_at, server_seq, history) VALUES (?,?,?,?,?,?,?,?)",
            (event_id, "7", "治安隐患", "x", status, history[-1]["at"], seq,
             json.dumps(history)),
        )


def _step(from_status: str | None, to_status: str, at: str, note: str | None = None,
          followup_id: str | None = None) -> dict[str, Any]:
    return {"from_status": from_status, "to_status": to_status, "note": note,
            "actor": "command_centre", "at": at, "followup_id": followup_id}


def _outbox(session: Session, kind: str) -> list[dict[str, Any]]:
    rows = session.db.execute(
        "SELECT payload FROM outbox WHERE kind = ? ORDER BY created_at", (kind,)).fetchall()
    return [json.loads(r[0]) for r in rows]


def test_report_writes_row_op_and_audit(session: Session) -> None:
    hid = create_household(session, "王大", "人民路5号", grid_id="7")
    photo = _photo(session)
    fix = Fix(t=1_700_000_000.0, lat=29.95, lon=121.6, accuracy_m=6.0)
    event_id = events.report_event(
        session, category="消防安全", description="  楼道堆放杂物  ", urgency="urgent",
        household_id=hid, position=fix, photos=[photo, photo])
    [payload] = _outbox(session, "event.report")
    assert payload["id"] == event_id and payload["grid_id"] == "7"
    assert payload["description"] == "楼道堆放杂物" and payload["urgency"] == "urgent"
    assert payload["address"] == "人民路5号" and payload["household_id"] == hid
    assert payload["location"] == {"lat": 29.95, "lon": 121.6, "accuracy_m": 6.0,
                                   "at": 1_700_000_000.0}
    assert payload["photos"] == [photo] and payload["device_id"] == session.device_id
    [summary] = events.my_events(session)
    assert summary.status == events.PENDING and summary.pending_upload
    assert summary.photos == (photo,) and summary.action is None
    assert [e.id for e in events.events_for_household(session, hid)] == [event_id]
    assert events.events_for_household(session, "other") == []
    audit = [e["detail"] for e in session.audit.entries() if e["action"] == "record_created"]
    assert {"kind": "event", "id": event_id, "grid_id": "7", "household_id": hid} in audit
    assert session.records_by_kind()["event"] == 1


@pytest.mark.parametrize(("fields", "error"), [
    ({"category": "不存在的类别"}, events.EventCategoryUnknown),
    ({"description": "   "}, events.EventDescriptionMissing),
    ({"description": "长" * 5001}, events.EventTextTooLong),
    ({"urgency": "soon"}, events.EventUrgencyUnknown),
    ({"address": "路" * 201}, events.EventAddressTooLong),
    ({"household_id": "no-such"}, events.EventHouseholdUnknown),
    ({"photos": ["no-such-photo"]}, events.EventPhotoMissing),
])
def test_bad_reports_are_refused_and_nothing_is_saved(
    session: Session, fields: dict[str, Any], error: type[Exception]
) -> None:
    args: dict[str, Any] = {"category": "其他", "description": "路灯坏了", **fields}
    with pytest.raises(error) as caught:
        events.report_event(session, **args)
    assert caught.value.message("en") != caught.value.message("zh_CN")  # translated
    assert events.my_events(session) == [] and _outbox(session, "event.report") == []


def test_centre_categories_replace_the_defaults_and_bad_ones_are_ignored(
    session: Session
) -> None:
    assert len(events.event_categories(session)) == 22
    with session.db.conn:
        serverconfig.put(session.db, serverconfig.EVENT_CATEGORIES, {"categories": [
            {"zh": "秸秆焚烧", "en": "Straw burning"}, {"zh": "其他", "en": "Other"}]}, 5)
    assert [c.zh for c in events.event_categories(session)] == ["秸秆焚烧", "其他"]
    assert events.event_categories(session)[0].name("en") == "Straw burning"
    with pytest.raises(events.EventCategoryUnknown):
        events.report_event(session, category="消防安全", description="x")
    assert events.category_for(session, "消防安全") == "其他"
    events.report_event(session, category="秸秆焚烧", description="田里冒烟")
    with session.db.conn:
        serverconfig.put(session.db, serverconfig.EVENT_CATEGORIES,
                         {"categories": [{"zh": "长" * 21}]}, 6)
    assert len(events.event_categories(session)) == 22


def test_timeline_follows_the_pulled_history(session: Session, clock: FakeClock) -> None:
    event_id = events.report_event(session, category="道路交通", description="井盖缺失",
                                   grid_id="7")
    _pulled(session, event_id, "in_progress", [
        _step(None, "reported", "2023-11-14T22:14:00.000000Z"),
        _step("reported", "accepted", "2023-11-14T22:20:00.000000Z"),
        _step("accepted", "in_progress", "2023-11-14T23:00:00.000000Z", "已通知市政"),
    ])
    summary = events.get_event(session, event_id)
    assert summary.status == "in_progress" and summary.action is None
    timeline = events.event_timeline(session, event_id)
    assert [(e.kind, e.status) for e in timeline] == [
        ("report", "reported"), ("status", "accepted"), ("status", "in_progress")]
    assert timeline[-1].text == "已通知市政"
    steps = events.loop_steps(summary.status, timeline)
    assert [s.state for s in steps] == ["done", "done", "done", "current", "pending",
                                        "pending", "pending"]  # dispatched was skipped
    assert steps[1].at is not None and steps[2].at is None


def test_supplement_only_when_returned(session: Session) -> None:
    event_id = events.report_event(session, category="矛盾纠纷", description="邻里争吵",
                                   grid_id="7")
    with pytest.raises(events.SupplementNotNeeded):
        events.supplement(session, event_id, "补充")
    _pulled(session, event_id, "returned", [
        _step(None, "reported", "2023-11-14T22:14:00.000000Z"),
        _step("reported", "returned", "2023-11-14T22:30:00.000000Z", "请说明门牌号"),
    ])
    assert events.get_event(session, event_id).action == events.SUPPLEMENT
    with pytest.raises(events.SupplementTextMissing):
        events.supplement(session, event_id, "  ")
    followup_id = events.supplement(session, event_id, "幸福路12号302室")
    with pytest.raises(events.FollowupAlreadyWaiting):
        events.supplement(session, event_id, "再补充")
    summary = events.get_event(session, event_id)
    assert summary.action is None and summary.waiting == events.SUPPLEMENT
    [op] = _outbox(session, "event.followup")
    assert op == {"event_id": event_id, "kind": "supplement", "outcome": None,
                  "text": "幸福路12号302室", "photos": [], "location": None,
                  "created_at": op["created_at"]}
    timeline = events.event_timeline(session, event_id)
    assert timeline[-1].kind == "supplement" and not timeline[-1].uploaded
    # The centre applied it: returned -> reported, linked to the follow-up; shown once.
    _pulled(session, event_id, "reported", [
        _step(None, "reported", "2023-11-14T22:14:00.000000Z"),
        _step("reported", "returned", "2023-11-14T22:30:00.000000Z", "请说明门牌号"),
        _step("returned", "reported", "2023-11-14T22:40:00.000000Z", "幸福路12号302室",
              followup_id),
    ], seq=2)
    timeline = events.event_timeline(session, event_id)
    assert [(e.kind, e.status) for e in timeline] == [
        ("report", "reported"), ("status", "returned"), ("supplement", "reported")]
    assert timeline[-1].uploaded


def test_verify_needs_resolved_photo_and_reason(session: Session) -> None:
    event_id = events.report_event(session, category="公共设施", description="路灯不亮",
                                   grid_id="7")
    photo = _photo(session)
    with pytest.raises(events.VerifyNotPossible):
        events.verify(session, event_id, events.PASSED, photos=[photo])
    _pulled(session, event_id, "resolved", [
        _step(None, "reported", "2023-11-14T22:14:00.000000Z"),
        _step("reported", "resolved", "2023-11-15T09:00:00.000000Z", "已更换灯泡"),
    ])
    assert events.get_event(session, event_id).action == events.VERIFY
    with pytest.raises(events.VerifyPhotoRequired):
        events.verify(session, event_id, events.PASSED)
    with pytest.raises(events.VerifyReasonMissing):
        events.verify(session, event_id, events.FAILED, photos=[photo])
    with pytest.raises(events.VerifyOutcomeUnknown):
        events.verify(session, event_id, "maybe", photos=[photo])
    fix = Fix(t=1.0, lat=30.0, lon=120.0)
    events.verify(session, event_id, events.PASSED, "灯亮了", [photo], position=fix)
    summary = events.get_event(session, event_id)
    assert summary.work_done and summary.action is None and summary.pending_upload
    [op] = _outbox(session, "event.followup")
    assert op["kind"] == "verify" and op["outcome"] == "passed" and op["photos"] == [photo]
    assert op["location"]["lat"] == 30.0


def test_patrol_finding_gets_a_local_event(session: Session) -> None:
    from fieldclient.fieldwork.patrol_events import report_event, reported_items
    from fieldclient.fieldwork.patrols import EventDraft

    draft = EventDraft(grid_id="7", category="消防安全", description="通道堵塞", photos=(),
                       lat=29.9, lon=121.5, accuracy_m=5.0, located_at=1_700_000_000.0,
                       patrol_id="p-1", item_code="P07", item_name_zh="消防安全",
                       item_name_en="Fire safety")
    event_id = report_event(session, draft, "消防通道被杂物堵塞")
    assert reported_items(session, "p-1") == {"P07": event_id}
    [summary] = events.my_events(session)
    assert summary.id == event_id and summary.description == "消防通道被杂物堵塞"
    [payload] = _outbox(session, "event.report")
    assert payload["source"] == {"kind": "patrol", "patrol_id": "p-1", "item": "P07"}
    assert payload["location"]["lat"] == 29.9


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_cli_lists_this_devices_events(session: Session, data_dir: Path, lang: str) -> None:
    first = events.report_event(session, category="其他", description="第一件", grid_id="7")
    second = events.report_event(session, category="消防安全", description="第二件", grid_id="7")
    _pulled(session, first, "accepted", [
        _step(None, "reported", "2023-11-14T22:14:00.000000Z"),
        _step("reported", "accepted", "2023-11-14T22:20:00.000000Z")])
    session.close()
    env = {**os.environ, "FIELDCLIENT_LANG": lang, "GRIDFIELD_SECRET_STORE": "file"}
    command = [sys.executable, "-m", "fieldclient.cli", "events", "--data-dir", str(data_dir)]
    result = subprocess.run([*command, "--pin-stdin", "--json"], input=PIN + "\n",
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    listed = {e["id"]: e for e in json.loads(result.stdout)}
    assert listed[first]["status"] == "accepted" and not listed[first]["pending_upload"]
    assert listed[second]["status"] == "pending" and listed[second]["pending_upload"]
    assert listed[second]["status_text"] == ("待上传" if lang == "zh_CN" else "Waiting to upload")
    assert set(listed[first]) >= {"category", "reported_at", "last_change", "status_text"}
    plain = subprocess.run([*command, "--pin-stdin"], input=PIN + "\n", capture_output=True,
                           text=True, env=env, timeout=60)
    assert plain.returncode == 0 and second in plain.stdout
    refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert refused.returncode == 2  # the PIN only from standard input
