"""GPS tracks (走访轨迹): filter, simplify, store encrypted, import from loggers.

A track is stored in the SQLCipher database as an immutable ``tracks`` row and
its ``track_segments`` (each at most :data:`SEGMENT_POINTS` points, a compact
JSON array), each segment also queued as a ``track.segment`` outbox record in
the same transaction. Points are ``[t, lat, lon, alt, accuracy_m]``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldclient.errors import FieldClientError
from fieldclient.geo.geometry import Fix, FixFilter, duration_s, path_length_m, simplify
from fieldclient.geo.gpx import parse_gpx
from fieldclient.geo.nmea import NmeaParser, ParseStats, read_fixes
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.ids import new_id
from fieldclient.security import audit

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

DEFAULT_TOLERANCE_M = 3.0
SEGMENT_POINTS = 1000  # keeps one track.segment op well under the server's body limit
SOURCES = ("live", "nmea", "gpx")


class TrackEmpty(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "文件中没有可用的定位点（读到{read}个点，全部因精度差或无定位被过滤）。"
    )


class TrackFileUnreadable(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "无法读取轨迹文件“{path}”：{reason}")


class TrackFormatUnknown(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "无法识别轨迹文件“{path}”的格式：只支持NMEA日志和GPX文件。"
    )


@dataclass
class ProcessedTrack:
    """Fixes after filtering and simplification, with what it took to get there."""

    segments: list[list[Fix]]
    points_read: int
    points_accepted: int
    rejected: dict[str, int]
    tolerance_m: float
    known_distance_m: float | None = None  # measured already (a patrol's live path)

    @property
    def points_kept(self) -> int:
        return sum(len(s) for s in self.segments)

    @property
    def distance_m(self) -> float:
        if self.known_distance_m is not None:
            return self.known_distance_m
        return sum(path_length_m(s) for s in self.segments)

    @property
    def started_at(self) -> float | None:
        return self.segments[0][0].t if self.segments else None

    @property
    def ended_at(self) -> float | None:
        return self.segments[-1][-1].t if self.segments else None

    @property
    def duration_s(self) -> float:
        if not self.segments:
            return 0.0
        return sum(duration_s(s) for s in self.segments)


def process(
    segments: Iterable[Sequence[Fix]],
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    fix_filter: FixFilter | None = None,
) -> ProcessedTrack:
    """Filter (one filter across segments: a jump between them is still a jump), then simplify."""
    fix_filter = fix_filter or FixFilter()
    kept: list[list[Fix]] = []
    read = 0
    for segment in segments:
        read += len(segment)
        good = fix_filter.run(segment)
        if good:
            kept.append(simplify(good, tolerance_m))
    return ProcessedTrack(
        segments=kept,
        points_read=read,
        points_accepted=fix_filter.accepted,
        rejected=dict(fix_filter.rejected),
        tolerance_m=tolerance_m,
    )


# -- files -------------------------------------------------------------------
@dataclass
class TrackFile:
    source: str  # "nmea" or "gpx"
    segments: list[list[Fix]]
    lines_skipped: int = 0  # NMEA lines that were broken
    nmea_stats: ParseStats | None = None
    points_unusable: int = 0  # GPX points without time or with bad coordinates


def sniff_format(head: bytes) -> str | None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return "gpx"
    if b"$" in head:
        return "nmea"
    return None


def read_track_file(path: Path, fmt: str | None = None, day: date | None = None) -> TrackFile:
    """Fixes from an NMEA log or a GPX file (format sniffed unless given).

    NMEA logs carry dates in RMC/ZDA sentences; before the first one (or in a
    GGA-only log) ``day`` is used, by default the file's modification date (UTC).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise TrackFileUnreadable(path=str(path), reason=exc.strerror or str(exc)) from exc
    fmt = fmt or sniff_format(head)
    if fmt == "gpx":
        data = parse_gpx(path)
        return TrackFile("gpx", data.segments, points_unusable=data.points_skipped)
    if fmt == "nmea":
        parser = NmeaParser()
        day = day or datetime.fromtimestamp(mtime, UTC).date()
        fixes = list(read_fixes(path, day, parser))
        return TrackFile(
            "nmea", [fixes] if fixes else [], parser.stats.skipped, parser.stats
        )
    raise TrackFormatUnknown(path=str(path))


# -- storage -----------------------------------------------------------------
def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def encode_points(points: Sequence[Fix]) -> list[list[float | None]]:
    return [
        [round(p.t, 3), round(p.lat, 7), round(p.lon, 7), _round(p.alt, 1),
         _round(p.accuracy_m, 1)]
        for p in points
    ]


def decode_points(rows: Iterable[Sequence[Any]]) -> list[Fix]:
    return [
        Fix(t=float(r[0]), lat=float(r[1]), lon=float(r[2]), alt=r[3], accuracy_m=r[4])
        for r in rows
    ]


@dataclass(frozen=True)
class TrackInfo:
    track_id: str
    patrol_id: str | None
    grid_id: str | None
    source: str
    points_read: int
    points_kept: int
    distance_m: float
    started_at: float | None
    ended_at: float | None
    segment_ids: tuple[str, ...] = field(default=())

    @property
    def duration_s(self) -> float:
        if self.started_at is None or self.ended_at is None:
            return 0.0
        return self.ended_at - self.started_at

    def as_json(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "patrol_id": self.patrol_id,
            "grid_id": self.grid_id,
            "source": self.source,
            "points_read": self.points_read,
            "points_kept": self.points_kept,
            "distance_m": round(self.distance_m, 1),
            "started_at": iso_utc(self.started_at),
            "ended_at": iso_utc(self.ended_at),
            "duration_s": round(self.duration_s, 1),
        }


