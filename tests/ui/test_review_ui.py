"""Review verdicts in the GUI over a real ``central serve`` (issue 13): a grid leader
reviews a worker's visit from its history (has issues, with a comment); the worker's
Today page says a correction is asked, the list of comments opens the correction form,
and the leader's device sees the correction; the leader's Events page lists the grid's
events others reported, a worker's shows only their own."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from uihelpers import PIN, click

from central import ops
from fieldclient.fieldwork import events, reviews, visits
from fieldclient.fieldwork.households import create_household
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import Session, setup_device, unlock_device
from sync.engine import enroll_device
from ui.controller import AppController
from ui.dialogs.review import ReviewDialog, ReviewNotesDialog
from ui.dialogs.visit import VisitDialog, VisitHistoryDialog
from ui.mainwindow import MainView
from ui.pages.events import EventsPage
from ui.pages.today import TodayPage

pytestmark = pytest.mark.usefixtures("cheap_device_keys")
ROOT = Path(__file__).resolve().parents[2]


def _helpers() -> Any:
    sys.path.insert(0, str(ROOT / "tests" / "sync"))
    import sync_helpers

    return sync_helpers


def _headless(live: Any, person: int, where: Path) -> Any:
    """Another person's device, driven without a GUI (its engine syncs)."""
    where.mkdir()
    session = setup_device(where, PIN, store=FileSecretStore(where))
    enroll_device(session, live.base, ops.create_enrollment_code(live.engine, person)["code"],
                  "另一台平板")
    return _helpers().Dev(where, session)


def _open(live: Any, person: int, make_controller: Callable[..., AppController],
          data_dir: Path, tmp_path: Path) -> tuple[AppController, MainView]:
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    enroll_device(session, live.base, ops.create_enrollment_code(live.engine, person)["code"],
                  "测试平板")
    session.close()
    controller = make_controller()
    controller.gps_override = f"nmea-file:{tmp_path / 'no-fix.nmea'}"
    controller.on_session(unlock_device(data_dir, PIN))
    view = controller.main_view
    assert isinstance(view, MainView)
    return controller, view


def _sync(qtbot: QtBot, controller: AppController) -> None:
    sync = controller.sync
    assert sync is not None
    qtbot.waitUntil(lambda: not sync.busy(), timeout=15_000)
    with qtbot.waitSignal(sync.finished, timeout=20_000):
        assert sync.sync_now()
    qtbot.waitUntil(lambda: not sync.busy(), timeout=15_000)


def _session(controller: AppController) -> Session:
    assert controller.session is not None
    return controller.session


def test_a_leader_reviews_a_visit_from_its_history(
    qapp: QApplication, qtbot: QtBot, central_live: Any,
    make_controller: Callable[..., AppController], data_dir: Path, tmp_path: Path,
) -> None:
    grid = _helpers().new_grid(central_live.engine, 1)
    worker = _headless(central_live, grid["workers"][0], tmp_path / "worker")
    hid = create_household(worker.session, "褚十三", "南湖路13号")
    visit_id = visits.record_visit(worker.session, hid, visit_type="home",
                                   situation="家中无人")
    assert worker.engine.run_once().ok
    controller, _view = _open(central_live, grid["leader"], make_controller, data_dir, tmp_path)
    _sync(qtbot, controller)
    history = VisitHistoryDialog(controller, hid, controller.window)
    history.open()
    assert visit_id in history.review_buttons and not history.correct_buttons
    click(qtbot, history.review_buttons[visit_id])
    dialog = history.review_dialog
    assert isinstance(dialog, ReviewDialog) and dialog.isVisible()
    click(qtbot, dialog.save_button)  # nothing chosen: said plainly
    assert dialog.isVisible() and "请选择审核结果" in dialog.error.text()
    click(qtbot, dialog.state_buttons["has_issues"])
    click(qtbot, dialog.save_button)  # a comment is needed
    assert dialog.isVisible() and dialog.error.text() == "选“有问题”时，请写明是什么问题。"
    dialog.comment.setPlainText("家中无人也要写明联系了谁")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    qtbot.waitUntil(lambda: visit_id in history.cards)
    lines = [w.text() for w in history.cards[visit_id].findChildren(type(dialog.error))
             if w.objectName().startswith("review_")]
    assert len(lines) == 1 and "有问题" in lines[0] and "家中无人也要写明联系了谁" in lines[0]
    _sync(qtbot, controller)
    assert worker.engine.run_once().ok
    [seen] = reviews.reviews_of(worker.session, "visit", visit_id)
    assert (seen.state, seen.comment, seen.reviewer_name) == (
        "has_issues", "家中无人也要写明联系了谁", "王网格长")
    history.accept()
    worker.session.close()


