"""Where positions come from: the system's positioning, an NMEA receiver on a
serial port, or an NMEA log replayed (training, tests). Each source is a
:class:`PositionFeed` that emits core :class:`fieldclient.geo.geometry.Fix` objects.

NMEA is parsed by the core (:mod:`fieldclient.geo.nmea`) for both NMEA sources, not
by Qt's ``QNmeaPositionInfoSource``: Qt does read ``$BD``/``$GB``/``$GN``
talkers, but in simulation mode it drops the last epoch of a log, does not
report GGA fix quality or satellites, and does not count broken lines. The core
parser keeps HDOP, quality and GST accuracy for the track recorder's filter and
skips broken lines (bad checksum, truncated, junk) with counters. The serial
port is read with ``QSerialPort`` on the UI thread (a receiver sends ~1 KB/s).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from fieldclient.geo.geometry import Fix
from fieldclient.geo.nmea import FixAssembler, NmeaParser, NmeaReplayer, ParseStats, ReplayStep
from fieldclient.settings import parse_gps_source

# Feed states, shown to the worker by :func:`status_text`.
OFF = "off"
WAITING = "waiting"  # started, no usable fix yet (or none for a while)
RECEIVING = "receiving"
UNAVAILABLE = "unavailable"  # this device has no such source
FAILED = "failed"  # the source broke (port unplugged, file missing...)
ENDED = "ended"  # a replayed file reached its end

STALE_MS = 15_000  # no usable fix for this long: back to "waiting"
SERIAL_BAUD = 9600
MAX_PENDING_BYTES = 4096  # serial bytes without a line end: junk, dropped



class PositionFeed(QObject):
    """A started/stopped source of fixes with a plain status."""

    fix_received = Signal(object)  # fieldclient.geo.geometry.Fix
    status_changed = Signal(str)

    kind = ""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.status = OFF
        self.detail = ""  # a technical reason (port name, Qt error), shown as is
        self.fixes = 0
        self._stale = QTimer(self)
        self._stale.setSingleShot(True)
        self._stale.setInterval(STALE_MS)
        self._stale.timeout.connect(self._went_stale)

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stale.stop()
        if self.status in (WAITING, RECEIVING):
            self._set_status(OFF)

    def name(self) -> str:
        raise NotImplementedError

    def stats(self) -> ParseStats | None:
        """NMEA line counters (None for the system source)."""
        return None

    def _set_status(self, status: str, detail: str = "") -> None:
        changed = (status, detail) != (self.status, self.detail)
        self.status, self.detail = status, detail
        if changed:
            self.status_changed.emit(status)

    def _deliver(self, fix: Fix) -> None:
        self.fixes += 1
        if fix.valid and fix.quality != 0:
            self._stale.start()
            self._set_status(RECEIVING)
        self.fix_received.emit(fix)

    def _went_stale(self) -> None:
        if self.status == RECEIVING:
            self._set_status(WAITING)


# -- the system's positioning ----------------------------------------------------
class SystemFeed(PositionFeed):
    kind = "system"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source: Any = None

    def name(self) -> str:
        return QCoreApplication.translate("positioning", "本机定位")

    def start(self) -> None:
        from PySide6.QtPositioning import QGeoPositionInfoSource

        if self.status in (WAITING, RECEIVING):
            return
        if self.source is None:
            source = QGeoPositionInfoSource.createDefaultSource({"desktopId": "gridfield"}, self)
            if source is None:
                self._set_status(UNAVAILABLE)
                return
            self.source = source
            source.setUpdateInterval(1000)
            source.positionUpdated.connect(self._on_position)
            source.errorOccurred.connect(self._on_error)
        self._set_status(WAITING, self.source.sourceName())
        self.source.startUpdates()

    def stop(self) -> None:
        if self.source is not None:
            self.source.stopUpdates()
        super().stop()

    def _on_position(self, info: Any) -> None:
        from PySide6.QtPositioning import QGeoPositionInfo

        fix = fix_from_qt(info, QGeoPositionInfo.Attribute)
        if fix is not None:
            self._deliver(fix)

    def _on_error(self, error: Any) -> None:
        from PySide6.QtPositioning import QGeoPositionInfoSource

        errors = QGeoPositionInfoSource.Error
        if error == errors.UpdateTimeoutError:
            self._set_status(WAITING, self.source.sourceName() if self.source else "")
        elif error != errors.NoError:
            self._set_status(FAILED, getattr(error, "name", str(error)))


def fix_from_qt(info: Any, attribute: Any, now: Callable[[], float] = time.time) -> Fix | None:
    """A core Fix from a ``QGeoPositionInfo``; None when it has no valid coordinate."""
    coordinate = info.coordinate()
    if not coordinate.isValid():
        return None
    stamp = info.timestamp()
    t = stamp.toMSecsSinceEpoch() / 1000.0 if stamp.isValid() else now()

    def attr(which: Any) -> float | None:
        if not info.hasAttribute(which):
            return None
        value = float(info.attribute(which))
        return value if math.isfinite(value) else None

    alt = coordinate.altitude()
    return Fix(
        t=t,
        lat=coordinate.latitude(),
        lon=coordinate.longitude(),
        alt=alt if math.isfinite(alt) else None,
        accuracy_m=attr(attribute.HorizontalAccuracy),
        speed_mps=attr(attribute.GroundSpeed),
        course=attr(attribute.Direction),
    )


# -- NMEA from a receiver on a serial port ---------------------------------------
class NmeaSerialFeed(PositionFeed):
    """NMEA lines from a serial GNSS receiver, parsed by the core as they arrive."""

    kind = "nmea-serial"

    def __init__(self, port: str, parent: QObject | None = None, baud: int = SERIAL_BAUD) -> None:
        super().__init__(parent)
        self.port_name = port
        self.baud = baud
        self.port: Any = None
        self.parser = NmeaParser()
        self.assembler = FixAssembler(datetime.now(UTC).date())

    def name(self) -> str:
        return QCoreApplication.translate("positioning", "GPS接收器（{port}）").format(
            port=self.port_name)

    def stats(self) -> ParseStats:
        return self.parser.stats

    def start(self) -> None:
        from PySide6.QtCore import QIODevice
        from PySide6.QtSerialPort import QSerialPort

        if self.port is None:
            self.port = QSerialPort(self.port_name, self)
            self.port.readyRead.connect(self._read)
            self.port.errorOccurred.connect(self._on_error)
        if self.port.isOpen():
            return
        self.port.setBaudRate(self.baud)
        if not self.port.open(QIODevice.OpenModeFlag.ReadOnly):
            self._set_status(FAILED, self.port.errorString())
            return
        self._set_status(WAITING, self.port_name)

    def stop(self) -> None:
        if self.port is not None and self.port.isOpen():
            self.port.close()
        super().stop()

    def _read(self) -> None:
        port = self.port
        while port.canReadLine():
            self.feed_line(bytes(port.readLine().data()))
        if port.bytesAvailable() > MAX_PENDING_BYTES:  # no line end in sight: noise
            port.readAll()
            self.parser.stats.lines += 1
            self.parser.stats.junk += 1

    def feed_line(self, line: bytes | str) -> None:
        sentence = self.parser.feed(line)
        if sentence is None:
            return
        fix = self.assembler.add(sentence)
        if fix is not None:
            self._deliver(fix)

    def _on_error(self, error: Any) -> None:
        from PySide6.QtSerialPort import QSerialPort

        errors = QSerialPort.SerialPortError
        if error in (errors.NoError, errors.TimeoutError):
            return
        if self.port is not None and self.port.isOpen():
            self.port.close()
        self._set_status(FAILED, self.port.errorString() if self.port is not None else "")


# -- an NMEA log replayed ----------------------------------------------------------
class NmeaFileFeed(PositionFeed):
    """Replays an NMEA log with the log's own timing (``speed`` times faster).

    Fix times are shifted so that the first fix is "now" and the rest keep the
    log's spacing: a training replay looks like a patrol happening now, and the
    track filter still sees real speeds.
    """

    kind = "nmea-file"

    def __init__(
        self,
        path: str | Path,
        parent: QObject | None = None,
        speed: float = 1.0,
        loop: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.speed = speed
        self.loop = loop
        self.clock = clock
        self.replayer: NmeaReplayer | None = None
        self._steps: Iterator[ReplayStep] | None = None
        self._pending: ReplayStep | None = None
        self._offset: float | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)

    def name(self) -> str:
        return QCoreApplication.translate("positioning", "NMEA文件回放（{name}）").format(
            name=self.path.name)

    def stats(self) -> ParseStats | None:
        return self.replayer.stats if self.replayer is not None else None

    def start(self) -> None:
        if self._timer.isActive():
            return
        if not self.path.is_file():
            self._set_status(FAILED, str(self.path))
            return
        if self._steps is None:
            self.replayer = NmeaReplayer(self.path, speed=self.speed, loop=self.loop)
            self._steps = self.replayer.steps()
        self._set_status(WAITING, self.path.name)
        self._advance()

    def stop(self) -> None:
        self._timer.stop()
        super().stop()

    def _advance(self) -> None:
        assert self._steps is not None
        try:
            self._pending = next(self._steps)
        except StopIteration:
            self._pending = None
            self._stale.stop()
            self._set_status(ENDED, self.path.name)
            return
        except OSError as exc:
            self._pending = None
            self._set_status(FAILED, exc.strerror or str(exc))
            return
        self._timer.start(round(self._pending.delay_s * 1000))

    def _tick(self) -> None:
        step = self._pending
        if step is None:
            return
        if self._offset is None:
            self._offset = self.clock() - step.fix.t
        fix = step.fix
        self._deliver(Fix(
            t=fix.t + self._offset, lat=fix.lat, lon=fix.lon, alt=fix.alt, hdop=fix.hdop,
            accuracy_m=fix.accuracy_m, speed_mps=fix.speed_mps, course=fix.course,
            quality=fix.quality, satellites=fix.satellites, valid=fix.valid,
        ))
        self._advance()


def make_feed(spec: str, parent: QObject | None = None, **options: Any) -> PositionFeed:
    """The feed for a ``--gps`` / setting value (``ValueError`` when malformed).

    ``nmea-serial:PORT@BAUD`` sets the baud rate (default 9600).
    """
    kind, arg = parse_gps_source(spec)
    if kind == "nmea-file":
        return NmeaFileFeed(arg, parent, **options)
    if kind == "nmea-serial":
        port, _, baud = arg.partition("@")
        return NmeaSerialFeed(port, parent, int(baud) if baud.isdigit() else SERIAL_BAUD)
    return SystemFeed(parent)


def status_text(feed: PositionFeed | None) -> str:
    """One plain sentence for the worker: what the GPS is doing."""
    if feed is None or feed.status == OFF:
        return QCoreApplication.translate("positioning", "定位未开启")
    if feed.status == UNAVAILABLE:
        return QCoreApplication.translate(
            "positioning",
            "本设备没有可用的定位功能，巡查轨迹不会被记录。可以在“设置”里改用GPS接收器。")
    if feed.status == FAILED:
        return QCoreApplication.translate("positioning", "定位出错（{source}）：{detail}").format(
            source=feed.name(), detail=feed.detail)
    if feed.status == ENDED:
        return QCoreApplication.translate("positioning", "NMEA文件已回放完毕")
    if feed.status == RECEIVING:
        return QCoreApplication.translate("positioning", "定位正常")
    return QCoreApplication.translate("positioning", "正在定位，请到室外开阔处…")


def status_short(feed: PositionFeed | None) -> str:
    """A few words for the patrol's status bar."""
    status = OFF if feed is None else feed.status
    return {
        OFF: QCoreApplication.translate("positioning", "定位未开启"),
        WAITING: QCoreApplication.translate("positioning", "正在定位…"),
        RECEIVING: QCoreApplication.translate("positioning", "定位正常"),
        UNAVAILABLE: QCoreApplication.translate("positioning", "本设备没有定位功能"),
        FAILED: QCoreApplication.translate("positioning", "定位出错"),
        ENDED: QCoreApplication.translate("positioning", "回放结束"),
    }.get(status, status)
