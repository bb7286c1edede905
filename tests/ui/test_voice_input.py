"""语音 on the long text fields: shown only where the platform has voice input, and a
tap puts the cursor in the field and starts that input (here IT's configured
command, run for real); hidden otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from uihelpers import click

from fieldclient.fieldwork.households import create_household
from ui.controller import AppController
from ui.platform import voice


def test_which_platforms_offer_voice_input() -> None:
    none = lambda _name: None  # noqa: E731
    assert voice.dictation_kind("linux", {}, none) is None
    assert voice.dictation_kind("darwin", {}, none) is None
    assert voice.dictation_kind(
        "linux", {}, lambda name: "/usr/bin/nerd-dictation" if name == "nerd-dictation"
        else None) == "nerd-dictation"
    assert voice.dictation_kind("win32", {}, none, lambda: 22631) == "windows"
    assert voice.dictation_kind("win32", {}, none, lambda: 15063) is None  # before 1709
    assert voice.dictation_kind("linux", {voice.ENV_COMMAND: "ibus-dictate"}, none) == "command"
    assert voice.dictation_kind("linux", {voice.ENV_COMMAND: "  "}, none) is None
    # Win+H: Win down, H down, H up, Win up.
    assert voice.win_h_keys() == [(0x5B, 0), (0x48, 0), (0x48, 2), (0x5B, 2)]
    assert not voice.start_dictation(None)
    assert not voice.start_dictation("command", {voice.ENV_COMMAND: "/no/such/dictation"})


def test_hidden_without_voice_input(
    unlocked: AppController, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui.dialogs.visit import VisitDialog

    monkeypatch.delenv(voice.ENV_COMMAND, raising=False)
    monkeypatch.setattr(voice.shutil, "which", lambda _name: None)
    assert unlocked.session is not None
    hid = create_household(unlocked.session, "王秀英", "培训村2组8号")
    dialog = VisitDialog(unlocked, hid, unlocked.window)
    dialog.open()
    from PySide6.QtWidgets import QPushButton

    btn = dialog.situation.findChild(QPushButton, "visitSituationVoice")
    assert btn is not None and not btn.isVisibleTo(dialog)
    dialog.discarding = True
    dialog.reject()


def test_shown_and_started_where_the_platform_has_it(
    unlocked: AppController, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from PySide6.QtWidgets import QPushButton

    from ui.dialogs.event import ReportEventDialog
    from ui.dialogs.visit import VisitDialog

    marker = tmp_path / "started"
    command = f"{sys.executable} -c \"open({str(marker)!r}, 'w').write('on')\""
    monkeypatch.setenv(voice.ENV_COMMAND, command)
    assert unlocked.session is not None
    hid = create_household(unlocked.session, "李四", "一组1号")
    dialog = VisitDialog(unlocked, hid, unlocked.window)
    dialog.open()
    qtbot.wait(20)
    for name in ("visitSituationVoice", "visitNeedsVoice"):
        btn = dialog.findChild(QPushButton, name)
        assert btn is not None and btn.isVisibleTo(dialog), name
        assert btn.text() == "语音" and btn.height() >= 48 and btn.width() >= 48
        field = btn.parentWidget()
        assert btn.geometry().right() <= field.width()  # inside the field
    btn = dialog.findChild(QPushButton, "visitSituationVoice")
    assert btn is not None
    click(qtbot, btn)
    qtbot.waitUntil(lambda: marker.exists(), timeout=10_000)
    assert marker.read_text() == "on"
    assert dialog.situation.hasFocus() or unlocked.window.focusWidget() is dialog.situation
    dialog.discarding = True
    dialog.reject()
    report = ReportEventDialog(unlocked, unlocked.window)
    report.open()
    found = report.findChild(QPushButton, "eventDescriptionVoice")
    assert found is not None and found.isVisibleTo(report)
    report.reject()
