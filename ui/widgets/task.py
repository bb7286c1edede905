"""Pieces of the Tasks page: one card per task in the inbox, and the due-time text."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from fieldclient import devicetime
from fieldclient.fieldwork.tasks import InboxTask
from ui.widgets.basic import label, set_role


def due_text(task: InboxTask) -> str:
    """"截止 11月23日 18:00", or "通知" for a notice (no due time)."""
    if task.due is None:
        return QCoreApplication.translate("taskWidgets", "通知")
    text = QCoreApplication.translate("taskWidgets", "截止 {month}月{day}日 {time}").format(
        month=task.due.month, day=task.due.day, time=task.due.strftime("%H:%M"))
    if task.overdue:
        text += QCoreApplication.translate("taskWidgets", "（已过期）")
    return text


def state_text(task: InboxTask) -> str:
    if task.answered:
        return QCoreApplication.translate("taskWidgets", "已回复")
    if task.acknowledged:
        return QCoreApplication.translate("taskWidgets", "已确认收到")
    if task.unread:
        return QCoreApplication.translate("taskWidgets", "未读")
    return QCoreApplication.translate("taskWidgets", "未确认")


def local_time(timestamp: float) -> str:
    """A device time as "11月23日 18:00" (China Standard Time, as the due times)."""
    moment = devicetime.local(timestamp)
    return QCoreApplication.translate("taskWidgets", "{month}月{day}日 {time}").format(
        month=moment.month, day=moment.day, time=moment.strftime("%H:%M"))


class TaskCard(QFrame):
    """A task in the list: unread dot, title, due time (red when overdue), state.
    The whole card is the touch target."""

    clicked = Signal(str)

    def __init__(self, task: InboxTask, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = task
        self.setObjectName("taskCard")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.dot = QLabel("●")
        self.dot.setObjectName("unreadDot")
        self.dot.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.title = label("itemName")
        self.title.setObjectName("taskTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.due = label("", wrap=True)
        self.due.setObjectName("taskDue")
        self.state = label("", wrap=False)
        self.state.setObjectName("taskState")
        text = QVBoxLayout()
        text.setSpacing(4)
        text.addWidget(self.title)
        text.addWidget(self.due)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 12, 16, 12)
        row.setSpacing(12)
        row.addWidget(self.dot)
        row.addLayout(text, 1)
        row.addWidget(self.state, 0, Qt.AlignmentFlag.AlignVCenter)
        self.retranslate()

    def retranslate(self) -> None:
        task = self.task
        self.dot.setVisible(task.unread)
        self.title.setText(task.title)
        self.due.setText(due_text(task))
        set_role(self.due, "overdue" if task.overdue else "muted")
        set_role(self, "notice" if task.is_notice else "task")
        self.state.setText(state_text(task))
        set_role(self.state, "done" if task.answered or task.acknowledged else "pending")

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self.clicked.emit(self.task.id)
        super().mouseReleaseEvent(event)
