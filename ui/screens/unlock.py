"""Unlock with the PIN. Wrong PINs show the attempts left; a lock-out counts down live."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from fieldclient.security.vaultstate import lockout_seconds
from ui.widgets.basic import Retranslatable, button, label
from ui.widgets.pinpanel import PinPanel

if TYPE_CHECKING:
    from fieldclient.storage.session import Session


def _unlock(data_dir: Path, pin: str) -> Session:
    from fieldclient.fieldwork import pinpolicy

    return pinpolicy.unlock(data_dir, pin)


class UnlockScreen(Retranslatable, QWidget):
    """Emits ``unlocked(session)``, or ``erased()`` when the device turns out to be erased."""

    unlocked = Signal(object)
    erased = Signal()

    def __init__(self, data_dir: Path, parent: QWidget | None = None,
                 support: tuple[str, str] = ("", ""), help_later: bool = False) -> None:
        """``help_later``: the "forgot PIN" button and whom to call stay hidden until
        :meth:`show_help` (the app's first start: the PIN pad paints first, issue 15)."""
        super().__init__(parent)
        self.setObjectName("screen")
        self.data_dir = data_dir
        self.support = support  # (name, phone) whom to call, from the centre
        self.busy = False
        self._deadline = 0.0
        self._wrong_message: Callable[[], str] | None = None
        self.panel = PinPanel(self)
        self.pad = self.panel.pad
        self.pad.submitted.connect(self._on_pin)
        self.countdown = QTimer(self)
        self.countdown.setInterval(1000)
        self.countdown.timeout.connect(self._tick)
        self.forgot_button = button("", "forgotPinButton")
        self.forgot_button.setMinimumHeight(64)
        self.forgot_button.clicked.connect(self.open_recovery)
        self.forgot_button.setText(self.tr("忘记PIN码？"))
        self.panel.left.addWidget(self.forgot_button)
        self.support_hint = label("muted")
        self.support_hint.setObjectName("supportHint")
        self.support_hint.setText(self.support_text())
        self.panel.left.addWidget(self.support_hint)
        if help_later:  # below the stretch: showing them later moves nothing painted
            self.forgot_button.hide()
            self.support_hint.hide()
        self.recovery_dialog: Any = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.panel)
        self.panel.set_texts(
            title=lambda: self.tr("请输入PIN码解锁"),
            prompt=lambda: self.tr("数据已加密保存。输入您的PIN码后按“确定”。"),
        )
        self.panel.set_busy(False)
        self.check_lockout()

    def show_help(self) -> None:
        self.forgot_button.show()
        self.support_hint.show()

    def check_lockout(self) -> None:
        """Resume a lock-out that began before a restart (or in another process)."""
        wait = lockout_seconds(self.data_dir)
        if wait > 0 and self.remaining() == 0:
            self.start_countdown(wait)

    # -- unlocking -----------------------------------------------------------
    def _on_pin(self, pin: str) -> None:
        if self.busy or self.remaining() > 0:
            return
        self.busy = True
        self.panel.set_busy(True)
        self.panel.set_texts(prompt=lambda: self.tr("正在解锁，请稍候……"))
        self.panel.show_message(None)
        from ui.tasks import run_task  # after the PIN pad's first paint (issue 15)

        run_task(lambda: _unlock(self.data_dir, pin), self._done, self._failed)

    def _restore_prompt(self) -> None:
        self.busy = False
        self.panel.set_busy(False)
        self.panel.set_texts(prompt=lambda: self.tr("数据已加密保存。输入您的PIN码后按“确定”。"))

    def _done(self, session: Any) -> None:
        self._restore_prompt()
        self.unlocked.emit(session)

    def _failed(self, exc: BaseException) -> None:
        from fieldclient.errors import DeviceErased, FieldClientError, PinLockedOut, WrongPin

        self._restore_prompt()
        if isinstance(exc, DeviceErased):
            self.erased.emit()
            return
        if isinstance(exc, FieldClientError):
            from ui.errors import error_text

            self.panel.show_message(lambda: error_text(exc))
            if isinstance(exc, WrongPin | PinLockedOut) and exc.wait_seconds > 0:
                self.start_countdown(exc.wait_seconds, keep_message=isinstance(exc, WrongPin))
            return
        self.panel.show_message(lambda: self.tr("解锁没有成功，请再试一次。"))
        sys.excepthook(type(exc), exc, exc.__traceback__)

    # -- forgotten PIN -------------------------------------------------------
    def open_recovery(self) -> None:
        """IT's recovery code sets a new PIN (a lock-out does not stop it)."""
        from ui.screens.recover_pin import RecoverPinDialog

        dialog = RecoverPinDialog(self.data_dir, self)
        self.recovery_dialog = dialog
        dialog.reset.connect(self._done)
        dialog.finished.connect(lambda _r: setattr(self, "recovery_dialog", None))
        dialog.open()

    # -- lock-out countdown --------------------------------------------------
    def remaining(self) -> int:
        return max(0, int(self._deadline - time.monotonic() + 0.999))

    def start_countdown(self, seconds: int, keep_message: bool = False) -> None:
        self._deadline = time.monotonic() + seconds
        self._wrong_message = self.panel.message_fn if keep_message else None
        self.pad.setEnabled(False)
        self.countdown.start()
        self._tick()

    def _tick(self) -> None:
        left = self.remaining()
        if left <= 0:
            self.countdown.stop()
            self.pad.setEnabled(True)
            self.pad.setFocus()
            self.panel.show_message(
                lambda: self.tr("现在可以再次输入PIN码。"), role="info"
            )
            return
        wrong = self._wrong_message

        def text() -> str:
            wait = self.tr("为保护数据，请等待{seconds}秒后再输入。").format(seconds=left)
            return f"{wrong()}\n{wait}" if wrong is not None else wait

        self.panel.show_message(text)

    def support_text(self) -> str:
        name, phone = self.support
        if name and phone:
            return self.tr("忘记PIN码时，请打电话给{name}：{phone}。IT会给您一个恢复码，"
                           "数据不会丢失。").format(name=name, phone=phone)
        return self.tr("忘记PIN码时，请联系单位的IT人员，他们会给您一个恢复码，数据不会丢失。")

    def retranslate(self) -> None:
        self.forgot_button.setText(self.tr("忘记PIN码？"))
        self.support_hint.setText(self.support_text())
        self.panel.refresh_texts()
