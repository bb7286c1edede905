"""The monthly review: a supervisor over 20 grids, 200 workers, 100,000 households and a
year of visits, on the device and at the centre.

The same data set goes into a real encrypted device (bulk SQL, as a supervisor's device
holds it after pulling: households with known positions, the grids' visits with who
made them) and into a real central database (SQLite, sensitive columns sealed: people,
grids, households, ``visit.create`` and ``patrol.report`` records as pushed). About
300,000 visits: hardship and key households monthly, ordinary ones twice a year, one in
ten missed; a daily patrol per worker.

Timed, for the last full month (December 2026; the clock stands at 28 December):
``device_ms``: :func:`fieldclient.fieldwork.review.month_figures` (median of ROUNDS,
target <= 500 ms; ``device_past_month_ms``: September, once); ``centre_ms``:
``central report`` (``central.report.month_report`` and the JSON; median, target
<= 5 s) and ``centre_pdf_ms`` (the PDF, once). Prints one
JSON object. Beside each wall time, the process's CPU time (``*_cpu_ms``,
``time.process_time``): on a shared machine it moves less than the wall time.

Options: ``--rounds N`` (device rounds, default 5), ``--device-only`` (no centre),
``--keep DIR`` (build the device in DIR once and reuse it on later runs, unlocked
again: the same data, the seed is fixed), ``--profile FILE`` (one more device round
under cProfile, its statistics saved to FILE; not timed).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRIDFIELD_SECRET_STORE", "file")

from fieldclient.ids import new_id
from fieldclient.security import crypto
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import Session, setup_device, unlock_device

GRIDS = 20
WORKERS = 200
HOUSEHOLDS = 100_000
ROUNDS = 5
TARGET_DEVICE_MS = 500.0
TARGET_CENTRE_MS = 5000.0
DAY = 86400.0
PIN = "246810"
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 28, 10, tzinfo=ZONE).timestamp()
MONTH = "2026-12"
PAST_MONTH = "2026-09"  # a month gone by: last visits looked up before its end


def cheap_kdf() -> None:
    crypto.KdfParams.fresh = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls: cls(salt=os.urandom(16), memory_kib=1024, iterations=1, lanes=1)
    )


def data(rng: random.Random) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """(households, visits, patrols) as plain tuples."""
    start = NOW - 400 * DAY
    households = []
    for i in range(HOUSEHOLDS):
        category = rng.choice(["ordinary"] * 8 + ["hardship", "key"])
        created = start + rng.uniform(0, 380) * DAY
        grid = 1 + i % GRIDS
        households.append((f"h{i:06d}", grid, category, created,
                           29.9 + grid * 0.01 + rng.uniform(0, 0.008),
                           121.5 + rng.uniform(0, 0.008)))
    visits = []
    for hid, grid, category, created, lat, lon in households:
        every = 30 * DAY if category != "ordinary" else 180 * DAY
        t = max(created, NOW - 365 * DAY) + rng.uniform(0, every)
        while t < NOW:
            if rng.random() > 0.1:
                worker = 1 + (grid - 1) * 10 + rng.randrange(10)
                home = rng.random() < 0.7
                visits.append((new_id(t), hid, grid, worker, "home" if home else "phone", t,
                               f"{hid}：身体尚可，{rng.randrange(1000)}", lat if home else None,
                               lon if home else None))
            t += every * rng.uniform(0.8, 1.1)
    patrols = []
    for worker in range(1, WORKERS + 1):
        grid = 1 + (worker - 1) // 10
        for day in range(365):
            if rng.random() < 0.9:
                s = NOW - (day + 1) * DAY + rng.uniform(0, 6) * 3600
                patrols.append((new_id(s), worker, grid, s, s + rng.uniform(20, 120) * 60,
                                rng.uniform(500, 5000), rng.randint(5, 400)))
    return households, visits, patrols


def _fill(session: Session, households: list[tuple], visits: list[tuple]) -> None:
    """The supervisor's device as a pull leaves it (bulk SQL)."""
    with session.db.conn:
        db = session.db.conn
        db.execute("INSERT INTO meta (key, value) VALUES ('sync.person', ?)",
                   (json.dumps({"id": 999, "name": "督导"}),))
        db.execute("INSERT INTO meta (key, value) VALUES ('sync.grids', ?)",
                   (json.dumps([str(g) for g in range(1, GRIDS + 1)]),))
        db.executemany(
            "INSERT INTO households (id, grid_id, head_name, address, category, created_at,"
            " updated_at, lat, lon) VALUES (?, ?, '住户', '庄市街道', ?, ?, ?, ?, ?)",
            [(h, str(g), c, t, t, la, lo) for h, g, c, t, la, lo in households])
        # in time order: a device receives visits in the feed's order, the order
        # they reached the centre (rows of a month sit together, as on a tablet)
        db.executemany(
            "INSERT INTO visits (id, household_id, grid_id, person_id, visit_type,"
            " visited_at, situation, lat, lon, origin, worker, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'server', '网格员', ?)",
            [(v, h, str(g), str(w), k, t, s, la, lo, t)
             for v, h, g, w, k, t, s, la, lo in sorted(visits, key=lambda v: v[5])])


