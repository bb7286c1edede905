"""Exception hook, error texts, translations complete, lean and honest start-up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from fieldclient import errors
from fieldclient.errors import WrongPin
from fieldclient.security import vault
from ui import excepthook, i18n
from ui.dialogs.message import MessageDialog
from ui.errors import error_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_is_logged_and_shown(
    qapp: QApplication, qtbot: QtBot, data_dir: Path
) -> None:
    old_hook = sys.excepthook
    try:
        log_file = excepthook.install(data_dir)
        secret = "张三 330102199001011234"

        def boom() -> None:
            raise ValueError(secret)

        QTimer.singleShot(0, boom)

        def crash_dialog() -> MessageDialog | None:
            for widget in QApplication.topLevelWidgets():
                if isinstance(widget, MessageDialog) and widget.objectName() == "crashDialog":
                    return widget if widget.isVisible() else None
            return None

        qtbot.waitUntil(lambda: crash_dialog() is not None)
        dialog = crash_dialog()
        assert dialog is not None
        assert "已记录" in dialog.message.text()
        assert dialog.details_button.isVisible()
        assert "ValueError" in dialog.details.toPlainText()
        for handler in __import__("logging").getLogger("gridfield").handlers:
            handler.flush()
        logged = log_file.read_text("utf-8")
        assert "ValueError" in logged and "boom" in logged
        assert secret not in logged, "exception messages may be personal: never logged"
        # The app is alive: the event loop still runs timers.
        fired: list[bool] = []
        QTimer.singleShot(0, lambda: fired.append(True))
        qtbot.waitUntil(lambda: bool(fired))
        dialog.accept()
    finally:
        sys.excepthook = old_hook


def test_error_text_translates_core_errors(qapp: QApplication) -> None:
    exc = errors.WrongPin(attempts_left=4)
    assert error_text(exc) == "PIN码错误。还可以尝试4次，之后本设备的数据将被销毁。"
    i18n.set_language("en")
    try:
        text = error_text(exc)
        assert "4" in text and not any("\u4e00" <= ch <= "\u9fff" for ch in text)
    finally:
        i18n.set_language("zh_CN")
    assert error_text(RuntimeError("x")) == "发生了未知错误。"


def test_english_translation_is_complete(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    ts = tmp_path / "gridfield_en.ts"
    shutil.copy(ROOT / "resources" / "translations" / "gridfield_en.ts", ts)
    script.lupdate(ts, "en")
    missing = script.unfinished(ts)
    assert missing == [], json.dumps(missing, ensure_ascii=False, indent=1)


def test_light_vault_reader_agrees_with_the_vault(tmp_path: Path) -> None:
    """The first screen reads vault.json without crypto; it must say what the vault says."""
    from fieldclient.security.keystore import FileSecretStore
    from fieldclient.security.vaultstate import lockout_seconds, vault_status

    clock = [1_000_000.0]
    the_vault = vault.Vault(tmp_path, clock=lambda: clock[0])
    assert vault_status(tmp_path) == the_vault.status() == "new"
    the_vault.create("258036", store=FileSecretStore(tmp_path))
    assert vault_status(tmp_path) == the_vault.status() == "active"
    for wrong in ("111111", "222222", "333333"):
        with pytest.raises(WrongPin):
            the_vault.unlock(wrong)
    waits = the_vault.info()["wait_seconds"], lockout_seconds(tmp_path, now=clock[0])
    assert waits[0] == waits[1] > 0
    clock[0] -= 10 * 86400  # clock set back ten days: the lock-out must not grow
    assert lockout_seconds(tmp_path, now=clock[0]) == the_vault.info()["wait_seconds"] <= 15
    the_vault.erase("test")
    assert vault_status(tmp_path) == the_vault.status() == "erased"
    (tmp_path / "vault.json").write_text("{broken", "utf-8")
    assert vault_status(tmp_path) == "active"  # unlock then reports VaultCorrupted


def _run_main(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GRIDFIELD_SECRET_STORE": "file"}
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--data-dir", str(data_dir),
         "--exit-after-startup", *extra],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )


@pytest.mark.parametrize("state", ["new", "active"])
def test_main_exit_after_startup(data_dir: Path, state: str) -> None:
    if state == "active":
        from fieldclient.security.keystore import FileSecretStore
        from fieldclient.storage.session import setup_device

        setup_device(data_dir, "258036", store=FileSecretStore(data_dir)).close()
    result = _run_main(data_dir, "--lang", "en")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("startup_ms="), result.stdout
    assert int(lines[0].split("=")[1]) > 0


@pytest.mark.parametrize("state", ["new", "active"])
def test_startup_stays_lean(data_dir: Path, state: str) -> None:
    """No crypto, database, update installer or Qt enum namespace is loaded before the
    first paint (the update outcome is told and the launcher told after it), on the
    set-up screen and the unlock screen (the start a worker sees every day)."""
    if state == "active":
        from fieldclient.security.keystore import FileSecretStore
        from fieldclient.storage.session import setup_device

        setup_device(data_dir, "258036", store=FileSecretStore(data_dir)).close()
    probe = f"""
