"""Dialogs of events: report one (上报事件), supplement a returned one (补充材料),
check a resolved one on the spot (现场核查). Opened with ``open()``.

Each dialog scrolls its body and keeps the send button always in view (the 22
classes as big buttons do not fit 800 px at large text). Sending stores the
photos taken, then calls the core (:mod:`fieldclient.fieldwork.events`); a refused input
shows the core's translated message and keeps everything typed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import events
from ui.errors import error_text
from ui.patrol_common import grid_label
from ui.widgets.basic import Retranslatable, button, clear_button, label, scroll_area
from ui.widgets.event import (
    ChoiceRow,
    PhotoPicker,
    PositionWatcher,
    category_text,
    urgency_text,
)
from ui.widgets.phrases import PhraseButtons

if TYPE_CHECKING:
    from fieldclient.storage.session import Session
    from ui.controller import AppController


class _EventDialog(Retranslatable, QDialog):
    """Scrolling body, an error line and Cancel / Send always visible."""

    def __init__(self, controller: AppController, parent: QWidget | None, name: str) -> None:
        owner = parent if parent is not None else controller.main_view
        super().__init__(owner)
        self.setObjectName(name)
        self.controller = controller
        self.error_kind = ""
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.body = QWidget()
        self.body.setObjectName("scrollBody")
        self.form = QVBoxLayout(self.body)
        self.form.setContentsMargins(24, 16, 24, 16)
        self.form.setSpacing(12)
        scroll = scroll_area(self.body)
        self.scroll = scroll
        self.error = label("error")
        self.error.setObjectName("eventError")
        self.error.setVisible(False)
        self.cancel_button = button("", "cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        self.ok_button = button("primary", "okButton")
        self.ok_button.clicked.connect(self.submit)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(24, 0, 24, 0)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.ok_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 16, 0, 20)
        layout.setSpacing(12)
        layout.addWidget(scroll, 1)
        error_row = QHBoxLayout()
        error_row.setContentsMargins(24, 0, 24, 0)
        error_row.addWidget(self.error)
        layout.addLayout(error_row)
        layout.addLayout(buttons)
        self.photos = PhotoPicker(controller)
        self.photos.changed.connect(lambda: self.show_error(""))
        controller.session_closing.connect(self.reject)  # locked: nothing half-done stays open

    def heading(self, text_role: str = "heading") -> QWidget:
        widget = label(text_role)
        self.form.addWidget(widget)
        return widget

    def text_box(self, name: str) -> QPlainTextEdit:
        box = QPlainTextEdit()
        box.setObjectName(name)
        box.setTabChangesFocus(True)
        box.setMinimumHeight(120)
        box.setMaximumHeight(200)
        from ui.widgets.voice import add_voice_button

        add_voice_button(box)  # the platform's voice input, where it has one
        return box

    def fit(self) -> None:
        """Nearly the whole window: big buttons need the room."""
        window = self.controller.window
        self.resize(max(760, min(window.width() - 60, 1240)), max(560, window.height() - 40))

    def session(self) -> Session | None:
        return self.controller.session

    def show_error(self, text: str, kind: str = "") -> None:
        self.error_kind = kind if text else ""
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def text_filled(self, box: QPlainTextEdit) -> None:
        """A "please write ..." error goes as soon as something is written."""
        if self.error_kind == "text" and box.toPlainText().strip():
            self.show_error("")

    def submit(self) -> None:
        session = self.session()
        if session is None:
            self.reject()
            return
        if self.photos.is_busy():
            self.show_error(self.tr("照片还在处理，请稍等一下再提交。"))
            return
        try:
            self.send(session)
        except FieldClientError as exc:
            missing = isinstance(exc, events.EventDescriptionMissing | events.SupplementTextMissing
                                 | events.VerifyReasonMissing)
            self.show_error(error_text(exc), "text" if missing else "")
            return
        self.accept()

    def send(self, session: Session) -> None:
        raise NotImplementedError

    def done(self, result: int) -> None:
        self.stop_position()
        super().done(result)

    def stop_position(self) -> None:
        """Dialogs with a position feed stop it here."""


class ReportEventDialog(_EventDialog):
    """Report an event: class, what happened, urgency, place, photos."""

    def __init__(
        self,
        controller: AppController,
        parent: QWidget | None = None,
        household_id: str | None = None,
        on_reported: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(controller, parent, "reportEventDialog")
        self.household_id = household_id
        self.on_reported = on_reported
        self.event_id: str | None = None
        session = self.session()
        self.categories = events.event_categories(session) if session is not None else []
        self.household_address = ""
        self.household_grid: str | None = None
        if session is not None and household_id is not None:
            row = session.db.execute(
                "SELECT address, grid_id, head_name FROM households WHERE id = ?",
                (household_id,)).fetchone()
            if row is not None:
                self.household_address, self.household_grid = row[0] or "", row[1]
        self.grids: list[str] = []
        if session is not None and self.household_grid is None:
            from ui.patrol_common import worker_grids

            self.grids = worker_grids(session).grids

        self.intro = self.heading("prompt")
        self.category_name = self.heading()
        self.category_grid = ChoiceRow((6, 4, 3, 2))
        for category in self.categories:
            self.category_grid.add_choice(category.zh, category.zh)
        self.category_grid.changed.connect(lambda _k: self.show_error(""))
        self.form.addWidget(self.category_grid)
        self.description_name = self.heading()
        self.description = self.text_box("eventDescription")
        self.description.textChanged.connect(lambda: self.text_filled(self.description))
        self.form.addWidget(self.description)
        self.phrases = PhraseButtons(self._add_phrase, (3, 2, 1), "eventPhrases")
        session = controller.session
        if session is not None:
            from fieldclient.fieldwork import phrases
            from ui import i18n

            english = not i18n.current_language().startswith("zh")
            self.phrases.set_phrases(phrases.quick_phrases(session.db, "event", english))
        self.form.addWidget(self.phrases)
        self.urgency_name = self.heading()
        self.urgency = ChoiceRow((3,))
        for key in events.URGENCIES:
            self.urgency.add_choice(key, key)
        self.urgency.choose("normal")
        self.form.addWidget(self.urgency)
        self.grid_name = self.heading()
        self.grid_choice = ChoiceRow((4, 2))
        for grid in self.grids:
            self.grid_choice.add_choice(grid, grid_label(grid))
        if self.grids:
            self.grid_choice.choose(self.grids[0])
        self.form.addWidget(self.grid_choice)
        self.grid_name.setVisible(len(self.grids) > 1)
        self.grid_choice.setVisible(len(self.grids) > 1)
        self.place_name = self.heading()
        self.position = PositionWatcher(controller, self)
        self.position.changed.connect(self._show_position)
        self.position_text = label("fact")
        self.position_text.setObjectName("eventPosition")
        self.form.addWidget(self.position_text)
        self.address = QLineEdit(self.household_address)
        self.address.setObjectName("eventAddress")
        self.address.setMaxLength(events.MAX_ADDRESS)
        address_row = QHBoxLayout()
        address_row.addWidget(self.address, 1)
        address_row.addWidget(clear_button(self.address, "eventAddressClear"))
        self.form.addLayout(address_row)
        self.photos_name = self.heading()
        self.photos.position = self.position.current
        self.photos.grid_id = self.chosen_grid
        self.form.addWidget(self.photos)
        self.form.addStretch(1)
        self.retranslate()
        self.fit()
        self.position.start()

    def _add_phrase(self, phrase: str) -> None:
        from fieldclient.fieldwork.phrases import append_phrase

        self.description.setPlainText(append_phrase(self.description.toPlainText(), phrase))
        self.description.moveCursor(self.description.textCursor().MoveOperation.End)

    def chosen_grid(self) -> str | None:
        if self.household_grid is not None:
            return self.household_grid
        return self.grid_choice.chosen if self.grids else None

    def _show_position(self) -> None:
        self.position_text.setText(self.position.text())

    def stop_position(self) -> None:
        self.position.stop()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("上报事件"))
        self.intro.setText(self.tr("选类别，说清楚问题，再点“上报”。没有网络也可以上报，有网络时会自动发送。"))
        self.category_name.setText(self.tr("1. 事件类别"))
        for index, category in enumerate(self.categories):
            self.category_grid.set_text(index, category_text(category.zh, self.categories))
        self.description_name.setText(self.tr("2. 发生了什么"))
        self.description.setPlaceholderText(self.tr("例如：幸福路3号楼道堆满杂物，堵住了消防通道"))
        self.urgency_name.setText(self.tr("3. 紧急程度"))
        for key in events.URGENCIES:
            self.urgency.set_choice_text(key, urgency_text(key))
        self.grid_name.setText(self.tr("网格"))
        self.place_name.setText(self.tr("4. 位置和地址"))
        self.address.setPlaceholderText(self.tr("地址或地点，例如：幸福路3号门口"))
        self.photos_name.setText(self.tr("5. 照片（可以不拍）"))
        self.photos.retranslate()
        self._show_position()
        self.ok_button.setText(self.tr("上报"))
        self.cancel_button.setText(self.tr("取消"))

    def send(self, session: Session) -> None:
        category = self.category_grid.chosen
        if category is None:
            raise events.EventCategoryUnknown()
        text = self.description.toPlainText()
        if not text.strip():
            raise events.EventDescriptionMissing()  # before any photo is stored
        photos = self.photos.save_all(session)
        self.event_id = events.report_event(
            session, category=category, description=text,
            urgency=self.urgency.chosen or "normal", household_id=self.household_id,
            address=self.address.text(), position=self.position.current(), photos=photos,
            grid_id=self.chosen_grid(),
        )
        if self.on_reported is not None:
            self.on_reported(self.event_id)


class SupplementDialog(_EventDialog):
    """What the centre asked for when it returned the event."""

    def __init__(self, controller: AppController, event_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(controller, parent, "supplementDialog")
        self.event_id = event_id
        self.intro = self.heading("prompt")
        self.reason = label("warning")
        self.reason.setObjectName("returnReason")
        self.reason.setTextFormat(Qt.TextFormat.PlainText)
        self.form.addWidget(self.reason)
        self.text_name = self.heading()
        self.text = self.text_box("supplementText")
        self.text.textChanged.connect(lambda: self.text_filled(self.text))
        self.form.addWidget(self.text)
        self.photos_name = self.heading()
        self.form.addWidget(self.photos)
        self.form.addStretch(1)
        session = self.session()
        self.return_note = ""
        if session is not None:
            for entry in events.event_timeline(session, event_id):
                if entry.status == "returned" and entry.text:
                    self.return_note = entry.text
        self.retranslate()
        self.fit()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("补充材料"))
        self.intro.setText(self.tr("指挥中心退回了这个事件，需要您补充情况。"))
        self.reason.setText(self.tr("退回原因：{note}").format(note=self.return_note)
                            if self.return_note else self.tr("指挥中心没有写退回原因。"))
        self.text_name.setText(self.tr("补充的情况"))
        self.photos_name.setText(self.tr("照片（可以不拍）"))
        self.photos.retranslate()
        self.ok_button.setText(self.tr("提交补充"))
        self.cancel_button.setText(self.tr("取消"))

    def send(self, session: Session) -> None:
        if not self.text.toPlainText().strip():
            raise events.SupplementTextMissing()
        events.supplement(session, self.event_id, self.text.toPlainText(),
                          self.photos.save_all(session))


class VerifyDialog(_EventDialog):
    """The on-the-spot check (现场核查): solved or not, a note, at least one photo."""

    def __init__(self, controller: AppController, event_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(controller, parent, "verifyDialog")
        self.event_id = event_id
        self.intro = self.heading("prompt")
        self.outcome_name = self.heading()
        self.outcome = ChoiceRow((2,))
        # green and red when chosen, like a checklist item's result
        self.outcome.add_choice(events.PASSED, events.PASSED, "result").setProperty(
            "result", "normal")
        self.outcome.add_choice(events.FAILED, events.FAILED, "result").setProperty(
            "result", "problem")
        self.outcome.changed.connect(lambda _k: self.retranslate())
        self.form.addWidget(self.outcome)
        self.text_name = self.heading()
        self.text = self.text_box("verifyText")
        self.text.textChanged.connect(lambda: self.text_filled(self.text))
        self.form.addWidget(self.text)
        self.photos_name = self.heading()
        self.position = PositionWatcher(controller, self)
        self.photos.position = self.position.current
        self.form.addWidget(self.photos)
        self.form.addStretch(1)
        self.retranslate()
        self.fit()
        self.position.start()

    def stop_position(self) -> None:
        self.position.stop()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("现场核查"))
        self.intro.setText(self.tr("指挥中心说这个事件已经办结。请到现场看一看，拍照后告诉我们结果。"))
        self.outcome_name.setText(self.tr("1. 问题解决了吗"))
        self.outcome.set_choice_text(events.PASSED, self.tr("已解决"))
        self.outcome.set_choice_text(events.FAILED, self.tr("没有解决"))
        self.text_name.setText(self.tr("2. 说明（没有解决时必填）")
                               if self.outcome.chosen != events.PASSED
                               else self.tr("2. 说明（可以不写）"))
        self.photos_name.setText(self.tr("3. 现场照片（至少一张）"))
        self.photos.retranslate()
        self.ok_button.setText(self.tr("提交核查结果"))
        self.cancel_button.setText(self.tr("取消"))

    def send(self, session: Session) -> None:
        outcome = self.outcome.chosen
        if outcome is None:
            raise events.VerifyOutcomeUnknown()
        if outcome == events.FAILED and not self.text.toPlainText().strip():
            raise events.VerifyReasonMissing()
        if self.photos.count() == 0:
            raise events.VerifyPhotoRequired()
        events.verify(session, self.event_id, outcome, self.text.toPlainText(),
                      self.photos.save_all(session), self.position.current())

