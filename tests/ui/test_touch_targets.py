"""Every page and dialog at 100 % and 175 % text, in Chinese and English: no target
under 48 px (growing with the text), no text under 4.5:1 contrast, none clipped, none
left in the other language (the checks: a11y_walk.py).

The device is a grid leader's, enrolled at a real ``central serve`` and synced, with
households, members, a visit with a photo and an event; the walk's own data is in
pinyin so that any Chinese on an English screen is a string left untranslated.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from a11y_walk import Problem, walk
from PIL import Image
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import update
from uihelpers import PIN, settle

from central import db, ops
from fieldclient.fieldwork import events, households, visits
from fieldclient.photos import pipeline
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import setup_device, unlock_device
from ui.controller import AppController
from ui.mainwindow import MainView

pytestmark = pytest.mark.usefixtures("cheap_device_keys")
ROOT = Path(__file__).resolve().parents[2]


DATA = {  # the walk's own data: pinyin on English screens, so Chinese there is a bug
    "zh": {"grid": "测试第1网格", "leader": "张三", "head": "王秀英", "address": "培训村2组8号",
           "member": "李建国", "relation": "女婿", "text": "身体尚可", "event": "楼道堆放杂物",
           "task": "排查秸秆焚烧"},
    "en": {"grid": "Test Grid 1", "leader": "Zhang San", "head": "Wang Xiuying",
           "address": "Lane 8, Group 2", "member": "Li Jianguo", "relation": "son-in-law",
           "text": "Fine", "event": "Blocked exit", "task": "Check for straw burning"},
}


def _enrolled_leader(live: Any, data_dir: Path, language: str) -> None:
    data = DATA["zh" if language.startswith("zh") else "en"]
    sys.path.insert(0, str(ROOT / "tests" / "sync"))
    from sync_helpers import new_grid

    grid = new_grid(live.engine, 1)
    with live.engine.begin() as conn:
        conn.execute(update(db.org_units).where(db.org_units.c.id == grid["id"])
                     .values(name=data["grid"]))
        conn.execute(update(db.people).where(db.people.c.id == grid["leader"])
                     .values(name=data["leader"]))
    ops.push_task(live.engine, grid["id"], data["task"], data["task"], None)
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    code = ops.create_enrollment_code(live.engine, grid["leader"])["code"]
    from sync.engine import SyncEngine, enroll_device

    enroll_device(session, live.base, code, "tablet")
    hid = households.create_household(session, data["head"], data["address"])
    households.add_member(session, hid, data["member"], data["relation"])
    picture = data_dir.parent / "walk.jpg"
    Image.new("RGB", (800, 600), (40, 120, 200)).save(picture, "JPEG")
    photo = pipeline.add_photo_file(session, picture)
    visits.record_visit(session, hid, visit_type="home", situation=data["text"],
                        people_met=data["head"], photos=[photo.id])
    events.report_event(session, category="消防安全", description=data["event"],
                        household_id=hid, photos=[photo.id])
    SyncEngine(session).run_once()
    session.close()


def _screens(controller: AppController, qtbot: QtBot, data_dir: Path,
             ) -> list[tuple[str, Callable[[], QWidget], Callable[[QWidget], None]]]:
    """(name, open it, close it) for every page, sub-view and dialog."""
    from PySide6.QtCore import QCoreApplication

    from fieldclient.geo.geometry import Fix
    from ui.dialogs.event import ReportEventDialog
    from ui.dialogs.household import HouseholdDialog, MemberDialog
    from ui.dialogs.patrol import ConfirmDialog
    from ui.dialogs.photo import PhotoView
    from ui.dialogs.photo_picker import TouchPhotoPicker
    from ui.dialogs.visit import VisitDialog, VisitHistoryDialog
    from ui.patrol_common import worker_grids

    def tr(text: str) -> str:
        return QCoreApplication.translate("PhotoView", text)

    view = controller.main_view
    assert isinstance(view, MainView)
    session = controller.session
    assert session is not None
    hid = str(session.db.execute("SELECT id FROM households LIMIT 1").fetchone()[0])
    [event] = events.my_events(session)
    from fieldclient.fieldwork import tasks
    from ui.dialogs.task import AnswerDialog

    task_id = tasks.inbox(session)[0].id
    window = controller.window

    def page(key: str) -> Callable[[], QWidget]:
        def open_() -> QWidget:
            view.show_page(key)
            return window
        return open_

    def keep(_w: QWidget) -> None:
        pass

    def close(w: QWidget) -> None:
        if hasattr(w, "discarding"):
            w.discarding = True  # type: ignore[attr-defined]
        w.close()

    def detail() -> QWidget:
        view.show_page("households")
        view.pages["households"].show_household(hid)  # type: ignore[attr-defined]
        return window

    def search() -> QWidget:  # the big clear button shows with text typed
        view.show_page("households")
        view.pages["households"].search.setText("w")  # type: ignore[attr-defined]
        return window

    def event_detail() -> QWidget:
        view.show_page("events")
        view.pages["events"].open_event(event.id)  # type: ignore[attr-defined]
        return window

    def opened(make: Callable[[], QWidget]) -> Callable[[], QWidget]:
        def open_() -> QWidget:
            dialog = make()
            dialog.open()  # type: ignore[attr-defined]
            return dialog
        return open_

    screens: list[tuple[str, Callable[[], QWidget], Callable[[QWidget], None]]] = [
        (f"page {key}", page(key), keep) for key in view.pages]
    screens += [
        ("household search", search, keep),
        ("household detail", detail, keep),
        ("event detail", event_detail, keep),
        ("visit form", opened(lambda: VisitDialog(controller, hid, window)), close),
        ("visit history", opened(lambda: VisitHistoryDialog(controller, hid, window)), close),
        ("event report", opened(lambda: ReportEventDialog(controller, window)), close),
        ("household form", opened(lambda: HouseholdDialog(
            session, worker_grids(session).grids, hid, on_saved=lambda _i: None,
            parent=window)), close),
        ("household at the door", opened(lambda: HouseholdDialog(
            session, worker_grids(session).grids, None, on_saved=lambda _i: None,
            parent=window, fix=Fix(t=session.clock(), lat=29.95123, lon=121.58456))), close),
        ("member form", opened(lambda: MemberDialog(
            session, hid, None, on_saved=lambda _i: None, parent=window)), close),
        ("photo picker", opened(lambda: TouchPhotoPicker(lambda _p: None, None, window)), close),
        ("photo view", opened(lambda: PhotoView(QPixmap(str(data_dir.parent / "walk.jpg")),
                                                True, window)), close),
        ("task answer", opened(lambda: AnswerDialog(controller, task_id, window)), close),
        ("confirm", opened(lambda: ConfirmDialog(
            tr("删除这张照片吗？删除后要重新拍或重新选。"), tr("删除"), tr("保留"), window)),
         close),
    ]
    return screens


@pytest.mark.parametrize(("language", "scale"), [
    ("zh_CN", 1.0), ("zh_CN", 1.75), ("en", 1.0), ("en", 1.75)])
def test_every_screen_is_big_readable_whole_and_translated(
    central_live: Any, make_controller: Callable[..., AppController], data_dir: Path,
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, language: str, scale: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRIDFIELD_PHOTO_DIRS", str(tmp_path))
    _enrolled_leader(central_live, data_dir, language)
    controller = make_controller(language, scale)
    problems: list[str] = []

    def check(name: str, top: QWidget) -> None:
        settle(qtbot)
        found: list[Problem] = walk(top, scale, language)
        problems.extend(f"[{name}] {p}" for p in found)

    check("unlock", controller.window)
    from ui.screens.unlock import UnlockScreen

    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    screen.open_recovery()
    check("recover PIN", screen.recovery_dialog)
    screen.recovery_dialog.reject()
    controller.on_session(unlock_device(data_dir, PIN))
    sync = controller.sync
    assert sync is not None
    qtbot.waitUntil(lambda: not sync.busy(), timeout=20_000)  # its text settles
    for name, open_, close in _screens(controller, qtbot, data_dir):
        top = open_()
        check(name, top)
        close(top)
    controller.open_change_pin()
    assert controller.change_pin_dialog is not None
    check("change PIN", controller.change_pin_dialog)
    controller.change_pin_dialog.reject()
    controller.lock("manual")
    settle(qtbot)
    check("unlock after lock", controller.window)
    # The first screen of a new device: setting the PIN.
    from ui.controller import AppController as Controller

    fresh = Controller(tmp_path / "new-device")
    qtbot.addWidget(fresh.window)
    fresh.start()
    fresh.window.show()
    qtbot.waitExposed(fresh.window)
    check("set-up", fresh.window)
    fresh.window.close()
    unique = sorted(set(problems))
    assert not unique, f"{len(unique)} problems at {language} {scale:.0%}:\n" + "\n".join(
        unique[:80])
