"""回复任务: answer a task with a few words, photos (the shared pipeline) and/or an event.

The event is reported through the Events feature's own dialog; once it is saved,
its id goes with the answer. Nothing is stored until "发送回复" (the photos too),
so cancelling leaves nothing behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import tasks
from ui.errors import error_text
from ui.widgets.basic import Retranslatable, button, label, scroll_area
from ui.widgets.event import PhotoPicker

if TYPE_CHECKING:
    from ui.controller import AppController


class AnswerDialog(Retranslatable, QDialog):
    """Answer task ``task_id``; ``accepted`` means the answer was saved (``answer_id``)."""

    def __init__(self, controller: AppController, task_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent if parent is not None else controller.main_view)
        self.setObjectName("taskAnswerDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.controller = controller
        self.task_id = task_id
        self.answer_id: str | None = None
        self.event_id: str | None = None
        self.event_dialog: QDialog | None = None
        session = controller.session
        self.task = tasks.get_task(session, task_id) if session is not None else None

        body = QWidget()
        body.setObjectName("scrollBody")
        form = QVBoxLayout(body)
        form.setContentsMargins(24, 16, 24, 16)
        form.setSpacing(12)
        self.heading = label("prompt")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.text_name = label("heading")
        self.text = QPlainTextEdit()
        self.text.setObjectName("answerText")
        self.text.setTabChangesFocus(True)
        self.text.setMinimumHeight(140)
        self.text.setMaximumHeight(220)
        from ui.widgets.voice import add_voice_button

        self.voice_button = add_voice_button(self.text)
        self.text.textChanged.connect(lambda: self.show_error(""))
        self.photos_name = label("heading")
        self.photos = PhotoPicker(controller)
        grid = self.task.grid_id if self.task is not None else None
        self.photos.grid_id = lambda: grid
        self.photos.changed.connect(lambda: self.show_error(""))
        self.event_name = label("heading")
        self.event_button = button("", "answerEventButton")
        self.event_button.clicked.connect(self.report_event)
        self.event_state = label("done", wrap=False)
        self.event_state.setObjectName("answerEventState")
        self.event_state.setVisible(False)
        event_row = QHBoxLayout()
        event_row.addWidget(self.event_button)
        event_row.addWidget(self.event_state)
        event_row.addStretch(1)
        for widget in (self.heading, self.text_name, self.text, self.photos_name, self.photos,
                       self.event_name):
            form.addWidget(widget)
        form.addLayout(event_row)
        form.addStretch(1)
        scroll = scroll_area(body)

        self.error = label("error")
        self.error.setObjectName("answerError")
        self.error.setVisible(False)
        self.cancel_button = button("", "cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        self.send_button = button("primary", "sendAnswerButton")
        self.send_button.clicked.connect(self.send)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(24, 0, 24, 0)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.send_button)
        error_row = QHBoxLayout()
        error_row.setContentsMargins(24, 0, 24, 0)
        error_row.addWidget(self.error)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 16, 0, 20)
        layout.setSpacing(12)
        layout.addWidget(scroll, 1)
        layout.addLayout(error_row)
        layout.addLayout(buttons)
        controller.session_closing.connect(self.reject)  # locked: nothing half-done stays open
        self.retranslate()
        window = controller.window
        self.resize(max(760, min(window.width() - 60, 1240)), max(560, window.height() - 40))

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("回复任务"))
        title = self.task.title if self.task is not None else ""
        self.heading.setText(self.tr("回复：{title}").format(title=title))
        self.text_name.setText(self.tr("写几句话说明情况"))
        self.photos_name.setText(self.tr("照片（可选）"))
        self.event_name.setText(self.tr("发现问题需要处理？可以上报一个事件，随回复一起发送。"))
        self.event_button.setText(self.tr("上报事件"))
        self.event_state.setText(self.tr("已上报事件，会随回复发送"))
        self.cancel_button.setText(self.tr("取消"))
        self.send_button.setText(self.tr("发送回复"))

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def report_event(self) -> None:
        from ui.dialogs.event import ReportEventDialog

        dialog = ReportEventDialog(self.controller, self, on_reported=self.event_reported)
        self.event_dialog = dialog
        dialog.open()

    def event_reported(self, event_id: str) -> None:
        self.event_id = event_id
        self.event_button.setEnabled(False)
        self.event_state.setVisible(True)
        self.show_error("")

    def send(self) -> None:
        session = self.controller.session
        if session is None:
            self.reject()
            return
        if self.photos.is_busy():
            self.show_error(self.tr("照片还在处理，请稍等一下再发送。"))
            return
        text = self.text.toPlainText()
        if not text.strip() and not self.photos.count() and not self.event_id:
            self.show_error(error_text(tasks.AnswerEmpty()))  # before storing any photo
            return
        try:
            photo_ids = self.photos.save_all(session)
            self.answer_id = tasks.answer(session, self.task_id, text, photo_ids, self.event_id)
        except FieldClientError as exc:
            self.show_error(error_text(exc))
            return
        self.accept()
