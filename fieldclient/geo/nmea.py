"""NMEA 0183 from GNSS receivers (BeiDou included): parsing, fix assembly, replay.

Sentences understood, from any GNSS talker (``GP`` GPS, ``BD``/``GB`` BeiDou,
``GN`` combined, ``GL`` GLONASS, ``GA`` Galileo, ``GQ`` QZSS, ``GI`` NavIC):
RMC, GGA, GNS, GSA, GST and ZDA. Every sentence must carry a valid checksum.
Anything else is counted and skipped, never fatal: bad checksums, truncated or
junk lines, binary garbage, impossible values. Other sentences with a good
checksum (GSV, proprietary ``$P...``) are counted as ignored.

A receiver reports one epoch as several sentences with the same UTC time
(GGA, GSA..., RMC); :class:`FixAssembler` merges them into one :class:`Fix`.
Pure Python, no Qt: the UI's positioning source wraps :class:`NmeaReplayer`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fieldclient.geo.geometry import KNOT_MPS, Fix

TALKERS = frozenset({"GP", "BD", "GB", "GN", "GL", "GA", "GQ", "GI"})
SENTENCES = frozenset({"RMC", "GGA", "GNS", "GSA", "GST", "ZDA"})
MAX_LINE = 200  # NMEA allows 82 characters; receivers with extra fields go a little beyond

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_TIME = re.compile(r"(\d{2})(\d{2})(\d{2}(?:\.\d+)?)")
_DATE = re.compile(r"(\d{2})(\d{2})(\d{2})")


@dataclass
class ParseStats:
    """What happened to each line: every line lands in exactly one counter."""

    lines: int = 0
    sentences: int = 0  # understood and used
    ignored: int = 0  # good checksum, a sentence we do not need (GSV, $PSRF...)
    blank: int = 0
    junk: int = 0  # not an NMEA sentence at all (comments, binary garbage)
    bad_checksum: int = 0
    malformed: int = 0  # good checksum, impossible content; or no checksum (truncated)

    @property
    def skipped(self) -> int:
        """Broken lines: junk, bad checksum, malformed (blank and ignored are not broken)."""
        return self.junk + self.bad_checksum + self.malformed


@dataclass(frozen=True)
class Sentence:
    """One understood sentence. Fields absent from the sentence type stay None."""

    talker: str
    kind: str  # RMC, GGA, GNS, GSA, GST, ZDA
    time_of_day: float | None = None  # seconds since 00:00 UTC
    time_text: str = ""  # the raw hhmmss.ss, to group one epoch's sentences
    day: date | None = None
    lat: float | None = None
    lon: float | None = None
    status_ok: bool | None = None  # RMC A/V, GGA quality > 0, GSA fix type > 1
    quality: int | None = None
    satellites: int | None = None
    hdop: float | None = None
    alt: float | None = None
    speed_mps: float | None = None
    course: float | None = None
    lat_sd: float | None = None
    lon_sd: float | None = None


class Malformed(ValueError):
    pass


def checksum(body: str) -> int:
    value = 0
    for ch in body:
        value ^= ord(ch)
    return value


def _num(text: str) -> float | None:
    """A decimal number, or None for an empty field; anything else is malformed."""
    if text == "":
        return None
    if not _NUMBER.fullmatch(text):
        raise Malformed(text)
    value = float(text)
    if not math.isfinite(value):
        raise Malformed(text)
    return value


def _int(text: str) -> int | None:
    if text == "":
        return None
    if not text.isdigit() or not text.isascii() or len(text) > 6:
        raise Malformed(text)
    return int(text)


def _time(text: str) -> float | None:
    if text == "":
        return None
    m = _TIME.fullmatch(text)
    if not m:
        raise Malformed(text)
    h, mi, s = int(m[1]), int(m[2]), float(m[3])
    if h > 23 or mi > 59 or s >= 61:
        raise Malformed(text)
    return h * 3600 + mi * 60 + s


def _date(text: str) -> date | None:
    if text == "":
        return None
    m = _DATE.fullmatch(text)
    if not m:
        raise Malformed(text)
    dd, mm, yy = int(m[1]), int(m[2]), int(m[3])
    try:
        return date(2000 + yy if yy < 80 else 1900 + yy, mm, dd)
    except ValueError as exc:
        raise Malformed(text) from exc


def _coordinate(value: str, hemisphere: str, lat: bool) -> float | None:
    if value == "" and hemisphere == "":
        return None
    number = _num(value)
    if number is None or number < 0:
        raise Malformed(value)
    degrees = int(number // 100)
    minutes = number - degrees * 100
    result = degrees + minutes / 60.0
    if minutes >= 60 or result > (90 if lat else 180):
        raise Malformed(value)
    if hemisphere == ("S" if lat else "W"):
        return -result
    if hemisphere == ("N" if lat else "E"):
        return result
    raise Malformed(hemisphere)


def _field(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


def _position(fields: list[str], i: int) -> tuple[float | None, float | None]:
    lat = _coordinate(_field(fields, i), _field(fields, i + 1), True)
    lon = _coordinate(_field(fields, i + 2), _field(fields, i + 3), False)
    if (lat is None) != (lon is None):
        raise Malformed("half a position")
    return lat, lon


def _parse_fields(talker: str, kind: str, f: list[str]) -> Sentence:
    if kind == "RMC":
        # time, status, lat, N/S, lon, E/W, speed kn, course, date, magvar, E/W, mode[, nav]
        if len(f) < 10:
            raise Malformed("short RMC")
        status = f[2]
        if status not in ("A", "V"):
            raise Malformed(status)
        mode = _field(f, 12)
        speed = _num(f[7])
        lat, lon = _position(f, 3)
        return Sentence(
            talker, kind, _time(f[1]), f[1], _date(f[9]), lat, lon,
            status_ok=status == "A" and mode != "N",
            speed_mps=speed * KNOT_MPS if speed is not None else None,
            course=_num(f[8]),
        )
    if kind == "GGA":
        # time, lat, N/S, lon, E/W, quality, satellites, hdop, alt, M, geoid, M, age, station
        if len(f) < 10:
            raise Malformed("short GGA")
        quality = _int(f[6])
        lat, lon = _position(f, 2)
        return Sentence(
            talker, kind, _time(f[1]), f[1], None, lat, lon,
            status_ok=None if quality is None else quality > 0,
            quality=quality, satellites=_int(f[7]), hdop=_num(f[8]), alt=_num(f[9]),
        )
    if kind == "GNS":
        # time, lat, N/S, lon, E/W, mode chars, satellites, hdop, alt, geoid, age, station
        if len(f) < 10:
            raise Malformed("short GNS")
        mode = f[6]
        if not mode.isascii() or not mode.isalpha():
            raise Malformed(mode)
        lat, lon = _position(f, 2)
        return Sentence(
            talker, kind, _time(f[1]), f[1], None, lat, lon,
            status_ok=any(c not in "N" for c in mode),
            satellites=_int(f[7]), hdop=_num(f[8]), alt=_num(f[9]),
        )
    if kind == "GSA":
        # mode, fix type (1 none, 2 2D, 3 3D), 12 satellite ids, PDOP, HDOP, VDOP[, system]
        if len(f) < 6:
            raise Malformed("short GSA")
        fix_type = _int(f[2])
        # After the 12 satellite ids: PDOP, HDOP, VDOP and (NMEA 4.10) a system id.
        hdop = _num(f[16]) if len(f) >= 17 else None
        return Sentence(
            talker, kind, status_ok=None if fix_type is None else fix_type > 1, hdop=hdop
        )
    if kind == "GST":
        # time, rms, major sd, minor sd, orientation, lat sd, lon sd, alt sd
        if len(f) < 8:
            raise Malformed("short GST")
        return Sentence(
            talker, kind, _time(f[1]), f[1], lat_sd=_num(f[6]), lon_sd=_num(f[7])
        )
    # ZDA: time, day, month, year, zone hours, zone minutes
    if len(f) < 5:
        raise Malformed("short ZDA")
    day = None
    if f[2] or f[3] or f[4]:
        if not (f[2] + f[3] + f[4]).isdigit() or len(f[4]) != 4:
            raise Malformed("ZDA date")
        try:
            day = date(int(f[4]), int(f[3]), int(f[2]))
        except ValueError as exc:
            raise Malformed("ZDA date") from exc
    return Sentence(talker, kind, _time(f[1]), f[1], day)


class NmeaParser:
    """Line-by-line parser with counters; :meth:`feed` never raises."""

    def __init__(self, require_checksum: bool = True) -> None:
        self.require_checksum = require_checksum
        self.stats = ParseStats()

    def feed(self, line: str | bytes) -> Sentence | None:
        self.stats.lines += 1
        try:
            return self._feed(line)
        except (Malformed, ValueError, IndexError, OverflowError):
            self.stats.malformed += 1
            return None

    def _feed(self, line: str | bytes) -> Sentence | None:
        if isinstance(line, bytes):
            line = line.decode("ascii", "replace")
        text = line.strip()
        if not text:
            self.stats.blank += 1
            return None
        start = text.rfind("$")  # garbage before the sentence, or two run together
        if start < 0 or len(text) - start > MAX_LINE or text.startswith("#"):
            self.stats.junk += 1
            return None
        text = text[start + 1 :]
        star = text.rfind("*")
        if star < 0:
            if self.require_checksum:  # most often a line cut short
                self.stats.malformed += 1
                return None
            body = text
        else:
            body, given = text[:star], text[star + 1 :].strip()
            if len(given) != 2 or not all(c in "0123456789ABCDEFabcdef" for c in given):
                self.stats.malformed += 1
                return None
            if int(given, 16) != checksum(body):
                self.stats.bad_checksum += 1
                return None
        if not body.isascii() or not body.isprintable():
            self.stats.junk += 1
            return None
        fields = body.split(",")
        address = fields[0]
        if len(address) != 5 or address[:2] not in TALKERS or address[2:] not in SENTENCES:
            self.stats.ignored += 1
            return None
        sentence = _parse_fields(address[:2], address[2:], fields)
        self.stats.sentences += 1
        return sentence


@dataclass
class _Epoch:
    time_text: str
    time_of_day: float
    sentences: list[Sentence] = field(default_factory=list)


class FixAssembler:
    """Merges the sentences of one epoch (same UTC time) into a :class:`Fix`.

    The date comes from RMC or ZDA; until one is seen, ``default_date`` is used
    (epochs before any date and without a default are dropped and counted).
    Epochs without a position (the receiver still searching) give no fix.
    """

    def __init__(self, default_date: date | None = None) -> None:
        self.day: date | None = default_date
        self._last_tod: float | None = None
        self._epoch: _Epoch | None = None
        self.epochs = 0
        self.without_position = 0
        self.without_date = 0

    def add(self, sentence: Sentence) -> Fix | None:
        """Add a sentence; returns the previous epoch's fix when this one starts a new epoch."""
        done: Fix | None = None
        if sentence.time_of_day is not None:
            if self._epoch is None or sentence.time_text != self._epoch.time_text:
                done = self.flush()
                self._epoch = _Epoch(sentence.time_text, sentence.time_of_day)
        if self._epoch is not None:
            self._epoch.sentences.append(sentence)
        return done

    def flush(self) -> Fix | None:
        epoch, self._epoch = self._epoch, None
        if epoch is None:
            return None
        self.epochs += 1
        for s in epoch.sentences:
            if s.day is not None:
                self.day = s.day
        tod = epoch.time_of_day
        if self._last_tod is not None and self.day is not None:
            # A day rolled over without a dated sentence to say so.
            explicit = any(s.day is not None for s in epoch.sentences)
            if not explicit and tod + 43200 < self._last_tod:
                self.day = self.day + timedelta(days=1)
        self._last_tod = tod
        return self._fix(epoch, tod)

    def _fix(self, epoch: _Epoch, tod: float) -> Fix | None:
        positioned = [s for s in epoch.sentences if s.lat is not None and s.lon is not None]
        if not positioned:
            self.without_position += 1
            return None
        if self.day is None:
            self.without_date += 1
            return None
        # GGA/GNS first: more digits than RMC on many receivers.
        best = min(positioned, key=lambda s: {"GGA": 0, "GNS": 1}.get(s.kind, 2))
        assert best.lat is not None and best.lon is not None

        def first(attr: str, kinds: tuple[str, ...]) -> float | None:
            for kind in kinds:
                for s in epoch.sentences:
                    value = getattr(s, attr)
                    if s.kind == kind and value is not None:
                        return float(value)
            return None

        statuses = [s.status_ok for s in epoch.sentences if s.status_ok is not None]
        quality = next((s.quality for s in epoch.sentences if s.quality is not None), None)
        satellites = next(
            (s.satellites for s in epoch.sentences if s.satellites is not None), None
        )
        lat_sd = first("lat_sd", ("GST",))
        lon_sd = first("lon_sd", ("GST",))
        accuracy = math.hypot(lat_sd, lon_sd) if lat_sd is not None and lon_sd is not None else None
        midnight = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
        return Fix(
            t=midnight.timestamp() + tod,
            lat=best.lat,
            lon=best.lon,
            alt=first("alt", ("GGA", "GNS")),
            hdop=first("hdop", ("GGA", "GNS", "GSA")),
            accuracy_m=accuracy,
            speed_mps=first("speed_mps", ("RMC",)),
            course=first("course", ("RMC",)),
            quality=quality,
            satellites=satellites,
            valid=bool(statuses) and all(statuses),
        )


