"""Households: search as you type (name, pinyin, initials, address, number tails),
filters (category, tag, visit due), a list model paged as the worker scrolls, and the
detail view of one household.

Searches run off the UI thread on the page's own connection (:meth:`Session.fork`,
kept while unlocked, closed at lock): the first search after a first pull indexes
every household (seconds), later ones take milliseconds. Each search carries a
generation number; an answer to an older one is dropped. Typing waits a moment
(debounce) before searching.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QHideEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fieldclient.fieldwork import quotas
from fieldclient.fieldwork.search import PAGE, forget, search_households
from fieldclient.i18n import QT_TRANSLATE_NOOP
from ui.dialogs.household import HouseholdDialog
from ui.pages.base import Page
from ui.pages.household_detail import HouseholdDetail
from ui.patrol_common import worker_grids
from ui.patrol_tracker import recent_fix
from ui.tasks import run_task
from ui.widgets.basic import button, clear_button, label
from ui.widgets.household_list import HouseholdDelegate, HouseholdListModel, Row

if TYPE_CHECKING:
    from fieldclient.storage.session import Session
    from ui.controller import AppController

log = logging.getLogger("gridfield.ui")
DEBOUNCE_MS = 250
SLOW_MS = 1500
READER_CACHE_KIB = 32 * 1024
CATEGORY_FILTERS = ("all", "ordinary", "hardship", "key")


@dataclass(frozen=True)
class Query:
    text: str
    category: str | None
    tag: str | None
    due_only: bool


@dataclass(frozen=True)
class Answer:
    generation: int
    offset: int
    rows: list[Row]
    has_more: bool
    total_households: int


class _Reader:
    """The page's own connection, opened on the worker thread when first needed, and
    closed at lock: at once if idle, else by the search still running on it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.session: Session | None = None
        self.close_wanted = False

    def run(self, main: Session, query: Query, offset: int) -> tuple[list[Row], bool, int]:
        with self.lock:
            try:
                return self._run(main, query, offset)
            finally:
                if self.close_wanted:
                    self._close()

    def _run(self, main: Session, query: Query, offset: int) -> tuple[list[Row], bool, int]:
        if self.session is None or not self.session.is_open:
            self.close_wanted = False
            self.session = main.fork()
            self.session.db.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
        session = self.session
        hits = search_households(
            session, query.text, category=query.category, tag=query.tag,
            due_only=query.due_only, limit=PAGE + 1, offset=offset)
        rows = []
        for hit in hits[:PAGE]:
            due = quotas.household_due(session, hit.household_id)
            soon = due is not None and (due.overdue or (due.due_date - date.today()).days <= 7)
            rows.append(Row(hit, due if soon else None))
        total = -1  # only wanted to tell "nothing here yet" from "nothing found"
        if not rows and offset == 0:
            total = int(session.db.execute(
                "SELECT count(*) FROM (SELECT 1 FROM households LIMIT 1)").fetchone()[0])
        return rows, len(hits) > PAGE, total

    def _close(self) -> None:
        session, self.session = self.session, None
        self.close_wanted = False
        if session is not None:
            forget(session)
            session.close()

    def close(self) -> None:
        if self.lock.acquire(blocking=False):
            try:
                self._close()
            finally:
                self.lock.release()
        else:
            self.close_wanted = True  # a search is running on it: it closes it after


