"""Render every screen to screenshots/*.png (offscreen) for review: zh_CN and en, 100 % and 175 %.

  .venv/bin/python scripts/screenshots.py [--out DIR]

Uses a throw-away data directory and the file secret store; nothing else is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["GRIDFIELD_SECRET_STORE"] = "file"

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QThreadPool  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from fieldclient.keystore import FileSecretStore  # noqa: E402
from fieldclient.session import setup_device, unlock_device  # noqa: E402
from fieldclient.vault import Vault  # noqa: E402
from ui import i18n, style  # noqa: E402
from ui.controller import AppController  # noqa: E402
from ui.mainwindow import MainView  # noqa: E402
from ui.unlock_screen import UnlockScreen  # noqa: E402

PIN = "258036"


def settle(app: QApplication) -> None:
    QThreadPool.globalInstance().waitForDone(10_000)
    for _ in range(5):
        app.processEvents()


def save(widget: QWidget, out: Path, name: str, app: QApplication) -> None:
    settle(app)
    path = out / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def render(app: QApplication, out: Path, language: str, scale: float, tmp: Path) -> None:
    tag = f"{language}_{int(scale * 100)}"
    i18n.set_language(language)
    style.apply_style(app, scale)

    def controller_for(data_dir: Path) -> AppController:
        controller = AppController(data_dir)
        controller.window.resize(1280, 800)
        controller.start()
        controller.window.show()
        return controller

    # First run.
    new_dir = tmp / f"{tag}-new"
    new_dir.mkdir()
    first = controller_for(new_dir)
    save(first.window, out, f"{tag}_01_setup", app)
    first.window.close()

    # Erased device.
    erased_dir = tmp / f"{tag}-erased"
    setup_device(erased_dir, PIN, store=FileSecretStore(erased_dir)).close()
    Vault(erased_dir).erase("too_many_wrong_pins")
    erased = controller_for(erased_dir)
    save(erased.window, out, f"{tag}_02_setup_erased", app)
    erased.window.close()

    # Unlock, then a wrong PIN.
    data_dir = tmp / f"{tag}-device"
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    session.close()
    controller = controller_for(data_dir)
    save(controller.window, out, f"{tag}_03_unlock", app)
    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    for digit in "111222":
        screen.pad.press(digit)
    screen.pad.submit()
    save(controller.window, out, f"{tag}_04_unlock_wrong_pin", app)

    controller.on_session(unlock_device(data_dir, PIN))
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    for index, key in enumerate(view.pages, start=5):
        view.show_page(key)
        save(controller.window, out, f"{tag}_{index:02d}_{key}", app)
    settings_page = view.pages["settings"]
    bar = settings_page.scroll.verticalScrollBar()  # type: ignore[attr-defined]
    bar.setValue(bar.maximum())
    save(controller.window, out, f"{tag}_11b_settings_bottom", app)
    controller.open_change_pin()
    dialog = controller.change_pin_dialog
    assert dialog is not None
    dialog.resize(1280, 800)
    save(dialog, out, f"{tag}_12_change_pin", app)
    dialog.reject()
    controller.lock("manual")
    controller.window.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory() as tmp:
        for language in ("zh_CN", "en"):
            for scale in (1.0, 1.75):
                render(app, args.out, language, scale, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
