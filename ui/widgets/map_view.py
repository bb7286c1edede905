"""An offline map: raster tiles from the district's archive, with tracks, visit positions,
households and a grid boundary drawn over them; pan, zoom and a scale bar.

Without an installed archive (or where it has no tiles) the map is a plain light grid,
still with the scale bar, so distances and shapes can be judged anyway. Positions are
WGS-84/CGCS2000 as recorded (see README, "Maps"); the tile math is Qt-free
(:mod:`fieldclient.geo.tiles`).

API (for the patrol's track view and the Review page)::

    view = MapView(archive=installed_archive(controller.data_dir))  # None: plain grid
    view.set_tracks([patrol1_fixes, patrol2_fixes])  # anything with .lat/.lon, each a line
    view.set_track(fixes); view.append_to_track(fix)  # one live track
    view.set_points([MapMarker(lat, lon, label="09:12", key=visit_id, flagged=True)])
    view.set_households([MapMarker(lat, lon, label="3号楼2单元", key=household_id)])
    view.set_boundary(geojson)  # Polygon / MultiPolygon / Feature(Collection), text or dict
    view.fit()  # show everything set (also done automatically until the user moves)
    view.center_on(lat, lon, zoom=17)
    view.marker_activated.connect(open_record)  # the key of a tapped point or household
    view.view_changed.connect(...)  # after every pan or zoom

Visit points draw in order on top of households, both on top of tracks and boundary;
a ``flagged`` marker (a check fired) is drawn in the warning colour. Labels never
collide: each goes beside its marker where it covers no other label, marker, button,
the scale bar or the note, off the track when it can; flagged visits' labels are
placed first, then the other visits', then households' (from zoom 17), and one with no
free place is left out (``label_rects``/``hidden_labels`` say what the last paint did).

Zoom is in whole levels (3-19), never a scale in between, and a tile of the view's
level lands on whole device pixels, copied pixel for pixel, or doubled on a
high-density screen (:meth:`MapView.tile_ratio`: a 150 % or 175 % screen doubles, it
does not resample by 1.5 or 1.75); beyond the archive's deepest level its tiles are
enlarged 2, 4... times. Tiles are read and decoded off the UI thread
(:func:`ui.tasks.run_task`), kept in a small cache, and a missing tile shows an
enlarged coarser one while it loads.

Touch: drag to pan, pinch to zoom, and big +/−/"show all" buttons for gloved hands;
the mouse wheel zooms around the pointer.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QIcon,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QGestureEvent, QPinchGesture, QPushButton, QSizePolicy, QWidget

from fieldclient.errors import FieldClientError
from fieldclient.geo.archive import TileArchive
from fieldclient.geo.boundary import Polygon, parse_boundary
from fieldclient.geo.geometry import HasPosition
from fieldclient.geo.tiles import (
    TILE_SIZE,
    Bounds,
    fit_zoom,
    metres_per_pixel,
    scale_bar_label,
    scale_bar_metres,
    world_latlon,
    world_xy,
)

log = logging.getLogger("gridfield.ui")

MIN_VIEW_ZOOM = 3
MAX_VIEW_ZOOM = 19
FIT_MAX_ZOOM = 17  # a single point or a short walk: still some streets around it
DEFAULT_CENTER = (34.0, 108.0)  # no content and no map: China at zoom 4
CACHE_TILES = 160  # about 40 MB of decoded 256×256 tiles
DRAG_START_PX = 10  # a finger moving less than this is a tap
MIN_STEP_PX = 2.0  # track points closer than this on screen are not drawn
PARENT_LEVELS = 4  # how many coarser levels a loading tile may borrow from
HOUSE_LABEL_ZOOM = 17  # households' labels from this zoom on (streets apart by then)
LABEL_GAP_PX = 14  # from a marker's centre to its label
LINE_CELL_PX = 12  # labels keep off the squares of this size a track passes through
BOX_CELL_PX = 64  # markers and labels filed by squares of this size (collision tests)

BACKGROUND = QColor("#f1f3ef")
GRID_LINE = QColor("#d6dbd3")
TRACK_COLOR = QColor("#003d99")
TRACK_CASING = QColor(255, 255, 255, 220)
START_COLOR = QColor("#007a33")
END_COLOR = QColor("#b00000")
POINT_COLOR = QColor("#6a1b9a")
FLAG_COLOR = QColor("#c62828")
HOUSE_COLOR = QColor("#b35c00")
BOUNDARY_LINE = QColor("#0b6e4f")
BOUNDARY_FILL = QColor(11, 110, 79, 26)
TEXT_COLOR = QColor("#000000")
BOX_COLOR = QColor(255, 255, 255, 230)

TileKey = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class MapMarker:
    """A visit position or a household on the map. ``key`` comes back through
    :attr:`MapView.marker_activated` when the marker is tapped."""

    lat: float
    lon: float
    label: str = ""
    key: str = ""
    flagged: bool = False


_archives: dict[Path, tuple[float, TileArchive | None]] = {}


def installed_archive(data_dir: Path) -> TileArchive | None:
    """The map IT installed on this device, opened once and shared by every map view
    (reads are thread-safe); None when none is installed or it cannot be read."""
    from fieldclient.geo.maps import installed_map

    found = installed_map(data_dir)
    if found is None:
        return None
    try:
        stamp = found.path.stat().st_mtime
    except OSError:
        return None
    cached = _archives.get(found.path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    from fieldclient.geo.archive import open_archive

    try:
        archive: TileArchive | None = open_archive(found.path)
    except FieldClientError as exc:
        log.warning("installed map unusable: %s", exc)
        archive = None
    _archives[found.path] = (stamp, archive)
    return archive


def _decode(archive: TileArchive, keys: list[TileKey]) -> list[tuple[TileKey, QImage | None]]:
    """Read and decode tiles (a worker thread: QImage, never QPixmap)."""
    out: list[tuple[TileKey, QImage | None]] = []
    for key in keys:
        data = archive.tile(*key)
        image: QImage | None = None
        if data:
            image = QImage.fromData(data)
            if image.isNull():
                log.warning("map tile %s/%s/%s cannot be decoded", *key)
                image = None
            else:
                image = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        out.append((key, image))
    return out


def _fit_icon() -> QIcon:
    """"Show all": four corners around a dot (drawn: no font has to carry a symbol)."""
    pixmap = QPixmap(72, 72)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("#000000"), 7, Qt.PenStyle.SolidLine, Qt.PenCapStyle.SquareCap))
    for x, y, dx, dy in ((8, 8, 1, 1), (64, 8, -1, 1), (8, 64, 1, -1), (64, 64, -1, -1)):
        painter.drawLine(QPointF(x, y), QPointF(x + 18 * dx, y))
        painter.drawLine(QPointF(x, y), QPointF(x, y + 18 * dy))
    painter.setBrush(QColor("#000000"))
    painter.drawEllipse(QPointF(36, 36), 7, 7)
    painter.end()
    return QIcon(pixmap)


class _Layer:
    """Positions kept as world pixels (zoom 0); drawable per zoom from a cache."""

    def __init__(self) -> None:
        self.lines: list[list[tuple[float, float]]] = []
        self._polylines: dict[float, list[QPolygonF]] = {}
        self._cells: dict[float, frozenset[tuple[int, int]]] = {}

    def set_lines(self, lines: Iterable[Iterable[HasPosition]]) -> None:
        self.lines = [[world_xy(p.lat, p.lon) for p in line] for line in lines]
        self.changed()

    def append(self, point: HasPosition) -> None:
        if not self.lines:
            self.lines.append([])
        self.lines[-1].append(world_xy(point.lat, point.lon))
        self.changed()

    def changed(self) -> None:
        self._polylines.clear()
        self._cells.clear()

    def cells(self, scale: float) -> frozenset[tuple[int, int]]:
        """The :data:`LINE_CELL_PX` squares (view pixels at ``scale``, from the world's
        corner) the lines pass through: labels keep off them when they can."""
        found = self._cells.get(scale)
        if found is None:
            cells: set[tuple[int, int]] = set()
            add, size, step = cells.add, LINE_CELL_PX, LINE_CELL_PX / 2
            for polyline in self.polylines(scale):
                ax = ay = None
                for point in polyline.toList():
                    bx, by = point.x(), point.y()
                    if ax is None or ay is None:
                        add((int(bx // size), int(by // size)))
                    else:  # the segment's squares, a sample every half square
                        dx, dy = bx - ax, by - ay
                        n = int(max(abs(dx), abs(dy)) // step) + 1
                        for k in range(1, n + 1):
                            add((int((ax + dx * k / n) // size), int((ay + dy * k / n) // size)))
                    ax, ay = bx, by
            if len(self._cells) > 4:
                self._cells.clear()
            found = self._cells[scale] = frozenset(cells)
        return found

    def polylines(self, scale: float) -> list[QPolygonF]:
        """The lines in view pixels at ``scale`` (view pixels per world pixel)."""
        found = self._polylines.get(scale)
        if found is None:
            found = []
            for line in self.lines:
                polygon = QPolygonF()
                polygon.reserve(len(line))
                last: tuple[float, float] | None = None
                for x, y in line:
                    sx, sy = x * scale, y * scale
                    # under a 5-pixel line, points 2 pixels apart add nothing but cost
                    if last is None or abs(sx - last[0]) + abs(sy - last[1]) >= MIN_STEP_PX:
                        polygon.append(QPointF(sx, sy))
                        last = (sx, sy)
                if line and polygon.size() == 1:
                    polygon.append(polygon.at(0))
                found.append(polygon)
            if len(self._polylines) > 4:
                self._polylines.clear()
            self._polylines[scale] = found
        return found


Box = tuple[float, float, float, float]  # left, top, right, bottom (view pixels)


def _box(rect: QRectF) -> Box:
    return rect.left(), rect.top(), rect.right(), rect.bottom()


class _Boxes:
    """Boxes filed by the :data:`BOX_CELL_PX` squares they touch, so a label is tested
    against the few near it, not against every marker (plain tuples: a paint tests
    hundreds of places)."""

    def __init__(self, boxes: Iterable[Box] = ()) -> None:
        self._cells: dict[tuple[int, int], list[Box]] = {}
        for box in boxes:
            self.add(box)

    def add(self, box: Box) -> None:
        cells = self._cells
        for cx in range(int(box[0] // BOX_CELL_PX), int(box[2] // BOX_CELL_PX) + 1):
            for cy in range(int(box[1] // BOX_CELL_PX), int(box[3] // BOX_CELL_PX) + 1):
                cells.setdefault((cx, cy), []).append(box)

    def hits(self, box: Box, ignore: Box | None = None) -> bool:
        """Whether ``box`` overlaps any box here but ``ignore`` (that very object)."""
        left, top, right, bottom = box
        cells = self._cells
        for cx in range(int(left // BOX_CELL_PX), int(right // BOX_CELL_PX) + 1):
            for cy in range(int(top // BOX_CELL_PX), int(bottom // BOX_CELL_PX) + 1):
                for other in cells.get((cx, cy), ()):
                    if (other is not ignore and left < other[2] and other[0] < right
                            and top < other[3] and other[1] < bottom):
                        return True
        return False


class MapView(QWidget):
    """See the module docstring."""

    marker_activated = Signal(str)
    view_changed = Signal()

    def __init__(self, archive: TileArchive | None = None, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.setObjectName("mapView")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 200)
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.grabGesture(Qt.GestureType.PinchGesture)
        self.archive: TileArchive | None = None
        self.tracks = _Layer()
        self.boundary = _Layer()
        self.boundary_polygons: list[Polygon] = []
        self.points: list[MapMarker] = []
        self.households: list[MapMarker] = []
        self.zoom = 4
        self.center_x, self.center_y = world_xy(*DEFAULT_CENTER)
        self.user_moved = False  # until then the view follows the content (fit)
        self.no_map_text = ""
        self.scale_bar_rect = QRectF()
        self.label_rects: list[tuple[str, QRectF]] = []  # labels drawn last paint (text, box)
        self.hidden_labels: list[str] = []  # labels left out there: no free place
        self._overlay_version = 0
        self._overlay_cache: tuple[tuple[Any, ...], QImage, float, float] | None = None
        self.tiles: OrderedDict[TileKey, QImage | None] = OrderedDict()
        self._wanted: list[TileKey] = []
        self._loading = False
        self._generation = 0
        self._press: QPointF | None = None
        self._last_drag: QPointF | None = None
        self._dragging = False
        self._wheel = 0
        self._pinch_base = 1.0
        self.zoom_in_button = self._control("mapZoomIn", "+", self.zoom_in)
        self.zoom_out_button = self._control("mapZoomOut", "−", self.zoom_out)
        self.fit_button = self._control("mapFit", "", self.fit)
        self.fit_button.setIcon(_fit_icon())
        self.fit_button.setIconSize(QSize(36, 36))
        self.set_archive(archive)
        self.retranslate()

    # -- public API ---------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(640, 420)

    def set_archive(self, archive: TileArchive | None) -> None:
        """Use ``archive`` for tiles (None: the plain grid). The caller owns it."""
        if archive is self.archive and hasattr(self, "tiles") and self.tiles:
            return
        self.archive = archive
        self.tiles.clear()
        self._wanted.clear()
        self._generation += 1
        self._loading = False
        if not self.user_moved and self._content_bounds() is None and archive is not None:
            self.fit()
        self.update()

    def set_track(self, points: Sequence[HasPosition]) -> None:
        self.set_tracks([points] if points else [])

    def set_tracks(self, tracks: Sequence[Sequence[HasPosition]]) -> None:
        self.tracks.set_lines(track for track in tracks if track)
        self._content_changed()

    def append_to_track(self, point: HasPosition) -> None:
        """Add a live fix to the last track (the view keeps following it until the user
        moves the map)."""
        self.tracks.append(point)
        self._content_changed()

    def set_points(self, points: Sequence[MapMarker]) -> None:
        self.points = list(points)
        self._content_changed()

    def set_households(self, households: Sequence[MapMarker]) -> None:
        self.households = list(households)
        self._content_changed()

    def set_boundary(self, geojson: str | bytes | Mapping[str, Any] | None) -> None:
        """The grid's boundary (GeoJSON Polygon/MultiPolygon, bare or in a Feature or
        FeatureCollection); None clears it. Raises BoundaryInvalid for bad input."""
        self.boundary_polygons = parse_boundary(geojson) if geojson is not None else []
        self.boundary.lines = [[world_xy(lat, lon) for lat, lon in ring]
                               for polygon in self.boundary_polygons for ring in polygon]
        self.boundary.changed()
        self._content_changed()

    def fit(self) -> None:
        """Show everything set, as large as fits (the district's map if nothing is set)."""
        self.user_moved = False
        bounds = self._content_bounds()
        if bounds is None and self.archive is not None:
            bounds = self.archive.info.bounds
        if bounds is None:
            self._set_view(*world_xy(*DEFAULT_CENTER), 4)
            return
        # fit_zoom counts in tile pixels of each level: a view pixel is k of them
        k = self.device_ratio() / self.tile_ratio()
        zoom = fit_zoom(bounds, self.width() * k, self.height() * k, MIN_VIEW_ZOOM,
                        FIT_MAX_ZOOM, margin_px=48 * k)
        self._set_view(*world_xy(*bounds.center), zoom)

    def center_on(self, lat: float, lon: float, zoom: int | None = None) -> None:
        self.user_moved = True
        self._set_view(*world_xy(lat, lon), self.zoom if zoom is None else zoom)

    def center(self) -> tuple[float, float]:
        """The (lat, lon) at the middle of the view."""
        return world_latlon(self.center_x, self.center_y)

    def zoom_in(self) -> None:
        self.zoom_at(self.zoom + 1)

    def zoom_out(self) -> None:
        self.zoom_at(self.zoom - 1)

    def zoom_at(self, zoom: int, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` keeping the place under ``anchor`` (view pixels) where it is."""
        zoom = max(MIN_VIEW_ZOOM, min(MAX_VIEW_ZOOM, zoom))
        if zoom == self.zoom:
            return
        self.user_moved = True
        if anchor is None:
            self._set_view(self.center_x, self.center_y, zoom)
            return
        dx, dy = anchor.x() - self.width() / 2, anchor.y() - self.height() / 2
        old, new = self.view_scale(), self.view_scale(zoom)
        ax, ay = self.center_x + dx / old, self.center_y + dy / old
        self._set_view(ax - dx / new, ay - dy / new, zoom)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the map with the finger: content goes ``dx``, ``dy`` view pixels."""
        self.user_moved = True
        scale = self.view_scale()
        self._set_view(self.center_x - dx / scale, self.center_y - dy / scale, self.zoom)

    def metres_per_pixel(self) -> float:
        """Ground metres of one view pixel."""
        return metres_per_pixel(self.center()[0], self.zoom) * 2.0**self.zoom \
            / self.view_scale()

    def screen_pos(self, lat: float, lon: float) -> QPointF:
        """Where a position is drawn, in view pixels."""
        x, y = world_xy(lat, lon)
        scale = self.view_scale()
        left, top = self._origin()
        return QPointF(x * scale - left, y * scale - top)

    # -- pixels: whole zoom levels, whole device pixels ---------------------------------
    def device_ratio(self) -> float:
        """Device pixels per view pixel (a Windows tablet at 150 %: 1.5)."""
        return max(1.0, float(self.devicePixelRatioF()))

    def tile_ratio(self) -> int:
        """Device pixels per pixel of a tile of the view's own level: the whole number
        nearest :meth:`device_ratio`. So a tile always covers 256, 512... device pixels,
        copied pixel for pixel or doubled: never resampled by 1.5 or 1.75, which blurs
        or thickens every other line of a raster map."""
        return max(1, math.floor(self.device_ratio() + 0.5))

    def view_scale(self, zoom: int | None = None) -> float:
        """View pixels per world pixel (zoom 0) at ``zoom`` (default: the current one).
        Zoom only ever goes by whole levels: each level doubles this, no scale between."""
        level = self.zoom if zoom is None else zoom
        return 2.0**level * self.tile_ratio() / self.device_ratio()

    def _origin(self) -> tuple[float, float]:
        """The view's top-left corner at the current scale (world pixels × scale), moved
        to the nearest whole device pixel: tiles then start on a device pixel too."""
        ratio, scale = self.device_ratio(), self.view_scale()
        left = math.floor((self.center_x * scale - self.width() / 2) * ratio + 0.5) / ratio
        top = math.floor((self.center_y * scale - self.height() / 2) * ratio + 0.5) / ratio
        return left, top

    def tile_rects(self) -> Iterator[tuple[TileKey, QRectF]]:
        """The visible tiles of the level drawn and where (view pixels; each starts and
        ends on whole device pixels). Nothing without an archive for this zoom."""
        level = self._tile_level()
        if level is None:
            return
        scale = self.view_scale()
        left, top = self._origin()
        span = TILE_SIZE / 2.0**level  # world pixels per tile
        size = span * scale
        n = 1 << level
        first_x, first_y = max(0, math.floor(left / size)), max(0, math.floor(top / size))
        last_x = min(n - 1, math.floor((left + self.width()) / size))
        last_y = min(n - 1, math.floor((top + self.height()) / size))
        for ty in range(first_y, last_y + 1):
            for tx in range(first_x, last_x + 1):
                yield (level, tx, ty), QRectF(tx * size - left, ty * size - top, size, size)

    def retranslate(self) -> None:
        self.no_map_text = self.tr("未安装离线地图")
        self.zoom_in_button.setToolTip(self.tr("放大"))
        self.zoom_out_button.setToolTip(self.tr("缩小"))
        self.fit_button.setToolTip(self.tr("显示全部"))
        self.zoom_in_button.setAccessibleName(self.tr("放大"))
        self.zoom_out_button.setAccessibleName(self.tr("缩小"))
        self.fit_button.setAccessibleName(self.tr("显示全部"))
        self.update()

    # -- state ------------------------------------------------------------------------
    def _control(self, name: str, text: str, slot: Any) -> QPushButton:
        btn = QPushButton(text, self)
        btn.setObjectName(name)
        btn.setProperty("role", "mapButton")
        btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        btn.clicked.connect(slot)
        return btn

    def _content_bounds(self) -> Bounds | None:
        """The box around everything set (computed on world pixels: cheap for long tracks)."""
        xs: list[float] = []
        ys: list[float] = []
        for layer in (self.tracks, self.boundary):
            for line in layer.lines:
                if line:
                    xs.extend((min(x for x, _ in line), max(x for x, _ in line)))
                    ys.extend((min(y for _, y in line), max(y for _, y in line)))
        for marker in (*self.points, *self.households):
            x, y = world_xy(marker.lat, marker.lon)
            xs.append(x)
            ys.append(y)
        if not xs:
            return None
        north, west = world_latlon(min(xs), min(ys))
        south, east = world_latlon(max(xs), max(ys))
        return Bounds(south, west, north, east)

    def _content_changed(self) -> None:
        self._overlay_version += 1
        self._overlay_cache = None
        if not self.user_moved:
            self.fit()
        self.update()

    def _set_view(self, cx: float, cy: float, zoom: int) -> None:
        self.center_x = min(float(TILE_SIZE), max(0.0, cx))
        self.center_y = min(float(TILE_SIZE), max(0.0, cy))
        self.zoom = zoom
        self.zoom_in_button.setEnabled(zoom < MAX_VIEW_ZOOM)
        self.zoom_out_button.setEnabled(zoom > MIN_VIEW_ZOOM)
        self.update()
        self.view_changed.emit()

    # -- tiles ----------------------------------------------------------------------
    def _tile_level(self) -> int | None:
        archive = self.archive
        if archive is None or self.zoom < archive.info.min_zoom:
            return None
        return min(self.zoom, archive.info.max_zoom)

    def _cached(self, key: TileKey) -> QImage | None:
        image = self.tiles.get(key)
        if image is not None:
            self.tiles.move_to_end(key)
        return image

    def _request(self, keys: list[TileKey]) -> None:
        self._wanted = keys
        if keys and not self._loading and self.archive is not None:
            from ui.tasks import run_task

            self._loading = True
            archive, generation, batch = self.archive, self._generation, keys[:16]
            run_task(lambda: _decode(archive, batch),
                     lambda result: self._loaded(generation, result),
                     lambda exc: self._load_failed(generation, exc))

    def _loaded(self, generation: int, result: list[tuple[TileKey, QImage | None]]) -> None:
        if generation != self._generation:
            return
        self._loading = False
        for key, image in result:
            self.tiles[key] = image
            self.tiles.move_to_end(key)
        while len(self.tiles) > CACHE_TILES:
            self.tiles.popitem(last=False)
        self.update()  # the next paint asks for what is still missing

    def _load_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._loading = False
        log.warning("map tiles could not be read: %s", exc)
        self.archive = None  # the plain grid from now on, rather than trying forever
        self.update()

    # -- painting ---------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        left, top = self._origin()
        drawn = self._paint_tiles(painter)
        if not drawn:
            self._paint_grid(painter, left, top)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        overlay = self._overlay(left, top)
        if overlay is not None:  # on whole device pixels at its own ratio: copied as is
            image, ox, oy = overlay
            painter.drawImage(QPointF(ox - left, oy - top), image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scale_bar = self._scale_bar_layout()
        note = self._note_layout(drawn)
        self._paint_markers(painter, [r for r in (scale_bar and scale_bar[0],
                                                  note and note[0]) if r is not None])
        self._paint_scale_bar(painter, scale_bar)
        self._paint_notes(painter, note)
        painter.setPen(QPen(QColor("#000000"), 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        painter.end()

    def _overlay(self, left: float, top: float) -> tuple[QImage, float, float] | None:
        """Boundary and tracks, drawn once into an image reaching half a view beyond each
        edge and moved with the map: a pan only draws it again past that margin."""
        if not self.boundary_polygons and not self.tracks.lines:
            return None
        w, h = self.width(), self.height()
        ratio, scale = self.device_ratio(), self.view_scale()
        state = (scale, ratio, self._overlay_version, w, h)
        cached = self._overlay_cache
        if cached is not None:
            key, image, ox, oy = cached
            if (key == state and ox <= left and left + w <= ox + 2 * w
                    and oy <= top and top + h <= oy + 2 * h):
                return image, ox, oy
        image = QImage(round(2 * w * ratio), round(2 * h * ratio),
                       QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(ratio)
        image.fill(Qt.GlobalColor.transparent)
        # half a view each side, in whole device pixels (so is ``left``): the image
        # lands on the device pixel grid wherever the map is moved to
        ox = left - math.floor(w * ratio / 2) / ratio
        oy = top - math.floor(h * ratio / 2) / ratio
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(-ox, -oy)
        self._paint_boundary(painter, scale)
        self._paint_tracks(painter, scale)
        painter.end()
        self._overlay_cache = (state, image, ox, oy)
        return image, ox, oy

    def _paint_grid(self, painter: QPainter, left: float, top: float) -> None:
        """The plain background: light lines along the tile edges (they move with a pan)."""
        step = TILE_SIZE / 2
        painter.setPen(QPen(GRID_LINE, 1))
        x = -(left % step)
        while x < self.width():
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
            x += step
        y = -(top % step)
        while y < self.height():
            painter.drawLine(QPointF(0, y), QPointF(self.width(), y))
            y += step

    def _paint_tiles(self, painter: QPainter) -> bool:
        """Draw the archive's tiles; False when there is no archive for this zoom. A tile
        of the view's level is copied pixel for pixel (or doubled on a high-density
        screen); past the archive's deepest level its tiles are enlarged 2, 4... times,
        smoothly."""
        level = self._tile_level()
        if level is None:
            return False
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom > level)
        missing: list[TileKey] = []
        for key, target in self.tile_rects():
            image = self._cached(key)
            if image is not None:
                painter.drawImage(target, image)
                continue
            if key not in self.tiles:
                missing.append(key)
            self._paint_parent(painter, key, target)
        self._request(missing)
        return True

    def _paint_parent(self, painter: QPainter, key: TileKey, target: QRectF) -> None:
        """A coarser cached tile, enlarged, where ``key`` is not there (yet)."""
        z, x, y = key
        archive = self.archive
        low = archive.info.min_zoom if archive is not None else 0
        for up in range(1, PARENT_LEVELS + 1):
            if z - up < low:
                break
            parent = self._cached((z - up, x >> up, y >> up))
            if parent is not None:
                part = TILE_SIZE / (1 << up)
                source = QRectF((x - ((x >> up) << up)) * part, (y - ((y >> up) << up)) * part,
                                part, part)
                smooth = painter.testRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                painter.drawImage(target, parent, source)  # a stand-in: enlarged
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
                return
        painter.fillRect(target, BACKGROUND)

    def _paint_boundary(self, painter: QPainter, scale: float) -> None:
        if not self.boundary_polygons:
            return
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.OddEvenFill)
        for ring in self.boundary.polylines(scale):
            path.addPolygon(ring)
            path.closeSubpath()
        painter.setBrush(BOUNDARY_FILL)
        painter.setPen(QPen(BOUNDARY_LINE, 3, Qt.PenStyle.DashLine))
        painter.drawPath(path)

    def _paint_tracks(self, painter: QPainter, scale: float) -> None:
        polylines = [p for p in self.tracks.polylines(scale) if p.size()]
        if not polylines:
            return
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for color, width in ((TRACK_CASING, 9), (TRACK_COLOR, 5)):
            painter.setPen(QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                                Qt.PenJoinStyle.RoundJoin))
            for polyline in polylines:
                painter.drawPolyline(polyline)
        for polyline in polylines:
            ends = ((polyline.at(0), START_COLOR), (polyline.at(polyline.size() - 1), END_COLOR))
            for point, color in ends:
                painter.setPen(QPen(QColor("#ffffff"), 3))
                painter.setBrush(color)
                painter.drawEllipse(point, 10, 10)

    def _label_font(self) -> QFont:
        font = QFont(self.font())
        base = self.font().pixelSize()
        if base <= 0:
            base = round(self.font().pointSizeF() * 4 / 3)
        font.setPixelSize(max(14, round(base * 0.8)))
        return font

    def _paint_label(self, painter: QPainter, rect: QRectF, text: str) -> None:
        painter.setPen(QPen(QColor("#555555"), 1))
        painter.setBrush(BOX_COLOR)
        painter.drawRoundedRect(rect, 4, 4)
        painter.setPen(TEXT_COLOR)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _place_labels(self, labels: Sequence[tuple[QPointF, str, Box]],
                      markers: Sequence[Box], taken: Sequence[QRectF],
                      metrics: QFontMetricsF) -> tuple[list[tuple[str, QRectF]], list[str]]:
        """Where each label goes, in order of priority (``labels``: anchor, text and
        its own marker's box, one of ``markers``): beside its marker on the right, else
        left, above, below or at a corner, wherever it covers no other label, no
        marker, none of ``taken`` (the buttons, the scale bar, the note) and stays
        inside the view, off the track if it can; a label with no such place is left
        out (the marker stays, and tapping it opens the record). Returns (placed
        (text, box), left-out texts)."""
        x_min, y_min = 2.0, 2.0
        x_max, y_max = self.width() - 2.0, self.height() - 2.0
        placed: list[tuple[str, QRectF]] = []
        hidden: list[str] = []
        gap = LABEL_GAP_PX
        others, labelled, kept = _Boxes(markers), _Boxes(), _Boxes(map(_box, taken))
        track = self.tracks.cells(self.view_scale()) if labels and self.tracks.lines \
            else frozenset()
        left0, top0 = self._origin()

        def on_track(box: Box) -> bool:
            if not track:
                return False
            for cx in range(int((box[0] + left0) // LINE_CELL_PX),
                            int((box[2] + left0) // LINE_CELL_PX) + 1):
                for cy in range(int((box[1] + top0) // LINE_CELL_PX),
                                int((box[3] + top0) // LINE_CELL_PX) + 1):
                    if (cx, cy) in track:
                        return True
            return False

        for anchor, text, own in labels:
            x, y = anchor.x(), anchor.y()
            if not (x_min <= x <= x_max and y_min <= y <= y_max):
                hidden.append(text)  # its marker is not in view either
                continue
            size = metrics.boundingRect(text).adjusted(-6, -3, 6, 3).size()
            w, h = size.width(), size.height()
            chosen: Box | None = None
            first_free: Box | None = None
            for left, top in (
                    (x + gap, y - h / 2), (x - gap - w, y - h / 2), (x - w / 2, y - gap - h),
                    (x - w / 2, y + gap), (x + gap, y - gap / 2 - h), (x + gap, y + gap / 2),
                    (x - gap - w, y - gap / 2 - h), (x - gap - w, y + gap / 2)):
                box = (left, top, left + w, top + h)
                if (left < x_min or top < y_min or box[2] > x_max or box[3] > y_max
                        or kept.hits(box) or others.hits(box, own) or labelled.hits(box)):
                    continue
                if not on_track(box):  # off the track if any place is
                    chosen = box
                    break
                if first_free is None:
                    first_free = box
            chosen = chosen or first_free  # else the first free one, over the track
            if chosen is None:
                hidden.append(text)
                continue
            placed.append((text, QRectF(chosen[0], chosen[1], w, h)))
            labelled.add(chosen)
        return placed, hidden

    def _visible(self, point: QPointF, margin: float = 40) -> bool:
        return (-margin <= point.x() <= self.width() + margin
                and -margin <= point.y() <= self.height() + margin)

    def _paint_markers(self, painter: QPainter, taken: Sequence[QRectF] = ()) -> None:
        """Households, then visit points over them, then the labels that find a free
        place (:meth:`_place_labels`): flagged visits' first, then the other visits',
        then households' (from zoom 17)."""
        font = self._label_font()
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        show_house_labels = self.zoom >= HOUSE_LABEL_ZOOM
        flagged: list[tuple[QPointF, str, Box]] = []
        others: list[tuple[QPointF, str, Box]] = []
        houses: list[tuple[QPointF, str, Box]] = []
        for house in self.households:
            at = self.screen_pos(house.lat, house.lon)
            if not self._visible(at):
                continue
            color = FLAG_COLOR if house.flagged else HOUSE_COLOR
            roof = QPolygonF([QPointF(at.x() - 11, at.y() - 2), QPointF(at.x(), at.y() - 13),
                              QPointF(at.x() + 11, at.y() - 2)])
            painter.setPen(QPen(QColor("#ffffff"), 2))
            painter.setBrush(color)
            painter.drawRect(QRectF(at.x() - 8, at.y() - 3, 16, 13))
            painter.drawPolygon(roof)
            box = (at.x() - 12, at.y() - 15, at.x() + 12, at.y() + 12)
            (flagged if house.flagged else houses).append(
                (at, house.label if show_house_labels else "", box))
        for point in self.points:
            at = self.screen_pos(point.lat, point.lon)
            if not self._visible(at, 200):
                continue
            painter.setPen(QPen(QColor("#ffffff"), 3))
            painter.setBrush(FLAG_COLOR if point.flagged else POINT_COLOR)
            painter.drawEllipse(at, 9, 9)
            (flagged if point.flagged else others).append(
                (at, point.label, (at.x() - 11, at.y() - 11, at.x() + 11, at.y() + 11)))
        buttons = [QRectF(b.geometry()).adjusted(-6, -6, 6, 6)
                   for b in (self.zoom_in_button, self.zoom_out_button, self.fit_button)
                   if b.isVisible()]
        markers = flagged + others + houses
        placed, hidden = self._place_labels(
            [m for m in markers if m[1]], [m[2] for m in markers], [*taken, *buttons],
            metrics)
        for text, rect in placed:
            self._paint_label(painter, rect, text)
        self.label_rects = placed
        self.hidden_labels = hidden

    def _scale_bar_layout(self) -> tuple[QRectF, float, str] | None:
        """The scale bar's box, the bar's length (view pixels) and its text."""
        metres = scale_bar_metres(self.metres_per_pixel(), min(260.0, self.width() / 3))
        if metres <= 0:
            return None
        length = metres / self.metres_per_pixel()
        metrics = QFontMetricsF(QFont(self.font()))
        text = scale_bar_label(metres)
        box = QRectF(10, self.height() - 22 - metrics.height() - 14,
                     max(length, metrics.horizontalAdvance(text)) + 24, metrics.height() + 30)
        return box, length, text

    def _paint_scale_bar(self, painter: QPainter,
                         layout: tuple[QRectF, float, str] | None) -> None:
        if layout is None:
            return
        box, length, text = layout
        font = QFont(self.font())
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BOX_COLOR)
        painter.drawRoundedRect(box, 6, 6)
        x0, y = box.left() + 12, box.bottom() - 10
        painter.setPen(QPen(TEXT_COLOR, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
        painter.drawLine(QPointF(x0, y), QPointF(x0 + length, y))
        painter.drawLine(QPointF(x0, y - 8), QPointF(x0, y))
        painter.drawLine(QPointF(x0 + length, y - 8), QPointF(x0 + length, y))
        painter.drawText(QRectF(x0, box.top() + 4, box.width() - 24, metrics.height()),
                         Qt.AlignmentFlag.AlignLeft, text)
        self.scale_bar_rect = box

    def _note_layout(self, tiles_drawn: bool) -> tuple[QRectF, str] | None:
        """The note at the top left (no map installed; the map's attribution or name)."""
        if self.archive is None:
            note = self.no_map_text
        elif tiles_drawn:
            note = self.archive.info.attribution
        else:
            note = self.archive.info.name
        if not note:
            return None
        metrics = QFontMetricsF(self._label_font())
        width = min(metrics.horizontalAdvance(note) + 16, self.width() - 20)
        return QRectF(10, 10, width, metrics.height() + 8), note

    def _paint_notes(self, painter: QPainter, layout: tuple[QRectF, str] | None) -> None:
        if layout is None:
            return
        box, note = layout
        width = box.width()
        font = self._label_font()
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BOX_COLOR)
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor("#333333"))
        painter.drawText(box.adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(note, Qt.TextElideMode.ElideRight, width - 16))

    # -- layout and input ----------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        side = max(64, self.zoom_in_button.sizeHint().height())
        x = self.width() - side - 12
        for index, btn in enumerate((self.zoom_in_button, self.zoom_out_button,
                                     self.fit_button)):
            btn.setGeometry(x, 12 + index * (side + 10), side, side)
            btn.setVisible(self.height() >= 12 + (index + 1) * (side + 10))
        if not self.user_moved:
            self.fit()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = self._last_drag = event.position()
            self._dragging = False
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None or self._last_drag is None:
            return
        pos = event.position()
        if not self._dragging:
            moved = pos - self._press
            if math.hypot(moved.x(), moved.y()) < DRAG_START_PX:
                return
            self._dragging = True
        delta = pos - self._last_drag
        self._last_drag = pos
        self.pan_by(delta.x(), delta.y())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press is not None and not self._dragging:
            key = self.marker_at(event.position())
            if key:
                self.marker_activated.emit(key)
        self._press = self._last_drag = None
        self._dragging = False

    def marker_at(self, pos: QPointF, radius: float = 28) -> str | None:
        """The key of the visit point (else household) nearest ``pos`` within ``radius``."""
        best: tuple[float, str] | None = None
        for marker in (*self.households, *self.points):  # points win a tie: listed last
            if not marker.key:
                continue
            at = self.screen_pos(marker.lat, marker.lon)
            distance = math.hypot(at.x() - pos.x(), at.y() - pos.y())
            if distance <= radius and (best is None or distance <= best[0]):
                best = (distance, marker.key)
        return best[1] if best else None

    def wheelEvent(self, event: QWheelEvent) -> None:
        self._wheel += event.angleDelta().y()
        steps = int(self._wheel / 120)
        if steps:
            self._wheel -= steps * 120
            self.zoom_at(self.zoom + steps, event.position())
        event.accept()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Gesture and isinstance(event, QGestureEvent):
            pinch = event.gesture(Qt.GestureType.PinchGesture)
            if isinstance(pinch, QPinchGesture):
                if pinch.state() == Qt.GestureState.GestureStarted:
                    self._pinch_base = 1.0
                self.pinch(pinch.totalScaleFactor(), self.mapFromGlobal(pinch.centerPoint()))
                event.accept(pinch)
                return True
        return super().event(event)

    def pinch(self, total_scale: float, around: QPointF) -> None:
        """A pinch has reached ``total_scale`` since it started: one zoom level per
        doubling (or halving), kept under the fingers."""
        if total_scale <= 0:
            return
        ratio = total_scale / self._pinch_base
        if ratio >= 1.8 or ratio <= 0.55:
            steps = round(math.log2(ratio)) or (1 if ratio > 1 else -1)
            self._pinch_base = total_scale
            self.zoom_at(self.zoom + steps, around)
