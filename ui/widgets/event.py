"""Pieces of the event screens: the coloured status chip, the closed loop drawn as
vertical steps, the history list, exclusive big choice buttons, evidence photos
held until the worker sends, and the current position.

Photos go through the shared pipeline (:func:`fieldclient.photos.pipeline.prepare_photo`
off the UI thread) but are stored only when the report or follow-up is sent
(:meth:`PhotoPicker.save_all`): a cancelled report leaves nothing to upload.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldclient.devicetime import CST
from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import events
from fieldclient.geo.geometry import Fix
from ui.errors import error_text
from ui.platform.camera import ImagePicker, camera_available, pick_image_file
from ui.tasks import run_task
from ui.widgets.basic import button, label, set_role
from ui.widgets.patrol import ButtonGrid

if TYPE_CHECKING:
    from fieldclient.photos.pipeline import Prepared
    from fieldclient.storage.session import Session
    from ui.controller import AppController
    from ui.platform.positioning import PositionFeed

log = logging.getLogger("gridfield.ui")
THUMB_PX = 96
FIX_MAX_AGE_S = 300.0  # an older fix does not say where the worker is now


def status_text(status: str) -> str:
    return QCoreApplication.translate("events", events.STATUS_TEXT.get(status, status))


def urgency_text(urgency: str) -> str:
    return QCoreApplication.translate("events", events.URGENCY_TEXT.get(urgency, urgency))


def category_text(category: str, categories: Sequence[events.Category] = ()) -> str:
    """A class in the UI language: the centre's English name, else the app's own."""
    from ui import i18n

    if i18n.current_language().startswith("zh"):
        return category
    for known in categories:
        if known.zh == category and known.en:
            return known.en
    return QCoreApplication.translate("eventCategory", category)


def local_time(moment: float | None) -> str:
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment, CST).strftime("%Y-%m-%d %H:%M")


def tone(status: str) -> str:
    """The chip colour of a status: something to do, under way, done, or a problem."""
    if status in ("returned", "resolved"):
        return "action"
    if status in ("verified", "closed"):
        return "done"
    if status in (events.REJECTED, "escalated"):
        return "alert"
    if status == events.PENDING:
        return "pending"
    return "progress"


class StatusChip(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusChip")
        self.setTextFormat(Qt.TextFormat.PlainText)

    def set_status(self, status: str) -> None:
        self.setText(status_text(status))
        if self.property("tone") != tone(status):
            self.setProperty("tone", tone(status))
            self.style().unpolish(self)
            self.style().polish(self)


class ChoiceRow(ButtonGrid):
    """Big exclusive toggles (urgency, result, grid); ``chosen`` is the picked key."""

    changed = Signal(str)

    def __init__(self, columns: tuple[int, ...] = (3,), parent: QWidget | None = None) -> None:
        super().__init__(columns, parent)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.keys: dict[str, QPushButton] = {}

    def add_choice(self, key: str, name: str, role: str = "choice") -> QPushButton:
        btn = button(role, f"choice_{key}")
        btn.setCheckable(True)
        btn.setText(name)
        btn.clicked.connect(lambda _=False, k=key: self.changed.emit(k))
        self.group.addButton(btn)
        self.keys[key] = btn
        self.add_button(btn)
        return btn

    def set_choice_text(self, key: str, name: str) -> None:
        self.set_text(list(self.keys).index(key), name)

    def choose(self, key: str) -> None:
        self.keys[key].setChecked(True)

    @property
    def chosen(self) -> str | None:
        for key, btn in self.keys.items():
            if btn.isChecked():
                return key
        return None


class LoopSteps(QWidget):
    """The closed loop top to bottom: ✔ done, ● current, ○ still to come."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(16)
        self.grid.setVerticalSpacing(4)
        self.rows: list[tuple[QLabel, QLabel, QLabel]] = []
        for index, status in enumerate(events.LOOP):
            mark, name, when = label(wrap=False), label(wrap=False), label("muted", wrap=False)
            mark.setObjectName(f"stepMark_{status}")
            name.setObjectName(f"step_{status}")
            self.grid.addWidget(mark, index, 0)
            self.grid.addWidget(name, index, 1)
            self.grid.addWidget(when, index, 2)
            self.rows.append((mark, name, when))
        self.grid.setColumnStretch(2, 1)
        self.steps: list[events.LoopStep] = []

    def set_steps(self, steps: Sequence[events.LoopStep]) -> None:
        self.steps = list(steps)
        for (mark, name, when), step in zip(self.rows, steps, strict=True):
            mark.setText({"done": "✔", "current": "●"}.get(step.state, "○"))
            name.setText(status_text(step.status))
            when.setText(local_time(step.at))
            for widget in (mark, name):
                set_role(widget, f"step_{step.state}")


def _pixmap(data: bytes) -> QPixmap:
    pixmap = QPixmap()
    pixmap.loadFromData(data)
    return pixmap


@dataclass
class _Photo:
    prepared: Prepared
    saved_id: str | None = None


