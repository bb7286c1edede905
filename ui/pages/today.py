"""Today: the date, the patrol under way, and per grid whether today's patrol is done."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QDate, QLocale, Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from fieldclient import patrols
from ui.pages.base import Page
from ui.patrol_common import grid_label, worker_grids
from ui.widgets import button, label, set_role

if TYPE_CHECKING:
    from ui.controller import AppController
    from ui.pages.patrol import PatrolPage


class TodayPage(Page):
    key = "today"

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.date = label("prompt")
        self.date.setObjectName("pageFacts")
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
        self.later = label("muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 32, 48, 32)
        layout.setSpacing(18)
        layout.addWidget(self.date)
        layout.addWidget(self.heading)
        layout.addWidget(self.active_box)
        layout.addWidget(self.grid_facts)
        layout.addLayout(self.rows)
        layout.addWidget(self.start_any, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        layout.addWidget(self.later)

    def title(self) -> str:
        return self.tr("今天")

    def refresh(self) -> None:
        self.date.setText(QLocale().toString(QDate.currentDate(), QLocale.FormatType.LongFormat))
        self.heading.setText(self.tr("今天的巡查"))
        self.continue_button.setText(self.tr("继续巡查"))
        self.start_any.setText(self.tr("开始巡查"))
        self.later.setText(self.tr(
            "走访和指挥中心派来的任务，会在本设备登记到指挥中心并同步后显示在这里。"))
        for widget in self.row_widgets:
            self.rows.removeWidget(widget)
            widget.deleteLater()
        self.row_widgets.clear()
        self.grid_status.clear()
        self.start_buttons.clear()
        session = self.controller.session
        if session is None or not session.is_open:
            self.active_box.setVisible(False)
            self.grid_facts.setVisible(False)
            self.start_any.setVisible(False)
            return
        active = patrols.active_patrol(session)
        self.active_box.setVisible(active is not None)
        if active is not None:
            self.active_text.setText(self.tr(
                "{grid}的巡查还没有结束：已检查{done}/{total}项。").format(
                grid=grid_label(active.grid_id), done=active.items_done,
                total=len(active.items)))
        grids = worker_grids(session)
        done = patrols.today_status(session, grids.grids)
        if grids.enrolled and not grids.grids:
            facts = self.tr("指挥中心还没有给您分配网格，请联系网格长或信息管理员。")
        elif grids.enrolled:
            facts = self.tr("您负责的网格，每个网格每天至少巡查一次：")
        elif grids.grids:
            facts = self.tr("本设备还没有登记到指挥中心，不知道您负责哪些网格。"
                            "下面是本设备上巡查过的网格：")
        else:
            facts = self.tr("本设备还没有登记到指挥中心，不知道您负责哪些网格。"
                            "开始巡查时，输入要巡查的网格编号即可。")
        self.grid_facts.setText(facts)
        self.grid_facts.setVisible(True)
        for row, grid in enumerate(grids.grids):
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
                start = button("", f"todayStart_{grid}")
                start.setText(self.tr("开始巡查"))
                start.clicked.connect(lambda _=False, g=grid: self._open_patrol(g))
                self.rows.addWidget(start, row, 2)
                self.row_widgets.append(start)
                self.start_buttons[grid] = start
        self.rows.setColumnStretch(1, 1)
        # Without grids (or enrolled grids to tap), one big button to the Patrol page.
        self.start_any.setVisible(active is None and not grids.grids)

    def _open_patrol(self, grid_id: str | None) -> None:
        view = self.controller.main_view
        if view is None:
            return
        page: PatrolPage = view.pages["patrol"]  # type: ignore[assignment]
        view.show_page("patrol")
        if grid_id is not None:
            page.start(grid_id)
