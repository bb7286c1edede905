"""A visit with little typing and no dead end: the household's people and quick
phrases one tap away, an error that goes once fixed, a big follow-up check box with a
sensible date, a confirmation after saving, who visited, and 更正 reachable from the
household's page."""

from __future__ import annotations

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QLabel, QStyle, QStyleOptionButton
from pytestqt.qtbot import QtBot
from uihelpers import click

from fieldclient.fieldwork import households, phrases, serverconfig, visits
from ui.controller import AppController
from ui.dialogs.visit import VisitDialog, VisitHistoryDialog
from ui.pages.households import HouseholdsPage


def test_people_phrases_error_due_date_and_confirmation(
    unlocked: AppController, qtbot: QtBot
) -> None:
    session = unlocked.session
    assert session is not None
    serverconfig.put(session.db, serverconfig.QUICK_PHRASES,  # as a sync would store it
                     {"visit": ["按时服药", "已宣传防诈骗知识"]}, 1)
    hid = households.create_household(session, "王秀英", "培训村2组8号")
    households.add_member(session, hid, "李建国", "女婿")
    households.add_member(session, hid, "王秀英", "户主")
    dialog = VisitDialog(unlocked, hid, unlocked.window)
    dialog.open()
    people = dialog.people_buttons
    assert [b.text().replace("\n", "").replace("\u2060", "") for b in people.buttons] == [
        "王秀英（户主）", "李建国（女婿）"]
    click(qtbot, people.buttons[0])
    click(qtbot, people.buttons[1])
    click(qtbot, people.buttons[1])  # twice: once in the text
    assert dialog.people.text() == "王秀英、李建国"
    assert dialog.situation_phrases.phrases == ["按时服药", "已宣传防诈骗知识"]
    # Nothing written: the error; it goes once the situation is there.
    click(qtbot, dialog.save_button)
    assert dialog.error.isVisibleTo(dialog)
    click(qtbot, dialog.situation_phrases.buttons[0])
    click(qtbot, dialog.situation_phrases.buttons[1])
    assert dialog.situation.toPlainText() == "按时服药，已宣传防诈骗知识"
    assert not dialog.error.isVisibleTo(dialog)
    # The follow-up date: a week ahead, never 2000-01-01; the check box is big.
    assert dialog.due_date.date() == QDate.currentDate().addDays(7)
    assert dialog.due_check.sizeHint().height() >= 48
    option = QStyleOptionButton()
    dialog.due_check.initStyleOption(option)
    box = dialog.due_check.style().subElementRect(
        QStyle.SubElement.SE_CheckBoxIndicator, option, dialog.due_check)
    assert box.width() >= 40 and box.height() >= 40  # the box itself, not just its text
    click(qtbot, dialog.due_check)
    assert dialog.follow_up_due() is not None
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    toast = unlocked.window.findChild(QLabel, "toast")
    assert isinstance(toast, QLabel) and toast.isVisible()
    assert "走访已保存" in toast.text() and "王秀英" in toast.text()
    [saved] = visits.visits_for_household(session, hid)
    assert saved.people_met == "王秀英、李建国"


def test_centre_phrases_fall_back_to_the_defaults(unlocked: AppController) -> None:
    session = unlocked.session
    assert session is not None
    assert phrases.quick_phrases(session.db, "event") == list(phrases.defaults()["event"])
    serverconfig.put(session.db, serverconfig.QUICK_PHRASES, {"event": "not a list"}, 1)
    assert phrases.quick_phrases(session.db, "event") == list(phrases.defaults()["event"])
    serverconfig.put(session.db, serverconfig.QUICK_PHRASES,
                     {"event": [{"zh": "路灯损坏", "en": "Street lamp broken"}, "井盖缺失"]}, 2)
    assert phrases.quick_phrases(session.db, "event") == ["路灯损坏", "井盖缺失"]
    assert phrases.quick_phrases(session.db, "event", english=True) == [
        "Street lamp broken", "井盖缺失"]
    assert phrases.defaults(english=True)["visit"][0] == "In good health"
    assert phrases.append_phrase("路灯坏了。", "道路破损") == "路灯坏了。道路破损"
    assert phrases.append_phrase("路灯坏了", "路灯坏了") == "路灯坏了"


