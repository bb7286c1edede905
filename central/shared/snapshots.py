"""A grid's first pull served from a compressed snapshot (issue 16, "first-day rollout").

On the first day every device of a grid pulls the whole grid: hundreds of households with
their members, a year of visits, in pages of up to 1,000 rows, each page ten queries. The
rows every device of a grid sees are the same, so the pull is built once per *view* (the
device's grids and its role: a supervisor's rows are masked, a reviewer's carry photo
hashes and the grid's devices and patrols) and feed position, and kept in
``pull_snapshots``: the gzip'd JSON of exactly the rows the normal pull hands out, sealed
like the centre's other data at rest (the key of the view is the associated data, so a
body moved to another view does not open), with ``cursor``, the feed position at its end.

A first pull (``after`` 0) finds the view's snapshot in the database (one look-up by
key; decoded once per process) or builds it; a later pull with ``after`` below the
cursor of the snapshot this process holds is served from it (no query to find it: a
device's usual pull costs what it did; a device's pages come over one connection, so to
one process). Served from a snapshot: the rows above ``after``, bounded as a normal page
(:func:`central.syncops._bounded`), without the device's own rows (its visits and
patrols, its own device row), plus, for a worker, its own reviews (the only rows that
differ between devices of one view). The page that reaches its end goes on with the
normal feed from the snapshot's cursor: every write after the snapshot comes that way.
The wire format is the normal pull's: devices need no change.

Each row is encoded once per snapshot (:func:`central.syncops.encode_change`, the bytes
the app's response model gives) and a page goes out as those bytes
(:class:`EncodedPage`): measured with 100 first pulls of 50 grids of 300 households,
validating and encoding every row again per device (pydantic), and sizing each with
``json.dumps``, took more server time than serving the rest of the page.

Why serving an older snapshot is right: a row's feed number only grows, so every row the
normal pull would give between ``after`` and the cursor is in the snapshot with the same
number and content; a row changed since is in it with its older content and follows
above the cursor with the new (what a device that synced then would have had).

A snapshot is reused while younger than ``reuse_seconds`` (the devices' sync interval), or
while nothing newer is in its view's feed; otherwise the next first pull builds it again.
Building takes the view's lock (a PostgreSQL advisory lock across ``--workers``
processes, a thread lock within one): the devices that asked meanwhile get the one built.
A stored body that does not open, inflate or parse (or is another view's) is never
served: the first pull that finds it builds it again.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import logging
import threading
import time
import zlib
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from central import db, reviews, syncops
from central.atrest import AtRestError
from central.fastpath import noop
from sync import protocol

log = logging.getLogger("central.snapshots")

REUSE_SECONDS = 300.0  # a device's sync interval: no staler than a device that just synced
# decoded snapshots kept per process (a grid's devices come together): at most this many
# rows in all (~2 KB each decoded), the most recently used first
CACHE_ROWS = 100_000
MAX_BUILDS = 4  # builds at once per process: each holds two connections of the pool
FORMAT = 1
GZIP_LEVEL = 3  # a 300-household grid: 68 KB in 2 ms (level 6: 60 KB in 4 ms)
COLLECT_ROWS = 20_000  # rows of each kind per statement while building


@dataclass(frozen=True)
class View:
    """What the snapshot is built as: a device of these grids and role that is no device
    and no person (so nobody's own rows are left out, and no worker's reviews are in)."""

    grids: tuple[int, ...]
    role: str
    device_id: str = ""
    person_id: int = 0


@dataclass(frozen=True)
class Snapshot:
    """A view's rows by sequence number, each as a page's JSON carries it."""

    key: str
    cursor: int
    built_at: float
    seqs: list[int]
    whose: list[str | None]  # the device whose row it is (left out for that device)
    sizes: list[int]  # its bytes: syncops.wire_size, counted against a page's bytes
    wire: list[bytes]  # syncops.encode_change: encoded once, sent to every device

    def __len__(self) -> int:
        return len(self.seqs)


@dataclass(frozen=True)
class EncodedPage:
    """A pull page whose rows are JSON already: the app sends it as it is, the bytes
    its response model (``PullOut``) would give, instead of validating and encoding
    every row again for every device (a first pull's page of 300 households cost more
    to encode than the rest of its request)."""

    changes: list[bytes]
    next_after: int
    has_more: bool
    grids: list[dict[str, Any]]

    def body(self, server_time: str, unix_time: float) -> bytes:
        tail = to_json({"next_after": self.next_after, "has_more": self.has_more,
                        "grids": self.grids, "server_time": server_time,
                        "unix_time": unix_time})
        return b'{"changes":[' + b",".join(self.changes) + b"]," + tail[1:]

    def decoded(self) -> dict[str, Any]:
        """The page as :func:`central.syncops.pull` gives it (as JSON carries it)."""
        return {"changes": [json.loads(c) for c in self.changes],
                "next_after": self.next_after, "has_more": self.has_more,
                "grids": self.grids}


def view_key(role: str, grids: tuple[int, ...]) -> str:
    """``role:grid,grid,...``; past 200 characters of grids (a supervisor of a whole
    district) their SHA-256 instead, so the key fits its column."""
    listed = ",".join(str(g) for g in sorted(grids))
    if len(listed) > 200:
        listed = "sha256-" + hashlib.sha256(listed.encode()).hexdigest()
    return f"{role}:{listed}"


def _ad(key: str) -> str:
    return f"pull_snapshots.body:{key}"


class Snapshots:
    """The first-pull snapshots of one server process over ``engine``."""

    def __init__(self, engine: Engine, reuse_seconds: float = REUSE_SECONDS,
                 warm: bool = True) -> None:
        self.engine = engine
        self.reuse_seconds = reuse_seconds
        self.warm = warm  # prewarm builds (else it does nothing)
        self._cache: OrderedDict[str, Snapshot] = OrderedDict()
        self._cached_rows = 0
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._builds = threading.BoundedSemaphore(MAX_BUILDS)
        self._warming: set[str] = set()
        self._warmer: ThreadPoolExecutor | None = None

    # -- warming ---------------------------------------------------------------------

    def prewarm(self, device: Any) -> None:
        """Find or build the snapshot of a just-enrolled device's view in the background.

        A device enrolls, then pulls its grids from 0; on a rollout day a room of them
        does so at once. A build is ~30 ms of Python (opening each sealed field of 300
        households and their members), all under one process's GIL, so 50 grids' builds
        took longer than the 2 s the first pulls may take; begun at enrollment, the
        first pull finds the snapshot (or waits for the build under way, as it would
        for another device's). Nothing is done for a view whose snapshot this process
        holds fresh or is warming already; one build at a time (the enrollments and
        pulls go on meanwhile)."""
        grids = tuple(sorted(int(g) for g in device.grids))
        if not grids or not self.warm:
            return
        view = View(grids=grids, role=str(device.role))
        key = view_key(view.role, grids)
        with self._lock:
            snap = self._cache.get(key)
            if key in self._warming or (
                    snap is not None and time.time() - snap.built_at < self.reuse_seconds):
                return
            self._warming.add(key)
            if self._warmer is None:
                self._warmer = ThreadPoolExecutor(1, thread_name_prefix="snapshot-warm")
            warmer = self._warmer
        warmer.submit(self._warm, view, key)

    def _warm(self, view: View, key: str) -> None:
        try:
            self._current(view)
        except Exception as exc:  # a first pull builds it then (and says why, if again)
            log.warning("pull snapshot %s not warmed: %s", key, exc)
        finally:
            with self._lock:
                self._warming.discard(key)

    def close(self) -> None:
        """Wait for the build under way, drop the queued ones (at shutdown)."""
        with self._lock:
            warmer, self._warmer = self._warmer, None
        if warmer is not None:
            warmer.shutdown(wait=True, cancel_futures=True)

    # -- serving ---------------------------------------------------------------------

    def pull(self, device: Any, after: int, limit: int) -> dict[str, Any]:
        """The page :func:`central.syncops.pull` would give ``device``, from a snapshot
        where one serves (a first pull builds it), else from the feed."""
        page = self.page(device, after, limit)
        return page.decoded() if isinstance(page, EncodedPage) else page

    def page(self, device: Any, after: int, limit: int) -> dict[str, Any] | EncodedPage:
        """:meth:`pull`'s page, encoded already where it comes from a snapshot."""
        grids = tuple(sorted(int(g) for g in device.grids))
        if not grids:
            return syncops.pull(self.engine, device, after, limit)
        view = View(grids=grids, role=str(device.role))
        if after > 0:  # the next page of a first pull, or a device's usual pull
            with self._lock:  # no query for it: a usual pull stays as cheap as it was
                snap = self._cache.get(view_key(view.role, grids))
                if snap is not None:
                    self._cache.move_to_end(snap.key)
            if snap is None or after >= snap.cursor:
                return syncops.pull(self.engine, device, after, limit)
            return self._serve(snap, device, grids, after, limit)
        try:
            snap = self._current(view)
        except (AtRestError, TypeError, ValueError) as exc:  # never worse than no snapshot
            log.warning("pull snapshot of %s not used: %s", view_key(view.role, grids), exc)
            snap = None
        if snap is None:
            return syncops.pull(self.engine, device, after, limit)
        return self._serve(snap, device, grids, after, limit)

    def _serve(self, snap: Snapshot, device: Any, grids: tuple[int, ...], after: int,
               limit: int) -> dict[str, Any] | EncodedPage:
        """The rows above ``after`` but the device's own, with a worker's own reviews,
        bounded as :func:`central.syncops._bounded` bounds a page."""
        me = device.device_id
        start = bisect_right(snap.seqs, after)
        rows: Iterable[tuple[int, int, bytes]] = (
            (snap.seqs[i], snap.sizes[i], snap.wire[i])
            for i in range(start, len(snap)) if snap.whose[i] != me)
        with self.engine.connect() as conn:
            names = syncops._grid_names(conn, grids)
            if device.role not in protocol.REVIEW_ROLES:  # a worker's own reviews
                own = reviews.reviews_page(conn, device, grids, after, limit + 1,
                                           snap.cursor + 1)
                if own:
                    rows = heapq.merge(rows, [
                        (int(c["seq"]), syncops.wire_size(c), syncops.encode_change(c))
                        for c in own], key=lambda row: row[0])
        page: list[bytes] = []
        last = after
        size = 0
        for seq, row_size, wire in rows:
            if page and seq != last and (len(page) >= limit
                                         or size >= protocol.MAX_PULL_BYTES):
                return EncodedPage(page, last, True, names)  # more of the snapshot
            size += row_size
            page.append(wire)
            last = seq
        if not page:
            return syncops.pull(self.engine, device, snap.cursor, limit)
        # the snapshot's end: the page goes on with the feed from its cursor (or, full,
        # says has_more, and the next pull is the feed's). First one statement, the
        # no-op look: anything after the snapshot? Usually not (the feed's ten
        # statements cost more than the page), and the cursor moves to the look's head
        # (central/fastpath/noop.py: no row up to it can come later)
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            newer, head = noop.look(conn, device, grids, snap.cursor)
        if not newer:
            return EncodedPage(page, max(snap.cursor, head), False, names)
        if len(page) >= limit:
            return EncodedPage(page, snap.cursor, True, names)
        rest = syncops.pull(self.engine, device, snap.cursor, limit - len(page))
        return EncodedPage([*page, *map(syncops.encode_change, rest["changes"])],
                           int(rest["next_after"]), bool(rest["has_more"]),
                           rest.get("grids", names))

    # -- finding, building -----------------------------------------------------------

    def _row(self, key: str) -> Any:
        s = db.pull_snapshots
        with self.engine.connect() as conn:
            return conn.execute(select(s.c.cursor, s.c.built_at)
                                .where(s.c.key == key)).first()

    def _current(self, view: View) -> Snapshot | None:
        """The view's snapshot for a first pull: the one stored while fresh, else built."""
        key = view_key(view.role, view.grids)
        row = self._row(key)
        if row is not None:
            snap = self._load(key, int(row.cursor), float(row.built_at))
            if snap is not None and self._fresh(view, snap):
                return snap
        return self._build(view, key, None if row is None else float(row.built_at))

    def _fresh(self, view: View, snap: Snapshot) -> bool:
        if time.time() - snap.built_at < self.reuse_seconds:
            return True
        return not syncops.pull(self.engine, view, snap.cursor, 1)["changes"]

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _build(self, view: View, key: str, seen: float | None) -> Snapshot | None:
        """Build the view's snapshot in place of the one built at ``seen`` (None: none
        was stored), unless another build replaced it meanwhile."""
        with self._key_lock(key), self._builds:
            try:
                return self._build_locked(view, key, seen)
            except IntegrityError:  # SQLite shared by two processes: theirs came first
                row = self._row(key)
                return None if row is None else self._load(key, int(row.cursor),
                                                            float(row.built_at))

    def _build_locked(self, view: View, key: str, seen: float | None) -> Snapshot | None:
        with self.engine.begin() as conn:
            db.lock_key(conn, "pull_snapshot:" + key)
            s = db.pull_snapshots
            row = conn.execute(select(s.c.cursor, s.c.built_at, s.c.builds)
                               .where(s.c.key == key)).first()
            # built while we waited (by a build that began before our look, too: a
            # build time is taken before its row is written)
            if row is not None and float(row.built_at) != seen:
                snap = self._load(key, int(row.cursor), float(row.built_at))
                if snap is not None:
                    return snap
            entries, cursor = self._collect(view)
            built_at = time.time()
            snap = _snapshot(key, cursor, built_at, entries)
            body = b"".join((
                b'{"format":%d,"key":%s,"cursor":%d,"entries":[' % (
                    FORMAT, to_json(key), cursor),
                b",".join(b"[%s,%s]" % (to_json(w), c) for w, c in zip(
                    snap.whose, snap.wire, strict=True)),
                b"]}"))
            sealed = db.keyring(conn).seal(gzip.compress(body, GZIP_LEVEL), _ad(key))
            values = {"cursor": cursor, "built_at": built_at, "body": sealed}
            if row is None:
                conn.execute(insert(s).values(key=key, builds=1, **values))
            else:
                conn.execute(update(s).where(s.c.key == key)
                             .values(builds=s.c.builds + 1, **values))
        log.info("pull snapshot %s built: %d rows to %d, %d bytes sealed",
                 key, len(snap), cursor, len(sealed))
        return self._remember(snap)

    def _collect(self, view: View) -> tuple[list[tuple[str | None, dict[str, Any]]], int]:
        """Every page of the normal pull as ``view``, and the cursor at their end, each
        row with the device it is whose (left out for that device when served)."""
        changes: list[dict[str, Any]] = []
        after = 0
        while True:  # no byte bound: the snapshot is served in pages, never whole
            page = syncops.pull(self.engine, view, after, COLLECT_ROWS, max_bytes=None)
            changes += page["changes"]
            after = int(page["next_after"])
            if not page["has_more"] or not page["changes"]:
                break
        visits = [c["id"] for c in changes if c["kind"] == "visit"]
        senders: dict[str, str] = {}
        r = db.records
        with self.engine.connect() as conn:
            for start in range(0, len(visits), 500):
                senders.update((str(i), str(d)) for i, d in conn.execute(
                    select(r.c.id, r.c.device_id).where(
                        r.c.kind == "visit.create", r.c.id.in_(visits[start:start + 500]))))
        entries: list[tuple[str | None, dict[str, Any]]] = []
        for change in changes:
            kind = change["kind"]
            whose: str | None = None
            if kind == "visit":
                whose = senders.get(str(change["id"]))
            elif kind == "patrol":
                whose = change["data"].get("device_id")
            elif kind == "device":
                whose = str(change["id"])
            entries.append((whose, change))
        return entries, after

    # -- the decoded snapshots ------------------------------------------------------------

    def _remember(self, snap: Snapshot) -> Snapshot:
        with self._lock:
            self._cache[snap.key] = snap
            self._cache.move_to_end(snap.key)
            self._cached_rows = sum(len(c) for c in self._cache.values())
            while len(self._cache) > 1 and self._cached_rows > CACHE_ROWS:
                _key, dropped = self._cache.popitem(last=False)
                self._cached_rows -= len(dropped)
        return snap

    def _load(self, key: str, cursor: int, built_at: float) -> Snapshot | None:
        """The snapshot stored for ``key`` (cached once decoded), or None when its body
        is damaged, altered or not this key's."""
        with self._lock:
            snap = self._cache.get(key)
        if snap is not None and snap.cursor == cursor and snap.built_at == built_at:
            return snap
        s = db.pull_snapshots
        with self.engine.connect() as conn:
            row = conn.execute(select(s.c.cursor, s.c.built_at, s.c.body)
                               .where(s.c.key == key)).first()
            ring = db.keyring(conn)
        if row is None:
            return None
        cursor, built_at = int(row.cursor), float(row.built_at)
        try:
            doc = json.loads(gzip.decompress(ring.open(row.body, _ad(key))))
            if (not isinstance(doc, dict) or doc.get("format") != FORMAT
                    or doc.get("key") != key or doc.get("cursor") != cursor):
                raise ValueError("not this snapshot")
            entries: list[tuple[str | None, dict[str, Any]]] = []
            for whose, change in doc["entries"]:
                if not (whose is None or isinstance(whose, str)) or not isinstance(
                        change, dict) or not isinstance(change.get("seq"), int):
                    raise ValueError("a row is damaged")
                entries.append((whose, change))
            snap = _snapshot(key, cursor, built_at, entries)
        except (AtRestError, OSError, EOFError, zlib.error, ValueError, TypeError,
                KeyError, AttributeError) as exc:
            log.warning("pull snapshot %s is damaged, not served: %s", key, exc)
            return None
        return self._remember(snap)


def _snapshot(key: str, cursor: int, built_at: float,
              entries: list[tuple[str | None, dict[str, Any]]]) -> Snapshot:
    """The snapshot of ``entries`` (whose row, change; by sequence number), each row
    encoded once for every page it will be in."""
    wire = [syncops.encode_change(c) for _w, c in entries]
    return Snapshot(key, cursor, built_at, [int(c["seq"]) for _w, c in entries],
                    [w for w, _c in entries], [len(w) for w in wire], wire)
