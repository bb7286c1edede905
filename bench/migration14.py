"""Centre migration 14 (review figures) on a large centre: a version-13 database (sealed
payloads, its key file) with VISITS stored visits (and a patrol report per PATROL_EVERY
visits, an event report per EVENT_EVERY), records as version 13's push stored them
(without ``happened_at``, ``household_id``, ``counted``), upgraded by real ``central``
processes, on SQLite and on a throw-away PostgreSQL server.

Per backend and size, each a ``central`` child reporting its own peak memory (VmHWM):

- ``report_unfilled``: ``central report`` for one month right after migration 14's
  schema change, before any batch of its backfill (the worst case: every record's
  columns missing, so the report opens every visit's payload to know when it was);
- ``migrate``: ``central init`` running the backfill ``14.records`` to its end (the
  schema change was done by the step before);
- ``report_filled``: the same report once the columns are there;
- ``idle``: a ``central init`` with nothing to do (the interpreter and its imports).

and the payloads' size (what a migration loading them all at once holds, several times
over as Python objects). With ``--old-repo`` (a checkout whose migration 14 fills the
columns in its own transaction, e.g. ``git worktree add /tmp/old 078c4fd``), the same
database is first migrated by that code too, on a copy (SQLite only), for comparison.
Each size is also run at a tenth (``--scales``): memory that stays flat while the data
grows tenfold is bounded by the batch. ``ok``: every record's columns are what its
payload says, no backfill left, both reports equal, the memory flat. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import REPO, log, pg_server, workdir
from sqlalchemy import Engine, MetaData, Table, insert, select, text

from central import db
from sync import protocol

VISITS = 300_000
WORKERS = 2000
PER_GRID = 20  # workers per grid (and a leader)
HOUSEHOLDS_PER_GRID = 200
PATROL_EVERY = 10  # a patrol report per this many visits
EVENT_EVERY = 50  # an event report per this many visits
CHUNK = 5000  # records stored per transaction while building
MONTH = "2025-06"
T0 = datetime(2025, 1, 1, tzinfo=UTC).timestamp()  # the records span 2025
SPAN = 365 * 86400.0
NS = uuid.UUID("0b7e1f14-0000-4000-8000-000000000014")

V14_COLUMNS = {"records": ("happened_at", "household_id", "counted"),
               "households": ("lat", "lon")}
V14_INDEXES = ("ix_records_happened", "ix_records_visit_household")
RECORDS_V13, HOUSEHOLDS_V13 = (
    Table(t.name, MetaData(), *(c._copy() for c in t.columns
                                if c.name not in V14_COLUMNS[t.name]))
    for t in (db.records, db.households))


def uid(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(map(str, parts))))


def review_records(n: int, worker: dict[str, Any], home: str) -> list[dict[str, Any]]:
    """Visit ``n`` (and the patrol or event report that comes with it)."""
    when = T0 + (n * 7_777_777.7) % SPAN  # spread over the year
    vid = uid("visit", n)
    out = [{"kind": "visit.create", "id": vid, "payload": {
        "id": vid, "household_id": home, "grid_id": str(worker["grid"]),
        "visit_type": ("home", "phone", "revisit")[n % 3], "visited_at": when,
        "situation": f"入户走访第{n}次，家中情况稳定，老人身体健康。", "needs": "无",
        "follow_up": "", "photos": [], "lat": 29.95 + (n % 997) * 1e-5, "lon": 121.58,
        "accuracy_m": 8.0, "device_id": worker["device"],
        **({"training": True} if n % 97 == 0 else {})}}]
    if n % PATROL_EVERY == 0:
        pid = uid("patrol", n)
        out.append({"kind": "patrol.report", "id": pid, "payload": {
            "id": pid, "patrol_id": pid, "grid_id": str(worker["grid"]),
            "started_at": when, "finished_at": when + 3600, "distance_m": 1500.0,
            "track_points": 600, "device_id": worker["device"],
            "worker_id": worker["person"]}})
    if n % EVENT_EVERY == 0:
        eid = uid("event", n)
        out.append({"kind": "event.report", "id": eid, "payload": {
            "id": eid, "grid_id": str(worker["grid"]), "category": "公共设施",
            "description": "路灯不亮", "reported_at": when}})
    return out


def build_v13(url: str, key_file: Path, visits: int) -> dict[str, Any]:
    """A version-13 centre with ``visits`` stored visits; returns what was stored."""
    engine = db.make_engine(url, key_file=key_file)
    saved = db.MIGRATIONS
    db.MIGRATIONS = [m for m in saved if m[0] <= 13]
    try:
        db.migrate(engine)
    finally:
        db.MIGRATIONS = saved
    with engine.begin() as conn:
        for index in V14_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
        for table, columns in V14_COLUMNS.items():
            for column in columns:
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    workers_n = max(PER_GRID, min(WORKERS, visits // 50))
    grids = [2 + g for g in range((workers_n + PER_GRID - 1) // PER_GRID)]
    payload_bytes = 0
    counts = {"visit.create": 0, "patrol.report": 0, "event.report": 0}
    try:
        now = db.now_iso()
        with engine.begin() as conn:
            conn.execute(insert(db.org_units).values(id=1, level="town", name="庄市街道"))
            conn.execute(insert(db.org_units), [
                {"id": g, "parent_id": 1, "level": "grid", "name": f"第{g}网格"} for g in grids])
            people = [{"id": 1 + i, "name": f"网格员{i}",
                       "role": "leader" if i % (PER_GRID + 1) == 0 else "worker"}
                      for i in range(len(grids) * (PER_GRID + 1))]
            conn.execute(insert(db.people), people)
            conn.execute(insert(db.grid_assignments), [
                {"person_id": p["id"], "grid_id": grids[i // (PER_GRID + 1)]}
                for i, p in enumerate(people)])
            conn.execute(insert(db.devices), [
                {"id": uid("device", p["id"]), "person_id": p["id"], "name": f"平板{p['id']}",
                 "public_key": f"pk{p['id']:030d}", "status": "active", "enrolled_at": now,
                 "last_contact": now, "feed_seq": db.next_seq(conn)} for p in people])
            homes = {g: [uid("household", g, h) for h in range(HOUSEHOLDS_PER_GRID)]
                     for g in grids}
            conn.execute(insert(HOUSEHOLDS_V13), [
                {"id": hid, "grid_id": g, "head_name": f"户主{h}", "address": f"幸福路{h}号",
                 "category": ("ordinary", "hardship", "key")[h % 3], "tags": [], "version": 1,
                 "updated_seq": db.next_seq(conn), "registered_at": T0 - 86400}
                for g in grids for h, hid in enumerate(homes[g])])
        workers = [{"person": p["id"], "device": uid("device", p["id"]),
                    "grid": grids[i // (PER_GRID + 1)]}
                   for i, p in enumerate(people) if p["role"] == "worker"]
        for first in range(0, visits, CHUNK):
            rows: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for n in range(first, min(visits, first + CHUNK)):
                worker = workers[n % len(workers)]
                home = homes[worker["grid"]][n % HOUSEHOLDS_PER_GRID]
                for record in review_records(n, worker, home):
                    payload = record["payload"]
                    counts[record["kind"]] += 1
                    payload_bytes += len(json.dumps(payload, ensure_ascii=False).encode())
                    rows.append({**record, "grid_id": worker["grid"],
                                 "device_id": worker["device"], "person_id": worker["person"],
                                 "content_hash": protocol.content_hash(payload),
                                 "received_at": now})
                    if record["kind"] == "event.report":
                        events.append({"id": record["id"], "grid_id": worker["grid"],
                                       "reporter_id": worker["person"], "category": "公共设施",
                                       "description": "路灯不亮", "status": "reported",
                                       "created_at": now, "updated_at": now})
            with engine.begin() as conn:
                last = db.next_seq(conn, len(rows) + len(events))
                for i, row in enumerate(rows + events):
                    row["seq" if "kind" in row else "updated_seq"] = \
                        last - len(rows) - len(events) + 1 + i
                conn.execute(insert(RECORDS_V13), rows)
                if events:
                    conn.execute(insert(db.events), events)
    finally:
        engine.dispose()
    return {"visits": counts["visit.create"], "patrol_reports": counts["patrol.report"],
            "event_reports": counts["event.report"], "workers": len(workers),
            "households": len(grids) * HOUSEHOLDS_PER_GRID,
            "records": sum(counts.values()),
            "payload_mb": round(payload_bytes / 2**20, 1)}


# ``central`` as ``python -m central.cli`` does, telling its own peak resident memory
# (VmHWM) as it exits. BENCH_NO_BACKFILL: apply the migrations, run no backfill batch.
_PEAK = (
    "import atexit, os, sys\n"
    "from central import db\n"
    "if os.environ.get('BENCH_NO_BACKFILL'):\n"
    "    db.run_backfills = lambda *a, **k: 0\n"
    "def _peak() -> None:\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('PEAK_KB ' + line.split()[1] + '\\n')\n"
    "atexit.register(_peak)\n"
    "from central.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def central(url: str, key_file: Path, *args: str, repo: Path = REPO,
            no_backfill: bool = False) -> tuple[float, float, str]:
    """Run ``central ARGS`` from ``repo``; its wall time (s), peak memory (MiB), stdout."""
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(repo),
           "BENCH_NO_BACKFILL": "1" if no_backfill else ""}
    proc = subprocess.run([sys.executable, "-c", _PEAK, "--db", url, "--key-file",
                           str(key_file), *args], cwd=repo, capture_output=True, text=True,
                          check=False, env=env)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"central {args} exited {proc.returncode}: {proc.stderr[-2000:]}")
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines()
            if line.startswith("PEAK_KB ")]
    return elapsed, peak[-1] / 1024, proc.stdout


def check(url: str, key_file: Path) -> dict[str, Any]:
    """Every review record's columns against its payload; the backfill's state."""
    engine: Engine = db.make_engine(url, key_file=key_file)
    wrong = checked = 0
    r = db.records
    try:
        with engine.connect() as conn:
            result = conn.execution_options(yield_per=2000).execute(
                select(r.c.kind, r.c.payload, r.c.happened_at, r.c.household_id, r.c.counted)
                .where(r.c.kind.in_(list(db.REVIEW_TIMES))))
            for rows in result.partitions():
                for row in rows:
                    checked += 1
                    wrong += db.review_columns(row.kind, row.payload) != tuple(row)[2:]
        with engine.connect() as conn:
            pending = db.pending_backfills(conn)
            state = conn.execute(select(db.backfills.c.rows_done).where(
                db.backfills.c.name == "14.records")).scalar()
    finally:
        engine.dispose()
    return {"records_checked": checked, "columns_wrong": wrong, "backfills_pending": pending,
            "backfill_rows_done": state}


def _report(url: str, key_file: Path) -> tuple[float, float, dict[str, Any]]:
    seconds, rss, out = central(url, key_file, "report", "--month", MONTH, "--json")
    return seconds, rss, json.loads(out)


def run(url: str, key_file: Path, visits: int, old_repo: Path | None) -> dict[str, Any]:
    log(f"building a version-13 centre: {visits} visits ...")
    started = time.monotonic()
    built = build_v13(url, key_file, visits)
    built["build_s"] = round(time.monotonic() - started, 1)
    log(f"  {built['records']} review records in {built['build_s']} s")
    result: dict[str, Any] = {**built}
    path = db.sqlite_path(url)
    if old_repo is not None and path is not None:
        copy = path.with_name(path.stem + "-old.db")
        shutil.copy(path, copy)
        log("  the old migration 14 (one transaction) on a copy ...")
        seconds, rss, _ = central(f"sqlite:///{copy}", key_file, "init", "--json",
                                  repo=old_repo)
        result.update(old_migrate_s=round(seconds, 1), old_migrate_rss_mb=round(rss, 1))
        copy.unlink()
    log("  migration 14's schema change, no batch yet; a report then ...")
    schema_s, schema_rss, _ = central(url, key_file, "init", "--json", no_backfill=True)
    unfilled_s, unfilled_rss, unfilled = _report(url, key_file)
    log("  the backfill (central init) ...")
    seconds, rss, _ = central(url, key_file, "init", "--json")
    filled_s, filled_rss, filled = _report(url, key_file)
    _idle_s, idle_rss, _ = central(url, key_file, "init", "--json")
    same = json.dumps(unfilled["workers"], sort_keys=True) == json.dumps(
        filled["workers"], sort_keys=True)
    result.update(
        schema_change_s=round(schema_s, 1), schema_change_rss_mb=round(schema_rss, 1),
        migrate_s=round(seconds, 1), records_per_s=round(built["records"] / seconds),
        migrate_rss_mb=round(rss, 1), idle_init_rss_mb=round(idle_rss, 1),
        report_unfilled_s=round(unfilled_s, 1), report_unfilled_rss_mb=round(unfilled_rss, 1),
        report_filled_s=round(filled_s, 1), report_filled_rss_mb=round(filled_rss, 1),
        report_month_visits=sum(w["visits"] for w in filled["workers"]),
        reports_equal=same, **check(url, key_file))
    result["ok"] = (same and result["columns_wrong"] == 0 and not result["backfills_pending"]
                    and result["records_checked"] == built["records"]
                    and result["report_month_visits"] > 0)
    log(f"  {json.dumps(result, ensure_ascii=False)}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=VISITS)
    parser.add_argument("--scales", default="0.1,1",
                        help="fractions of the size to run (default: a tenth, then all)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--old-repo", type=Path, default=None,
                        help="a checkout with the old migration 14, to compare (SQLite)")
    args = parser.parse_args()
    out: dict[str, Any] = {"batch": db.BACKFILL_BATCH, "month": MONTH}
    ok = True
    with workdir("gridfield-m14-") as work:
        for backend in args.backends.split(","):
            results = []
            for n, scale in enumerate(float(s) for s in args.scales.split(",")):
                visits = max(1000, int(args.visits * scale))
                key_file = work / f"{backend}-{n}.keys.json"
                if backend == "sqlite":
                    results.append(run(f"sqlite:///{work / f'central-{n}.db'}", key_file,
                                       visits, args.old_repo))
                else:
                    with pg_server(durable=True) as pg:
                        results.append(run(pg.new_database(), key_file, visits, None))
            flat = max(r["migrate_rss_mb"] for r in results) <= \
                min(r["migrate_rss_mb"] for r in results) + 64
            out[backend] = {"runs": results, "migrate_rss_flat_across_sizes": flat}
            ok = ok and flat and all(r["ok"] for r in results)
    out["ok"] = ok
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
