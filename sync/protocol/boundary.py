"""A grid's boundary as the centre keeps and sends it (pull kind ``grid``): one
definition of what a valid boundary is, for ``central grids set-boundary`` and for the
device checking a pulled row.

IT gives GeoJSON (RFC 7946): a Polygon or MultiPolygon, bare, in a Feature, or in a
FeatureCollection of such Features. :func:`normalize_boundary` checks it and gives one
canonical MultiPolygon (positions ``[lon, lat]`` rounded to 7 decimals, about 1 cm):

* every ring closed (its first position repeated last) with at least 4 positions;
* at most :data:`MAX_POLYGONS` polygons, :data:`MAX_RINGS` rings each and
  :data:`MAX_VERTICES` positions in all (a village grid needs a few hundred; a 2G link
  pulls it);
* every position two finite numbers in degrees: longitude -180..180, latitude -90..90
  (projected metres, or latitude and longitude swapped out of range, are refused with
  the reason);
* with ``crs="gcj02"`` (a boundary drawn on a Chinese web map: 高德, 腾讯), every
  position inside China, where GCJ-02 is defined, and converted to WGS-84
  (:func:`gcj02_to_wgs84`): the app keeps positions in WGS-84/CGCS2000 as BeiDou gives
  them, so a boundary drawn in GCJ-02 would sit 300-600 m off.

:class:`InvalidBoundary` says what is wrong, in a sentence for IT.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_VERTICES = 20_000  # positions in one grid's boundary, all rings together
MAX_POLYGONS = 100
MAX_RINGS = 100  # per polygon: the outline and its holes
MIN_RING = 4
PRECISION = 7  # decimals kept (1e-7 degree: about 1 cm)
CRS = ("wgs84", "gcj02")
# Where GCJ-02 applies (the usual test for "in China"); outside it equals WGS-84
CHINA_LON = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)


class InvalidBoundary(ValueError):
    """A boundary refused; the message says what to fix."""


def _position(raw: Any, where: str, crs: str) -> list[float]:
    if (not isinstance(raw, list | tuple) or len(raw) not in (2, 3)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)):
        raise InvalidBoundary(f"{where} must be [longitude, latitude] in degrees")
    lon, lat = float(raw[0]), float(raw[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidBoundary(f"{where} is not a finite number")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        hint = (" (latitude and longitude swapped? GeoJSON is [longitude, latitude])"
                if -90 <= lon <= 90 and -180 <= lat <= 180 else
                " (projected metres? give longitude and latitude in degrees)")
        raise InvalidBoundary(f"{where} [{lon:g}, {lat:g}] is out of range{hint}")
    if crs == "gcj02":
        if not (CHINA_LON[0] <= lon <= CHINA_LON[1] and CHINA_LAT[0] <= lat <= CHINA_LAT[1]):
            raise InvalidBoundary(f"{where} [{lon:g}, {lat:g}] is outside China, where "
                                  "GCJ-02 is defined")
        lat, lon = gcj02_to_wgs84(lat, lon)
    return [round(lon, PRECISION), round(lat, PRECISION)]


def _polygon(raw: Any, where: str, crs: str, counted: list[int]) -> list[list[list[float]]]:
    if not isinstance(raw, list) or not raw:
        raise InvalidBoundary(f"{where} needs an outline (a list of rings)")
    if len(raw) > MAX_RINGS:
        raise InvalidBoundary(f"{where} has {len(raw)} rings; at most {MAX_RINGS}")
    rings = []
    for r, ring in enumerate(raw):
        here = f"{where} ring {r}"
        if not isinstance(ring, list) or len(ring) < MIN_RING:
            raise InvalidBoundary(f"{here} needs at least {MIN_RING} positions")
        counted[0] += len(ring)
        if counted[0] > MAX_VERTICES:
            raise InvalidBoundary(f"more than {MAX_VERTICES} positions; simplify the "
                                  "boundary (e.g. QGIS Simplify, a tolerance of 1 m)")
        positions = [_position(p, f"{here} position {i}", crs) for i, p in enumerate(ring)]
        if positions[0] != positions[-1]:
            raise InvalidBoundary(f"{here} is not closed: its first position must be "
                                  "repeated as its last")
        rings.append(positions)
    return rings


def _collect(geometry: Any, where: str, into: list[Any], wrapper: bool = True) -> None:
    """The Polygon / MultiPolygon coordinates in ``geometry``, unchecked yet; a Feature
    or FeatureCollection only where ``wrapper`` allows (not a Feature in a Feature)."""
    if not isinstance(geometry, Mapping):
        raise InvalidBoundary(f"{where} is not a GeoJSON object")
    kind = geometry.get("type")
    if kind == "Polygon":
        into.append(geometry.get("coordinates"))
    elif kind == "MultiPolygon":
        coordinates = geometry.get("coordinates")
        if not isinstance(coordinates, list) or not coordinates:
            raise InvalidBoundary(f"{where}: a MultiPolygon needs its polygons")
        into.extend(coordinates)
    elif kind == "Feature" and wrapper:
        _collect(geometry.get("geometry"), f"{where}'s geometry", into, wrapper=False)
    elif kind == "FeatureCollection" and wrapper and where == "the boundary":
        features = geometry.get("features")
        if not isinstance(features, list) or not features:
            raise InvalidBoundary("the FeatureCollection has no features")
        for i, feature in enumerate(features):
            if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
                raise InvalidBoundary(f"feature {i} is not a Feature")
            _collect(feature, f"feature {i}", into)
    else:
        raise InvalidBoundary(f"{where} must be a Polygon or MultiPolygon (bare, in a "
                              f"Feature or a FeatureCollection), not {kind!r}")


def normalize_boundary(value: Any, crs: str = "wgs84") -> dict[str, Any]:
    """The canonical MultiPolygon of ``value`` (see the module docstring); raises
    :class:`InvalidBoundary`."""
    if crs not in CRS:
        raise InvalidBoundary(f"the coordinate system must be one of {', '.join(CRS)}")
    raw: list[Any] = []
    _collect(value, "the boundary", raw)
    if len(raw) > MAX_POLYGONS:
        raise InvalidBoundary(f"{len(raw)} polygons; at most {MAX_POLYGONS}")
    counted = [0]
    polygons = [_polygon(p, f"polygon {i}", crs, counted) for i, p in enumerate(raw)]
    return {"type": "MultiPolygon", "coordinates": polygons}


def vertices(boundary: Mapping[str, Any]) -> int:
    """Positions in a canonical boundary (for IT's listing)."""
    return sum(len(ring) for polygon in boundary.get("coordinates") or []
               for ring in polygon)


def check_pulled(value: Any) -> Any:
    """A pulled boundary must already be canonical WGS-84 (what the centre sends): the
    same value back, or :class:`InvalidBoundary`."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("type") != "MultiPolygon":
        raise InvalidBoundary("a pulled boundary must be a MultiPolygon")
    normalize_boundary(value)
    return value


# -- GCJ-02 (the offset Chinese web maps use) --------------------------------------------

_A = 6378245.0
_EE = 0.00669342162296594323


def _offset(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 minus WGS-84 at a WGS-84 position, in degrees (lat, lon)."""
    x, y = lon - 105.0, lat - 35.0
    d_lat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y
             + 0.2 * math.sqrt(abs(x)))
    d_lat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    d_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    d_lon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    d_lon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return d_lat, d_lon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    d_lat, d_lon = _offset(lat, lon)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """The WGS-84 position a GCJ-02 one stands for, to within 1e-8 degree (the
    forward offset inverted by fixed-point iteration; it converges in a few steps)."""
    w_lat, w_lon = lat, lon
    for _ in range(30):
        g_lat, g_lon = wgs84_to_gcj02(w_lat, w_lon)
        e_lat, e_lon = g_lat - lat, g_lon - lon
        w_lat, w_lon = w_lat - e_lat, w_lon - e_lon
        if abs(e_lat) < 1e-9 and abs(e_lon) < 1e-9:
            break
    return w_lat, w_lon
