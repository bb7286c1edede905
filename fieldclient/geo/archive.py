"""Offline raster tile archives: MBTiles (SQLite) and PMTiles (v3), PNG or JPEG tiles.

IT makes one archive for its district (from 天地图 or another source it has the right
to use) and installs it with ``fieldclient map install`` (:mod:`fieldclient.geo.maps`).
:func:`open_archive` tells the two kinds apart by their first bytes and refuses
anything else with a translated reason; ``validate=True`` (the install) also runs
SQLite's ``quick_check`` and reads sample tiles.

A :class:`TileArchive` answers ``tile(z, x, y)`` with the stored image bytes (XYZ
numbering, y down from the north: MBTiles' TMS rows are flipped here) and may be
read from any thread: reads take a lock.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import mmap
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldclient.errors import FieldClientError
from fieldclient.geo.tiles import MAX_ZOOM, Bounds
from fieldclient.i18n import QT_TRANSLATE_NOOP

SQLITE_MAGIC = b"SQLite format 3\x00"
PMTILES_MAGIC = b"PMTiles"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
KINDS = ("mbtiles", "pmtiles")
SAMPLE_TILES = 8  # tiles read and checked by a validating open


class MapFileMissing(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "找不到离线地图文件：{path}")


class MapNotArchive(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "这个文件不是离线地图（应为MBTiles或PMTiles格式）：{path}"
    )


class MapDamaged(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "离线地图文件已损坏或不完整，无法使用：{path}（{detail}）"
    )


class MapNotRaster(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "离线地图的瓦片必须是PNG或JPEG图片，这个文件里是“{kind}”：{path}"
    )


class MapEmpty(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "离线地图文件里没有地图瓦片：{path}")


def image_format(data: bytes) -> str | None:
    """``png`` or ``jpg`` from an image's first bytes; None for anything else."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpg"
    return None


