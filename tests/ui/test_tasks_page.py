"""Tasks page: unread badge on the navigation, opening marks read, acknowledge, answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from uihelpers import click, settle

from fieldclient.fieldwork import tasks
from fieldclient.storage.session import Session
from ui.controller import AppController
from ui.dialogs.task import AnswerDialog
from ui.mainwindow import MainView
from ui.pages.tasks import TasksPage


def pulled(session: Session, task_id: str, title: str, due: str | None, seq: int) -> None:
    """A task as the sync engine stores it from the pull feed."""
    with session.db.conn:
        session.db.execute(
            "INSERT INTO sync_tasks (id, grid_id, title, body, due, created_at, server_seq)"
            " VALUES (?, '3', ?, ?, ?, ?, ?)",
            (task_id, title, f"{title}。请排查后回复情况。", due,
             f"2026-11-2{seq}T00:00:00.000000Z", seq))


def setup_tasks(controller: AppController) -> tuple[MainView, TasksPage, Session]:
    session = controller.session
    assert session is not None and controller.sync is not None
    pulled(session, "t-burn", "秸秆焚烧排查", "2020-11-23T10:00:00.000000Z", 1)
    pulled(session, "t-notice", "冬季防火通知", None, 2)
    controller.sync.finished.emit(None)  # what a finished sync announces
    view = controller.main_view
    assert view is not None
    page = view.pages["tasks"]
    assert isinstance(page, TasksPage)
    return view, page, session


def ops(session: Session) -> list[tuple[str, dict[str, Any]]]:
    return [(k, json.loads(p)) for k, p in session.db.execute(
        "SELECT kind, payload FROM outbox WHERE kind LIKE 'task.%' ORDER BY rowid")]


def test_badge_read_acknowledge_answer(unlocked: AppController, qtbot: QtBot) -> None:
    view, page, session = setup_tasks(unlocked)
    assert view.task_badge.isVisible() and view.task_badge.text() == "2"
    click(qtbot, view.nav_buttons["tasks"])
    assert view.current_page() is page
    assert [c.task.id for c in page.cards] == ["t-notice", "t-burn"]
    burn = page.cards[1]
    assert burn.dot.isVisibleTo(burn) and "截止 11月23日 18:00" in burn.due.text()
    assert burn.due.property("role") == "overdue"
    assert page.cards[0].due.text() == "通知" and page.cards[0].property("role") == "notice"

    click(qtbot, burn)
    assert page.stack.currentWidget() is page.detail_view
    assert page.title_label.text() == "秸秆焚烧排查" and "请排查" in page.body.text()
    assert view.task_badge.text() == "1"  # opened: read
    assert tasks.unread_count(session) == 1
    assert page.ack_button.isEnabled() and page.ack_button.text() == "确认收到"

    click(qtbot, page.ack_button)
    assert not page.ack_button.isEnabled() and page.ack_button.text() == "已确认收到"
    assert [k for k, _p in ops(session)] == ["task.ack"]

    click(qtbot, page.answer_button)
    dialog = page.dialog
    assert isinstance(dialog, AnswerDialog) and dialog.isVisible()
    click(qtbot, dialog.send_button)  # nothing written yet: refused, stays open
    assert dialog.error.isVisible() and "回复是空的" in dialog.error.text()
    dialog.text.setPlainText("已到现场，没有焚烧。")
    click(qtbot, dialog.send_button)
    assert not dialog.isVisible() and dialog.answer_id is not None
    assert [(k, p.get("text")) for k, p in ops(session)] == [
        ("task.ack", None), ("task.answer", "已到现场，没有焚烧。")]
    assert page.answers_label.isVisible() and "已到现场" in page.answers_label.text()
    assert page.answer_button.text() == "再回复一条"

    click(qtbot, page.back_button)
    assert page.stack.currentWidget() is page.list_view
    assert [c.state.text() for c in page.cards] == ["未读", "已回复"]
    click(qtbot, page.cards[0])
    assert not view.task_badge.isVisible()
    assert page.kind.text() == "指挥中心的通知" and not page.due.isVisible()


def test_answer_with_a_photo(unlocked: AppController, qtbot: QtBot, tmp_path: Path) -> None:
    from PIL import Image

    _view, page, session = setup_tasks(unlocked)
    unlocked.main_view.show_page("tasks")  # type: ignore[union-attr]
    page.open_task("t-burn")
    source = tmp_path / "现场.jpg"
    Image.new("RGB", (800, 600), (120, 160, 80)).save(source, "JPEG")
    click(qtbot, page.answer_button)
    dialog = page.dialog
    assert isinstance(dialog, AnswerDialog)

    def pick(_parent: QWidget, picked: Callable[[Path], None]) -> None:
        picked(source)

    dialog.photos.image_picker = pick
    click(qtbot, dialog.photos.pick_button)
    settle(qtbot)
    assert dialog.photos.count() == 1
    click(qtbot, dialog.send_button)  # a photo alone is an answer
    assert dialog.answer_id is not None
    [(_kind, payload)] = [o for o in ops(session) if o[0] == "task.answer"]
    [photo_id] = payload["photos"]
    assert session.db.execute("SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone()
    assert "附照片1张" in page.answers_label.text()
    assert tasks.get_task(session, "t-burn").acknowledged  # the answer acknowledged it
    # The sent photo shows in the detail; a tap opens it full size, not removable.
    from ui.dialogs.photo import PhotoView

    strip = page.answer_photos
    assert strip.isVisibleTo(page) and len(strip.thumbs) == 1
    assert not strip.thumbs[0].icon().isNull()
    click(qtbot, strip.thumbs[0])
    view = strip.view
    assert isinstance(view, PhotoView) and view.isVisible() and not view.pixmap.isNull()
    assert not view.remove_button.isVisibleTo(view)
    view.accept()


def test_cancelled_answer_stores_nothing(unlocked: AppController, qtbot: QtBot) -> None:
    _view, page, session = setup_tasks(unlocked)
    unlocked.main_view.show_page("tasks")  # type: ignore[union-attr]
    page.open_task("t-notice")
    click(qtbot, page.answer_button)
    dialog = page.dialog
    assert isinstance(dialog, AnswerDialog)
    dialog.text.setPlainText("写了一半")
    click(qtbot, dialog.cancel_button)
    assert ops(session) == [] and not tasks.get_task(session, "t-notice").answered


def test_english_and_empty_state(make_controller: Callable[..., AppController],
                                 device: Path, qtbot: QtBot) -> None:
    from uihelpers import PIN

    from fieldclient.storage.session import unlock_device

    controller = make_controller(language="en", scale=1.75)
    controller.on_session(unlock_device(device, PIN))
    view = controller.main_view
    assert view is not None
    view.show_page("tasks")
    page = view.pages["tasks"]
    assert isinstance(page, TasksPage)
    assert page.empty.isVisible() and "任务" not in page.empty.text()
    assert not view.task_badge.isVisible()