def device(households: list[tuple] | None, visits: list[tuple] | None, *, rounds: int,
           keep: Path | None, profile: Path | None
           ) -> tuple[list[float], list[float], float, float, float | None]:
    """(wall times, CPU times) of the month's rounds, the past month's (wall, CPU), the
    time the device took to take the data in (None: reused)."""
    from fieldclient.fieldwork import review

    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        path = keep or Path(tmp) / "device"
        load_s = None
        if keep is not None and (keep / "built").exists():
            session = unlock_device(path, PIN, clock=lambda: NOW)
        else:
            assert households is not None and visits is not None
            session = setup_device(path, PIN, store=FileSecretStore(path), clock=lambda: NOW)
            began = time.perf_counter()
            _fill(session, households, visits)
            load_s = time.perf_counter() - began
            if keep is not None:
                (keep / "built").write_text("bench/review.py device\n")
        walls, cpus = [], []
        for _ in range(rounds):
            began, cpu = time.perf_counter(), time.process_time()
            figures = review.month_figures(session, MONTH, now=NOW)
            cpus.append(time.process_time() - cpu)
            walls.append(time.perf_counter() - began)
        assert len(figures["workers"]) >= WORKERS, len(figures["workers"])
        began, cpu = time.perf_counter(), time.process_time()
        review.month_figures(session, PAST_MONTH, now=NOW)
        past_cpu = time.process_time() - cpu
        past = time.perf_counter() - began
        if profile is not None:
            profiler = cProfile.Profile()
            profiler.runcall(review.month_figures, session, MONTH, now=NOW)
            profiler.dump_stats(str(profile))
        session.close()
    return walls, cpus, past, past_cpu, load_s


