"""Unlock: PIN entered on the pad until the main window is ready and painted.

Runs the real GUI (offscreen unless a display is set) on a device set up with
the production Argon2id cost, locks and unlocks repeatedly, times each from the
OK press to the main view's first paint. Target: median <= 600 ms. One JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["GRIDFIELD_SECRET_STORE"] = "file"

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

RUNS = 9
PIN = "246810"


class PaintWatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.painted = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.painted = True
        return False


def wait_for(app: QApplication, condition: object, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():  # type: ignore[operator]
        app.processEvents()
        if time.perf_counter() > deadline:
            raise SystemExit("timed out waiting for the GUI")
        time.sleep(0.001)


def main() -> None:
    from fieldclient.storage.session import setup_device
    from ui import i18n, style
    from ui.app import create_app
    from ui.controller import AppController

    app = create_app([sys.argv[0]])
    timings = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "device"
        setup_device(data_dir, PIN).close()
        i18n.set_language("zh_CN")
        style.apply_style(app, 1.0)
        controller = AppController(data_dir)
        controller.start()
        controller.window.show()
        for _ in range(RUNS + 1):
            wait_for(app, lambda: controller.session is None and controller.window.isVisible())
            screen = controller.window.findChild(QObject, "screen")
            pad = screen.pad  # type: ignore[union-attr]
            for digit in PIN:
                pad.press(digit)
            app.processEvents()
            start = time.perf_counter()
            pad.submit()
            wait_for(app, lambda: None not in (controller.main_view, controller.session))
            watcher = PaintWatcher()
            assert controller.main_view is not None
            controller.main_view.installEventFilter(watcher)
            controller.main_view.update()
            wait_for(app, lambda w=watcher: w.painted)
            timings.append((time.perf_counter() - start) * 1000)
            controller.main_view.removeEventFilter(watcher)
            controller.lock("manual")
        controller.close_session()
        QTimer.singleShot(0, app.quit)
        app.exec()
    timings = timings[1:]  # the first run warms imports of the main window's modules
    median = statistics.median(timings)
    print(json.dumps({
        "benchmark": "unlock",
        "runs": RUNS,
        "median_ms": round(median, 1),
        "max_ms": round(max(timings), 1),
        "min_ms": round(min(timings), 1),
        "argon2id": {"memory_mib": 64, "iterations": 3, "lanes": 4},
        "target_ms": 600,
        "ok": median <= 600,
    }))


if __name__ == "__main__":
    main()
