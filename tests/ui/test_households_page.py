"""The Households page: type "zsf", see 张三丰, open it, reveal the ID number (audited),
add a member, edit a field (the outbox gets the field-level op), back; empty states,
a new household, member removal, and masking kept at lock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton, QWidget
from pytestqt.qtbot import QtBot
from uihelpers import PIN, click, settle

from fieldclient.fieldwork import households
from fieldclient.security import audit
from fieldclient.storage.session import Session
from ui.controller import AppController
from ui.dialogs.household import HouseholdDialog, MemberDialog
from ui.dialogs.patrol import ConfirmDialog
from ui.mainwindow import MainView
from ui.pages.households import HouseholdsPage

ID_NUMBER = "33020519800101123X"


def page_of(controller: AppController) -> tuple[MainView, HouseholdsPage]:
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("households")
    page = view.pages["households"]
    assert isinstance(page, HouseholdsPage)
    return view, page


def session_of(controller: AppController) -> Session:
    assert controller.session is not None
    return controller.session


def shown_names(page: HouseholdsPage) -> list[str]:
    return [row.hit.head_name for row in page.model.rows]


def outbox(session: Session) -> list[tuple[str, dict[str, object]]]:
    return [(kind, json.loads(payload)) for kind, payload in session.db.execute(
        "SELECT kind, payload FROM outbox ORDER BY rowid")]


def test_search_open_reveal_add_member_edit_back(unlocked: AppController, qtbot: QtBot) -> None:
    session = session_of(unlocked)
    hid = households.create_household(
        session, "张三丰", "武当山路1号", category="key", phone="13812345678",
        id_number=ID_NUMBER, tags=["吸毒人员"])
    for name in ("王五", "李四", "赵六"):
        households.create_household(session, name, f"{name}家")
    view, page = page_of(unlocked)
    qtbot.waitUntil(lambda: len(page.model.rows) == 4)
    qtbot.keyClicks(page.search, "zsf")
    qtbot.waitUntil(lambda: shown_names(page) == ["张三丰"], timeout=5000)
    assert page.status.text() == "找到1户"
    rect = page.view.visualRect(page.model.index(0))
    qtbot.mouseClick(page.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    detail = page.detail
    assert page.stack.currentWidget() is detail
    assert detail.name.text() == "张三丰"
    assert detail.fact_values["id_number"].text() == "3302**********123X"
    assert detail.fact_values["phone"].text() == "138****5678"
    assert detail.fact_values["tags"].text() == "特殊人群（已隐藏）"
    # reveal the ID number: shown in clear, audited
    before = len(list(session.audit.entries()))
    click(qtbot, detail.reveal_buttons["id_number"])
    assert detail.fact_values["id_number"].text() == ID_NUMBER
    entries = list(session.audit.entries())
    assert len(entries) == before + 1
    assert entries[-1]["action"] == audit.SENSITIVE_VIEWED
    assert entries[-1]["detail"] == {"kind": "household", "id": hid, "field": "id_number"}
    # add a member through the dialog
    click(qtbot, detail.add_member_button)
    dialog = detail.dialog
    assert isinstance(dialog, MemberDialog)
    click(qtbot, dialog.save_button)  # empty: refused with plain words
    assert dialog.error.isVisible() and dialog.error.text() == "请填写姓名。"
    dialog.name.insert("张翠山")  # committed by the input method
    dialog.relation.insert("子女")  # committed by the input method
    qtbot.keyClicks(dialog.phone, "139000011")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert [m["name"] for m in detail.members] == ["张翠山"]
    assert outbox(session)[-1][0] == "member.create"
    # edit a field: only the address travels, based on the pulled version
    click(qtbot, detail.edit_button)
    edit = detail.dialog
    assert isinstance(edit, HouseholdDialog)
    assert edit.phone.text() == "" and "5678" in edit.phone.placeholderText()
    edit.address.clear()
    edit.address.insert("武当山路2号")  # committed by the input method
    click(qtbot, edit.save_button)
    qtbot.waitUntil(lambda: not edit.isVisible())
    kind, payload = outbox(session)[-1]
    assert kind == "household.update"
    assert payload == {"base_version": 0, "fields": {"address": "武当山路2号"}}
    assert detail.fact_values["address"].text() == "武当山路2号"
    # the member is found by its own name's initials too
    click(qtbot, detail.back_button)
    assert page.stack.currentWidget() is page.list_page
    assert detail.revealed == {}  # nothing stays in clear after leaving
    page.search.setText("zcs")
    qtbot.waitUntil(lambda: shown_names(page) == ["张三丰"], timeout=5000)
    # and the detail masks again when opened anew
    view.open_household(hid)
    assert detail.fact_values["id_number"].text() == "3302**********123X"


def test_empty_states_and_nothing_found(unlocked: AppController, qtbot: QtBot) -> None:
    _view, page = page_of(unlocked)
    qtbot.waitUntil(lambda: page.busy == 0 and page.empty.isVisible())
    assert "还没有住户信息" in page.empty.text()
    households.create_household(session_of(unlocked), "王五", "勤勇村3组")
    page.search.setText("zzz")
    qtbot.waitUntil(lambda: page.busy == 0 and "没有找到" in page.empty.text(), timeout=5000)
    assert not page.view.isVisible()
    page.search.setText("勤勇")
    qtbot.waitUntil(lambda: shown_names(page) == ["王五"], timeout=5000)
    assert page.view.isVisible() and not page.empty.isVisible()


def test_filters_and_paging(unlocked: AppController, qtbot: QtBot) -> None:
    session = session_of(unlocked)
    for i in range(120):
        households.create_household(session, f"王{i:03d}", f"路{i}号",
                                    category="hardship" if i % 4 == 0 else "ordinary")
    _view, page = page_of(unlocked)
    qtbot.waitUntil(lambda: len(page.model.rows) >= 50 and page.busy == 0, timeout=5000)
    assert page.model.canFetchMore()
    while page.model.canFetchMore():  # what scrolling to the bottom does
        page.model.fetchMore()
        qtbot.waitUntil(lambda: page.busy == 0, timeout=5000)
    assert len(page.model.rows) == 120
    click(qtbot, page.filter_buttons["hardship"])
    qtbot.waitUntil(lambda: page.busy == 0 and len(page.model.rows) == 30, timeout=5000)
    assert {row.hit.category for row in page.model.rows} == {"hardship"}


def test_add_household_dialog(unlocked: AppController, qtbot: QtBot) -> None:
    _view, page = page_of(unlocked)
    click(qtbot, page.add_button)
    dialog = page.dialog
    assert isinstance(dialog, HouseholdDialog)
    dialog.name.insert("钱七")  # committed by the input method
    click(qtbot, dialog.save_button)
    assert dialog.error.text() == "请填写地址。"
    dialog.address.insert("胜利路8号")  # committed by the input method
    qtbot.keyClicks(dialog.id_number, "12345")
    click(qtbot, dialog.save_button)
    assert dialog.error.text() == "身份证号应为18位（最后一位可以是X），请检查。"
    dialog.id_number.clear()
    click(qtbot, dialog.category.buttons["hardship"])
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.detail)
    assert page.detail.name.text() == "钱七"
    kind, payload = outbox(session_of(unlocked))[-1]
    assert kind == "household.create" and payload["category"] == "hardship"


def test_a_household_registered_at_its_door_gets_the_position(
        unlocked: AppController, qtbot: QtBot) -> None:
    """During a patrol the form offers the position the tracker has (never ticked by
    default): ticked, the household and its create op carry it; not ticked, neither."""
    from fieldclient.geo.geometry import Fix

    session = session_of(unlocked)
    fix = Fix(t=session.clock(), lat=29.95123, lon=121.58456)
    saved: list[str] = []
    for at_door in (True, False):
        dialog = HouseholdDialog(session, ["1"], None, on_saved=saved.append, fix=fix)
        qtbot.addWidget(dialog)
        assert dialog.at_door.isVisibleTo(dialog) and not dialog.at_door.isChecked()
        assert "29.95123" in dialog.at_door.text()
        dialog.name.insert("门口登记" if at_door else "办公室登记")
        dialog.address.insert("胜利路9号")
        if at_door:
            click(qtbot, dialog.at_door)
        click(qtbot, dialog.save_button)
        kind, payload = outbox(session)[-1]
        assert kind == "household.create"
        row = session.db.execute("SELECT lat, lon FROM households WHERE id = ?",
                                 (saved[-1],)).fetchone()
        if at_door:
            assert (payload["lat"], payload["lon"]) == (29.95123, 121.58456) == tuple(row)
        else:
            assert "lat" not in payload and tuple(row) == (None, None)
    quota = session.db.execute(
        "SELECT q.lat FROM quota_households q JOIN households h ON q.household_rowid = h.rowid"
        " WHERE h.id = ?", (saved[0],)).fetchone()
    assert quota == (29.95123,)  # the review finds it there
    without = HouseholdDialog(session, ["1"], None)  # no patrol running: no offer
    qtbot.addWidget(without)
    assert not without.at_door.isVisibleTo(without)


def remove_button(detail: QWidget) -> QPushButton:
    return next(b for b in detail.findChildren(QPushButton)
                if b.objectName() == "removeMemberButton")


def test_remove_member_asks_first(unlocked: AppController, qtbot: QtBot) -> None:
    session = session_of(unlocked)
    hid = households.create_household(session, "孙八", "胜利路8号")
    households.add_member(session, hid, "孙小八", "子女")
    view, page = page_of(unlocked)
    view.open_household(hid)
    detail = page.detail
    click(qtbot, remove_button(detail))
    confirm = detail.dialog
    assert isinstance(confirm, ConfirmDialog)
    confirm.reject()
    settle(qtbot)
    assert len(detail.members) == 1
    click(qtbot, remove_button(detail))
    confirm = detail.dialog
    assert isinstance(confirm, ConfirmDialog)
    confirm.accept()
    qtbot.waitUntil(lambda: detail.members == [])
    assert outbox(session)[-1][0] == "member.remove"


def test_lock_hides_revealed_values(unlocked: AppController, qtbot: QtBot) -> None:
    session = session_of(unlocked)
    hid = households.create_household(session, "周九", "东路1号", id_number=ID_NUMBER)
    view, page = page_of(unlocked)
    view.open_household(hid)
    click(qtbot, page.detail.reveal_buttons["id_number"])
    assert page.detail.fact_values["id_number"].text() == ID_NUMBER
    unlocked.lock("manual")
    settle(qtbot)
    assert page.detail.revealed == {}
    QApplication.processEvents()


def test_supervisor_sees_no_reveal_buttons(
        central_live: Any, make_controller: Callable[..., AppController], data_dir: Path,
        cheap_device_keys: None, qtbot: QtBot) -> None:
    """A supervisor's device (enrolled with a live ``central serve``): masked, no 显示."""
    from central import ops
    from fieldclient.security.keystore import FileSecretStore
    from fieldclient.storage.session import setup_device, unlock_device
    from sync.engine import SyncEngine, enroll_device, transport_for

    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    code = ops.create_enrollment_code(central_live.engine, central_live.demo["supervisor"])["code"]
    enroll_device(session, central_live.base, code, "督导平板")
    assert SyncEngine(session, transport_for(session)).run_once().ok
    hid = households.create_household(session, "吴十", "西路2号", id_number=ID_NUMBER,
                                      tags=["社区矫正人员"])
    session.close()
    controller = make_controller()
    controller.on_session(unlock_device(data_dir, PIN))
    view, page = page_of(controller)
    view.open_household(hid)
    detail = page.detail
    assert detail.fact_values["id_number"].text() == "3302**********123X"
    assert detail.fact_values["tags"].text() == "特殊人群（已隐藏）"
    assert not any(b.isVisible() for b in detail.reveal_buttons.values())
