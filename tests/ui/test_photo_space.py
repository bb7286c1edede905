"""Settings' 释放已同步照片 against a real ``central serve``: photos the centre holds
are freed after a confirmation and the amount is shown; one not uploaded stays; a
freed photo's viewer shows its thumbnail with a translated note, not a crash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot
from test_events_page import _open, _session, _sync
from uihelpers import click

from fieldclient.fieldwork import events
from fieldclient.photos import pipeline, space
from ui.controller import AppController
from ui.dialogs.patrol import ConfirmDialog
from ui.dialogs.photo import PhotoView
from ui.pages.events import EventsPage
from ui.pages.settings import SettingsPage

pytestmark = pytest.mark.usefixtures("cheap_device_keys")


def _jpeg(path: Path, colour: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (1600, 1200), colour)
    for x in range(0, 1600, 40):
        image.paste((255 - colour[0], 90, 30), (x, 0, x + 9, 1200))
    image.save(path, "JPEG", quality=92)
    return path


def test_free_synced_photos_from_settings_and_view_a_freed_one(
    qtbot: QtBot, central_live: Any, make_controller: Callable[..., AppController],
    tmp_path: Path,
) -> None:
    controller, view = _open(central_live, make_controller, tmp_path / "dev", tmp_path)
    session = _session(controller)
    sent = [pipeline.add_photo_file(session, _jpeg(tmp_path / f"s{i}.jpg", (30, 60 * i, 90)))
            for i in range(2)]
    event_id = events.report_event(session, category="消防安全", description="楼道堆放杂物",
                                   photos=[p.id for p in sent])
    _sync(qtbot, controller)
    for photo in sent:
        assert central_live.stored_photo(photo.sha256) is not None
    kept = pipeline.add_photo_file(session, _jpeg(tmp_path / "k.jpg", (200, 20, 20)))

    view.show_page("settings")
    page = view.pages["settings"]
    assert isinstance(page, SettingsPage)
    section = page.photo_space
    assert section.isVisibleTo(page) and section.space is not None
    assert section.space.freeable == 2 and section.space.waiting == 1
    assert "可以释放：2张" in section.facts.text() and "还没上传：1张" in section.facts.text()
    assert section.free_button.text() == "释放已同步照片" and section.free_button.isEnabled()
    assert section.free_button.sizeHint().height() >= 48
    click(qtbot, section.free_button)
    confirm = section.confirm
    assert isinstance(confirm, ConfirmDialog) and "2张" in confirm.message.text()
    assert "1张不会删" in confirm.message.text()
    click(qtbot, confirm.cancel_button)  # 取消: nothing goes
    assert all(session.blobs.exists(p.blob_id) for p in sent)
    click(qtbot, section.free_button)
    confirm = section.confirm
    assert isinstance(confirm, ConfirmDialog)
    click(qtbot, confirm.ok_button)
    qtbot.waitUntil(lambda: section.result.isVisibleTo(page))
    freed_bytes = sum(p.bytes for p in sent)
    from fieldclient.fsutil import human_size

    assert section.result.text() == f"已释放2张照片的原图，腾出{human_size(freed_bytes)}。"
    assert not any(session.blobs.exists(p.blob_id) for p in sent)
    assert session.blobs.exists(kept.blob_id)  # not uploaded: kept
    assert not section.free_button.isEnabled() and "已释放过原图：2张" in section.facts.text()
    assert space.photo_space(session).freeable == 0

    # The event's photos: a tap shows the thumbnail large, with a note; no crash.
    view.show_page("events")
    events_page = view.pages["events"]
    assert isinstance(events_page, EventsPage)
    events_page.open_event(event_id)
    strip = events_page.detail_photos
    assert len(strip.thumbs) == 2 and not strip.thumbs[0].icon().isNull()
    click(qtbot, strip.thumbs[0])
    shown = strip.view
    assert isinstance(shown, PhotoView) and not shown.pixmap.isNull()
    assert shown.note.isVisibleTo(shown) and "已从本机释放" in shown.note.text()
    shown.accept()
    controller.set_language("en")
    click(qtbot, strip.thumbs[1])
    shown = strip.view
    assert isinstance(shown, PhotoView) and shown.note.isVisibleTo(shown)
    assert "centre" in shown.note.text().lower()
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in shown.note.text())
    shown.accept()
    view.show_page("settings")
    assert "Free synced photos" in section.free_button.text()
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in section.facts.text())
