"""Photos by touch: our own picker (big thumbnails, folders as tiles, Chinese), the
full-size view wherever photos appear, and removing only after a confirmation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from uihelpers import click, settle

from fieldclient.fieldwork import events, visits
from fieldclient.fieldwork.households import create_household
from fieldclient.photos import pipeline
from ui.controller import AppController
from ui.dialogs.patrol import ConfirmDialog
from ui.dialogs.photo import PhotoView
from ui.dialogs.photo_picker import THUMB_PX, TouchPhotoPicker, photo_sources
from ui.dialogs.visit import VisitDialog


def _jpeg(path: Path, colour: tuple[int, int, int], taken: str | None = None) -> Path:
    exif = Image.Exif()
    if taken:
        exif.get_ifd(pipeline.TAG_EXIF_IFD)[pipeline.TAG_DATETIME_ORIGINAL] = taken
    Image.new("RGB", (1200, 900), colour).save(path, "JPEG", quality=85, exif=exif.tobytes())
    return path


@pytest.fixture
def gallery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A pictures folder (two photos and an album folder) and a 'U盘' with one photo."""
    pictures, drive = tmp_path / "Pictures", tmp_path / "KINGSTON"
    (pictures / "2024相册").mkdir(parents=True)
    drive.mkdir()
    _jpeg(pictures / "IMG_0001.JPG", (200, 30, 30), "2024:03:02 07:15:00")
    _jpeg(pictures / "IMG_0002.jpg", (30, 200, 30))
    _jpeg(pictures / "2024相册" / "IMG_0100.jpg", (30, 30, 200))
    (pictures / "notes.txt").write_text("not a picture")
    _jpeg(drive / "DSC_0007.JPG", (90, 90, 90))
    import os

    monkeypatch.setenv("GRIDFIELD_PHOTO_DIRS", os.pathsep.join([str(pictures), str(drive)]))
    return pictures, drive


def _names(picker: TouchPhotoPicker) -> list[str]:
    return [picker.grid.item(i).text() for i in range(picker.grid.count())]


def test_touch_picker_big_thumbnails_folders_and_drives(
    unlocked: AppController, qtbot: QtBot, gallery: tuple[Path, Path]
) -> None:
    _pictures, drive = gallery
    picked: list[Path] = []
    picker = TouchPhotoPicker(picked.append, photo_sources(), unlocked.window)
    picker.open()
    assert picker.windowTitle() == "选择照片"
    assert [b.text() for _s, b in picker.source_buttons] == [  # type: ignore[attr-defined]
        "图片文件夹", "U盘/存储卡：KINGSTON"]
    assert _names(picker)[0] == "2024相册"  # folders first, then the pictures
    assert sorted(_names(picker)[1:]) == ["IMG_0001.JPG", "IMG_0002.jpg"]
    assert picker.grid.iconSize().width() == THUMB_PX >= 150
    settle(qtbot)
    [red] = picker.grid.findItems("IMG_0001.JPG", Qt.MatchFlag.MatchExactly)
    qtbot.waitUntil(  # the real picture replaced the grey placeholder
        lambda: red.icon().pixmap(THUMB_PX).toImage().pixelColor(80, 60).red() > 150)
    assert not picker.up_button.isEnabled()
    # A folder opens with a tap, 上一级 goes back.
    [album] = picker.grid.findItems("2024相册", Qt.MatchFlag.MatchExactly)
    picker._tapped(album)
    assert _names(picker) == ["IMG_0100.jpg"] and picker.up_button.isEnabled()
    assert "2024相册" in picker.where.text()
    click(qtbot, picker.up_button)
    assert "2024相册" in _names(picker)
    # The drive; a tap on a picture picks it and closes.
    click(qtbot, picker.source_buttons[1][1])  # type: ignore[arg-type]
    assert _names(picker) == ["DSC_0007.JPG"]
    picker._tapped(picker.grid.item(0))
    assert picked == [drive / "DSC_0007.JPG"] and not picker.isVisible()
    for widget in (picker.up_button, picker.cancel_button, picker.refresh_button):
        assert widget.sizeHint().height() >= 48