def iso_utc(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def store_track(
    session: Session,
    track: ProcessedTrack,
    source: str,
    patrol_id: str | None = None,
    grid_id: str | None = None,
) -> TrackInfo:
    """Write a processed track, its segments and their outbox records.

    Call inside the caller's transaction (``with session.db.conn:``).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown track source {source!r}")
    track_id = new_id(session.clock())
    now = session.clock()
    distance = track.distance_m
    session.db.execute(
        "INSERT INTO tracks (id, patrol_id, grid_id, source, started_at, ended_at,"
        " points_read, points_kept, distance_m, tolerance_m, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (track_id, patrol_id, grid_id, source, track.started_at, track.ended_at,
         track.points_read, track.points_kept, distance, track.tolerance_m, now),
    )
    segment_ids: list[str] = []
    seq = 0
    for part, segment in enumerate(track.segments):
        for start in range(0, len(segment), SEGMENT_POINTS):
            # Chunks of one segment share their boundary point, so nothing is lost between.
            chunk = segment[max(0, start - 1) : start + SEGMENT_POINTS]
            if start and len(chunk) < 2:
                continue
            seq += 1
            segment_id = new_id(now)
            points = encode_points(chunk)
            session.db.execute(
                "INSERT INTO track_segments (id, track_id, seq, part, points)"
                " VALUES (?, ?, ?, ?, ?)",
                (segment_id, track_id, seq, part, json.dumps(points, separators=(",", ":"))),
            )
            session.enqueue(
                "track.segment",
                segment_id,
                {
                    "id": segment_id,
                    "track_id": track_id,
                    "patrol_id": patrol_id,
                    "grid_id": grid_id,
                    "device_id": session.device_id,
                    "source": source,
                    "seq": seq,
                    "part": part,  # segments of one part join up; parts do not
                    "points": points,
                    "track": {
                        "points_read": track.points_read,
                        "points_kept": track.points_kept,
                        "distance_m": round(distance, 1),
                        "started_at": track.started_at,
                        "ended_at": track.ended_at,
                        "tolerance_m": track.tolerance_m,
                    },
                },
            )
            segment_ids.append(segment_id)
    session.audit.append(
        audit.RECORD_CREATED,
        {"kind": "track", "id": track_id, "patrol_id": patrol_id, "source": source},
    )
    return TrackInfo(
        track_id, patrol_id, grid_id, source, track.points_read, track.points_kept,
        distance, track.started_at, track.ended_at, tuple(segment_ids),
    )


def _info(row: Sequence[Any]) -> TrackInfo:
    return TrackInfo(
        track_id=row[0], patrol_id=row[1], grid_id=row[2], source=row[3],
        points_read=int(row[4]), points_kept=int(row[5]), distance_m=float(row[6]),
        started_at=row[7], ended_at=row[8],
    )


_TRACK_COLUMNS = (
    "id, patrol_id, grid_id, source, points_read, points_kept, distance_m, started_at, ended_at"
)


def get_track(session: Session, track_id: str) -> TrackInfo | None:
    row = session.db.execute(
        f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE id = ?", (track_id,)
    ).fetchone()
    return _info(row) if row else None


def patrol_tracks(session: Session, patrol_id: str) -> list[TrackInfo]:
    rows = session.db.execute(
        f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE patrol_id = ? ORDER BY created_at, id",
        (patrol_id,),
    ).fetchall()
    return [_info(r) for r in rows]


def load_track_points(session: Session, track_id: str) -> list[list[Fix]]:
    """The stored points, as parts (a GPX file's track segments stay apart)."""
    rows = session.db.execute(
        "SELECT part, points FROM track_segments WHERE track_id = ? ORDER BY seq", (track_id,)
    ).fetchall()
    parts: dict[int, list[Fix]] = {}
    for part, points in rows:
        fixes = decode_points(json.loads(points))
        if part in parts:
            parts[part].extend(fixes[1:])  # a chunk starts with its predecessor's last point
        else:
            parts[part] = fixes
    return list(parts.values())


@dataclass
class ImportResult:
    track: TrackInfo
    lines_skipped: int
    points_unusable: int
    rejected: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            **self.track.as_json(),
            "lines_skipped": self.lines_skipped,
            "points_unusable": self.points_unusable,
            "points_rejected": dict(Counter(self.rejected)),
        }


def import_track(
    session: Session,
    path: Path,
    patrol_id: str | None = None,
    grid_id: str | None = None,
    fmt: str | None = None,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> ImportResult:
    """Import an NMEA or GPX log from a separate GPS logger as a track.

    With ``patrol_id`` the track is attached to that patrol (finished or not:
    it is a new record, the patrol itself does not change) and takes its grid.
    """
    if patrol_id is not None:
        row = session.db.execute(
            "SELECT grid_id FROM patrols WHERE id = ?", (patrol_id,)
        ).fetchone()
        if row is None:
            from fieldclient.fieldwork.patrols import PatrolNotFound

            raise PatrolNotFound(patrol_id=patrol_id)
        grid_id = row[0]
    data = read_track_file(Path(path), fmt)
    processed = process(data.segments, tolerance_m)
    if processed.points_kept == 0:
        raise TrackEmpty(read=processed.points_read)
    with session.db.conn:
        info = store_track(session, processed, data.source, patrol_id, grid_id)
    return ImportResult(info, data.lines_skipped, data.points_unusable, processed.rejected)
