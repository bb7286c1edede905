"""Record a household visit (走访) in one big dialog, and a household's visit history.

One screen, top to bottom: how (four big buttons), who was met, the situation,
needs and problems, the follow-up promised and its date, photos (the shared
pipeline), the position. Saving writes the visit, its outbox op and audit entry
at once (:func:`fieldclient.fieldwork.visits.record_visit`). Closing with something typed
asks before throwing it away. A saved visit is read-only; "更正" opens this
dialog filled in, and saving makes a new record that replaces the old one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QDate, QDateTime, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QDateEdit,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import reviews, visits
from fieldclient.geo.geometry import Fix
from ui.dialogs.patrol import ConfirmDialog
from ui.dialogs.photo import PhotoStrip, stored_photo
from ui.dialogs.review import review_lines
from ui.errors import error_text
from ui.platform.camera import ImagePicker, camera_available, pick_image_file
from ui.tasks import run_task
from ui.widgets.basic import (
    Retranslatable,
    button,
    keep_together,
    label,
    photo_thumbnail,
    scroll_area,
)
from ui.widgets.patrol import ButtonGrid
from ui.widgets.phrases import PhraseButtons

if TYPE_CHECKING:
    from fieldclient.photos.pipeline import Prepared
    from fieldclient.storage.session import Session
    from ui.controller import AppController

log = logging.getLogger("gridfield.ui")


def visit_type_text(visit_type: str) -> str:
    return QCoreApplication.translate("visits", visits.VISIT_TYPE_NAMES.get(visit_type,
                                                                            visit_type))


def when_text(visit: visits.Visit) -> str:
    moment = QDateTime.fromSecsSinceEpoch(int(visit.visited_at)).toOffsetFromUtc(
        visit.tz_offset_minutes * 60)
    return moment.toString("yyyy-MM-dd HH:mm")


def visitor_text(visit: visits.Visit) -> str:
    """Who made the visit: the worker's name, else which device recorded it."""
    if visit.worker:
        return visit.worker
    if visit.origin == "local":
        return QCoreApplication.translate("visits", "本机记录")
    return QCoreApplication.translate("visits", "未记录走访人")


def _text_box(name: str) -> QTextEdit:
    box = QTextEdit()
    box.setObjectName(name)
    box.setAcceptRichText(False)
    box.setTabChangesFocus(True)
    box.setMinimumHeight(96)
    box.setMaximumHeight(150)
    return box


def _fit(dialog: QDialog) -> None:
    """Nearly the whole window: the form is long and the text big."""
    owner = dialog.parentWidget()
    window = owner.window() if owner is not None else None
    width = window.width() if window is not None else 1280
    height = window.height() if window is not None else 800
    dialog.resize(max(720, min(width - 60, 1100)), max(560, height - 60))