def test_empty_folder_says_what_to_do(
    unlocked: AppController, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("GRIDFIELD_PHOTO_DIRS", str(empty))
    picker = TouchPhotoPicker(lambda _p: None, photo_sources(), unlocked.window)
    picker.open()
    assert picker.grid.count() == 0 and picker.empty.isVisibleTo(picker)
    assert "没有照片" in picker.empty.text()
    picker.reject()


def test_visit_photo_from_the_gallery_keeps_its_time_and_is_removed_only_when_confirmed(
    unlocked: AppController, qtbot: QtBot, gallery: tuple[Path, Path]
) -> None:
    session = unlocked.session
    assert session is not None
    hid = create_household(session, "王秀英", "培训村2组8号")
    dialog = VisitDialog(unlocked, hid, unlocked.window)
    dialog.open()
    click(qtbot, dialog.pick_button)  # the real picker
    picker = dialog.findChild(TouchPhotoPicker)
    assert isinstance(picker, TouchPhotoPicker) and picker.isVisible()
    [item] = picker.grid.findItems("IMG_0001.JPG", Qt.MatchFlag.MatchExactly)
    picker._tapped(item)
    settle(qtbot)
    qtbot.waitUntil(lambda: len(dialog.photo_ids) == 1)
    photo = pipeline.get_photo(session, dialog.photo_ids[0])
    assert photo.captured_local().strftime("%Y-%m-%d %H:%M") == "2024-03-02 07:15"
    # A tap on the thumbnail shows it large; nothing is removed by the tap.
    click(qtbot, dialog.thumbs[0])
    view = dialog.strip.view
    assert isinstance(view, PhotoView) and view.isVisible() and not view.pixmap.isNull()
    assert len(dialog.photo_ids) == 1
    assert view.remove_button.isVisibleTo(view) and view.remove_button.text() == "删除这张照片"
    click(qtbot, view.remove_button)
    confirm = view.confirm
    assert isinstance(confirm, ConfirmDialog)
    click(qtbot, confirm.cancel_button)  # 保留
    assert len(dialog.photo_ids) == 1 and view.isVisible()
    click(qtbot, view.remove_button)
    assert isinstance(view.confirm, ConfirmDialog)
    click(qtbot, view.confirm.ok_button)
    qtbot.waitUntil(lambda: not view.isVisible())
    assert dialog.photo_ids == [] and dialog.thumbs == []
    dialog.discarding = True
    dialog.reject()


def test_event_form_thumbnail_tap_never_drops_and_detail_shows_the_pictures(
    unlocked: AppController, qtbot: QtBot, gallery: tuple[Path, Path]
) -> None:
    from ui.dialogs.event import ReportEventDialog
    from ui.pages.events import EventsPage

    pictures, _drive = gallery
    session = unlocked.session
    assert session is not None
    dialog = ReportEventDialog(unlocked, unlocked.window)
    dialog.open()
    dialog.photos.image_picker = lambda _parent, picked: picked(pictures / "IMG_0002.jpg")
    click(qtbot, dialog.photos.pick_button)
    qtbot.waitUntil(lambda: dialog.photos.count() == 1, timeout=15_000)
    click(qtbot, dialog.photos.thumbs[0])
    view = dialog.photos.strip.view
    assert isinstance(view, PhotoView) and dialog.photos.count() == 1
    click(qtbot, view.remove_button)
    assert isinstance(view.confirm, ConfirmDialog) and dialog.photos.count() == 1
    click(qtbot, view.confirm.ok_button)
    assert dialog.photos.count() == 0
    dialog.reject()

    photo = pipeline.add_photo_file(session, pictures / "IMG_0001.JPG")
    hid = create_household(session, "李四", "一组1号")
    event_id = events.report_event(session, category="消防安全", description="楼道堆放杂物",
                                   household_id=hid, photos=[photo.id])
    view_ = unlocked.main_view
    page = view_.pages["events"]  # type: ignore[union-attr]
    assert isinstance(page, EventsPage)
    view_.show_page("events")  # type: ignore[union-attr]
    page.open_event(event_id)
    assert "照片：" not in page.detail_facts.text()
    assert page.detail_photos.isVisibleTo(page) and len(page.detail_photos.thumbs) == 1
    click(qtbot, page.detail_photos.thumbs[0])
    shown = page.detail_photos.view
    assert isinstance(shown, PhotoView) and not shown.pixmap.isNull()
    assert not shown.remove_button.isVisibleTo(shown)  # a sent report's photo stays
    shown.accept()
    assert visits.MAX_PHOTOS > 0


def test_patrol_item_thumbnail_opens_the_viewer_and_removes_only_when_confirmed(
    unlocked: AppController, qtbot: QtBot, gallery: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from fieldclient.fieldwork import patrols
    from fieldclient.fieldwork.patrols import ItemResult
    from ui.mainwindow import MainView
    from ui.pages.patrol import PatrolPage
    from ui.patrol_tracker import PatrolTracker

    missing = f"nmea-file:{tmp_path / 'no-such.nmea'}"
    monkeypatch.setattr(PatrolTracker, "source_spec", lambda self: missing)
    pictures, _drive = gallery
    view_ = unlocked.window.screen_widget()
    assert isinstance(view_, MainView)
    view_.show_page("patrol")
    page = view_.pages["patrol"]
    assert isinstance(page, PatrolPage)
    page.start("12")
    assert page.patrol is not None
    page.image_picker = lambda _parent, picked: picked(pictures / "IMG_0001.JPG")
    # P07 (a problem needs its photo) gets two photos, P01 one.
    page.show_item("P07")
    card = page.cards["P07"]
    click(qtbot, card.result_buttons[ItemResult.PROBLEM])
    settle(qtbot)
    qtbot.waitUntil(lambda: page.patrol is not None
                    and page.patrol.items["P07"].result is ItemResult.PROBLEM, timeout=15_000)
    page.image_picker = lambda _parent, picked: picked(pictures / "IMG_0002.jpg")
    click(qtbot, card.pick_button)
    settle(qtbot)
    qtbot.waitUntil(lambda: len(card.thumbs) == 2, timeout=15_000)
    first, second = page.patrol.items["P07"].photos
    # A tap on a thumbnail shows that photo large; the tap itself drops nothing.
    click(qtbot, card.thumbs[1])
    view = card.strip.view
    assert isinstance(view, PhotoView) and view.isVisible() and not view.pixmap.isNull()
    assert view.pixmap.toImage().pixelColor(10, 10).green() > 150  # IMG_0002 is green
    assert view.remove_button.isVisibleTo(view)
    click(qtbot, view.remove_button)
    assert isinstance(view.confirm, ConfirmDialog)
    click(qtbot, view.confirm.cancel_button)  # 保留
    assert page.patrol.items["P07"].photos == (first, second)
    click(qtbot, view.remove_button)
    assert isinstance(view.confirm, ConfirmDialog)
    click(qtbot, view.confirm.ok_button)
    qtbot.waitUntil(lambda: not view.isVisible())
    assert page.patrol.items["P07"].photos == (first,) and len(card.thumbs) == 1
    session = unlocked.session
    assert session is not None
    assert patrols.get_patrol(session, page.patrol.id).items["P07"].photos == (first,)
    # The last photo of a problem that needs one stays: the card says why.
    click(qtbot, card.thumbs[0])
    view = card.strip.view
    assert isinstance(view, PhotoView)
    click(qtbot, view.remove_button)
    assert isinstance(view.confirm, ConfirmDialog)
    click(qtbot, view.confirm.ok_button)
    assert page.patrol.items["P07"].photos == (first,) and len(card.thumbs) == 1
    assert card.error.isVisibleTo(card) and "拍照" in card.error.text()


def test_review_drill_down_shows_visit_photos_in_the_shared_viewer(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
    gallery: tuple[Path, Path],
) -> None:
    """A visit's photos in the leader's drill-down: the one strip and viewer (not
    removable: it is someone's sent record); one held only at the centre says so."""
    from review_data import NOW, _visit, at, seed
    from uihelpers import PIN

    from fieldclient.storage.session import unlock_device
    from sync.pulled_visits import save_pulled_visit
    from ui.dialogs.photo import PhotoStrip
    from ui.dialogs.review_worker import WorkerDialog

    pictures, _drive = gallery
    session = unlock_device(device, PIN)
    seed(session, "leader")
    photo = pipeline.add_photo_file(session, pictures / "IMG_0001.JPG")
    at_centre = "c" * 32  # pulled with the visit, its picture never downloaded
    with session.db.conn:
        save_pulled_visit(session.db, _visit(
            "v-z4", "11", "h7-0", at(10, 10), (29.950, 121.580), "门口消防通道已清理。",
            photos=[photo.id, at_centre]), NOW)
    session.close()
    controller = make_controller()
    controller.on_session(unlock_device(device, PIN, clock=lambda: NOW))
    page_view = controller.main_view
    assert page_view is not None
    from ui.pages.review import ReviewPage

    page_view.show_page("review")  # type: ignore[attr-defined]
    page = page_view.pages["review"]  # type: ignore[attr-defined]
    assert isinstance(page, ReviewPage)
    qtbot.waitUntil(lambda: page.figures is not None and not page.loading, timeout=10_000)
    zhang = next(w for w in page.workers() if w["name"] == "张三")
    click(qtbot, page.open_buttons[zhang["person_id"]])
    dialog = page.dialog
    assert isinstance(dialog, WorkerDialog)
    strip = dialog.cards["v-z4"].findChild(PhotoStrip)
    assert isinstance(strip, PhotoStrip) and len(strip.thumbs) == 2
    assert not strip.thumbs[0].icon().isNull() and strip.thumbs[1].icon().isNull()
    click(qtbot, strip.thumbs[0])
    view = strip.view
    assert isinstance(view, PhotoView) and not view.pixmap.isNull()
    assert not view.remove_button.isVisibleTo(view) and not view.note.isVisibleTo(view)
    view.accept()
    click(qtbot, strip.thumbs[1])
    view = strip.view
    assert isinstance(view, PhotoView) and view.pixmap.isNull()
    assert view.note.isVisibleTo(view) and "留在中心" in view.note.text()
    view.accept()
    dialog.accept()


def test_visit_history_photos_open_full_size(
    unlocked: AppController, qtbot: QtBot, gallery: tuple[Path, Path],
) -> None:
    from ui.dialogs.photo import PhotoStrip
    from ui.dialogs.visit import VisitHistoryDialog

    pictures, _drive = gallery
    session = unlocked.session
    assert session is not None
    hid = create_household(session, "赵大伯", "培训村3组2号")
    photo = pipeline.add_photo_file(session, pictures / "IMG_0002.jpg")
    vid = visits.record_visit(session, hid, visit_type="home", people_met="户主",
                              situation="身体好，家里整洁。", photos=[photo.id])
    history = VisitHistoryDialog(unlocked, hid, unlocked.window)
    history.open()
    strip = history.findChild(PhotoStrip, f"visitPhotos_{vid}")
    assert isinstance(strip, PhotoStrip) and len(strip.thumbs) == 1
    click(qtbot, strip.thumbs[0])
    view = strip.view
    assert isinstance(view, PhotoView) and not view.pixmap.isNull()
    assert not view.remove_button.isVisibleTo(view)  # a saved visit's photo stays
    view.accept()
    history.accept()
