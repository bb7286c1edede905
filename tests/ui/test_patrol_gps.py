"""GPS for patrols: the three sources, BeiDou logs replayed into the track, broken
NMEA skipped, fixes kept while locked, the track view, the Settings section."""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from uihelpers import PIN, click, settle, type_pin

from fieldclient.fieldwork import patrols
from fieldclient.geo.geometry import Fix, FixFilter
from fieldclient.geo.nmea import read_fixes
from fieldclient.geo.tiles import scale_bar_metres
from fieldclient.settings import load_settings, parse_gps_source
from ui.controller import AppController
from ui.dialogs.patrol import TrackDialog
from ui.mainwindow import MainView
from ui.pages.patrol import PatrolPage
from ui.patrol_tracker import PatrolTracker
from ui.platform.positioning import (
    ENDED,
    FAILED,
    UNAVAILABLE,
    NmeaFileFeed,
    NmeaSerialFeed,
    SystemFeed,
    status_text,
)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "nmea"
LOGS = ["beidou-bd.log", "beidou-gb.log"]


def fixture_log(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"shared NMEA fixture {name} not present")
    return path


def patrol_page(controller: AppController) -> PatrolPage:
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("patrol")
    page = view.pages["patrol"]
    assert isinstance(page, PatrolPage)
    return page


def expected_track(path: Path) -> list[tuple[float, float]]:
    """What the core itself keeps of the log: parse, then the recorder's filter."""
    return [(f.lat, f.lon) for f in FixFilter().run(read_fixes(path))]


@pytest.mark.parametrize("name", LOGS)
def test_beidou_log_replayed_into_the_patrol_track(
    unlocked: AppController, qtbot: QtBot, name: str
) -> None:
    log = fixture_log(name)
    unlocked.gps_override = f"nmea-file:{log}"
    tracker = PatrolTracker.of(unlocked)
    tracker.feed_options = {"speed": 50.0}
    page = patrol_page(unlocked)
    page.start("3301")
    assert tracker.feed is not None and isinstance(tracker.feed, NmeaFileFeed)
    qtbot.waitUntil(lambda: tracker.feed is not None and tracker.feed.status == ENDED,
                    timeout=10_000)
    session = unlocked.session
    assert session is not None and page.patrol is not None
    kept = [(f.lat, f.lon) for f in patrols._patrol_fixes(session, page.patrol.id)]
    expected = expected_track(log)
    assert len(expected) >= 2
    assert kept == expected
    assert all(abs(lat - 31.248) < 0.01 and abs(lon - 121.587) < 0.01 for lat, lon in kept)
    stats = tracker.feed.stats()
    assert stats is not None and stats.sentences > 0
    page._update_status()
    assert page.gps_label.text() == "回放结束"
    # The track view shows them.
    click(qtbot, page.track_button)
    dialog = page.dialog
    assert isinstance(dialog, TrackDialog)
    assert dialog.view.fix_count == len(expected)
    assert dialog.view.notice.isHidden()  # positions came: no waiting notice
    dialog.grab()  # paints without error
    dialog.accept()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # it deletes itself
    assert not shiboken6.isValid(dialog)
    page._update_status()  # asks nothing of the deleted dialog (it raised before)
    # Finish: the simplified track is stored, distance in the summary.
    page._finish(allow_incomplete=True)
    settle(qtbot)
    assert page.summary is not None
    assert page.summary.distance_m > 0
    assert page.summary_fixes and len(page.summary_fixes) <= len(expected)
    assert page.summary_values["distance"].text().endswith("米")
    assert tracker.feed is None  # the patrol is over: GPS off


