"""Today: the date, who is overdue or due this week, progress against each quota
rule, and per grid whether today's patrol is done.

The patrol facts are a few rows and are read at once. The quota figures (an index
range per rule over up to 100,000 households, ~50 ms) are computed off the UI
thread on the page's own connection (:meth:`Session.fork`, kept while unlocked)
while the UI thread builds the rows they will fill; unchanged data is not counted
again, and a refresh changes the texts of the rows it has instead of building new ones.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QDate, QLocale, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from fieldclient import devicetime
from fieldclient.fieldwork import patrols, quotas, reviews
from fieldclient.fieldwork.quotas import CATEGORY_NAMES, PERIOD_NAMES
from fieldclient.i18n import QT_TRANSLATE_NOOP
from ui.pages.base import Page
from ui.patrol_common import grid_label, worker_grids
from ui.tasks import run_task
from ui.widgets.basic import button, label, set_role

if TYPE_CHECKING:
    from fieldclient.storage.session import Session
    from ui.controller import AppController
    from ui.pages.patrol import PatrolPage

log = logging.getLogger("gridfield.ui")
SHOWN_DUE = 20
READER_CACHE_KIB = 64 * 1024  # the registry's pages stay decrypted in memory


def rule_text(rule: quotas.Rule) -> str:
    period = QCoreApplication.translate("quota", PERIOD_NAMES[rule.period])
    if rule.kind == "patrol":
        return QCoreApplication.translate("todayPage", "巡查网格（{period}至少{times}次）").format(
            period=period, times=rule.times)
    category = QCoreApplication.translate("quota", CATEGORY_NAMES[rule.category or "ordinary"])
    text = QCoreApplication.translate("todayPage", "走访{category}（{period}至少{times}次）")
    return text.format(category=category, period=period, times=rule.times)


class DueRow(QFrame):
    """One household to visit: big, the whole row is the button. The page keeps its
    rows and only changes their texts on a refresh (:meth:`show_item`)."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("itemCard")
        self.setProperty("role", "open")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.item: quotas.DueHousehold | None = None
        # Two labels, each with its own look from the start: a role changed later
        # (set_role) on a row not yet shown lost the red box's padding.
        self.late = label("error", wrap=False)
        self.late.setObjectName("dueLate")
        self.due_by = label("fact", wrap=False)
        self.due_by.setObjectName("dueBy")
        self.who = label("itemName")
        self.who.setTextFormat(Qt.TextFormat.PlainText)
        self.where = label("muted")
        self.where.setTextFormat(Qt.TextFormat.PlainText)
        # The address takes the whole width under name and badge: at 175 % text a
        # badge beside both squeezed the name into three lines.
        grid = QGridLayout(self)
        grid.setContentsMargins(16, 10, 16, 10)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.who, 0, 0)
        grid.addWidget(self.late, 0, 1, Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.due_by, 0, 1, Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.where, 1, 0, 1, 2)
        grid.setColumnStretch(0, 1)

    def show_item(self, item: quotas.DueHousehold, today: date) -> None:
        self.item = item
        set_role(self, "problem" if item.overdue else "open")
        self.late.setVisible(item.overdue)
        self.due_by.setVisible(not item.overdue)
        if item.overdue:
            self.late.setText(self.tr("逾期{n}天").format(n=item.days_overdue(today)))
        else:
            due = QDate(item.due_date.year, item.due_date.month, item.due_date.day)
            self.due_by.setText(self.tr("{date}前走访").format(
                date=QLocale().toString(due, QLocale.FormatType.ShortFormat)))
        self.who.setText(f"{item.head_name}  ·  "
                         + QCoreApplication.translate("quota", CATEGORY_NAMES[item.category]))
        self.where.setText(item.address)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if self.rect().contains(event.position().toPoint()):
            self.clicked.emit()


