"""Positions and track geometry: fixes, distance, filtering, simplification.

Pure Python, no Qt: the NMEA parser, the GPX reader and the UI's positioning
source all produce :class:`Fix` objects; the track recorder filters them with
:class:`FixFilter` and stores them simplified with :func:`simplify`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol, TypeVar

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
KNOT_MPS = 1852.0 / 3600.0


@dataclass(frozen=True, slots=True)
class Fix:
    """One position. ``t`` is Unix time in seconds (UTC)."""

    t: float
    lat: float
    lon: float
    alt: float | None = None
    hdop: float | None = None
    accuracy_m: float | None = None  # horizontal, metres (GST, GPX or the OS)
    speed_mps: float | None = None
    course: float | None = None
    quality: int | None = None  # GGA fix quality: 0 none, 1 GNSS, 2 DGNSS, 4/5 RTK...
    satellites: int | None = None
    valid: bool = True  # False: the receiver itself says there is no fix


class HasPosition(Protocol):
    @property
    def lat(self) -> float: ...

    @property
    def lon(self) -> float: ...


P = TypeVar("P", bound=HasPosition)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def path_length_m(points: Sequence[HasPosition]) -> float:
    return sum(
        haversine_m(a.lat, a.lon, b.lat, b.lon) for a, b in pairwise(points)
    )


def duration_s(points: Sequence[Fix]) -> float:
    return points[-1].t - points[0].t if len(points) > 1 else 0.0


class LocalProjection:
    """Equirectangular projection around a reference point: metres east/north.

    Accurate to well under a metre over a grid's few kilometres, which is all a
    simplification tolerance of a few metres needs.
    """

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0 = lat0
        self.lon0 = lon0
        self.kx = math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
        self.ky = math.radians(1) * EARTH_RADIUS_M

    @classmethod
    def around(cls, points: Sequence[HasPosition]) -> LocalProjection:
        lats = [p.lat for p in points]
        lons = [p.lon for p in points]
        return cls((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        dlon = (lon - self.lon0 + 540.0) % 360.0 - 180.0  # across the antimeridian too
        return dlon * self.kx, (lat - self.lat0) * self.ky


def point_segment_distance(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> float:
    """Distance from ``p`` to the segment ``a``-``b`` (plane coordinates)."""
    ax, ay = a
    bx, by = b
    px, py = p
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        return math.hypot(px - ax, py - ay)
    u = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + u * dx), py - (ay + u * dy))


def simplify(points: Sequence[P], tolerance_m: float) -> list[P]:
    """Douglas-Peucker: drop points closer than ``tolerance_m`` to the simplified line.

    Keeps the first and last points; every dropped point lies within
    ``tolerance_m`` of the segment between the kept points around it (measured on
    a local projection). Iterative, so long tracks cannot hit the recursion limit.
    """
    n = len(points)
    if n <= 2 or tolerance_m <= 0:
        return list(points)
    proj = LocalProjection.around(points)
    xs: list[float] = []
    ys: list[float] = []
    for p in points:
        x, y = proj.xy(p.lat, p.lon)
        xs.append(x)
        ys.append(y)
    keep = [False] * n
    keep[0] = keep[-1] = True
    limit = tolerance_m * tolerance_m
    stack = [(0, n - 1)]
    while stack:
        first, last = stack.pop()
        # point_segment_distance, inlined and squared: this loop is the whole cost
        ax, ay = xs[first], ys[first]
        dx, dy = xs[last] - ax, ys[last] - ay
        length2 = dx * dx + dy * dy
        worst, worst_index = -1.0, -1
        for i in range(first + 1, last):
            px, py = xs[i] - ax, ys[i] - ay
            if length2 > 0.0:
                u = (px * dx + py * dy) / length2
                if u > 1.0:
                    u = 1.0
                elif u < 0.0:
                    u = 0.0
                px -= u * dx
                py -= u * dy
            d = px * px + py * py
            if d > worst:
                worst, worst_index = d, i
        if worst > limit:
            keep[worst_index] = True
            stack.append((first, worst_index))
            stack.append((worst_index, last))
    return [p for p, k in zip(points, keep, strict=True) if k]


# -- filtering ---------------------------------------------------------------
REJECT_NO_FIX = "no_fix"
REJECT_BAD_COORDINATES = "bad_coordinates"
REJECT_HDOP = "hdop"
REJECT_ACCURACY = "accuracy"
REJECT_TIME = "time_order"
REJECT_SPEED = "speed_jump"


@dataclass
class FixFilter:
    """Drops fixes with poor accuracy and implausible jumps; stateful, one per track.

    A fix is refused when the receiver has no fix (GGA quality 0, RMC status V,
    GSA "no fix"), HDOP above ``max_hdop``, horizontal accuracy worse than
    ``max_accuracy_m``, its time is not after the last accepted fix, or reaching
    it from the last accepted fix needs more than ``max_speed_mps``. After
    ``resync_after`` jumps in a row the filter assumes the last accepted fix was
    the outlier and starts again from the new position.
    """

    max_hdop: float = 5.0
    max_accuracy_m: float = 50.0
    max_speed_mps: float = 50.0  # 180 km/h: beyond any patrol, even by car
    resync_after: int = 3

    def __post_init__(self) -> None:
        self.last: Fix | None = None
        self.rejected: Counter[str] = Counter()
        self.accepted = 0
        self._jumps = 0

    def reason(self, fix: Fix) -> str | None:
        """Why ``fix`` would be refused, or None; does not change the state."""
        if not fix.valid or fix.quality == 0:
            return REJECT_NO_FIX
        if not (
            math.isfinite(fix.lat)
            and math.isfinite(fix.lon)
            and math.isfinite(fix.t)
            and -90.0 <= fix.lat <= 90.0
            and -180.0 <= fix.lon <= 180.0
        ) or (fix.lat == 0.0 and fix.lon == 0.0):
            return REJECT_BAD_COORDINATES
        if fix.hdop is not None and fix.hdop > self.max_hdop:
            return REJECT_HDOP
        if fix.accuracy_m is not None and fix.accuracy_m > self.max_accuracy_m:
            return REJECT_ACCURACY
        last = self.last
        if last is not None:
            dt = fix.t - last.t
            if dt <= 0:
                return REJECT_TIME
            if haversine_m(last.lat, last.lon, fix.lat, fix.lon) / dt > self.max_speed_mps:
                return REJECT_SPEED
        return None

    def accept(self, fix: Fix) -> bool:
        why = self.reason(fix)
        if why == REJECT_SPEED:
            self._jumps += 1
            if self._jumps >= self.resync_after:
                why = None
        if why is not None:
            self.rejected[why] += 1
            return False
        self._jumps = 0
        self.last = fix
        self.accepted += 1
        return True

    def run(self, fixes: Iterable[Fix]) -> list[Fix]:
        return [f for f in fixes if self.accept(f)]


# -- running figures -----------------------------------------------------------
class RunningPath:
    """A track simplified as it grows, with its length: the live figures of a patrol.

    Measuring the raw fixes reads high (every metre of GNSS jitter counts as walked)
    and re-measuring the whole path at each update costs more every hour. This keeps
    an opening-window simplification instead: a fix is dropped while every fix since
    the last kept one stays within ``tolerance_m`` of the line from that kept fix to
    the newest one (the guarantee :func:`simplify` gives), so each fix costs at most
    ``max_window`` distance checks, whatever the length of the day. ``length_m``
    follows the kept points plus the stretch to the newest fix.

    Each position is first averaged with the ``smooth`` fixes before it (a few
    seconds on foot): GNSS jitter of a metre or two would otherwise zigzag the path
    at every kept point and read 15-20 % long.
    """

    def __init__(self, tolerance_m: float = 3.0, max_window: int = 120,
                 smooth: int = 5) -> None:
        self.tolerance_m = tolerance_m
        self.max_window = max_window
        self.smooth = max(1, smooth)
        self._recent: list[Fix] = []
        self.kept: list[Fix] = []  # the simplified path so far (without the newest fix)
        self.count = 0  # fixes added
        self.committed_m = 0.0  # along the kept points
        self._proj: LocalProjection | None = None
        self._anchor: tuple[float, float] = (0.0, 0.0)
        self._window: list[tuple[float, float, Fix]] = []  # fixes since the last kept one

    def add(self, fix: Fix) -> None:
        self.count += 1
        recent = self._recent
        recent.append(fix)
        if len(recent) > self.smooth:
            del recent[0]
        if len(recent) > 1:
            n = len(recent)
            fix = Fix(t=fix.t, lat=sum(f.lat for f in recent) / n,
                      lon=sum(f.lon for f in recent) / n, alt=fix.alt,
                      accuracy_m=fix.accuracy_m)
        if self._proj is None:
            self._proj = LocalProjection(fix.lat, fix.lon)
            self._anchor = self._proj.xy(fix.lat, fix.lon)
            self.kept.append(fix)
            return
        x, y = self._proj.xy(fix.lat, fix.lon)
        window = self._window
        if window and (len(window) >= self.max_window or not self._covers(x, y)):
            px, py, previous = window[-1]
            anchor = self.kept[-1]
            self.committed_m += haversine_m(anchor.lat, anchor.lon, previous.lat, previous.lon)
            self.kept.append(previous)
            self._anchor = (px, py)
            window.clear()
        window.append((x, y, fix))

    def extend(self, fixes: Iterable[Fix]) -> None:
        for fix in fixes:
            self.add(fix)

    def _covers(self, x: float, y: float) -> bool:
        """Whether every fix of the window lies within the tolerance of anchor→(x, y)."""
        ax, ay = self._anchor
        dx, dy = x - ax, y - ay
        length2 = dx * dx + dy * dy
        limit = self.tolerance_m * self.tolerance_m
        for px, py, _ in self._window:
            px -= ax
            py -= ay
            if length2 > 0.0:
                u = (px * dx + py * dy) / length2
                u = 1.0 if u > 1.0 else 0.0 if u < 0.0 else u
                px -= u * dx
                py -= u * dy
            if px * px + py * py > limit:
                return False
        return True

    @property
    def last(self) -> Fix | None:
        if self._window:
            return self._window[-1][2]
        return self.kept[-1] if self.kept else None

    @property
    def length_m(self) -> float:
        if not self._window:
            return self.committed_m
        anchor, newest = self.kept[-1], self._window[-1][2]
        return self.committed_m + haversine_m(anchor.lat, anchor.lon, newest.lat, newest.lon)

    def points(self) -> list[Fix]:
        """The simplified path including the newest fix (for drawing it)."""
        newest = self._window[-1][2] if self._window else None
        return [*self.kept, newest] if newest is not None else list(self.kept)
