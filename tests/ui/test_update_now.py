"""Settings' 立即更新 (update now) with real widgets: a verified update staged (or the
return from a revoked release at hand), the button closes the session and ends the app
with exit code 75 for the launcher, the app's word (``ready.json``) written first; during
a patrol it says why it waits and nothing closes.

The controller runs started by the launcher (``GRIDFIELD_INSTALL_ROOT`` set). The tap
happens inside a real event loop; ``QApplication.exit(code)`` ends every running loop
with that code, so the loop's return value is the code the app would exit with (a nested
``QEventLoop``: the application's own ``exec`` would also emit ``aboutToQuit``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from fieldclient import __version__
from fieldclient.fieldwork import patrols
from fieldclient.update import install
from ui.controller import AppController
from ui.dialogs.message import MessageDialog
from ui.mainwindow import MainView
from ui.pages.update_settings import UpdateSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "update"))
from bundles import make_bundle, stage


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The install root the launcher started this app from: the running version (and,
    for the return, an older one beside it)."""
    folder = tmp_path / "install"
    install.first_install(folder, make_bundle(tmp_path / "b", "0.0.9"))
    install.first_install(folder, make_bundle(tmp_path / "b", __version__))
    monkeypatch.setenv(install.INSTALL_ROOT_ENV, str(folder))
    return folder


def staged_update(data_dir: Path, tmp_path: Path, version: str) -> None:
    """A verified update as the TUF client leaves it: the version's folder with its
    staged.json, and staged/staged.json beside (what the Settings page reads)."""
    folder = stage(data_dir, make_bundle(tmp_path / "b", version), version)
    meta = json.loads((folder / "staged.json").read_text())
    (folder.parent / "staged.json").write_text(json.dumps({**meta, "action": "update"}))


def section_of(controller: AppController) -> UpdateSettings:
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("settings")
    section = view.pages["settings"].updates  # type: ignore[attr-defined]
    assert isinstance(section, UpdateSettings)
    section.refresh()
    return section


def tap_and_run(section: UpdateSettings, seconds: float = 20) -> int:
    """Tap the button from inside an event loop; the code the app was told to exit with,
    or -1 when nothing ended the loop within ``seconds``."""
    loop = QEventLoop()
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(lambda: loop.exit(-1))
    guard.start(int(seconds * 1000))
    QTimer.singleShot(0, section.update_button.click)
    try:
        code = loop.exec()
    finally:
        guard.stop()
    if code != -1:
        # QApplication.exit also makes every later event loop return at once (until the
        # application's own exec runs again): run it once, so later tests get theirs
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        QTimer.singleShot(0, lambda: app.exit(0))  # exit, not quit: nothing left posted
        app.exec()
    return code


def message_dialogs() -> list[MessageDialog]:
    return [w for w in QApplication.allWidgets()
            if isinstance(w, MessageDialog) and w.isVisible()]


def test_update_now_hands_over_to_the_launcher_with_exit_75(
        unlocked: AppController, qapp: QApplication, root: Path, tmp_path: Path) -> None:
    staged_update(unlocked.data_dir, tmp_path, "9.0.1")
    section = section_of(unlocked)
    assert "9.0.1" in section.summary.text()
    assert section.update_button.isEnabled() and section.update_button.text() == "立即更新"
    assert install.ready_version(unlocked.data_dir) is None

    assert tap_and_run(section) == install.RESTART_FOR_UPDATE
    assert install.ready_version(unlocked.data_dir) == "9.0.1"  # note_ready agreed
    assert unlocked.session is None  # closed before the exit: nothing left half-written


def test_update_now_during_a_patrol_says_why_and_stays(
        unlocked: AppController, qtbot: QtBot, qapp: QApplication, root: Path,
        tmp_path: Path) -> None:
    staged_update(unlocked.data_dir, tmp_path, "9.0.1")
    section = section_of(unlocked)
    assert section.update_button.isEnabled()
    session = unlocked.session
    assert session is not None
    patrol = patrols.start_patrol(session, "101", worker_id="w-7")
    # tapped before the page knew of the patrol: the controller decides again
    assert tap_and_run(section, seconds=3) == -1  # the app was not told to end
    [dialog] = message_dialogs()
    assert "巡查正在进行中" in dialog.message.text()
    dialog.accept()
    assert unlocked.session is session and session.is_open
    assert install.ready_version(unlocked.data_dir) is None

    section.refresh()  # the page says it too, and the button waits
    assert not section.update_button.isEnabled()
    assert section.reason.isVisibleTo(section) and "巡查" in section.reason.text()
    patrols.finish_patrol(session, patrol.id, allow_incomplete=True)
    section.refresh()  # the patrol's records now wait to be synced first
    assert not section.update_button.isEnabled() and "同步" in section.reason.text()


def test_update_now_goes_back_from_a_revoked_release(
        unlocked: AppController, qapp: QApplication, root: Path) -> None:
    """The last check (the TUF client's state.json) found the running version revoked
    and 0.0.9 is still installed beside it: the same button goes back."""
    (unlocked.data_dir / "updates").mkdir(exist_ok=True)
    (unlocked.data_dir / "updates" / "state.json").write_text(json.dumps({
        "action": "return", "installed": __version__, "state": "installed",
        "current_revoked": True, "target": {"version": "0.0.9", "length": 1000},
        "error": None, "message": None, "downloaded": 0}))
    section = section_of(unlocked)
    assert "当前版本已被撤回，将回退到 0.0.9。" in section.summary.text()
    assert section.update_button.isEnabled()

    assert tap_and_run(section) == install.RESTART_FOR_UPDATE
    ready = install.ready_return(unlocked.data_dir)
    assert ready is not None and (ready["version"], ready["from"]) == ("0.0.9", __version__)
    # the launcher then switches (tests/sync/test_update_revoke.py runs it)
    assert install.apply_return(unlocked.data_dir, root, ready) == "0.0.9"
    assert install.read_state(root).failed == [__version__]
