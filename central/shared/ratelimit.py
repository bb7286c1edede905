"""The rate limits' token buckets: in the process's memory on SQLite (one server
process), in the database on PostgreSQL, so ``central serve --workers N`` allows a device
its rate once, not N times.

PostgreSQL: one row per bucket in ``rate_buckets`` (UNLOGGED: no WAL, so no flush to disk
per request; after a crash the buckets start full, as after a restart), updated by one
``INSERT ... ON CONFLICT DO UPDATE`` per request in autocommit (one round trip): the row
lock orders concurrent requests for one key across processes, and the time is the
database's (``statement_timestamp()``), the same for every process and machine. Buckets
that have filled up again are deleted now and then (a flood from many addresses does not
grow the table).
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool


class RateLimiter:
    """Token bucket per key (a device id, a client address): ``rate`` requests per
    second, bursts of ``burst``."""

    PRUNE_EVERY = 10_000  # keys; buckets that have filled up again are then forgotten
    blocking = False  # its calls never wait (see SharedRateLimiter)

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._prune_at = self.PRUNE_EVERY
        self._lock = threading.Lock()

    def wait_needed(self, key: str, take: bool = True) -> float:
        """0 when a request may go now (and takes a token unless ``take`` is false),
        else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) >= self._prune_at:
                self._prune(now)
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0 if take else tokens, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def charge(self, key: str, tokens: float) -> None:
        """Take ``tokens`` more for a request that does the work of that many (a photo
        bundle's parts): the bucket may go below zero, so the next requests wait."""
        if tokens <= 0:
            return
        now = time.monotonic()
        with self._lock:
            have, last = self._buckets.get(key, (self.burst, now))
            have = min(self.burst, have + (now - last) * self.rate)
            self._buckets[key] = (have - tokens, now)

    def refund(self, key: str) -> None:
        """Give back the token a request took (it turned out not to count)."""
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, time.monotonic()))
            self._buckets[key] = (min(self.burst, tokens + 1.0), last)

    def _prune(self, now: float) -> None:
        """Forget full buckets, so a flood from many addresses cannot grow memory."""
        self._buckets = {
            k: (tokens, last) for k, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate < self.burst
        }
        self._prune_at = max(self.PRUNE_EVERY, 2 * len(self._buckets))


# One statement decides and updates: ``full`` is the bucket refilled to now (at most
# ``burst``); a request goes when it holds a whole token, and takes ``take`` of it. The
# row keeps the decision (``granted``) for RETURNING, which sees only the new row.
_NOW = "EXTRACT(EPOCH FROM statement_timestamp())::float8"
_FULL = f"LEAST(:burst, b.tokens + GREATEST(0, {_NOW} - b.at) * :rate)"
_TAKE = text(f"""
INSERT INTO rate_buckets AS b (key, tokens, at, granted)
VALUES (:key, CASE WHEN :burst >= 1.0 THEN :burst - :take ELSE :burst END, {_NOW},
        :burst >= 1.0)
ON CONFLICT (key) DO UPDATE SET
    tokens = {_FULL} - CASE WHEN {_FULL} >= 1.0 THEN :take ELSE 0 END,
    at = GREATEST(b.at, {_NOW}),
    granted = {_FULL} >= 1.0
RETURNING granted, tokens
""")
# :data:`_TAKE` for one key, and in the same statement a look at another key's bucket
# (the device's token taken, its address's failures looked at: one round trip)
_TAKE_AND_PEEK = text(f"""
WITH taken AS ({_TAKE.text.strip()})
SELECT taken.granted, taken.tokens,
       (SELECT LEAST(:other_burst, o.tokens + GREATEST(0, {_NOW} - o.at) * :other_rate)
        FROM rate_buckets o WHERE o.key = :other_key)
FROM taken
""")