import gc, sys, time
gc.disable()  # as main.py does before its first import
gc0 = sum(s["collections"] for s in gc.get_stats())
t0 = time.perf_counter()
import ui.app as app
from PySide6 import QtCore
seen = {{}}
orig = app._FirstPaint._report
def report(self):
    seen["modules"] = sorted(m for m in ("cryptography", "sqlcipher3", "sqlite_utils",
        "fieldclient.security.vault", "fieldclient.storage.session", "logging.handlers",
        "platformdirs", "fieldclient.update.install", "tarfile", "ui.dialogs.message")
        if m in sys.modules)
    seen["Qt"] = "Qt" in vars(QtCore)
    seen["gc"] = [gc.isenabled(), sum(s["collections"] for s in gc.get_stats()) - gc0]
    shell = next(w for w in self.app.topLevelWidgets() if w.objectName() == "shell")
    screen = shell.screen_widget()
    helps = (screen.forgot_button, screen.support_hint) if hasattr(screen, "show_help") else ()
    seen["help"] = [[w.isVisible() for w in helps]]
    orig(self)
    seen["gc"].append(gc.isenabled())
    seen["help"].append([w.isVisible() for w in helps])
app._FirstPaint._report = report
app.main(["main.py", "--data-dir", {str(data_dir)!r}, "--exit-after-startup"], t0)
print(seen)
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, timeout=60, check=True, cwd=ROOT)
    seen = eval(out.stdout.splitlines()[-1])
    # no garbage collection before the PIN pad is painted, collection on again after it;
    # the unlock screen's help (forgot PIN, whom to call) shown right after that paint
    helps = [[False, False], [True, True]] if state == "active" else [[], []]
    assert seen == {"modules": [], "Qt": False, "gc": [False, 0, True], "help": helps}, seen


def test_pyside_source_scan_skips_the_standard_library() -> None:
    """ui's shortcut for PySide's per-import source scan is installed and answers as the
    scan itself does: no for the standard library (not read), the scan's answer for the
    rest (ours that import PySide6: yes)."""
    import inspect
    import json

    import ui
    import ui.controller
    from fieldclient import paths

    feature = sys.modules["PySide6.support.feature"]
    assert ui.PYSIDE_SCAN_PATCHED and feature._mod_uses_pyside._gridfield
    original = feature._mod_uses_pyside.original
    for module in (inspect, json, json.decoder):
        assert original(module) is False and feature._mod_uses_pyside(module) is False
    assert feature._mod_uses_pyside(ui.controller) is True is original(ui.controller)
    assert feature._mod_uses_pyside(paths) is original(paths) is False
    # Read as bytes: the scan's own answer for every module of ours loaded here (those
    # that import Qt and those that only mention it, or not at all).
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("ui", "fieldclient", "sync"):
            assert feature._mod_uses_pyside(module) is bool(original(module)), name
