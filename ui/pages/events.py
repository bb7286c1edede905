from __future__ import annotations

from ui.pages.base import EmptyStatePage


class EventsPage(EmptyStatePage):
    key = "events"

    def title(self) -> str:
        return self.tr("事件")

    def empty_text(self) -> str:
        return self.tr(
            "还没有上报的事件。\n\n上报事件的功能开放后，您在巡查和走访中发现的问题"
            "可以在这里上报，并能看到处理进度：已上报、已受理、已派遣、处置中、已办结。"
        )
