"""The sync state in the header of every page; tapping it opens the Sync page."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPushButton, QWidget

from ui.widgets.basic import Retranslatable, set_role

if TYPE_CHECKING:
    from ui.sync_controller import SyncController

REFRESH_MS = 10_000


class SyncIndicator(Retranslatable, QPushButton):
    """States (``state`` attribute and the stylesheet role): ``none`` not enrolled,
    ``busy`` syncing, ``error``, ``offline``, ``pending``, ``ok``."""

    def __init__(self, sync: Callable[[], SyncController | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncStatus")
        self._sync = sync
        self.state = "none"
        # Other pages add records without telling sync: re-count now and then.
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.update_state)
        self.timer.start()
        self.update_state()

    def update_state(self) -> None:
        from ui.sync_texts import when_text

        sync = self._sync()
        info = sync.enrollment() if sync is not None else None
        if sync is None or info is None:
            state = "none"
            text = self.tr("未登记到中心")
            tip = self.tr("本设备还没有登记到指挥中心，数据只保存在本设备上。")
        else:
            pending = sync.pending_total()
            last = sync.last_success()
            # Two short lines (state, then count or time): the header must fit
            # 1280 px at the largest text size in English too.
            detail = self.tr("{n}条待上传").format(n=pending) if pending else ""
            if sync.running:
                state, text, detail = "busy", self.tr("正在同步…"), ""
            elif sync.online is False:
                state, text = "offline", self.tr("无网络")
            elif sync.last_error is not None:
                state, text = "error", self.tr("同步失败")
            elif pending:
                state, text, detail = "pending", detail, ""
            elif last is not None:
                state, text, detail = "ok", self.tr("已同步"), when_text(last)
            else:
                state, text = "pending", self.tr("还没有同步过")
            if detail:
                text += "\n" + detail
            tip = self.tr("点这里查看同步情况")
        self.state = state
        self.setText(text)
        self.setToolTip(tip)
        set_role(self, state)

    def retranslate(self) -> None:
        self.update_state()
