"""语音: a button inside a long text field that starts the platform's voice input
(:mod:`ui.platform.voice`); hidden where the platform offers none."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QAbstractScrollArea, QPushButton

from ui.platform import voice
from ui.widgets.basic import button

MARGIN = 6


class _Keeper(QObject):
    """Keeps the button in the field's top-right corner as the field resizes."""

    def __init__(self, field: QAbstractScrollArea, btn: QPushButton) -> None:
        super().__init__(field)
        self.field, self.btn = field, btn

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.field and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            place(self.field, self.btn)
        return False


def place(field: QAbstractScrollArea, btn: QPushButton) -> None:
    btn.adjustSize()
    size = max(48, btn.sizeHint().height())
    btn.resize(max(size, btn.sizeHint().width()), size)
    btn.move(field.width() - btn.width() - MARGIN, MARGIN)
    # The text wraps before the button instead of running under it.
    field.setViewportMargins(0, 0, btn.width() + MARGIN if btn.isVisibleTo(field) else 0, 0)


def add_voice_button(field: QAbstractScrollArea, kind: str | None = None) -> QPushButton:
    """The 语音 button on ``field``: shown only when the platform has dictation
    (``kind``: :func:`ui.platform.voice.dictation_kind` unless given)."""
    kind = voice.dictation_kind() if kind is None else kind
    btn = button("", f"{field.objectName()}Voice")
    btn.setParent(field)
    btn.setText(QCoreApplication.translate("voiceInput", "语音"))
    btn.setAccessibleName(QCoreApplication.translate("voiceInput", "语音输入"))
    btn.setProperty("dictation", kind or "")
    btn.setVisible(kind is not None)

    def start() -> None:
        field.setFocus()
        voice.start_dictation(kind)

    btn.clicked.connect(start)
    field.installEventFilter(_Keeper(field, btn))
    place(field, btn)
    return btn
