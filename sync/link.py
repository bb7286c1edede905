"""What the device knows about its link to the centre, kept across syncs.

A rural 2G link carries 100-400 kbit/s and drops connections mid-transfer, often at
about the same point. A request that cannot get through before the drop never will, so
the engine sizes each request by what the link has carried lately: a push batch or a
photo bundle halves after a cut or a timeout (down to a few KB) and doubles after a
request that filled it got through. The sizes, the measured rate and round trip, and
how well record batches compress are kept in ``meta`` (``sync.link``), so the next
sync starts where this one left off instead of failing again at full size.

The rate and round trip also give the worker an honest estimate of how long what is
left will take (:meth:`LinkState.estimate`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from fieldclient.fieldwork.enrollment import meta_get, meta_set
from fieldclient.storage.session import Session

PUSH_MIN = 2 * 1024  # bytes of op JSON (before compression) in one push
PUSH_START = 64 * 1024  # compressed to about 15-20 KB on the wire
PUSH_MAX = 384 * 1024  # well under the server's 1 MiB body limit
PHOTO_MIN = 4 * 1024  # bytes of photo data in one request
PHOTO_START = 64 * 1024
PHOTO_MAX = 512 * 1024
DEFAULT_COMPRESSION = 0.35  # op JSON gzip-compressed to about a third (measured)
_SMOOTHING = 0.3  # weight of a new measurement
_META_KEY = "link"


@dataclass
class LinkState:
    push_bytes: int = PUSH_START
    photo_bytes: int = PHOTO_START
    rate: float | None = None  # bytes/s of the link's larger transfers lately
    rtt: float | None = None  # seconds a small request takes
    compression: float = DEFAULT_COMPRESSION  # wire bytes / JSON bytes of pushes
    cuts: int = 0  # transfers cut off (all time; shown to IT)

    # -- persistence -----------------------------------------------------------------
    @classmethod
    def load(cls, session: Session) -> LinkState:
        """The kept state; a value edited or damaged on disk (not JSON, nested past
        the parser, a field of no shape, not finite) falls back field by field to the
        defaults: it never breaks a sync."""
        raw = meta_get(session, _META_KEY)
        try:
            data = json.loads(raw) if raw else {}
        except (ValueError, RecursionError):
            data = {}
        state = cls()
        if isinstance(data, dict):
            for f in fields(cls):
                if f.name in data:
                    setattr(state, f.name, data[f.name])
        state._clamp()
        return state

    def save(self, session: Session) -> None:
        with session.db.conn:
            meta_set(session, _META_KEY, json.dumps(asdict(self), allow_nan=False))

    def as_dict(self) -> dict[str, Any]:
        return {
            "push_bytes": self.push_bytes, "photo_bytes": self.photo_bytes,
            "rate_bytes_per_s": None if self.rate is None else round(self.rate),
            "rtt_ms": None if self.rtt is None else round(self.rtt * 1000),
            "compression": round(self.compression, 3), "cuts": self.cuts,
        }

    def _clamp(self) -> None:
        self.push_bytes = int(_bounded(self.push_bytes, PUSH_MIN, PUSH_MAX, PUSH_START))
        self.photo_bytes = int(_bounded(self.photo_bytes, PHOTO_MIN, PHOTO_MAX, PHOTO_START))
        self.compression = float(_bounded(self.compression, 0.02, 1.2, DEFAULT_COMPRESSION))
        self.cuts = int(_bounded(self.cuts, 0, 2**31, 0))
        self.rate = _positive(self.rate)
        self.rtt = _positive(self.rtt)

    # -- sizes -----------------------------------------------------------------------
    def cut(self, kind: str, attempted: int) -> None:
        """A ``kind`` ("push" or "photo") request of ``attempted`` bytes did not get
        through (connection dropped, or no answer in time): half of that next time."""
        self.cuts += 1
        if kind == "push":
            self.push_bytes = max(PUSH_MIN, min(self.push_bytes, attempted) // 2)
        else:
            self.photo_bytes = max(PHOTO_MIN, min(self.photo_bytes, attempted) // 2)

    def carried(self, kind: str, used: int) -> None:
        """A request of ``used`` bytes got through: a full one doubles the size."""
        if kind == "push":
            if used * 2 >= self.push_bytes:
                self.push_bytes = min(PUSH_MAX, self.push_bytes * 2)
        elif used * 2 >= self.photo_bytes:
            self.photo_bytes = min(PHOTO_MAX, self.photo_bytes * 2)

    # -- measurements ------------------------------------------------------------------
    def observe(self, wire_bytes: int, seconds: float) -> None:
        """One request and its answer: ``wire_bytes`` both ways in ``seconds``. Small
        exchanges measure the round trip; large ones the rate (their time less a round
        trip)."""
        if seconds <= 0:
            return
        if wire_bytes < 4096:
            self.rtt = _blend(self.rtt, seconds)
            return
        transfer = seconds - (self.rtt or 0.0)
        if transfer > 0.01:
            self.rate = _blend(self.rate, wire_bytes / transfer)

    def observe_compression(self, json_bytes: int, wire_bytes: int) -> None:
        if json_bytes > 512:
            self.compression = float(_blend(self.compression, wire_bytes / json_bytes))

    def estimate(self, record_bytes: int, photo_bytes: int) -> float | None:
        """Seconds the link needs for what is left (None until it has been measured):
        the bytes at the measured rate plus a round trip per request they take."""
        if record_bytes <= 0 and photo_bytes <= 0:
            return 0.0
        if self.rate is None:
            return None
        wire = record_bytes * self.compression + photo_bytes
        requests = -(-record_bytes // self.push_bytes) + -(-photo_bytes // self.photo_bytes)
        return wire / self.rate + requests * (self.rtt or 0.5)


def _bounded(value: Any, low: float, high: float, default: float) -> float:
    """A kept number within [low, high]; ``default`` for one of no shape (text, a bool,
    NaN, infinite)."""
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        return default
    return float(min(high, max(low, value)))


def _positive(value: Any) -> float | None:
    """A measured rate or round trip: a finite positive number, else unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def _blend(old: float | None, new: float) -> float:
    return new if old is None else old + _SMOOTHING * (new - old)
