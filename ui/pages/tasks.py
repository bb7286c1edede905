from __future__ import annotations

from ui.pages.base import EmptyStatePage


class TasksPage(EmptyStatePage):
    key = "tasks"

    def title(self) -> str:
        return self.tr("任务")

    def empty_text(self) -> str:
        return self.tr(
            "尚未与指挥中心连接。\n\n设备登记后，指挥中心派给您的任务和通知会显示在这里。"
        )