@dataclass(frozen=True, slots=True)
class MapInfo:
    """What an archive says about itself (and what Settings shows)."""

    kind: str  # mbtiles | pmtiles
    name: str
    tile_format: str  # png | jpg
    min_zoom: int
    max_zoom: int
    bounds: Bounds | None
    attribution: str = ""

    def as_json(self) -> dict[str, Any]:
        b = self.bounds
        return {
            "kind": self.kind, "name": self.name, "tile_format": self.tile_format,
            "min_zoom": self.min_zoom, "max_zoom": self.max_zoom,
            "bounds": [b.west, b.south, b.east, b.north] if b else None,
            "attribution": self.attribution,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> MapInfo:
        bounds = raw.get("bounds")
        return cls(
            kind=str(raw["kind"]), name=str(raw.get("name", "")),
            tile_format=str(raw.get("tile_format", "png")),
            min_zoom=int(raw.get("min_zoom", 0)), max_zoom=int(raw.get("max_zoom", 0)),
            bounds=Bounds(float(bounds[1]), float(bounds[0]), float(bounds[3]), float(bounds[2]))
            if isinstance(bounds, list) and len(bounds) == 4 else None,
            attribution=str(raw.get("attribution", "")),
        )


class TileArchive(ABC):
    """An open archive. ``tile`` returns the image bytes of ``z/x/y`` or None."""

    def __init__(self, path: Path, info: MapInfo) -> None:
        self.path = path
        self.info = info
        self._lock = threading.Lock()

    @abstractmethod
    def _read(self, z: int, x: int, y: int) -> bytes | None: ...

    @abstractmethod
    def close(self) -> None: ...

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        if not 0 <= z <= MAX_ZOOM or not (0 <= x < 1 << z and 0 <= y < 1 << z):
            return None
        with self._lock:
            return self._read(z, x, y)

    def __enter__(self) -> TileArchive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _parse_bounds(text: str) -> Bounds | None:
    """MBTiles' ``bounds``: ``west,south,east,north``."""
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError:
        return None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return None
    return Bounds(south, west, north, east)


class MBTiles(TileArchive):
    """The MBTiles 1.3 layout: ``tiles(zoom_level, tile_column, tile_row, tile_data)``
    with TMS rows (0 at the south) and a ``metadata(name, value)`` table."""

    def __init__(self, path: Path, validate: bool = False) -> None:
        try:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise MapDamaged(path=str(path), detail=str(exc)) from exc
        try:
            info = self._inspect(path, validate)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise MapDamaged(path=str(path), detail=str(exc)) from exc
        except FieldClientError:
            self.db.close()
            raise
        super().__init__(path, info)

    def _inspect(self, path: Path, validate: bool) -> MapInfo:
        db = self.db
        if validate:
            problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise MapDamaged(path=str(path), detail="; ".join(map(str, problems)))
        names = {row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        if "tiles" not in names:
            raise MapNotArchive(path=str(path))
        meta: dict[str, str] = {}
        if "metadata" in names:
            meta = {str(k): str(v) for k, v in db.execute("SELECT name, value FROM metadata")}
        zooms = db.execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
        if zooms is None or zooms[0] is None:
            raise MapEmpty(path=str(path))
        samples = [bytes(row[0]) for row in db.execute(
            "SELECT tile_data FROM tiles LIMIT ?", (SAMPLE_TILES if validate else 1,))]
        declared = meta.get("format", "").strip().lower()
        declared = {"jpeg": "jpg"}.get(declared, declared)
        found = image_format(samples[0]) if samples else None
        if declared and declared not in ("png", "jpg"):
            raise MapNotRaster(path=str(path), kind=declared)
        if found is None:
            if declared:
                raise MapDamaged(path=str(path), detail=f"tile is not {declared}")
            raise MapNotRaster(path=str(path), kind=samples[0][:8].hex() if samples else "?")
        if validate and any(image_format(s) is None for s in samples):
            raise MapDamaged(path=str(path), detail="a tile is not an image")
        return MapInfo(
            kind="mbtiles", name=meta.get("name", "") or path.stem,
            tile_format=declared or found,
            min_zoom=max(0, int(zooms[0])), max_zoom=min(MAX_ZOOM, int(zooms[1])),
            bounds=_parse_bounds(meta.get("bounds", "")),
            attribution=meta.get("attribution", ""),
        )

    def _read(self, z: int, x: int, y: int) -> bytes | None:
        row = self.db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
        return bytes(row[0]) if row is not None and row[0] is not None else None

    def close(self) -> None:
        self.db.close()


class PMTiles(TileArchive):
    """PMTiles v3 read through the ``pmtiles`` package's directory codec; the header and
    the last directories read are kept, so a tile costs one lookup and one slice."""

    def __init__(self, path: Path, validate: bool = False) -> None:
        from pmtiles.tile import (
            Compression,
            MagicNumberNotFound,
            SpecVersionUnsupported,
            TileType,
            deserialize_header,
        )

        self._file = path.open("rb")
        try:
            size = path.stat().st_size
            if size < 127:
                raise MapDamaged(path=str(path), detail="shorter than its header")
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                header = deserialize_header(self._map[0:127])
            except (MagicNumberNotFound, SpecVersionUnsupported) as exc:
                raise MapNotArchive(path=str(path)) from exc
            except ValueError as exc:  # an unknown compression or tile type number
                raise MapDamaged(path=str(path), detail=str(exc)) from exc
            self.header = header
            for part in ("root", "metadata", "leaf_directory", "tile_data"):
                end = header[f"{part}_offset"] + header[f"{part}_length"]  # type: ignore[literal-required]
                if end > size:
                    raise MapDamaged(path=str(path), detail=f"{part} past the end of the file")
            tile_type = header["tile_type"]
            if tile_type not in (TileType.PNG, TileType.JPEG, TileType.UNKNOWN):
                raise MapNotRaster(path=str(path), kind=tile_type.name.lower())
            if header["tile_compression"] not in (Compression.NONE, Compression.UNKNOWN,
                                                  Compression.GZIP):
                raise MapNotRaster(path=str(path),
                                   kind=header["tile_compression"].name.lower())
            self._gzip_tiles = header["tile_compression"] == Compression.GZIP
            self._dirs: OrderedDict[tuple[int, int], list[Any]] = OrderedDict()
            try:
                meta = self._metadata()
                first = self._first_tiles(SAMPLE_TILES if validate else 1)
            except (OSError, ValueError, EOFError, IndexError) as exc:
                raise MapDamaged(path=str(path), detail=str(exc) or type(exc).__name__) from exc
            if not first:
                raise MapEmpty(path=str(path))
            formats = {image_format(data) for data in first}
            if None in formats:
                if tile_type == TileType.UNKNOWN:
                    raise MapNotRaster(path=str(path), kind="?")
                raise MapDamaged(path=str(path), detail="a tile is not an image")
            bounds = Bounds(header["min_lat_e7"] / 1e7, header["min_lon_e7"] / 1e7,
                            header["max_lat_e7"] / 1e7, header["max_lon_e7"] / 1e7)
            valid_bounds = -90 <= bounds.south < bounds.north <= 90 and \
                -180 <= bounds.west < bounds.east <= 180
            info = MapInfo(
                kind="pmtiles", name=str(meta.get("name") or path.stem),
                tile_format=image_format(first[0]) or "png",
                min_zoom=int(header["min_zoom"]), max_zoom=min(MAX_ZOOM, int(header["max_zoom"])),
                bounds=bounds if valid_bounds else None,
                attribution=str(meta.get("attribution") or ""),
            )
        except BaseException:
            self.close()
            raise
        super().__init__(path, info)

    def _metadata(self) -> dict[str, Any]:
        from pmtiles.tile import Compression

        h = self.header
        if not h["metadata_length"]:
            return {}
        raw = self._map[h["metadata_offset"]:h["metadata_offset"] + h["metadata_length"]]
        if h["internal_compression"] == Compression.GZIP:
            raw = gzip.decompress(raw)
        value = json.loads(raw)
        return value if isinstance(value, dict) else {}

    def _directory(self, offset: int, length: int) -> list[Any]:
        from pmtiles.tile import deserialize_directory

        key = (offset, length)
        found = self._dirs.get(key)
        if found is None:
            found = deserialize_directory(self._map[offset:offset + length])
            self._dirs[key] = found
            if len(self._dirs) > 32:
                self._dirs.popitem(last=False)
        else:
            self._dirs.move_to_end(key)
        return found

    def _first_tiles(self, count: int) -> list[bytes]:
        """The first ``count`` tiles' bytes in directory order (for validation)."""
        h = self.header
        found: list[bytes] = []
        stack = [(h["root_offset"], h["root_length"])]
        while stack and len(found) < count:
            offset, length = stack.pop(0)
            for entry in self._directory(offset, length):
                if entry.run_length == 0:
                    stack.append((h["leaf_directory_offset"] + entry.offset, entry.length))
                else:
                    found.append(self._tile_bytes(entry.offset, entry.length))
                    if len(found) >= count:
                        break
        return found

    def _tile_bytes(self, offset: int, length: int) -> bytes:
        start = self.header["tile_data_offset"] + offset
        data = self._map[start:start + length]
        return gzip.decompress(data) if self._gzip_tiles else data

    def _read(self, z: int, x: int, y: int) -> bytes | None:
        from pmtiles.tile import find_tile, zxy_to_tileid

        h = self.header
        tile_id = zxy_to_tileid(z, x, y)
        offset, length = h["root_offset"], h["root_length"]
        for _depth in range(4):
            entry = find_tile(self._directory(offset, length), tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                return self._tile_bytes(entry.offset, entry.length)
            offset, length = h["leaf_directory_offset"] + entry.offset, entry.length
        return None

    def close(self) -> None:
        with contextlib.suppress(AttributeError, BufferError, ValueError):
            self._map.close()
        self._file.close()


def archive_kind(path: Path) -> str:
    """``mbtiles`` or ``pmtiles`` from the file's first bytes; raises MapFileMissing or
    MapNotArchive."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise MapFileMissing(path=str(path)) from exc
    except OSError as exc:
        raise MapDamaged(path=str(path), detail=exc.strerror or str(exc)) from exc
    if head == SQLITE_MAGIC:
        return "mbtiles"
    if head.startswith(PMTILES_MAGIC):
        return "pmtiles"
    raise MapNotArchive(path=str(path))


def open_archive(path: Path, validate: bool = False) -> TileArchive:
    """Open an MBTiles or PMTiles file read-only. ``validate`` checks more (the install)."""
    kind = archive_kind(path)
    return MBTiles(path, validate) if kind == "mbtiles" else PMTiles(path, validate)
