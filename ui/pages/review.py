"""Review (督导), for grid leaders and supervisors only: the month's figures per worker,
worst first, with a chart per measure and the trend over six months.

Pick the month (big ◀ ▶ buttons, this month first) and a grid or all of them; one row
per worker: score, patrol days against the rule, visits by household category against
the quotas, overdue households, events reported and closed, flags (tap: the reasons),
last sync, and 查看 for the drill-down (:class:`ui.dialogs.review_worker.WorkerDialog`).
图表: one bar chart per measure (QtCharts); 趋势: six months of the selected worker,
or of the grid when none is selected. 导出PDF / 导出Excel save the assessment
(:mod:`ui.review_report`) with the same numbers.

The figures (:func:`fieldclient.fieldwork.review.month_figures`, ~1 s over 20 grids) and
the six months are computed on the thread pool from the page's own connection, and kept
while the database has not changed (``PRAGMA data_version``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldclient.fieldwork import review, review_detail, reviews
from fieldclient.i18n import QT_TRANSLATE_NOOP
from ui.pages.base import Page
from ui.style import current_scale, metrics
from ui.tasks import run_task
from ui.widgets.basic import Retranslatable, button, label, scroll_area
from ui.widgets.patrol import ButtonGrid
from ui.widgets.review_charts import (
    CATEGORY_NAMES,
    CHART_WORKERS,
    MEASURE_NAMES,
    bar_chart,
    flag_count_text,
    grid_text,
    month_text,
    sync_text,
    translated,
    trend_chart,
)

if TYPE_CHECKING:
    from fieldclient.storage.session import Session
    from ui.controller import AppController

log = logging.getLogger("gridfield.ui")

TREND_MONTHS = 6
# what a reviewer acts on first (open, score, flags) comes first: at large text the
# table scrolls sideways
COLUMNS = ("name", "open", "score", "flags", "patrol", "visits", "hardship", "key",
           "ordinary", "overdue", "events", "last_sync")


class ChoiceDialog(Retranslatable, QDialog):
    """Big buttons, one per choice (the grid picker, a worker's flags)."""

    def __init__(self, heading: str, choices: list[tuple[str, str]], parent: QWidget,
                 columns: tuple[int, ...] = (3, 2, 1)) -> None:
        super().__init__(parent)
        self.setObjectName("choiceDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.chosen: str | None = None
        self.heading = label("prompt")
        self.heading.setText(heading)
        self.buttons: dict[str, QPushButton] = {}
        grid = ButtonGrid(columns)
        for key, text in choices:
            btn = button("", f"choice_{key}")
            btn.setText(text)
            btn.clicked.connect(lambda _=False, k=key: self.choose(k))
            grid.add_button(btn)
            self.buttons[key] = btn
        body = QWidget()
        box = QVBoxLayout(body)
        box.setContentsMargins(0, 0, 12, 0)
        box.addWidget(grid)
        box.addStretch(1)
        self.close_button = button("", "closeButton")
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addWidget(self.heading)
        layout.addWidget(scroll_area(body), 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignRight)
        self.retranslate()
        window = parent.window()
        self.resize(min(window.width() - 60, 900), min(window.height() - 80, 640))

    def retranslate(self) -> None:
        self.setWindowTitle(self.heading.text())
        self.close_button.setText(self.tr("关闭"))

    def choose(self, key: str) -> None:
        self.chosen = key
        self.accept()


class FlagsDialog(Retranslatable, QDialog):
    """A worker's flags of the month, each with its reason."""

    def __init__(self, worker: dict[str, Any], parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("flagsDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.worker = worker
        self.heading = label("prompt")
        self.reasons = []
        body = QWidget()
        box = QVBoxLayout(body)
        box.setContentsMargins(0, 0, 12, 0)
        for flag in worker["flags"]:
            line = label("warning")
            line.setObjectName(f"flag_{flag['check']}_{flag['record_id']}")
            line.setTextFormat(Qt.TextFormat.PlainText)
            self.reasons.append(line)
            box.addWidget(line)
        box.addStretch(1)
        self.close_button = button("primary", "closeButton")
        self.close_button.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addWidget(self.heading)
        layout.addWidget(scroll_area(body), 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignRight)
        self.retranslate()
        window = parent.window()
        self.resize(min(window.width() - 60, 1000), min(window.height() - 80, 640))

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("疑点"))
        self.heading.setText(self.tr("{name}：{n}条疑点，请抽查这些记录").format(
            name=self.worker["name"], n=len(self.worker["flags"])))
        for line, flag in zip(self.reasons, self.worker["flags"], strict=True):
            line.setText(self.tr("{reason}（记录 {record}）").format(
                reason=review.flag_reason(flag), record=flag["record_id"]))
        self.close_button.setText(self.tr("关闭"))


class ReviewPage(Page):
    key = "review"
    title_source = QT_TRANSLATE_NOOP("ReviewPage", "督导")
    reviewers_only = True  # shown in the navigation to leaders and supervisors only

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        from PySide6.QtCharts import QChartView  # here: unlock does not load QtCharts

        super().__init__(controller, parent)
        self.month: str | None = None
        self.grid: str | None = None
        self.measure = "score"
        self.view = "table"
        self.selected: str | None = None  # person_id for the trend
        self.figures: dict[str, Any] | None = None
        self.months: list[dict[str, Any]] | None = None
        self.reader: Session | None = None
        self.cache: dict[tuple[Any, ...], Any] = {}
        self.loading = False
        self.trend_loading = False
        self.reload_wanted = False
        self.close_reader_wanted = False
        self.dialog: QDialog | None = None
        self.open_buttons: dict[str, QPushButton] = {}
        self.flag_buttons: dict[str, QPushButton] = {}
        controller.session_closing.connect(self._close_reader)

        self.prev_button = button("", "prevMonthButton")
        self.prev_button.clicked.connect(lambda: self.shift(-1))
        self.month_label = label("fact", wrap=False)
        self.month_label.setObjectName("reviewMonth")
        self.month_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.next_button = button("", "nextMonthButton")
        self.next_button.clicked.connect(lambda: self.shift(1))
        self.grid_button = button("", "gridButton")
        self.grid_button.clicked.connect(self.pick_grid)
        self.pdf_button = button("", "pdfButton")
        self.pdf_button.clicked.connect(lambda: self.export("pdf"))
        self.xlsx_button = button("", "xlsxButton")
        self.xlsx_button.clicked.connect(lambda: self.export("xlsx"))
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.prev_button)
        top.addWidget(self.month_label)
        top.addWidget(self.next_button)
        top.addStretch(1)
        top.addWidget(self.grid_button)

        self.view_buttons: dict[str, QPushButton] = {}
        views = QHBoxLayout()
        views.setSpacing(8)
        for key in ("table", "charts", "trend"):
            btn = button("groupTab", f"view_{key}")
            btn.setCheckable(True)
            btn.clicked.connect(lambda _=False, k=key: self.show_view(k))
            self.view_buttons[key] = btn
            views.addWidget(btn)
        views.addStretch(1)
        views.addWidget(self.pdf_button)
        views.addWidget(self.xlsx_button)
        self.summary = label("fact")
        self.summary.setObjectName("reviewSummary")

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("reviewTable")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setWordWrap(True)
        self.table.itemSelectionChanged.connect(self._row_selected)
        self.empty = label("empty")
        self.empty.setObjectName("reviewEmpty")

        self.measure_grid = ButtonGrid((7, 4))
        self.measure_buttons: dict[str, QPushButton] = {}
        for measure in MEASURE_NAMES:
            btn = button("groupTab", f"measure_{measure}")
            btn.setCheckable(True)
            btn.clicked.connect(lambda _=False, m=measure: self.set_measure(m))
            self.measure_buttons[measure] = btn
            self.measure_grid.add_button(btn)
        self.chart_view = QChartView()
        self.chart_view.setObjectName("reviewChart")
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.trend_view = QChartView()
        self.trend_view.setObjectName("reviewTrend")
        self.trend_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        for chart_view in (self.chart_view, self.trend_view):
            chart_view.setMinimumSize(240, 120)  # the page scrolls nothing: charts give way
        self.trend_note = label("muted")
        self.trend_note.setObjectName("trendNote")
        self.chart_note = label("muted")

        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.empty)
        tl.addWidget(self.table, 1)
        chart_box = QWidget()
        cl = QVBoxLayout(chart_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.chart_view, 1)
        cl.addWidget(self.chart_note)
        trend_box = QWidget()
        rl = QVBoxLayout(trend_box)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.trend_note)
        rl.addWidget(self.trend_view, 1)
        self.stack = QStackedWidget()
        for widget in (table_box, chart_box, trend_box):
            self.stack.addWidget(widget)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addLayout(views)
        layout.addWidget(self.summary)
        layout.addWidget(self.measure_grid)
        layout.addWidget(self.stack, 1)
        self.show_view("table", load=False)
        self.set_measure("score", draw=False)
        self.retranslate_texts()

    # -- texts ---------------------------------------------------------------------
    def retranslate_texts(self) -> None:
        self.prev_button.setText(self.tr("◀ 上月"))
        self.prev_button.setAccessibleName(self.tr("上个月"))
        self.next_button.setText(self.tr("下月 ▶"))
        self.next_button.setAccessibleName(self.tr("下个月"))
        self.pdf_button.setText("PDF")
        self.pdf_button.setAccessibleName(self.tr("导出PDF报表"))
        self.xlsx_button.setText("Excel")
        self.xlsx_button.setAccessibleName(self.tr("导出Excel报表"))
        self.view_buttons["table"].setText(self.tr("人员列表"))
        self.view_buttons["charts"].setText(self.tr("图表"))
        self.view_buttons["trend"].setText(self.tr("近六个月"))
        for measure, btn in self.measure_buttons.items():
            btn.setText(translated(MEASURE_NAMES[measure]))
        self.measure_grid.texts = [b.text() for b in self.measure_grid.buttons]
        self.measure_grid.arrange(force=True)
        self.grid_button.setText(grid_text(self.grid) + " ▾")
        if self.month is not None:
            self.month_label.setText(month_text(self.month))
        self.table.setHorizontalHeaderLabels([
            self.tr("姓名"), "", self.tr("得分"), self.tr("疑点"), self.tr("巡查天数"),
            self.tr("走访"), translated(CATEGORY_NAMES["hardship"]),
            translated(CATEGORY_NAMES["key"]), translated(CATEGORY_NAMES["ordinary"]),
            self.tr("逾期户"), self.tr("事件 报/结"), self.tr("最近同步")])

    def retranslate(self) -> None:
        self.retranslate_texts()
        if self.figures is not None:
            self.show_figures()

    # -- loading -------------------------------------------------------------------
    def _session(self) -> Session | None:
        session = self.controller.session
        return session if session is not None and session.is_open else None

    def refresh(self) -> None:
        session = self._session()
        if session is None:
            return
        if not reviews.can_review(session):
            self.figures = None
            self.empty.setText(self.tr("只有网格长和网格指导员可以查看督导考核。"))
            self.empty.setVisible(True)
            self.table.setVisible(False)
            return
        if self.month is None:
            self.month = review_detail.this_month(session)
        self.load()

    def shift(self, delta: int) -> None:
        if self.month is None:
            return
        self.month = review_detail.shift_month(self.month, delta)
        self.selected = None
        self.load()

    def set_grid(self, grid: str | None) -> None:
        self.grid = grid
        self.selected = None
        self.load()

    def _reader(self, session: Session) -> Session:
        if self.reader is None or not self.reader.is_open:
            self.reader = session.fork()
        return self.reader

    def _cached(self, reader: Session, key: tuple[Any, ...], compute: Any) -> Any:
        version = reader.db.execute("PRAGMA data_version").fetchone()[0]
        minute = int(reader.clock() // 60)
        full = (version, minute, *key)
        if full not in self.cache:
            if len(self.cache) > 24:
                self.cache.clear()
            self.cache[full] = compute()
        return self.cache[full]

    def load(self) -> None:
        """The month's figures on the thread pool (one run at a time)."""
        session = self._session()
        if session is None or self.month is None:
            return
        self.month_label.setText(month_text(self.month))
        self.grid_button.setText(grid_text(self.grid) + " ▾")
        this = review_detail.this_month(session)
        self.next_button.setEnabled(self.month < this)
        if self.loading:
            self.reload_wanted = True
            return
        self.loading = True
        self.summary.setText(self.tr("正在统计…"))
        reader = self._reader(session)
        month, grid = self.month, self.grid
        run_task(lambda: self._cached(reader, ("month", month, grid),
                                      lambda: review.month_figures(reader, month, grid)),
                 self._figures_ready, self._figures_failed)

    def _figures_ready(self, figures: dict[str, Any]) -> None:
        self.loading = False
        if self.close_reader_wanted:
            self._close_reader()
            return
        if self.reload_wanted or figures["month"] != self.month or figures["grid"] != self.grid:
            self.reload_wanted = False
            self.load()
            return
        self.figures = figures
        self.months = None
        self.show_figures()
        if self.view == "trend":
            self.load_trend()

    def _figures_failed(self, exc: BaseException) -> None:
        self.loading = False
        if self.close_reader_wanted:
            self._close_reader()
            return
        log.warning("review figures could not be computed: %s", exc)
        self.summary.setText(self.tr("现在无法统计，请稍后再打开本页。"))

    def load_trend(self) -> None:
        session = self._session()
        if session is None or self.month is None or self.trend_loading:
            return
        self.trend_loading = True
        self.trend_note.setText(self.tr("正在统计近六个月…"))
        reader = self._reader(session)
        month, grid = self.month, self.grid
        run_task(lambda: self._cached(
            reader, ("trend", month, grid),
            lambda: review_detail.trend(reader, month, grid, TREND_MONTHS)),
            self._trend_ready, self._trend_failed)

    def _trend_ready(self, months: list[dict[str, Any]]) -> None:
        self.trend_loading = False
        if self.close_reader_wanted:
            self._close_reader()
            return
        if not months or months[-1]["month"] != self.month or months[-1]["grid"] != self.grid:
            self.load_trend()
            return
        self.months = months
        self.draw_trend()

    def _trend_failed(self, exc: BaseException) -> None:
        self.trend_loading = False
        log.warning("review trend could not be computed: %s", exc)
        self.trend_note.setText(self.tr("现在无法统计近六个月，请稍后再试。"))

    def _close_reader(self) -> None:
        if self.loading or self.trend_loading:
            self.close_reader_wanted = True
            return
        reader, self.reader = self.reader, None
        self.cache.clear()
        self.close_reader_wanted = False
        if reader is not None:
            reader.close()

    # -- showing -------------------------------------------------------------------
    def workers(self) -> list[dict[str, Any]]:
        return list(self.figures["workers"]) if self.figures else []

    def show_figures(self) -> None:
        workers = self.workers()
        flags = sum(len(w["flags"]) for w in workers)
        self.summary.setText(self.tr("{n}人，疑点{flags}条，从最需要关注的排起").format(
            n=len(workers), flags=flags))
        self.empty.setText(self.tr("这个月没有可统计的人员。"))
        self.empty.setVisible(not workers)
        self.table.setVisible(bool(workers))
        self.fill_table(workers)
        self.draw_chart()
        if self.months is not None:
            self.draw_trend()

    def fill_table(self, workers: list[dict[str, Any]]) -> None:
        m = metrics(current_scale())
        table = self.table
        table.clearContents()
        table.setRowCount(len(workers))
        self.open_buttons.clear()
        self.flag_buttons.clear()
        for row, w in enumerate(workers):
            quota, by = w["quota"], w["visits_by_category"]

            def cat(c: str, q: dict[str, Any] = quota, b: dict[str, Any] = by) -> str:
                return self.tr("{visits}次\n已访{seen}/{total}户").format(
                    visits=b.get(c, 0), seen=q[c]["visited"], total=q[c]["households"])

            cells = [
                w["name"] or w["person_id"], "", f"{w['score']:g}", "",
                f"{w['patrol_days']}/{w['patrol_target']}", str(w["visits"]),
                cat("hardship"), cat("key"), cat("ordinary"), str(w["overdue_households"]),
                f"{w['events_reported']}/{w['events_closed']}", sync_text(w["last_sync"])]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, w["person_id"])
                if COLUMNS[col] not in ("name", "last_sync"):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if COLUMNS[col] == "score" and w["score"] < 60:
                    item.setForeground(QColor("#9b0000"))
                table.setItem(row, col, item)
            flags = len(w["flags"])
            flag_button = button("" if not flags else "danger", f"flags_{w['person_id']}")
            flag_button.setText(flag_count_text(flags))
            flag_button.setEnabled(bool(flags))
            flag_button.clicked.connect(lambda _=False, p=w: self.show_flags(p))
            table.setCellWidget(row, COLUMNS.index("flags"), flag_button)
            self.flag_buttons[w["person_id"]] = flag_button
            open_button = button("primary", f"open_{w['person_id']}")
            open_button.setText(self.tr("查看"))
            open_button.clicked.connect(lambda _=False, p=w: self.open_worker(p))
            table.setCellWidget(row, COLUMNS.index("open"), open_button)
            self.open_buttons[w["person_id"]] = open_button
            table.setRowHeight(row, max(m["touch"] + 12, round(m["base"] * 3.4)))
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(m["base"] * 3)
        if self.selected is not None:
            for row, w in enumerate(workers):
                if w["person_id"] == self.selected:
                    table.selectRow(row)

    def _row_selected(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        workers = self.workers()
        self.selected = workers[min(rows)]["person_id"] if rows and workers else None
        if self.months is not None:
            self.draw_trend()

    def show_view(self, view: str, load: bool = True) -> None:
        self.view = view
        for key, btn in self.view_buttons.items():
            btn.setChecked(key == view)
            btn.updateGeometry()  # a chosen tab's border is thicker
        self.stack.setCurrentIndex(("table", "charts", "trend").index(view))
        self.measure_grid.setVisible(view != "table")
        self.summary.setVisible(view == "table")  # the charts have their own titles
        if view == "trend" and load and self.months is None:
            self.load_trend()

    def set_measure(self, measure: str, draw: bool = True) -> None:
        self.measure = measure
        for key, btn in self.measure_buttons.items():
            btn.setChecked(key == measure)
            btn.updateGeometry()  # a chosen tab's border is thicker
        if draw:
            self.draw_chart()
            if self.months is not None:
                self.draw_trend()

    def draw_chart(self) -> None:
        workers = self.workers()
        name = translated(MEASURE_NAMES[self.measure])
        chart = bar_chart(workers, self.measure, current_scale(), self.tr(
            "{month} {grid}：{measure}").format(month=month_text(self.month or "2000-01"),
                                              grid=grid_text(self.grid), measure=name))
        self.chart_view.setChart(chart)
        self.chart = chart
        self.chart_note.setText(self.tr("只画出最需要关注的{n}人，全部人员见人员列表。").format(
            n=CHART_WORKERS) if len(workers) > CHART_WORKERS else "")
        self.chart_note.setVisible(bool(self.chart_note.text()))

    def draw_trend(self) -> None:
        if self.months is None:
            return
        person = self.selected
        who = next((w["name"] for w in self.workers() if w["person_id"] == person), None)
        name = translated(MEASURE_NAMES[self.measure])
        if who is None:
            person = None
            note = (self.tr("{grid}合计（得分为平均分）。在人员列表中点一行，看这个人的趋势。")
                    .format(grid=grid_text(self.grid)))
            title = self.tr("{grid}：近六个月{measure}").format(grid=grid_text(self.grid),
                                                            measure=name)
        else:
            note = self.tr("{name}的趋势。").format(name=who)
            title = self.tr("{name}：近六个月{measure}").format(name=who, measure=name)
        self.trend_note.setText(note)
        chart = trend_chart(self.months, self.measure, person, current_scale(), title)
        self.trend_view.setChart(chart)
        self.trend = chart

    # -- actions -------------------------------------------------------------------
    def pick_grid(self) -> None:
        session = self._session()
        if session is None:
            return
        from fieldclient.fieldwork import quotas

        grids = quotas.worker_grids(session.db)
        dialog = ChoiceDialog(self.tr("看哪个网格？"),
                              [("all", grid_text(None))] + [(g, grid_text(g)) for g in grids],
                              self)
        dialog.accepted.connect(
            lambda: self.set_grid(None if dialog.chosen in (None, "all") else dialog.chosen))
        self.dialog = dialog
        dialog.open()

    def show_flags(self, worker: dict[str, Any]) -> None:
        dialog = FlagsDialog(worker, self)
        self.dialog = dialog
        dialog.open()

    def open_worker(self, worker: dict[str, Any]) -> None:
        from ui.dialogs.review_worker import WorkerDialog

        if self.figures is None or self.month is None:
            return
        dialog = WorkerDialog(self.controller, worker, self.figures, self.month, self.grid,
                              self)
        self.dialog = dialog
        dialog.open()

    def export(self, kind: str) -> None:
        from ui.review_report import export_report

        if self.figures is None:
            return
        self.dialog = export_report(self.controller, self.figures, kind, self)
