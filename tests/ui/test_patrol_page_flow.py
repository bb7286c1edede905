"""A whole patrol through the UI: start, 28 items, a problem with a photo, report as
event, crash and resume with the typed notes back, finish and its summary; Today."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from uihelpers import PIN, click, settle, type_pin

from fieldclient.fieldwork import patrols
from fieldclient.fieldwork.patrols import ItemResult
from fieldclient.storage.session import unlock_device
from ui.controller import AppController
from ui.dialogs.patrol import ConfirmDialog, EventDialog, ItemListDialog, RestNormalDialog
from ui.mainwindow import MainView
from ui.pages.patrol import PatrolPage
from ui.pages.today import TodayPage
from ui.screens.unlock import UnlockScreen

GRID = "3301"


@pytest.fixture(autouse=True)
def no_positioning(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """These tests are about the checklist: GPS from a log that does not exist (no fixes,
    no dependence on the machine's positioning service)."""
    from ui.patrol_tracker import PatrolTracker

    missing = f"nmea-file:{tmp_path / 'no-such.nmea'}"
    monkeypatch.setattr(PatrolTracker, "source_spec", lambda self: missing)


def main_view(controller: AppController) -> MainView:
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    return view


def patrol_page(controller: AppController) -> PatrolPage:
    view = main_view(controller)
    view.show_page("patrol")
    page = view.pages["patrol"]
    assert isinstance(page, PatrolPage)
    return page


def ime_type(widget: QWidget, text: str) -> None:
    """Type Chinese the way the system input method does: a committed string."""
    event = QInputMethodEvent()
    event.setCommitString(text)
    QApplication.sendEvent(widget, event)


def evidence_image(tmp_path: Path) -> Path:
    path = tmp_path / "evidence.jpg"
    image = Image.new("RGB", (1200, 900), (40, 120, 60))
    for x in range(0, 1200, 60):  # some structure for the JPEG encoder
        image.paste((200, 30, 30), (x, 0, x + 20, 900))
    image.save(path, "JPEG", quality=90)
    return path


def start_on_typed_grid(page: PatrolPage, qtbot: QtBot) -> None:
    assert page.views.currentWidget() is page.start_view
    assert page.grid_input_row.isVisibleTo(page)  # not enrolled: the grid is typed
    assert "没有登记" in page.start_facts.text()
    qtbot.keyClicks(page.grid_input, GRID)
    click(qtbot, page.start_button)
    assert page.views.currentWidget() is page.run_view
    assert page.patrol is not None and page.patrol.grid_id == GRID


def answer(page: PatrolPage, qtbot: QtBot, code: str, result: ItemResult) -> None:
    """Go to the item (a tap in 全部项目 unless it is shown) and tap the answer."""
    if page.current_code != code:
        click(qtbot, page.list_button)
        dialog = page.dialog
        assert isinstance(dialog, ItemListDialog) or code not in page.group_codes[
            page._group_of(page.current_code or "")]
        if isinstance(dialog, ItemListDialog) and code in dialog.item_buttons:
            click(qtbot, dialog.item_buttons[code])
        else:
            if isinstance(dialog, ItemListDialog):
                dialog.reject()
            group = next(i for i, codes in enumerate(page.group_codes) if code in codes)
            click(qtbot, page.group_tabs.buttons[group])
            if page.current_code != code:
                click(qtbot, page.list_button)
                dialog = page.dialog
                assert isinstance(dialog, ItemListDialog)
                click(qtbot, dialog.item_buttons[code])
    assert page.current_code == code
    btn = page.cards[code].result_buttons[result]
    assert btn.isVisibleTo(page) and btn.width() > 60
    click(qtbot, btn)


def unlock_through_ui(controller: AppController, qtbot: QtBot) -> None:
    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    type_pin(qtbot, screen.pad, PIN)
    settle(qtbot)
    qtbot.waitUntil(lambda: isinstance(controller.window.screen_widget(), MainView), timeout=10_000)


def test_full_patrol_through_the_ui(
    unlocked: AppController,
    make_controller: Callable[..., AppController],
    qtbot: QtBot,
    tmp_path: Path,
) -> None:
    page = patrol_page(unlocked)
    start_on_typed_grid(page, qtbot)
    assert len(page.cards) == 28
    assert len(page.group_tabs.buttons) == 4
    assert [len(c) for c in page.group_codes] == [13, 4, 7, 4]

    # P07 fire safety needs a photo when a problem is found: the pictures open at once
    # (no camera here); closed without one, the problem waits for it.
    card = page.cards["P07"]
    assert card.item.photo_required_on_problem
    asked: list[bool] = []
    page.image_picker = lambda _parent, _picked: asked.append(True)
    answer(page, qtbot, "P07", ItemResult.PROBLEM)
    assert asked == [True]
    assert card.error.isVisibleTo(card)
    assert "消防安全" in card.error.text() and "拍照" in card.error.text()
    assert not card.result_buttons[ItemResult.PROBLEM].isChecked()
    assert page.patrol is not None and page.patrol.items["P07"].result is None

    # A photo picked from a file (the seam instead of a file dialog): the problem is saved.
    image = evidence_image(tmp_path)
    page.image_picker = lambda _parent, picked: picked(image)
    click(qtbot, card.pick_button)
    settle(qtbot)
    qtbot.waitUntil(lambda: page.patrol is not None
                    and page.patrol.items["P07"].result is ItemResult.PROBLEM)
    assert card.result_buttons[ItemResult.PROBLEM].isChecked()
    assert not card.error.isVisibleTo(card)
    assert len(card.thumbs) == 1 and not card.thumbs[0].icon().isNull()
    ime_type(card.note, "消防通道被杂物堵塞")

    # Report as event: the draft comes from the item, confirmed in a dialog.
    assert card.event_button.isVisibleTo(card)
    click(qtbot, card.event_button)
    dialog = page.dialog
    assert isinstance(dialog, EventDialog) and dialog.isVisible()
    assert dialog.values["category"].text() == "消防安全"
    assert dialog.values["photos"].text() == "1张"
    assert dialog.description.text() == "消防通道被杂物堵塞"  # the note was saved first
    click(qtbot, dialog.ok_button)
    assert card.reported.isVisibleTo(card) and not card.event_button.isVisibleTo(card)
    session = unlocked.session
    assert session is not None
    rows = session.db.execute(
        "SELECT record_id, payload FROM outbox WHERE kind = 'event.report'").fetchall()
    assert len(rows) == 1
    event = json.loads(rows[0][1])
    assert event["id"] == rows[0][0] and event["grid_id"] == GRID
    assert event["category"] == "消防安全" and event["description"] == "消防通道被杂物堵塞"
    assert event["photos"] == list(page.patrol.items["P07"].photos)
    assert event["source"] == {"kind": "patrol", "patrol_id": page.patrol.id, "item": "P07"}
    created = [e["detail"] for e in session.audit.entries() if e["action"] == "record_created"]
    assert {"kind": "event", "id": event["id"], "grid_id": GRID, "patrol_id": page.patrol.id,
            "item": "P07"} in created

    # Every other item: normal or not applicable.
    others = [c for c in page.cards if c != "P07"]
    for index, code in enumerate(others):
        answer(page, qtbot, code, ItemResult.NOT_APPLICABLE if index % 3 == 0
               else ItemResult.NORMAL)
    # One note saved by the debounce, one typed just before the "crash".
    answer(page, qtbot, "P01", ItemResult.NORMAL)
    ime_type(page.cards["P01"].note, "邻里纠纷已调解")
    qtbot.waitUntil(lambda: not page.dirty_notes, timeout=3000)
    answer(page, qtbot, "P25", ItemResult.NORMAL)
    ime_type(page.cards["P25"].note, "低保户王大爷需要送药")
    assert page.dirty_notes  # not saved yet...
    patrol_id = page.patrol.id

    # "Crash": the app goes away without finishing (its session closes).
    unlocked.close_session()
    assert session is not None and not session.is_open
    again = make_controller()
    unlock_through_ui(again, qtbot)
    assert main_view(again).current_page().key == "patrol"  # back to the running patrol
    page = patrol_page(again)
    assert page.views.currentWidget() is page.run_view
    assert page.patrol is not None and page.patrol.id == patrol_id
    assert page.patrol.items_done == 28
    assert page.cards["P01"].note.text() == "邻里纠纷已调解"
    assert page.cards["P25"].note.text() == "低保户王大爷需要送药"  # flushed before closing
    assert page.cards["P07"].result_buttons[ItemResult.PROBLEM].isChecked()
    assert len(page.cards["P07"].thumbs) == 1
    page.show_item("P07")
    assert page.cards["P07"].reported.isVisibleTo(page.cards["P07"])
    assert "28/28" in page.run_title.text()

    # Finish: all answered, so no question; the summary shows the numbers.
    click(qtbot, page.finish_button)
    settle(qtbot)  # the records are written on the thread pool
    assert page.views.currentWidget() is page.summary_view
    assert page.summary_values["items"].text() == "28/28项"
    assert page.summary_values["problems"].text() == "1项"
    assert page.summary_values["distance"].text() == "0米"  # no GPS fix in this test
    assert page.summary_values["duration"].text()
    session = again.session
    assert session is not None
    assert patrols.active_patrol(session) is None
    kinds = dict(session.db.execute(
        "SELECT kind, count(*) FROM outbox GROUP BY kind").fetchall())
    assert kinds["checklist.result"] == 28 and kinds["patrol.report"] == 1
    assert kinds["event.report"] == 1 and kinds["photo.meta"] == 1
    results = {json.loads(p)["code"]: json.loads(p) for (p,) in session.db.execute(
        "SELECT payload FROM outbox WHERE kind = 'checklist.result'").fetchall()}
    assert results["P25"]["note"] == "低保户王大爷需要送药"
    assert results["P07"]["result"] == "problem" and len(results["P07"]["photos"]) == 1

    # Done: back to the start view, where today's patrol of the grid is marked.
    click(qtbot, page.done_button)
    assert page.views.currentWidget() is page.start_view
    assert "今天已巡查" in page.grid_buttons[GRID].text()
    view = main_view(again)
    view.show_page("today")
    today = view.pages["today"]
    assert isinstance(today, TodayPage)
    assert today.grid_status[GRID].text() == "今天已巡查"


def test_finishing_with_unchecked_items_asks_first(unlocked: AppController, qtbot: QtBot) -> None:
    page = patrol_page(unlocked)
    start_on_typed_grid(page, qtbot)
    answer(page, qtbot, "P03", ItemResult.NORMAL)
    click(qtbot, page.finish_button)
    dialog = page.dialog
    assert isinstance(dialog, ConfirmDialog) and dialog.isVisible()
    assert "27" in dialog.message.text()
    click(qtbot, dialog.cancel_button)  # keep checking
    assert page.views.currentWidget() is page.run_view
    click(qtbot, page.finish_button)
    dialog = page.dialog
    assert isinstance(dialog, ConfirmDialog)
    click(qtbot, dialog.ok_button)
    settle(qtbot)
    assert page.views.currentWidget() is page.summary_view
    assert page.summary_values["items"].text() == "1/28项"


def test_lock_keeps_a_typed_note(unlocked: AppController, qtbot: QtBot) -> None:
    page = patrol_page(unlocked)
    start_on_typed_grid(page, qtbot)
    ime_type(page.cards["P02"].note, "路灯不亮")
    click(qtbot, main_view(unlocked).lock_button)  # before the debounce: flushed on lock
    unlock_through_ui(unlocked, qtbot)
    assert main_view(unlocked).current_page().key == "patrol"  # not Today: the patrol runs
    page = patrol_page(unlocked)
    assert page.cards["P02"].note.text() == "路灯不亮"
    assert page.patrol is not None and page.patrol.items["P02"].result is None


def test_today_page_without_enrollment(unlocked: AppController, qtbot: QtBot) -> None:
    view = main_view(unlocked)
    today = view.pages["today"]
    assert isinstance(today, TodayPage)
    view.show_page("today")
    today.refresh()
    assert "没有登记" in today.grid_facts.text()
    assert today.start_any.isVisibleTo(today)
    click(qtbot, today.start_any)
    assert view.current_page().key == "patrol"


def test_today_page_with_enrolled_grids(
    unlocked: AppController, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync import engine

    enrolled = engine.Enrollment("https://centre.example", "dev-1", 7, "李梅", "worker", [12, 13])
    monkeypatch.setattr(engine, "enrollment", lambda _session: enrolled)
    view = main_view(unlocked)
    today = view.pages["today"]
    assert isinstance(today, TodayPage)
    view.show_page("today")
    today.refresh()
    assert set(today.grid_status) == {"12", "13"}
    assert today.grid_status["12"].text() == "今天还没有巡查"
    assert not today.start_any.isVisibleTo(today)
    click(qtbot, today.start_buttons["13"])  # one tap: the patrol of grid 13 starts
    page = view.pages["patrol"]
    assert isinstance(page, PatrolPage)
    assert view.current_page() is page
    assert page.patrol is not None and page.patrol.grid_id == "13"
    assert page.patrol.worker_id == "7"
    view.show_page("today")
    assert today.active_box.isVisibleTo(today)
    assert "网格 13" in today.active_text.text()
    assert not today.start_buttons  # one patrol at a time


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_patrol_pages_fit_1280x800_at_175_percent(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot, language: str,
    tmp_path: Path,
) -> None:
    controller = make_controller(language=language, scale=1.75)
    controller.on_session(unlock_device(controller.data_dir, PIN))
    view = main_view(controller)

    def fits(widget: QWidget) -> None:
        hint = widget.minimumSizeHint()
        assert hint.width() <= 1280 and hint.height() <= 800, hint
        assert controller.window.height() <= 800 and controller.window.width() <= 1280

    for key in ("today", "patrol"):
        view.show_page(key)
        qtbot.wait(10)
        fits(view)
    page = patrol_page(controller)
    page.start("12")
    qtbot.wait(20)
    fits(view)
    for index in range(len(page.group_codes)):
        click(qtbot, page.group_tabs.buttons[index])
        qtbot.wait(10)
        fits(view)
        tab = page.group_tabs.buttons[index]
        assert tab.isVisibleTo(page)
        assert tab.width() >= tab.sizeHint().width() * 0.98, tab.text()
        for code in page.group_codes[index]:
            page.show_item(code)
            qtbot.wait(5)
            viewport = page.item_pages[code].viewport().width()
            card = page.cards[code]
            assert card.width() <= viewport, (code, card.width(), viewport)  # no overflow
            # Answered without scrolling, in English too (its long group names leave
            # one row of tabs: the chosen one named, the others numbered); the way on
            # and Finish are always in sight.
            answers = list(card.result_buttons.values())
            for btn in [*answers, page.rest_button, page.next_button, page.finish_button]:
                assert fully_visible(btn), (code, btn.text(), btn.visibleRegion())
            for btn in [*card.result_buttons.values(), card.camera_button, card.pick_button]:
                assert btn.isVisibleTo(page), btn.text()
                assert btn.width() >= btn.sizeHint().width() * 0.98, btn.text()
                assert btn.geometry().right() <= card.width(), btn.text()
    for btn in (page.finish_button, page.track_button):
        assert btn.width() >= btn.sizeHint().width() * 0.98, btn.text()
    has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in page.finish_button.text()
                  + page.cards["P01"].result_buttons[ItemResult.PROBLEM].text()
                  + page.run_title.text() + page.gps_label.text())
    assert has_cjk == (language == "zh_CN")
    page.finish()
    dialog = page.dialog
    assert isinstance(dialog, ConfirmDialog)
    assert dialog.minimumSizeHint().height() <= 800
    dialog.accept()
    settle(qtbot)
    fits(view)
    assert page.views.currentWidget() is page.summary_view


# -- a whole patrol in big steps (issue 15) ------------------------------------------------

def fully_visible(widget: QWidget) -> bool:
    """Shown whole, nothing of it clipped by a scroll area or the window: tappable
    without scrolling."""
    return widget.isVisible() and widget.visibleRegion().boundingRect() == widget.rect()


@pytest.mark.parametrize(("scale", "language"), [(1.0, "zh_CN"), (1.75, "zh_CN"),
                                                  (1.75, "en")])
def test_a_28_item_patrol_with_one_problem_in_at_most_12_taps(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scale: float, language: str,
) -> None:
    """From Today to the finished patrol: 27 items normal, one problem with its photo
    (the real photo pipeline), every tap on something in sight (nothing scrolled)."""
    from sync import engine

    enrolled = engine.Enrollment("https://centre.example", "dev-1", 7, "李梅", "worker", [13])
    monkeypatch.setattr(engine, "enrollment", lambda _session: enrolled)
    controller = make_controller(scale=scale, language=language)
    controller.on_session(unlock_device(controller.data_dir, PIN))
    view = main_view(controller)
    taps: list[str] = []
    english = language == "en"

    def tap(widget: QWidget) -> None:
        assert fully_visible(widget), (widget.objectName(), widget.visibleRegion())
        taps.append(widget.objectName())
        click(qtbot, widget)

    today = view.pages["today"]
    assert isinstance(today, TodayPage)
    qtbot.waitUntil(lambda: "13" in today.start_buttons
                    and fully_visible(today.start_buttons["13"]), timeout=3000)  # in sight
    start = today.start_buttons["13"]
    assert start.property("role") == "primary"
    tap(start)  # 1: the patrol of grid 13 starts
    page = view.pages["patrol"]
    assert isinstance(page, PatrolPage) and view.current_page() is page
    assert page.patrol is not None and page.current_code == "P01"
    qtbot.wait(20)

    tap(page.list_button)  # 2: 全部项目
    items = page.dialog
    assert isinstance(items, ItemListDialog) and len(items.item_buttons) == 13
    tap(items.item_buttons["P07"])  # 3
    assert page.current_code == "P07"
    qtbot.wait(10)

    image = evidence_image(tmp_path)
    page.image_picker = lambda _parent, picked: picked(image)  # the picker's choice
    tap(page.cards["P07"].result_buttons[ItemResult.PROBLEM])  # 4: pictures open at once
    settle(qtbot)
    qtbot.waitUntil(lambda: page.patrol is not None
                    and page.patrol.items["P07"].result is ItemResult.PROBLEM)
    assert len(page.cards["P07"].thumbs) == 1

    tap(page.rest_button)  # 5: 其余正常, which says what it marks
    rest = page.dialog
    assert isinstance(rest, RestNormalDialog) and rest.isVisible()
    assert "12" in rest.message.text()
    if english:
        assert "Fire" not in rest.items_text.text() and "15" in rest.items_text.text()
        assert "27" in rest.all_button.text()
    else:
        assert "消防" not in rest.items_text.text() and "矛盾纠纷" in rest.items_text.text()
        assert "其他组还有15项" in rest.items_text.text()
        assert rest.all_button.text() == "全部27项正常"
    assert rest.minimumSizeHint().height() <= 800
    tap(rest.all_button)  # 6
    assert page.patrol is not None and page.patrol.items_done == 28
    assert page.done_hint.isVisible()

    tap(page.finish_button)  # 7: all answered, no question
    settle(qtbot)
    assert page.views.currentWidget() is page.summary_view
    qtbot.wait(20)
    assert page.summary_values["items"].text() == ("28 of 28" if english else "28/28项")
    assert page.summary_values["problems"].text().startswith("1")
    tap(page.done_button)  # 8: 完成, in sight without scrolling
    assert len(taps) <= 12, taps
    assert page.views.currentWidget() is page.start_view

    session = controller.session
    assert session is not None
    results = [json.loads(p) for (p,) in session.db.execute(
        "SELECT payload FROM outbox WHERE kind = 'checklist.result'").fetchall()]
    assert len(results) == 28
    assert sorted(r["result"] for r in results).count("normal") == 27
    problem = next(r for r in results if r["code"] == "P07")
    assert problem["result"] == "problem" and len(problem["photos"]) == 1


def test_normal_answers_move_on_and_next_group(unlocked: AppController, qtbot: QtBot) -> None:
    page = patrol_page(unlocked)
    start_on_typed_grid(page, qtbot)
    assert page.current_code == "P01"
    click(qtbot, page.cards["P01"].result_buttons[ItemResult.NORMAL])
    assert page.current_code == "P02"  # moved on by itself
    click(qtbot, page.cards["P02"].result_buttons[ItemResult.NOT_APPLICABLE])
    assert page.current_code == "P03"
    click(qtbot, page.cards["P03"].result_buttons[ItemResult.PROBLEM])
    assert page.current_code == "P03"  # a problem stays: note, photo, report
    click(qtbot, page.prev_button)
    assert page.current_code == "P02"
    page.show_item(page.group_codes[0][-1])
    assert page.next_button.text() == "下一组›"
    click(qtbot, page.next_button)
    assert page.current_code == page.group_codes[1][0]
    assert page.group_tabs.buttons[1].isChecked()
    # 其余正常 for this group only: the others stay open.
    click(qtbot, page.rest_button)
    rest = page.dialog
    assert isinstance(rest, RestNormalDialog)
    assert rest.group_button.text() == "本组4项正常"
    click(qtbot, rest.group_button)
    assert page.patrol is not None
    assert all(page.patrol.items[c].result is ItemResult.NORMAL for c in page.group_codes[1])
    assert page.patrol.items["P03"].result is ItemResult.PROBLEM
    assert page.patrol.items_done == 7
    assert page.group_tabs.buttons[1].text().endswith("✓")


def test_an_accidental_patrol_is_cancelled(unlocked: AppController, qtbot: QtBot) -> None:
    page = patrol_page(unlocked)
    start_on_typed_grid(page, qtbot)
    click(qtbot, page.cards["P01"].result_buttons[ItemResult.NORMAL])
    patrol_id = page.patrol.id if page.patrol else ""
    # Started by mistake: Finish asks about the 27 unanswered items and offers 取消巡查.
    click(qtbot, page.finish_button)
    question = page.dialog
    assert isinstance(question, ConfirmDialog) and "取消" in question.message.text()
    assert page.cancel_button is not None and fully_visible(page.cancel_button)
    click(qtbot, page.cancel_button)
    dialog = page.dialog
    assert isinstance(dialog, ConfirmDialog) and dialog is not question
    assert "1项" in dialog.message.text() and "删除" in dialog.message.text()
    click(qtbot, dialog.cancel_button)  # 继续巡查: nothing happens
    assert page.views.currentWidget() is page.run_view
    assert page.patrol is not None and page.patrol.items_done == 1
    click(qtbot, page.finish_button)
    assert page.cancel_button is not None
    click(qtbot, page.cancel_button)
    dialog = page.dialog
    assert isinstance(dialog, ConfirmDialog)
    click(qtbot, dialog.ok_button)
    assert page.views.currentWidget() is page.start_view
    session = unlocked.session
    assert session is not None
    assert patrols.get_patrol(session, patrol_id).state == "abandoned"
    assert session.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert not patrols.patrol_done_today(session, GRID)
    assert page.tracker.feed is None  # the GPS is off
