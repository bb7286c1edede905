from __future__ import annotations

from PySide6.QtCore import QDate, QLocale

from ui.pages.base import EmptyStatePage


class TodayPage(EmptyStatePage):
    key = "today"

    def title(self) -> str:
        return self.tr("今天")

    def facts_text(self) -> str:
        return QLocale().toString(QDate.currentDate(), QLocale.FormatType.LongFormat)

    def empty_text(self) -> str:
        return self.tr(
            "今天还没有工作安排。\n\n本设备登记到指挥中心后，今天要做的巡查、走访和"
            "指挥中心派来的任务会显示在这里。"
        )
