"""The baseline for bench/startup.py: a bare PySide6 script showing one empty QMainWindow."""

import sys
import time

T0 = time.perf_counter()

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMainWindow  # noqa: E402

app = QApplication(sys.argv)
window = QMainWindow()
window.resize(1280, 800)
window.show()


def done() -> None:
    print(f"startup_ms={int((time.perf_counter() - T0) * 1000)}", flush=True)
    app.quit()


QTimer.singleShot(0, done)
sys.exit(app.exec())
