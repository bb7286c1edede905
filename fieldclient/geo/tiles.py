"""Web Mercator tile math (the XYZ scheme of OSM, 天地图's ``_w`` layers, MBTiles, PMTiles).

Positions are WGS-84/CGCS2000 degrees as the receiver gives them. A *world pixel*
is a position on the Mercator square at zoom 0, 256 units wide (``x`` east from
180°W, ``y`` south from 85.05°N); at zoom ``z`` multiply by ``2**z`` to get the
pixel of a 256-pixel tile pyramid, and divide that by 256 for the tile index.
Everything here is plain floating point, no Qt.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

TILE_SIZE = 256
MAX_LAT = 85.05112877980659  # atan(sinh(pi)): the Mercator square's edge
EARTH_EQUATOR_M = 2 * math.pi * 6_378_137.0  # WGS-84 semi-major axis, as Web Mercator uses
MIN_ZOOM = 0
MAX_ZOOM = 20
NICE_STEPS = (1, 2, 5)


def world_xy(lat: float, lon: float) -> tuple[float, float]:
    """World pixel (zoom 0, 0-256) of a WGS-84 position; latitudes clamp to ±MAX_LAT."""
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    x = (lon + 180.0) / 360.0 * TILE_SIZE
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * TILE_SIZE
    return x, y


def world_latlon(x: float, y: float) -> tuple[float, float]:
    """The WGS-84 position of a world pixel (the inverse of :func:`world_xy`)."""
    lon = x / TILE_SIZE * 360.0 - 180.0
    n = math.pi * (1 - 2 * y / TILE_SIZE)
    lat = math.degrees(math.atan(math.sinh(n)))
    return lat, lon


def tile_of(lat: float, lon: float, zoom: int) -> tuple[int, int]:
    """The (x, y) index of the zoom-``zoom`` tile holding a position."""
    x, y = world_xy(lat, lon)
    n = 1 << zoom
    scale = n / TILE_SIZE
    return min(n - 1, max(0, int(x * scale))), min(n - 1, max(0, int(y * scale)))


def tile_bounds(zoom: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(south, west, north, east) degrees of tile ``zoom/x/y``."""
    size = TILE_SIZE / (1 << zoom)
    north, west = world_latlon(x * size, y * size)
    south, east = world_latlon((x + 1) * size, (y + 1) * size)
    return south, west, north, east


def metres_per_pixel(lat: float, zoom: float) -> float:
    """Ground metres of one screen pixel at ``zoom`` and latitude ``lat`` (256-pixel tiles)."""
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    return EARTH_EQUATOR_M * math.cos(math.radians(lat)) / (TILE_SIZE * math.pow(2.0, zoom))


def scale_bar_metres(metres_per_px: float, max_px: float) -> float:
    """The longest round length (1, 2 or 5 × 10^n metres) that fits in ``max_px`` pixels;
    0 when not even a metre fits."""
    if metres_per_px <= 0 or not math.isfinite(metres_per_px) or max_px <= 0:
        return 0.0
    limit = metres_per_px * max_px
    if limit < 1.0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(limit))
    for step in reversed(NICE_STEPS):
        if step * power <= limit * (1 + 1e-9):
            return step * power
    return power


def scale_bar_label(metres: float) -> str:
    """``500 m``, ``2 km``: units are international symbols, the same in every language."""
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


@dataclass(frozen=True, slots=True)
class Bounds:
    """A latitude/longitude box (degrees, WGS-84)."""

    south: float
    west: float
    north: float
    east: float

    @classmethod
    def around(cls, points: Iterable[tuple[float, float]]) -> Bounds | None:
        """The box around (lat, lon) pairs; None for none."""
        lats: list[float] = []
        lons: list[float] = []
        for lat, lon in points:
            lats.append(lat)
            lons.append(lon)
        if not lats:
            return None
        return cls(min(lats), min(lons), max(lats), max(lons))

    def union(self, other: Bounds | None) -> Bounds:
        if other is None:
            return self
        return Bounds(min(self.south, other.south), min(self.west, other.west),
                      max(self.north, other.north), max(self.east, other.east))

    @property
    def center(self) -> tuple[float, float]:
        """The centre (lat, lon), taken on the Mercator plane (what the screen shows)."""
        x1, y1 = world_xy(self.north, self.west)
        x2, y2 = world_xy(self.south, self.east)
        return world_latlon((x1 + x2) / 2, (y1 + y2) / 2)


def fit_zoom(bounds: Bounds, width_px: float, height_px: float,
             min_zoom: int = MIN_ZOOM, max_zoom: int = MAX_ZOOM, margin_px: float = 32) -> int:
    """The largest whole zoom (within the limits) at which ``bounds`` fits in the view
    with ``margin_px`` free on each side. A single point gets ``max_zoom``."""
    x1, y1 = world_xy(bounds.north, bounds.west)
    x2, y2 = world_xy(bounds.south, bounds.east)
    span_x, span_y = abs(x2 - x1), abs(y2 - y1)
    usable_w = max(1.0, width_px - 2 * margin_px)
    usable_h = max(1.0, height_px - 2 * margin_px)
    zoom = max_zoom
    while zoom > min_zoom and (span_x * 2.0**zoom > usable_w or span_y * 2.0**zoom > usable_h):
        zoom -= 1
    return zoom


def visible_tiles(
    center_x: float, center_y: float, zoom: int, width_px: float, height_px: float
) -> Iterator[tuple[int, int, float, float]]:
    """The tiles of ``zoom`` that cover a ``width_px`` × ``height_px`` view centred on
    world pixel (``center_x``, ``center_y``): (x, y, left, top), left/top in view pixels.
    Rows and columns outside the world are left out (no wrapping)."""
    scale = 2.0**zoom
    left_world = center_x * scale - width_px / 2
    top_world = center_y * scale - height_px / 2
    n = 1 << zoom
    first_x = max(0, math.floor(left_world / TILE_SIZE))
    first_y = max(0, math.floor(top_world / TILE_SIZE))
    last_x = min(n - 1, math.floor((left_world + width_px) / TILE_SIZE))
    last_y = min(n - 1, math.floor((top_world + height_px) / TILE_SIZE))
    for ty in range(first_y, last_y + 1):
        for tx in range(first_x, last_x + 1):
            yield tx, ty, tx * TILE_SIZE - left_world, ty * TILE_SIZE - top_world
