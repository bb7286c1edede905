"""The Today page: overdue households first with how late they are, then the ones due
this week; progress per quota rule; a tap opens the household."""

from __future__ import annotations

from pytestqt.qtbot import QtBot
from uihelpers import click

from fieldclient.fieldwork.households import create_household
from fieldclient.fieldwork.visits import record_visit
from ui.controller import AppController
from ui.mainwindow import MainView
from ui.pages.today import TodayPage

DAY = 86400.0


def test_overdue_first_and_progress(unlocked: AppController, qtbot: QtBot) -> None:
    session = unlocked.session
    assert session is not None
    real_clock = session.clock
    now = real_clock()
    session.clock = lambda: now - 75 * DAY  # registered two and a half months ago
    late = create_household(session, "逾期户", "一组1号", category="hardship")
    visited = create_household(session, "已访户", "一组2号", category="hardship")
    create_household(session, "普通户", "一组3号", category="ordinary")
    session.clock = real_clock
    record_visit(session, visited, visit_type="home", situation="都好")
    view = unlocked.window.screen_widget()
    assert isinstance(view, MainView)
    page = view.pages["today"]
    assert isinstance(page, TodayPage)
    view.show_page("today")
    page.refresh()
    qtbot.waitUntil(lambda: page.status is not None and not page.loading, timeout=10_000)
    assert page.due_rows, "the overdue household is listed"
    first = page.due_rows[0]
    assert first.item.household_id == late and first.item.overdue
    assert "逾期" in first.late.text() and first.late.isVisible()
    assert not first.due_by.isVisible()
    assert "逾期" in page.due_summary.text()
    assert visited not in [row.item.household_id for row in page.due_rows]
    assert page.progress_numbers["visit_hardship"].text() == "1 / 2"
    assert page.progress_bars["visit_hardship"].value() == 1
    assert page.progress_numbers["visit_ordinary"].text() == "0 / 1"
    # the real way into the household, then "查看全部": the due list on the Households page
    click(qtbot, first)
    households = view.pages["households"]
    assert view.current_page() is households
    assert households.detail.household_id == late  # type: ignore[attr-defined]
    view.show_page("today")
    households.search.setText("张")  # type: ignore[attr-defined]
    click(qtbot, page.show_all)
    assert view.current_page() is households
    assert households.due_button.isChecked()  # type: ignore[attr-defined]
    assert households.search.text() == ""  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: households.model.rowCount() >= 1, timeout=10_000)  # type: ignore[attr-defined]
    listed = {households.model.household_id(r)  # type: ignore[attr-defined]
              for r in range(households.model.rowCount())}  # type: ignore[attr-defined]
    assert late in listed and visited not in listed


def test_refresh_reuses_rows_and_updates_them(unlocked: AppController, qtbot: QtBot) -> None:
    """A refresh after a visit changes texts of the rows already built (no new
    widgets), hides the rows no longer needed, and moves the progress bar."""
    session = unlocked.session
    assert session is not None
    real_clock = session.clock
    now = real_clock()
    session.clock = lambda: now - 75 * DAY
    late = [create_household(session, f"逾期户{i}", f"二组{i}号", category="key")
            for i in range(3)]
    session.clock = real_clock
    view = unlocked.window.screen_widget()
    assert isinstance(view, MainView)
    page = view.pages["today"]
    assert isinstance(page, TodayPage)
    view.show_page("today")
    page.refresh()
    qtbot.waitUntil(lambda: page.status is not None and not page.loading, timeout=10_000)
    assert sorted(row.item.household_id for row in page.due_rows if row.item) == sorted(late)
    assert all(row.isVisible() for row in page.due_rows)
    pool, bar = list(page.due_pool), page.progress_bars["visit_key"]
    assert page.progress_numbers["visit_key"].text() == "0 / 3"
    record_visit(session, late[0], visit_type="phone", situation="都好")
    page.status = None
    page.refresh()
    qtbot.waitUntil(lambda: page.status is not None and not page.loading, timeout=10_000)
    assert page.due_pool == pool and page.progress_bars["visit_key"] is bar
    assert sorted(row.item.household_id for row in page.due_rows if row.item) == sorted(late[1:])
    assert len(page.due_rows) == 2
    assert not any(row.isVisible() for row in page.due_pool[2:])
    assert page.progress_numbers["visit_key"].text() == "1 / 3" and bar.value() == 1
    assert "逾期2户" in page.due_summary.text()
