"""The offline map installed on this device: one tile archive in ``<data dir>/maps``.

IT installs the district's archive with ``fieldclient map install FILE``: the file's
kind is checked first (cheap), then it is copied beside the data (hashing as it
goes), the copy is validated (:func:`fieldclient.geo.archive.open_archive` with
``validate=True``) and only then recorded in ``maps/installed.json``, atomically.
A refused file leaves the installed map as it was. Each install gets its own file
name, so a map the app still has open is never overwritten; the old file is
removed afterwards (or at the next install, where the system would not let go).

Map tiles are public imagery, not personal data: they are not encrypted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldclient.errors import FieldClientError
from fieldclient.fsutil import atomic_write, fsync_dir, private_dir
from fieldclient.geo.archive import MapInfo, TileArchive, archive_kind, open_archive
from fieldclient.paths import DataPaths

RECORD = "installed.json"
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class InstalledMap:
    path: Path
    info: MapInfo
    size: int
    sha256: str
    installed_at: float
    source: str  # the file name IT installed

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.path.name, "info": self.info.as_json(), "size": self.size,
            "sha256": self.sha256, "installed_at": self.installed_at, "source": self.source,
        }


def installed_map(data_dir: Path) -> InstalledMap | None:
    """The installed map, or None (none installed, or its record or file is gone)."""
    folder = DataPaths(data_dir).maps
    try:
        raw = json.loads((folder / RECORD).read_text("utf-8"))
        path = folder / Path(str(raw["file"])).name
        if not path.is_file():
            return None
        return InstalledMap(
            path=path, info=MapInfo.from_json(raw["info"]), size=int(raw["size"]),
            sha256=str(raw["sha256"]), installed_at=float(raw["installed_at"]),
            source=str(raw.get("source", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def open_installed(data_dir: Path) -> TileArchive | None:
    """The installed archive opened for reading, or None when there is none.
    Raises the archive's errors if the file went bad since it was installed."""
    found = installed_map(data_dir)
    return open_archive(found.path) if found is not None else None


def _copy(source: Path, target: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as src, target.open("xb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    os.chmod(target, 0o600)
    return size, digest.hexdigest()


def install_map(data_dir: Path, source: Path, now: float | None = None) -> InstalledMap:
    """Copy, validate and record ``source`` as the device's offline map (replacing the
    one before). Raises MapFileMissing, MapNotArchive, MapDamaged, MapNotRaster or
    MapEmpty (translated messages) and leaves the installed map untouched then."""
    kind = archive_kind(source)
    folder = DataPaths(data_dir).maps
    private_dir(folder)
    incoming = folder / f".incoming-{os.getpid()}-{time.monotonic_ns()}.{kind}"
    try:
        size, sha = _copy(source, incoming)
        with open_archive(incoming, validate=True) as archive:
            info = archive.info
        final = folder / f"map-{sha[:16]}.{kind}"
        os.replace(incoming, final)
    except FieldClientError as exc:
        with contextlib.suppress(OSError):
            incoming.unlink()
        if "path" in exc.params:  # name the file IT gave, not the copy
            exc.params["path"] = str(source)
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            incoming.unlink()
        raise
    fsync_dir(folder)
    previous = installed_map(data_dir)
    installed = InstalledMap(path=final, info=info, size=size, sha256=sha,
                             installed_at=time.time() if now is None else now,
                             source=source.name)
    atomic_write(folder / RECORD,
                 json.dumps(installed.as_json(), ensure_ascii=False, indent=1).encode("utf-8"))
    keep = {final.name, RECORD}
    if previous is not None and previous.path.name not in keep:
        with contextlib.suppress(OSError):
            previous.path.unlink()
    for leftover in folder.iterdir():  # earlier maps the system would not let go of
        if leftover.name not in keep and leftover.name.startswith("map-"):
            with contextlib.suppress(OSError):
                leftover.unlink()
    return installed


def remove_map(data_dir: Path) -> bool:
    """Uninstall the map (the plain background is shown again). False if none was."""
    found = installed_map(data_dir)
    folder = DataPaths(data_dir).maps
    record = folder / RECORD
    if not record.exists():
        return False
    record.unlink()
    fsync_dir(folder)
    if found is not None:
        with contextlib.suppress(OSError):
            found.path.unlink()
    return True
