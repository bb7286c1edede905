"""Settings: live language and text size, persistence, device facts, change PIN."""

from __future__ import annotations

import json
from pathlib import Path

from pytestqt.qtbot import QtBot
from uihelpers import OTHER_PIN, PIN, click, settle, type_pin

from fieldclient.security.vault import Vault
from fieldclient.settings import load_settings
from ui import i18n, style
from ui.controller import AppController
from ui.mainwindow import MainView
from ui.pages.settings import SettingsPage


def settings_page(controller: AppController) -> tuple[MainView, SettingsPage]:
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("settings")
    page = view.pages["settings"]
    assert isinstance(page, SettingsPage)
    return view, page


def test_live_language_switch(unlocked: AppController, qtbot: QtBot) -> None:
    view, page = settings_page(unlocked)
    assert view.nav_buttons["today"].text() == "今天"
    click(qtbot, page.language_buttons["en"])
    qtbot.waitUntil(lambda: view.nav_buttons["today"].text() == "Today")
    assert view.title.text() == "Settings"
    assert view.sync_status.text() == "Not enrolled"
    assert page.lock_button.text() == "Lock now"
    assert page.language_buttons["en"].isChecked()
    assert load_settings(unlocked.settings_path).language == "en"
    click(qtbot, page.language_buttons["zh_CN"])
    qtbot.waitUntil(lambda: view.nav_buttons["today"].text() == "今天")
    assert view.title.text() == "设置"
    assert i18n.current_language() == "zh_CN"
    assert load_settings(unlocked.settings_path).language == "zh_CN"


def test_text_size_applies_live(unlocked: AppController, qtbot: QtBot) -> None:
    view, page = settings_page(unlocked)
    button = view.nav_buttons["today"]
    small_font = button.fontInfo().pixelSize()
    small_height = button.height()
    click(qtbot, page.scale_buttons[1.75])
    qtbot.waitUntil(lambda: button.fontInfo().pixelSize() > small_font)
    assert style.current_scale() == 1.75
    assert button.fontInfo().pixelSize() >= round(small_font * 1.6)
    qtbot.waitUntil(lambda: button.height() > small_height)
    assert load_settings(unlocked.settings_path).text_scale == 1.75
    for digit_button in page.scale_buttons.values():
        assert digit_button.height() >= 64


def test_autolock_choice_persists(unlocked: AppController, qtbot: QtBot) -> None:
    _, page = settings_page(unlocked)
    click(qtbot, page.autolock_buttons[10])
    assert unlocked.idle_timer.interval() == 10 * 60_000
    assert load_settings(unlocked.settings_path).autolock_minutes == 10


def test_device_information(unlocked: AppController) -> None:
    _, page = settings_page(unlocked)
    page.refresh()
    facts = {
        key: value.text().replace("\u200b", "") for key, (_, value) in page.fact_labels.items()
    }
    assert facts["data_dir"] == str(unlocked.data_dir)
    assert facts["device_id"] == unlocked.session.device_id  # type: ignore[union-attr]
    assert facts["schema"].isdigit()
    assert facts["failed"].startswith("0")
    assert "文件" in facts["keystore"]
    # The file fallback is said plainly.
    assert page.store_warning.isVisibleTo(page)
    assert "没有可用的系统密钥环" in page.store_warning.text()


def test_change_pin_via_dialog(unlocked: AppController, qtbot: QtBot) -> None:
    _, page = settings_page(unlocked)
    click(qtbot, page.change_pin_button)
    dialog = unlocked.change_pin_dialog
    assert dialog is not None and dialog.isVisible()
    # Wrong old PIN: attempts left shown, back to the first step.
    type_pin(qtbot, dialog.pad, OTHER_PIN)
    type_pin(qtbot, dialog.pad, "369147")
    type_pin(qtbot, dialog.pad, "369147")
    settle(qtbot)
    qtbot.waitUntil(lambda: dialog.step == "old")
    assert "还可以尝试9次" in dialog.panel.message.text()
    # Right old PIN.
    type_pin(qtbot, dialog.pad, PIN)
    type_pin(qtbot, dialog.pad, "369147")
    type_pin(qtbot, dialog.pad, "369147")
    settle(qtbot)
    qtbot.waitUntil(lambda: unlocked.change_pin_dialog is None)
    session = unlocked.session
    assert session is not None and session.is_open  # changing the PIN does not lock
    actions = [entry["action"] for entry in session.audit.entries()]
    assert actions[-2:] == ["pin_failed", "pin_changed"]  # recorded now, not at next unlock
    session.close()
    from fieldclient.storage.session import unlock_device

    unlock_device(unlocked.data_dir, "369147").close()
    assert Vault(unlocked.data_dir).info()["failed_attempts"] == 0


def test_lock_closes_the_change_pin_dialog(unlocked: AppController, qtbot: QtBot) -> None:
    _, page = settings_page(unlocked)
    click(qtbot, page.change_pin_button)
    dialog = unlocked.change_pin_dialog
    assert dialog is not None
    unlocked.lock("idle")
    assert unlocked.change_pin_dialog is None
    assert not dialog.isVisible()


def _stage(data_dir: Path, version: str, length: int) -> None:
    """A verified update as fieldclient.update.client stages it (staged.json last)."""
    staged = data_dir / "updates" / "staged"
    name = f"gridfield-{version}-linux-x86_64.tar.gz"
    (staged / version).mkdir(parents=True)
    (staged / version / name).write_bytes(b"\0" * length)
    (staged / "staged.json").write_text(json.dumps({
        "version": version, "archive": name, "sha256": "0" * 64, "length": length,
        "channel": "stable", "staged_at": 0, "action": "update"}))


def test_release_update_section(unlocked: AppController, qtbot: QtBot) -> None:
    from fieldclient import __version__
    from fieldclient.fieldwork.households import create_household

    _, page = settings_page(unlocked)
    section = page.updates
    assert __version__ in section.summary.text()
    assert "还没有检查过更新" in section.summary.text()
    assert not section.update_button.isEnabled()
    _stage(unlocked.data_dir, "9.0.1", 3 * 2**20)
    page.refresh()
    assert "9.0.1" in section.summary.text() and "3.0 MB" in section.summary.text()
    assert section.update_button.isEnabled()
    with qtbot.waitSignal(section.update_now_requested) as asked:
        click(qtbot, section.update_button)
    assert asked.args == ["9.0.1"]
    assert unlocked.session is not None
    create_household(unlocked.session, "赵六", "人民路1号")  # not synced yet
    page.refresh()
    assert not section.update_button.isEnabled()
    assert "1条记录" in section.reason.text()
    click(qtbot, page.language_buttons["en"])
    qtbot.waitUntil(lambda: section.update_button.text() == "Update now")
    assert "Version" in section.summary.text() or "version" in section.summary.text()