def test_history_says_who_and_a_wrong_visit_is_corrected_from_the_household_page(
    unlocked: AppController, qtbot: QtBot
) -> None:
    session = unlocked.session
    assert session is not None
    hid = households.create_household(session, "张三", "一组1号")
    wrong = visits.record_visit(session, hid, visit_type="home", situation="家中无人",
                                worker="李网格")
    view = unlocked.main_view
    assert view is not None
    view.show_page("households")
    page = view.pages["households"]
    assert isinstance(page, HouseholdsPage)
    page.show_household(hid)
    detail = page.detail
    assert "李网格" in detail.visits_box.itemAt(0).widget().text()  # type: ignore[union-attr]
    click(qtbot, detail.history_button)
    history = detail.dialog
    assert isinstance(history, VisitHistoryDialog) and history.isVisible()
    card_text = " ".join(w.text() for w in history.cards[wrong].findChildren(QLabel))
    assert "走访人：李网格" in card_text
    click(qtbot, history.correct_buttons[wrong])
    fix = history.dialog
    assert isinstance(fix, VisitDialog) and fix.corrects == wrong
    fix.situation.setPlainText("户主在家，身体尚可")
    click(qtbot, fix.save_button)
    qtbot.waitUntil(lambda: not fix.isVisible())
    newest, old = visits.visits_for_household(session, hid)
    assert newest.corrects == wrong and old.superseded_by == newest.id
    toast = unlocked.window.findChild(QLabel, "toast")
    assert isinstance(toast, QLabel) and "更正已保存" in toast.text()
    history.accept()


def test_hostile_phrases_from_the_centre_are_refused_or_shown_as_they_are(
    unlocked: AppController,
) -> None:
    """Phrases with control or bidirectional characters are not used (the defaults
    are); an ampersand is shown, not taken as a keyboard mnemonic."""
    session = unlocked.session
    assert session is not None
    for bad in ("按时\x1b[2J服药", "按时\u202e服药", "按时\x00服药", "按时\x9b服药"):
        serverconfig.put(session.db, serverconfig.QUICK_PHRASES, {"visit": [bad]}, 1)
        assert phrases.quick_phrases(session.db, "visit") == list(
            phrases.defaults()["visit"]), bad
    serverconfig.put(session.db, serverconfig.QUICK_PHRASES, {"visit": ["水&电正常"]}, 2)
    dialog = VisitDialog(unlocked, households.create_household(session, "王秀英", "2组8号"),
                         unlocked.window)
    [btn] = dialog.situation_phrases.buttons
    assert btn.text() == "水&&电正常"  # && is how a button shows one &
    assert btn.shortcut().isEmpty()
    btn.click()
    assert dialog.situation.toPlainText() == "水&电正常"


def test_a_household_name_with_markup_is_plain_text_in_labels_and_the_toast(
    unlocked: AppController, qtbot: QtBot
) -> None:
    """Household names reach every device of the grid through the centre: one with Qt
    rich text in it (an image 2000 px tall) must show as its characters."""
    from ui.widgets.basic import label
    from ui.widgets.toast import show_toast

    session = unlocked.session
    assert session is not None
    name = "<img src=x width=2000 height=2000>"
    hid = households.create_household(session, name, "2组8号")
    dialog = VisitDialog(unlocked, hid, unlocked.window)
    dialog.open()
    dialog.situation.setPlainText("身体状况良好")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    toast = unlocked.window.findChild(QLabel, "toast")
    assert isinstance(toast, QLabel) and name in toast.text()
    assert toast.height() < 400
    show_toast(unlocked.window, f"<a href='http://x'>{name}</a>")
    assert toast.height() < 400
    shown = label()
    shown.setText(name)
    assert shown.heightForWidth(400) < 400
