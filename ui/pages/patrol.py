"""Patrol (巡查): choose the grid, check the 28 items by platform, photos, report, finish.

Everything is saved as it happens (the core keeps drafts): a result or a photo
at once, a note half a second after the last keystroke and always before the
session closes (lock, auto-lock, quit). Reopening the app resumes the patrol.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import patrols
from fieldclient.fieldwork.patrols import ItemResult, Patrol, PatrolSummary
from fieldclient.geo.geometry import Fix
from fieldclient.i18n import QT_TRANSLATE_NOOP
from ui import i18n
from ui.dialogs.message import show_message
from ui.dialogs.patrol import ConfirmDialog, EventDialog, TrackDialog
from ui.errors import error_text
from ui.pages.base import Page
from ui.patrol_common import (
    format_distance,
    format_duration,
    grid_label,
    watermark_grid,
    worker_grids,
)
from ui.patrol_tracker import PatrolTracker
from ui.platform.camera import ImagePicker, camera_available, pick_image_file
from ui.platform.positioning import status_short, status_text
from ui.tasks import run_task
from ui.widgets.basic import button, label, photo_thumbnail, scroll_area, set_role
from ui.widgets.map_view import installed_archive
from ui.widgets.patrol import ButtonGrid, GroupTabs, ItemCard
from ui.widgets.track_view import TrackView

if TYPE_CHECKING:
    from fieldclient.photos.pipeline import Prepared
    from fieldclient.storage.session import Session
    from ui.controller import AppController

log = logging.getLogger("gridfield.ui")
NOTE_DELAY_MS = 500
STATUS_EVERY_MS = 3000
RECENT_PATROLS = 5


_D = TypeVar("_D", bound=QWidget)

class PatrolPage(Page):
    key = "patrol"
    title_source = QT_TRANSLATE_NOOP("PatrolPage", "巡查")

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        # Seams for tests and other devices.
        self.image_picker: ImagePicker = pick_image_file
        self.camera_check: Callable[[], bool] = camera_available
        self.tracker = PatrolTracker.of(controller)
        self.tracker.fix_recorded.connect(self._on_fix)
        self.tracker.status_changed.connect(self._update_status)
        controller.session_closing.connect(self.flush_notes)

        self.patrol: Patrol | None = None
        self.summary: PatrolSummary | None = None
        self.summary_fixes: list[Fix] = []
        self.cards: dict[str, ItemCard] = {}
        self.item_pages: dict[str, QScrollArea] = {}  # one card each, one shown at a time
        self.group_codes: list[list[str]] = []
        self.current_code: str | None = None
        self.item_list_dialog: QWidget | None = None
        self.reported: dict[str, str] = {}
        self.pending_problem: set[str] = set()
        self.thumb_cache: dict[str, QPixmap] = {}
        self.dirty_notes: dict[str, str] = {}
        self.grid_buttons: dict[str, QPushButton] = {}
        self.dialog: QWidget | None = None  # the last dialog opened (tests look at it)
        self.cancel_button: QPushButton | None = None  # in the finish question
        self.imported_m = 0.0  # tracks imported into the running patrol (read on refresh)
        self.finishing = False

        self.note_timer = QTimer(self)
        self.note_timer.setSingleShot(True)
        self.note_timer.setInterval(NOTE_DELAY_MS)
        self.note_timer.timeout.connect(self.flush_notes)
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(STATUS_EVERY_MS)
        self.status_timer.timeout.connect(self._update_status)

        self.views = QStackedWidget()
        self.start_view = self._build_start_view()
        self.run_view = self._build_run_view()
        self.summary_view = self._build_summary_view()
        for view in (self.start_view, self.run_view, self.summary_view):
            self.views.addWidget(view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.views)
        self.refresh()


    # -- building --------------------------------------------------------------
    def _build_start_view(self) -> QWidget:
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(40, 24, 40, 32)
        column.setSpacing(16)
        self.start_heading = label("heading")
        self.start_facts = label("muted")
        self.grid_box = QGridLayout()
        self.grid_box.setSpacing(12)
        self.grid_input_row = QWidget()
        row = QHBoxLayout(self.grid_input_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(12)
        self.grid_input = QLineEdit()
        self.grid_input.setObjectName("gridInput")
        self.grid_input.setMaxLength(40)
        self.grid_input.returnPressed.connect(lambda: self.start(self.grid_input.text()))
        self.start_button = button("primary", "startTypedButton")
        self.start_button.clicked.connect(lambda: self.start(self.grid_input.text()))
        row.addWidget(self.grid_input, 1)
        row.addWidget(self.start_button)
        self.start_error = label("error")
        self.start_error.setVisible(False)
        self.gps_source_label = label("muted")
        self.recent_heading = label("heading")
        self.recent_list = label("fact")
        self.recent_list.setTextFormat(Qt.TextFormat.PlainText)
        column.addWidget(self.start_heading)
        column.addWidget(self.start_facts)
        column.addLayout(self.grid_box)
        column.addWidget(self.grid_input_row)
        column.addWidget(self.start_error)
        column.addWidget(self.gps_source_label)
        column.addWidget(self.recent_heading)
        column.addWidget(self.recent_list)
        column.addStretch(1)
        return scroll_area(body)

    def _build_run_view(self) -> QWidget:
        """One item at a time, in big steps: the item's card between the patrol's status
        (with Finish) above and the way through the list below (previous, all items,
        其余正常, next item / next group). Answering 正常 or 不涉及 moves on by itself,
        so a patrol without problems is a few taps, and nothing needs scrolling to
        answer an item, at any text size."""
        view = QWidget()
        self.status_bar = QFrame()
        self.status_bar.setObjectName("patrolStatus")
        self.run_title = label("prompt")
        self.run_title.setObjectName("patrolTitle")
        self.progress_label = label("")
        self.progress_label.setObjectName("patrolProgress")
        self.gps_label = label("gps")
        self.gps_label.setObjectName("gpsStatus")
        self.track_button = button("", "trackButton")
        self.track_button.clicked.connect(self.show_track)
        # 取消巡查 is offered where an accidental patrol ends up: Finish with items
        # unanswered (the question has it as a third answer).
        self.finish_button = button("primary", "finishButton")
        self.finish_button.clicked.connect(self.finish)
        top = QHBoxLayout()
        top.setSpacing(16)
        top.addWidget(self.run_title, 1)
        top.addWidget(self.gps_label, 0, Qt.AlignmentFlag.AlignVCenter)
        lower = QHBoxLayout()
        lower.setSpacing(12)
        lower.addWidget(self.progress_label, 1, Qt.AlignmentFlag.AlignVCenter)
        for btn in (self.track_button, self.finish_button):
            lower.addWidget(btn, 0, Qt.AlignmentFlag.AlignVCenter)
        bar = QVBoxLayout(self.status_bar)
        bar.setContentsMargins(24, 6, 24, 6)
        bar.setSpacing(2)
        bar.addLayout(top)
        bar.addLayout(lower)
        self.group_tabs = GroupTabs()
        self.group_tabs.group.idClicked.connect(self.show_group)
        self.item_stack = QStackedWidget()
        self.item_stack.setMinimumHeight(120)  # the card scrolls; the bars must fit
        self.done_hint = label("info")
        self.done_hint.setObjectName("allCheckedHint")
        self.done_hint.setVisible(False)
        self.prev_button = button("", "prevItemButton")
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.list_button = button("", "itemListButton")
        self.list_button.clicked.connect(self.open_item_list)
        self.rest_button = button("primary", "restNormalButton")
        self.rest_button.clicked.connect(self.rest_normal)
        self.next_button = button("", "nextItemButton")
        self.next_button.clicked.connect(lambda: self.step(1))
        self.item_nav = ButtonGrid((4, 2))
        self.item_nav.setObjectName("itemNav")
        for btn in (self.prev_button, self.list_button, self.rest_button, self.next_button):
            self.item_nav.add_button(btn)
        tabs = QVBoxLayout()
        tabs.setContentsMargins(16, 4, 16, 0)
        tabs.addWidget(self.group_tabs)
        middle = QVBoxLayout()
        middle.setContentsMargins(16, 0, 16, 0)
        middle.setSpacing(6)
        middle.addWidget(self.item_stack, 1)
        middle.addWidget(self.done_hint)
        nav = QVBoxLayout()
        nav.setContentsMargins(16, 0, 16, 8)
        nav.addWidget(self.item_nav)
        layout = QVBoxLayout(view)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.status_bar)
        layout.addLayout(tabs)
        layout.addLayout(middle, 1)
        layout.addLayout(nav)
        return view

    def _build_summary_view(self) -> QWidget:
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(40, 24, 40, 32)
        column.setSpacing(16)
        self.summary_heading = label("title")
        self.summary_heading.setObjectName("summaryHeading")
        self.summary_grid = QGridLayout()
        self.summary_grid.setHorizontalSpacing(32)
        self.summary_grid.setVerticalSpacing(8)
        self.summary_names: dict[str, QLabel] = {}
        self.summary_values: dict[str, QLabel] = {}
        for index, key in enumerate(("items", "problems", "distance", "duration")):
            name, value = label("factName"), label("bigNumber")
            value.setObjectName(f"summary_{key}")
            self.summary_names[key], self.summary_values[key] = name, value
            self.summary_grid.addWidget(name, (index // 2) * 2, index % 2)
            self.summary_grid.addWidget(value, (index // 2) * 2 + 1, index % 2)
        self.summary_track = TrackView(installed_archive(self.controller.data_dir))
        self.summary_track.setMinimumHeight(260)
        self.summary_note = label("muted")
        self.done_button = button("primary", "summaryDoneButton")
        self.done_button.clicked.connect(self.close_summary)
        row = QHBoxLayout()  # 完成 beside the heading: in sight at any text size
        row.setSpacing(16)
        row.addWidget(self.summary_heading, 1)
        row.addWidget(self.done_button, 0, Qt.AlignmentFlag.AlignTop)
        column.addLayout(row)
        column.addLayout(self.summary_grid)
        column.addWidget(self.summary_note)
        column.addWidget(self.summary_track, 1)
        return scroll_area(body)

    def _build_cards(self, patrol: Patrol) -> None:
        while self.item_stack.count():
            old = self.item_stack.widget(0)
            self.item_stack.removeWidget(old)
            old.deleteLater()
        self.cards.clear()
        self.item_pages.clear()
        self.group_codes.clear()
        groups = patrol.checklist.groups()
        self.group_tabs.set_groups(len(groups))
        for _group, items in groups:
            for item in items:
                card = ItemCard(item)
                code = item.code
                for result, btn in card.result_buttons.items():
                    btn.clicked.connect(lambda _=False, c=code, r=result: self.set_result(c, r))
                card.note.textEdited.connect(lambda text, c=code: self.note_edited(c, text))
                card.note.editingFinished.connect(self.flush_notes)
                card.camera_button.clicked.connect(lambda _=False, c=code: self.take_photo(c))
                card.pick_button.clicked.connect(lambda _=False, c=code: self.pick_photo(c))
                card.event_button.clicked.connect(lambda _=False, c=code: self.report_event(c))
                card.strip.remove_requested.connect(
                    lambda index, c=code: self.remove_photo(c, index))
                self.cards[code] = card
                body = QWidget()
                column = QVBoxLayout(body)
                column.setContentsMargins(0, 0, 0, 8)
                column.addWidget(card)
                column.addStretch(1)
                scroll = scroll_area(body)
                self.item_pages[code] = scroll
                self.item_stack.addWidget(scroll)
            self.group_codes.append([item.code for item in items])
        self._retranslate_cards()
        self.show_item(self._first_open(0))

    # -- state -------------------------------------------------------------------
    def _session(self) -> Session | None:
        session = self.controller.session
        return session if session is not None and session.is_open else None

    def refresh(self) -> None:
        session = self._session()
        self._retranslate_static()
        if session is None:
            return
        self.flush_notes()
        patrol = patrols.active_patrol(session)
        if patrol is not None:
            if self.patrol is None or self.patrol.id != patrol.id or not self.cards:
                self.patrol = patrol
                self.pending_problem.clear()
                self._build_cards(patrol)
                self.tracker.attach(session, patrol.id)
            self.patrol = patrol
            self.imported_m = patrols.imported_distance_m(session, patrol.id)
            self.reported = self._reported(session, patrol.id)
            for code in patrol.items:
                self._apply(code)
            self._retranslate_cards()
            self._update_status()
            self._update_nav()
            self.status_timer.start()
            self.views.setCurrentWidget(self.run_view)
            return
        self.patrol = None
        self.status_timer.stop()
        if self.summary is not None:
            self._fill_summary()
            self.views.setCurrentWidget(self.summary_view)
        else:
            self._fill_start(session)
            self.views.setCurrentWidget(self.start_view)

    @staticmethod
    def _reported(session: Session, patrol_id: str) -> dict[str, str]:
        from fieldclient.fieldwork.patrol_events import reported_items

        return reported_items(session, patrol_id)

    def _reload(self, code: str | None = None) -> None:
        session = self._session()
        if session is None or self.patrol is None:
            return
        self.patrol = patrols.get_patrol(session, self.patrol.id)
        for c in [code] if code else list(self.patrol.items):
            self._apply(c)
        self._update_counts()
        self._update_status()
        self._update_nav()

    def _apply(self, code: str) -> None:
        if self.patrol is None or code not in self.cards:
            return
        state = self.patrol.items[code]
        self.cards[code].apply(state, code in self.reported, self._thumbs(state.photos),
                               typing=code in self.dirty_notes,
                               loaders=[self._full_photo(p) for p in state.photos])

    def _thumbs(self, photo_ids: tuple[str, ...]) -> list[QPixmap]:
        """One thumbnail per photo (a null one, shown as an empty tile, when it cannot
        be read) so that index i of the strip is photo i of the item."""
        session = self._session()
        found: list[QPixmap] = []
        for photo_id in photo_ids:
            pixmap = self.thumb_cache.get(photo_id)
            if pixmap is None and session is not None:
                pixmap = self.thumb_cache[photo_id] = photo_thumbnail(session, photo_id)
            found.append(pixmap if pixmap is not None else QPixmap())
        return found

    def _full_photo(self, photo_id: str) -> Callable[[], QPixmap]:
        """The photo at full size, decrypted only when the worker opens it."""
        from ui.dialogs.photo import stored_photo

        return lambda: stored_photo(self._session(), photo_id)

    def remove_photo(self, code: str, index: int) -> None:
        """The worker confirmed 删除这张照片 in the full-size view: detach it from the
        item (the core refuses when it is a required problem photo's last one)."""
        session = self._session()
        card = self.cards.get(code)
        if session is None or self.patrol is None or card is None:
            return
        photos = self.patrol.items[code].photos
        if not 0 <= index < len(photos):
            return
        try:
            patrols.remove_photo(session, self.patrol.id, code, photos[index])
        except FieldClientError as exc:
            card.show_error(error_text(exc))
            return
        self.thumb_cache.pop(photos[index], None)
        card.show_error("")
        self._reload(code)

    # -- starting ------------------------------------------------------------------
    def _fill_start(self, session: Session) -> None:
        grids = worker_grids(session)
        for btn in self.grid_buttons.values():
            self.grid_box.removeWidget(btn)
            btn.deleteLater()
        self.grid_buttons.clear()
        done = patrols.today_status(session, grids.grids)
        for index, grid in enumerate(grids.grids):
            text = grid_label(grid)
            if done.get(grid):
                text = self.tr("{grid}（今天已巡查）").format(grid=text)
            btn = button("primary", f"startGrid_{grid}")
            btn.setText(text)
            btn.clicked.connect(lambda _=False, g=grid: self.start(g))
            self.grid_buttons[grid] = btn
            self.grid_box.addWidget(btn, index // 2, index % 2)
        if grids.enrolled:
            self.start_facts.setText(
                self.tr("点一下您要巡查的网格，就开始巡查并记录轨迹。") if grids.grids
                else self.tr("指挥中心还没有给您分配网格，请联系网格长或信息管理员。")
            )
        elif grids.grids:
            self.start_facts.setText(self.tr(
                "本设备还没有登记到指挥中心，不知道您负责哪些网格。下面是本设备上用过的网格；"
                "也可以输入网格编号，再点“开始巡查”。"))
        else:
            self.start_facts.setText(self.tr(
                "本设备还没有登记到指挥中心，不知道您负责哪些网格。"
                "请输入要巡查的网格编号，再点“开始巡查”。"))
        self.grid_input_row.setVisible(not grids.enrolled)
        self.gps_source_label.setText(self.tr("定位来源：{source}").format(
            source=self._source_name()))
        recent = patrols.list_patrols(session, limit=RECENT_PATROLS)
        self.recent_heading.setVisible(bool(recent))
        self.recent_list.setVisible(bool(recent))
        self.recent_list.setText("\n".join(self._recent_line(s) for s in recent))

    def _source_name(self) -> str:
        from ui.platform.positioning import make_feed

        try:
            return make_feed(self.tracker.source_spec(), None).name()
        except ValueError:
            return self.tracker.source_spec()

    def _recent_line(self, summary: PatrolSummary) -> str:
        from fieldclient import devicetime

        when = devicetime.minute_text(summary.finished_at or summary.started_at)
        return self.tr("{when}  {grid}：检查{done}项，发现问题{problems}项，{distance}").format(
            when=when,
            grid=grid_label(summary.grid_id), done=summary.items_done,
            problems=summary.problems, distance=format_distance(summary.distance_m))

    def start(self, grid_id: str) -> None:
        session = self._session()
        if session is None:
            return
        grid_id = grid_id.strip()
        if not grid_id:
            self._start_error(self.tr("请先输入网格编号。"))
            return
        grids = worker_grids(session)
        try:
            patrols.start_patrol(session, grid_id, worker_id=grids.worker_id)
        except FieldClientError as exc:
            self._start_error(error_text(exc))
            return
        self.summary = None
        self.start_error.setVisible(False)
        self.grid_input.clear()
        self.refresh()

    def _start_error(self, text: str) -> None:
        self.start_error.setText(text)
        self.start_error.setVisible(True)

    # -- checking items ------------------------------------------------------------
    def _group_of(self, code: str) -> int:
        return next((i for i, codes in enumerate(self.group_codes) if code in codes), 0)

    def _open(self, code: str) -> bool:
        return self.patrol is not None and not self.patrol.items[code].done

    def _first_open(self, group: int) -> str:
        """The group's first unanswered item (its first item when all are answered)."""
        codes = self.group_codes[group] if 0 <= group < len(self.group_codes) else []
        return next((c for c in codes if self._open(c)), codes[0] if codes else "")

    def _next_open(self, code: str) -> str | None:
        """The next unanswered item after ``code``: later in its group, then the groups
        after it, then from the start; None when every item has an answer."""
        order = [c for codes in self.group_codes for c in codes]
        if code not in order:
            return None
        index = order.index(code)
        return next((c for c in order[index + 1:] + order[:index] if self._open(c)), None)

    def show_group(self, index: int) -> None:
        """A group tab: its first unanswered item."""
        if 0 <= index < len(self.group_codes):
            self.show_item(self._first_open(index))

    def show_item(self, code: str) -> None:
        page = self.item_pages.get(code)
        if page is None:
            return
        self.flush_notes()
        self.current_code = code
        self.item_stack.setCurrentWidget(page)
        page.verticalScrollBar().setValue(0)
        group = self._group_of(code)
        if group < len(self.group_tabs.buttons):
            self.group_tabs.buttons[group].setChecked(True)
        self._update_nav()

    def step(self, delta: int) -> None:
        """上一项 / 下一项 (下一组 at the end of a group), in checklist order."""
        order = [c for codes in self.group_codes for c in codes]
        if self.current_code not in order:
            return
        index = order.index(self.current_code) + delta
        if 0 <= index < len(order):
            target = order[index]
            if delta > 0 and self._group_of(target) != self._group_of(self.current_code):
                target = self._first_open(self._group_of(target))  # 下一组
            self.show_item(target)

    def _advance(self, code: str) -> None:
        """After 正常 / 不涉及: on to the next unanswered item (this group first)."""
        if code != self.current_code:
            return
        following = self._next_open(code)
        if following is not None:
            self.show_item(following)
        else:
            self._update_nav()

    def _update_nav(self) -> None:
        code = self.current_code
        if self.patrol is None or code is None or not self.group_codes:
            return
        group = self._group_of(code)
        codes = self.group_codes[group]
        position = codes.index(code) + 1
        order = [c for cs in self.group_codes for c in cs]
        self.prev_button.setEnabled(order.index(code) > 0)
        last_in_group = position == len(codes)
        self.next_button.setEnabled(order.index(code) < len(order) - 1)
        self.item_nav.set_text(0, self.tr("‹上一项"))
        self.item_nav.set_text(1, self.tr("全部项目"))
        self.item_nav.set_text(3, self.tr("下一组›") if last_in_group else self.tr("下一项›"))
        unanswered = len(self.patrol.missing)
        self.item_nav.set_text(2, self.tr("其余正常"))
        self.rest_button.setEnabled(unanswered > 0)
        self.done_hint.setText(self.tr(
            "{n}项都检查完了。点“结束巡查”保存并上报。").format(n=len(self.patrol.items)))
        self.done_hint.setVisible(unanswered == 0)
        set_role(self.finish_button, "primary")

    def set_result(self, code: str, result: ItemResult) -> None:
        session = self._session()
        if session is None or self.patrol is None:
            return
        self.flush_notes()
        card = self.cards[code]
        try:
            patrols.record_item(session, self.patrol.id, code, result)
        except patrols.PhotoRequired as exc:
            self.pending_problem.add(code)
            card.show_error(error_text(exc))
            self._reload(code)
            self._photo_for_problem(code)
            return
        except FieldClientError as exc:
            card.show_error(error_text(exc))
            self._reload(code)
            return
        self.pending_problem.discard(code)
        card.show_error("")
        self._reload(code)
        if result is not ItemResult.PROBLEM:
            self._advance(code)

    def _photo_for_problem(self, code: str) -> None:
        """A problem that needs a photo: go straight to the camera (or the pictures,
        without one); the problem is saved once the photo is."""
        if self.camera_check():
            self.take_photo(code)
        else:
            self.pick_photo(code)

    # -- 其余正常, the item list, cancelling ------------------------------------------
    def rest_normal(self) -> None:
        """Mark the unanswered items normal, after a confirmation naming them."""
        from ui.dialogs.patrol import RestNormalDialog

        if self.patrol is None or self.current_code is None:
            return
        self.flush_notes()
        lang = i18n.current_language()
        group = self._group_of(self.current_code)
        here = [c for c in self.group_codes[group] if self._open(c)]
        elsewhere = [c for c in self.patrol.missing if c not in here]
        names = [self.cards[c].item.name(lang) for c in here]
        dialog = RestNormalDialog(
            self.patrol.checklist.groups()[group][0].name(lang), names, len(elsewhere),
            self.window())
        dialog.chosen.connect(lambda scope: self._mark_rest(here if scope == "group"
                                                            else here + elsewhere))
        self.dialog = dialog
        dialog.open()

    def _mark_rest(self, codes: list[str]) -> None:
        session = self._session()
        if session is None or self.patrol is None:
            return
        try:
            patrols.mark_rest_normal(session, self.patrol.id, codes)
        except FieldClientError as exc:
            self.dialog = show_message(error_text(exc), parent=self.window(), role="error")
            return
        self._reload()
        current = self.current_code
        if current is not None and not self._open(current):
            following = self._next_open(current)
            if following is not None:
                self.show_item(following)
        self._update_nav()

    def open_item_list(self) -> None:
        """全部项目: the group's items as big buttons, one tap to go to any of them."""
        from ui.dialogs.patrol import ItemListDialog

        if self.patrol is None or self.current_code is None:
            return
        lang = i18n.current_language()
        group = self._group_of(self.current_code)
        entries = []
        for code in self.group_codes[group]:
            state = self.patrol.items[code].result
            entries.append((code, self.cards[code].item.name(lang),
                            state.value if state else "open"))
        dialog = ItemListDialog(self.patrol.checklist.groups()[group][0].name(lang), entries,
                                self.window())
        dialog.picked.connect(self.show_item)
        self.dialog = self.item_list_dialog = dialog
        dialog.open()

    def cancel(self) -> None:
        """取消巡查 (started by mistake), confirmed: nothing of it is kept or sent."""
        confirm = self._shown(ConfirmDialog)
        if confirm is not None:
            confirm.reject()  # the finish question it was chosen in
        if self.patrol is None:
            return
        self.flush_notes()
        dialog = ConfirmDialog(
            self.tr("取消这次巡查吗？\n\n已检查的{done}项和记录的轨迹都会删除，不会上报，"
                    "也不算今天的巡查。已经上报的事件和拍下的照片会保留。").format(
                done=self.patrol.items_done),
            ok_text=self.tr("取消巡查"), cancel_text=self.tr("继续巡查"), parent=self.window())
        dialog.accepted.connect(self._cancel_confirmed)
        self.dialog = dialog
        dialog.open()

    def _cancel_confirmed(self) -> None:
        session = self._session()
        if session is None or self.patrol is None:
            return
        try:
            patrols.abandon_patrol(session, self.patrol.id)
        except FieldClientError as exc:
            self.dialog = show_message(error_text(exc), parent=self.window(), role="error")
            return
        self.tracker.stop()
        self.patrol = None
        self.summary = None
        self.thumb_cache.clear()
        self.refresh()

    def note_edited(self, code: str, text: str) -> None:
        self.dirty_notes[code] = text
        self.note_timer.start()

    def flush_notes(self) -> None:
        """Save typed notes now (also called just before the session closes)."""
        self.note_timer.stop()
        session = self._session()
        if not self.dirty_notes or session is None or self.patrol is None:
            return
        dirty, self.dirty_notes = self.dirty_notes, {}
        for code, text in dirty.items():
            try:
                patrols.save_note(session, self.patrol.id, code, text)
            except FieldClientError as exc:
                if code in self.cards:
                    self.cards[code].show_error(error_text(exc))

    # -- photos --------------------------------------------------------------------
    def take_photo(self, code: str) -> None:
        if not self.camera_check():
            self.dialog = show_message(self.tr(
                "本设备没有可用的摄像头。请点“选择图片”，从相册或存储卡里选一张照片。"),
                parent=self.window())
            return
        from ui.platform.camera import CameraDialog

        dialog = CameraDialog(self.window())
        dialog.captured.connect(lambda data, c=code: self._process_photo(c, lambda: (data, "")))
        self.dialog = dialog
        dialog.open()

    def pick_photo(self, code: str) -> None:
        def picked(path: Path) -> None:
            from fieldclient.photos.pipeline import read_source

            self._process_photo(code, lambda: (read_source(path), path.name))

        self.image_picker(self.window(), picked)

    def _process_photo(self, code: str, load: Callable[[], tuple[bytes, str]]) -> None:
        session = self._session()
        if session is None or self.patrol is None:
            return
        from fieldclient.photos.pipeline import prepare_photo

        patrol_id, grid_id = self.patrol.id, self.patrol.grid_id
        device_id, now = session.device_id, session.clock()
        worker = worker_grids(session).worker_name
        fix = self.tracker.current_position()
        card = self.cards[code]
        card.set_busy(True)

        def work() -> Prepared:
            data, name = load()
            return prepare_photo(
                device_id, data, now, name=name,
                lat=fix.lat if fix else None, lon=fix.lon if fix else None,
                grid_id=grid_id, grid_name=watermark_grid(grid_id), worker=worker)

        def done(prepared: Prepared) -> None:
            self._photo_ready(code, patrol_id, prepared)

        def failed(exc: BaseException) -> None:
            if code in self.cards:
                self.cards[code].set_busy(False)
            if isinstance(exc, FieldClientError):
                if code in self.cards:
                    self.cards[code].show_error(error_text(exc))
            else:
                from ui.tasks import show_error

                show_error(exc)

        run_task(work, done, failed)

    def _photo_ready(self, code: str, patrol_id: str, prepared: Prepared) -> None:
        from fieldclient.photos.pipeline import save_prepared

        session = self._session()
        card = self.cards.get(code)
        if card is not None:
            card.set_busy(False)
        if session is None or self.patrol is None or self.patrol.id != patrol_id or card is None:
            return  # locked or finished meanwhile: nothing was stored
        try:
            photo = save_prepared(session, prepared)
            patrols.add_photo(session, patrol_id, code, photo.id)
        except FieldClientError as exc:
            card.show_error(error_text(exc))
            return
        card.show_error("")
        if code in self.pending_problem:  # the problem waited for its photo
            self.set_result(code, ItemResult.PROBLEM)
        else:
            self._reload(code)

    # -- report as event ---------------------------------------------------------
    def report_event(self, code: str) -> None:
        session = self._session()
        if session is None or self.patrol is None:
            return
        self.flush_notes()
        draft = patrols.event_draft(session, self.patrol.id, code,
                                    position=self.tracker.current_position())
        item = self.cards[code].item
        dialog = EventDialog(draft, item.name(i18n.current_language()), self.window())
        dialog.accepted.connect(lambda: self._send_event(code, draft, dialog.description_text()))
        self.dialog = dialog
        dialog.open()

    def _send_event(self, code: str, draft: patrols.EventDraft, description: str) -> None:
        from fieldclient.fieldwork.patrol_events import report_event

        session = self._session()
        if session is None:
            return
        try:
            event_id = report_event(session, draft, description)
        except FieldClientError as exc:
            self.dialog = show_message(error_text(exc), parent=self.window(), role="error")
            return
        self.reported[code] = event_id
        self._reload(code)

    # -- track and status ----------------------------------------------------------
    def _on_fix(self, fix: Fix) -> None:
        if self.patrol is not None and not self.status_timer.isActive():
            self.status_timer.start()
        dialog = self._shown(TrackDialog)
        if dialog is not None:
            dialog.view.append_to_track(fix)
            dialog.view.set_waiting(self.tracker.waiting_since())

    def _shown(self, kind: type[_D]) -> _D | None:
        """The last dialog opened, if it is a ``kind`` still on screen: a dialog that
        deletes itself on close leaves ``self.dialog`` pointing at a deleted object
        (asking it anything raises), so its C++ side is checked first."""
        dialog = self.dialog
        if isinstance(dialog, kind) and shiboken6.isValid(dialog) and dialog.isVisible():
            return dialog
        return None

    def _progress(self) -> PatrolSummary | None:
        """The running totals from memory: the items as last read, the tracker's live
        path (no database read: every 3 s, whatever the hour of the day)."""
        session = self._session()
        if session is None or self.patrol is None:
            return None
        live = self.tracker.live
        if live is not None and live.patrol_id != self.patrol.id:
            live = None
        return patrols.live_summary(self.patrol, live, session.clock(), self.imported_m)

    def _update_counts(self) -> None:
        if self.patrol is None:
            return
        lang = i18n.current_language()
        for index, (group, _items) in enumerate(self.patrol.checklist.groups()):
            codes = self.group_codes[index] if index < len(self.group_codes) else []
            done = sum(1 for c in codes if self.patrol.items[c].done)
            if index < len(self.group_tabs.texts):  # the name, ✓ once all are answered:
                # with counts the English names took two lines each at large text
                mark = " ✓" if codes and done == len(codes) else ""
                self.group_tabs.set_text(index, f"{group.name(lang)}{mark}")

    def _update_status(self) -> None:
        progress = self._progress()
        if progress is None or self.patrol is None:
            return
        self.run_title.setText(self.tr("{grid}：已检查{done}/{total}项").format(
            grid=grid_label(self.patrol.grid_id), done=progress.items_done,
            total=progress.items_total))
        if self.tracker.live is None:  # the figures of a long day are still being read
            self.progress_label.setText(self.tr("发现问题{problems}项；用时{duration}").format(
                problems=progress.problems, duration=format_duration(progress.duration_s)))
        else:
            self.progress_label.setText(
                self.tr("发现问题{problems}项；已走{distance}，用时{duration}").format(
                    problems=progress.problems, distance=format_distance(progress.distance_m),
                    duration=format_duration(progress.duration_s)))
        self.gps_label.setText(status_short(self.tracker.feed))
        track = self._shown(TrackDialog)
        if track is not None:
            track.view.set_waiting(self.tracker.waiting_since())
        receiving = self.tracker.feed is not None and self.tracker.feed.status == "receiving"
        set_role(self.gps_label, "gps" if receiving else "gpsWarning")

    def _live_points(self) -> tuple[list[Fix], int]:
        """The live path as simplified while walking (a few thousand points for a whole
        day, not the 28,800 raw fixes) and how many fixes it stands for."""
        live = self.tracker.live
        if live is None or self.patrol is None or live.patrol_id != self.patrol.id:
            return [], 0
        return live.path.points(), live.points

    def show_track(self) -> None:
        progress = self._progress()
        if progress is None:
            return
        facts = self.tr("已走{distance}，用时{duration}").format(
            distance=format_distance(progress.distance_m),
            duration=format_duration(progress.duration_s))
        facts += "\n" + status_text(self.tracker.feed)
        points, count = self._live_points()
        dialog = TrackDialog(points, facts, self.window(), fix_count=count,
                             archive=installed_archive(self.controller.data_dir),
                             waiting_since=self.tracker.waiting_since())
        self.dialog = dialog
        dialog.open()

    # -- finishing -------------------------------------------------------------------
    def finish(self) -> None:
        session = self._session()
        if session is None or self.patrol is None:
            return
        self.flush_notes()
        self._reload()
        missing = len(self.patrol.missing)
        if not missing:
            self._finish(allow_incomplete=False)
            return
        dialog = ConfirmDialog(
            self.tr("还有{n}项没有检查。没有检查的项目不会上报。\n\n现在就结束巡查吗？"
                    "开始错了的话，可以取消这次巡查。").format(n=missing),
            ok_text=self.tr("结束巡查"), cancel_text=self.tr("继续检查"), parent=self.window())
        dialog.accepted.connect(lambda: self._finish(allow_incomplete=True))
        self.cancel_button = dialog.add_button(self.tr("取消巡查"), "cancelPatrolButton")
        self.cancel_button.clicked.connect(self.cancel)
        self.dialog = dialog
        dialog.open()

    def _finish(self, allow_incomplete: bool) -> None:
        """Finish once the running figures are there (at once, except in the first
        seconds after an app start with a long day to read): the stored track is the
        live path, so finishing writes records and reads nothing back."""
        if self._session() is None or self.patrol is None or self.finishing:
            return
        patrol_id = self.patrol.id
        self.finishing = True
        self.finish_button.setEnabled(False)
        self.run_view.setEnabled(False)
        self.tracker.when_live(lambda live: self._finish_with(patrol_id, live, allow_incomplete))

    def _finish_with(self, patrol_id: str, live: patrols.LivePath,
                     allow_incomplete: bool) -> None:
        """Check on the UI thread what would refuse the finish (a few rows), then stop the
        GPS and write the records on the thread pool, on a connection of its own: an
        8-hour day is ~6,000 track points to store and 28,800 fixes to delete, which
        blocked the UI for most of a second. The page waits meanwhile."""
        session = self._session()
        if session is None or self.patrol is None or self.patrol.id != patrol_id:
            self._finish_done()
            return
        try:
            patrol = patrols.get_patrol(session, patrol_id)
            patrols.check_finishable(patrol, allow_incomplete)
            writer = session.fork()
        except FieldClientError as exc:
            self._finish_done()
            self.dialog = show_message(error_text(exc), parent=self.window(), role="error")
            return
        self.tracker.stop()  # no fix is saved half-way: the track ends here
        self.run_title.setText(self.tr("正在保存巡查记录…"))

        def work() -> PatrolSummary:
            try:
                summary = patrols.finish_patrol(writer, patrol_id,
                                                allow_incomplete=allow_incomplete, live=live,
                                                purge_fixes=False)
                patrols.purge_finished_fixes(writer)
                return summary
            finally:
                writer.close()

        def done(summary: PatrolSummary) -> None:
            self._finish_done()
            self.summary = summary
            self.summary_fixes = live.path.points()  # what was stored, not read back
            self.patrol = None
            self.thumb_cache.clear()
            if self._session() is not None:
                self.refresh()

        def failed(exc: BaseException) -> None:
            self._finish_done()
            session = self._session()
            if session is not None:  # still running: record again
                self.tracker.attach(session, patrol_id)
                self.refresh()
            if isinstance(exc, FieldClientError):
                self.dialog = show_message(error_text(exc), parent=self.window(), role="error")
            else:
                from ui.tasks import show_error

                show_error(exc)

        run_task(work, done, failed)

    def _finish_done(self) -> None:
        self.finishing = False
        self.finish_button.setEnabled(True)
        self.run_view.setEnabled(True)

    def _fill_summary(self) -> None:
        summary = self.summary
        if summary is None:
            return
        self.summary_heading.setText(self.tr("{grid}的巡查已结束").format(
            grid=grid_label(summary.grid_id)))
        self.summary_values["items"].setText(self.tr("{done}/{total}项").format(
            done=summary.items_done, total=summary.items_total))
        self.summary_values["problems"].setText(self.tr("{n}项").format(n=summary.problems))
        self.summary_values["distance"].setText(format_distance(summary.distance_m))
        self.summary_values["duration"].setText(format_duration(summary.duration_s))
        self.summary_track.set_archive(installed_archive(self.controller.data_dir))
        self.summary_track.set_track(self.summary_fixes)

    def close_summary(self) -> None:
        self.summary = None
        self.summary_fixes = []
        self.refresh()

    # -- texts -----------------------------------------------------------------------
    def _retranslate_static(self) -> None:
        self.start_heading.setText(self.tr("开始巡查"))
        self.grid_input.setPlaceholderText(self.tr("网格编号"))
        self.start_button.setText(self.tr("开始巡查"))
        self.recent_heading.setText(self.tr("最近的巡查"))
        self.track_button.setText(self.tr("看轨迹"))
        self.finish_button.setText(self.tr("结束巡查"))
        self.summary_names["items"].setText(self.tr("检查项目"))
        self.summary_names["problems"].setText(self.tr("发现问题"))
        self.summary_names["distance"].setText(self.tr("巡查距离"))
        self.summary_names["duration"].setText(self.tr("用时"))
        self.summary_note.setText(self.tr(
            "巡查记录已加密保存在本设备上，有网络时会自动上传到指挥中心。"))
        self.summary_track.set_empty_text(self.tr("这次巡查没有记录到定位点。"))
        self.done_button.setText(self.tr("完成"))

    def _retranslate_cards(self) -> None:
        labels = {
            ItemResult.NORMAL.value: self.tr("正常"),
            ItemResult.PROBLEM.value: self.tr("发现问题"),
            ItemResult.NOT_APPLICABLE.value: self.tr("不涉及"),
            "required": self.tr("发现问题时必须拍照。"),
            "note": self.tr("备注（可以不填）"),
            "camera": self.tr("拍照"),
            "pick": self.tr("选择图片"),
            "report": self.tr("上报事件"),
            "busy": self.tr("正在处理照片…"),
            "reported": self.tr("已上报为事件，有网络时自动发送。"),
        }
        lang = i18n.current_language()
        for card in self.cards.values():
            card.retranslate(lang, labels)
        self._update_counts()