class PhotoPicker(QWidget):
    """Take or pick evidence photos; shown as thumbnails (tap one: full size, 删除)."""

    changed = Signal()

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.photos: list[_Photo] = []
        self.image_picker: ImagePicker = pick_image_file
        self.camera_check: Callable[[], bool] = camera_available
        self.position: Callable[[], Fix | None] = lambda: None
        self.grid_id: Callable[[], str | None] = lambda: None
        self.working = 0
        from ui.dialogs.photo import PhotoStrip

        self.strip = PhotoStrip(removable=True)
        self.strip.remove_requested.connect(self._drop)
        self.camera_button = button("", "eventCameraButton")
        self.pick_button = button("", "eventPickButton")
        self.camera_button.clicked.connect(self.take_photo)
        self.pick_button.clicked.connect(self.pick_photo)
        self.busy = label("muted", wrap=False)
        self.busy.setVisible(False)
        self.error = label("error")
        self.error.setVisible(False)
        self.dialog: QWidget | None = None
        row = QHBoxLayout()
        row.setSpacing(12)
        row.addWidget(self.camera_button)
        row.addWidget(self.pick_button)
        row.addWidget(self.strip)
        row.addWidget(self.busy)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(row)
        layout.addWidget(self.error)
        self.retranslate()

    def retranslate(self) -> None:
        self.camera_button.setText(QCoreApplication.translate("eventWidgets", "拍照"))
        self.pick_button.setText(QCoreApplication.translate("eventWidgets", "选择图片"))
        self.busy.setText(QCoreApplication.translate("eventWidgets", "正在处理照片…"))

    def count(self) -> int:
        return len(self.photos)

    def is_busy(self) -> bool:
        return self.working > 0

    def take_photo(self) -> None:
        if not self.camera_check():
            from ui.dialogs.message import show_message

            self.dialog = show_message(
                QCoreApplication.translate(
                    "eventWidgets",
                    "本设备没有可用的摄像头。请点“选择图片”，从相册或存储卡里选一张照片。",
                ),
                parent=self.window(),
            )
            return
        from ui.platform.camera import CameraDialog

        dialog = CameraDialog(self.window())
        dialog.captured.connect(lambda data: self._process(lambda: (data, "")))
        self.dialog = dialog
        dialog.open()

    def pick_photo(self) -> None:
        def picked(path: object) -> None:
            from pathlib import Path

            from fieldclient.photos.pipeline import read_source

            source = Path(str(path))
            self._process(lambda: (read_source(source), source.name))

        self.image_picker(self.window(), picked)

    def _process(self, load: Callable[[], tuple[bytes, str]]) -> None:
        session = self.controller.session
        if session is None:
            return
        from fieldclient.photos.pipeline import prepare_photo
        from ui.patrol_common import watermark_grid, worker_grids

        device_id, now = session.device_id, session.clock()
        worker = worker_grids(session).worker_name
        fix, grid = self.position(), self.grid_id()
        self.working += 1
        self._show_state()

        def work() -> Prepared:
            data, name = load()
            return prepare_photo(
                device_id,
                data,
                now,
                name=name,
                lat=fix.lat if fix else None,
                lon=fix.lon if fix else None,
                grid_id=grid,
                grid_name=watermark_grid(grid),
                worker=worker,
            )

        def done(prepared: Prepared) -> None:
            self.working -= 1
            self._add(prepared)

        def failed(exc: BaseException) -> None:
            self.working -= 1
            self._show_state()
            if isinstance(exc, FieldClientError):
                self.show_error(error_text(exc))
            else:
                from ui.tasks import show_error

                show_error(exc)

        run_task(work, done, failed)

    def _add(self, prepared: Prepared) -> None:
        if len(self.photos) >= events.MAX_PHOTOS:
            self.show_error(error_text(events.EventTooManyPhotos(limit=events.MAX_PHOTOS)))
            self._show_state()
            return
        self.photos.append(_Photo(prepared))
        self._show_thumbs()
        self.show_error("")
        self._show_state()
        self.changed.emit()

    @property
    def thumbs(self) -> list[QPushButton]:
        return self.strip.thumbs

    def _show_thumbs(self) -> None:
        """Tap a thumbnail: the photo at full size, with 删除 (asks first)."""
        thumbs, full = [], []
        for item in self.photos:
            pixmap = QPixmap()
            pixmap.loadFromData(item.prepared.rendered.thumbnail)
            thumbs.append(pixmap)
            full.append(lambda data=item.prepared.rendered.jpeg: _pixmap(data))
        self.strip.set_photos(thumbs, full)

    def _drop(self, index: int) -> None:
        if 0 <= index < len(self.photos):
            self.photos.pop(index)
            self._show_thumbs()
            self._show_state()
            self.changed.emit()

    def _show_state(self) -> None:
        self.busy.setVisible(self.working > 0)
        full = len(self.photos) >= events.MAX_PHOTOS
        self.camera_button.setEnabled(not full)
        self.pick_button.setEnabled(not full)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def save_all(self, session: Session) -> list[str]:
        """Store the photos not stored yet (each in its own transaction) and return
        all their ids; a retry after a refused report does not store them twice."""
        from fieldclient.photos.pipeline import save_prepared

        for item in self.photos:
            if item.saved_id is None:
                item.saved_id = save_prepared(session, item.prepared).id
        return [item.saved_id for item in self.photos if item.saved_id is not None]


