"""First run (or after an erase): choose a PIN twice on the pad, then set the device up."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ui.errors import error_text
from ui.tasks import run_task
from ui.widgets.basic import Retranslatable
from ui.widgets.pinpanel import PinPanel

if TYPE_CHECKING:
    from fieldclient.storage.session import Session


def is_weak_pin(pin: str) -> bool:
    """All one digit, or a straight run up or down (123456, 987654)."""
    if len(set(pin)) == 1:
        return True
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {9})


def _setup(data_dir: Path, pin: str) -> Session:
    from fieldclient.storage.session import setup_device

    return setup_device(data_dir, pin)


class SetupScreen(Retranslatable, QWidget):
    """Emits ``finished(session)`` once the device is set up and unlocked."""

    finished = Signal(object)

    def __init__(self, data_dir: Path, erased: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("screen")
        self.data_dir = data_dir
        self.erased = erased
        self.step = "first"
        self._first_pin = ""
        self.panel = PinPanel(self)
        self.pad = self.panel.pad
        self.pad.submitted.connect(self._on_pin)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.panel)
        self._show_step()

    def _notice(self) -> str:
        return self.tr(
            "本设备上的数据已被销毁（PIN码连续输错次数过多，或被远程擦除），"
            "无法恢复。请重新设置本设备，之后还需要重新向指挥中心登记。"
        )

    def _show_step(self) -> None:
        notice = self._notice if self.erased else None
        self.panel.set_texts(title=lambda: self.tr("设置本设备"), notice=notice)
        if self.step == "first":
            self.panel.set_texts(
                prompt=lambda: self.tr(
                    "请设置PIN码：至少{n}位数字。以后每次打开都要输入它。"
                ).format(n=self.pad.min_length),
                notice=notice,
            )
        elif self.step == "confirm":
            self.panel.set_texts(prompt=lambda: self.tr("请再输入一次同样的PIN码。"), notice=notice)
        else:
            self.panel.set_texts(prompt=lambda: self.tr("正在设置本设备，请稍候……"), notice=notice)
        self.panel.set_busy(self.step == "busy")

    def _on_pin(self, pin: str) -> None:
        if self.step == "first":
            if is_weak_pin(pin):
                self.panel.show_message(
                    lambda: self.tr("这个PIN码太容易被猜到（相同或连续的数字），请换一个。")
                )
                return
            self._first_pin = pin
            self.step = "confirm"
            self.panel.show_message(None)
        elif self.step == "confirm":
            if pin != self._first_pin:
                self._first_pin = ""
                self.step = "first"
                self.panel.show_message(
                    lambda: self.tr("两次输入的PIN码不一致，请重新设置。")
                )
            else:
                self.step = "busy"
                self.panel.show_message(None)
                run_task(lambda: _setup(self.data_dir, pin), self._done, self._failed)
                self._first_pin = ""
        self._show_step()

    def _done(self, session: Any) -> None:
        self.step = "done"
        self.finished.emit(session)

    def _failed(self, exc: BaseException) -> None:
        from fieldclient.errors import FieldClientError

        self.step = "first"
        self._show_step()
        if isinstance(exc, FieldClientError):
            self.panel.show_message(lambda: error_text(exc))
        else:
            self.panel.show_message(lambda: self.tr("设置没有成功，请再试一次。"))
            sys.excepthook(type(exc), exc, exc.__traceback__)

    def retranslate(self) -> None:
        self.panel.refresh_texts()
