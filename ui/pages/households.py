from __future__ import annotations

from ui.pages.base import EmptyStatePage


class HouseholdsPage(EmptyStatePage):
    key = "households"

    def _count(self) -> int:
        session = self.controller.session
        if session is None or not session.is_open:
            return 0
        return session.records_by_kind().get("household", 0)

    def title(self) -> str:
        return self.tr("住户")

    def facts_text(self) -> str:
        count = self._count()
        if count == 0:
            return ""
        return self.tr("本设备上加密保存了{count}户住户信息。").format(count=count)

    def empty_text(self) -> str:
        if self._count():
            return self.tr("住户列表和走访记录将在后续版本中显示在这里。")
        return self.tr(
            "本设备上还没有住户信息。\n\n本设备登记到指挥中心并同步后，"
            "您负责的网格里的住户会显示在这里，可以查看住户并记录走访。"
        )
