"""A short confirmation over the bottom of the window ("走访已保存"), gone by itself.

A worker must see that a save worked without another tap to dismiss it: a modal
message would cost a tap every visit, no message leaves them unsure.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

SHOWN_MS = 4000


def show_toast(anchor: QWidget, text: str, shown_ms: int = SHOWN_MS) -> QLabel:
    """Show ``text`` over the bottom of ``anchor``'s window for ``shown_ms``; a new
    toast replaces the one showing."""
    from PySide6.QtCore import Qt

    window = anchor.window()
    toast = window.findChild(QLabel, "toast")
    if toast is None:
        toast = QLabel(window)
        toast.setObjectName("toast")
        toast.setProperty("role", "toast")
        toast.setWordWrap(True)
        toast.setTextFormat(Qt.TextFormat.PlainText)  # names from the centre in it
        toast.setAlignment(Qt.AlignmentFlag.AlignCenter)
        toast.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        timer = QTimer(toast)
        timer.setObjectName("toastTimer")
        timer.setSingleShot(True)
        timer.timeout.connect(toast.hide)
    toast.setText(text)
    width = min(window.width() - 40, max(480, window.width() // 2))
    toast.setFixedWidth(width)
    toast.adjustSize()
    toast.move((window.width() - width) // 2, window.height() - toast.height() - 32)
    toast.show()
    toast.raise_()
    found = toast.findChild(QTimer, "toastTimer")
    if found is not None:
        found.start(shown_ms)
    return toast
