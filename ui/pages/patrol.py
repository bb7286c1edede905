from __future__ import annotations

from ui.pages.base import EmptyStatePage


class PatrolPage(EmptyStatePage):
    key = "patrol"

    def title(self) -> str:
        return self.tr("巡查")

    def empty_text(self) -> str:
        return self.tr(
            "还没有巡查记录。\n\n巡查功能开放后，您可以在这里开始巡查：按巡查事项清单逐项检查，"
            "记录巡查轨迹和照片。保存的巡查记录会显示在这里。"
        )
