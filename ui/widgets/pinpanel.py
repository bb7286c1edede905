"""The landscape layout shared by set-up, unlock and change-PIN: words left, pad right."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QVBoxLayout, QWidget

from ui.widgets.basic import label, set_role
from ui.widgets.pinpad import PinPad

TextFn = Callable[[], str]


class PinPanel(QWidget):
    """Title, prompt, a notice banner, a message line, a busy bar, and the pad.

    Texts are given as functions so :meth:`refresh_texts` can re-run them after
    a language change (the owner calls it from its ``retranslate``).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = label("title")
        self.title.setObjectName("pinTitle")
        self.notice = label("warning")
        self.notice.setObjectName("pinNotice")
        self.prompt = label("prompt")
        self.prompt.setObjectName("pinPrompt")
        self.message = label("error")
        self.message.setObjectName("pinMessage")
        self.busy: QProgressBar | None = None  # made when first needed
        self.pad = PinPad()

        self.left = QVBoxLayout()
        self.left.setSpacing(20)
        self.left.addWidget(self.title)
        self.left.addWidget(self.notice)
        self.left.addWidget(self.prompt)
        self.left.addWidget(self.message)
        self.left.addStretch(1)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(40, 32, 40, 32)
        layout.setSpacing(48)
        layout.addLayout(self.left, 5)
        right = QVBoxLayout()
        right.addStretch(1)
        right.addWidget(self.pad)
        right.addStretch(1)
        layout.addLayout(right, 4)

        self._title: TextFn | None = None
        self._notice: TextFn | None = None
        self._prompt: TextFn | None = None
        self._message: TextFn | None = None
        self.notice.setVisible(False)
        self.message.setVisible(False)

    def set_texts(
        self, title: TextFn | None = None, prompt: TextFn | None = None,
        notice: TextFn | None = None,
    ) -> None:
        if title is not None:
            self._title = title
        if prompt is not None:
            self._prompt = prompt
        self._notice = notice
        self.refresh_texts()

    def show_message(self, text: TextFn | None, role: str = "error") -> None:
        self._message = text
        set_role(self.message, role)
        self.refresh_texts()

    @property
    def message_fn(self) -> TextFn | None:
        return self._message

    def set_busy(self, busy: bool) -> None:
        if busy and self.busy is None:
            self.busy = QProgressBar()
            self.busy.setRange(0, 0)
            self.busy.setTextVisible(False)
            self.left.insertWidget(self.left.indexOf(self.message) + 1, self.busy)
        if self.busy is not None:
            self.busy.setVisible(busy)
        self.pad.setEnabled(not busy)
        if not busy:
            self.pad.setFocus()

    def refresh_texts(self) -> None:
        for widget, fn in ((self.title, self._title), (self.prompt, self._prompt),
                           (self.notice, self._notice), (self.message, self._message)):
            widget.setText(fn() if fn is not None else "")
            if widget in (self.notice, self.message):
                widget.setVisible(fn is not None)
