"""My events (我的事件): what this device reported and where each one is in the
closed loop. Tap one for its timeline; a returned event asks for more (补充材料),
a resolved one for the on-the-spot check (现场核查).

A grid leader's or supervisor's device also lists the grid's events (本网格的事件):
those other workers reported, as the centre moves them (pulled), with who reported
them; read-only here.

The list is re-read when the page is shown and after every finished sync (the
centre may have moved an event). Only the newest :data:`PAGE_SIZE` cards are
built at first; "显示更多" adds more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import events, reviews
from fieldclient.i18n import QT_TRANSLATE_NOOP
from ui.errors import error_text
from ui.pages.base import Page
from ui.widgets.basic import button, label, scroll_area, set_role
from ui.widgets.event import (
    HistoryList,
    LoopSteps,
    StatusChip,
    category_text,
    local_time,
    urgency_text,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fieldclient.storage.session import Session
    from ui.controller import AppController

PAGE_SIZE = 50


class EventCard(QFrame):
    """One event in the list; the whole card opens it."""

    def __init__(self, page: EventsPage, summary: events.EventSummary) -> None:
        super().__init__()
        self.setObjectName("eventCard")
        self.page = page
        self.summary = summary
        self.chip = StatusChip()
        self.title = label("itemName")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.when = label("muted", wrap=False)
        self.text = label()
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.hint = label("fact")
        self.hint.setObjectName("eventHint")
        self.open_button = button("", f"openEvent_{summary.id}")
        self.open_button.clicked.connect(lambda: page.open_event(summary.id))
        top = QHBoxLayout()
        top.setSpacing(12)
        top.addWidget(self.chip)
        top.addWidget(self.title, 1)
        top.addWidget(self.when)
        bottom = QHBoxLayout()
        bottom.addWidget(self.hint, 1)
        bottom.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.text)
        layout.addLayout(bottom)
        set_role(self, "action" if summary.action else "")
        self.retranslate()

    def retranslate(self) -> None:
        s = self.summary
        self.chip.set_status(s.status)
        title = category_text(s.category, self.page.categories)
        if s.urgency != "normal":
            title += f" · {urgency_text(s.urgency)}"
        if s.training:  # fieldclient simulate: marked as the centre marks it
            title += " · " + self.tr("培训数据")
        self.title.setText(title)
        self.when.setText(local_time(s.reported_at))
        short = s.description if len(s.description) <= 80 else s.description[:80] + "…"
        self.text.setText(short)
        self.hint.setText(self.page.hint_text(s) if s.own else self.page.reporter_text(s))
        self.hint.setVisible(bool(self.hint.text()))
        self.open_button.setText(self.tr("查看"))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        self.page.open_event(self.summary.id)


class EventsPage(Page):
    key = "events"
    title_source = QT_TRANSLATE_NOOP("EventsPage", "事件")

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.summaries: list[events.EventSummary] = []
        self.categories: list[events.Category] = []
        self.shown = PAGE_SIZE
        self.cards: list[EventCard] = []
        self.current_id: str | None = None
        self.summary_for_detail: events.EventSummary | None = None
        self.dialog: QWidget | None = None
        self.scope = "mine"  # or "grid": the grid's events (leaders and supervisors)
        self.names: dict[int, str] = {}
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_list())
        self.stack.addWidget(self._build_detail())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        if controller.sync is not None:
            controller.sync.finished.connect(self._after_sync)

    # -- building ---------------------------------------------------------------------
    def _build_list(self) -> QWidget:
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(32, 20, 32, 24)
        column.setSpacing(12)
        top = QHBoxLayout()
        self.summary_line = label("prompt")
        self.summary_line.setObjectName("eventsSummary")
        top.addWidget(self.summary_line, 1)
        self.scope_buttons: dict[str, QPushButton] = {}
        scopes = QHBoxLayout()
        scopes.setSpacing(12)
        for scope in ("mine", "grid"):
            btn = button("result", f"eventsScope_{scope}")
            btn.setProperty("result", "normal")
            btn.setCheckable(True)
            btn.clicked.connect(lambda _=False, s=scope: self.set_scope(s))
            self.scope_buttons[scope] = btn
            scopes.addWidget(btn)
        scopes.addStretch(1)
        self.scope_row = QWidget()
        self.scope_row.setLayout(scopes)
        self.scope_row.setVisible(False)
        column.addWidget(self.scope_row)
        self.empty = label("empty")
        self.empty.setObjectName("emptyState")
        self.card_column = QVBoxLayout()
        self.card_column.setSpacing(12)
        self.more_button = button("", "moreEventsButton")
        self.more_button.clicked.connect(self.show_more)
        column.addLayout(top)
        column.addWidget(self.empty)
        column.addLayout(self.card_column)
        column.addWidget(self.more_button)
        column.addStretch(1)
        return scroll_area(body)

    def _build_detail(self) -> QWidget:
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(32, 16, 32, 24)
        column.setSpacing(12)
        self.back_button = button("", "eventBackButton")
        self.back_button.clicked.connect(self.show_list)
        back_row = QHBoxLayout()
        back_row.addWidget(self.back_button)
        back_row.addStretch(1)
        self.detail_chip = StatusChip()
        self.detail_title = label("title")
        self.detail_title.setTextFormat(Qt.TextFormat.PlainText)
        title_row = QHBoxLayout()
        title_row.setSpacing(16)
        title_row.addWidget(self.detail_chip)
        title_row.addWidget(self.detail_title, 1)
        self.detail_text = label("fact")
        self.detail_text.setTextFormat(Qt.TextFormat.PlainText)
        self.detail_text.setObjectName("eventDetailText")
        from ui.dialogs.photo import PhotoStrip

        self.detail_photos = PhotoStrip()
        self.detail_photos.setObjectName("eventDetailPhotos")
        self.detail_facts = label("muted")
        self.detail_facts.setTextFormat(Qt.TextFormat.PlainText)
        self.action_note = label("warning")
        self.action_note.setObjectName("eventActionNote")
        self.done_note = label("done")
        self.done_note.setObjectName("eventDoneNote")
        self.supplement_button = button("primary", "supplementButton")
        self.supplement_button.clicked.connect(self.open_supplement)
        self.verify_button = button("primary", "verifyButton")
        self.verify_button.clicked.connect(self.open_verify)
        self.household_button = button("", "eventHouseholdButton")
        self.household_button.clicked.connect(self.open_household)
        actions = QHBoxLayout()
        actions.setSpacing(12)
        actions.addWidget(self.supplement_button)
        actions.addWidget(self.verify_button)
        actions.addWidget(self.household_button)
        actions.addStretch(1)
        self.steps_heading = label("heading")
        self.steps = LoopSteps()
        self.side_state = label("warning")
        self.side_state.setObjectName("eventSideState")
        self.history_heading = label("heading")
        self.history = HistoryList()
        self.detail_error = label("error")
        self.detail_error.setVisible(False)
        columns = QHBoxLayout()
        columns.setSpacing(32)
        left = QVBoxLayout()
        left.addWidget(self.steps_heading)
        left.addWidget(self.side_state)
        left.addWidget(self.steps)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.history_heading)
        right.addWidget(self.history)
        right.addStretch(1)
        columns.addLayout(left, 2)
        columns.addLayout(right, 3)
        for widget in (self.detail_text, self.detail_facts, self.action_note, self.done_note):
            widget.setVisible(False)
        column.addLayout(back_row)
        column.addLayout(title_row)
        column.addWidget(self.detail_text)
        column.addWidget(self.detail_facts)
        column.addWidget(self.detail_photos, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.detail_error)
        column.addWidget(self.action_note)
        column.addWidget(self.done_note)
        column.addLayout(actions)
        column.addLayout(columns)
        column.addStretch(1)
        return scroll_area(body)

    # -- texts --------------------------------------------------------------------------

    def hint_text(self, s: events.EventSummary) -> str:
        if s.action == events.SUPPLEMENT:
            return self.tr("需要补充：指挥中心退回了，请补充材料")
        if s.action == events.VERIFY:
            return self.tr("待核查：已办结，请到现场核查")
        if s.waiting is not None or s.status == events.PENDING:
            return self.tr("待上传：有网络时会自动发送")
        if s.work_done:
            return self.tr("您的工作已完成")
        if s.status == events.REJECTED:
            return self.tr("指挥中心没有接收这个事件，请联系网格长")
        return ""

    def reporter_text(self, s: events.EventSummary) -> str:
        name = self.names.get(s.reporter_id) if s.reporter_id is not None else None
        return self.tr("上报人：{name}").format(name=name) if name else self.tr(
            "上报人：本网格的网格员")

    # -- data ---------------------------------------------------------------------------
    def set_scope(self, scope: str) -> None:
        self.scope = scope
        self.shown = PAGE_SIZE
        self.refresh()

    def refresh(self) -> None:
        session = self.controller.session
        if session is None:
            return
        reviewer = reviews.can_review(session)
        if not reviewer:
            self.scope = "mine"
        self.scope_row.setVisible(reviewer)
        self.scope_buttons["mine"].setText(self.tr("我上报的"))
        self.scope_buttons["grid"].setText(self.tr("本网格的事件"))
        for scope, btn in self.scope_buttons.items():
            btn.setChecked(scope == self.scope)
        self.categories = events.event_categories(session)
        if self.scope == "grid":
            self.summaries = events.grid_events(session)
            self.names = events.reporter_names(session)
        else:
            self.summaries = events.my_events(session)
        self._fill_list()
        if self.stack.currentIndex() == 1 and self.current_id is not None:
            self._fill_detail(self.current_id)

    def _after_sync(self, _report: Any) -> None:
        if self.isVisible():
            self.refresh()

    def _fill_list(self) -> None:
        for card in self.cards:
            self.card_column.removeWidget(card)
            card.deleteLater()
        self.cards = [EventCard(self, s) for s in self.summaries[: self.shown]]
        for card in self.cards:
            self.card_column.addWidget(card)
        todo = sum(1 for s in self.summaries if s.action is not None)
        waiting = sum(1 for s in self.summaries if s.pending_upload)
        if self.scope == "grid":
            still_open = sum(1 for s in self.summaries
                             if s.status not in ("resolved", "verified", "closed"))
            self.summary_line.setText(
                self.tr("本网格其他人上报的事件：{n}个；还没办结：{open}个").format(
                    n=len(self.summaries), open=still_open))
            self.empty.setText(self.tr(
                "本网格还没有其他人上报的事件。\n\n同步以后，网格员上报的事件会显示在这里。"))
        else:
            self.summary_line.setText(
                self.tr("我上报的事件：{n}个；要我处理：{todo}个；待上传：{waiting}个").format(
                    n=len(self.summaries), todo=todo, waiting=waiting
                )
            )
            self.empty.setText(
                self.tr(
                    "还没有上报的事件。\n\n在巡查或走访中发现问题，点右上角的“上报事件”。"
                    "上报后在这里能看到处理进度：已上报、已受理、已派遣、处置中、已办结。"
                )
            )
        self.empty.setVisible(not self.summaries)
        rest = len(self.summaries) - len(self.cards)
        self.more_button.setVisible(rest > 0)
        self.more_button.setText(self.tr("显示更多（还有{n}个）").format(n=rest))

    def show_more(self) -> None:
        self.shown += PAGE_SIZE
        self._fill_list()

    def show_list(self) -> None:
        self.current_id = None
        self.stack.setCurrentIndex(0)
        self.refresh()

    def open_event(self, event_id: str) -> None:
        self.current_id = event_id
        self._fill_detail(event_id)
        self.stack.setCurrentIndex(1)

    def _fill_detail(self, event_id: str) -> None:
        session = self.controller.session
        if session is None:
            return
        try:
            summary = events.get_event(session, event_id)
            timeline = events.event_timeline(session, event_id)
        except FieldClientError as exc:
            self.detail_error.setText(error_text(exc))
            self.detail_error.setVisible(True)
            return
        self.detail_error.setVisible(False)
        self.detail_chip.set_status(summary.status)
        title = category_text(summary.category, self.categories)
        self.detail_title.setText(f"{title} · {urgency_text(summary.urgency)}")
        self.detail_text.setText(summary.description)
        self.detail_text.setVisible(True)
        facts = [self.tr("上报时间：{time}").format(time=local_time(summary.reported_at))]
        if not summary.own:
            facts.append(self.reporter_text(summary))
        if summary.address:
            facts.append(self.tr("地址：{address}").format(address=summary.address))
        facts.append(self.tr("最近变化：{time}").format(time=local_time(summary.last_change)))
        self.detail_facts.setText("\n".join(facts))
        self.detail_facts.setVisible(True)
        self.supplement_button.setVisible(summary.action == events.SUPPLEMENT)
        self.verify_button.setVisible(summary.action == events.VERIFY)
        self.household_button.setVisible(
            summary.household_id is not None
            and hasattr(self.controller.main_view, "open_household")
        )
        note = self.hint_text(summary) if summary.action else ""
        self.action_note.setText(note)
        self.action_note.setVisible(bool(note))
        self.done_note.setText(self.tr("您的工作已完成"))
        self.done_note.setVisible(summary.work_done)
        self.steps.set_steps(events.loop_steps(summary.status, timeline))
        side = ""
        if summary.status == "returned":
            side = self.tr("现在：退回（需要补充材料）")
        elif summary.status == "escalated":
            side = self.tr("现在：已上报上级处理")
        elif summary.status == events.PENDING:
            side = self.tr("现在：待上传（还没有发送到指挥中心）")
        self.side_state.setText(side)
        self.side_state.setVisible(bool(side))
        self.history.set_entries(timeline)
        self._show_detail_photos(session, timeline)
        self.summary_for_detail = summary
        self._retranslate_detail()

    def _show_detail_photos(self, session: Session,
                            timeline: Sequence[events.TimelineEntry]) -> None:
        """The report's and the follow-ups' pictures themselves; a tap: full size."""
        from ui.dialogs.photo import stored_photo

        ids = list(dict.fromkeys(p for entry in timeline for p in entry.photos))
        self.detail_photos.set_photos(
            [stored_photo(session, p, thumbnail=True) for p in ids],
            [lambda p=p: stored_photo(self.controller.session, p) for p in ids])
        self.detail_photos.setVisible(bool(ids))

    def _retranslate_detail(self) -> None:
        self.back_button.setText(self.tr("返回事件列表"))
        self.supplement_button.setText(self.tr("补充材料"))
        self.verify_button.setText(self.tr("现场核查"))
        self.household_button.setText(self.tr("查看住户"))
        self.steps_heading.setText(self.tr("处理进度"))
        self.history_heading.setText(self.tr("处理记录"))

    def retranslate(self) -> None:
        self._retranslate_detail()
        self.refresh()

    # -- actions --------------------------------------------------------------------------
    def open_supplement(self) -> None:
        from ui.dialogs.event import SupplementDialog

        if self.current_id is None:
            return
        dialog = SupplementDialog(self.controller, self.current_id, self)
        dialog.accepted.connect(self.refresh)
        self.dialog = dialog
        dialog.open()

    def open_verify(self) -> None:
        from ui.dialogs.event import VerifyDialog

        if self.current_id is None:
            return
        dialog = VerifyDialog(self.controller, self.current_id, self)
        dialog.accepted.connect(self.refresh)
        self.dialog = dialog
        dialog.open()

    def open_household(self) -> None:
        view = self.controller.main_view
        summary = self.summary_for_detail
        if view is None or summary is None or summary.household_id is None:
            return
        opener = getattr(view, "open_household", None)
        if callable(opener):
            opener(summary.household_id)

