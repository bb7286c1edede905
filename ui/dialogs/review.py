"""Review verdicts (审核) on the device: the reviewer's dialog, the lines a reviewed
visit shows, and the worker's list of visits to correct.

* :class:`ReviewDialog` (grid leaders and supervisors): 合格 / 有问题 / 不合格 and a
  comment, on another worker's visit or patrol; the verdicts given before are listed
  above, unchanged (a new verdict adds, never edits). Saved at once and sent with the
  next sync (:func:`fieldclient.fieldwork.reviews.review`).
* :func:`review_lines`: a record's verdicts as the visit history shows them.
* :class:`ReviewNotesDialog` (the worker): the visits a reviewer asked to correct,
  each with the comment and a button that opens the correction form
  (:class:`ui.dialogs.visit.VisitDialog` with ``corrects``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QDateTime, Qt
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import reviews, visits
from ui.errors import error_text
from ui.widgets.basic import Retranslatable, button, label, scroll_area
from ui.widgets.patrol import ButtonGrid

if TYPE_CHECKING:
    from fieldclient.storage.session import Session
    from ui.controller import AppController

STATE_ROLES = {"approved": "done", "has_issues": "warning", "rejected": "error"}


def state_text(state: str) -> str:
    return QCoreApplication.translate("reviews", reviews.STATE_NAMES.get(state, state))


def review_time(at: float) -> str:
    return QDateTime.fromSecsSinceEpoch(int(at)).toString("yyyy-MM-dd HH:mm")


def review_line(item: reviews.Review) -> str:
    """``2025-03-02 09:10 王网格长：有问题。没有写见到的人``"""
    who = item.reviewer_name or QCoreApplication.translate("ReviewDialog", "审核人")
    text = QCoreApplication.translate("ReviewDialog", "{time} {who}审核：{state}").format(
        time=review_time(item.reviewed_at), who=who, state=state_text(item.state))
    if item.comment:
        text += QCoreApplication.translate("ReviewDialog", "。意见：{comment}").format(
            comment=item.comment)
    return text


def review_lines(found: list[reviews.Review]) -> list[QLabel]:
    """One label per verdict, oldest first, coloured by its state."""
    out = []
    for item in found:
        line = label(STATE_ROLES.get(item.state, "fact"))
        line.setObjectName(f"review_{item.id}")
        line.setTextFormat(Qt.TextFormat.PlainText)
        line.setText(review_line(item))
        out.append(line)
    return out


def _fit(dialog: QDialog, width: int = 900) -> None:
    owner = dialog.parentWidget()
    window = owner.window() if owner is not None else None
    w = window.width() if window is not None else 1280
    h = window.height() if window is not None else 800
    dialog.resize(max(640, min(w - 60, width)), max(480, h - 80))


class ReviewDialog(Retranslatable, QDialog):
    """A reviewer's verdict on ``target_kind`` ``target_id``."""

    def __init__(self, controller: AppController, target_kind: str, target_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setObjectName("reviewDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.controller = controller
        self.target_kind = target_kind
        self.target_id = target_id
        self.saved_id: str | None = None
        self.heading = label("prompt")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.before_heading = label("factName")
        self.before_box = QVBoxLayout()
        self.state_name = label("factName")
        self.state_group = QButtonGroup(self)
        self.state_buttons: dict[str, QPushButton] = {}
        grid = ButtonGrid((3, 1))
        for state in reviews.STATES:
            btn = button("result", f"reviewState_{state}")
            btn.setProperty("result", {"approved": "normal", "has_issues": "problem",
                                       "rejected": "problem"}[state])
            btn.setCheckable(True)
            self.state_group.addButton(btn)
            self.state_buttons[state] = btn
            grid.add_button(btn)
        self.grid = grid
        self.comment_name = label("factName")
        self.comment = QTextEdit()
        self.comment.setObjectName("reviewComment")
        self.comment.setAcceptRichText(False)
        self.comment.setTabChangesFocus(True)
        self.comment.setMinimumHeight(110)
        self.comment.setMaximumHeight(180)
        self.note = label("muted")
        self.error = label("error")
        self.error.setObjectName("reviewError")
        self.error.setVisible(False)
        body = QWidget()
        form = QVBoxLayout(body)
        form.setContentsMargins(0, 0, 12, 0)
        form.setSpacing(8)
        form.addWidget(self.before_heading)
        form.addLayout(self.before_box)
        form.addWidget(self.state_name)
        form.addWidget(grid)
        form.addWidget(self.comment_name)
        form.addWidget(self.comment)
        form.addWidget(self.note)
        form.addStretch(1)
        self.cancel_button = button("", "cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        self.save_button = button("primary", "saveReviewButton")
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
        self.before: list[reviews.Review] = []
        session = self._session()
        if session is not None:
            self.before = reviews.reviews_of(session, target_kind, target_id)
        for line in review_lines(self.before):
            self.before_box.addWidget(line)
        self.retranslate()
        _fit(self)

    def _session(self) -> Session | None:
        session = self.controller.session
        return session if session is not None and session.is_open else None

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("审核"))
        self.heading.setText(self.tr("审核这条走访记录") if self.target_kind == "visit"
                             else self.tr("审核这次巡查"))
        self.before_heading.setText(self.tr("以前的审核意见（不会被修改）"))
        self.before_heading.setVisible(bool(self.before))
        self.state_name.setText(self.tr("审核结果"))
        for index, state in enumerate(reviews.STATES):
            self.grid.set_text(index, state_text(state))
            self.state_buttons[state].setAccessibleName(state_text(state))
        self.comment_name.setText(self.tr("意见（选“有问题”时必填）"))
        self.comment.setPlaceholderText(self.tr("例如：没有写见到的人，请补充"))
        self.note.setText(self.tr("保存后不能修改。要改变结论，可以再审核一次。"))
        self.cancel_button.setText(self.tr("取消"))
        self.save_button.setText(self.tr("保存审核"))

    def state(self) -> str | None:
        return next((s for s, b in self.state_buttons.items() if b.isChecked()), None)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def save(self) -> None:
        session = self._session()
        state = self.state()
        if session is None:
            return
        if state is None:
            self.show_error(self.tr("请选择审核结果：合格、有问题或不合格。"))
            return
        try:
            self.saved_id = reviews.review(session, self.target_kind, self.target_id, state,
                                           self.comment.toPlainText())
        except FieldClientError as exc:
            self.show_error(error_text(exc))
            if isinstance(exc, reviews.ReviewCommentNeeded):
                self.comment.setFocus()
            return
        self.accept()


class ReviewNotesDialog(Retranslatable, QDialog):
    """The worker's visits a reviewer asked to correct, newest first."""

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setObjectName("reviewNotesDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.controller = controller
        self.dialog: QDialog | None = None
        self.correct_buttons: dict[str, QPushButton] = {}
        self.heading = label("prompt")
        self.empty = label("empty")
        self.list_body = QWidget()
        self.list_layout = QVBoxLayout(self.list_body)
        self.list_layout.setContentsMargins(0, 0, 12, 0)
        self.list_layout.setSpacing(12)
        self.close_button = button("", "closeButton")
        self.close_button.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addWidget(self.heading)
        layout.addWidget(self.empty)
        layout.addWidget(scroll_area(self.list_body), 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignRight)
        self.retranslate()
        _fit(self, 1000)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("审核意见"))
        self.heading.setText(self.tr("网格长或指导员认为这些走访记录需要更正。"
                                     "原记录会保留，更正会作为新记录发送。"))
        self.empty.setText(self.tr("没有需要更正的走访记录。"))
        self.close_button.setText(self.tr("关闭"))
        self.reload()

    def reload(self) -> None:
        while self.list_layout.count():
            item = self.list_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.correct_buttons.clear()
        session = self.controller.session
        if session is None or not session.is_open:
            return
        found = reviews.needing_correction(session)
        self.empty.setVisible(not found)
        for item in found:
            self.list_layout.addWidget(self._card(session, item))
        self.list_layout.addStretch(1)

    def _card(self, session: Session, item: reviews.Review) -> QFrame:
        from ui.dialogs.visit import visit_type_text, when_text

        card = QFrame()
        card.setObjectName("itemCard")
        card.setProperty("role", "problem")
        box = QVBoxLayout(card)
        box.setContentsMargins(16, 10, 16, 10)
        visit = visits.get_visit(session, item.target_id)
        row = session.db.execute("SELECT head_name, address FROM households WHERE id = ?",
                                 (visit.household_id,)).fetchone()
        title = label("itemName")
        title.setTextFormat(Qt.TextFormat.PlainText)
        title.setText(self.tr("{name}（{address}）{when} {how}").format(
            name=row[0] if row else "", address=row[1] if row else "",
            when=when_text(visit), how=visit_type_text(visit.visit_type)))
        box.addWidget(title)
        for line in review_lines([item]):
            box.addWidget(line)
        situation = label("")
        situation.setTextFormat(Qt.TextFormat.PlainText)
        situation.setText(self.tr("原来写的走访情况：{text}").format(text=visit.situation))
        box.addWidget(situation)
        correct = button("primary", f"correctReviewed_{visit.id}")
        correct.setText(self.tr("更正这条走访记录"))
        correct.clicked.connect(lambda _=False, v=visit: self.correct(v.household_id, v.id))
        box.addWidget(correct, 0, Qt.AlignmentFlag.AlignLeft)
        self.correct_buttons[visit.id] = correct
        return card

    def correct(self, household_id: str, visit_id: str) -> None:
        from ui.dialogs.visit import VisitDialog

        dialog = VisitDialog(self.controller, household_id, self, corrects=visit_id)
        dialog.accepted.connect(self.reload)
        self.dialog = dialog
        dialog.open()
