"""After the GUI locks, nothing of the unlocked state is left in the process's memory
(issue 12, fault 1): the PIN typed on the pad, the keys, and an ID number shown in
clear before locking. The scan reads this process's own memory (tests/memscan.py)."""

from __future__ import annotations

import gc
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from uihelpers import click, settle

from fieldclient.fieldwork import households
from fieldclient.security import crypto, hardening
from fieldclient.storage import store
from ui.controller import AppController
from ui.mainwindow import MainView
from ui.screens.setup import SetupScreen, is_weak_pin
from ui.screens.unlock import UnlockScreen

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import memscan

pytestmark = pytest.mark.skipif(not memscan.supported(), reason="reads /proc/self/mem (Linux)")

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _random_id_number() -> str:
    """A well-formed 18-character resident ID number (GB 11643 check character)."""
    digits = [3, 3, 0, 2] + [secrets.randbelow(10) for _ in range(13)]
    check = "10X98765432"[sum(d * w for d, w in zip(digits, _WEIGHTS, strict=True)) % 11]
    return "".join("0123456789"[d] for d in digits) + check


def test_in_a_process_started_like_the_app(tmp_path: Path) -> None:
    """The app runs with an allocator that overwrites freed memory
    (fieldclient.security.hardening: settings given at start, the fill switched on by
    AppController.start); pytest's own process was not started with those settings, so
    the scan below runs in a pytest started with them, and must pass there."""
    if hardening.started_with_scrubbing_allocator():
        pytest.skip("this process is the one started like the app: the scan runs here")
    env = hardening.scrubbing_environment()
    env["QT_QPA_PLATFORM"] = "offscreen"
    test = f"{Path(__file__).resolve()}::test_nothing_of_the_unlocked_gui_is_left_after_lock"
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          test, "--basetemp", str(tmp_path / "inner")],
                         capture_output=True, text=True, env=env, timeout=600,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout[-3000:]


def test_nothing_of_the_unlocked_gui_is_left_after_lock(
    make_controller: Callable[..., AppController], qtbot: QtBot, cheap_device_keys: None,
) -> None:
    if not hardening.started_with_scrubbing_allocator():
        pytest.skip("needs the app's allocator settings: run by the test above")
    # As ui.app.main: what start-up made is frozen out of the collector's sight, then the
    # first screen is built. The fill of freed memory is off until then, and on from
    # AppController.start: the PIN only ever exists after it, typed on the pads.
    gc.freeze()
    try:
        assert not hardening.freed_memory_scrubbed()
        controller = make_controller()  # a new device: the set-up screen
        assert hardening.freed_memory_scrubbed()
        _lock_and_scan(controller, qtbot)
    finally:
        gc.unfreeze()


def _type(qtbot: QtBot, pad: Any, digits: list[int]) -> None:
    for d in digits:
        click(qtbot, pad.digit_buttons["0123456789"[d]])
    click(qtbot, pad.ok_button)


def _lock_and_scan(controller: AppController, qtbot: QtBot) -> None:
    arena = memscan.Arena()
    digits = [secrets.randbelow(10) for _ in range(12)]
    while is_weak_pin("".join("0123456789"[d] for d in digits)):  # (never, in practice)
        digits = [secrets.randbelow(10) for _ in range(12)]
    codes = bytearray(48 + d for d in digits)
    arena.add_secret("PIN", codes, text=True)
    crypto.wipe(codes)
    setup = controller.window.screen_widget()
    assert isinstance(setup, SetupScreen)
    _type(qtbot, setup.pad, digits)
    _type(qtbot, setup.pad, digits)  # confirmed
    qtbot.waitUntil(lambda: controller.session is not None, timeout=20_000)
    controller.lock("manual")  # and unlocked again on the unlock screen's pad
    settle(qtbot)
    unlock = controller.window.screen_widget()
    assert isinstance(unlock, UnlockScreen)
    _type(qtbot, unlock.pad, digits)
    del digits
    qtbot.waitUntil(lambda: controller.session is not None, timeout=20_000)
    session = controller.session
    assert session is not None and session._dek is not None
    arena.add_secret("DEK", session._dek)
    db_key = store.database_key(session._dek)
    arena.add_secret("SQLCipher key", db_key)
    crypto.wipe(db_key)
    arena.add_secret("blob master key", session.blobs._master)

    id_number = _random_id_number()
    id_codes = bytearray(map(ord, id_number))
    arena.add_secret("ID number", id_codes, text=True)
    crypto.wipe(id_codes)
    hid = households.create_household(session, "周九", "东路1号", id_number=id_number)
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("households")
    view.open_household(hid)
    page = view.pages["households"]
    click(qtbot, page.detail.reveal_buttons["id_number"])  # type: ignore[attr-defined]
    assert page.detail.fact_values["id_number"].text() == id_number  # type: ignore[attr-defined]
    crypto.wipe_str(id_number)
    del id_number, session, view, page

    controller.lock("manual")
    settle(qtbot)
    gc.collect()
    try:
        left = memscan.found(memscan.scan(arena))
    finally:
        arena.close()
    assert left == {}
