"""The map's Qt-free part: Web Mercator tile math, scale bars, fitting a zoom, MBTiles and
PMTiles reading of archives built here, installing one (CLI too), grid boundaries."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from map_fixtures import CENTER, tile_image, tiles_around, write_mbtiles, write_pmtiles

from fieldclient.geo.archive import (
    MapDamaged,
    MapEmpty,
    MapFileMissing,
    MapNotArchive,
    MapNotRaster,
    open_archive,
)
from fieldclient.geo.boundary import BoundaryInvalid, parse_boundary
from fieldclient.geo.geometry import haversine_m
from fieldclient.geo.maps import install_map, installed_map, open_installed, remove_map
from fieldclient.geo.tiles import (
    MAX_LAT,
    Bounds,
    fit_zoom,
    metres_per_pixel,
    scale_bar_label,
    scale_bar_metres,
    tile_bounds,
    tile_of,
    visible_tiles,
    world_latlon,
    world_xy,
)

latitudes = st.floats(min_value=-MAX_LAT, max_value=MAX_LAT, allow_nan=False)
longitudes = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)


# -- tile math -----------------------------------------------------------------------
@given(latitudes, longitudes)
def test_world_pixels_round_trip(lat: float, lon: float) -> None:
    x, y = world_xy(lat, lon)
    assert 0.0 <= x <= 256.0 and -1e-9 <= y <= 256.0 + 1e-9
    back_lat, back_lon = world_latlon(x, y)
    assert back_lat == pytest.approx(lat, abs=1e-9)
    assert back_lon == pytest.approx(lon, abs=1e-9)


@given(st.integers(min_value=0, max_value=20), st.floats(0.0, 1.0, exclude_max=True),
       st.floats(0.0, 1.0, exclude_max=True))
def test_tile_index_round_trip(zoom: int, fx: float, fy: float) -> None:
    n = 1 << zoom
    x, y = int(fx * n), int(fy * n)
    south, west, north, east = tile_bounds(zoom, x, y)
    assert south < north and west < east
    # the tile's middle (on the Mercator plane) lies in that tile
    mid_lat, mid_lon = world_latlon((x + 0.5) * 256 / n, (y + 0.5) * 256 / n)
    assert tile_of(mid_lat, mid_lon, zoom) == (x, y)


def test_known_tiles_and_poles() -> None:
    assert tile_of(*CENTER, 0) == (0, 0)
    # Shanghai Pudong at zoom 15 (checked against the OSM slippy-map formula by hand)
    x = int((CENTER[1] + 180) / 360 * 2**15)
    lat = math.radians(CENTER[0])
    y = int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * 2**15)
    assert tile_of(*CENTER, 15) == (x, y)
    assert world_xy(90.0, 0.0)[1] == pytest.approx(0.0, abs=1e-9)  # clamped, not infinite
    assert world_xy(-90.0, 0.0)[1] == pytest.approx(256.0, abs=1e-9)


@given(st.floats(-80, 80), st.integers(8, 20))  # 100 px: short enough to be straight
def test_metres_per_pixel_matches_the_ground(lat: float, zoom: int) -> None:
    """One pixel east on the screen is metres_per_pixel on the ground (to 0.5 %)."""
    x, y = world_xy(lat, 100.0)
    step = 100.0 / 2**zoom  # 100 screen pixels
    lat2, lon2 = world_latlon(x + step, y)
    assert haversine_m(lat, 100.0, lat2, lon2) / 100 == pytest.approx(
        metres_per_pixel(lat, zoom), rel=5e-3)


@given(st.floats(0.01, 100_000.0), st.floats(20.0, 2000.0))
def test_scale_bar_is_round_and_fits(mpp: float, max_px: float) -> None:
    metres = scale_bar_metres(mpp, max_px)
    if mpp * max_px < 1:
        assert metres == 0
        return
    assert metres / mpp <= max_px * (1 + 1e-9)
    assert metres / mpp > max_px / 2.5 - 1e-9  # the longest round length that fits
    mantissa = metres / 10 ** math.floor(math.log10(metres))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)


def test_scale_bar_examples() -> None:
    assert scale_bar_metres(1.0, 120) == 100
    assert scale_bar_metres(0.5, 120) == 50
    assert scale_bar_metres(10.0, 300) == 2000
    assert scale_bar_metres(0.001, 100) == 0
    assert scale_bar_label(500) == "500 m" and scale_bar_label(2000) == "2 km"


def test_fit_zoom_and_visible_tiles() -> None:
    box = Bounds(31.240, 121.580, 31.256, 121.594)  # about 1.5 km
    zoom = fit_zoom(box, 800, 600)
    assert zoom == 15
    x1, y1 = world_xy(box.north, box.west)
    x2, y2 = world_xy(box.south, box.east)
    assert (x2 - x1) * 2**zoom <= 800 - 64 and (y2 - y1) * 2**zoom <= 600 - 64
    assert (x2 - x1) * 2 ** (zoom + 1) > 800 - 64 or (y2 - y1) * 2 ** (zoom + 1) > 600 - 64
    assert fit_zoom(Bounds(31.2, 121.5, 31.2, 121.5), 800, 600, max_zoom=18) == 18
    cx, cy = world_xy(*CENTER)
    tiles = list(visible_tiles(cx, cy, 16, 768, 768))
    assert 9 <= len(tiles) <= 16
    assert (*tile_of(*CENTER, 16),) in {(t[0], t[1]) for t in tiles}
    for _x, _y, left, top in tiles:  # every tile touches the view
        assert -256 < left < 768 and -256 < top < 768
    assert list(visible_tiles(128, 128, 0, 1000, 1000)) == [(0, 0, 372.0, 372.0)]


# -- archives ------------------------------------------------------------------------
TILES = tiles_around(*CENTER, zooms=(14, 15, 16), radius=1)


@pytest.mark.parametrize("kind", ["mbtiles", "pmtiles"])
@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_archive_reads_tiles_by_xyz(tmp_path: Path, kind: str, fmt: str) -> None:
    path = tmp_path / f"district.{kind}"
    (write_mbtiles if kind == "mbtiles" else write_pmtiles)(path, TILES, fmt=fmt)
    with open_archive(path, validate=True) as archive:
        info = archive.info
        assert (info.kind, info.tile_format, info.name) == (kind, fmt, "测试区县")
        assert (info.min_zoom, info.max_zoom) == (14, 16)
        assert info.bounds is not None and info.bounds.west == pytest.approx(121.5)
        assert info.attribution == "测试瓦片"
        for z, x, y in TILES:
            assert archive.tile(z, x, y) == tile_image(z, x, y, fmt)
        z, x, y = TILES[0]
        assert archive.tile(z, x + 5, y) is None  # not in the archive
        assert archive.tile(3, 99, 0) is None  # not even on the map
        assert archive.tile(25, 0, 0) is None


def test_corrupt_and_foreign_files_are_refused(tmp_path: Path) -> None:
    good = write_mbtiles(tmp_path / "good.mbtiles", TILES)
    with pytest.raises(MapFileMissing):
        open_archive(tmp_path / "nope.mbtiles")
    junk = tmp_path / "junk.mbtiles"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(MapNotArchive) as not_archive:
        open_archive(junk)
    assert "MBTiles" in not_archive.value.message("zh_CN")
    truncated = tmp_path / "truncated.mbtiles"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(MapDamaged):
        open_archive(truncated, validate=True)
    plain_db = tmp_path / "other.sqlite"
    sqlite3.connect(plain_db).executescript("CREATE TABLE t (a); INSERT INTO t VALUES (1);")
    with pytest.raises(MapNotArchive):
        open_archive(plain_db)
    vector = write_mbtiles(tmp_path / "vector.mbtiles", TILES[:1], extra_meta={"format": "pbf"})
    with pytest.raises(MapNotRaster) as raster:
        open_archive(vector)
    assert "pbf" in raster.value.message("en") and "PNG" in raster.value.message("en")
    empty = write_mbtiles(tmp_path / "empty.mbtiles", [])
    with pytest.raises(MapEmpty):
        open_archive(empty)
    pm = write_pmtiles(tmp_path / "good.pmtiles", TILES)
    cut = tmp_path / "cut.pmtiles"
    cut.write_bytes(pm.read_bytes()[:-3000])
    with pytest.raises(MapDamaged):
        open_archive(cut, validate=True)
    header_only = tmp_path / "short.pmtiles"
    header_only.write_bytes(pm.read_bytes()[:60])
    with pytest.raises(MapDamaged):
        open_archive(header_only)


def test_install_replace_and_remove(tmp_path: Path) -> None:
    data_dir = tmp_path / "device"
    assert installed_map(data_dir) is None and open_installed(data_dir) is None
    first = install_map(data_dir, write_mbtiles(tmp_path / "a.mbtiles", TILES, name="甲区"))
    assert first.path.parent == data_dir / "maps" and first.info.name == "甲区"
    assert oct(first.path.stat().st_mode & 0o777) == oct(0o600)
    assert installed_map(data_dir) == first
    junk = tmp_path / "b.pmtiles"
    junk.write_bytes(b"PMTiles\x03" + os.urandom(300))
    with pytest.raises((MapDamaged, MapNotRaster, MapEmpty)):
        install_map(data_dir, junk)
    assert installed_map(data_dir) == first  # a refused file changes nothing
    assert sorted(p.name for p in (data_dir / "maps").iterdir()) == sorted(
        [first.path.name, "installed.json"])
    second = install_map(data_dir, write_pmtiles(tmp_path / "c.pmtiles", TILES, name="乙区"))
    assert installed_map(data_dir) == second and not first.path.exists()
    archive = open_installed(data_dir)
    assert archive is not None and archive.info.name == "乙区"
    archive.close()
    assert remove_map(data_dir) and installed_map(data_dir) is None
    assert not remove_map(data_dir)


def run_cli(data_dir: Path, *args: str, lang: str = "zh_CN") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDCLIENT_LANG": lang, "GRIDFIELD_SECRET_STORE": "file"}
    return subprocess.run(
        [sys.executable, "-m", "fieldclient.cli", "map", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, env=env, timeout=60)


def test_cli_installs_shows_and_refuses_a_corrupt_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "device"
    shown = run_cli(data_dir, "show")
    assert shown.returncode == 0 and "没有安装离线地图" in shown.stdout
    good = write_mbtiles(tmp_path / "district.mbtiles", TILES)
    done = run_cli(data_dir, "install", str(good), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["info"]["max_zoom"] == 16
    corrupt = tmp_path / "corrupt.mbtiles"
    data = good.read_bytes()
    corrupt.write_bytes(data[:100] + os.urandom(len(data) - 100))
    for lang, words in (("zh_CN", "离线地图文件已损坏"), ("en", "damaged")):
        refused = run_cli(data_dir, "install", str(corrupt), lang=lang)
        assert refused.returncode == 1
        assert words in refused.stderr and "corrupt.mbtiles" in refused.stderr
        assert "Traceback" not in refused.stderr
    refused = run_cli(data_dir, "install", str(tmp_path / "photo.jpg"), lang="en")
    assert refused.returncode == 1 and "photo.jpg" in refused.stderr
    shown = run_cli(data_dir, "show", lang="en")
    assert "测试区县" in shown.stdout and "16" in shown.stdout  # the good map stays
    assert run_cli(data_dir, "remove").returncode == 0
    assert json.loads(run_cli(data_dir, "show", "--json").stdout) == {"installed": None}


# -- boundary ------------------------------------------------------------------------
SQUARE = [[121.58, 31.24], [121.59, 31.24], [121.59, 31.25], [121.58, 31.25], [121.58, 31.24]]


def test_boundary_polygon_multipolygon_feature() -> None:
    polygon = {"type": "Polygon", "coordinates": [SQUARE]}
    rings = parse_boundary(polygon)
    assert rings == [[[(lat, lon) for lon, lat in SQUARE]]]
    hole = [[121.584, 31.244], [121.586, 31.244], [121.586, 31.246], [121.584, 31.244]]
    multi = {"type": "MultiPolygon", "coordinates": [[SQUARE, hole], [SQUARE]]}
    assert [len(p) for p in parse_boundary(json.dumps(multi))] == [2, 1]
    feature = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"grid": "3301"}, "geometry": polygon},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point",
                                                            "coordinates": [121.5, 31.2]}}]}
    assert len(parse_boundary(feature)) == 1
    open_ring = {"type": "Polygon", "coordinates": [SQUARE[:-1]]}
    assert parse_boundary(open_ring)[0][0][-1] == parse_boundary(open_ring)[0][0][0]


@pytest.mark.parametrize("bad", [
    "not json", {"type": "Point", "coordinates": [1, 2]}, {"type": "Polygon"},
    {"type": "Polygon", "coordinates": [[[121.58, 31.24], [121.59, 31.24]]]},
    {"type": "Polygon", "coordinates": [[[121.58, 95.0]] * 4]},
    {"type": "Polygon", "coordinates": [[["a", "b"]] * 4]},
    {"type": "Circle"}, [1, 2],
])
def test_boundary_refused(bad: object) -> None:
    with pytest.raises(BoundaryInvalid):
        parse_boundary(bad)  # type: ignore[arg-type]