def centre(households: list[tuple], visits: list[tuple], patrols: list[tuple]
           ) -> tuple[list[float], float, float]:
    from sqlalchemy import insert

    from central import db, report

    with tempfile.TemporaryDirectory(prefix="bench-review-centre-") as tmp:
        url = f"sqlite:///{tmp}/central.db"
        engine = db.make_engine(url)
        db.migrate(engine)
        began = time.perf_counter()
        with engine.begin() as conn:
            town = conn.execute(insert(db.org_units).values(
                level="town", name="庄市街道")).inserted_primary_key[0]
            for g in range(1, GRIDS + 1):
                conn.execute(insert(db.org_units).values(
                    id=g + 10, parent_id=town, level="grid", name=f"第{g}网格"))
            conn.execute(insert(db.people), [
                {"id": w, "name": f"网格员{w}", "role": "worker"} for w in range(1, WORKERS + 1)])
            conn.execute(insert(db.grid_assignments), [
                {"person_id": w, "grid_id": 10 + 1 + (w - 1) // 10}
                for w in range(1, WORKERS + 1)])
            conn.execute(insert(db.households), [
                {"id": h, "grid_id": g + 10, "head_name": "住户", "address": "庄市街道",
                 "category": c, "tags": [], "version": 1, "updated_seq": 0,
                 "registered_at": t, "lat": la, "lon": lo}
                for h, g, c, t, la, lo in households])
            rows = [{"kind": "visit.create", "id": v, "grid_id": g + 10, "device_id": "bench",
                     "person_id": w, "content_hash": "0" * 64, "seq": 0, "received_at": "",
                     "payload": {"id": v, "household_id": h, "visit_type": k, "visited_at": t,
                                 "situation": s, "lat": la, "lon": lo, "photos": []}}
                    for v, h, g, w, k, t, s, la, lo in visits]
            rows += [{"kind": "patrol.report", "id": p, "grid_id": g + 10,
                      "device_id": "bench", "person_id": w, "content_hash": "0" * 64,
                      "seq": 0, "received_at": "",
                      "payload": {"id": p, "started_at": s, "finished_at": f,
                                  "distance_m": d, "track_points": n}}
                     for p, w, g, s, f, d, n in patrols]
            for i in range(0, len(rows), 20_000):
                conn.execute(insert(db.records), rows[i:i + 20_000])
        load_s = time.perf_counter() - began
        times = []
        for _ in range(3):
            began = time.perf_counter()
            result = report.month_report(engine, MONTH, NOW)
            report.render(result, "json")
            times.append(time.perf_counter() - began)
        began = time.perf_counter()
        report.render(result, "pdf")
        pdf_s = time.perf_counter() - began
        engine.dispose()
    return times, pdf_s, load_s


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--device-only", action="store_true")
    parser.add_argument("--keep", type=Path, help="build the device here once, then reuse it")
    parser.add_argument("--profile", type=Path, help="cProfile statistics of one more round")
    args = parser.parse_args()
    cheap_kdf()
    reuse = args.keep is not None and (args.keep / "built").exists()
    households = visits = patrols = None
    if not (reuse and args.device_only):
        households, visits, patrols = data(random.Random(13))
        # The data set (hundreds of thousands of tuples, kept for the centre's part) is
        # the bench's, not the app's: out of the collector's sight, or every full
        # collection during a timed month walks it (a device-only run has none of it;
        # full-bench device times ran well above device-only ones).
        gc.freeze()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    walls, cpus, past_s, past_cpu, load_s = device(households, visits, rounds=args.rounds,
                                           keep=args.keep, profile=args.profile)
    device_ms = _ms(statistics.median(walls))
    out: dict[str, object] = {
        "grids": GRIDS, "workers": WORKERS, "households": HOUSEHOLDS,
        "visits": len(visits) if visits is not None else None,
        "patrols": len(patrols) if patrols is not None else None, "month": MONTH,
        "device_ms": device_ms, "device_runs_ms": [_ms(t) for t in walls],
        "device_cpu_ms": _ms(statistics.median(cpus)),
        "device_cpu_runs_ms": [_ms(t) for t in cpus],
        "device_target_ms": TARGET_DEVICE_MS, "device_ok": device_ms <= TARGET_DEVICE_MS,
        "device_past_month_ms": _ms(past_s), "device_past_month_cpu_ms": _ms(past_cpu),
        "device_load_s": None if load_s is None else round(load_s, 1),
    }
    if not args.device_only:
        assert households is not None and visits is not None and patrols is not None
        centre_times, pdf_s, load_s = centre(households, visits, patrols)
        centre_ms = _ms(statistics.median(centre_times))
        out.update({
            "centre_ms": centre_ms, "centre_runs_ms": [_ms(t) for t in centre_times],
            "centre_pdf_ms": _ms(pdf_s), "centre_target_ms": TARGET_CENTRE_MS,
            "centre_ok": centre_ms <= TARGET_CENTRE_MS, "centre_load_s": round(load_s, 1),
        })
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