class TodayPage(Page):
    key = "today"
    title_source = QT_TRANSLATE_NOOP("TodayPage", "今天")

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.status: quotas.QuotaStatus | None = None
        self.loading = False
        self.reload_wanted = False
        self.reader: Session | None = None
        self.cached: tuple[object, quotas.QuotaStatus] | None = None
        self.close_reader_wanted = False
        controller.session_closing.connect(self._close_reader)
        self.date = label("prompt")
        self.date.setObjectName("pageFacts")
        # 0. reviewers' comments asking for a correction (issue 13)
        self.review_box = QFrame()
        self.review_box.setObjectName("reviewNotice")
        self.review_box.setProperty("role", "problem")
        self.review_text = label("warning")
        self.review_text.setObjectName("reviewNoticeText")
        self.review_button = button("primary", "reviewNotesButton")
        self.review_button.clicked.connect(self._open_review_notes)
        review_row = QHBoxLayout(self.review_box)
        review_row.setContentsMargins(16, 12, 16, 12)
        review_row.addWidget(self.review_text, 1)
        review_row.addWidget(self.review_button)
        self.review_box.setVisible(False)
        self.review_dialog: QWidget | None = None
        # 1. overdue and due this week
        self.due_heading = label("heading")
        self.due_summary = label("fact")
        self.due_summary.setObjectName("dueSummary")
        self.due_rows_box = QVBoxLayout()
        self.due_rows_box.setSpacing(8)
        self.due_pool: list[DueRow] = []  # built as needed, kept, reused
        self.due_rows: list[DueRow] = []  # the ones shown now
        self.show_all = button("", "showAllDueButton")
        self.show_all.clicked.connect(self._show_all_due)
        # 2. progress per rule
        self.progress_heading = label("heading")
        self.progress_grid = QGridLayout()
        self.progress_grid.setHorizontalSpacing(16)
        self.progress_grid.setVerticalSpacing(8)
        self.progress_widgets: list[QWidget] = []
        self.progress_bars: dict[str, QProgressBar] = {}
        self.progress_numbers: dict[str, QLabel] = {}
        self.progress_names: dict[str, QLabel] = {}
        self.progress_extras: dict[str, QLabel] = {}
        # 3. today's patrols (as before)
        self.heading = label("heading")
        self.active_box = QFrame()
        self.active_box.setObjectName("activePatrol")
        self.active_text = label("fact")
        self.active_text.setObjectName("activePatrolText")
        self.continue_button = button("primary", "continuePatrolButton")
        self.continue_button.clicked.connect(lambda: self._open_patrol(None))
        box = QVBoxLayout(self.active_box)
        box.setContentsMargins(16, 12, 16, 12)
        box.addWidget(self.active_text)
        box.addWidget(self.continue_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.grid_facts = label("")
        self.grid_facts.setObjectName("gridFacts")
        self.rows = QGridLayout()
        self.rows.setHorizontalSpacing(24)
        self.rows.setVerticalSpacing(12)
        self.row_widgets: list[QWidget] = []
        self.grid_status: dict[str, QLabel] = {}
        self.start_buttons: dict[str, QPushButton] = {}
        self.start_any = button("primary", "startAnyPatrolButton")
        self.start_any.clicked.connect(lambda: self._open_patrol(None))

        body = QWidget()
        body.setObjectName("scrollBody")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(48, 24, 48, 32)
        layout.setSpacing(14)
        # Today's patrol first: the day's main action, its button in sight on opening.
        layout.addWidget(self.date)
        layout.addWidget(self.review_box)
        layout.addWidget(self.heading)
        layout.addWidget(self.active_box)
        layout.addWidget(self.grid_facts)
        layout.addLayout(self.rows)
        layout.addWidget(self.start_any, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.due_heading)
        layout.addWidget(self.due_summary)
        layout.addLayout(self.due_rows_box)
        layout.addWidget(self.show_all, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.progress_heading)
        layout.addLayout(self.progress_grid)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)


    # -- refresh -----------------------------------------------------------------
    def refresh(self) -> None:
        self.due_heading.setText(self.tr("逾期和本周到期"))
        self.progress_heading.setText(self.tr("本期进度"))
        self.heading.setText(self.tr("今天的巡查"))
        self.continue_button.setText(self.tr("继续巡查"))
        self.start_any.setText(self.tr("开始巡查"))
        self.show_all.setText(self.tr("查看全部"))
        session = self.controller.session
        if session is None or not session.is_open:
            self.date.setText("")
            self.active_box.setVisible(False)
            self.grid_facts.setVisible(False)
            self.start_any.setVisible(False)
            return
        today = quotas.local_time(session.clock(), devicetime.device_zone()).date()
        self.date.setText(QLocale().toString(QDate(today.year, today.month, today.day),
                                             QLocale.FormatType.LongFormat))
        self._refresh_reviews(session)
        grids = worker_grids(session)
        self._refresh_patrols(grids.grids, grids.enrolled)
        self._load_quotas(grids.grids)

    def _refresh_reviews(self, session: Session) -> None:
        asked = len(reviews.needing_correction(session))
        self.review_box.setVisible(asked > 0)
        self.review_text.setText(self.tr(
            "网格长或指导员对{n}条走访记录提出了意见，需要更正。").format(n=asked))
        self.review_button.setText(self.tr("查看意见"))

    def _open_review_notes(self) -> None:
        from ui.dialogs.review import ReviewNotesDialog

        dialog = ReviewNotesDialog(self.controller, self)
        dialog.finished.connect(lambda _r: self.refresh())
        self.review_dialog = dialog
        dialog.open()

    def _load_quotas(self, grids: list[str]) -> None:
        """Compute the quota figures on the thread pool (one run at a time)."""
        session = self.controller.session
        if session is None or not session.is_open:
            return
        if self.loading:
            self.reload_wanted = True
            return
        self.loading = True
        if self.status is None:
            self.due_summary.setText(self.tr("正在统计…"))
        run_task(lambda: self._compute(session, grids), self._quotas_ready,
                 self._quotas_failed)
        self._prepare_rows(session)

    def _prepare_rows(self, session: Session) -> None:
        """Build (hidden) the widgets the figures will fill, while the thread pool
        computes them: on the first refresh after unlock building them afterwards
        added ~60 ms to the wait."""
        while len(self.due_pool) < SHOWN_DUE:
            self._add_due_row()
        rule_ids = [rule.id for rule in quotas.rules_in_force(session.db)]
        if rule_ids != list(self.progress_bars):
            self._build_progress_rows(rule_ids)

    def _compute(self, session: Session, grids: list[str]) -> quotas.QuotaStatus:
        """On the thread pool: the figures, from the page's own connection (its page
        cache stays warm). Unchanged data (``PRAGMA data_version`` of that connection
        moves with every commit of another one), day and sub-periods: the last
        figures again, without scanning the registry."""
        if self.reader is None or not self.reader.is_open:
            self.reader = session.fork()
            self.reader.db.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
        reader = self.reader
        version = reader.db.execute("PRAGMA data_version").fetchone()[0]
        rules = quotas.rules_in_force(reader.db)
        today = quotas.local_time(reader.clock(), devicetime.device_zone())
        key = (version, today.date(), tuple(grids),
               tuple((r, quotas.span_at(r, today).start) for r in rules))
        if self.cached is not None and self.cached[0] == key:
            return self.cached[1]
        status = quotas.quota_status(reader, rules=rules, grids=grids, sample=SHOWN_DUE)
        self.cached = (key, status)
        return status

    def _close_reader(self) -> None:
        """The session is locking: the page's connection goes too (after a running
        computation, which is using it)."""
        if self.loading:
            self.close_reader_wanted = True
            return
        reader, self.reader, self.cached = self.reader, None, None
        self.close_reader_wanted = False
        if reader is not None:
            reader.close()

    def _quotas_ready(self, status: quotas.QuotaStatus) -> None:
        self.loading = False
        if self.close_reader_wanted:
            self._close_reader()
            return
        if self.reload_wanted:
            self.reload_wanted = False
            self.refresh()
            return
        self.status = status
        self.show_quotas(status)

    def _quotas_failed(self, exc: BaseException) -> None:
        self.loading = False
        if self.close_reader_wanted:
            self._close_reader()
            return
        log.warning("quota figures could not be computed: %s", exc)
        self.due_summary.setText(self.tr("现在无法统计走访任务，请稍后再打开本页。"))

    # -- showing -------------------------------------------------------------------
    def show_quotas(self, status: quotas.QuotaStatus) -> None:
        """Put the figures on screen, reusing the rows of the last time: building 20
        row widgets and a dozen progress widgets again cost a visible part of a refresh."""
        if status.overdue or status.due_soon:
            self.due_summary.setText(self.tr("逾期{overdue}户，本周到期{soon}户。").format(
                overdue=status.overdue, soon=status.due_soon))
        else:
            self.due_summary.setText(self.tr("没有逾期或本周到期的住户。"))
        while len(self.due_pool) < len(status.due):
            self._add_due_row()
        for row, item in zip(self.due_pool, status.due, strict=False):
            row.show_item(item, status.today)
        for index, row in enumerate(self.due_pool):
            row.setVisible(index < len(status.due))
        self.due_rows = self.due_pool[:len(status.due)]
        self.show_all.setVisible(status.overdue + status.due_soon > len(status.due))
        rule_ids = [progress.rule.id for progress in status.rules]
        if rule_ids != list(self.progress_bars):
            self._build_progress_rows(rule_ids)
        for progress in status.rules:
            self._show_progress(progress)

    def _add_due_row(self) -> None:
        row = DueRow()
        row.setVisible(False)  # until it has a household to show
        row.clicked.connect(lambda r=row: self._row_clicked(r))
        self.due_rows_box.addWidget(row)
        self.due_pool.append(row)

    def _row_clicked(self, row: DueRow) -> None:
        if row.item is not None:
            self.open_household(row.item.household_id)

    def _build_progress_rows(self, rule_ids: list[str]) -> None:
        """Name, bar, "done / total" and a line of details per rule (first time, or
        the centre sent other rules)."""
        for widget in self.progress_widgets:
            self.progress_grid.removeWidget(widget)
            widget.deleteLater()
        self.progress_widgets, self.progress_bars, self.progress_numbers = [], {}, {}
        self.progress_names, self.progress_extras = {}, {}
        for index, rule_id in enumerate(rule_ids):
            name = label("fact")
            bar = QProgressBar()
            bar.setObjectName(f"progress_{rule_id}")
            bar.setTextVisible(False)
            number = label("fact", wrap=False)
            number.setObjectName(f"progressNumber_{rule_id}")
            extra = label("muted")
            for widget in (name, bar, number, extra):
                widget.setVisible(False)  # until the figures are there
            self.progress_grid.addWidget(name, index * 2, 0)
            self.progress_grid.addWidget(bar, index * 2, 1)
            self.progress_grid.addWidget(number, index * 2, 2)
            self.progress_grid.addWidget(extra, index * 2 + 1, 0, 1, 3)
            self.progress_widgets += [name, bar, number, extra]
            self.progress_names[rule_id], self.progress_bars[rule_id] = name, bar
            self.progress_numbers[rule_id], self.progress_extras[rule_id] = number, extra
        self.progress_grid.setColumnStretch(0, 3)
        self.progress_grid.setColumnStretch(1, 2)

    def _show_progress(self, progress: quotas.RuleProgress) -> None:
        rule_id = progress.rule.id
        self.progress_names[rule_id].setText(rule_text(progress.rule))
        bar = self.progress_bars[rule_id]
        bar.setRange(0, max(progress.total, 1))
        bar.setValue(min(progress.done, max(progress.total, 1)))
        self.progress_numbers[rule_id].setText(f"{progress.done} / {progress.total}")
        if progress.rule.kind == "patrol":
            extra = self.tr("本月已有%n天巡查（本月第{so_far}天）", "",
                            progress.patrol_days).format(so_far=progress.days_so_far)
        else:
            extra = self.tr("{start}至{end}，逾期{overdue}户").format(
                start=progress.span.start.date().isoformat(),
                end=progress.span.last_day.isoformat(), overdue=progress.overdue)
        self.progress_extras[rule_id].setText(extra)
        for widget in (self.progress_names[rule_id], bar, self.progress_numbers[rule_id],
                       self.progress_extras[rule_id]):
            widget.setVisible(True)

    def _refresh_patrols(self, grid_ids: list[str], enrolled: bool) -> None:
        for widget in self.row_widgets:
            self.rows.removeWidget(widget)
            widget.deleteLater()
        self.row_widgets.clear()
        self.grid_status.clear()
        self.start_buttons.clear()
        session = self.controller.session
        assert session is not None
        active = patrols.active_patrol(session)
        self.active_box.setVisible(active is not None)
        if active is not None:
            self.active_text.setText(self.tr(
                "{grid}的巡查还没有结束：已检查{done}/{total}项。").format(
                grid=grid_label(active.grid_id), done=active.items_done,
                total=len(active.items)))
        done = patrols.today_status(session, grid_ids)
        if enrolled and not grid_ids:
            facts = self.tr("指挥中心还没有给您分配网格，请联系网格长或信息管理员。")
        elif enrolled:
            facts = self.tr("您负责的网格，每个网格每天至少巡查一次：")
        elif grid_ids:
            facts = self.tr("本设备还没有登记到指挥中心，不知道您负责哪些网格。"
                            "下面是本设备上巡查过的网格：")
        else:
            facts = self.tr("本设备还没有登记到指挥中心，不知道您负责哪些网格。"
                            "开始巡查时，输入要巡查的网格编号即可。")
        self.grid_facts.setText(facts)
        self.grid_facts.setVisible(True)
        for row, grid in enumerate(grid_ids):
            name = label("fact", wrap=False)
            name.setText(grid_label(grid))
            status = label("", wrap=True)
            status.setObjectName(f"todayStatus_{grid}")
            if done.get(grid):
                status.setText(self.tr("今天已巡查"))
                set_role(status, "done")
            else:
                status.setText(self.tr("今天还没有巡查"))
                set_role(status, "warning")
            self.rows.addWidget(name, row, 0)
            self.rows.addWidget(status, row, 1)
            self.row_widgets += [name, status]
            self.grid_status[grid] = status
            if active is None:
                start = button("primary", f"todayStart_{grid}")
                start.setText(self.tr("开始巡查"))
                start.clicked.connect(lambda _=False, g=grid: self._open_patrol(g))
                self.rows.addWidget(start, row, 2)
                self.row_widgets.append(start)
                self.start_buttons[grid] = start
        self.rows.setColumnStretch(1, 1)
        # Without grids (or enrolled grids to tap), one big button to the Patrol page.
        self.start_any.setVisible(active is None and not grid_ids)

    # -- navigation ------------------------------------------------------------------
    def open_household(self, household_id: str) -> None:
        view = self.controller.main_view
        if view is None:
            return
        opener = getattr(view, "open_household", None)
        if opener is not None:
            opener(household_id)
        else:
            view.show_page("households")

    def _show_all_due(self) -> None:
        view = self.controller.main_view
        if view is None:
            return
        view.show_page("households")
        show_due = getattr(view.pages["households"], "show_due", None)
        if show_due is not None:
            show_due()

    def _open_patrol(self, grid_id: str | None) -> None:
        view = self.controller.main_view
        if view is None:
            return
        page: PatrolPage = view.pages["patrol"]  # type: ignore[assignment]
        view.show_page("patrol")
        if grid_id is not None:
            page.start(grid_id)
