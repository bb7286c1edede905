"""A long day on the patrol page (issue 15): the status line and each fix never read
the day's fixes again, the running figures survive a lock, and a lock leaves nothing
of the unlocked GUI behind, even when the Today page's figures come back after it."""

from __future__ import annotations

import gc
import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from uihelpers import PIN, settle

from fieldclient.fieldwork import patrols
from fieldclient.geo.geometry import Fix
from fieldclient.storage.session import Session, unlock_device
from ui.controller import AppController
from ui.mainwindow import MainView
from ui.pages.patrol import PatrolPage
from ui.pages.today import TodayPage
from ui.patrol_tracker import PatrolTracker


@pytest.fixture(autouse=True)
def no_positioning(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = f"nmea-file:{tmp_path / 'no-such.nmea'}"
    monkeypatch.setattr(PatrolTracker, "source_spec", lambda self: missing)


def walk(t0: float, count: int) -> list[Fix]:
    rng = random.Random(8)
    lat, lon, fixes = 31.2479, 121.5874, []
    for i in range(count):
        bearing = math.radians(90.0 * ((i // 100) % 4))
        lat += 1.2 * math.cos(bearing) / 111_195.0
        lon += 1.2 * math.sin(bearing) / 95_000.0
        fixes.append(Fix(t=t0 + i, lat=lat + rng.gauss(0, 1e-5), lon=lon + rng.gauss(0, 1e-5),
                         accuracy_m=4.0))
    return fixes


def statements(session: Session, action: Callable[[], object]) -> list[str]:
    seen: list[str] = []
    session.db.conn.set_trace_callback(seen.append)
    try:
        action()
    finally:
        session.db.conn.set_trace_callback(None)
    return seen


def reads_the_day(sql: str) -> bool:
    """A statement that reads the patrol's fixes wholesale (not the newest one)."""
    text = " ".join(sql.split()).lower()
    return "from patrol_fixes" in text and "select t, lat" in text and "limit" not in text


def test_status_and_fixes_do_not_reread_the_day(unlocked: AppController, qtbot: QtBot) -> None:
    view = unlocked.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("patrol")
    page = view.pages["patrol"]
    assert isinstance(page, PatrolPage)
    page.start("101")
    tracker = PatrolTracker.of(unlocked)
    session = unlocked.session
    assert session is not None and tracker.live is not None
    fixes = walk(session.clock(), 2400)
    for start in range(0, 2300, 100):
        tracker.record_many(fixes[start:start + 100])
    sql = statements(session, page._update_status)
    assert not any("patrol_fixes" in s for s in sql), sql  # no database read at all
    sql = statements(session, lambda: tracker._on_fix(fixes[2300], tracker.feed))
    assert sql and not any(reads_the_day(s) for s in sql), sql
    assert tracker.live.points == 2301
    assert "公里" in page.progress_label.text() or "米" in page.progress_label.text()
    # The figures shown are those of the path rebuilt from the database.
    rebuilt = patrols.live_path(session, page.patrol.id if page.patrol else "")
    assert tracker.live.distance_m == pytest.approx(rebuilt.distance_m)

    # A lock keeps them: after the unlock nothing is read again either.
    unlocked.lock("manual")
    unlocked.on_session(unlock_device(unlocked.data_dir, PIN))
    settle(qtbot)
    assert tracker.live is not None and tracker.live.points == 2301
    view = unlocked.window.screen_widget()
    assert isinstance(view, MainView) and view.current_page().key == "patrol"


def test_a_restart_builds_the_figures_off_the_ui_thread(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
) -> None:
    session = unlock_device(device, PIN)
    patrol = patrols.start_patrol(session, "101")
    recorder = patrols.TrackRecorder(session, patrol.id)
    recorder.add_many(walk(session.clock(), 1500))
    expected = patrols.live_path(session, patrol.id).distance_m
    session.close()
    controller = make_controller()
    controller.on_session(unlock_device(device, PIN))
    tracker = PatrolTracker.of(controller)
    assert tracker.live is None and tracker.live_loading == patrol.id  # on the pool
    settle(qtbot)
    assert tracker.live is not None and tracker.live.distance_m == pytest.approx(expected)


def test_a_lock_during_the_today_figures_leaves_nothing_behind(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
    qapp: QApplication,
) -> None:
    gc.collect()
    earlier = {id(o) for o in gc.get_objects() if isinstance(o, (TodayPage, Session))}
    controller = make_controller()

    def cycle(wait: bool) -> None:
        controller.on_session(unlock_device(device, PIN))
        today = controller.main_view.pages["today"] if controller.main_view else None
        assert isinstance(today, TodayPage)
        if wait:
            settle(qtbot)
        controller.lock("manual")  # the figures may still be on their way
        settle(qtbot)
        qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)

    for index in range(8):
        cycle(wait=index % 2 == 0)
    gc.collect()
    found = [o for o in gc.get_objects()
             if isinstance(o, (TodayPage, Session)) and id(o) not in earlier]  # this test's
    pages = [o for o in found if isinstance(o, TodayPage)]
    closed = [o for o in found if isinstance(o, Session) and not o.is_open]
    assert not [p for p in pages if not shiboken6.isValid(p)]  # no deleted page held
    assert pages == []  # locked: no Today page at all
    assert closed == []
