"""Tasks and notices (任务/通知) from the centre: the inbox and one task's detail.

The list shows unread tasks first (a dot), the due time (red when passed) and what
was done. Tapping a task opens it (and marks it read); there the worker confirms
receipt (确认收到) and answers (回复: text, photos, an event). The unread count is
announced with ``unread_changed`` for the badge on the navigation button.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import tasks
from fieldclient.i18n import QT_TRANSLATE_NOOP
from ui.errors import error_text
from ui.pages.base import Page
from ui.widgets.basic import button, label, scroll_area, set_role
from ui.widgets.task import TaskCard, due_text, local_time, state_text

if TYPE_CHECKING:
    from fieldclient.storage.session import Session
    from ui.controller import AppController


class TasksPage(Page):
    key = "tasks"
    title_source = QT_TRANSLATE_NOOP("TasksPage", "任务")
    unread_changed = Signal(int)

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.items: list[tasks.InboxTask] = []
        self.cards: list[TaskCard] = []
        self.current: tasks.InboxTask | None = None
        self.dialog: QDialog | None = None

        # the list
        self.list_view = QWidget()
        self.list_view.setObjectName("page")
        self.summary = label("prompt")
        self.summary.setObjectName("taskSummary")
        self.empty = label("empty")
        self.empty.setObjectName("emptyState")
        self.cards_body = QWidget()
        self.cards_body.setObjectName("scrollBody")
        self.cards_layout = QVBoxLayout(self.cards_body)
        self.cards_layout.setContentsMargins(0, 0, 8, 0)
        self.cards_layout.setSpacing(12)
        self.cards_layout.addStretch(1)
        list_layout = QVBoxLayout(self.list_view)
        list_layout.setContentsMargins(32, 24, 32, 16)
        list_layout.setSpacing(16)
        list_layout.addWidget(self.summary)
        list_layout.addWidget(self.empty)
        list_layout.addWidget(scroll_area(self.cards_body), 1)

        # one task
        self.detail_view = QWidget()
        self.detail_view.setObjectName("page")
        self.back_button = button("", "taskBackButton")
        self.back_button.clicked.connect(self.show_list)
        self.kind = label("muted", wrap=False)
        self.kind.setObjectName("taskKind")
        self.title_label = label("title")
        self.title_label.setObjectName("taskDetailTitle")
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        self.due = label("")
        self.due.setObjectName("taskDetailDue")
        self.body = label("fact")
        self.body.setObjectName("taskBody")
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state = label("", wrap=False)
        self.state.setObjectName("taskDetailState")
        self.answers_heading = label("heading")
        self.answers_label = label("fact")
        self.answers_label.setObjectName("taskAnswers")
        self.answers_label.setTextFormat(Qt.TextFormat.PlainText)
        from ui.dialogs.photo import PhotoStrip

        # The answers' photos (all of them, in order): a tap shows one full size; a
        # sent answer's photo is not removable.
        self.answer_photos = PhotoStrip()
        self.answer_photos.setObjectName("taskAnswerPhotos")
        self.answer_photos.setVisible(False)
        self._answer_photo_ids: list[str] = []
        self.error = label("error")
        self.error.setObjectName("taskError")
        self.error.setVisible(False)
        self.ack_button = button("", "ackButton")
        self.ack_button.clicked.connect(self.acknowledge)
        self.answer_button = button("primary", "answerButton")
        self.answer_button.clicked.connect(self.open_answer)
        detail_body = QWidget()
        detail_body.setObjectName("scrollBody")
        text = QVBoxLayout(detail_body)
        text.setContentsMargins(0, 0, 8, 0)
        text.setSpacing(12)
        top = QHBoxLayout()
        top.addWidget(self.kind)
        top.addStretch(1)
        top.addWidget(self.state)
        text.addLayout(top)
        for widget in (self.title_label, self.due, self.body, self.answers_heading,
                       self.answers_label):
            text.addWidget(widget)
        text.addWidget(self.answer_photos, 0, Qt.AlignmentFlag.AlignLeft)
        text.addStretch(1)
        actions = QHBoxLayout()
        actions.setSpacing(16)
        actions.addStretch(1)
        actions.addWidget(self.ack_button)
        actions.addWidget(self.answer_button)
        back_row = QHBoxLayout()
        back_row.addWidget(self.back_button)
        back_row.addStretch(1)
        detail_layout = QVBoxLayout(self.detail_view)
        detail_layout.setContentsMargins(32, 16, 32, 16)
        detail_layout.setSpacing(12)
        detail_layout.addLayout(back_row)
        detail_layout.addWidget(scroll_area(detail_body), 1)
        detail_layout.addWidget(self.error)
        detail_layout.addLayout(actions)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.list_view)
        self.stack.addWidget(self.detail_view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        if controller.sync is not None:
            controller.sync.finished.connect(self._synced)


    def _session(self) -> Session | None:
        session = self.controller.session
        return session if session is not None and session.is_open else None

    def _enrolled(self) -> bool:
        sync = self.controller.sync
        return sync is not None and sync.enrollment() is not None

    def _synced(self, _report: object) -> None:
        if self.isVisible():
            self.refresh()
        else:
            self.announce_unread()

    def announce_unread(self) -> None:
        session = self._session()
        if session is not None:
            self.unread_changed.emit(tasks.unread_count(session))

    # -- list -------------------------------------------------------------------------
    def refresh(self) -> None:
        session = self._session()
        if session is None:
            return
        if self.stack.currentWidget() is self.detail_view and self.current is not None:
            self._show_detail(session, self.current.id)
        else:
            self._fill_list(session)
        self.unread_changed.emit(tasks.unread_count(session))

    def _fill_list(self, session: Session) -> None:
        self.items = tasks.inbox(session)
        for card in self.cards:
            self.cards_layout.removeWidget(card)
            card.deleteLater()
        self.cards = []
        for item in self.items:
            card = TaskCard(item)
            card.clicked.connect(self.open_task)
            self.cards_layout.insertWidget(self.cards_layout.count() - 1, card)
            self.cards.append(card)
        unread = sum(1 for t in self.items if t.unread)
        open_tasks = sum(1 for t in self.items if not t.is_notice and not t.answered)
        self.summary.setText(self.tr("未读{unread}条，待回复的任务{open}条").format(
            unread=unread, open=open_tasks))
        self.summary.setVisible(bool(self.items))
        if not self._enrolled() and not self.items:
            self.empty.setText(self.tr(
                "尚未与指挥中心连接。\n\n设备登记后，指挥中心派给您的任务和通知会显示在这里。"))
        else:
            self.empty.setText(self.tr(
                "现在没有任务。\n\n指挥中心派来的任务和通知，同步后会显示在这里。"))
        self.empty.setVisible(not self.items)

    def show_list(self) -> None:
        self.current = None
        self.stack.setCurrentWidget(self.list_view)
        session = self._session()
        if session is not None:
            self._fill_list(session)

    # -- one task ---------------------------------------------------------------------
    def open_task(self, task_id: str) -> None:
        session = self._session()
        if session is None:
            return
        try:
            if tasks.mark_read(session, task_id):
                self.unread_changed.emit(tasks.unread_count(session))
            self._show_detail(session, task_id)
        except FieldClientError as exc:
            self.show_list()
            self.summary.setText(error_text(exc))
            return
        self.stack.setCurrentWidget(self.detail_view)

    def _show_detail(self, session: Session, task_id: str) -> None:
        task = tasks.get_task(session, task_id)
        self.current = task
        self.error.setVisible(False)
        self.kind.setText(self.tr("指挥中心的通知") if task.is_notice
                          else self.tr("指挥中心的任务"))
        self.title_label.setText(task.title)
        self.due.setText("" if task.is_notice else due_text(task))
        self.due.setVisible(not task.is_notice)
        set_role(self.due, "overdue" if task.overdue else "fact")
        self.body.setText(task.body)
        self.state.setText(state_text(task))
        set_role(self.state, "done" if task.acknowledged else "pending")
        for widget in (self.due, self.state):  # a new role may bring new padding
            widget.updateGeometry()
        self.back_button.setText(self.tr("返回列表"))
        self.ack_button.setEnabled(not task.acknowledged)
        self.ack_button.setText(self.tr("已确认收到") if task.acknowledged
                                else self.tr("确认收到"))
        self.answer_button.setText(self.tr("再回复一条") if task.answered else self.tr("回复"))
        self.answers_heading.setText(self.tr("我的回复"))
        self.answers_heading.setVisible(task.answered)
        self.answers_label.setVisible(task.answered)
        self.answers_label.setText("\n\n".join(self._answer_text(a) for a in task.answers))
        self._show_answer_photos([p for a in task.answers for p in a.photos])

    def _show_answer_photos(self, photo_ids: list[str]) -> None:
        from ui.dialogs.photo import stored_photo
        from ui.widgets.basic import photo_thumbnail

        session = self._session()
        if photo_ids != self._answer_photo_ids or len(self.answer_photos.thumbs) != len(photo_ids):
            self._answer_photo_ids = photo_ids
            self.answer_photos.set_photos(
                [photo_thumbnail(session, p) if session is not None else QPixmap()
                 for p in photo_ids],
                [(lambda p=p: stored_photo(self._session(), p)) for p in photo_ids])
        self.answer_photos.setVisible(bool(photo_ids))

    def _answer_text(self, answer: tasks.TaskAnswer) -> str:
        lines = [self.tr("{when}：{text}").format(
            when=local_time(answer.created_at), text=answer.text or self.tr("（没有文字）"))]
        if answer.photos:
            lines.append(self.tr("附照片{n}张").format(n=len(answer.photos)))
        if answer.event_id:
            lines.append(self.tr("附上报的事件"))
        return "\n".join(lines)

    def acknowledge(self) -> None:
        session = self._session()
        if session is None or self.current is None:
            return
        try:
            tasks.acknowledge(session, self.current.id)
        except FieldClientError as exc:
            self.error.setText(error_text(exc))
            self.error.setVisible(True)
            return
        self._show_detail(session, self.current.id)
        self._sync_soon()

    def open_answer(self) -> None:
        if self.current is None or self._session() is None:
            return
        from ui.dialogs.task import AnswerDialog

        dialog = AnswerDialog(self.controller, self.current.id, self.window())
        dialog.accepted.connect(self._answered)
        self.dialog = dialog
        dialog.open()

    def _answered(self) -> None:
        session = self._session()
        if session is not None and self.current is not None:
            self._show_detail(session, self.current.id)
            self._sync_soon()

    def _sync_soon(self) -> None:
        """Send it now when the network allows (the schedule would, later)."""
        sync = self.controller.sync
        if sync is not None and sync.enrollment() is not None:
            sync.sync_now()  # False when busy or offline: the schedule sends it later
