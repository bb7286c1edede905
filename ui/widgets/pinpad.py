"""A big numeric PIN pad for gloved fingers: masked dots, delete, clear, OK.

Buttons are at least 80 px (they grow with the text size) and never take the
keyboard focus (stylesheet: ``qproperty-focusPolicy``), so a hardware keyboard's
digits, Backspace, Enter and Escape work on the pad itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from fieldclient.security.vaultstate import MAX_PIN_LENGTH, MIN_PIN_LENGTH
from ui.widgets.basic import Retranslatable, button

if TYPE_CHECKING:
    from PySide6.QtGui import QKeyEvent

DOT = "●"
EMPTY_DOT = "○"


class PinPad(Retranslatable, QWidget):
    """Emits ``submitted(pin)`` on OK / Enter once at least ``min_length`` digits are in."""

    submitted = Signal(str)
    changed = Signal(int)

    def __init__(
        self,
        parent: QWidget | None = None,
        min_length: int = MIN_PIN_LENGTH,
        max_length: int = MAX_PIN_LENGTH,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("pinPad")
        self.min_length = min_length
        self.max_length = max_length
        self._digits: list[str] = []

        self.dots = QLabel()
        self.dots.setObjectName("pinDots")
        self.dots.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

        grid = QGridLayout()
        grid.setSpacing(10)
        self.digit_buttons: dict[str, QPushButton] = {}
        for index, digit in enumerate("123456789"):
            btn = self._make(digit, "pad")
            grid.addWidget(btn, index // 3, index % 3)
        self.clear_button = button("padSmall", "pad_clear")
        self.clear_button.clicked.connect(self.clear)
        grid.addWidget(self.clear_button, 3, 0)
        grid.addWidget(self._make("0", "pad"), 3, 1)
        self.back_button = button("padSmall", "pad_backspace")
        self.back_button.clicked.connect(self.backspace)
        self.back_button.setAutoRepeat(False)
        grid.addWidget(self.back_button, 3, 2)
        self.ok_button = button("primary", "pad_ok")
        self.ok_button.clicked.connect(self.submit)
        grid.addWidget(self.ok_button, 4, 0, 1, 3)
        for btn in [*self.digit_buttons.values(), self.clear_button, self.back_button]:
            btn.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(self.dots)
        layout.addLayout(grid)
        self._update()
        self.retranslate()

    def _make(self, digit: str, role: str) -> QPushButton:
        btn = button(role, f"pad_{digit}")
        btn.setText(digit)
        btn.clicked.connect(lambda _=False, d=digit: self.press(d))
        self.digit_buttons[digit] = btn
        return btn

    # -- input -------------------------------------------------------------
    def press(self, digit: str) -> None:
        if not self.isEnabled() or len(self._digits) >= self.max_length:
            return
        self._digits.append(digit)
        self._update()

    def backspace(self) -> None:
        if self._digits:
            self._digits.pop()
            self._update()

    def clear(self) -> None:
        if self._digits:
            self._digits.clear()
        self._update()

    def submit(self) -> None:
        if self.isEnabled() and len(self._digits) >= self.min_length:
            pin = self.pin()
            self.clear()
            self.submitted.emit(pin)

    def pin(self) -> str:
        return "".join(self._digits)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        from PySide6.QtCore import Qt

        text = event.text()
        key = event.key()
        if text and text in "0123456789" and len(text) == 1:
            self.press(text)
        elif key == Qt.Key.Key_Backspace:
            self.backspace()
        elif key == Qt.Key.Key_Escape:
            self.clear()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submit()
        else:
            super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.EnabledChange:
            self._update()

    # -- display -------------------------------------------------------------
    def _update(self) -> None:
        count = len(self._digits)
        shown = max(self.min_length, count)
        self.dots.setText("".join(DOT if i < count else EMPTY_DOT for i in range(shown)))
        self.ok_button.setEnabled(self.isEnabled() and count >= self.min_length)
        self.back_button.setEnabled(count > 0)
        self.clear_button.setEnabled(count > 0)
        self.changed.emit(count)

    def retranslate(self) -> None:
        self.clear_button.setText(self.tr("清空"))
        self.back_button.setText(self.tr("删除"))
        self.ok_button.setText(self.tr("确定"))
        self.dots.setAccessibleName(self.tr("已输入{count}位").format(count=len(self._digits)))
