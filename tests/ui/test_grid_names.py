"""Grids by name, never by bare number: the centre sends the names of a device's
grids with every pull page (a real ``central serve``), the device keeps them, and the
screens and the photo watermark say 勤勇村第9网格 where they said "网格 5"."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot
from sqlalchemy import update
from uihelpers import PIN, click

from central import db, ops
from fieldclient.fieldwork.enrollment import grid_names
from fieldclient.photos import pipeline
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import setup_device, unlock_device
from ui.controller import AppController
from ui.dialogs.event import ReportEventDialog
from ui.mainwindow import MainView
from ui.patrol_common import grid_label

pytestmark = pytest.mark.usefixtures("cheap_device_keys")
ROOT = Path(__file__).resolve().parents[2]


def _rename(live: Any, grid_id: int, name: str) -> None:
    with live.engine.begin() as conn:
        conn.execute(update(db.org_units).where(db.org_units.c.id == grid_id).values(name=name))


def _sync(qtbot: QtBot, controller: AppController) -> None:
    sync = controller.sync
    assert sync is not None
    qtbot.waitUntil(lambda: not sync.busy(), timeout=15_000)
    with qtbot.waitSignal(sync.finished, timeout=20_000):
        assert sync.sync_now()


def test_grid_names_from_the_centre_everywhere(
    central_live: Any, make_controller: Callable[..., AppController], data_dir: Path,
    tmp_path: Path, qtbot: QtBot,
) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "sync"))
    from sync_helpers import new_grid

    grid = new_grid(central_live.engine, 1)
    gid = grid["id"]
    _rename(central_live, gid, "勤勇村第9网格")
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    code = ops.create_enrollment_code(central_live.engine, grid["workers"][0])["code"]
    from sync.engine import enroll_device

    enroll_device(session, central_live.base, code, "测试平板")
    session.close()
    controller = make_controller()
    controller.gps_override = f"nmea-file:{tmp_path / 'no-fix.nmea'}"
    controller.on_session(unlock_device(data_dir, PIN))
    view = controller.main_view
    assert isinstance(view, MainView)
    _sync(qtbot, controller)
    assert controller.session is not None
    assert grid_names(controller.session) == {str(gid): "勤勇村第9网格"}
    assert grid_label(gid) == "勤勇村第9网格"
    view.show_page("sync")
    who = view.pages["sync"].who.text()  # type: ignore[attr-defined]
    assert "负责网格：勤勇村第9网格" in who and f"：{gid}" not in who
    # A photo without a fix: the watermark's place is the grid's name.
    picture = tmp_path / "scene.jpg"
    Image.new("RGB", (640, 480), (30, 140, 90)).save(picture, "JPEG")
    dialog = ReportEventDialog(controller, view)
    dialog.open()
    dialog.photos.image_picker = lambda _parent, picked: picked(picture)
    click(qtbot, dialog.photos.pick_button)
    qtbot.waitUntil(lambda: dialog.photos.count() == 1, timeout=15_000)
    prepared = dialog.photos.photos[0].prepared
    assert prepared.photo.grid_name == "勤勇村第9网格"
    lines = pipeline.watermark_lines(prepared.photo.captured_local(), None, None, None, None,
                                     prepared.photo.grid_name)
    assert "地点：勤勇村第9网格" in lines[1]
    dialog.reject()
    # A rename at the centre arrives with the next sync; the lock forgets the names.
    _rename(central_live, gid, "勤勇村第十网格")
    _sync(qtbot, controller)
    assert grid_label(gid) == "勤勇村第十网格"
    controller.lock("manual")
    assert grid_label(gid) == f"网格 {gid}"
