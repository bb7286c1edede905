"""The baseline for bench/startup.py: a bare PySide6 script showing one empty QMainWindow.

It reports, like main.py --exit-after-startup, once the window has been painted.
"""

import sys
import time

T0 = time.perf_counter()

from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMainWindow  # noqa: E402


class FirstPaint(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            app.removeEventFilter(self)
            QTimer.singleShot(0, done)
        return False


def done() -> None:
    print(f"startup_ms={int((time.perf_counter() - T0) * 1000)}", flush=True)
    app.quit()


app = QApplication(sys.argv)
watcher = FirstPaint()
app.installEventFilter(watcher)
window = QMainWindow()
window.resize(1280, 800)
window.show()
sys.exit(app.exec())
