"""Simplified tracks for review: a patrol's points cut down to a bounded number.

The centre sends leaders and supervisors each finished patrol with its track in at
most :data:`sync.protocol.MAX_REVIEW_TRACK_POINTS` points (Douglas-Peucker, the
tolerance doubled until the track fits), so a month of a grid's patrols stays small on
a 2G link and draws at once. Plain Python, shared by both sides (the wire format builds
on nothing else of ours).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = Sequence[float]  # [t, lat, lon, ...]: time, WGS-84 degrees
_EARTH_M = 6_371_000.0


def _xy(points: Sequence[Point]) -> list[tuple[float, float]]:
    """Metres on a local equirectangular projection around the first point."""
    lat0 = math.radians(float(points[0][1]))
    cos0 = math.cos(lat0)
    return [(math.radians(float(p[2])) * cos0 * _EARTH_M, math.radians(float(p[1])) * _EARTH_M)
            for p in points]


def _keep(points: Sequence[Point], tolerance_m: float) -> list[int]:
    """Indexes Douglas-Peucker keeps (iterative: long tracks cannot hit recursion)."""
    n = len(points)
    if n <= 2:
        return list(range(n))
    xy = _xy(points)
    keep = [False] * n
    keep[0] = keep[-1] = True
    limit = tolerance_m * tolerance_m
    stack = [(0, n - 1)]
    while stack:
        first, last = stack.pop()
        ax, ay = xy[first]
        dx, dy = xy[last][0] - ax, xy[last][1] - ay
        length2 = dx * dx + dy * dy
        worst, worst_index = -1.0, -1
        for i in range(first + 1, last):
            px, py = xy[i][0] - ax, xy[i][1] - ay
            if length2 > 0.0:
                u = max(0.0, min(1.0, (px * dx + py * dy) / length2))
                ex, ey = px - u * dx, py - u * dy
            else:
                ex, ey = px, py
            d2 = ex * ex + ey * ey
            if d2 > worst:
                worst, worst_index = d2, i
        if worst_index >= 0 and worst > limit:
            keep[worst_index] = True
            stack.append((first, worst_index))
            stack.append((worst_index, last))
    return [i for i in range(n) if keep[i]]


def simplify_parts(parts: Sequence[Sequence[Point]], max_points: int,
                   tolerance_m: float = 5.0) -> list[list[list[float]]]:
    """``parts`` (each a list of ``[t, lat, lon, ...]``, in time order) as ``[t, lat,
    lon]`` lists with at most ``max_points`` points in all: Douglas-Peucker with the
    tolerance doubled until they fit (each part keeps its two ends; when even that is
    too many, the longest parts are kept)."""
    clean = [[[float(p[0]), float(p[1]), float(p[2])] for p in part
              if len(p) >= 3 and p[0] is not None and p[1] is not None and p[2] is not None]
             for part in parts]
    clean = [part for part in clean if part]
    if max_points <= 0 or not clean:
        return []
    if 2 * len(clean) > max_points:
        clean = sorted(clean, key=len, reverse=True)[:max(1, max_points // 2)]
        clean.sort(key=lambda part: part[0][0])
    tolerance = tolerance_m
    while True:
        out = [[part[i] for i in _keep(part, tolerance)] for part in clean]
        if sum(len(part) for part in out) <= max_points or tolerance > 1e7:
            return [part[:max_points] for part in out]
        tolerance *= 2
