"""First-run set-up and unlock, driven through the PIN pad like a gloved finger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from uihelpers import OTHER_PIN, PIN, click, settle, type_pin

from fieldclient.security.vault import Vault
from ui.controller import AppController
from ui.mainwindow import MainView
from ui.screens.setup import SetupScreen, is_weak_pin
from ui.screens.unlock import UnlockScreen


def test_first_run_setup_through_the_pad(
    make_controller: Callable[..., AppController], qtbot: QtBot, data_dir: Path
) -> None:
    controller = make_controller()
    screen = controller.window.screen_widget()
    assert isinstance(screen, SetupScreen)
    pad = screen.pad
    assert not pad.ok_button.isEnabled()
    type_pin(qtbot, pad, PIN[:5], submit=False)
    assert not pad.ok_button.isEnabled(), "fewer than 6 digits cannot be submitted"
    click(qtbot, pad.back_button)
    assert pad.pin() == PIN[:4]
    click(qtbot, pad.clear_button)
    assert pad.pin() == ""
    type_pin(qtbot, pad, PIN)
    assert screen.step == "confirm"
    type_pin(qtbot, pad, PIN)
    qtbot.waitUntil(lambda: isinstance(controller.window.screen_widget(), MainView), timeout=10_000)
    assert controller.session is not None and controller.session.is_open
    assert Vault(data_dir).status() == "active"
    assert Vault(data_dir).info()["secret_store"] == "file"


def test_setup_mismatch_and_weak_pin(
    make_controller: Callable[..., AppController], qtbot: QtBot
) -> None:
    controller = make_controller()
    screen = controller.window.screen_widget()
    assert isinstance(screen, SetupScreen)
    type_pin(qtbot, screen.pad, "111111")
    assert screen.step == "first"
    assert screen.panel.message.isVisible()
    assert "容易被猜到" in screen.panel.message.text()
    type_pin(qtbot, screen.pad, PIN)
    type_pin(qtbot, screen.pad, OTHER_PIN)
    assert screen.step == "first"
    assert "不一致" in screen.panel.message.text()
    assert controller.session is None


def test_weak_pins() -> None:
    assert is_weak_pin("000000") and is_weak_pin("123456") and is_weak_pin("987654")
    assert is_weak_pin("890123")
    assert not is_weak_pin(PIN) and not is_weak_pin("112233")


def test_keyboard_digits_work_on_the_pad(
    make_controller: Callable[..., AppController], qtbot: QtBot
) -> None:
    controller = make_controller()
    screen = controller.window.screen_widget()
    assert isinstance(screen, SetupScreen)
    qtbot.keyClicks(screen.pad, "2580")
    qtbot.keyClick(screen.pad, Qt.Key.Key_Backspace)
    assert screen.pad.pin() == "258"


def test_erased_device_says_so_on_setup(
    make_controller: Callable[..., AppController], device: Path
) -> None:
    Vault(device).erase("remote_wipe")
    controller = make_controller()
    screen = controller.window.screen_widget()
    assert isinstance(screen, SetupScreen)
    assert screen.panel.notice.isVisible()
    assert "已被销毁" in screen.panel.notice.text()


def test_unlock_wrong_then_right_pin(
    make_controller: Callable[..., AppController], qtbot: QtBot, device: Path
) -> None:
    controller = make_controller()
    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    type_pin(qtbot, screen.pad, OTHER_PIN)
    settle(qtbot)
    qtbot.waitUntil(lambda: not screen.busy)
    assert "还可以尝试9次" in screen.panel.message.text()
    assert controller.session is None
    type_pin(qtbot, screen.pad, PIN)
    qtbot.waitUntil(lambda: isinstance(controller.window.screen_widget(), MainView), timeout=10_000)
    assert controller.session is not None and controller.session.is_open


def test_unlock_lockout_counts_down_and_disables_the_pad(
    make_controller: Callable[..., AppController], qtbot: QtBot, device: Path
) -> None:
    controller = make_controller()
    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    for _ in range(3):  # the third wrong PIN starts a 15 s wait
        qtbot.waitUntil(lambda: screen.pad.isEnabled() and not screen.busy, timeout=10_000)
        type_pin(qtbot, screen.pad, OTHER_PIN)
        settle(qtbot)
    qtbot.waitUntil(lambda: not screen.busy)
    assert not screen.pad.isEnabled()
    assert screen.countdown.isActive()
    text = screen.panel.message.text()
    assert "还可以尝试7次" in text and "秒后再输入" in text
    before = screen.remaining()
    qtbot.wait(1100)
    assert screen.remaining() < before
    # A new unlock screen (e.g. after a restart) resumes the lock-out.
    controller.show_unlock()
    again = controller.window.screen_widget()
    assert isinstance(again, UnlockScreen) and not again.pad.isEnabled()


def test_unlock_on_erased_device_goes_to_setup(
    make_controller: Callable[..., AppController], qtbot: QtBot, device: Path
) -> None:
    controller = make_controller()
    assert isinstance(controller.window.screen_widget(), UnlockScreen)
    Vault(device).erase("remote_wipe")  # erased behind the screen's back
    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    type_pin(qtbot, screen.pad, PIN)
    qtbot.waitUntil(lambda: isinstance(controller.window.screen_widget(), SetupScreen),
                    timeout=10_000)
    setup = controller.window.screen_widget()
    assert isinstance(setup, SetupScreen) and setup.erased


def test_forgotten_pin_reset_with_its_recovery_code(
    make_controller: Callable[..., AppController], qtbot: QtBot, device: Path
) -> None:
    """Locked out, the worker taps 忘记PIN码？, types the code IT read out and a new PIN
    twice, and is in, with the data as it was."""
    from fieldclient.security.recovery import format_code
    from fieldclient.storage.session import unlock_device
    from ui.screens.recover_pin import RecoverPinDialog

    with unlock_device(device, PIN) as session:
        nonce = Vault(device).recovery_to_escrow()
        assert nonce is not None
        code = session.recovery_code(nonce)
    Vault(device).mark_escrowed(nonce)  # as the centre's answer does
    controller = make_controller()
    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    assert screen.forgot_button.isVisible() and screen.forgot_button.height() >= 64
    click(qtbot, screen.forgot_button)
    dialog = screen.recovery_dialog
    assert isinstance(dialog, RecoverPinDialog) and dialog.step == "code"
    assert not dialog.pad.isEnabled()
    qtbot.keyClicks(dialog.code_edit, "ABCD")  # too short: said so, nothing tried
    click(qtbot, dialog.next_button)
    assert dialog.step == "code" and "26" in dialog.panel.message.text()
    dialog.code_edit.clear()
    qtbot.keyClicks(dialog.code_edit, format_code(bytes(16)))  # well formed, wrong
    click(qtbot, dialog.next_button)
    type_pin(qtbot, dialog.pad, OTHER_PIN)
    type_pin(qtbot, dialog.pad, OTHER_PIN)
    qtbot.waitUntil(lambda: dialog.step == "code", timeout=10_000)
    assert "恢复码不正确" in dialog.panel.message.text()
    dialog.code_edit.clear()
    qtbot.keyClicks(dialog.code_edit, code.lower())
    click(qtbot, dialog.next_button)
    assert dialog.step == "new" and dialog.pad.isEnabled()
    type_pin(qtbot, dialog.pad, OTHER_PIN)
    type_pin(qtbot, dialog.pad, OTHER_PIN)
    qtbot.waitUntil(lambda: isinstance(controller.window.screen_widget(), MainView),
                    timeout=10_000)
    assert controller.session is not None and controller.session.is_open
    actions = [e["action"] for e in controller.session.audit.entries()]
    assert "pin_reset" in actions
