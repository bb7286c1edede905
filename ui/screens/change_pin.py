"""Change the PIN: old PIN, new PIN twice, on the same big pad; the work runs off the UI thread."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

from fieldclient.fieldwork import pinpolicy
from ui.errors import error_text
from ui.screens.setup import is_weak_pin
from ui.tasks import run_task
from ui.widgets.basic import Retranslatable, button
from ui.widgets.pinpanel import PinPanel

if TYPE_CHECKING:
    from fieldclient.storage.session import Session


class ChangePinDialog(Retranslatable, QDialog):
    """``changed()`` after success; ``erased()`` if wrong old PINs used up the attempts."""

    changed = Signal()
    erased = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("changePinDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.session = session
        self.step = "old"
        self._old = ""
        self._new = ""
        self.panel = PinPanel(self)
        self.pad = self.panel.pad
        self.pad.submitted.connect(self._on_pin)
        self.cancel_button = button("", "cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        self.panel.left.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.panel)
        if parent is not None:
            self.resize(parent.window().size())
        self.panel.set_texts(title=lambda: self.tr("修改PIN码"))
        self._show_step()
        self.retranslate()

    def _show_step(self) -> None:
        prompts = {
            "old": lambda: self.tr("请输入现在的PIN码。"),
            "new": lambda: self.tr("请输入新的PIN码：至少{n}位数字。").format(
                n=self.pad.min_length
            ),
            "confirm": lambda: self.tr("请再输入一次新的PIN码。"),
            "busy": lambda: self.tr("正在修改PIN码，请稍候……"),
        }
        self.panel.set_texts(prompt=prompts[self.step])
        self.panel.set_busy(self.step == "busy")
        self.cancel_button.setEnabled(self.step != "busy")

    def _on_pin(self, pin: str) -> None:
        if self.step == "old":
            self._old = pin
            self.step = "new"
            self.panel.show_message(None)
        elif self.step == "new":
            if is_weak_pin(pin):
                self.panel.show_message(
                    lambda: self.tr("这个PIN码太容易被猜到（相同或连续的数字），请换一个。")
                )
                return
            self._new = pin
            self.step = "confirm"
            self.panel.show_message(None)
        elif self.step == "confirm":
            if pin != self._new:
                self.step = "new"
                self.panel.show_message(lambda: self.tr("两次输入的新PIN码不一致，请重新输入。"))
            else:
                self.step = "busy"
                self.panel.show_message(None)
                old, new = self._old, self._new
                self._old = self._new = ""
                run_task(lambda: pinpolicy.change_pin(self.session, old, new), self._done,
                         self._failed)
        self._show_step()

    def _done(self, _result: object) -> None:
        self.step = "done"
        self.changed.emit()
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        from fieldclient.errors import DeviceErased, FieldClientError

        self.step = "old"
        self._show_step()
        if isinstance(exc, DeviceErased):
            self.erased.emit()
            self.reject()
            return
        if isinstance(exc, FieldClientError):
            self.panel.show_message(lambda: error_text(exc))
            return
        self.panel.show_message(lambda: self.tr("修改没有成功，PIN码保持不变。"))
        sys.excepthook(type(exc), exc, exc.__traceback__)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("修改PIN码"))
        self.cancel_button.setText(self.tr("取消"))
        self.panel.refresh_texts()