def _pyformat(sql: str) -> str:
    """``:name`` parameters as the driver's ``%(name)s`` (for SQL sent as it is)."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


# For a statement that takes the token along with its own work (central/fastpath/noop.py):
# a CTE ``taken (granted, tokens)`` and the other key's refilled tokens, in the driver's
# parameter style; parameters: :meth:`SharedRateLimiter.take_and_peek_params`.
TAKE_CTE = _pyformat(_TAKE.text.strip())
PEEK_OTHER = _pyformat(
    f"SELECT LEAST(:other_burst, o.tokens + GREATEST(0, {_NOW} - o.at) * :other_rate)"
    " FROM rate_buckets o WHERE o.key = :other_key")

_CHARGE = text(f"""
INSERT INTO rate_buckets AS b (key, tokens, at, granted)
VALUES (:key, :burst - :tokens, {_NOW}, true)
ON CONFLICT (key) DO UPDATE SET tokens = {_FULL} - :tokens, at = GREATEST(b.at, {_NOW})
""")
_PEEK = text(f"SELECT LEAST(:burst, tokens + GREATEST(0, {_NOW} - at) * :rate)"
             " FROM rate_buckets WHERE key = :key")
_REFUND = text("UPDATE rate_buckets SET tokens = LEAST(:burst, tokens + 1.0) WHERE key = :key")
_PRUNE = text(f"DELETE FROM rate_buckets WHERE key LIKE :prefix"
              f" AND tokens + GREATEST(0, {_NOW} - at) * :rate >= :burst")


class SharedRateLimiter(RateLimiter):
    """:class:`RateLimiter` with its buckets in PostgreSQL's ``rate_buckets``, keys
    prefixed with ``name`` (one table for every limit). Its calls wait for the database:
    from async code, call them through :func:`wait_needed` and :func:`charge` below."""

    blocking = True

    def __init__(self, engine: Engine, name: str, rate: float,
                 burst: float | None = None) -> None:
        super().__init__(rate, burst)
        self.engine = engine
        self.prefix = name + ":"
        self._calls = 0

    def _run(self, statement: Any, params: dict[str, Any]) -> Any:
        """``statement`` in autocommit (one round trip); its first row, if any."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            result = conn.execute(statement, params)
            row = result.first() if result.returns_rows else None
        with self._lock:
            self._calls += 1
            prune = self._calls >= self.PRUNE_EVERY
            if prune:
                self._calls = 0
        if prune:
            self.prune()
        return row

    def wait_needed(self, key: str, take: bool = True) -> float:
        if not take:  # a look only (every signed request's first check): no write
            row = self._run(_PEEK, {"key": self.prefix + key, "burst": self.burst,
                                    "rate": self.rate})
            full = self.burst if row is None else float(row[0])
            return 0.0 if full >= 1.0 else (1.0 - full) / self.rate
        granted, tokens = self._run(_TAKE, {
            "key": self.prefix + key, "burst": self.burst, "rate": self.rate,
            "take": 1.0 if take else 0.0})
        return 0.0 if granted else (1.0 - float(tokens)) / self.rate

    def take_and_peek(self, key: str, other: SharedRateLimiter, other_key: str
                      ) -> tuple[float, float]:
        """``wait_needed(key)`` and ``other.wait_needed(other_key, take=False)`` in one
        statement (both buckets in the same table)."""
        return self.waits(*self.take_and_peek_row(key, other, other_key), other)

    def take_and_peek_row(self, key: str, other: SharedRateLimiter, other_key: str
                          ) -> tuple[Any, Any, Any]:
        """The statement's answer (granted, tokens, the other's refilled tokens):
        :meth:`waits` reads it."""
        granted, tokens, other_full = self._run(
            _TAKE_AND_PEEK, self.take_and_peek_params(key, other, other_key))
        return granted, tokens, other_full

    def take_and_peek_params(self, key: str, other: SharedRateLimiter, other_key: str
                             ) -> dict[str, Any]:
        """The parameters of :data:`TAKE_AND_PEEK_CTE` (and of :meth:`take_and_peek`)."""
        return {"key": self.prefix + key, "burst": self.burst, "rate": self.rate,
                "take": 1.0, "other_key": other.prefix + other_key,
                "other_burst": other.burst, "other_rate": other.rate}

    def waits(self, granted: Any, tokens: Any, other_full: Any, other: SharedRateLimiter
              ) -> tuple[float, float]:
        """(seconds to wait for this bucket, for the other) from what
        :data:`TAKE_AND_PEEK_CTE` answers."""
        wait = 0.0 if granted else (1.0 - float(tokens)) / self.rate
        full = other.burst if other_full is None else float(other_full)
        return wait, 0.0 if full >= 1.0 else (1.0 - full) / other.rate

    def charge(self, key: str, tokens: float) -> None:
        if tokens <= 0:
            return
        self._run(_CHARGE, {"key": self.prefix + key, "burst": self.burst,
                            "rate": self.rate, "tokens": float(tokens)})

    def refund(self, key: str) -> None:
        self._run(_REFUND, {"key": self.prefix + key, "burst": self.burst})

    def prune(self) -> None:
        """Delete this limit's buckets that have filled up again."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(_PRUNE, {"prefix": self.prefix + "%", "rate": self.rate,
                                  "burst": self.burst})


def limiter(engine: Engine, name: str, rate: float, burst: float | None = None
            ) -> RateLimiter:
    """The limit ``name`` for the server on ``engine``: shared through the database on
    PostgreSQL, in this process on SQLite (which runs one server process)."""
    if engine.dialect.name == "postgresql":
        return SharedRateLimiter(engine, name, rate, burst)
    return RateLimiter(rate, burst)


async def wait_needed(limiter: RateLimiter, key: str, take: bool = True) -> float:
    """``limiter.wait_needed`` from async code: in a worker thread when it waits for
    the database, never blocking the event loop."""
    if limiter.blocking:
        return await run_in_threadpool(limiter.wait_needed, key, take)
    return limiter.wait_needed(key, take)


async def charge(limiter: RateLimiter, key: str, tokens: float) -> None:
    """``limiter.charge`` from async code (as :func:`wait_needed`)."""
    if limiter.blocking:
        await run_in_threadpool(limiter.charge, key, tokens)
    else:
        limiter.charge(key, tokens)
