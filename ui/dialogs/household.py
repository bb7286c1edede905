"""Dialogs of the Households page: add or edit a household, add or edit a member.

Each checks its input itself (plain translated words next to the buttons) and saves
through :mod:`fieldclient.fieldwork.households`, which queues the field-level sync op in the
same transaction. Sensitive values are never pre-filled in clear: an empty phone or
ID number field means "leave as it is". Opened with ``open()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from fieldclient.fieldwork import households
from fieldclient.geo.geometry import Fix
from ui.patrol_common import grid_label
from ui.widgets.basic import Retranslatable, button, label
from ui.widgets.household_list import category_text

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

PHONE_RE = re.compile(r"^[0-9+\-]{7,20}$")
ID_RE = re.compile(r"^(\d{15}|\d{17}[\dXx])$")
NAME_LIMIT = 50
ADDRESS_LIMIT = 200
TAG_SPLIT = re.compile(r"[、,，;；\s]+")


def split_tags(text: str) -> list[str]:
    return list(dict.fromkeys(t for t in TAG_SPLIT.split(text.strip()) if t))


class Choice(QWidget):
    """Big segmented buttons, one checked: category, residence, grid."""

    def __init__(self, values: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        for value in values:
            btn = button("groupTab", f"choice_{value}")
            btn.setCheckable(True)
            self.group.addButton(btn)
            self.buttons[value] = btn
            row.addWidget(btn)
        row.addStretch(1)

    def value(self) -> str | None:
        for value, btn in self.buttons.items():
            if btn.isChecked():
                return value
        return None

    def set_value(self, value: str) -> None:
        if value in self.buttons:
            self.buttons[value].setChecked(True)


class _FormDialog(Retranslatable, QDialog):
    """A form, an error line, Cancel and Save. ``save()`` returns an error text or
    None; the dialog closes (accepted) on None."""

    def __init__(self, name: str, parent: QWidget | None) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setObjectName(name)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.heading = label("prompt")
        self.form = QFormLayout()
        self.form.setHorizontalSpacing(24)
        self.form.setVerticalSpacing(12)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        body = QWidget()
        body.setObjectName("scrollBody")
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 8, 0)
        body_layout.addLayout(self.form)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        self.error = label("error")
        self.error.setObjectName("formError")
        self.error.setVisible(False)
        self.cancel_button = button("", "cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        self.save_button = button("primary", "saveButton")
        self.save_button.clicked.connect(self._save)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.setSpacing(16)
        layout.addWidget(self.heading)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.resize(900, 640)

    def line(self, name: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        return edit

    def save(self) -> str | None:
        raise NotImplementedError

    def _save(self) -> None:
        problem = self.save()
        if problem is None:
            self.accept()
            return
        self.error.setText(problem)
        self.error.setVisible(True)

    def retranslate(self) -> None:
        # explicit context: self.tr() in a base class looks up the subclass's name
        self.cancel_button.setText(QCoreApplication.translate("householdForm", "取消"))
        self.save_button.setText(QCoreApplication.translate("householdForm", "保存"))


class HouseholdDialog(_FormDialog):
    """Add a household found in the field (``household_id`` None) or edit one."""

    def __init__(self, session: Session, grids: list[str], household_id: str | None = None,
                 on_saved: Callable[[str], None] | None = None,
                 parent: QWidget | None = None, fix: Fix | None = None) -> None:
        super().__init__("householdDialog", parent)
        # Registering at the door during a patrol: the worker may record where the
        # household lives (the review's far-from-home check compares home visits with
        # it). Never by default: a worker registering from the office would give
        # every later visit a false flag.
        self.fix = fix if household_id is None else None
        self.session = session
        self.household_id = household_id
        self.on_saved = on_saved
        self.may_reveal = households.can_reveal(households.device_role(session))
        self.current: dict[str, Any] = (
            households.get_household(session, household_id) if household_id else {})
        self.hidden_tags: list[str] = []  # special groups this role may not see: kept
        self.name = self.line("headNameEdit")
        self.address = self.line("addressEdit")
        self.category = Choice(list(households.CATEGORIES))
        self.phone = self.line("phoneEdit")
        self.id_number = self.line("idNumberEdit")
        self.tags = self.line("tagsEdit")
        self.grid = Choice(grids) if household_id is None and len(grids) > 1 else None
        self.grids = grids
        self.name_label, self.address_label = label("fact"), label("fact")
        self.category_label, self.phone_label = label("fact"), label("fact")
        self.id_label, self.tags_label = label("fact"), label("fact")
        self.grid_label = label("fact")
        self.form.addRow(self.name_label, self.name)
        self.form.addRow(self.address_label, self.address)
        self.form.addRow(self.category_label, self.category)
        self.form.addRow(self.phone_label, self.phone)
        self.form.addRow(self.id_label, self.id_number)
        self.form.addRow(self.tags_label, self.tags)
        if self.grid is not None:
            self.form.addRow(self.grid_label, self.grid)
            self.grid.set_value(grids[0])
        self.position_label = label("fact")
        self.at_door = button("groupTab", "atDoorButton")
        self.at_door.setCheckable(True)
        if self.fix is not None:
            self.form.addRow(self.position_label, self.at_door)
        else:
            self.position_label.hide()
            self.at_door.hide()
        if self.current:
            self.name.setText(self.current["head_name"])
            self.address.setText(self.current["address"])
            self.category.set_value(self.current["category"])
            tags = list(self.current["tags"])
            if not self.may_reveal:
                self.hidden_tags = [t for t in tags if t in households.SENSITIVE_TAGS]
                tags = [t for t in tags if t not in households.SENSITIVE_TAGS]
            self.tags.setText("、".join(tags))
        else:
            self.category.set_value("ordinary")
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        adding = self.household_id is None
        self.setWindowTitle(self.tr("新增住户") if adding else self.tr("修改住户信息"))
        self.heading.setText(self.tr("新增一户在走访中发现的住户。带*的必须填写。") if adding
                             else self.tr("修改后点“保存”，下次同步时上报。"))
        self.name_label.setText(self.tr("户主姓名*"))
        self.address_label.setText(self.tr("地址*"))
        self.category_label.setText(self.tr("类别"))
        self.phone_label.setText(self.tr("电话"))
        self.id_label.setText(self.tr("身份证号"))
        self.tags_label.setText(self.tr("标签"))
        self.grid_label.setText(self.tr("网格"))
        self.position_label.setText(self.tr("住户位置"))
        if self.fix is not None:
            self.at_door.setText(self.tr("我在这户门口：记下此处位置\n北纬{lat}°，东经{lon}°")
                                 .format(lat=f"{self.fix.lat:.5f}", lon=f"{self.fix.lon:.5f}"))
        self.tags.setPlaceholderText(self.tr("多个标签用顿号分开，例如：低保户、独居老人"))
        for value, btn in self.category.buttons.items():
            btn.setText(category_text(value))
        if self.grid is not None:
            for value, btn in self.grid.buttons.items():
                btn.setText(grid_label(value))
        if not adding:
            keep = self.tr("不修改请留空（现为 {value}）")
            self.phone.setPlaceholderText(keep.format(value=self.current.get("phone") or "—"))
            self.id_number.setPlaceholderText(
                keep.format(value=self.current.get("id_number") or "—"))

    def save(self) -> str | None:
        name, address = self.name.text().strip(), self.address.text().strip()
        phone, id_number = self.phone.text().strip(), self.id_number.text().strip().upper()
        if not name:
            return self.tr("请填写户主姓名。")
        if not address:
            return self.tr("请填写地址。")
        if len(name) > NAME_LIMIT or len(address) > ADDRESS_LIMIT:
            return self.tr("姓名或地址太长了，请检查。")
        if phone and not PHONE_RE.match(phone):
            return self.tr("电话号码只能是数字，请检查。")
        if id_number and not ID_RE.match(id_number):
            return self.tr("身份证号应为18位（最后一位可以是X），请检查。")
        tags = split_tags(self.tags.text())
        category = self.category.value() or "ordinary"
        if self.household_id is None:
            grid = self.grid.value() if self.grid is not None else (
                self.grids[0] if self.grids else None)
            position = ((self.fix.lat, self.fix.lon)
                        if self.fix is not None and self.at_door.isChecked() else None)
            saved = households.create_household(
                self.session, name, address, category=category, phone=phone or None,
                id_number=id_number or None, tags=tags, grid_id=grid, position=position)
        else:
            fields: dict[str, Any] = {}
            for key, value in (("head_name", name), ("address", address),
                               ("category", category)):
                if value != self.current[key]:
                    fields[key] = value
            if phone:
                fields["phone"] = phone
            if id_number:
                fields["id_number"] = id_number
            tags = tags + [t for t in self.hidden_tags if t not in tags]
            if tags != list(self.current["tags"]):
                fields["tags"] = tags
            if fields:
                households.update_household(self.session, self.household_id, fields)
            saved = self.household_id
        if self.on_saved is not None:
            self.on_saved(saved)
        return None


RESIDENCES = ("registered", "floating", "tenant")


class MemberDialog(_FormDialog):
    """Add a member to a household (``member`` None) or edit one."""

    def __init__(self, session: Session, household_id: str,
                 member: dict[str, Any] | None = None,
                 on_saved: Callable[[str], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("memberDialog", parent)
        self.session = session
        self.household_id = household_id
        self.member = member
        self.on_saved = on_saved
        self.name = self.line("memberNameEdit")
        self.relation = self.line("relationEdit")
        self.residence = Choice(list(RESIDENCES))
        self.phone = self.line("memberPhoneEdit")
        self.id_number = self.line("memberIdEdit")
        self.name_label, self.relation_label = label("fact"), label("fact")
        self.residence_label, self.phone_label, self.id_label = (
            label("fact"), label("fact"), label("fact"))
        self.form.addRow(self.name_label, self.name)
        self.form.addRow(self.relation_label, self.relation)
        self.form.addRow(self.residence_label, self.residence)
        self.form.addRow(self.phone_label, self.phone)
        self.form.addRow(self.id_label, self.id_number)
        if member:
            self.name.setText(member["name"])
            self.relation.setText(member["relation"] or "")
            self.residence.set_value(member["residence"] or "registered")
        else:
            self.residence.set_value("registered")
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        adding = self.member is None
        self.setWindowTitle(self.tr("添加家庭成员") if adding else self.tr("修改家庭成员"))
        self.heading.setText(self.tr("带*的必须填写。"))
        self.name_label.setText(self.tr("姓名*"))
        self.relation_label.setText(self.tr("与户主关系*"))
        self.relation.setPlaceholderText(self.tr("例如：配偶、子女、父亲"))
        self.residence_label.setText(self.tr("居住情况"))
        self.phone_label.setText(self.tr("电话"))
        self.id_label.setText(self.tr("身份证号"))
        names = {"registered": self.tr("户籍人口"), "floating": self.tr("流动人口"),
                 "tenant": self.tr("租住")}
        for value, btn in self.residence.buttons.items():
            btn.setText(names[value])
        if self.member:
            keep = self.tr("不修改请留空（现为 {value}）")
            self.phone.setPlaceholderText(keep.format(value=self.member.get("phone") or "—"))
            self.id_number.setPlaceholderText(
                keep.format(value=self.member.get("id_number") or "—"))

    def save(self) -> str | None:
        name, relation = self.name.text().strip(), self.relation.text().strip()
        phone, id_number = self.phone.text().strip(), self.id_number.text().strip().upper()
        if not name:
            return self.tr("请填写姓名。")
        if not relation:
            return self.tr("请填写与户主的关系。")
        if len(name) > NAME_LIMIT or len(relation) > NAME_LIMIT:
            return self.tr("姓名或关系太长了，请检查。")
        if phone and not PHONE_RE.match(phone):
            return self.tr("电话号码只能是数字，请检查。")
        if id_number and not ID_RE.match(id_number):
            return self.tr("身份证号应为18位（最后一位可以是X），请检查。")
        residence = self.residence.value() or "registered"
        if self.member is None:
            saved = households.add_member(
                self.session, self.household_id, name, relation, id_number=id_number or None,
                phone=phone or None, residence=residence)
        else:
            fields: dict[str, Any] = {}
            for key, value in (("name", name), ("relation", relation),
                               ("residence", residence)):
                if value != (self.member.get(key) or ""):
                    fields[key] = value
            if phone:
                fields["phone"] = phone
            if id_number:
                fields["id_number"] = id_number
            if fields:
                households.update_member(self.session, self.member["id"], fields)
            saved = str(self.member["id"])
        if self.on_saved is not None:
            self.on_saved(saved)
        return None
