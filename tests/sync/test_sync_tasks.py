"""Tasks over a real ``central serve``: pushed by the centre, read, acknowledged and
answered on the device, and the answer (with its photo) seen on the server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from central_helpers import central
from sync_helpers import LiveServer, new_grid

from fieldclient.fieldwork import tasks
from fieldclient.photos.pipeline import add_photo

MakeDevice = Callable[..., Any]


def push_task(live: LiveServer, grid: int, title: str, *extra: str) -> dict[str, Any]:
    out = central(live.db_url, "task", "push", "--grid", str(grid), "--title", title,
                  "--body", f"{title}：请今天内完成并回复。", "--json", *extra)
    return dict(json.loads(out.stdout))


def server_task(live: LiveServer, task_id: str) -> dict[str, Any]:
    return dict(json.loads(central(live.db_url, "task", "show", task_id, "--json").stdout))


def small_jpeg() -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (400, 300), (30, 90, 160))
    ImageDraw.Draw(image).ellipse((50, 40, 300, 260), fill=(220, 200, 30))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def test_task_pushed_read_acknowledged_and_answered_reaches_server(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    task = push_task(live, grid["id"], "秸秆焚烧排查", "--due", "2030-11-23T18:00:00+08:00")
    report = dev.engine.run_once()
    assert report.ok, report.error
    assert report.pulled.get("task") == 1
    inbox = tasks.inbox(dev.session)
    assert [(t.id, t.title, t.unread) for t in inbox] == [(task["id"], "秸秆焚烧排查", True)]
    assert inbox[0].due is not None and (inbox[0].due.day, inbox[0].due.hour) == (23, 18)
    assert tasks.unread_count(dev.session) == 1

    tasks.mark_read(dev.session, task["id"])
    assert tasks.unread_count(dev.session) == 0
    tasks.acknowledge(dev.session, task["id"])
    photo = add_photo(dev.session, small_jpeg(), grid_id=str(grid["id"]))
    tasks.answer(dev.session, task["id"], "已排查，未发现焚烧", photos=[photo.id])
    report = dev.engine.run_once()
    assert report.ok, report.error
    assert set(report.pushed) == {"applied"} and report.photos_uploaded == 1

    seen = server_task(live, task["id"])
    assert [a["person_id"] for a in seen["acknowledgements"]] == [grid["workers"][0]]
    enrolled = dev.engine.enrollment()
    assert enrolled is not None
    assert seen["acknowledgements"][0]["device_id"] == enrolled.device_id
    [answer] = seen["answers"]
    assert answer["text"] == "已排查，未发现焚烧" and answer["event_id"] is None
    assert answer["photos"] == [{"id": photo.id, "sha256": photo.sha256, "received": True}]
    assert answer["person_name"] == "网格员0"
    listed = json.loads(central(live.db_url, "task", "list", "--grid", str(grid["id"]),
                                "--json").stdout)
    assert [(t["id"], len(t["acknowledgements"]), len(t["answers"])) for t in listed] == [
        (task["id"], 1, 1)]
    text = central(live.db_url, "task", "show", task["id"]).stdout
    assert "已排查，未发现焚烧" in text and photo.sha256 in text and "(received)" in text
    # nothing more to send; a second sync changes nothing on the server
    assert dev.engine.run_once().ok
    assert len(server_task(live, task["id"])["answers"]) == 1


def test_acknowledgements_of_two_workers_and_a_notice(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine, workers=2)
    first = make_device(live, grid["workers"][0], "first")
    second = make_device(live, grid["workers"][1], "second")
    notice = push_task(live, grid["id"], "防汛通知")
    for dev in (first, second):
        assert dev.engine.run_once().ok
        [item] = tasks.inbox(dev.session)
        assert item.is_notice and item.id == notice["id"]
        tasks.acknowledge(dev.session, notice["id"])
        assert dev.engine.run_once().ok
    seen = server_task(live, notice["id"])
    assert sorted(a["person_id"] for a in seen["acknowledgements"]) == sorted(grid["workers"])
    assert seen["due"] is None and seen["answers"] == []


def test_task_responses_are_checked_by_the_server(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    other = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    foreign = push_task(live, other["id"], "别的网格的任务")
    mine = push_task(live, grid["id"], "本网格的任务")

    def op(n: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"op_id": f"task-op-{n}-{grid['id']}-xxxxxxxx", "kind": kind,
                "record_id": f"resp-{n}-{grid['id']}", "base_version": None, "payload": payload}

    results = dev.transport.push([
        op(1, "task.ack", {"task_id": foreign["id"], "acknowledged_at": 1.7e9}),
        op(2, "task.ack", {"task_id": "no-such-task"}),
        op(3, "task.answer", {"task_id": mine["id"], "text": "  ", "photos": []}),
        op(4, "task.answer", {"task_id": mine["id"], "text": "好", "photos": "not-a-list"}),
        op(5, "task.answer", {"task_id": mine["id"], "text": "字" * 5001}),
        op(6, "task.answer", {"task_id": mine["id"], "text": "收到", "answered_at": "昨天"}),
        op(7, "task.answer", {"task_id": mine["id"], "text": "已完成", "answered_at": 1.7e9}),
    ])["results"]
    assert [(r["status"], r.get("reason")) for r in results] == [
        ("rejected", "forbidden_grid"), ("rejected", "unknown_record"),
        ("rejected", "invalid"), ("rejected", "invalid"), ("rejected", "invalid"),
        ("rejected", "invalid"), ("applied", None)]
    again = dev.transport.push([op(7, "task.answer", {"task_id": mine["id"],
                                                      "text": "已完成", "answered_at": 1.7e9})])
    assert again["results"][0]["status"] == "duplicate"
    seen = server_task(live, mine["id"])
    assert [a["text"] for a in seen["answers"]] == ["已完成"]
    assert seen["answers"][0]["at"].startswith("2023-11-14T22:13:20")
    assert server_task(live, foreign["id"])["acknowledgements"] == []
