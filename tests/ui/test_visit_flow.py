"""A visit through the UI: open the dialog for a household, fill it in, attach a real
JPEG through the shared photo pipeline, save, see it in the history, correct it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from uihelpers import click, settle

from fieldclient.fieldwork import visits
from fieldclient.fieldwork.households import create_household
from ui.controller import AppController
from ui.dialogs.patrol import ConfirmDialog
from ui.dialogs.visit import VisitDialog, VisitHistoryDialog


def photo_file(tmp_path: Path) -> Path:
    path = tmp_path / "IMG_0001.JPG"
    Image.new("RGB", (800, 600), (30, 120, 200)).save(path, "JPEG", quality=90)
    return path


def test_record_see_and_correct_a_visit(
    unlocked: AppController, qtbot: QtBot, tmp_path: Path
) -> None:
    session = unlocked.session
    assert session is not None
    hid = create_household(session, "王秀英", "庄市街道培训村2组8号", category="hardship")
    history = VisitHistoryDialog(unlocked, hid, unlocked.window)
    history.open()
    assert history.empty.isVisibleTo(history)
    click(qtbot, history.new_button)
    dialog = history.dialog
    assert isinstance(dialog, VisitDialog) and dialog.isVisible()
    assert "王秀英" in dialog.heading.text()
    assert "没有定位" in dialog.place.text()  # no fix: said plainly, saving still allowed
    click(qtbot, dialog.type_buttons["phone"])
    assert dialog.visit_type() == "phone"
    dialog.people.setText("户主本人")
    dialog.situation.setPlainText("老人身体尚可，药按时吃")
    dialog.needs.setPlainText("想了解医保报销")
    dialog.follow_up.setText("下周送报销材料")
    click(qtbot, dialog.due_check)
    assert dialog.due_date.isEnabled()
    picture = photo_file(tmp_path)

    def picker(_parent: QWidget, on_picked: Callable[[Path], None]) -> None:
        on_picked(picture)

    dialog.image_picker = picker
    click(qtbot, dialog.pick_button)
    settle(qtbot)
    qtbot.waitUntil(lambda: len(dialog.photo_ids) == 1)
    assert len(dialog.thumbs) == 1
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    [saved] = visits.visits_for_household(session, hid)
    assert (saved.visit_type, saved.people_met, saved.needs) == (
        "phone", "户主本人", "想了解医保报销")
    assert saved.photos == tuple(dialog.photo_ids) and saved.follow_up_due is not None
    assert session.db.execute(
        "SELECT count(*) FROM outbox WHERE kind = 'visit.create' AND record_id = ?",
        (saved.id,)).fetchone()[0] == 1
    # The history shows it read-only, with a "correct" button.
    qtbot.waitUntil(lambda: saved.id in history.cards)
    assert not history.empty.isVisibleTo(history)
    click(qtbot, history.correct_buttons[saved.id])
    fix = history.dialog
    assert isinstance(fix, VisitDialog) and fix is not dialog
    assert fix.corrects == saved.id
    assert fix.situation.toPlainText() == "老人身体尚可，药按时吃"
    assert fix.photo_ids == list(saved.photos) and fix.visit_type() == "phone"
    fix.situation.setPlainText("老人身体尚可，药按时吃；血压偏高")
    click(qtbot, fix.save_button)
    qtbot.waitUntil(lambda: not fix.isVisible())
    newest, old = visits.visits_for_household(session, hid)
    assert newest.corrects == saved.id and old.superseded_by == newest.id
    assert old.situation == "老人身体尚可，药按时吃"  # the old record is untouched
    qtbot.waitUntil(lambda: newest.id in history.correct_buttons)
    assert saved.id not in history.correct_buttons  # a superseded visit is history only
    history.accept()


def test_empty_situation_and_discarding_a_draft(unlocked: AppController, qtbot: QtBot) -> None:
    session = unlocked.session
    assert session is not None
    hid = create_household(session, "李四", "一组1号")
    dialog = VisitDialog(unlocked, hid, unlocked.window)
    dialog.open()
    dialog.people.setText("邻居")
    click(qtbot, dialog.save_button)
    assert dialog.isVisible() and dialog.error.isVisibleTo(dialog)
    assert "走访的情况" in dialog.error.text()
    dialog.reject()  # something typed: asks first
    confirm = dialog.confirm
    assert isinstance(confirm, ConfirmDialog) and dialog.isVisible()
    click(qtbot, confirm.cancel_button)  # keep writing
    assert dialog.isVisible()
    dialog.reject()
    confirm = dialog.confirm
    assert isinstance(confirm, ConfirmDialog)
    click(qtbot, confirm.ok_button)  # throw it away
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert visits.visits_for_household(session, hid) == []
