"""Forgotten PIN: IT's recovery code, then a new PIN twice on the big pad. The data on
the tablet stays; the code works once (fieldclient.security.recovery)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from ui.errors import error_text
from ui.screens.setup import is_weak_pin
from ui.tasks import run_task
from ui.widgets.basic import Retranslatable, button
from ui.widgets.pinpanel import PinPanel

if TYPE_CHECKING:
    from fieldclient.storage.session import Session


def _reset(data_dir: Path, code: str, pin: str) -> Session:
    from fieldclient.fieldwork import pinpolicy

    return pinpolicy.reset_pin(data_dir, code, pin)


class RecoverPinDialog(Retranslatable, QDialog):
    """``reset(session)`` once the new PIN is set (the device is unlocked with it)."""

    reset = Signal(object)

    def __init__(self, data_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recoverPinDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.data_dir = data_dir
        self.step = "code"
        self._code = ""
        self._new = ""
        self.panel = PinPanel(self)
        self.pad = self.panel.pad
        self.pad.submitted.connect(self._on_pin)
        self.code_edit = QLineEdit(self)
        self.code_edit.setObjectName("recoveryCode")
        self.code_edit.setMaxLength(40)
        self.code_edit.setMinimumHeight(64)
        self.code_edit.setInputMethodHints(Qt.InputMethodHint.ImhPreferUppercase
                                           | Qt.InputMethodHint.ImhNoPredictiveText)
        self.code_edit.returnPressed.connect(self._on_code)
        self.next_button = button("primary", "recoveryNext")
        self.next_button.setMinimumHeight(64)
        self.next_button.clicked.connect(self._on_code)
        self.cancel_button = button("", "cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        index = self.panel.left.indexOf(self.panel.message)
        self.panel.left.insertWidget(index, self.code_edit)
        # 下一步 and 取消 side by side: one row less, so the long explanation keeps
        # its room at the largest text size
        buttons = QHBoxLayout()
        buttons.setSpacing(16)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.next_button, 1)
        self.panel.left.insertLayout(index + 1, buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.panel)
        if parent is not None:
            self.resize(parent.window().size())
        self.panel.set_texts(title=lambda: self.tr("忘记PIN码"))
        self._show_step()
        self.retranslate()

    def _show_step(self) -> None:
        prompts = {
            "code": lambda: self.tr("请联系信息管理员，报上您的姓名，对方会告诉您本机的恢复码。"
                                    "请把恢复码输入下面的框里，然后按“下一步”。本机数据不会丢失。"),
            "new": lambda: self.tr("请输入新的PIN码：至少{n}位数字。").format(
                n=self.pad.min_length),
            "confirm": lambda: self.tr("请再输入一次新的PIN码。"),
            "busy": lambda: self.tr("正在重设PIN码，请稍候……"),
        }
        self.panel.set_texts(prompt=prompts[self.step])
        self.panel.set_busy(self.step == "busy")
        on_code = self.step == "code"
        self.code_edit.setVisible(on_code)
        self.next_button.setVisible(on_code)
        self.pad.setEnabled(self.step in ("new", "confirm"))
        self.cancel_button.setEnabled(self.step != "busy")
        if on_code:
            self.code_edit.setFocus()

    def _on_code(self) -> None:
        from fieldclient.security.recovery import parse_code

        if self.step != "code":
            return
        if parse_code(self.code_edit.text()) is None:
            self.panel.show_message(lambda: self.tr(
                "恢复码应是26个字母和数字（可以不输入短横线），请核对后再输入。"))
            return
        self._code = self.code_edit.text()
        self.step = "new"
        self.panel.show_message(None)
        self._show_step()
        self.pad.setFocus()

    def _on_pin(self, pin: str) -> None:
        if self.step == "new":
            if is_weak_pin(pin):
                self.panel.show_message(
                    lambda: self.tr("这个PIN码太容易被猜到（相同或连续的数字），请换一个。"))
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
                code, new = self._code, self._new
                self._new = ""
                run_task(lambda: _reset(self.data_dir, code, new), self._done, self._failed)
        self._show_step()

    def _done(self, session: object) -> None:
        self.step = "done"
        self.code_edit.clear()
        self.reset.emit(session)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        from fieldclient.errors import FieldClientError, RecoveryCodeInvalid

        self.step = "code" if isinstance(exc, RecoveryCodeInvalid) else "new"
        self._show_step()
        if isinstance(exc, FieldClientError):
            self.panel.show_message(lambda: error_text(exc))
            return
        self.panel.show_message(lambda: self.tr("重设没有成功，请再试一次。"))
        sys.excepthook(type(exc), exc, exc.__traceback__)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("忘记PIN码"))
        self.code_edit.setPlaceholderText(self.tr("恢复码，例如 ABCD-EFGH-…"))
        self.next_button.setText(self.tr("下一步"))
        self.cancel_button.setText(self.tr("取消"))
        self.panel.refresh_texts()
