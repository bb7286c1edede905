"""Events in the GUI: report through the header's 上报事件 from any page, see it in
My events as 待上传, then the status the centre set (a real ``central serve`` and
the real ``central event advance``) on the timeline after a sync; supplement a
returned event and check a resolved one on the spot through the dialogs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from uihelpers import PIN, click

from central import ops
from fieldclient.fieldwork import events
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import Session, setup_device, unlock_device
from ui.controller import AppController
from ui.dialogs.event import ReportEventDialog, SupplementDialog, VerifyDialog
from ui.mainwindow import MainView
from ui.pages.events import EventsPage

pytestmark = pytest.mark.usefixtures("cheap_device_keys")
ROOT = Path(__file__).resolve().parents[2]


def _new_grid(live: Any) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests" / "sync"))
    from sync_helpers import new_grid

    return new_grid(live.engine, 1)


def _central(live: Any, *args: str) -> None:
    from central_helpers import central

    central(live.db_url, *args)


def _image(tmp_path: Path) -> Path:
    path = tmp_path / "scene.jpg"
    Image.new("RGB", (640, 480), (30, 140, 90)).save(path, "JPEG")
    return path


def _open(live: Any, make_controller: Callable[..., AppController], data_dir: Path,
          tmp_path: Path, **kwargs: Any) -> tuple[AppController, MainView]:
    grid = _new_grid(live)
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    code = ops.create_enrollment_code(live.engine, grid["workers"][0])["code"]
    from sync.engine import enroll_device

    enroll_device(session, live.base, code, "测试平板")
    session.close()
    controller = make_controller(**kwargs)
    controller.gps_override = f"nmea-file:{tmp_path / 'no-fix.nmea'}"
    controller.on_session(unlock_device(data_dir, PIN))
    view = controller.main_view
    assert isinstance(view, MainView)
    return controller, view


def _sync(qtbot: QtBot, controller: AppController) -> None:
    sync = controller.sync
    assert sync is not None
    qtbot.waitUntil(lambda: not sync.busy(), timeout=15_000)
    with qtbot.waitSignal(sync.finished, timeout=20_000):
        assert sync.sync_now()
    qtbot.waitUntil(lambda: not sync.busy(), timeout=15_000)


def _session(controller: AppController) -> Session:
    assert controller.session is not None
    return controller.session


def _add_photo(qtbot: QtBot, dialog: Any, image: Path) -> None:
    before = dialog.photos.count()
    dialog.photos.image_picker = lambda _parent, picked: picked(image)
    click(qtbot, dialog.photos.pick_button)
    qtbot.waitUntil(lambda: dialog.photos.count() == before + 1, timeout=15_000)


def test_report_from_the_header_then_the_centres_status_arrives(
    qapp: QApplication, qtbot: QtBot, central_live: Any,
    make_controller: Callable[..., AppController], data_dir: Path, tmp_path: Path,
) -> None:
    controller, view = _open(central_live, make_controller, data_dir, tmp_path)
    view.show_page("patrol")  # reachable from any page
    click(qtbot, view.report_button)
    dialog = view.event_dialog
    assert isinstance(dialog, ReportEventDialog) and dialog.isVisible()
    assert len(dialog.category_grid.keys) == 22
    click(qtbot, dialog.ok_button)  # nothing chosen: a plain message, nothing saved
    assert dialog.isVisible() and dialog.error.text() == "请选择一个事件类别。"
    click(qtbot, dialog.category_grid.keys["消防安全"])
    assert not dialog.error.isVisible()
    click(qtbot, dialog.ok_button)
    assert dialog.error.text() == "请写一句话说明发现的问题，再上报。"
    dialog.description.setPlainText("幸福路3号楼道堆满杂物，堵住消防通道")
    click(qtbot, dialog.urgency.keys["urgent"])
    dialog.address.setText("幸福路3号")
    _add_photo(qtbot, dialog, _image(tmp_path))
    assert "没有定位" in dialog.position_text.text()
    click(qtbot, dialog.ok_button)
    assert not dialog.isVisible()

    page = view.pages["events"]
    assert isinstance(page, EventsPage) and view.current_page() is page
    [card] = page.cards
    assert card.chip.text() == "待上传" and "紧急" in card.title.text()
    assert card.hint.text() == "待上传：有网络时会自动发送"
    [summary] = events.my_events(_session(controller))
    assert summary.address == "幸福路3号" and len(summary.photos) == 1

    _sync(qtbot, controller)
    assert page.cards[0].chip.text() == "已上报"
    _central(central_live, "event", "advance", summary.id, "--to", "accepted",
             "--note", "已派城管中队查看")
    _sync(qtbot, controller)  # the page refreshes itself after the sync
    assert page.cards[0].chip.text() == "已受理"
    click(qtbot, page.cards[0].open_button)
    assert page.stack.currentIndex() == 1
    states = [s.state for s in page.steps.steps]
    assert states == ["done", "current", "pending", "pending", "pending", "pending", "pending"]
    texts = [e.text() for e in page.history.entries]
    assert "我上报了事件" in texts[0] and "指挥中心：已受理" in texts[1]
    assert "已派城管中队查看" in texts[1]
    assert not page.supplement_button.isVisibleTo(page)
    assert not page.verify_button.isVisibleTo(page)
    click(qtbot, page.back_button)
    assert page.stack.currentIndex() == 0


def test_supplement_and_on_the_spot_check_through_the_dialogs(
    qapp: QApplication, qtbot: QtBot, central_live: Any,
    make_controller: Callable[..., AppController], data_dir: Path, tmp_path: Path,
) -> None:
    controller, view = _open(central_live, make_controller, data_dir, tmp_path)
    session = _session(controller)
    assert controller.sync is not None
    enrollment = controller.sync.enrollment()
    assert enrollment is not None
    event_id = events.report_event(session, category="公共设施", description="路灯不亮",
                                   grid_id=str(enrollment.grids[0]))
    _sync(qtbot, controller)
    ops.advance_event(central_live.engine, event_id, "returned", "请写清楚是哪根灯杆")
    view.show_page("events")
    _sync(qtbot, controller)
    page = view.pages["events"]
    assert isinstance(page, EventsPage)
    card = page.cards[0]
    assert card.chip.text() == "退回" and card.hint.text().startswith("需要补充")
    click(qtbot, card.open_button)
    assert page.supplement_button.isVisibleTo(page)
    click(qtbot, page.supplement_button)
    dialog = page.dialog
    assert isinstance(dialog, SupplementDialog)
    assert "请写清楚是哪根灯杆" in dialog.reason.text()
    dialog.text.setPlainText("幸福路3号门口第二根")
    click(qtbot, dialog.ok_button)
    assert not dialog.isVisible() and not page.supplement_button.isVisibleTo(page)
    _sync(qtbot, controller)
    assert page.detail_chip.text() == "已上报"

    for step in ("accepted", "in_progress", "resolved"):
        ops.advance_event(central_live.engine, event_id, step, None)
    _sync(qtbot, controller)
    assert page.verify_button.isVisibleTo(page)
    click(qtbot, page.verify_button)
    dialog = page.dialog
    assert isinstance(dialog, VerifyDialog)
    click(qtbot, dialog.outcome.keys[events.PASSED])
    click(qtbot, dialog.ok_button)
    assert dialog.error.text() == "现场核查至少要拍一张照片。"
    _add_photo(qtbot, dialog, _image(tmp_path))
    click(qtbot, dialog.ok_button)
    assert not dialog.isVisible()
    assert page.done_note.isVisibleTo(page) and page.done_note.text() == "您的工作已完成"
    _sync(qtbot, controller)
    assert page.detail_chip.text() == "已核查"
    with central_live.engine.connect() as conn:
        assert ops.event_dict(conn, event_id)["status"] == "verified"


def test_english_and_large_text(
    qapp: QApplication, qtbot: QtBot, central_live: Any,
    make_controller: Callable[..., AppController], data_dir: Path, tmp_path: Path,
) -> None:
    controller, view = _open(central_live, make_controller, data_dir, tmp_path,
                             language="en", scale=1.75)
    events.report_event(_session(controller), category="其他", description="Test")
    view.show_page("events")
    page = view.pages["events"]
    assert isinstance(page, EventsPage)
    assert page.cards[0].chip.text() == "Waiting to upload"
    click(qtbot, view.report_button)
    dialog = view.event_dialog
    assert isinstance(dialog, ReportEventDialog)
    assert dialog.category_grid.keys["其他"].text() == "Other"
    assert dialog.width() <= controller.window.width()
    assert dialog.height() <= controller.window.height()
    click(qtbot, dialog.cancel_button)
    assert events.my_events(_session(controller))[0].description == "Test"
