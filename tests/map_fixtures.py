"""Small tile archives the map tests (and bench/map_draw.py) build themselves.

Each tile is a plain colour, different per tile (:func:`tile_color`), so a test can
tell from a pixel which tile the widget drew there. Written with Pillow, sqlite3 and
the ``pmtiles`` package's writer: nothing from the product's readers.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from fieldclient.geo.tiles import tile_of

# Around the BeiDou fixtures' place (Shanghai, Pudong) and the demo district.
CENTER = (31.2480, 121.5870)


def tile_color(z: int, x: int, y: int) -> tuple[int, int, int]:
    """A colour of its own for each tile near the centre (never the plain background's)."""
    return (40 + (x * 37) % 160, 40 + (y * 53) % 160, 60 + (z * 29) % 120)


def tile_image(z: int, x: int, y: int, fmt: str = "png") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), tile_color(z, x, y)).save(
        out, "PNG" if fmt == "png" else "JPEG", quality=95)
    return out.getvalue()


def tiles_around(lat: float, lon: float, zooms: Iterable[int], radius: int = 2
                 ) -> list[tuple[int, int, int]]:
    """(z, x, y) of the tiles within ``radius`` tiles of a position, per zoom."""
    found = []
    for z in zooms:
        cx, cy = tile_of(lat, lon, z)
        for y in range(cy - radius, cy + radius + 1):
            for x in range(cx - radius, cx + radius + 1):
                if 0 <= x < 1 << z and 0 <= y < 1 << z:
                    found.append((z, x, y))
    return found


def write_mbtiles(path: Path, tiles: Iterable[tuple[int, int, int]], fmt: str = "png",
                  name: str = "测试区县", extra_meta: dict[str, str] | None = None) -> Path:
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE metadata (name TEXT, value TEXT);"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
        " tile_data BLOB);"
        "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);")
    meta = {"name": name, "format": fmt, "bounds": "121.50,31.20,121.70,31.30",
            "attribution": "测试瓦片", **(extra_meta or {})}
    db.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
    db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                   [(z, x, (1 << z) - 1 - y, tile_image(z, x, y, fmt)) for z, x, y in tiles])
    db.commit()
    db.close()
    return path


def write_pmtiles(path: Path, tiles: Iterable[tuple[int, int, int]], fmt: str = "png",
                  name: str = "测试区县") -> Path:
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    ordered = sorted(tiles, key=lambda t: zxy_to_tileid(*t))
    with path.open("wb") as fh:
        writer = Writer(fh)
        for z, x, y in ordered:
            writer.write_tile(zxy_to_tileid(z, x, y), tile_image(z, x, y, fmt))
        writer.finalize(
            {"tile_type": TileType.PNG if fmt == "png" else TileType.JPEG,
             "tile_compression": Compression.NONE,
             "min_lon_e7": int(121.50e7), "min_lat_e7": int(31.20e7),
             "max_lon_e7": int(121.70e7), "max_lat_e7": int(31.30e7),
             "center_zoom": 15, "center_lon_e7": int(CENTER[1] * 1e7),
             "center_lat_e7": int(CENTER[0] * 1e7)},
            {"name": name, "attribution": "测试瓦片"})
    return path
