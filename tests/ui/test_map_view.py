"""The offline map widget and the worker's track view: tiles from MBTiles/PMTiles drawn where
they belong (also enlarged past the archive's deepest level), the plain grid and scale bar
without a map, pan, zoom buttons, wheel and pinch, tapping markers, the boundary, the
track; the track view's "no GPS yet" notice and its live track from a BeiDou log."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from map_fixtures import CENTER, tile_color, tiles_around, write_mbtiles, write_pmtiles
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from uihelpers import click, settle

from fieldclient.geo.archive import TileArchive, open_archive
from fieldclient.geo.boundary import BoundaryInvalid
from fieldclient.geo.geometry import Fix, FixFilter
from fieldclient.geo.maps import install_map
from fieldclient.geo.nmea import read_fixes
from fieldclient.geo.tiles import TILE_SIZE, scale_bar_metres, tile_of, world_latlon
from ui.controller import AppController
from ui.dialogs.patrol import TrackDialog
from ui.mainwindow import MainView
from ui.pages.patrol import PatrolPage
from ui.patrol_tracker import PatrolTracker
from ui.widgets.map_view import (
    BACKGROUND,
    FLAG_COLOR,
    GRID_LINE,
    POINT_COLOR,
    TRACK_COLOR,
    MapMarker,
    MapView,
    installed_archive,
)
from ui.widgets.track_view import TrackView

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "nmea"
TILES = tiles_around(*CENTER, zooms=(14, 15, 16), radius=3)


@pytest.fixture(params=["mbtiles", "pmtiles"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TileArchive]:
    path = tmp_path / f"district.{request.param}"
    (write_mbtiles if request.param == "mbtiles" else write_pmtiles)(path, TILES)
    opened = open_archive(path)
    yield opened
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(5000)  # no tile read left running on it
    opened.close()


def shown(qtbot: QtBot, view: MapView, width: int = 640, height: int = 480) -> MapView:
    qtbot.addWidget(view)
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)
    return view


def image_of(view: MapView) -> QImage:
    settle_tiles(view)
    return view.grab().toImage()


def settle_tiles(view: MapView) -> None:
    for _ in range(20):
        QApplication.processEvents()
        from PySide6.QtCore import QThreadPool

        QThreadPool.globalInstance().waitForDone(2000)
        QApplication.processEvents()
        view.repaint()
        if not view._loading:
            return


def color_at(image: QImage, point: QPointF) -> QColor:
    return QColor(image.pixel(round(point.x()), round(point.y())))


def close_to(color: QColor, rgb: tuple[int, int, int] | QColor, tolerance: int = 6) -> bool:
    other = rgb if isinstance(rgb, QColor) else QColor(*rgb)
    return all(abs(a - b) <= tolerance for a, b in zip(
        (color.red(), color.green(), color.blue()), (other.red(), other.green(), other.blue()),
        strict=True))


def tile_middle(view: MapView, z: int, x: int, y: int) -> QPointF:
    lat, lon = world_latlon((x + 0.5) * TILE_SIZE / 2**z, (y + 0.5) * TILE_SIZE / 2**z)
    return view.screen_pos(lat, lon)


def test_tiles_drawn_where_they_belong(qtbot: QtBot, archive: TileArchive) -> None:
    view = shown(qtbot, MapView(archive))
    view.center_on(*CENTER, zoom=15)
    image = image_of(view)
    cx, cy = tile_of(*CENTER, 15)
    checked = 0
    for dx, dy in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
        at = tile_middle(view, 15, cx + dx, cy + dy)
        if 120 < at.x() < view.width() - 120 and 60 < at.y() < view.height() - 100:
            assert close_to(color_at(image, at), tile_color(15, cx + dx, cy + dy)), (dx, dy)
            checked += 1
    assert checked >= 2
    # Past the archive's deepest level (16) its tiles are enlarged, not left out.
    view.center_on(*CENTER, zoom=18)
    image = image_of(view)
    tx, ty = tile_of(*CENTER, 16)
    assert close_to(color_at(image, view.screen_pos(*CENTER)), tile_color(16, tx, ty))
    # Outside the archive: the plain background.
    view.center_on(CENTER[0] + 0.5, CENTER[1] + 0.5, zoom=15)
    image = image_of(view)
    assert close_to(color_at(image, QPointF(view.width() / 2 + 3, view.height() / 2 + 3)),
                    BACKGROUND)


def test_plain_grid_and_scale_bar_without_a_map(qtbot: QtBot) -> None:
    view = shown(qtbot, MapView(None))
    view.center_on(*CENTER, zoom=16)
    image = image_of(view)
    colors = {image.pixel(x, view.height() // 2) for x in range(0, view.width() - 100)}
    assert QColor(BACKGROUND).rgb() in colors and QColor(GRID_LINE).rgb() in colors
    bar = view.scale_bar_rect
    assert bar.width() > 40 and bar.bottom() <= view.height()
    dark = sum(1 for x in range(int(bar.left()), int(bar.right()))
               for y in range(int(bar.top()), int(bar.bottom()))
               if QColor(image.pixel(x, y)).lightness() < 60)
    assert dark > 50  # the bar and its text
    metres = scale_bar_metres(view.metres_per_pixel(), min(260.0, view.width() / 3))
    assert metres in (20, 50, 100, 200)  # zoom 16 at 31° N: 2.05 m per pixel
    assert view.no_map_text == "未安装离线地图"


def test_zoom_buttons_wheel_pinch_and_pan(qtbot: QtBot) -> None:
    view = shown(qtbot, MapView(None))
    view.center_on(*CENTER, zoom=15)
    changes: list[int] = []
    view.view_changed.connect(lambda: changes.append(view.zoom))
    before = view.metres_per_pixel()
    click(qtbot, view.zoom_in_button)
    assert view.zoom == 16 and view.metres_per_pixel() == pytest.approx(before / 2)
    click(qtbot, view.zoom_out_button)
    click(qtbot, view.zoom_out_button)
    assert view.zoom == 14 and changes == [16, 15, 14]
    assert view.zoom_in_button.width() >= 64 and view.zoom_in_button.height() >= 64
    # The wheel zooms around the pointer: the place under it stays put.
    anchor = QPointF(150, 120)
    x0, y0 = view.center_x + (anchor.x() - view.width() / 2) / 2**view.zoom, \
        view.center_y + (anchor.y() - view.height() / 2) / 2**view.zoom
    view.zoom_at(view.zoom + 2, anchor)
    assert view.zoom == 16
    under = (view.center_x + (anchor.x() - view.width() / 2) / 2**16,
             view.center_y + (anchor.y() - view.height() / 2) / 2**16)
    assert under == pytest.approx((x0, y0), abs=1e-9)
    view.pinch(1.3, anchor)
    assert view.zoom == 16  # not yet a doubling
    view.pinch(2.1, anchor)
    assert view.zoom == 17
    view._pinch_base = 1.0
    view.pinch(0.5, anchor)
    assert view.zoom == 16
    # A drag moves the map with the finger.
    lat0, lon0 = view.center()
    start = QPoint(300, 240)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 11):
        qtbot.mouseMove(view, QPoint(300 + step * 20, 240 + step * 10))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(500, 340))
    lat1, lon1 = view.center()
    degrees_per_px = 360 / (TILE_SIZE * 2**16)
    assert lon0 - lon1 == pytest.approx(200 * degrees_per_px, rel=0.02)
    assert lat1 > lat0  # dragged down: the view looks further north
    # "Show all" goes back to everything set.
    view.set_track([Fix(0, 31.24, 121.58), Fix(1, 31.25, 121.59)])
    click(qtbot, view.fit_button)
    assert not view.user_moved and view.zoom == 15


def test_track_points_households_boundary_and_taps(qtbot: QtBot) -> None:
    view = shown(qtbot, MapView(None))
    track = [Fix(i, 31.2440 + i * 0.0004, 121.5840 + i * 0.0002) for i in range(20)]
    view.set_track(track)
    view.set_points([MapMarker(31.2475, 121.5868, "09:12", key="visit-1", flagged=True),
                     MapMarker(31.2450, 121.5850, "10:40", key="visit-2")])
    view.set_households([MapMarker(31.2470, 121.5880, "3号楼", key="hh-1")])
    square = [[121.582, 31.242], [121.590, 31.242], [121.590, 31.254], [121.582, 31.254],
              [121.582, 31.242]]
    view.set_boundary({"type": "Feature", "properties": {},
                       "geometry": {"type": "Polygon", "coordinates": [square]}})
    image = image_of(view)
    assert not view.user_moved
    for lat, lon in [(31.2440, 121.5840), (31.2476, 121.5876)]:  # everything is in view
        at = view.screen_pos(lat, lon)
        assert 0 <= at.x() < view.width() and 0 <= at.y() < view.height()
    middle = track[10]
    a, b = view.screen_pos(track[10].lat, track[10].lon), view.screen_pos(
        track[11].lat, track[11].lon)
    on_line = QPointF((a.x() + b.x()) / 2, (a.y() + b.y()) / 2)
    assert close_to(color_at(image, on_line), TRACK_COLOR, 30), middle
    inside = view.screen_pos(31.2430, 121.5890)  # in the boundary, away from the rest
    assert not close_to(color_at(image, inside), BACKGROUND, 2)  # tinted
    outside = view.screen_pos(31.2410, 121.5925)
    assert 0 <= outside.y() < view.height()
    tapped: list[str] = []
    view.marker_activated.connect(tapped.append)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton,
                     pos=view.screen_pos(31.2475, 121.5868).toPoint() + QPoint(3, 2))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton,
                     pos=view.screen_pos(31.2470, 121.5880).toPoint())
    assert tapped == ["visit-1", "hh-1"]
    with pytest.raises(BoundaryInvalid):
        view.set_boundary('{"type": "Polygon", "coordinates": []}')
    view.set_boundary(None)
    assert view.boundary_polygons == []


def marker_boxes(view: MapView) -> list[QRectF]:
    return [QRectF(at.x() - 11, at.y() - 11, 22, 22) for at in (
        view.screen_pos(m.lat, m.lon) for m in (*view.points, *view.households))]


def test_labels_of_nearby_markers_never_collide(qtbot: QtBot) -> None:
    """A dozen visits within a few metres and their households: each label drawn sits
    beside its marker on no other label, marker, button or the scale bar; those with
    no free place are left out, the flagged visit's never before the others'."""
    view = shown(qtbot, MapView(None))
    lat, lon = CENTER
    visits = [MapMarker(lat + (i % 4) * 0.00012, lon + (i // 4) * 0.00015,
                        f"{8 + i:02d}:00 走访", key=f"v{i}") for i in range(12)]
    # the flagged one last, just south of the first: its label still goes first
    visits.append(MapMarker(lat - 0.00010, lon, "12:30 离住户800米", key="far",
                            flagged=True))
    view.set_points(visits)
    view.set_households([MapMarker(lat + 0.00003 + (i % 3) * 0.00013, lon + 0.00004 + i * 5e-5,
                                   f"{i}号楼", key=f"h{i}") for i in range(6)])
    view.center_on(lat + 0.0002, lon + 0.0002, zoom=18)
    image = image_of(view)
    placed = dict((text, box) for text, box in view.label_rects)
    assert "12:30 离住户800米" in placed  # the flagged one first
    assert len(placed) >= 5 and view.hidden_labels  # crowded: some left out
    assert len(placed) + len(view.hidden_labels) == 19
    boxes = list(placed.values())
    buttons = [QRectF(b.geometry()) for b in (view.zoom_in_button, view.zoom_out_button,
                                                view.fit_button) if b.isVisible()]
    markers = marker_boxes(view)
    for i, box in enumerate(boxes):
        assert QRectF(view.rect()).contains(box)
        assert not any(box.intersects(other) for other in boxes[i + 1:])
        assert not any(box.intersects(b) for b in buttons)
        assert not box.intersects(view.scale_bar_rect)
        # beside its own marker, over no other
        mine = next(m for m in (*view.points, *view.households)
                    if m.label == next(t for t, b in view.label_rects if b is box))
        at = view.screen_pos(mine.lat, mine.lon)
        own = QRectF(at.x() - 11, at.y() - 11, 22, 22)
        assert box.adjusted(-16, -16, 16, 16).contains(at)
        assert not any(box.intersects(m) for m in markers if m != own)
    # every visit point is still seen: no label is painted over one
    for marker in view.points:
        centre = color_at(image, view.screen_pos(marker.lat, marker.lon))
        assert close_to(centre, FLAG_COLOR if marker.flagged else POINT_COLOR, 40), marker.key
    # room again: every label comes back
    view.set_points(visits[:2])
    view.set_households([])
    view.center_on(lat, lon, zoom=18)
    image_of(view)
    assert not view.hidden_labels and len(view.label_rects) == 2


def test_a_label_keeps_off_the_track_when_it_can(qtbot: QtBot) -> None:
    view = shown(qtbot, MapView(None))
    lat, lon = CENTER
    # a track running north-south just east of the visit: the label goes west
    view.set_track([Fix(i, lat - 0.002 + i * 0.0001, lon + 0.00012) for i in range(40)])
    view.set_points([MapMarker(lat, lon, "09:12", key="v")])
    view.center_on(lat, lon, zoom=18)
    image_of(view)
    (_text, box), = view.label_rects
    at = view.screen_pos(lat, lon)
    track_x = view.screen_pos(lat, lon + 0.00012).x()
    assert box.right() < at.x() < track_x
    # a track on both sides: the label still shows, over it
    view.set_tracks([[Fix(i, lat - 0.002 + i * 0.0001, lon + d) for i in range(40)]
                     for d in (-0.00012, 0.00012, -0.00001, 0.00001)])
    view.center_on(lat, lon, zoom=18)
    image_of(view)
    assert [t for t, _b in view.label_rects] == ["09:12"]


@pytest.mark.parametrize("ratio", [1.0, 1.25, 1.5, 1.75, 2.0, 3.0])
def test_tiles_land_on_whole_device_pixels(qtbot: QtBot, archive: TileArchive,
                                           monkeypatch: pytest.MonkeyPatch,
                                           ratio: float) -> None:
    """On a screen scaled by 125 %, 150 %, 175 %...: a tile of the view's level covers
    exactly 256 × n device pixels (n the nearest whole ratio) starting on a whole
    device pixel, wherever the map is panned; past the archive's deepest level 2, 4...
    times that; zoom goes by whole levels, each doubling the scale."""
    view = shown(qtbot, MapView(archive))
    monkeypatch.setattr(view, "device_ratio", lambda: ratio)
    whole = max(1, math.floor(ratio + 0.5))
    assert view.tile_ratio() == whole
    view.center_on(*CENTER, zoom=15)
    for dx, dy in ((0, 0), (3.3, -7.7), (101.1, 55.5)):
        view.pan_by(dx, dy)
        rects = list(view.tile_rects())
        assert rects
        for (z, _x, _y), rect in rects:
            assert z == 15
            for value in (rect.left(), rect.top()):
                assert value * ratio == pytest.approx(round(value * ratio), abs=1e-6)
            assert rect.width() * ratio == pytest.approx(256 * whole)
        # the tiles tile the view: neighbours meet exactly
        lefts = sorted({round(r.left() * ratio, 6) for _k, r in rects})
        assert all(b - a == pytest.approx(256 * whole) for a, b in itertools.pairwise(lefts))
    scale = view.view_scale()
    view.zoom_in()
    assert view.view_scale() == pytest.approx(2 * scale)
    view.center_on(*CENTER, zoom=18)  # the archive goes to 16: enlarged four times
    (key, rect), *_ = list(view.tile_rects())
    assert key[0] == 16 and rect.width() * ratio == pytest.approx(4 * 256 * whole)
    # a metre is as many view pixels as the scale says
    mpp = view.metres_per_pixel()
    a, b = view.screen_pos(*CENTER), view.screen_pos(CENTER[0], CENTER[1] + 0.001)
    metres = 0.001 * math.pi / 180 * 6_378_137 * math.cos(math.radians(CENTER[0]))
    assert (b.x() - a.x()) * mpp == pytest.approx(metres, rel=1e-3)


def test_installed_map_is_shared_and_a_broken_one_falls_back(tmp_path: Path) -> None:
    data_dir = tmp_path / "device"
    assert installed_archive(data_dir) is None
    installed = install_map(data_dir, write_mbtiles(tmp_path / "a.mbtiles", TILES))
    first = installed_archive(data_dir)
    assert first is not None and first is installed_archive(data_dir)
    installed.path.write_bytes(b"broken")  # gone bad since: the plain grid, a log line
    assert installed_archive(data_dir) is None


# -- the worker's track view ----------------------------------------------------------------
def test_track_view_says_plainly_while_no_fix_has_come(qtbot: QtBot) -> None:
    now = [1_000_000.0]
    view = TrackView(None, clock=lambda: now[0])
    shown(qtbot, view, 800, 500)
    view.set_waiting(now[0] - 75)
    assert view.notice.isVisible()
    assert "还没有收到定位信号" in view.notice.text() and "1分15秒" in view.notice.text()
    now[0] += 10
    view.timer.timeout.emit()
    assert "1分25秒" in view.notice.text()
    box = view.notice.geometry()
    assert view.rect().contains(box) and box.height() >= view.notice.heightForWidth(box.width())
    assert not box.intersects(view.zoom_in_button.geometry())
    view.append_to_track(Fix(now[0], 31.248, 121.587))
    view.set_waiting(None)
    assert view.notice.isHidden() and not view.timer.isActive()
    view.set_waiting(now[0] - 130)  # positions stopped coming
    assert view.notice.isVisible() and "2分10秒" in view.notice.text()
    assert view.notice.geometry().top() < 40  # a banner at the top, the track stays visible


def patrol_page(controller: AppController) -> PatrolPage:
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("patrol")
    page = view.pages["patrol"]
    assert isinstance(page, PatrolPage)
    return page


@pytest.mark.parametrize("scale", [1.0, 1.75])
def test_patrol_track_waits_then_follows_a_beidou_log(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
    tmp_path: Path, scale: float
) -> None:
    from uihelpers import PIN

    from fieldclient.storage.session import unlock_device

    log = FIXTURES / "beidou-bd.log"
    if not log.is_file():
        pytest.skip("shared NMEA fixture beidou-bd.log not present")
    install_map(device, write_mbtiles(tmp_path / "district.mbtiles", TILES))
    controller = make_controller(scale=scale)
    controller.on_session(unlock_device(device, PIN))
    controller.gps_override = f"nmea-file:{tmp_path / 'receiver-not-yet.nmea'}"
    page = patrol_page(controller)
    page.start("3301")
    tracker = PatrolTracker.of(controller)
    assert tracker.feed_started_at is not None
    tracker.feed_started_at -= 42  # the worker has been waiting a while
    click(qtbot, page.track_button)
    dialog = page.dialog
    assert isinstance(dialog, TrackDialog)
    qtbot.waitExposed(dialog)
    notice = dialog.view.notice
    assert notice.isVisible() and "还没有收到定位信号" in notice.text()
    assert "42秒" in notice.text() or "43秒" in notice.text()
    assert dialog.view.archive is not None  # the installed map is used
    box = notice.geometry()
    assert dialog.view.rect().contains(box)
    assert box.height() >= notice.heightForWidth(box.width())  # nothing cut off
    # The receiver's positions now come in (the log's fixes, as the replay delivers them).
    session_now = time.time()
    fixes = list(read_fixes(log))
    t0 = fixes[0].t
    for fix in fixes:
        tracker._on_fix(Fix(t=session_now + fix.t - t0, lat=fix.lat, lon=fix.lon,
                            hdop=fix.hdop, quality=fix.quality, satellites=fix.satellites,
                            valid=fix.valid))
    kept = FixFilter().run(fixes)
    assert dialog.view.fix_count == len(kept) >= 2
    assert notice.isHidden()
    settle(qtbot)
    settle_tiles(dialog.view)
    image = dialog.view.grab().toImage()
    last = dialog.view.screen_pos(kept[-1].lat, kept[-1].lon)
    assert 0 <= last.x() < dialog.view.width() and 0 <= last.y() < dialog.view.height()
    level = dialog.view._tile_level()
    assert level is not None  # the map is drawn under the track
    probe = QPointF(dialog.view.width() / 2 - 60, 30)  # away from the track and the notes
    x, y = dialog.view.center_x, dialog.view.center_y
    scale = 2.0**dialog.view.zoom
    wx = x + (probe.x() - dialog.view.width() / 2) / scale
    wy = y + (probe.y() - dialog.view.height() / 2) / scale
    tile = tile_of(*world_latlon(wx, wy), level)
    if (level, *tile) in TILES:
        assert close_to(color_at(image, probe), tile_color(level, *tile))
    dialog.accept()


def test_settings_show_which_map_is_installed(unlocked: AppController, tmp_path: Path) -> None:
    view = unlocked.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("settings")
    page = view.pages["settings"]
    fact = page.fact_labels["map"][1]  # type: ignore[attr-defined]
    assert "没有安装" in fact.text() and "fieldclient map install" in fact.text()
    install_map(unlocked.data_dir, write_pmtiles(tmp_path / "d.pmtiles", TILES, name="浦东样例"))
    page.refresh()  # type: ignore[attr-defined]
    assert "浦东样例" in fact.text() and "14-16" in fact.text()
