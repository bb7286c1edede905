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

import pytest
from pytestqt.qtbot import QtBot
from uihelpers import click, settle

from fieldclient.fieldwork import households
from fieldclient.security import crypto, hardening
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage import store
from fieldclient.storage.session import setup_device
from ui.controller import AppController
from ui.mainwindow import MainView

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
    """The app starts itself again with an allocator that overwrites freed memory
    (fieldclient.security.hardening); pytest's own process was not, so the scan below
    runs in a pytest started with the same settings, and must pass there."""
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
    make_controller: Callable[..., AppController], data_dir: Path, qtbot: QtBot,
    cheap_device_keys: None,
) -> None:
    if not hardening.started_with_scrubbing_allocator():
        pytest.skip("needs the app's allocator settings: run by the test above")
    # The app switches the fill on before its first screen exists (AppController.start);
    # this test handles the PIN before it makes the controller, so it does so first.
    assert hardening.scrub_freed_memory()
    arena = memscan.Arena()
    digits = [secrets.randbelow(10) for _ in range(12)]
    pin = "".join("0123456789"[d] for d in digits)
    codes = bytearray(48 + d for d in digits)
    arena.add_secret("PIN", codes, text=True)
    crypto.wipe(codes)
    setup_device(data_dir, pin, store=FileSecretStore(data_dir)).close()
    crypto.wipe_str(pin)
    del pin

    controller = make_controller()
    pad = controller.window.screen_widget().pad  # type: ignore[attr-defined]
    for d in digits:
        click(qtbot, pad.digit_buttons["0123456789"[d]])
    click(qtbot, pad.ok_button)
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
