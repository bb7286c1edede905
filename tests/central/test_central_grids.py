"""Grid boundaries at the centre (issue 13): ``central grids set-boundary GRID FILE``
validates GeoJSON (Polygon/MultiPolygon, rings closed, bounded positions, degrees in
range, GCJ-02 converted to WGS-84) and refuses a bad file with the reason and nothing
changed; ``list`` and ``clear-boundary``; the pull feed's ``grid`` rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from central_helpers import central, central_json

from central import db, settings
from sync.protocol import boundary as shared

SQUARE = [[121.58, 31.24], [121.60, 31.24], [121.60, 31.25], [121.58, 31.25], [121.58, 31.24]]
HOLE = [[121.585, 31.242], [121.586, 31.242], [121.586, 31.243], [121.585, 31.242]]


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo district on SQLite (seeded once for this module's tests)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('grids') / 'central.db'}"
    central(url, "init")
    central(url, "seed-demo", "--grids", "2", "--households-per-grid", "2", "--json")
    return url


def _grids(url: str) -> tuple[int, int, int]:
    """Two grids of the demo district, and a village (not a grid)."""
    grids = central_json(url, "grids", "list")
    engine = db.make_engine(url)
    with engine.connect() as conn:
        village = conn.execute(db.org_units.select().where(
            db.org_units.c.level == "village")).first()
    engine.dispose()
    assert village is not None
    return int(grids[0]["grid_id"]), int(grids[1]["grid_id"]), int(village.id)


def _file(tmp_path: Path, value: Any, name: str = "b.geojson") -> str:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value), "utf-8")
    return str(path)


def test_set_list_and_clear_a_grids_boundary(district: str, tmp_path: Path) -> None:
    first, second, _village = _grids(district)
    feature = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "一网格"},
        "geometry": {"type": "Polygon", "coordinates": [SQUARE, HOLE]}}]}
    out = central(district, "grids", "set-boundary", str(first), _file(tmp_path, feature))
    assert "9 positions" in out.stdout
    rows = {r["grid_id"]: r for r in central_json(district, "grids", "list")}
    assert rows[first]["boundary_vertices"] == 9 and rows[first]["boundary_updated_at"]
    assert rows[second]["boundary_vertices"] == 0
    engine = db.make_engine(district)
    with engine.connect() as conn:
        page = settings.grids_page(conn, (first, second), 0, 10)
    assert [(c["kind"], c["id"]) for c in page] == [("grid", str(first))]
    assert page[0]["data"]["boundary"] == {"type": "MultiPolygon",
                                           "coordinates": [[SQUARE, HOLE]]}
    after = page[0]["seq"]
    # drawn on a Chinese web map: converted to WGS-84 (the device's positions)
    gcj = [[round(lon, 7), round(lat, 7)] for lat, lon in
           (shared.wgs84_to_gcj02(lat, lon) for lon, lat in SQUARE[:-1])]
    out = central(district, "grids", "set-boundary", str(second),
                  _file(tmp_path, {"type": "Polygon", "coordinates": [[*gcj, gcj[0]]]}),
                  "--crs", "gcj02")
    assert "converted from GCJ-02" in out.stdout
    with engine.connect() as conn:
        page = settings.grids_page(conn, (first, second), after, 10)
    ((lon, lat), *_rest) = page[0]["data"]["boundary"]["coordinates"][0][0]
    assert abs(lon - SQUARE[0][0]) < 1e-6 and abs(lat - SQUARE[0][1]) < 1e-6  # back to WGS-84
    out = central(district, "grids", "clear-boundary", str(first))
    assert "removed" in out.stdout
    with engine.connect() as conn:
        page = settings.grids_page(conn, (first,), after, 10)
    assert page[0]["data"]["boundary"] is None  # devices drop it
    engine.dispose()
    assert {r["grid_id"]: r["boundary_vertices"]
            for r in central_json(district, "grids", "list")}[first] == 0


@pytest.mark.parametrize(("value", "reason"), [
    ({"type": "Polygon", "coordinates": [SQUARE[:-1]]}, "is not closed"),
    ({"type": "Polygon", "coordinates": [SQUARE[:3]]}, "at least 4 positions"),
    ({"type": "Polygon", "coordinates": [[[lat, lon] for lon, lat in SQUARE]]},
     "latitude and longitude swapped"),
    ({"type": "Polygon", "coordinates": [[[13_530_000.0, 3_663_000.0]] * 5]},
     "projected metres"),
    ({"type": "Polygon", "coordinates": [[[121.58, "31.24"], *SQUARE[1:]]]},
     "[longitude, latitude]"),
    ({"type": "Point", "coordinates": [121.58, 31.24]}, "Polygon or MultiPolygon"),
    ({"type": "MultiPolygon", "coordinates": []}, "needs its polygons"),
    ({"type": "Polygon", "coordinates": [[[121.0 + i * 1e-5, 31.0] for i in range(20_001)]
                                         + [[121.0, 31.0]]]}, "more than 20000 positions"),
    ({"type": "Polygon", "coordinates": [[[-73.98, 40.75], [-73.97, 40.75], [-73.97, 40.76],
                                          [-73.98, 40.75]]]}, None),  # gcj02: not China
    ("{not json", "not valid UTF-8 JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),  # a traceback before
])
def test_a_bad_boundary_is_refused_with_the_reason_and_nothing_changes(
        district: str, tmp_path: Path, value: Any, reason: str | None) -> None:
    first, _second, _village = _grids(district)
    central(district, "grids", "set-boundary", str(first),
            _file(tmp_path, {"type": "Polygon", "coordinates": [SQUARE]}, "good.json"))
    before = central_json(district, "grids", "list")
    extra = ("--crs", "gcj02") if reason is None else ()
    out = central(district, "grids", "set-boundary", str(first), _file(tmp_path, value),
                  *extra, check=False)
    assert out.returncode == 1, out.stdout
    assert (reason or "outside China") in out.stderr and "nothing was changed" in out.stderr
    assert central_json(district, "grids", "list") == before


def test_only_a_grid_takes_a_boundary(district: str, tmp_path: Path) -> None:
    _first, _second, village = _grids(district)
    good = _file(tmp_path, {"type": "Polygon", "coordinates": [SQUARE]})
    out = central(district, "grids", "set-boundary", str(village), good, check=False)
    assert out.returncode == 1 and "not a grid" in out.stderr
    out = central(district, "grids", "set-boundary", "999999", good, check=False)
    assert out.returncode == 1 and "no org unit" in out.stderr
    out = central(district, "grids", "set-boundary", "1", str(tmp_path / "missing.json"),
                  check=False)
    assert out.returncode == 2 and "cannot read" in out.stderr


def test_normalized_boundaries_round_trip_and_gcj02_inverts() -> None:
    multi = {"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE, HOLE]]}
    clean = shared.normalize_boundary(multi)
    assert clean == multi and shared.vertices(clean) == 14
    assert shared.normalize_boundary(clean) == clean  # what the device checks again
    for lat, lon in ((31.2304, 121.4737), (39.9042, 116.4074), (22.5431, 114.0579)):
        g_lat, g_lon = shared.wgs84_to_gcj02(lat, lon)
        assert 100 < 111_000 * abs(g_lat - lat) + 95_000 * abs(g_lon - lon) < 1000  # offset
        back = shared.gcj02_to_wgs84(g_lat, g_lon)
        assert abs(back[0] - lat) < 1e-8 and abs(back[1] - lon) < 1e-8
