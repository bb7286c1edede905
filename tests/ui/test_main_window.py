"""Main window: navigation, locking (button, Settings, idle), pages fit the screen."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from uihelpers import click

from ui.controller import AppController
from ui.mainwindow import MainView
from ui.pages import PAGE_CLASSES
from ui.screens.unlock import UnlockScreen

SCREEN_W, SCREEN_H = 1280, 800


def main_view(controller: AppController) -> MainView:
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    return view


def test_navigation_shows_every_page(unlocked: AppController, qtbot: QtBot) -> None:
    view = main_view(unlocked)
    assert [c.key for c in PAGE_CLASSES] == [
        "today", "patrol", "households", "events", "review", "tasks", "sync", "settings"]
    assert not view.nav_buttons["review"].isVisibleTo(view)  # leaders and supervisors only
    for key, btn in view.nav_buttons.items():
        if key == "review":
            continue
        click(qtbot, btn)
        assert view.current_page().key == key
        assert view.title.text() == view.current_page().title() != ""
        assert btn.isChecked()
        assert btn.height() >= 64
    assert view.sync_status.text() == "未登记到中心"


def test_lock_button_drops_the_session(unlocked: AppController, qtbot: QtBot) -> None:
    session = unlocked.session
    assert session is not None and session.is_open
    click(qtbot, main_view(unlocked).lock_button)
    assert not session.is_open
    assert unlocked.session is None
    assert isinstance(unlocked.window.screen_widget(), UnlockScreen)


def test_lock_now_in_settings(unlocked: AppController, qtbot: QtBot) -> None:
    session = unlocked.session
    assert session is not None
    view = main_view(unlocked)
    view.show_page("settings")
    click(qtbot, view.pages["settings"].lock_button)  # type: ignore[attr-defined]
    assert not session.is_open
    assert isinstance(unlocked.window.screen_widget(), UnlockScreen)


def test_auto_lock_after_idle(unlocked: AppController, qtbot: QtBot) -> None:
    session = unlocked.session
    assert session is not None
    unlocked.set_idle_timeout_ms(300)
    # Input keeps it unlocked...
    for step in range(4):
        qtbot.wait(150)
        qtbot.mouseMove(main_view(unlocked).nav, QPoint(10, 10 + step))
        click(qtbot, main_view(unlocked).nav_buttons["today"])
    assert session.is_open
    # ...idleness locks it.
    qtbot.waitUntil(lambda: not session.is_open, timeout=3000)
    assert isinstance(unlocked.window.screen_widget(), UnlockScreen)


def test_autolock_setting_sets_the_timer(unlocked: AppController) -> None:
    assert unlocked.idle_timer.interval() == 5 * 60_000
    unlocked.set_autolock(2)
    assert unlocked.idle_timer.interval() == 2 * 60_000
    assert unlocked.idle_timer.isActive()


def _fits(widget: QWidget) -> bool:
    hint = widget.minimumSizeHint()
    return hint.width() <= SCREEN_W and hint.height() <= SCREEN_H


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_everything_fits_1280x800_at_175_percent(
    make_controller: Callable[..., AppController], device: object, qtbot: QtBot, language: str
) -> None:
    from uihelpers import PIN

    from fieldclient.storage.session import unlock_device

    controller = make_controller(language=language, scale=1.75)
    unlock = controller.window.screen_widget()
    assert _fits(controller.window), controller.window.minimumSizeHint()
    assert _fits(unlock), unlock.minimumSizeHint()
    controller.on_session(unlock_device(controller.data_dir, PIN))
    view = main_view(controller)
    assert _fits(controller.window), controller.window.minimumSizeHint()
    for key, page in view.pages.items():
        view.show_page(key)
        qtbot.wait(10)
        assert _fits(view), (key, view.minimumSizeHint())
        assert page.title().strip()
        # Nothing in the header or the navigation is squeezed below its own hint.
        for btn in view.nav_buttons.values():
            assert btn.height() >= btn.minimumSizeHint().height()
            assert btn.width() >= btn.sizeHint().width() * 0.98, (btn.text(), btn.width())
        assert view.title.width() >= view.title.sizeHint().width(), key
    controller.open_change_pin()
    dialog = controller.change_pin_dialog
    assert dialog is not None and _fits(dialog), dialog.minimumSizeHint()


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_page_titles_are_translated(
    make_controller: Callable[..., AppController], device: object, language: str
) -> None:
    from uihelpers import PIN

    from fieldclient.storage.session import unlock_device

    controller = make_controller(language=language)
    controller.on_session(unlock_device(controller.data_dir, PIN))
    titles = [page.title() for page in main_view(controller).pages.values()]
    assert all(t.strip() for t in titles)
    has_cjk = [any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in titles]
    assert all(has_cjk) if language == "zh_CN" else not any(has_cjk)
