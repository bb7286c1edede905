"""The main window's pages, one module each, and the views they push (household detail)
or hold (GPS settings). ``PAGE_CLASSES`` is the navigation order.

Pages may import dialogs, widgets, platform adapters and the core; nothing below imports
a page.
"""

from __future__ import annotations

from ui.pages.base import Page
from ui.pages.events import EventsPage
from ui.pages.households import HouseholdsPage
from ui.pages.patrol import PatrolPage
from ui.pages.review import ReviewPage
from ui.pages.settings import SettingsPage
from ui.pages.sync import SyncPage
from ui.pages.tasks import TasksPage
from ui.pages.today import TodayPage

PAGE_CLASSES: tuple[type[Page], ...] = (
    TodayPage,
    PatrolPage,
    HouseholdsPage,
    EventsPage,
    ReviewPage,
    TasksPage,
    SyncPage,
    SettingsPage,
)

__all__ = ["PAGE_CLASSES", "Page"]
