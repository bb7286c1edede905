"""One household: facts (sensitive ones masked, revealed one at a time if the role
allows, each reveal audited and hidden again on leaving), members with add / edit /
remove, visits and events, and the big actions: record a visit, report an event.

A household is a few rows: read on the UI thread's session when shown."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from fieldclient import devicetime
from fieldclient.fieldwork import events, households, visits
from ui.dialogs.household import HouseholdDialog, MemberDialog
from ui.dialogs.patrol import ConfirmDialog
from ui.patrol_common import worker_grids
from ui.tasks import show_error
from ui.widgets.basic import Retranslatable, button, keep_together, label
from ui.widgets.household_list import category_text, tag_text

if TYPE_CHECKING:
    from fieldclient.storage.session import Session
    from ui.controller import AppController

log = logging.getLogger("gridfield.ui")
SHOWN_VISITS = 10
SHOWN_EVENTS = 10


def visitor_text(visit: visits.Visit) -> str:
    from ui.dialogs.visit import visitor_text as text

    return text(visit)


def visit_type_text(kind: str) -> str:
    return QCoreApplication.translate("visits", visits.VISIT_TYPE_NAMES.get(kind, kind))


def _clear(layout: QVBoxLayout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.setParent(None)
            widget.deleteLater()


def _plain(role: str = "fact") -> QLabel:
    lab = label(role)
    lab.setTextFormat(Qt.TextFormat.PlainText)
    return lab


def _members_masked(session: Session, household_id: str) -> list[dict[str, Any]]:
    """The household's members, ID numbers and phones masked as the household's own
    (3302**********1234, 138****5678) rather than list_members' last four only:
    masked here from the stored values, which are not kept."""
    members = households.list_members(session, household_id)
    stored = {member_id: (id_number, phone) for member_id, id_number, phone in session.db.execute(
        "SELECT id, id_number, phone FROM members WHERE household_id = ?", (household_id,))}
    for member in members:
        id_number, phone = stored.get(member["id"], (None, None))
        member["id_number"] = households.mask_id_number(id_number)
        member["phone"] = households.mask_phone(phone)
    return members


class HouseholdDetail(Retranslatable, QWidget):
    """The detail view of the Households page; ``back`` returns to the list,
    ``changed`` tells the list a household was edited."""

    back = Signal()
    changed = Signal()

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("householdDetail")
        self.controller = controller
        self.household_id: str | None = None
        self.row: dict[str, Any] = {}
        self.masked: dict[str, str | None] = {}
        self.members: list[dict[str, Any]] = []
        self.visits: list[visits.Visit] = []
        self.events: list[events.EventSummary] = []
        self.revealed: dict[str, Any] = {}  # (field or member id:field) -> clear value
        self.may_reveal = False
        self.dialog: QWidget | None = None
        self.back_button = button("", "backButton")
        self.back_button.clicked.connect(self.leave)
        self.name = _plain("title")
        self.name.setObjectName("householdName")
        self.visit_button = button("primary", "recordVisitButton")
        self.visit_button.clicked.connect(self.record_visit)
        self.event_button = button("primary", "reportEventButton")
        self.event_button.clicked.connect(self.report_event)
        self.edit_button = button("", "editHouseholdButton")
        self.edit_button.clicked.connect(self.edit_household)
        top = QHBoxLayout()
        top.setSpacing(16)
        top.addWidget(self.back_button)
        top.addWidget(self.name, 1)
        # facts
        self.facts = QGridLayout()
        self.facts.setHorizontalSpacing(16)
        self.facts.setVerticalSpacing(8)
        self.fact_names: dict[str, QLabel] = {}
        self.fact_values: dict[str, QLabel] = {}
        self.reveal_buttons: dict[str, QPushButton] = {}
        for row, key in enumerate(("address", "category", "phone", "id_number", "tags")):
            name = label("factName", wrap=False)
            value = _plain()
            value.setObjectName(f"fact_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            self.fact_names[key], self.fact_values[key] = name, value
            self.facts.addWidget(name, row, 0, Qt.AlignmentFlag.AlignVCenter)
            self.facts.addWidget(value, row, 1)
            if key in ("phone", "id_number", "tags"):
                reveal = button("", f"reveal_{key}")
                reveal.clicked.connect(lambda _=False, k=key: self.toggle_reveal(k))
                self.reveal_buttons[key] = reveal
                self.facts.addWidget(reveal, row, 2, Qt.AlignmentFlag.AlignVCenter)
        self.facts.setColumnStretch(1, 1)
        actions = QHBoxLayout()
        actions.setSpacing(16)
        actions.addWidget(self.visit_button)
        actions.addWidget(self.event_button)
        actions.addWidget(self.edit_button)
        actions.addStretch(1)
        # members, visits, events
        self.members_heading = label("heading")
        self.add_member_button = button("", "addMemberButton")
        self.add_member_button.clicked.connect(lambda: self.edit_member(None))
        members_head = QHBoxLayout()
        members_head.addWidget(self.members_heading, 1)
        members_head.addWidget(self.add_member_button)
        self.members_box = QVBoxLayout()
        self.members_box.setSpacing(8)
        self.visits_heading = label("heading")
        self.history_button = button("", "visitHistoryButton")
        self.history_button.clicked.connect(self.open_history)
        visits_head = QHBoxLayout()
        visits_head.addWidget(self.visits_heading, 1)
        visits_head.addWidget(self.history_button)
        self.visits_box = QVBoxLayout()
        self.visits_box.setSpacing(6)
        self.events_heading = label("heading")
        self.events_box = QVBoxLayout()
        self.events_box.setSpacing(6)
        body = QWidget()
        body.setObjectName("scrollBody")
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 16, 16)
        body_layout.setSpacing(12)
        body_layout.addLayout(self.facts)
        body_layout.addLayout(actions)
        body_layout.addLayout(members_head)
        body_layout.addLayout(self.members_box)
        body_layout.addLayout(visits_head)
        body_layout.addLayout(self.visits_box)
        body_layout.addWidget(self.events_heading)
        body_layout.addLayout(self.events_box)
        body_layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 16, 16, 0)
        layout.setSpacing(12)
        layout.addLayout(top)
        layout.addWidget(self.scroll_area, 1)
        self.retranslate()

    # -- data ----------------------------------------------------------------------------
    @property
    def session(self) -> Session | None:
        session = self.controller.session
        return session if session is not None and session.is_open else None

    def show_household(self, household_id: str) -> bool:
        """Load and show ``household_id``; False if it is not on this device."""
        self.hide_revealed()
        self.household_id = household_id
        return self.reload()

    def reload(self) -> bool:
        session = self.session
        if session is None or self.household_id is None:
            return False
        try:
            self.row = households.get_household(session, self.household_id)
        except Exception:  # sqlite-utils NotFoundError: removed meanwhile
            log.info("household %s is not on this device", self.household_id)
            return False
        self.may_reveal = households.can_reveal(households.device_role(session))
        phone, id_number = session.db.execute(
            "SELECT phone, id_number FROM households WHERE id = ?", (self.household_id,)
        ).fetchone()
        # masked here, from the stored values: 138****5678, 3302**********1234
        self.masked = {"phone": households.mask_phone(phone),
                       "id_number": households.mask_id_number(id_number)}
        self.members = _members_masked(session, self.household_id)
        self.visits = visits.visits_for_household(session, self.household_id)
        self.events = events.events_for_household(session, self.household_id)
        self._show()
        return True

    def hide_revealed(self) -> None:
        """Mask again whatever was shown in clear (leaving, locking, another household)."""
        if self.revealed:
            self.revealed = {}
            if self.row:
                self._show()

    def leave(self) -> None:
        self.hide_revealed()
        self.back.emit()

    # -- showing ---------------------------------------------------------------------------
    def _show(self) -> None:
        row = self.row
        self.name.setText(row["head_name"])
        self.fact_values["address"].setText(row["address"])
        self.fact_values["category"].setText(category_text(row["category"]))
        for key in ("phone", "id_number"):
            value = self.revealed.get(key, self.masked.get(key))
            self.fact_values[key].setText(value or self.tr("未登记"))
        tags = self.revealed.get("tags")
        shown_tags = tags if tags is not None else households.mask_tags(row["tags"])
        self.fact_values["tags"].setText(
            "、".join(tag_text(t) for t in shown_tags) or self.tr("无"))
        for key, reveal in self.reveal_buttons.items():
            has_hidden = (households.HIDDEN_TAG in households.mask_tags(row["tags"])
                          if key == "tags" else bool(self.masked.get(key)))
            reveal.setVisible(self.may_reveal and has_hidden)
            reveal.setText(self.tr("隐藏") if key in self.revealed else self.tr("显示"))
        self._show_members()
        self._show_visits()
        self._show_events()
        self.retranslate_headings()

    def _show_members(self) -> None:
        _clear(self.members_box)
        if not self.members:
            empty = _plain("muted")
            empty.setText(self.tr("还没有登记家庭成员。"))
            self.members_box.addWidget(empty)
            return
        residence = {"registered": self.tr("户籍人口"), "floating": self.tr("流动人口"),
                     "tenant": self.tr("租住")}
        for member in self.members:
            card = QFrame()
            card.setObjectName("itemCard")
            card.setProperty("memberId", member["id"])
            who = _plain("itemName")
            who.setText(f"{keep_together(member['name'])}  ·  "
                        f"{keep_together(member['relation'] or '')}")
            facts = [residence.get(member["residence"] or "", "")]
            member_id = member["id"]
            id_number = self.revealed.get(f"{member_id}:id_number", member["id_number"])
            if id_number:
                facts.append(self.tr("身份证 {value}").format(value=id_number))
            phone = self.revealed.get(f"{member_id}:phone", member["phone"])
            if phone:
                facts.append(self.tr("电话 {value}").format(value=phone))
            info = _plain("muted")
            info.setWordWrap(True)
            info.setText("  ·  ".join(f for f in facts if f))
            # name and buttons on top, the facts below across the whole card: side by
            # side they did not fit 1280 px at 175 % text in English
            card_layout = QVBoxLayout(card)
            card_layout.setContentsMargins(16, 8, 16, 8)
            card_layout.setSpacing(2)
            row = QHBoxLayout()
            row.setSpacing(12)
            who.setWordWrap(True)
            row.addWidget(who, 1)
            card_layout.addLayout(row)
            card_layout.addWidget(info)
            if self.may_reveal and (member["id_number"] or member["phone"]):
                reveal = button("", "revealMemberButton")
                shown = any(f"{member_id}:{field}" in self.revealed
                            for field in households.SENSITIVE_FIELDS)
                reveal.setText(self.tr("隐藏") if shown else self.tr("显示"))
                reveal.clicked.connect(lambda _=False, m=member: self.toggle_member(m))
                row.addWidget(reveal)
            edit = button("", "editMemberButton")
            edit.setText(self.tr("修改"))
            edit.clicked.connect(lambda _=False, m=member: self.edit_member(m))
            remove = button("danger", "removeMemberButton")
            remove.setText(self.tr("删除"))
            remove.clicked.connect(lambda _=False, m=member: self.remove_member(m))
            row.addWidget(edit)
            row.addWidget(remove)
            self.members_box.addWidget(card)

    def _show_visits(self) -> None:
        _clear(self.visits_box)
        shown = [v for v in self.visits if not v.superseded][:SHOWN_VISITS]
        if not shown:
            empty = _plain("muted")
            empty.setText(self.tr("还没有走访记录。"))
            self.visits_box.addWidget(empty)
        for visit in shown:
            line = _plain("")
            when = devicetime.minute_text(visit.visited_at)
            situation = visit.situation if len(visit.situation) <= 60 else (
                visit.situation[:60] + "…")
            line.setText(f"{when}  {visit_type_text(visit.visit_type)}  "
                         f"{visitor_text(visit)}\n{situation}")
            self.visits_box.addWidget(line)

    def _show_events(self) -> None:
        _clear(self.events_box)
        shown = self.events[:SHOWN_EVENTS]
        if not shown:
            empty = _plain("muted")
            empty.setText(self.tr("这户没有上报过事件。"))
            self.events_box.addWidget(empty)
        for event in shown:
            line = _plain("")
            when = devicetime.day_text(event.reported_at)
            status = QCoreApplication.translate(
                "events", events.STATUS_TEXT.get(event.status, event.status))
            category = QCoreApplication.translate("eventCategory", event.category)
            line.setText(f"{when}  {category}  ·  {status}\n{event.description[:80]}")
            self.events_box.addWidget(line)

    def retranslate_headings(self) -> None:
        self.members_heading.setText(self.tr("家庭成员（{n}人）").format(
            n=len(self.members)))
        self.visits_heading.setText(self.tr("走访记录"))
        self.history_button.setText(self.tr("全部走访（查看、更正）"))
        self.events_heading.setText(self.tr("这户的事件"))

    def retranslate(self) -> None:
        self.back_button.setText(self.tr("返回"))
        self.visit_button.setText(self.tr("记录走访"))
        self.event_button.setText(self.tr("上报事件"))
        self.edit_button.setText(self.tr("修改信息"))
        self.add_member_button.setText(self.tr("添加成员"))
        names = {"address": self.tr("地址"), "category": self.tr("类别"),
                 "phone": self.tr("电话"), "id_number": self.tr("身份证号"),
                 "tags": self.tr("标签")}
        for key, name in names.items():
            self.fact_names[key].setText(name)
        self.retranslate_headings()
        if self.row:
            self._show()

    # -- actions ---------------------------------------------------------------------------
    def toggle_reveal(self, key: str) -> None:
        """Show one sensitive fact in clear (audited) or hide it again."""
        session = self.session
        if session is None or self.household_id is None:
            return
        if key in self.revealed:
            del self.revealed[key]
        else:
            try:
                if key == "tags":
                    self.revealed[key] = households.reveal_tags(session, self.household_id)
                else:
                    self.revealed[key] = households.reveal_field(
                        session, self.household_id, key)
            except households.RevealNotAllowed as exc:
                show_error(exc)
                return
        self._show()

    def toggle_member(self, member: dict[str, Any]) -> None:
        """Show a member's ID number and phone in clear (each reveal audited, as the
        household's own fields), or mask them again."""
        session = self.session
        if session is None:
            return
        keys = {field: f"{member['id']}:{field}" for field in households.SENSITIVE_FIELDS
                if member[field]}
        if any(key in self.revealed for key in keys.values()):
            for key in keys.values():
                self.revealed.pop(key, None)
        else:
            try:
                for field, key in keys.items():
                    self.revealed[key] = households.reveal_member_field(
                        session, member["id"], field)
            except households.RevealNotAllowed as exc:
                show_error(exc)
                return
        self._show()

    def _saved(self, _record_id: str) -> None:
        self.reload()
        self.changed.emit()

    def edit_household(self) -> None:
        session = self.session
        if session is None or self.household_id is None:
            return
        dialog = HouseholdDialog(session, worker_grids(session).grids, self.household_id,
                                 on_saved=self._saved, parent=self.window())
        self.dialog = dialog
        dialog.open()

    def edit_member(self, member: dict[str, Any] | None) -> None:
        session = self.session
        if session is None or self.household_id is None:
            return
        dialog = MemberDialog(session, self.household_id, member, on_saved=self._saved,
                              parent=self.window())
        self.dialog = dialog
        dialog.open()

    def remove_member(self, member: dict[str, Any]) -> None:
        dialog = ConfirmDialog(
            self.tr("确定要从这户删除“{name}”吗？下次同步时上报。").format(name=member["name"]),
            self.tr("删除"), self.tr("不删除"), self.window())
        dialog.accepted.connect(lambda: self._remove(member["id"]))
        self.dialog = dialog
        dialog.open()

    def _remove(self, member_id: str) -> None:
        session = self.session
        if session is None:
            return
        households.remove_member(session, member_id)
        self._saved(member_id)

    def record_visit(self) -> None:
        from ui.dialogs.visit import VisitDialog

        if self.household_id is None:
            return
        dialog = VisitDialog(self.controller, self.household_id, self.window())
        dialog.accepted.connect(self.reload)
        self.dialog = dialog
        dialog.open()

    def open_history(self) -> None:
        """Every visit of the household, each with its photos and, for this device's
        own, 更正 (a wrong visit is corrected there, never edited in place)."""
        from ui.dialogs.visit import VisitHistoryDialog

        if self.household_id is None:
            return
        dialog = VisitHistoryDialog(self.controller, self.household_id, self.window())
        dialog.finished.connect(lambda _r: self.reload())
        self.dialog = dialog
        dialog.open()

    def _event_reported(self, _event_id: str) -> None:
        self.reload()

    def report_event(self) -> None:
        from ui.dialogs.event import ReportEventDialog

        if self.household_id is None:
            return
        dialog = ReportEventDialog(self.controller, self, household_id=self.household_id,
                                   on_reported=self._event_reported)
        self.dialog = dialog
        dialog.open()
