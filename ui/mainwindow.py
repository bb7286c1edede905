"""The unlocked main view: big navigation on the left, header with title, sync state, Lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.pages import PAGE_CLASSES, Page
from ui.pages.tasks import TasksPage
from ui.widgets.basic import Retranslatable, button, label
from ui.widgets.sync_indicator import SyncIndicator

if TYPE_CHECKING:
    from ui.controller import AppController


class _Pages(dict[str, Page]):
    """The main view's pages, each built the first time it is wanted: unlocking
    builds only the first page shown. Looking one up builds it; going over all of
    them (``items()``, ``for key in``) builds them all."""

    def __init__(self, build: Callable[[str], Page]) -> None:
        super().__init__()
        self._build = build

    def __missing__(self, key: str) -> Page:
        if key not in PAGE_KEYS:
            raise KeyError(key)
        page = self._build(key)
        self[key] = page
        return page

    def built(self) -> list[Page]:
        return list(super().values())

    def _all(self) -> None:
        for key in PAGE_KEYS:
            self[key]  # builds it

    def __iter__(self) -> Iterator[str]:
        self._all()
        return iter(PAGE_KEYS)

    def __len__(self) -> int:
        return len(PAGE_KEYS)

    def keys(self) -> Any:
        self._all()
        return super().keys()

    def values(self) -> Any:
        self._all()
        return super().values()

    def items(self) -> Any:
        self._all()
        return super().items()


PAGE_KEYS = tuple(cls.key for cls in PAGE_CLASSES)


class MainView(Retranslatable, QWidget):
    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainView")
        self.controller = controller
        self.pages = _Pages(self._build_page)
        self.nav_buttons: dict[str, QPushButton] = {}

        self.nav = QFrame()
        self.nav.setObjectName("nav")
        nav_layout = QVBoxLayout(self.nav)
        nav_layout.setContentsMargins(8, 12, 8, 12)
        nav_layout.setSpacing(6)
        self.nav_group = QButtonGroup(self)
        self.stack = QStackedWidget()
        for cls in PAGE_CLASSES:
            btn = button("nav", f"nav_{cls.key}")
            btn.setCheckable(True)
            btn.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            btn.clicked.connect(lambda _=False, k=cls.key: self.show_page(k))
            self.nav_group.addButton(btn)
            self.nav_buttons[cls.key] = btn
            nav_layout.addWidget(btn)
        nav_layout.addStretch(1)
        self.show_role_pages()
        self.task_badge = self._nav_badge(self.nav_buttons["tasks"])
        if controller.sync is not None:  # unread tasks: after syncs (and on reading one)
            controller.sync.finished.connect(lambda _report: self.count_unread_tasks())
            controller.sync.finished.connect(lambda _report: self.show_role_pages())
        self.count_unread_tasks()  # one COUNT: cheap enough for unlock
        self.resume_patrol()

        self.header = QFrame()
        self.header.setObjectName("header")
        self.title = label("title", wrap=False)
        self.title.setObjectName("pageTitle")
        self.sync_status = SyncIndicator(lambda: self.controller.sync)
        self.sync_status.clicked.connect(lambda: self.show_page("sync"))
        if controller.sync is not None:
            controller.sync.changed.connect(self.sync_status.update_state)
        self.lock_button = button("primary", "lockButton")
        self.lock_button.clicked.connect(lambda: self.controller.lock("manual"))
        self.report_button = button("primary", "reportEventButton")  # reachable from every page
        self.report_button.clicked.connect(self.report_event)
        self.event_dialog: QWidget | None = None
        header_layout = QHBoxLayout(self.header)
        header_layout.setContentsMargins(24, 8, 16, 8)
        header_layout.setSpacing(16)
        header_layout.addWidget(self.title)
        header_layout.addStretch(1)
        header_layout.addWidget(self.report_button)
        header_layout.addWidget(self.sync_status)
        header_layout.addWidget(self.lock_button)

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(0)
        right.addWidget(self.header)
        right.addWidget(self.stack, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addLayout(right, 1)
        self.retranslate()
        # A patrol under way: back to it after an unlock or a restart, not to Today.
        self.show_page("patrol" if self.patrol_running else "today")

    def _build_page(self, key: str) -> Page:
        cls = PAGE_CLASSES[PAGE_KEYS.index(key)]
        page = cls(self.controller)
        self.stack.addWidget(page)
        if isinstance(page, TasksPage):
            page.unread_changed.connect(self.set_task_badge)
        return page

    def show_role_pages(self) -> None:
        """Pages for grid leaders and supervisors (Review) only in their navigation
        (the role comes with the enrollment)."""
        from fieldclient.fieldwork.reviews import can_review

        session = self.controller.session
        reviewer = session is not None and session.is_open and can_review(session)
        for cls in PAGE_CLASSES:
            if getattr(cls, "reviewers_only", False):
                self.nav_buttons[cls.key].setVisible(reviewer)

    def resume_patrol(self) -> None:
        """A patrol under way goes on recording after unlocking or a restart, whichever
        page is shown (fixes that came while locked are saved now)."""
        from fieldclient.fieldwork.patrols import active_patrol
        from ui.patrol_tracker import PatrolTracker

        self.patrol_running = False
        session = self.controller.session
        if session is None or not session.is_open:
            return
        patrol = active_patrol(session)
        if patrol is not None:
            self.patrol_running = True
            PatrolTracker.of(self.controller).attach(session, patrol.id)

    def count_unread_tasks(self) -> None:
        from fieldclient.fieldwork.tasks import unread_count

        session = self.controller.session
        if session is not None and session.is_open:
            self.set_task_badge(unread_count(session))

    @staticmethod
    def _nav_badge(nav_button: QPushButton) -> QLabel:
        """A count in a red circle at the right end of a navigation button."""
        badge = label("", wrap=False)
        badge.setObjectName("navBadge")
        badge.setVisible(False)
        row = QHBoxLayout(nav_button)
        row.setContentsMargins(0, 0, 10, 0)
        row.addStretch(1)
        row.addWidget(badge, 0, Qt.AlignmentFlag.AlignVCenter)
        return badge

    def set_task_badge(self, unread: int) -> None:
        self.task_badge.setText(str(unread) if unread < 100 else "99+")
        self.task_badge.setVisible(unread > 0)

    def current_page(self) -> Page:
        page = self.stack.currentWidget()
        assert isinstance(page, Page)
        return page

    def show_page(self, key: str) -> None:
        self.stack.setCurrentWidget(self.pages[key])
        self.nav_buttons[key].setChecked(True)
        self.title.setText(self.pages[key].title())

    def open_household(self, household_id: str) -> None:
        """Show one household's details (from Today, events, tasks...)."""
        from ui.pages.households import HouseholdsPage

        self.show_page("households")
        page = self.pages["households"]
        if isinstance(page, HouseholdsPage):
            page.show_household(household_id)

    def retranslate(self) -> None:
        for cls in PAGE_CLASSES:
            self.nav_buttons[cls.key].setText(cls.nav_title())
        self.title.setText(self.current_page().title() if self.stack.count() else "")
        self.lock_button.setText(self.tr("锁定"))
        self.report_button.setText(self.tr("上报事件"))

    def report_event(self) -> None:
        """The header's 上报事件: report from any page; afterwards My events shows it."""
        from ui.dialogs.event import ReportEventDialog

        dialog = ReportEventDialog(self.controller, self, on_reported=self._event_reported)
        self.event_dialog = dialog
        dialog.open()

    def _event_reported(self, _event_id: str) -> None:
        self.show_page("events")
        self.pages["events"].refresh()