class PositionWatcher(QObject):
    """The worker's current position for a report: the running patrol's GPS if
    there is one, else a position feed of its own while the dialog is open."""

    changed = Signal()

    def __init__(self, controller: AppController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from ui.patrol_tracker import PatrolTracker

        self.controller = controller
        self.tracker = PatrolTracker.of(controller)
        self.feed: PositionFeed | None = None
        self.fix: Fix | None = None
        self.received = 0.0  # time.monotonic() when self.fix arrived
        if self.tracker.feed is not None and self.tracker.last_fix is not None:
            self.fix, self.received = self.tracker.last_fix, time.monotonic()
            self.tracker.fix_recorded.connect(self._on_fix)
            self.tracker.status_changed.connect(self.changed.emit)

    def start(self) -> None:
        if self.tracker.feed is not None or self.feed is not None:
            return
        from ui.platform.positioning import make_feed

        spec = self.controller.gps_override or self.controller.settings.gps_source
        try:
            feed = make_feed(spec, self)
        except ValueError:
            log.warning("bad GPS source setting; using the system's positioning")
            feed = make_feed("system", self)
        self.feed = feed
        feed.fix_received.connect(lambda fix, source=feed: self._on_fix(fix, source))
        feed.status_changed.connect(lambda _status: self.changed.emit())
        feed.start()

    def stop(self) -> None:
        feed, self.feed = self.feed, None
        if feed is not None:
            feed.stop()
            feed.deleteLater()

    def _on_fix(self, fix: Fix, source: object = None) -> None:
        if source is not None and source is not self.feed:
            return  # a stopped feed's late fix
        if fix.valid:
            self.fix, self.received = fix, time.monotonic()
            self.changed.emit()

    def current(self) -> Fix | None:
        """The last fix if it arrived recently (by this device's clock: a replayed
        log's fixes carry the log's old times)."""
        if self.fix is None or time.monotonic() - self.received > FIX_MAX_AGE_S:
            return None
        return self.fix

    def text(self) -> str:
        fix = self.current()
        if fix is not None:
            return QCoreApplication.translate("eventWidgets", "北纬{lat}°，东经{lon}°").format(
                lat=f"{fix.lat:.5f}", lon=f"{fix.lon:.5f}"
            )
        from ui.platform.positioning import status_short

        return QCoreApplication.translate(
            "eventWidgets", "还没有定位（{status}），可以不带位置上报"
        ).format(status=status_short(self.tracker.feed or self.feed))


class HistoryList(QFrame):
    """The event's record, oldest first: who did what, with the notes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(8)
        self.entries: list[QLabel] = []

    def set_entries(self, timeline: Sequence[events.TimelineEntry]) -> None:
        for old in self.entries:
            self.layout_.removeWidget(old)
            old.deleteLater()
        self.entries = []
        for entry in timeline:
            line = label("historyEntry")
            line.setTextFormat(Qt.TextFormat.PlainText)
            line.setText(self.entry_text(entry))
            line.setObjectName("historyEntry")
            self.layout_.addWidget(line)
            self.entries.append(line)

    @staticmethod
    def entry_text(entry: events.TimelineEntry) -> str:
        head = local_time(entry.at)
        if entry.kind == "report":
            what = QCoreApplication.translate("eventWidgets", "我上报了事件")
        elif entry.kind == "supplement":
            what = QCoreApplication.translate("eventWidgets", "我补充了材料")
        elif entry.kind == "verify":
            what = (
                QCoreApplication.translate("eventWidgets", "我现场核查：已解决")
                if entry.outcome == events.PASSED
                else QCoreApplication.translate("eventWidgets", "我现场核查：没有解决")
            )
        elif entry.kind == "status" and entry.status is not None:
            what = QCoreApplication.translate("eventWidgets", "指挥中心：{status}").format(
                status=status_text(entry.status)
            )
        else:
            what = QCoreApplication.translate("eventWidgets", "指挥中心备注")
        parts = [f"{head}  {what}"]
        if entry.kind in ("supplement", "verify") and entry.status is not None:
            parts[0] += QCoreApplication.translate("eventWidgets", "（事件转为“{status}”）").format(
                status=status_text(entry.status)
            )
        if entry.text and entry.kind != "report":
            parts.append(entry.text)
        if entry.photos:
            parts.append(
                QCoreApplication.translate("eventWidgets", "照片{n}张").format(n=len(entry.photos))
            )
        if entry.rejected:
            parts.append(QCoreApplication.translate("eventWidgets", "指挥中心没有接收这条记录。"))
        elif not entry.uploaded:
            parts.append(QCoreApplication.translate("eventWidgets", "待上传：有网络时会自动发送。"))
        return "\n".join(parts)
