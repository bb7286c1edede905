"""Plain, big-text dialogs. Always opened with ``open()``: they never block the app."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ui.widgets.basic import Retranslatable, button, label


class MessageDialog(Retranslatable, QDialog):
    """A message, an OK button and optionally a "details" expander (for tracebacks)."""

    def __init__(
        self,
        message: str,
        details: str = "",
        parent: QWidget | None = None,
        role: str = "fact",
    ) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setObjectName("messageDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.message = label(role)
        self.message.setText(message)
        self.message.setMinimumWidth(560)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlainText(details)
        self.details.setVisible(False)
        self.details.setMinimumHeight(240)
        self.details_button = button(name="detailsButton")
        self.details_button.setCheckable(True)
        self.details_button.setVisible(bool(details))
        self.details_button.toggled.connect(self._toggle_details)
        self.ok_button = button("primary", "okButton")
        self.ok_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.details_button)
        buttons.addStretch(1)
        buttons.addWidget(self.ok_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.setSpacing(16)
        layout.addWidget(self.message)
        layout.addWidget(self.details, 1)
        layout.addLayout(buttons)
        self.retranslate()

    def _toggle_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.retranslate()
        self.adjustSize()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("提示"))
        self.ok_button.setText(self.tr("知道了"))
        self.details_button.setText(
            self.tr("隐藏详细信息") if self.details_button.isChecked() else self.tr("详细信息")
        )


def show_message(
    message: str, details: str = "", parent: QWidget | None = None, role: str = "fact"
) -> MessageDialog:
    dialog = MessageDialog(message, details, parent, role)
    dialog.open()
    return dialog