def test_the_worker_sees_the_comment_and_files_a_correction(
    qapp: QApplication, qtbot: QtBot, central_live: Any,
    make_controller: Callable[..., AppController], data_dir: Path, tmp_path: Path,
) -> None:
    grid = _helpers().new_grid(central_live.engine, 1)
    controller, view = _open(central_live, grid["workers"][0], make_controller, data_dir,
                             tmp_path)
    session = _session(controller)
    hid = create_household(session, "卫十四", "南湖路14号")
    visit_id = visits.record_visit(session, hid, visit_type="home", situation="一切正常")
    _sync(qtbot, controller)
    leader = _headless(central_live, grid["leader"], tmp_path / "leader")
    assert leader.engine.run_once().ok
    reviews.review(leader.session, "visit", visit_id, "rejected", "没有见到户主，不算入户走访")
    assert leader.engine.run_once().ok

    view.show_page("today")
    today = view.pages["today"]
    assert isinstance(today, TodayPage)
    assert not today.review_box.isVisibleTo(today)
    _sync(qtbot, controller)
    today.refresh()
    assert today.review_box.isVisibleTo(today)
    assert "1条走访记录" in today.review_text.text()
    click(qtbot, today.review_button)
    notes = today.review_dialog
    assert isinstance(notes, ReviewNotesDialog) and notes.isVisible()
    card_text = " ".join(w.text() for w in notes.list_body.findChildren(type(today.date)))
    assert "没有见到户主，不算入户走访" in card_text and "卫十四" in card_text
    click(qtbot, notes.correct_buttons[visit_id])
    form = notes.dialog
    assert isinstance(form, VisitDialog) and form.corrects == visit_id
    assert form.situation.toPlainText() == "一切正常"
    form.people.setText("户主卫十四")
    form.situation.setPlainText("见到户主，身体好")
    click(qtbot, form.save_button)
    qtbot.waitUntil(lambda: not form.isVisible())
    qtbot.waitUntil(lambda: not notes.correct_buttons)
    assert notes.empty.isVisibleTo(notes)
    notes.accept()
    qtbot.waitUntil(lambda: not today.review_box.isVisibleTo(today))

    # the history shows the verdict on the old record, and the correction
    history = VisitHistoryDialog(controller, hid, controller.window)
    history.open()
    old = history.cards[visit_id]
    texts = [w.text() for w in old.findChildren(type(today.date))]
    assert any("不合格" in t and "没有见到户主" in t for t in texts)
    assert any("已被更正" in t for t in texts)
    history.accept()
    _sync(qtbot, controller)
    assert leader.engine.run_once().ok
    corrected = {v.id: v for v in visits.visits_for_household(leader.session, hid)}
    assert corrected[visit_id].superseded_by is not None
    assert corrected[corrected[visit_id].superseded_by].people_met == "户主卫十四"
    leader.session.close()


def test_the_leaders_events_page_lists_the_grids_events(
    qapp: QApplication, qtbot: QtBot, central_live: Any,
    make_controller: Callable[..., AppController], data_dir: Path, tmp_path: Path,
) -> None:
    grid = _helpers().new_grid(central_live.engine, 1)
    worker = _headless(central_live, grid["workers"][0], tmp_path / "worker")
    event_id = events.report_event(worker.session, category="市容环卫",
                                   description="垃圾桶满了没人清", grid_id=str(grid["id"]))
    assert worker.engine.run_once().ok
    controller, view = _open(central_live, grid["leader"], make_controller, data_dir, tmp_path)
    _sync(qtbot, controller)
    view.show_page("events")
    page = view.pages["events"]
    assert isinstance(page, EventsPage)
    assert page.scope_row.isVisibleTo(page) and page.scope == "mine"
    assert page.cards == []  # the leader reported nothing
    click(qtbot, page.scope_buttons["grid"])
    [card] = page.cards
    assert card.summary.id == event_id and card.chip.text() == "已上报"
    assert card.hint.text() == "上报人：网格员0"
    assert "还没办结：1个" in page.summary_line.text()
    click(qtbot, card.open_button)
    assert page.stack.currentIndex() == 1
    assert page.detail_text.text() == "垃圾桶满了没人清"
    assert "上报人：网格员0" in page.detail_facts.text()
    assert not page.supplement_button.isVisibleTo(page)
    assert not page.verify_button.isVisibleTo(page)
    click(qtbot, page.back_button)
    assert [c.summary.id for c in page.cards] == [event_id]  # still the grid's list
    # a worker's page has no such list
    assert events.grid_events(worker.session) == []  # the worker's own event is "mine"
    worker.session.close()