def _lines(source: Path | str | Iterable[str | bytes]) -> Iterator[str | bytes]:
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            yield from fh
    else:
        yield from source


def read_fixes(
    source: Path | str | Iterable[str | bytes],
    default_date: date | None = None,
    parser: NmeaParser | None = None,
    assembler: FixAssembler | None = None,
) -> Iterator[Fix]:
    """Fixes from a file path or an iterable of lines (text or bytes); never raises on content.

    Pass your own ``parser`` to read its :class:`ParseStats` afterwards.
    """
    parser = parser or NmeaParser()
    assembler = assembler or FixAssembler(default_date)
    for line in _lines(source):
        sentence = parser.feed(line)
        if sentence is not None:
            fix = assembler.add(sentence)
            if fix is not None:
                yield fix
    fix = assembler.flush()
    if fix is not None:
        yield fix


@dataclass(frozen=True)
class ReplayStep:
    delay_s: float  # wait this long after the previous step (0 for the first)
    fix: Fix


class NmeaReplayer:
    """Replays an NMEA log as a positioning source would deliver it (training, tests).

    Iterate for the fixes in order; :meth:`steps` adds the delay to wait before
    each one (from the log's own timestamps, divided by ``speed``), for a timer
    to drive; :meth:`play` sleeps those delays itself. With ``rebase`` each fix's
    time is taken from that clock when it is delivered (a training replay then
    looks like a patrol happening now). ``loop`` starts over at the end.
    Fixes the receiver marked invalid are delivered too (``fix.valid`` False):
    filtering is the track recorder's job.
    """

    def __init__(
        self,
        source: Path | str | Iterable[str | bytes],
        *,
        speed: float = 1.0,
        loop: bool = False,
        default_date: date | None = None,
        max_gap_s: float = 10.0,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.source = source
        self.speed = speed
        self.loop = loop
        self.default_date = default_date or datetime.now(UTC).date()
        self.max_gap_s = max_gap_s
        self.stats = ParseStats()
        if not isinstance(source, (str, Path)):
            self.source = list(source)  # to be able to loop over it again

    def _pass(self) -> Iterator[Fix]:
        parser = NmeaParser()
        yield from read_fixes(self.source, self.default_date, parser)
        self.stats = parser.stats

    def __iter__(self) -> Iterator[Fix]:
        for step in self.steps():
            yield step.fix

    def steps(self) -> Iterator[ReplayStep]:
        previous: Fix | None = None
        shift = 0.0
        while True:
            first_t: float | None = None
            for original in self._pass():
                if first_t is None:
                    first_t = original.t
                fix = _retimed(original, original.t + shift) if shift else original
                delay = 0.0
                if previous is not None:
                    delay = min(max(fix.t - previous.t, 0.0), self.max_gap_s) / self.speed
                previous = fix
                yield ReplayStep(delay, fix)
            if not self.loop or first_t is None or previous is None:
                return
            shift = previous.t + 1.0 - first_t  # next round: one second after the last fix

    def play(
        self,
        sleep: Callable[[float], None] = time.sleep,
        rebase: Callable[[], float] | None = None,
    ) -> Iterator[Fix]:
        """The fixes in real time (or ``speed`` times faster)."""
        for step in self.steps():
            if step.delay_s > 0:
                sleep(step.delay_s)
            yield _retimed(step.fix, rebase()) if rebase is not None else step.fix


def _retimed(fix: Fix, t: float) -> Fix:
    return replace(fix, t=t)
