"""A grid's boundary as the centre sends it: GeoJSON (RFC 7946) Polygon or MultiPolygon,
bare or inside a Feature or FeatureCollection, WGS-84 ``[lon, lat]`` positions.

:func:`parse_boundary` gives plain polygons (rings of (lat, lon)), the first ring of
each the outline and the rest holes, or raises :class:`BoundaryInvalid` with the
reason. Other geometry types inside a collection are ignored; a document with no
polygon at all is refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from fieldclient.errors import FieldClientError
from fieldclient.i18n import QT_TRANSLATE_NOOP

Ring = list[tuple[float, float]]  # (lat, lon), closed: the first position repeated last
Polygon = list[Ring]  # outline, then holes
MAX_POSITIONS = 200_000


class BoundaryInvalid(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "网格边界数据无法读取（{reason}）。")


def _ring(raw: Any) -> Ring:
    if not isinstance(raw, list) or len(raw) < 4:
        raise BoundaryInvalid(reason="a ring needs at least 4 positions")
    ring: Ring = []
    for position in raw:
        if (not isinstance(position, list | tuple) or len(position) < 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool)
                           for v in position[:2])):
            raise BoundaryInvalid(reason="a position is not [lon, lat]")
        lon, lat = float(position[0]), float(position[1])
        if not (math.isfinite(lon) and math.isfinite(lat)
                and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise BoundaryInvalid(reason=f"position out of range: {lon}, {lat}")
        ring.append((lat, lon))
    if ring[0] != ring[-1]:
        ring.append(ring[0])  # RFC 7946 wants it closed; be lenient, close it
    return ring


def _polygon(raw: Any) -> Polygon:
    if not isinstance(raw, list) or not raw:
        raise BoundaryInvalid(reason="a polygon needs an outline")
    return [_ring(ring) for ring in raw]


def _geometry(geometry: Any, into: list[Polygon]) -> None:
    if not isinstance(geometry, Mapping):
        raise BoundaryInvalid(reason="not a GeoJSON object")
    kind = geometry.get("type")
    if kind == "Polygon":
        into.append(_polygon(geometry.get("coordinates")))
    elif kind == "MultiPolygon":
        coordinates = geometry.get("coordinates")
        if not isinstance(coordinates, list):
            raise BoundaryInvalid(reason="MultiPolygon without coordinates")
        into.extend(_polygon(polygon) for polygon in coordinates)
    elif kind == "Feature":
        if geometry.get("geometry") is not None:
            _geometry(geometry["geometry"], into)
    elif kind == "FeatureCollection":
        features = geometry.get("features")
        if not isinstance(features, list):
            raise BoundaryInvalid(reason="FeatureCollection without features")
        for feature in features:
            _geometry(feature, into)
    elif kind == "GeometryCollection":
        for part in geometry.get("geometries") or []:
            _geometry(part, into)
    elif kind not in ("Point", "MultiPoint", "LineString", "MultiLineString"):
        raise BoundaryInvalid(reason=f"unknown type {kind!r}")


def parse_boundary(source: str | bytes | Mapping[str, Any]) -> list[Polygon]:
    """The polygons of a GeoJSON text or parsed object; raises BoundaryInvalid."""
    if isinstance(source, str | bytes):
        try:
            source = json.loads(source)
        except ValueError as exc:
            raise BoundaryInvalid(reason="not JSON") from exc
    polygons: list[Polygon] = []
    _geometry(source, polygons)
    if not polygons:
        raise BoundaryInvalid(reason="no Polygon or MultiPolygon")
    if sum(len(ring) for polygon in polygons for ring in polygon) > MAX_POSITIONS:
        raise BoundaryInvalid(reason="too many positions")
    return polygons
