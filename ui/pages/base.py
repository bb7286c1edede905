"""What every page has: a key, a translated title, and a refresh when shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ui.widgets.basic import Retranslatable, label

if TYPE_CHECKING:
    from ui.controller import AppController


class Page(Retranslatable, QWidget):
    key = ""
    # QT_TRANSLATE_NOOP("<class name>", "…"): the navigation needs every title before
    # the page is built (pages are built on first visit, unlock stays fast).
    title_source = ""

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.controller = controller

    @classmethod
    def nav_title(cls) -> str:
        return QCoreApplication.translate(cls.__name__, cls.title_source)

    def title(self) -> str:
        return self.nav_title()

    def refresh(self) -> None:
        """Re-read what the page shows (called each time it is shown)."""

    def retranslate(self) -> None:
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()


class EmptyStatePage(Page):
    """A page whose feature comes later: says honestly what will appear and how."""

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(48, 40, 48, 40)
        self.layout_.setSpacing(24)
        self.facts = label("prompt")
        self.facts.setObjectName("pageFacts")
        self.empty = label("empty")
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.layout_.addWidget(self.facts)
        self.layout_.addWidget(self.empty)
        self.layout_.addStretch(1)

    def empty_text(self) -> str:
        raise NotImplementedError

    def facts_text(self) -> str:
        return ""

    def refresh(self) -> None:
        facts = self.facts_text()
        self.facts.setText(facts)
        self.facts.setVisible(bool(facts))
        self.empty.setText(self.empty_text())