class HouseholdsPage(Page):
    key = "households"
    title_source = QT_TRANSLATE_NOOP("HouseholdsPage", "住户")

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.generation = 0
        self.reader = _Reader()
        self.busy = 0
        self.tag: str | None = None
        self.pending_household: str | None = None
        self.dialog: QWidget | None = None
        self.closed = False  # locked: the page is going away, late answers are dropped
        controller.session_closing.connect(self._session_closing)
        # -- list view --
        self.search = QLineEdit()
        self.search.setObjectName("householdSearch")
        self.search_clear = clear_button(self.search, "householdSearchClear")
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self.run_search)
        self.search.textChanged.connect(lambda _t: self.debounce.start())
        self.slow = QTimer(self)  # a search still running after this: say why
        self.slow.setSingleShot(True)
        self.slow.setInterval(SLOW_MS)
        self.slow.timeout.connect(self._show_busy)
        self.add_button = button("primary", "addHouseholdButton")
        self.add_button.clicked.connect(self.add_household)
        self.filter_group = QButtonGroup(self)
        self.filter_buttons: dict[str, QPushButton] = {}
        filters = QHBoxLayout()
        filters.setSpacing(8)
        for value in CATEGORY_FILTERS:
            btn = button("groupTab", f"filter_{value}")
            btn.setCheckable(True)
            btn.clicked.connect(self.run_search)
            self.filter_group.addButton(btn)
            self.filter_buttons[value] = btn
            filters.addWidget(btn)
        self.filter_buttons["all"].setChecked(True)
        self.due_button = button("groupTab", "filter_due")
        self.due_button.setCheckable(True)
        self.due_button.clicked.connect(self.run_search)
        self.tag_button = button("groupTab", "filter_tag")
        self.tag_button.clicked.connect(self.choose_tag)
        filters.addStretch(1)
        search_row = QHBoxLayout()
        search_row.setSpacing(16)
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.search_clear)
        search_row.addWidget(self.add_button)
        self.status = label("muted")
        self.status.setObjectName("householdStatus")
        # due and tag filters share the status line: one row of buttons must fit 940 px
        # at 175 % text in English
        status_row = QHBoxLayout()
        status_row.setSpacing(8)
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.due_button)
        status_row.addWidget(self.tag_button)
        self.empty = label("empty")
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.model = HouseholdListModel(self.fetch_more)
        self.view = QListView()
        self.view.setObjectName("householdList")
        self.view.setModel(self.model)
        self.view.setItemDelegate(HouseholdDelegate(date.today, self.view))
        self.view.setUniformItemSizes(True)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.clicked.connect(self._clicked)
        self.view.activated.connect(self._clicked)
        list_page = QWidget()
        list_layout = QVBoxLayout(list_page)
        list_layout.setContentsMargins(32, 16, 32, 8)
        list_layout.setSpacing(12)
        list_layout.addLayout(search_row)
        list_layout.addLayout(filters)
        list_layout.addLayout(status_row)
        list_layout.addWidget(self.empty)
        list_layout.addWidget(self.view, 1)
        # -- detail view --
        self.detail = HouseholdDetail(controller)
        self.detail.back.connect(self.show_list)
        self.detail.changed.connect(self.run_search)
        self.stack = QStackedWidget()
        self.stack.addWidget(list_page)
        self.stack.addWidget(self.detail)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.list_page = list_page
        self.retranslate_texts()

    # -- page ---------------------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        session = self.controller.session
        return session if session is not None and session.is_open else None

    def refresh(self) -> None:
        if self.stack.currentWidget() is self.detail:
            if not self.detail.reload():
                self.show_list()
            return
        self.run_search()

    def retranslate(self) -> None:
        self.retranslate_texts()
        self.detail.retranslate()
        self.refresh()

    def retranslate_texts(self) -> None:
        self.search.setPlaceholderText(self.tr("输入姓名、拼音首字母、地址或电话尾号"))
        self.add_button.setText(self.tr("新增住户"))
        names = {"all": self.tr("全部"), "ordinary": self.tr("一般"),
                 "hardship": self.tr("困难"), "key": self.tr("重点")}
        for value, btn in self.filter_buttons.items():
            btn.setText(names[value])
        self.due_button.setText(self.tr("待走访"))
        self.tag_button.setText(self.tr("标签：{tag}").format(tag=self.tag) if self.tag
                                else self.tr("按标签"))

    # -- search -------------------------------------------------------------------------
    def query(self) -> Query:
        category = next((v for v, b in self.filter_buttons.items() if b.isChecked()), "all")
        return Query(self.search.text(), None if category == "all" else category, self.tag,
                     self.due_button.isChecked())

    def run_search(self) -> None:
        """Search now (the list restarts at its first page); older answers are dropped."""
        self.debounce.stop()
        session = self.session
        self.generation += 1
        if session is None:
            self.model.reset([], False)
            self._show_empty(0)
            return
        generation, query = self.generation, self.query()
        self._start(generation, query, 0, session)

    def fetch_more(self, offset: int) -> None:
        session = self.session
        if session is None:
            return
        self._start(self.generation, self.query(), offset, session)

    def _start(self, generation: int, query: Query, offset: int, session: Session) -> None:
        self.busy += 1
        if self.busy == 1:
            self.slow.start()
        self._show_busy()
        reader = self.reader

        def work() -> Answer:
            rows, more, total = reader.run(session, query, offset)
            return Answer(generation, offset, rows, more, total)

        run_task(work, self._answered, self._failed)

    def _answered(self, answer: Answer) -> None:
        if self.closed:
            return
        self.busy -= 1
        if answer.generation != self.generation:
            self._show_busy()
            return  # typed on meanwhile: a newer search is coming
        if answer.offset == 0:
            self.model.reset(answer.rows, answer.has_more)
            self._show_empty(answer.total_households)
        else:
            self.model.append(answer.rows, answer.has_more)
        self._show_busy()

    def _failed(self, exc: BaseException) -> None:
        if self.closed:
            return
        self.busy -= 1
        self.model.loading_more = False
        self._show_busy()
        if self.session is None:  # locked meanwhile
            return
        log.warning("household search failed: %s", exc)
        self.status.setText(self.tr("现在无法查找住户，请稍后再试。"))

    def _show_busy(self) -> None:
        if self.busy > 0 and not self.slow.isActive():
            # the first search after a first sync indexes every household
            self.status.setText(self.tr("正在整理住户信息，同步了很多住户后第一次查找要等一会儿……"))
        elif self.busy > 0:
            self.status.setText(self.tr("正在查找……"))
        elif self.model.rowCount():  # exact once every page is in; counting all costs
            count = self.model.rowCount()
            self.status.setText(self.tr("找到%n户以上", "", count) if self.model.has_more
                                else self.tr("找到%n户", "", count))
        else:
            self.status.setText("")

    def _show_empty(self, total: int) -> None:
        found = self.model.rowCount() > 0
        self.view.setVisible(found)
        self.empty.setVisible(not found)
        if found:
            return
        if total == 0 and not self.search.text().strip():
            self.empty.setText(self.tr(
                "本设备上还没有住户信息。\n\n本设备登记到指挥中心并同步后，"
                "您负责的网格里的住户会显示在这里，可以查看住户并记录走访。"))
        else:
            self.empty.setText(self.tr(
                "没有找到符合条件的住户。\n\n可以换个写法，例如只输入姓名的拼音首字母"
                "（张三丰：zsf），或者去掉上面的筛选。"))

    def choose_tag(self) -> None:
        session = self.session
        if session is None:
            return
        from fieldclient.fieldwork.search import all_tags

        menu = QMenu(self)
        menu.setObjectName("tagMenu")
        clear = menu.addAction(self.tr("不按标签"))
        clear.triggered.connect(lambda: self._set_tag(None))
        for tag in all_tags(session)[:30]:
            action = menu.addAction(tag)
            action.triggered.connect(lambda _=False, t=tag: self._set_tag(t))
        menu.popup(self.tag_button.mapToGlobal(self.tag_button.rect().bottomLeft()))
        self.dialog = menu

    def _set_tag(self, tag: str | None) -> None:
        self.tag = tag
        self.retranslate_texts()
        self.run_search()

    # -- detail ---------------------------------------------------------------------------
    def _clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.show_household(self.model.household_id(index.row()))

    def show_household(self, household_id: str) -> None:
        """Open the detail view of ``household_id`` (contract: MainView.open_household)."""
        if self.detail.show_household(household_id):
            self.stack.setCurrentWidget(self.detail)

    def show_list(self) -> None:
        self.detail.hide_revealed()
        self.stack.setCurrentWidget(self.list_page)
        self.run_search()

    def show_due(self) -> None:
        """The list of households due or overdue for a visit (Today's "查看全部"): any
        search text and category cleared, so none of them is hidden."""
        self.search.clear()
        self.tag = None
        self.filter_buttons["all"].setChecked(True)
        self.due_button.setChecked(True)
        self.retranslate_texts()
        if self.stack.currentWidget() is not self.list_page:
            self.detail.hide_revealed()
            self.stack.setCurrentWidget(self.list_page)
        self.run_search()

    def add_household(self) -> None:
        session = self.session
        if session is None:
            return
        opened: Callable[[str], None] = self.show_household
        dialog = HouseholdDialog(session, worker_grids(session).grids, None,
                                 on_saved=lambda hid: QTimer.singleShot(0, lambda: opened(hid)),
                                 parent=self.window(),
                                 fix=recent_fix(self.controller, session.clock()))
        self.dialog = dialog
        dialog.open()

    def hideEvent(self, event: QHideEvent) -> None:
        self.detail.hide_revealed()  # leaving the page: nothing stays in clear
        super().hideEvent(event)

    def _session_closing(self) -> None:
        self.closed = True
        self.slow.stop()
        self.debounce.stop()
        self.detail.hide_revealed()
        self.generation += 1
        self.stack.setCurrentWidget(self.list_page)
        self.reader.close()
