"""GPX 1.0/1.1 track logs (GPS loggers, other apps): track points as :class:`Fix` objects.

Read with the standard library's expat, streaming. A document with a DOCTYPE or
any entity declaration is refused outright (no XXE, no entity expansion bombs:
GPX never needs them). Points with impossible coordinates or without a time are
skipped and counted; each ``trkseg`` stays a separate segment.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from xml.parsers import expat

from fieldclient.errors import FieldClientError
from fieldclient.geo.geometry import Fix
from fieldclient.i18n import QT_TRANSLATE_NOOP

_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_FIX_KINDS = {"none": 0, "2d": 1, "3d": 1, "dgps": 2, "pps": 3}
_LEAVES = frozenset({"ele", "time", "hdop", "sat", "fix", "speed", "course"})


class GpxInvalid(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "GPX文件无法读取（{reason}）。")


class GpxUnsafe(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "GPX文件含有文档类型或实体声明，出于安全考虑已拒绝导入。"
    )


class _Refused(Exception):
    pass


@dataclass
class GpxData:
    segments: list[list[Fix]] = field(default_factory=list)
    points_read: int = 0
    points_skipped: int = 0

    @property
    def fixes(self) -> list[Fix]:
        return [fix for segment in self.segments for fix in segment]


def _number(text: str | None) -> float | None:
    if text is None or not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # GPX times are UTC
    return moment.timestamp()


class _Reader:
    def __init__(self) -> None:
        self.data = GpxData()
        self.root_seen = False
        self.in_trk = 0
        self.segment: list[Fix] | None = None
        self.point: dict[str, str] | None = None
        self.leaf: str | None = None
        self.text: list[str] = []
        self.depth = 0

    @staticmethod
    def local(name: str) -> str:
        return name.rsplit(" ", 1)[-1]

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = self.local(name)
        self.depth += 1
        if self.depth == 1:
            if tag != "gpx":
                raise GpxInvalid(reason="not GPX")
            self.root_seen = True
        if tag == "trk":
            self.in_trk += 1
        elif tag == "trkseg" and self.in_trk:
            self.segment = []
        elif tag == "trkpt" and self.in_trk:
            if self.segment is None:  # a point outside any trkseg
                self.segment = []
            self.point = {"lat": attrs.get("lat", ""), "lon": attrs.get("lon", "")}
        elif self.point is not None and tag in _LEAVES:
            self.leaf = tag
            self.text = []

    def chars(self, data: str) -> None:
        if self.leaf is not None:
            self.text.append(data)

    def end(self, name: str) -> None:
        tag = self.local(name)
        self.depth -= 1
        if self.leaf is not None and tag == self.leaf and self.point is not None:
            self.point.setdefault(tag, "".join(self.text))
            self.leaf = None
        elif tag == "trkpt" and self.point is not None:
            self._point(self.point)
            self.point = None
        elif tag == "trkseg" and self.segment is not None:
            if self.segment:
                self.data.segments.append(self.segment)
            self.segment = None
        elif tag == "trk" and self.in_trk:
            self.in_trk -= 1
            if self.segment:
                self.data.segments.append(self.segment)
            self.segment = None

    def _point(self, raw: dict[str, str]) -> None:
        self.data.points_read += 1
        lat, lon, t = _number(raw["lat"]), _number(raw["lon"]), _time(raw.get("time"))
        if (
            lat is None or lon is None or t is None
            or not -90 <= lat <= 90 or not -180 <= lon <= 180
        ):
            self.data.points_skipped += 1
            return
        fix_kind = (raw.get("fix") or "").strip().lower()
        sat = _number(raw.get("sat"))
        assert self.segment is not None
        self.segment.append(
            Fix(
                t=t,
                lat=lat,
                lon=lon,
                alt=_number(raw.get("ele")),
                hdop=_number(raw.get("hdop")),
                speed_mps=_number(raw.get("speed")),
                course=_number(raw.get("course")),
                quality=_FIX_KINDS.get(fix_kind),
                satellites=int(sat) if sat is not None and 0 <= sat < 1000 else None,
                valid=fix_kind != "none",
            )
        )


def _refuse(*_args: object) -> None:
    raise _Refused()


def parse_gpx(source: bytes | BinaryIO | Path) -> GpxData:
    """Track points of a GPX document, by segment. Raises GpxInvalid / GpxUnsafe."""
    reader = _Reader()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse  # type: ignore[assignment]
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.chars
    parser.buffer_text = True
    try:
        if isinstance(source, bytes):
            parser.Parse(source, True)
        elif isinstance(source, Path):
            with open(source, "rb") as fh:
                parser.ParseFile(fh)
        else:
            parser.ParseFile(source)
    except _Refused as exc:
        raise GpxUnsafe() from exc
    except expat.ExpatError as exc:
        raise GpxInvalid(reason=expat.ErrorString(exc.code)) from exc
    if not reader.root_seen:
        raise GpxInvalid(reason="not GPX")
    return reader.data
