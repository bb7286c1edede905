"""A worker's day of field work through a rural 2G link (issue 11).

A real device (SQLCipher vault, cheap Argon2) enrolled to a seeded demo grid of a real
``central serve`` on loopback talks to it through :class:`tests.shaping_proxy.ShapingProxy`:
a serial link of limited bandwidth each way, a round-trip time, and connections reset
at a random point (see tests/shaping_proxy.py for the model).

Per link, on a fresh server and device:

1. The device is enrolled against the proxy's URL (so every later request of its
   transport, made by ``sync.engine.transport_for`` from the enrollment, goes through
   the proxy), with the proxy unshaped; it makes one sync on that clean fast link and
   so holds its grid's data before the day starts.
2. The day's work: ``fieldclient.fieldwork.simulate.simulate`` (by default 40 visits,
   2 patrols, 30 photos, 5 event reports). Payload bytes: the JSON payloads of the
   pending outbox ops (records) plus the photos' sizes (blobs).
3. The proxy is shaped (same port; open connections reset, statistics zeroed) and
   ``SyncEngine(session).run_once()`` runs until nothing is left (``ok``, no pending op,
   no photo waiting), at most MAX_SYNCS syncs and MAX_SECONDS of wall time (then the
   run is cancelled, as the app does on lock, and the link is reported not completed).
   A sync that fails (``report.ok`` false) counts. The engine's own retry pauses are
   kept, only cut short when the time is up.
4. Exactly once at the centre (the server's database): every record op of the device
   in ``records`` (kind, id) once and nothing else from the device, every event report
   in ``events`` once, every photo's SHA-256 in ``photos`` with its size.

Figures per link: wire bytes (through the proxy, both ways) ÷ payload bytes; wall time
÷ floor (payload bytes ÷ bandwidth); syncs; completed; exactly once. Targets (issue 11):
clean wire_ratio <= 1.15 and time_ratio <= 1.3; every link completes, cut40k within 10
syncs; exactly once everywhere. Prints one JSON object.

``--quick`` (or GRIDFIELD_NETWORK_QUICK=1): a small day (10 visits, 1 patrol, 5 photos,
1 event); ``--visits/--patrols/--photos/--events`` set the day, ``--links`` picks links,
``--max-syncs``/``--max-seconds`` the caps (also GRIDFIELD_NETWORK_MAX_SYNCS /
GRIDFIELD_NETWORK_MAX_SECONDS).

From a test (a LiveServer from ``tests/sync/sync_helpers.launch`` or ``_support.serve``,
cheap Argon2 already set)::

    sys.path.insert(0, str(REPO / "bench"))
    from network import LINKS, QUICK_DAY, run_link
    result = run_link(server, tmp_path / "dev", LINKS["cut120k"], QUICK_DAY, max_syncs=10)
    assert result["completed"] and result["exactly_once"]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import PIN, LiveServer, cheap_kdf, log, serve, workdir
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from shaping_proxy import ShapingProxy

from central import ops
from fieldclient.fieldwork.enrollment import enrollment
from fieldclient.fieldwork.simulate import simulate
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import Session, setup_device
from sync.engine import SyncEngine, SyncReport, enroll_device

MAX_SYNCS = 30
MAX_SECONDS = 600.0
TARGET_CLEAN_WIRE_RATIO = 1.15
TARGET_CLEAN_TIME_RATIO = 1.3
TARGET_CUT40K_SYNCS = 10


@dataclass(frozen=True)
class Link:
    """A link model for :class:`ShapingProxy`: bits/s each way, round trip (s), cuts."""

    name: str
    bandwidth_bps: float
    rtt: float
    cut_before: int | None = None
    cut_min: int = 0


LINKS: dict[str, Link] = {link.name: link for link in (
    Link("clean", 200_000, 0.5),
    Link("cut120k", 150_000, 0.5, cut_before=120_000),
    Link("cut40k", 150_000, 0.5, cut_before=40_000),
)}


@dataclass(frozen=True)
class Day:
    """How much work a day makes (``simulate``'s arguments)."""

    visits: int = 40
    patrols: int = 2
    photos: int = 30
    events: int = 5


FULL_DAY = Day()
QUICK_DAY = Day(visits=10, patrols=1, photos=5, events=1)


@dataclass
class Payload:
    """The day's work as it waits on the device."""

    ops: list[tuple[str, str, str]] = field(default_factory=list)  # op id, kind, record id
    photos: dict[str, int] = field(default_factory=dict)  # sha256 -> size
    record_bytes: int = 0
    photo_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return self.record_bytes + self.photo_bytes


@dataclass
class SyncRun:
    """What the syncs through the shaped link did."""

    syncs: int = 0
    failed: int = 0
    seconds: float = 0.0
    completed: bool = False
    timed_out: bool = False
    errors: dict[str, int] = field(default_factory=dict)  # error code -> syncs


def make_day(session: Session, day: Day, seed: int) -> Payload:
    """Make the day's work on the device and measure what it has to send: the JSON
    payloads of the pending outbox ops and the sizes of the photos made."""
    before = {r[0] for r in session.db.execute("SELECT blob_id FROM blobs")}
    simulate(session, visits=day.visits, patrols=day.patrols, photos=day.photos,
             events=day.events, seed=seed)
    payload = Payload()
    for op_id, kind, record_id, body in session.db.execute(
            "SELECT op_id, kind, record_id, payload FROM outbox WHERE state = 'pending'"
            " ORDER BY rowid"):
        payload.ops.append((str(op_id), str(kind), str(record_id)))
        payload.record_bytes += len(str(body).encode("utf-8"))
    for blob_id, sha, size in session.db.execute("SELECT blob_id, sha256, size FROM blobs"):
        if blob_id not in before:
            payload.photos[str(sha)] = int(size)
    payload.photo_bytes = sum(payload.photos.values())
    return payload


def sync_until_done(session: Session, *, max_syncs: int = MAX_SYNCS,
                    max_seconds: float = MAX_SECONDS,
                    on_timeout: Any = None) -> SyncRun:
    """``run_once`` until nothing is left to send, within ``max_syncs`` syncs and
    ``max_seconds``. When the time is up the run in progress is cancelled (the engine
    stops at its next step; its retry pauses end at once) and ``on_timeout()`` is
    called (e.g. to reset the proxy's connections), so this never hangs."""
    stop = threading.Event()
    engine = SyncEngine(session, cancel=stop)

    def pause(seconds: float) -> None:  # the engine's own retry pauses, cut short at the end
        stop.wait(seconds)

    engine.retry.sleep = pause

    def time_up() -> None:
        stop.set()
        if on_timeout is not None:
            on_timeout()

    run = SyncRun()
    timer = threading.Timer(max_seconds, time_up)
    timer.daemon = True
    start = time.monotonic()
    timer.start()
    try:
        while run.syncs < max_syncs and not stop.is_set():
            report: SyncReport = engine.run_once()
            run.syncs += 1
            if not report.ok:
                run.failed += 1
                code = ("cancelled" if report.cancelled
                        else str(getattr(report.error, "code", "error")))
                run.errors[code] = run.errors.get(code, 0) + 1
                log(f"  sync {run.syncs}: failed ({code}), {report.pending} ops and "
                    f"{report.photos_waiting} photos waiting")
            if report.wiped:
                break
            if report.ok and report.pending == 0 and report.photos_waiting == 0:
                run.completed = True
                break
    finally:
        timer.cancel()
        run.seconds = time.monotonic() - start
        run.timed_out = stop.is_set() and not run.completed
        transport = getattr(engine, "_transport", None)
        if transport is not None and hasattr(transport, "close"):
            transport.close()
    return run


def check_exactly_once(server_db: Engine, device_id: str, payload: Payload) -> dict[str, Any]:
    """The centre holds each of the device's records once and nothing more from it,
    each event report once in ``events``, and every photo (by SHA-256, with its size)."""
    records_once = events_once = photos_stored = 0
    with server_db.connect() as conn:
        for _op_id, kind, record_id in payload.ops:
            n: int = conn.execute(text(
                "SELECT count(*) FROM records WHERE kind = :k AND id = :i AND device_id = :d"),
                {"k": kind, "i": record_id, "d": device_id}).scalar_one()
            records_once += int(n == 1)
            if kind == "event.report":
                n = conn.execute(text("SELECT count(*) FROM events WHERE id = :i"),
                                 {"i": record_id}).scalar_one()
                events_once += int(n == 1)
        from_device: int = conn.execute(text("SELECT count(*) FROM records WHERE device_id = :d"),
                                   {"d": device_id}).scalar_one()
        for sha, size in payload.photos.items():
            stored = conn.execute(text("SELECT size FROM photos WHERE sha256 = :s"),
                                  {"s": sha}).first()
            photos_stored += int(stored is not None and int(stored[0]) == size)
    events = sum(1 for _o, kind, _r in payload.ops if kind == "event.report")
    return {
        "records_expected": len(payload.ops),
        "records_once": records_once,
        "records_from_device": int(from_device),
        "events_expected": events,
        "events_once": events_once,
        "photos_expected": len(payload.photos),
        "photos_stored": photos_stored,
        "exactly_once": (records_once == len(payload.ops) == from_device
                         and events_once == events and photos_stored == len(payload.photos)),
    }


def run_link(server: LiveServer, data_dir: Path, link: Link, day: Day = FULL_DAY, *,
             person_id: int | None = None, seed: int = 11, max_syncs: int = MAX_SYNCS,
             max_seconds: float = MAX_SECONDS) -> dict[str, Any]:
    """One device's day through ``link`` against ``server`` (see the module docstring);
    the figures as a dict. ``person_id``: the worker to enroll (default: the first
    worker of the first demo grid). Needs cheap Argon2 parameters set by the caller
    (``_support.cheap_kdf()`` or the tests' fixture) to be quick."""
    if person_id is None:
        person_id = int(server.demo["grids"][0]["workers"][0])
    upstream = urlsplit(server.base)
    assert upstream.hostname is not None and upstream.port is not None
    with ShapingProxy(upstream.hostname, upstream.port, bandwidth_bps=None,
                      seed=seed) as proxy:
        # Enrolled against the proxy's URL, unshaped: the device's transport goes
        # through the proxy from now on; the first sync brings the grid's data.
        session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
        try:
            code = ops.create_enrollment_code(server.engine, person_id)["code"]
            enroll_device(session, proxy.url, code, f"平板-{link.name}")
            info = enrollment(session)
            assert info is not None
            first = SyncEngine(session).run_once()
            if not first.ok:
                raise RuntimeError(f"first sync on a clean link failed: {first.as_dict()}")
            payload = make_day(session, day, seed)
            # The same port, shaped from now on; keep-alive connections of the first
            # sync are reset so every connection of the day draws its cut point.
            proxy.shape(link.bandwidth_bps, rtt=link.rtt, cut_before=link.cut_before,
                        cut_min=link.cut_min, seed=seed)
            proxy.drop_connections()
            proxy.reset_stats()
            run = sync_until_done(session, max_syncs=max_syncs, max_seconds=max_seconds,
                                  on_timeout=proxy.drop_connections)
            wire = proxy.bytes_up + proxy.bytes_down
            connections, cuts = proxy.connections, proxy.cuts
            bytes_up, bytes_down = proxy.bytes_up, proxy.bytes_down
            check = check_exactly_once(server.engine, info.device_id, payload)
        finally:
            try:
                session.close()
            except Exception:  # already closed (a wiped device)
                pass
    floor = payload.total_bytes / (link.bandwidth_bps / 8)
    result: dict[str, Any] = {
        "link": asdict(link),
        "payload_bytes": payload.total_bytes,
        "record_bytes": payload.record_bytes,
        "photo_bytes": payload.photo_bytes,
        "wire_bytes": wire,
        "wire_bytes_up": bytes_up,
        "wire_bytes_down": bytes_down,
        "wire_ratio": round(wire / payload.total_bytes, 3),
        "floor_seconds": round(floor, 2),
        "seconds": round(run.seconds, 2),
        "time_ratio": round(run.seconds / floor, 3),
        "syncs": run.syncs,
        "failed_syncs": run.failed,
        "sync_errors": run.errors,
        "timed_out": run.timed_out,
        "connections": connections,
        "cuts": cuts,
        "completed": run.completed,
        **check,
    }
    result["ok"] = link_ok(link.name, result)
    return result


def link_ok(name: str, r: dict[str, Any]) -> bool:
    """The issue's targets for one link."""
    ok = bool(r["completed"] and r["exactly_once"])
    if name == "clean":
        ok = (ok and r["wire_ratio"] <= TARGET_CLEAN_WIRE_RATIO
              and r["time_ratio"] <= TARGET_CLEAN_TIME_RATIO)
    if name == "cut40k":
        ok = ok and r["syncs"] <= TARGET_CUT40K_SYNCS
    return ok


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        default=env("GRIDFIELD_NETWORK_QUICK", "") not in ("", "0"),
                        help="a small day: 10 visits, 1 patrol, 5 photos, 1 event")
    for name in ("visits", "patrols", "photos", "events"):
        parser.add_argument(f"--{name}", type=int, default=None)
    parser.add_argument("--links", default=",".join(LINKS),
                        help=f"comma-separated, of {', '.join(LINKS)}")
    parser.add_argument("--max-syncs", type=int,
                        default=int(env("GRIDFIELD_NETWORK_MAX_SYNCS", MAX_SYNCS)))
    parser.add_argument("--max-seconds", type=float,
                        default=float(env("GRIDFIELD_NETWORK_MAX_SECONDS", MAX_SECONDS)))
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    base = QUICK_DAY if args.quick else FULL_DAY
    day = Day(**{k: getattr(args, k) if getattr(args, k) is not None else v
                 for k, v in asdict(base).items()})
    names = [n.strip() for n in args.links.split(",") if n.strip()]
    unknown = [n for n in names if n not in LINKS]
    if unknown:
        parser.error(f"unknown links: {', '.join(unknown)}")

    cheap_kdf()
    links: dict[str, Any] = {}
    for name in names:
        log(f"link {name}: {asdict(LINKS[name])}")
        with workdir(f"gridfield-bench-net-{name}-") as work, \
                serve(work, grids=1, households_per_grid=30) as server:
            links[name] = run_link(server, work / "device", LINKS[name], day, seed=args.seed,
                                   max_syncs=args.max_syncs, max_seconds=args.max_seconds)
        log(f"link {name}: {json.dumps(links[name], ensure_ascii=False)}")
    first = next(iter(links.values()), None)
    out = {
        "benchmark": "network",
        "day": {**asdict(day),
                "records": first["records_expected"] if first else None,
                "record_bytes": first["record_bytes"] if first else None,
                "photo_bytes": first["photo_bytes"] if first else None},
        "caps": {"max_syncs": args.max_syncs, "max_seconds": args.max_seconds},
        "links": {name: {k: r[k] for k in (
            "wire_bytes", "payload_bytes", "wire_ratio", "floor_seconds", "seconds",
            "time_ratio", "syncs", "failed_syncs", "connections", "cuts", "completed",
            "timed_out", "exactly_once", "records_once", "records_expected",
            "photos_stored", "photos_expected", "sync_errors", "ok")}
            for name, r in links.items()},
        "targets": {
            "clean_wire_ratio_max": TARGET_CLEAN_WIRE_RATIO,
            "clean_time_ratio_max": TARGET_CLEAN_TIME_RATIO,
            "every_link_completes": True,
            "cut40k_max_syncs": TARGET_CUT40K_SYNCS,
            "exactly_once": True,
        },
        "ok": bool(links) and all(r["ok"] for r in links.values()),
    }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
