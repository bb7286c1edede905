"""Helpers shared by the UI tests (a unique module name: tests/ has no packages)."""

from __future__ import annotations

from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from ui.widgets.pinpad import PinPad

PIN = "258036"
OTHER_PIN = "147029"


def click(qtbot: QtBot, widget: QWidget) -> None:
    from PySide6.QtCore import Qt

    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def type_pin(qtbot: QtBot, pad: PinPad, pin: str, submit: bool = True) -> None:
    """Press the pad's buttons like a finger would."""
    for digit in pin:
        click(qtbot, pad.digit_buttons[digit])
    if submit:
        click(qtbot, pad.ok_button)


def settle(qtbot: QtBot) -> None:
    """Let background tasks finish and their results arrive on the UI thread."""
    QThreadPool.globalInstance().waitForDone(10_000)
    qtbot.wait(20)
