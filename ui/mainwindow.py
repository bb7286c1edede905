"""The unlocked main view: big navigation on the left, header with title, sync state, Lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.pages import PAGE_CLASSES, Page
from ui.sync_indicator import SyncIndicator
from ui.widgets import Retranslatable, button, label

if TYPE_CHECKING:
    from ui.controller import AppController


class MainView(Retranslatable, QWidget):
    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainView")
        self.controller = controller
        self.pages: dict[str, Page] = {}
        self.nav_buttons: dict[str, QPushButton] = {}

        self.nav = QFrame()
        self.nav.setObjectName("nav")
        nav_layout = QVBoxLayout(self.nav)
        nav_layout.setContentsMargins(8, 12, 8, 12)
        nav_layout.setSpacing(6)
        self.nav_group = QButtonGroup(self)
        self.stack = QStackedWidget()
        for cls in PAGE_CLASSES:
            page = cls(controller)
            self.pages[cls.key] = page
            self.stack.addWidget(page)
            btn = button("nav", f"nav_{cls.key}")
            btn.setCheckable(True)
            btn.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            btn.clicked.connect(lambda _=False, k=cls.key: self.show_page(k))
            self.nav_group.addButton(btn)
            self.nav_buttons[cls.key] = btn
            nav_layout.addWidget(btn)
        nav_layout.addStretch(1)

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
        header_layout = QHBoxLayout(self.header)
        header_layout.setContentsMargins(24, 8, 16, 8)
        header_layout.setSpacing(16)
        header_layout.addWidget(self.title)
        header_layout.addStretch(1)
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
        self.show_page("today")

    def current_page(self) -> Page:
        page = self.stack.currentWidget()
        assert isinstance(page, Page)
        return page

    def show_page(self, key: str) -> None:
        self.stack.setCurrentWidget(self.pages[key])
        self.nav_buttons[key].setChecked(True)
        self.title.setText(self.pages[key].title())

    def retranslate(self) -> None:
        for key, page in self.pages.items():
            self.nav_buttons[key].setText(page.title())
        self.title.setText(self.current_page().title() if self.stack.count() else "")
        self.lock_button.setText(self.tr("锁定"))
