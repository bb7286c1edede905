"""The household detail masks members' ID numbers and phones as the household's own
(region and tail, middle digits hidden), reveals them audited and hides them again;
the Households list tells how many were found ("以上" while more pages wait)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPushButton, QWidget
from pytestqt.qtbot import QtBot
from uihelpers import click

from fieldclient.fieldwork import households
from fieldclient.security import audit
from fieldclient.storage.session import Session
from ui.controller import AppController
from ui.mainwindow import MainView
from ui.pages.households import HouseholdsPage

MEMBER_ID_NUMBER = "33020519900202456X"
MEMBER_PHONE = "13900001111"


def page_of(controller: AppController) -> HouseholdsPage:
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("households")
    page = view.pages["households"]
    assert isinstance(page, HouseholdsPage)
    return page


def session_of(controller: AppController) -> Session:
    assert controller.session is not None
    return controller.session


def member_texts(detail: QWidget) -> list[str]:
    return [lab.text() for lab in detail.findChildren(QLabel) if "身份证 " in lab.text()]


def test_member_fields_masked_like_the_household_and_revealed_audited(
        unlocked: AppController, qtbot: QtBot) -> None:
    session = session_of(unlocked)
    hid = households.create_household(session, "张三丰", "武当山路1号")
    member = households.add_member(session, hid, "张翠山", "子女",
                                   id_number=MEMBER_ID_NUMBER, phone=MEMBER_PHONE)
    page = page_of(unlocked)
    page.show_household(hid)
    detail = page.detail
    assert member_texts(detail) == ["户籍人口  ·  身份证 3302**********456X  ·  电话 139****1111"]
    reveal = next(b for b in detail.findChildren(QPushButton)
                  if b.objectName() == "revealMemberButton")
    assert reveal.text() == "显示"
    before = len(list(session.audit.entries()))
    click(qtbot, reveal)
    assert member_texts(detail) == [
        f"户籍人口  ·  身份证 {MEMBER_ID_NUMBER}  ·  电话 {MEMBER_PHONE}"]
    entries = list(session.audit.entries())[before:]
    assert [(e["action"], e["detail"]) for e in entries] == [
        (audit.SENSITIVE_VIEWED, {"kind": "member", "id": member, "field": "id_number"}),
        (audit.SENSITIVE_VIEWED, {"kind": "member", "id": member, "field": "phone"}),
    ]
    hide = next(b for b in detail.findChildren(QPushButton)
                if b.objectName() == "revealMemberButton")
    assert hide.text() == "隐藏"
    click(qtbot, hide)
    assert member_texts(detail) == ["户籍人口  ·  身份证 3302**********456X  ·  电话 139****1111"]
    assert len(list(session.audit.entries())) == before + 2  # hiding is not a reveal


def test_result_count_exact_or_at_least(unlocked: AppController, qtbot: QtBot) -> None:
    session = session_of(unlocked)
    for i in range(60):
        households.create_household(session, f"王{i:02d}", f"路{i}号")
    page = page_of(unlocked)
    qtbot.waitUntil(lambda: page.busy == 0 and len(page.model.rows) == 50, timeout=5000)
    assert page.status.text() == "找到50户以上"  # a second page waits
    page.model.fetchMore()
    qtbot.waitUntil(lambda: page.busy == 0 and len(page.model.rows) == 60, timeout=5000)
    assert page.status.text() == "找到60户"
    page.search.setText("王05")
    qtbot.waitUntil(lambda: page.busy == 0 and len(page.model.rows) == 1, timeout=5000)
    assert page.status.text() == "找到1户"