class VisitDialog(Retranslatable, QDialog):
    """Record a visit of ``household_id`` (or correct visit ``corrects``)."""

    def __init__(self, controller: AppController, household_id: str,
                 parent: QWidget | None = None, corrects: str | None = None) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setObjectName("visitDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.controller = controller
        self.household_id = household_id
        self.corrects = corrects
        self.saved_id: str | None = None
        self.photo_ids: list[str] = []
        self.pixmaps: dict[str, QPixmap] = {}
        self.busy_photos = 0
        self.confirm: ConfirmDialog | None = None
        self.discarding = False
        self.error_kind = ""
        # Seams for tests and devices without a camera.
        self.image_picker: ImagePicker = pick_image_file
        self.camera_check: Callable[[], bool] = camera_available
        self.position: Fix | None = self._current_fix()

        self.heading = label("prompt")
        self.heading.setObjectName("visitHeading")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.names: dict[str, QLabel] = {
            key: label("factName") for key in (
                "type", "people", "situation", "needs", "follow_up", "photos", "place")}
        self.type_group = QButtonGroup(self)
        self.type_buttons: dict[str, QPushButton] = {}
        self.types = ButtonGrid((4, 2))
        for visit_type in visits.VISIT_TYPES:
            btn = button("result", f"visitType_{visit_type}")
            btn.setProperty("result", "normal")  # checked: filled green, like "正常"
            btn.setCheckable(True)
            self.type_group.addButton(btn)
            self.type_buttons[visit_type] = btn
            self.types.add_button(btn)
        self.type_buttons["home"].setChecked(True)
        self.people = QLineEdit()
        self.people.setObjectName("visitPeople")
        self.people.setMaxLength(visits.MAX_PEOPLE)
        self.people_buttons = PhraseButtons(self._add_person, (4, 3, 2), "visitPeopleButtons")
        self.situation = _text_box("visitSituation")
        self.situation.textChanged.connect(self._situation_changed)
        self.situation_phrases = PhraseButtons(self._add_phrase, (3, 2, 1), "visitPhrases")
        self.needs = _text_box("visitNeeds")
        self.follow_up = QLineEdit()
        self.follow_up.setObjectName("visitFollowUp")
        self.follow_up.setMaxLength(visits.MAX_TEXT)
        self.due_check = QCheckBox()
        self.due_check.setObjectName("visitDueCheck")
        self.due_date = QDateEdit()
        self.due_date.setObjectName("visitDueDate")
        self.due_date.setCalendarPopup(True)
        self.due_date.setDisplayFormat("yyyy-MM-dd")
        # A week from today (not Qt's 2000-01-01): the usual promise, one tap to change.
        today = QDate.currentDate()
        self.due_date.setMinimumDate(today)
        self.due_date.setDate(today.addDays(7))
        self.due_date.setEnabled(False)
        self.due_check.toggled.connect(self.due_date.setEnabled)
        due_row = QHBoxLayout()
        due_row.addWidget(self.due_check)
        due_row.addWidget(self.due_date)
        due_row.addStretch(1)
        self.strip = PhotoStrip(removable=True)
        self.strip.remove_requested.connect(self._remove_photo)
        self.photo_busy = label("muted", wrap=False)
        self.photo_busy.setVisible(False)
        self.camera_button = button("", "visitCamera")
        self.camera_button.clicked.connect(self.take_photo)
        self.pick_button = button("", "visitPick")
        self.pick_button.clicked.connect(self.pick_photo)
        photo_row = QHBoxLayout()
        photo_row.addWidget(self.strip)
        photo_row.addWidget(self.photo_busy)
        photo_row.addStretch(1)
        photo_row.addWidget(self.camera_button)
        photo_row.addWidget(self.pick_button)
        self.place = label("fact")
        self.place.setObjectName("visitPlace")
        self.error = label("error")
        self.error.setObjectName("visitError")
        self.error.setVisible(False)

        body = QWidget()
        form = QVBoxLayout(body)
        form.setContentsMargins(0, 0, 12, 0)
        form.setSpacing(6)
        for key, widget in (("type", self.types), ("people", self.people),
                            ("situation", self.situation), ("needs", self.needs),
                            ("follow_up", self.follow_up)):
            form.addWidget(self.names[key])
            form.addWidget(widget)
            if key == "people":
                form.addWidget(self.people_buttons)
            elif key == "situation":
                form.addWidget(self.situation_phrases)
        form.addLayout(due_row)
        form.addWidget(self.names["photos"])
        form.addLayout(photo_row)
        form.addWidget(self.names["place"])
        form.addWidget(self.place)
        form.addStretch(1)

        self.cancel_button = button("", "cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        self.save_button = button("primary", "saveVisitButton")
        self.save_button.clicked.connect(self.save)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(self.heading)
        layout.addWidget(scroll_area(body), 1)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.household = self._household()
        self._fill_helpers()
        if corrects is not None:
            self._prefill(corrects)
        self.retranslate()
        _fit(self)

    # -- facts -------------------------------------------------------------------
    def _session(self) -> Session | None:
        session = self.controller.session
        return session if session is not None and session.is_open else None

    def _household(self) -> tuple[str, str]:
        session = self._session()
        row = session.db.execute(
            "SELECT head_name, address FROM households WHERE id = ?", (self.household_id,)
        ).fetchone() if session is not None else None
        return (str(row[0]), str(row[1])) if row is not None else ("", "")

    def _fill_helpers(self) -> None:
        """The household's people and the quick phrases in force, one tap each."""
        session = self._session()
        if session is None:
            return
        from fieldclient.fieldwork import households, phrases

        people: list[tuple[str, str]] = []
        head = self.household[0]
        if head:
            people.append((head, self.tr("{name}（户主）").format(name=head)))
        for member in households.list_members(session, self.household_id):
            name = str(member["name"] or "").strip()
            if name and name != head and all(name != p for p, _ in people):
                relation = str(member["relation"] or "").strip()
                people.append((name, self.tr("{name}（{relation}）").format(
                    name=keep_together(name), relation=keep_together(relation))
                    if relation else keep_together(name)))
        self.people_buttons.set_phrases([p for p, _ in people], [t for _, t in people])
        from ui import i18n

        english = not i18n.current_language().startswith("zh")
        self.situation_phrases.set_phrases(phrases.quick_phrases(session.db, "visit", english))

    def _add_person(self, name: str) -> None:
        current = [p for p in self.people.text().replace("，", "、").split("、") if p.strip()]
        if name not in current:
            self.people.setText("、".join([*current, name])[: visits.MAX_PEOPLE])

    def _add_phrase(self, phrase: str) -> None:
        from fieldclient.fieldwork.phrases import append_phrase

        text = append_phrase(self.situation.toPlainText(), phrase)
        self.situation.setPlainText(text)
        cursor = self.situation.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.situation.setTextCursor(cursor)

    def _situation_changed(self) -> None:
        """The "please write the situation" error goes once there is something written."""
        if self.error_kind == "situation" and self.situation.toPlainText().strip():
            self.show_error("")

    def _current_fix(self) -> Fix | None:
        """The patrol tracker's last fix, when recent (there is no GPS otherwise)."""
        from ui.patrol_tracker import recent_fix

        session = self._session()
        return None if session is None else recent_fix(self.controller, session.clock())

    def _prefill(self, visit_id: str) -> None:
        session = self._session()
        if session is None:
            return
        old = visits.get_visit(session, visit_id)
        self.type_buttons.get(old.visit_type, self.type_buttons["other"]).setChecked(True)
        self.people.setText(old.people_met)
        self.situation.setPlainText(old.situation)
        self.needs.setPlainText(old.needs)
        self.follow_up.setText(old.follow_up)
        if old.follow_up_due is not None:
            self.due_check.setChecked(True)
            due = old.follow_up_due
            self.due_date.setDate(QDate(due.year, due.month, due.day))
        self.photo_ids = list(old.photos)
        self._show_photos()
        if old.lat is not None and old.lon is not None:
            self.position = Fix(t=old.visited_at, lat=old.lat, lon=old.lon,
                                accuracy_m=old.accuracy_m)

    def visit_type(self) -> str:
        return next((t for t, b in self.type_buttons.items() if b.isChecked()), "other")

    def has_content(self) -> bool:
        typed = (self.people.text(), self.situation.toPlainText(), self.needs.toPlainText(),
                 self.follow_up.text())
        return any(t.strip() for t in typed) or bool(self.photo_ids) or self.busy_photos > 0

    def retranslate(self) -> None:
        name, address = self.household
        if self.corrects is None:
            self.setWindowTitle(self.tr("记录走访"))
            self.heading.setText(self.tr("走访：{name}（{address}）").format(
                name=name, address=address))
        else:
            self.setWindowTitle(self.tr("更正走访记录"))
            self.heading.setText(self.tr(
                "更正 {name} 的走访记录。原记录会保留，并标明已被更正。").format(name=name))
        self.names["type"].setText(self.tr("走访方式"))
        for visit_type, btn in self.type_buttons.items():
            self.types.set_text(list(self.type_buttons).index(visit_type),
                                visit_type_text(visit_type))
            btn.setAccessibleName(visit_type_text(visit_type))
        self.names["people"].setText(self.tr("见到的人"))
        self.people.setPlaceholderText(self.tr("例如：户主和老伴"))
        self.names["situation"].setText(self.tr("走访情况（必填）"))
        self.names["needs"].setText(self.tr("需求和问题"))
        self.names["follow_up"].setText(self.tr("答应跟进的事"))
        self.due_check.setText(self.tr("约定完成日期"))
        self.names["photos"].setText(self.tr("照片"))
        self.camera_button.setText(self.tr("拍照"))
        self.pick_button.setText(self.tr("选择图片"))
        self.photo_busy.setText(self.tr("正在处理照片…"))
        self.names["place"].setText(self.tr("位置"))
        self.place.setText(self._place_text())
        self.cancel_button.setText(self.tr("取消"))
        self.save_button.setText(self.tr("保存走访") if self.corrects is None
                                 else self.tr("保存更正"))

    def _place_text(self) -> str:
        if self.position is None:
            return self.tr("没有定位。这次走访会不带位置保存，这也可以。")
        return self.tr("北纬{lat}°，东经{lon}°").format(
            lat=f"{self.position.lat:.5f}", lon=f"{self.position.lon:.5f}")

    # -- photos ------------------------------------------------------------------
    def take_photo(self) -> None:
        if not self.camera_check():
            self.show_error(self.tr(
                "本设备没有可用的摄像头。请点“选择图片”，从相册或存储卡里选一张照片。"))
            return
        from ui.platform.camera import CameraDialog

        dialog = CameraDialog(self)
        dialog.captured.connect(lambda data: self._process_photo(lambda: (data, "")))
        dialog.open()

    def pick_photo(self) -> None:
        def picked(path: Path) -> None:
            from fieldclient.photos.pipeline import read_source

            self._process_photo(lambda: (read_source(path), path.name))

        self.image_picker(self, picked)

    def _process_photo(self, load: Callable[[], tuple[bytes, str]]) -> None:
        session = self._session()
        if session is None:
            return
        if len(self.photo_ids) + self.busy_photos >= visits.MAX_PHOTOS:
            self.show_error(self.tr("一次走访最多{n}张照片。").format(n=visits.MAX_PHOTOS))
            return
        from fieldclient.photos.pipeline import prepare_photo
        from ui.patrol_common import watermark_grid

        device_id, now, fix = session.device_id, session.clock(), self.position
        grid = session.db.execute(
            "SELECT grid_id FROM households WHERE id = ?", (self.household_id,)).fetchone()
        grid_id = str(grid[0]) if grid is not None and grid[0] is not None else None
        place = self.household[1] or None

        def work() -> Prepared:
            data, name = load()
            return prepare_photo(device_id, data, now, name=name, place=place,
                                 lat=fix.lat if fix else None, lon=fix.lon if fix else None,
                                 grid_id=grid_id, grid_name=watermark_grid(grid_id))

        self._set_busy(+1)
        run_task(work, self._photo_ready, self._photo_failed)

    def _set_busy(self, delta: int) -> None:
        self.busy_photos += delta
        self.photo_busy.setVisible(self.busy_photos > 0)
        self.save_button.setEnabled(self.busy_photos == 0)

    def _photo_ready(self, prepared: Prepared) -> None:
        from fieldclient.photos.pipeline import save_prepared

        self._set_busy(-1)
        session = self._session()
        if session is None:
            return  # locked meanwhile: nothing was stored
        try:
            photo = save_prepared(session, prepared)
        except FieldClientError as exc:
            self.show_error(error_text(exc))
            return
        self.show_error("")
        self.photo_ids.append(photo.id)
        self._show_photos()

    def _photo_failed(self, exc: BaseException) -> None:
        self._set_busy(-1)
        if isinstance(exc, FieldClientError):
            self.show_error(error_text(exc))
        else:
            from ui.tasks import show_error

            show_error(exc)

    @property
    def thumbs(self) -> list[QPushButton]:
        return self.strip.thumbs

    def _show_photos(self) -> None:
        """Thumbnails; a tap shows the photo at full size with 删除 (asks first)."""
        session = self._session()
        pixmaps = []
        for photo_id in self.photo_ids:
            pixmap = self.pixmaps.get(photo_id)
            if pixmap is None and session is not None:
                pixmap = self.pixmaps[photo_id] = photo_thumbnail(session, photo_id)
            pixmaps.append(pixmap if pixmap is not None else QPixmap())
        self.strip.set_photos(pixmaps, [
            lambda p=photo_id: stored_photo(self._session(), p) for photo_id in self.photo_ids])
        full = len(self.photo_ids) >= visits.MAX_PHOTOS
        self.camera_button.setEnabled(not full)
        self.pick_button.setEnabled(not full)

    def _remove_photo(self, index: int) -> None:
        """The photo leaves this visit (it stays in the device's photo store)."""
        if 0 <= index < len(self.photo_ids):
            self.photo_ids.pop(index)
            self._show_photos()

    # -- saving and closing ----------------------------------------------------------
    def show_error(self, text: str, kind: str = "") -> None:
        self.error_kind = kind if text else ""
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def follow_up_due(self) -> date | None:
        if not self.due_check.isChecked():
            return None
        picked = self.due_date.date()
        return date(picked.year(), picked.month(), picked.day())

    def save(self) -> None:
        session = self._session()
        if session is None or self.busy_photos:
            return
        try:
            self.saved_id = visits.record_visit(
                session, self.household_id, visit_type=self.visit_type(),
                people_met=self.people.text(), situation=self.situation.toPlainText(),
                needs=self.needs.toPlainText(), follow_up=self.follow_up.text(),
                follow_up_due=self.follow_up_due(), photos=self.photo_ids,
                position=self.position, corrects=self.corrects)
        except FieldClientError as exc:
            empty = isinstance(exc, visits.VisitSituationEmpty)
            self.show_error(error_text(exc), "situation" if empty else "")
            if empty:
                self.situation.setFocus()
            return
        from ui.widgets.toast import show_toast

        show_toast(self.parentWidget() or self, self.tr(
            "走访已保存（{name}家），有网络时会自动上传。").format(name=self.household[0])
            if self.corrects is None else self.tr("更正已保存，原记录标为已更正。"))
        self.accept()

    def reject(self) -> None:
        """Closing with something typed asks first: nothing is thrown away by a slip."""
        if self.discarding or not self.has_content() or self.saved_id is not None:
            super().reject()
            return
        if self.confirm is not None:
            return
        confirm = ConfirmDialog(
            self.tr("还没有保存。要放弃这次填写的内容吗？"),
            ok_text=self.tr("放弃"), cancel_text=self.tr("继续填写"), parent=self)
        confirm.accepted.connect(self._discard)
        confirm.finished.connect(lambda _r: setattr(self, "confirm", None))
        self.confirm = confirm
        confirm.open()

    def _discard(self) -> None:
        self.discarding = True
        self.reject()


class VisitHistoryDialog(Retranslatable, QDialog):
    """A household's visits, newest first, read-only; record a new one or correct one."""

    def __init__(self, controller: AppController, household_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setObjectName("visitHistoryDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.controller = controller
        self.household_id = household_id
        self.dialog: VisitDialog | None = None
        self.reviewer = False
        self.verdicts: dict[str, list[reviews.Review]] = {}
        self.cards: dict[str, QFrame] = {}
        self.correct_buttons: dict[str, QPushButton] = {}
        self.review_buttons: dict[str, QPushButton] = {}
        self.review_dialog: QDialog | None = None
        self.heading = label("prompt")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.new_button = button("primary", "newVisitButton")
        self.new_button.clicked.connect(lambda: self.open_visit(None))
        self.empty = label("empty")
        self.list_body = QWidget()
        self.list_layout = QVBoxLayout(self.list_body)
        self.list_layout.setContentsMargins(0, 0, 12, 0)
        self.list_layout.setSpacing(12)
        self.close_button = button("", "closeButton")
        self.close_button.clicked.connect(self.accept)
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addLayout(top)
        layout.addWidget(self.empty)
        layout.addWidget(scroll_area(self.list_body), 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignRight)
        self.retranslate()
        _fit(self)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("走访记录"))
        self.new_button.setText(self.tr("记录走访"))
        self.close_button.setText(self.tr("关闭"))
        self.empty.setText(self.tr("这户还没有走访记录。"))
        self.reload()

    def reload(self) -> None:
        session = self.controller.session
        while self.list_layout.count():
            item = self.list_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.cards.clear()
        self.correct_buttons.clear()
        self.review_buttons.clear()
        if session is None or not session.is_open:
            return
        self.reviewer = reviews.can_review(session)
        row = session.db.execute("SELECT head_name FROM households WHERE id = ?",
                                 (self.household_id,)).fetchone()
        self.heading.setText(self.tr("{name}家的走访记录").format(name=row[0] if row else ""))
        found = visits.visits_for_household(session, self.household_id)
        self.empty.setVisible(not found)
        self.verdicts: dict[str, list[reviews.Review]] = {}
        for item in reviews.reviews_for_visits(session, [v.id for v in found]):
            self.verdicts.setdefault(item.target_id, []).append(item)
        for visit in found:
            card = self._card(visit)
            self.cards[visit.id] = card
            self.list_layout.addWidget(card)
        self.list_layout.addStretch(1)

    def _card(self, visit: visits.Visit) -> QFrame:
        card = QFrame()
        card.setObjectName("itemCard")
        card.setProperty("role", "not_applicable" if visit.superseded else "normal")
        box = QVBoxLayout(card)
        box.setContentsMargins(16, 10, 16, 10)
        title = label("itemName")
        title.setText(f"{when_text(visit)}  {visit_type_text(visit.visit_type)}")
        box.addWidget(title)
        if visit.superseded:
            note = label("warning")
            note.setText(self.tr("已被更正，以新的记录为准"))
            box.addWidget(note)
        elif visit.corrects:
            note = label("info")
            note.setText(self.tr("这是更正后的记录"))
            box.addWidget(note)
        lines = [(self.tr("走访人"), visitor_text(visit)),
                 (self.tr("见到的人"), visit.people_met), (self.tr("走访情况"), visit.situation),
                 (self.tr("需求和问题"), visit.needs), (self.tr("答应跟进的事"), visit.follow_up)]
        if visit.follow_up_due is not None:
            lines.append((self.tr("约定完成日期"), visit.follow_up_due.isoformat()))
        for name, value in lines:
            if value:
                text = label("")
                text.setTextFormat(Qt.TextFormat.PlainText)
                text.setText(self.tr("{name}：{value}").format(name=name, value=value))
                box.addWidget(text)
        if visit.photos:
            session = self.controller.session
            strip = PhotoStrip()
            strip.setObjectName(f"visitPhotos_{visit.id}")
            strip.set_photos(
                [photo_thumbnail(session, p) if session is not None else QPixmap()
                 for p in visit.photos],
                [lambda p=p: stored_photo(self.controller.session, p) for p in visit.photos])
            box.addWidget(strip, 0, Qt.AlignmentFlag.AlignLeft)
        verdicts = self.verdicts.get(visit.id, [])
        for line in review_lines(verdicts):  # every verdict, never edited
            box.addWidget(line)
        asked = (not visit.superseded and visit.origin == "local" and bool(verdicts)
                 and verdicts[-1].state in ("has_issues", "rejected"))
        if asked:
            note = label("warning")
            note.setObjectName(f"correctionAsked_{visit.id}")
            note.setText(self.tr("审核人要求更正这条记录：请点“更正”，按意见重新填写"))
            box.addWidget(note)
        if self.reviewer and visit.origin == "server":
            review = button("", f"review_{visit.id}")
            review.setText(self.tr("审核"))
            review.clicked.connect(lambda _=False, v=visit.id: self.open_review(v))
            box.addWidget(review, 0, Qt.AlignmentFlag.AlignLeft)
            self.review_buttons[visit.id] = review
        if not visit.superseded and visit.origin == "local":
            correct = button("primary" if asked else "", f"correct_{visit.id}")
            correct.setText(self.tr("更正"))
            correct.clicked.connect(lambda _=False, v=visit.id: self.open_visit(v))
            box.addWidget(correct, 0, Qt.AlignmentFlag.AlignLeft)
            self.correct_buttons[visit.id] = correct
        return card

    def open_visit(self, corrects: str | None) -> None:
        dialog = VisitDialog(self.controller, self.household_id, self, corrects=corrects)
        dialog.accepted.connect(self.reload)
        self.dialog = dialog
        dialog.open()

    def open_review(self, visit_id: str) -> None:
        from ui.dialogs.review import ReviewDialog

        dialog = ReviewDialog(self.controller, "visit", visit_id, self)
        dialog.accepted.connect(self.reload)
        self.review_dialog = dialog
        dialog.open()
