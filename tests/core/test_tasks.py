"""Task inbox state on the device: reading, acknowledging, answering
(fieldclient.fieldwork.tasks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from device_fixtures import PIN, FakeClock

from fieldclient.fieldwork import tasks
from fieldclient.photos.pipeline import add_photo
from fieldclient.storage.session import Session

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def jpeg() -> bytes:
    """A small real JPEG (some texture, so the pipeline has work to do)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (90, 140, 60))
    draw = ImageDraw.Draw(image)
    for i in range(0, 640, 40):
        draw.line((i, 0, 640 - i, 480), fill=(200, i % 255, 40), width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def pulled_task(session: Session, task_id: str, title: str, due: str | None = None,
                created_at: str = "2023-11-14T00:00:00.000000Z", seq: int = 1) -> None:
    """A task as the sync engine stores it from the pull feed."""
    with session.db.conn:
        session.db.execute(
            "INSERT INTO sync_tasks (id, grid_id, title, body, due, created_at, server_seq)"
            " VALUES (?, '7', ?, ?, ?, ?, ?)",
            (task_id, title, f"{title}的内容", due, created_at, seq))


def outbox(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    return [(kind, rid, json.loads(payload)) for kind, rid, payload in session.db.execute(
        "SELECT kind, record_id, payload FROM outbox ORDER BY rowid")]


def test_inbox_unread_first_then_newest_with_due_and_notice(
    session: Session, clock: FakeClock
) -> None:
    # clock: 2023-11-14 22:13:20 UTC
    pulled_task(session, "old", "旧通知", created_at="2023-11-10T00:00:00.000000Z", seq=1)
    pulled_task(session, "late", "秸秆焚烧排查", due="2023-11-14T10:00:00.000000Z",
                created_at="2023-11-12T00:00:00.000000Z", seq=2)
    pulled_task(session, "soon", "走访困难户", due="2023-11-20",
                created_at="2023-11-13T00:00:00.000000Z", seq=3)
    assert tasks.unread_count(session) == 3
    assert [t.id for t in tasks.inbox(session)] == ["soon", "late", "old"]
    assert tasks.mark_read(session, "soon") is True
    assert tasks.mark_read(session, "soon") is False
    items = {t.id: t for t in tasks.inbox(session)}
    assert [t.id for t in tasks.inbox(session)] == ["late", "old", "soon"]
    assert tasks.unread_count(session) == 2
    assert items["old"].is_notice and items["old"].due is None and not items["old"].overdue
    late = items["late"]
    assert late.overdue and late.due is not None
    assert (late.due.month, late.due.day, late.due.hour) == (11, 14, 18)  # 10:00Z = 18:00 CST
    soon = items["soon"]
    assert not soon.overdue and soon.due is not None
    assert (soon.due.day, soon.due.hour, soon.due.minute) == (20, 23, 59)  # end of the day
    assert outbox(session) == []  # reading is not sent


def test_acknowledge_once_queues_op_and_audit(session: Session, clock: FakeClock) -> None:
    pulled_task(session, "t1", "防火检查")
    record = tasks.acknowledge(session, "t1")
    assert record is not None
    assert tasks.acknowledge(session, "t1") is None  # nothing sent twice
    task = tasks.get_task(session, "t1")
    assert task.acknowledged and not task.unread and not task.answered
    assert outbox(session) == [("task.ack", record, {"task_id": "t1",
                                                      "acknowledged_at": clock.now})]
    kinds = [e["detail"].get("kind") for e in session.audit.entries()]
    assert kinds.count("task_ack") == 1
    assert session.audit.verify().ok


def test_answer_with_photo_acknowledges_too(session: Session, jpeg: bytes) -> None:
    pulled_task(session, "t2", "排查出租房")
    photo = add_photo(session, jpeg, grid_id="7")
    answer_id = tasks.answer(session, "t2", "  已排查，3户无隐患  ", photos=[photo.id, photo.id])
    task = tasks.get_task(session, "t2")
    assert task.acknowledged and task.answered and not task.overdue
    assert task.answers[0].text == "已排查，3户无隐患" and task.answers[0].photos == (photo.id,)
    ops = [(k, r, p) for k, r, p in outbox(session) if k.startswith("task.")]
    assert [k for k, _r, _p in ops] == ["task.ack", "task.answer"]
    assert ops[1][1] == answer_id
    assert ops[1][2]["text"] == "已排查，3户无隐患" and ops[1][2]["photos"] == [photo.id]
    assert "event_id" not in ops[1][2]
    # a second answer (with an event only) is a new record; no second acknowledgement
    tasks.answer(session, "t2", event_id="ev-1")
    assert [k for k, _r, _p in outbox(session) if k.startswith("task.")] == [
        "task.ack", "task.answer", "task.answer"]
    assert len(tasks.get_task(session, "t2").answers) == 2


def test_bad_answers_are_refused_and_nothing_is_saved(session: Session) -> None:
    pulled_task(session, "t3", "通知")
    before = outbox(session)
    with pytest.raises(tasks.AnswerEmpty) as empty:
        tasks.answer(session, "t3", "   ")
    assert "回复是空的" in empty.value.message("zh_CN")
    assert empty.value.message("en") != empty.value.message("zh_CN")  # translated
    with pytest.raises(tasks.AnswerTooLong):
        tasks.answer(session, "t3", "字" * (tasks.MAX_ANSWER_TEXT + 1))
    with pytest.raises(tasks.AnswerPhotoMissing):
        tasks.answer(session, "t3", "见照片", photos=["no-such-photo"])
    with pytest.raises(tasks.TaskNotFound):
        tasks.answer(session, "nope", "好的")
    with pytest.raises(tasks.TaskNotFound):
        tasks.acknowledge(session, "nope")
    assert outbox(session) == before
    assert session.db.execute("SELECT count(*) FROM task_answers").fetchone()[0] == 0
    assert not tasks.get_task(session, "t3").acknowledged


def test_unreadable_due_does_not_hide_the_task(session: Session) -> None:
    pulled_task(session, "t4", "坏日期", due="下周一")
    task = tasks.get_task(session, "t4")
    assert task.due is None and task.title == "坏日期"


def test_cli_lists_acknowledges_and_answers(session: Session, data_dir: Path) -> None:
    pulled_task(session, "t5", "清理楼道杂物", due="2030-01-01T10:00:00Z")
    session.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fieldclient.cli", "--data-dir", str(data_dir), *args],
            input=PIN + "\n", capture_output=True, text=True, timeout=60, cwd=REPO,
            env={**os.environ, "FIELDCLIENT_LANG": "zh_CN"})

    listed = run("tasks", "--pin-stdin", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)["tasks"]
    assert [(t["id"], t["unread"], t["notice"]) for t in items] == [("t5", True, False)]
    assert run("tasks", "ack", "t5", "--pin-stdin").returncode == 0
    empty = run("tasks", "answer", "t5", "--text", " ", "--pin-stdin")
    assert empty.returncode != 0 and empty.stderr.strip()
    done = run("tasks", "answer", "t5", "--text", "已清理", "--pin-stdin", "--json")
    assert done.returncode == 0, done.stderr
    items = json.loads(run("tasks", "--pin-stdin", "--json").stdout)["tasks"]
    assert items[0]["acknowledged"] and items[0]["answers"][0]["text"] == "已清理"
    text = run("tasks", "--pin-stdin")
    assert "清理楼道杂物" in text.stdout and "已回复" in text.stdout