def test_broken_nmea_lines_are_skipped(qapp: QApplication, qtbot: QtBot, tmp_path: Path) -> None:
    log = fixture_log("beidou-bd.log")
    lines = log.read_bytes().splitlines(keepends=True)
    gga = next(line for line in lines if line.startswith(b"$GNGGA") and b",N," in line)
    broken = [
        gga.replace(b"3114", b"3115", 1),  # a changed digit: bad checksum
        gga[: len(gga) // 2] + b"\n",  # truncated
        b"\x00\xff\xfe\x80garbage\xc3\n",  # binary junk
        b"$GNRMC,*ZZ\n",  # not even a checksum
        b"$GNGGA,999999,,,\n",  # no checksum, impossible time
    ]
    mixed = tmp_path / "broken.nmea"
    out: list[bytes] = []
    for index, line in enumerate(lines):
        out.append(line)
        if index % 15 == 7 and broken:
            out.append(broken.pop())
    out += broken
    mixed.write_bytes(b"".join(out))
    feed = NmeaFileFeed(mixed, speed=1000.0)
    got: list[Fix] = []
    feed.fix_received.connect(got.append)
    feed.start()
    qtbot.waitUntil(lambda: feed.status == ENDED, timeout=10_000)
    clean = list(read_fixes(log))
    assert [(f.lat, f.lon, f.valid) for f in got] == [(f.lat, f.lon, f.valid) for f in clean]
    stats = feed.stats()
    assert stats is not None and stats.skipped >= 5
    # Times are moved to "now" but keep the log's spacing.
    gaps = [b.t - a.t for a, b in pairwise(got)]
    assert gaps == pytest.approx([b.t - a.t for a, b in pairwise(clean)])


def test_missing_file_and_unavailable_system_source_are_said_plainly(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    feed = NmeaFileFeed(tmp_path / "nope.nmea")
    feed.start()
    assert feed.status == FAILED
    assert "nope.nmea" in status_text(feed)
    from PySide6.QtPositioning import QGeoPositionInfoSource

    monkeypatch.setattr(QGeoPositionInfoSource, "createDefaultSource",
                        staticmethod(lambda *args: None))
    system = SystemFeed()
    system.start()
    assert system.status == UNAVAILABLE
    assert "没有可用的定位功能" in status_text(system)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_serial_receiver_through_a_pseudo_terminal(
    qapp: QApplication, qtbot: QtBot
) -> None:
    log = fixture_log("beidou-bd.log")
    master, slave = os.openpty()
    try:
        feed = NmeaSerialFeed(os.ttyname(slave))
        got: list[Fix] = []
        feed.fix_received.connect(got.append)
        feed.start()
        if feed.status == FAILED:
            pytest.skip(f"QSerialPort cannot open a pseudo-terminal here: {feed.detail}")
        data = log.read_bytes() + b"$GNGGA,junk*00\r\n"
        for start in range(0, len(data), 512):  # arrives in pieces, as from a UART
            os.write(master, data[start:start + 512])
            qtbot.wait(5)
        expected = [(f.lat, f.lon) for f in read_fixes(log)][:-1]  # the last epoch is open
        qtbot.waitUntil(lambda: len(got) >= len(expected), timeout=5000)
        assert [(f.lat, f.lon) for f in got][: len(expected)] == expected
        assert feed.stats().bad_checksum >= 1
        feed.stop()
    finally:
        os.close(master)
        os.close(slave)


def test_fixes_while_locked_are_saved_at_unlock(unlocked: AppController, qtbot: QtBot,
                                                 tmp_path: Path) -> None:
    unlocked.gps_override = f"nmea-file:{tmp_path / 'none.nmea'}"
    page = patrol_page(unlocked)
    page.start("3301")
    assert page.patrol is not None
    patrol_id = page.patrol.id
    tracker = PatrolTracker.of(unlocked)
    unlocked.lock("idle")
    session_now = __import__("time").time()
    for step in range(5):  # the walk goes on in the worker's pocket
        tracker._on_fix(Fix(t=session_now + step * 5, lat=31.2479 + step * 0.0001,
                            lon=121.5874, hdop=1.0, quality=1))
    assert len(tracker.buffer) == 5
    screen = unlocked.window.screen_widget()
    type_pin(qtbot, screen.pad, PIN)  # type: ignore[attr-defined]
    settle(qtbot)
    qtbot.waitUntil(lambda: unlocked.session is not None)
    session = unlocked.session
    assert session is not None
    assert len(patrols._patrol_fixes(session, patrol_id)) == 5
    assert not tracker.buffer


def test_gps_source_in_settings_and_on_the_command_line(
    unlocked: AppController, qtbot: QtBot, tmp_path: Path
) -> None:
    from ui.app import parse_args

    assert parse_args(["--gps", "nmea-serial:/dev/ttyUSB0"]).gps == "nmea-serial:/dev/ttyUSB0"
    assert parse_args([]).gps is None
    with pytest.raises(SystemExit):
        parse_args(["--gps", "bluetooth"])
    assert parse_gps_source("nmea-file:/a:b.log") == ("nmea-file", "/a:b.log")
    with pytest.raises(ValueError):
        parse_gps_source("nmea-file:")

    view = unlocked.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("settings")
    gps = view.pages["settings"].gps  # type: ignore[attr-defined]
    assert gps.kind_buttons["system"].isChecked()
    click(qtbot, gps.kind_buttons["nmea-file"])
    assert gps.detail.isVisibleTo(gps)
    click(qtbot, gps.apply_button)  # nothing typed: said so
    assert gps.error.isVisibleTo(gps)
    log = tmp_path / "training.nmea"
    log.write_text("")
    qtbot.keyClicks(gps.detail, str(log))
    click(qtbot, gps.apply_button)
    assert load_settings(unlocked.settings_path).gps_source == f"nmea-file:{log}"
    assert "training.nmea" in gps.current.text()
    click(qtbot, gps.kind_buttons["system"])
    assert load_settings(unlocked.settings_path).gps_source == "system"


def test_scale_bar_lengths() -> None:
    assert scale_bar_metres(1.0, 120) == 100
    assert scale_bar_metres(0.5, 120) == 50
    assert scale_bar_metres(10.0, 300) == 2000


def test_signals_emitted_from_python_do_not_use_up_true() -> None:
    """A patrol emits a few signals per GPS fix for hours. PySide6 6.12.0 released a
    reference to True on every emit() until the interpreter aborted (bool_dealloc);
    pyproject.toml excludes that release, and this guards against its return."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Source(QObject):
        fix = Signal(object)

    source = Source()
    got: list[object] = []
    source.fix.connect(got.append)
    before = sys.getrefcount(True)
    for step in range(2000):
        source.fix.emit(step)
    source.fix.disconnect(got.append)
    assert len(got) == 2000
    assert sys.getrefcount(True) >= before - 5
