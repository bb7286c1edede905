from __future__ import annotations

from ui.pages.base import EmptyStatePage


class SyncPage(EmptyStatePage):
    key = "sync"

    def title(self) -> str:
        return self.tr("同步")

    def facts_text(self) -> str:
        session = self.controller.session
        if session is None or not session.is_open:
            return ""
        pending = session.pending_uploads()
        if pending == 0:
            return self.tr("本设备上没有等待上传的记录。")
        return self.tr("本设备上有{count}条记录等待上传。").format(count=pending)

    def empty_text(self) -> str:
        return self.tr(
            "本设备尚未登记到指挥中心，所以还不能同步。\n\n信息管理员为本设备登记后，"
            "这里会显示上次同步的时间，有网络时记录会自动上传，新的任务和住户信息会自动下载。"
        )
