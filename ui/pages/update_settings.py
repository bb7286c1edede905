"""The Settings section for release updates: the version, the channel IT put the device
on, the pending update and its size, and "update now" (enabled when a verified update
is staged and applying is allowed: no patrol running, nothing waiting to sync). When IT
revoked the running release, the section says so and the same button goes back to the
version before it (once it is at hand and the older version can open the database).

The button only asks (``update_now_requested`` with the staged version): installing
and restarting belong to the install step, which the main window connects to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from fieldclient.update.policy import status
from ui.widgets.basic import button, label

if TYPE_CHECKING:
    from ui.controller import AppController


def _mb(length: Any) -> str:
    return f"{(length if isinstance(length, int) else 0) / 2**20:.1f} MB"


class UpdateSettings(QWidget):
    update_now_requested = Signal(str)  # the staged version, or the one to go back to

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("updateSettings")
        self.controller = controller
        self.heading = label("heading")
        self.summary = label("fact")
        self.summary.setObjectName("updateSummary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.reason = label("muted")
        self.reason.setObjectName("updateBlockedReason")
        self.reason.setWordWrap(True)
        self.update_button = button("primary", "updateNowButton")
        self.update_button.clicked.connect(self._update_now)
        self.update_now_requested.connect(controller.update_now)
        self.state: dict[str, Any] = {}
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        column.addWidget(self.heading)
        column.addWidget(self.summary)
        column.addWidget(self.reason)
        row = QHBoxLayout()
        row.addWidget(self.update_button)
        row.addStretch(1)
        column.addLayout(row)

    def _update_now(self) -> None:
        staged = self.state.get("staged")
        if not self.state.get("apply_allowed"):
            return
        if self.state.get("return_to"):
            self.update_now_requested.emit(str(self.state["return_to"]))
        elif isinstance(staged, dict):
            self.update_now_requested.emit(str(staged["version"]))

    def refresh(self) -> None:
        from ui import i18n

        session = self.controller.session
        self.state = status(self.controller.data_dir,
                            session if session is not None and session.is_open else None,
                            i18n.current_language())
        self.heading.setText(self.tr("软件更新"))
        self.update_button.setText(self.tr("立即更新"))
        channel = self.tr("试点") if self.state["channel"] == "pilot" else self.tr("正式")
        lines = [self.tr("当前版本：{version}；更新通道：{channel}").format(
            version=self.state["installed"], channel=channel)]
        staged, pending = self.state["staged"], self.state["pending"]
        last = self.state["last_check"] or {}
        if self.state["return_to"]:
            lines.append(self.tr("当前版本已被撤回，将回退到 {version}。").format(
                version=self.state["return_to"]))
            if not self.state["return_ready"]:
                lines.append(self.tr("{version} 还没有下载完，同步时继续下载。").format(
                    version=self.state["return_to"]))
        elif staged is not None:
            lines.append(self.tr("新版本 {version} 已下载并验证（{size}），可以安装。").format(
                version=staged["version"], size=_mb(staged["length"])))
        elif pending is not None:
            lines.append(self.tr("有新版本 {version}（{size}），已下载 {done}，同步时继续下载。")
                         .format(version=pending["version"], size=_mb(pending["length"]),
                                 done=_mb(pending["downloaded"])))
        elif last.get("state") == "up_to_date":
            lines.append(self.tr("已是最新版本。"))
        else:
            lines.append(self.tr("还没有检查过更新（同步成功后自动检查）。"))
        if last.get("message"):
            lines.append(str(last["message"]))
        self.summary.setText("\n".join(lines))
        blocked = self.state["apply_blocked_reason"] \
            if staged is not None or self.state["return_to"] else None
        self.reason.setText(blocked or "")
        self.reason.setVisible(bool(blocked))
        self.update_button.setEnabled(bool(self.state["apply_allowed"]))
