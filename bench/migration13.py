"""Centre migration 13 (issue 13) on a large centre: a version-12 database (sealed
columns, its key file) with DEVICES enrolled devices and PATROLS stored patrols (each
two track segments, three checklist results and its report, as version 12's push
stored them), upgraded by a real ``central init`` process, on SQLite and on a
throw-away PostgreSQL server.

Figures per backend and size: migration 13's wall time and peak memory (a ``central
init`` child applying the migrations up to 13, its own high-water mark), next to the
same for the migrations after it (14, review figures: reported, not judged here), to a
``central init`` that has nothing to do on the same database (the interpreter and its
imports) and to the
size of the patrol records' payloads (what a migration loading them all at once would
hold, several times over as Python objects); on PostgreSQL the most feed numbers any
one transaction took, against the cap of 2**SEQ_SHIFT per transaction (``db.next_seq``).
Each size is also run at a tenth (``--scales``): memory that stays flat while the data
grows tenfold is bounded by the batch, not by the centre.
``ok``: every device numbered, every patrol gathered, no backfill left, the cap not
approached. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import REPO, log, pg_server, workdir
from sqlalchemy import Engine, MetaData, Table, func, insert, select, text

from central import db
from sync import protocol

DEVICES = 2000
PATROLS = 50_000
PER_GRID = 20  # devices (people) per grid: one leader, the rest workers
POINTS = 60  # per track segment
CHUNK = 2000  # patrols stored per transaction while building
NS = uuid.UUID("0b7e1f13-0000-4000-8000-000000000013")


def uid(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(map(str, parts))))


def patrol_records(n: int, device: dict[str, Any], t0: float) -> list[dict[str, Any]]:
    """Patrol ``n``'s records in the order its device queued them."""
    pid, track = uid("patrol", n), uid("track", n)
    grid = str(device["grid"])
    out: list[dict[str, Any]] = []
    for s in range(2):
        start = t0 + s * (POINTS - 1)
        points = [[start + i, 30.0 + (n % 97) * 1e-3 + i * 1e-5,
                   120.0 + (i % 20) * 3e-5, None, 5.0] for i in range(POINTS)]
        sid = uid("segment", n, s)
        out.append({"kind": "track.segment", "id": sid, "payload": {
            "id": sid, "track_id": track, "patrol_id": pid, "grid_id": grid,
            "device_id": device["id"], "source": "live", "seq": s + 1, "part": 0,
            "points": points}})
    for k in range(3):
        rid = uid("result", n, k)
        out.append({"kind": "checklist.result", "id": rid, "payload": {
            "id": rid, "patrol_id": pid, "grid_id": grid, "checklist_version": 1,
            "code": f"P{k + 1:02d}", "result": ("normal", "problem", "not_applicable")[k],
            "note": "楼道堆放杂物" if k == 1 else None, "photos": [],
            "recorded_at": t0 + 30 * k}})
    out.append({"kind": "patrol.report", "id": pid, "payload": {
        "id": pid, "patrol_id": pid, "grid_id": grid, "checklist_version": 1,
        "items_total": 28, "items_done": 3, "problems": 1, "normal": 1,
        "not_applicable": 1, "distance_m": 80.0, "duration_s": 2.0 * POINTS,
        "started_at": t0, "finished_at": t0 + 2 * POINTS, "track_points": 2 * POINTS,
        "device_id": device["id"], "worker_id": device["person"],
        "results": [uid("result", n, k) for k in range(3)], "tracks": [track],
        "photos": [], "incomplete": []}})
    return out


# Columns later migrations added to tables made before them: a table is created with
# today's definition, so they are dropped, as a centre at version 12 never had them.
LATER_COLUMNS = {"devices": ("feed_seq", "contact_sent"),  # migration 13
                 "records": ("happened_at", "household_id", "counted"),  # 14
                 "households": ("lat", "lon")}  # 14
LATER_INDEXES = ("ix_records_happened", "ix_records_visit_household")  # 14
DEVICES_V12, RECORDS_V12 = (
    Table(t.name, MetaData(), *(c._copy() for c in t.columns
                                if c.name not in LATER_COLUMNS[t.name]))
    for t in (db.devices, db.records))


def build_v12(url: str, key_file: Path, devices: int, patrols: int) -> dict[str, Any]:
    """A version-12 centre of the given size; returns what was stored."""
    engine = db.make_engine(url, key_file=key_file)
    saved = db.MIGRATIONS
    db.MIGRATIONS = [m for m in saved if m[0] <= 12]
    try:
        db.migrate(engine)
    finally:
        db.MIGRATIONS = saved
    with engine.begin() as conn:
        for index in LATER_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
        for table, columns in LATER_COLUMNS.items():
            for column in columns:
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    payload_bytes = 0
    try:
        with engine.begin() as conn:
            conn.execute(insert(db.org_units).values(id=1, level="town", name="庄市街道"))
            grids = [2 + g for g in range((devices + PER_GRID - 1) // PER_GRID)]
            conn.execute(insert(db.org_units), [
                {"id": g, "parent_id": 1, "level": "grid", "name": f"第{g}网格"} for g in grids])
            people = [{"id": 1 + i, "name": f"网格员{i}",
                       "role": "leader" if i % PER_GRID == 0 else "worker"}
                      for i in range(devices)]
            conn.execute(insert(db.people), people)
            conn.execute(insert(db.grid_assignments), [
                {"person_id": p["id"], "grid_id": grids[i // PER_GRID]}
                for i, p in enumerate(people)])
            now = db.now_iso()
            enrolled = [{"id": uid("device", i), "person": 1 + i,
                         "grid": grids[i // PER_GRID]} for i in range(devices)]
            conn.execute(insert(DEVICES_V12), [  # as version 12's enrollment wrote them
                {"id": d["id"], "person_id": d["person"], "name": f"平板{i}",
                 "public_key": f"pk{i:030d}", "status": "active", "enrolled_at": now,
                 "last_contact": now} for i, d in enumerate(enrolled)])
        workers = [d for i, d in enumerate(enrolled) if i % PER_GRID]
        t0 = 1_780_000_000.0
        for first in range(0, patrols, CHUNK):
            rows: list[dict[str, Any]] = []
            for n in range(first, min(patrols, first + CHUNK)):
                device = workers[n % len(workers)]
                for record in patrol_records(n, device, t0 + 300 * n):
                    payload = record["payload"]
                    payload_bytes += len(json.dumps(payload, ensure_ascii=False).encode())
                    rows.append({**record, "grid_id": device["grid"],
                                 "device_id": device["id"], "person_id": device["person"],
                                 "content_hash": protocol.content_hash(payload),
                                 "received_at": now})
            with engine.begin() as conn:
                last = db.next_seq(conn, len(rows))
                for i, row in enumerate(rows):
                    row["seq"] = last - len(rows) + 1 + i
                conn.execute(insert(RECORDS_V12), rows)
        with engine.connect() as conn:
            records = int(conn.execute(select(func.count()).select_from(db.records)).scalar_one())
            last_seq = int(conn.execute(select(func.max(db.records.c.seq))).scalar_one())
    finally:
        engine.dispose()
    return {"devices": devices, "patrols": patrols, "records": records,
            "payload_mb": round(payload_bytes / 2**20, 1), "last_seq": last_seq}


# ``central`` as ``python -m central.cli`` does, telling its own peak resident memory
# (VmHWM: the high-water mark of this process's memory since its exec) as it exits.
# (``wait4``'s ru_maxrss would not do: Linux keeps the parent's mark across exec.)
_PEAK = (
    "import atexit, os, sys\n"
    "from central import db\n"
    "upto = int(os.environ.get('BENCH_MIGRATE_UPTO') or 0)\n"
    "if upto:  # the migrations up to this number only\n"
    "    db.MIGRATIONS = [m for m in db.MIGRATIONS if m[0] <= upto]\n"
    "def _peak() -> None:\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('PEAK_KB ' + line.split()[1] + '\\n')\n"
    "atexit.register(_peak)\n"
    "from central.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def central_init(url: str, key_file: Path, upto: int = 0) -> tuple[float, float, str]:
    """Run ``central init`` (with ``upto``, the migrations up to that number only); its
    wall time (s), peak resident memory (MiB) and stderr."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, "--db", url, "--key-file", str(key_file), "init",
         "--json"], cwd=REPO, capture_output=True, text=True, check=False,
        env={**os.environ, "BENCH_MIGRATE_UPTO": str(upto)})
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"central init exited {proc.returncode}: {proc.stderr[-2000:]}")
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines()
            if line.startswith("PEAK_KB ")]
    return elapsed, peak[-1] / 1024, proc.stderr


def check(url: str, key_file: Path, built: dict[str, Any]) -> dict[str, Any]:
    engine: Engine = db.make_engine(url, key_file=key_file)
    try:
        with engine.connect() as conn:
            numbered = conn.execute(select(func.count(), func.min(db.devices.c.feed_seq))
                                    .where(db.devices.c.feed_seq.is_not(None))).one()
            gathered = conn.execute(select(func.count(), func.min(db.patrols.c.updated_seq))
                                    .select_from(db.patrols)
                                    .where(db.patrols.c.finished.is_(True))).one()
            tracked = int(conn.execute(text(  # both segments of each joined in
                "SELECT count(*) FROM patrols WHERE CAST(segments AS TEXT) LIKE '%,%'")
            ).scalar_one())
            per_tx = None
            if engine.dialect.name == "postgresql":
                per_tx = int(conn.execute(text(
                    f"SELECT max(n) FROM (SELECT count(*) AS n FROM (SELECT updated_seq AS s"
                    f" FROM patrols UNION ALL SELECT feed_seq FROM devices) AS x"
                    f" GROUP BY s >> {db.SEQ_SHIFT}) AS y")).scalar_one())
            pending = db.pending_backfills(conn)
    finally:
        engine.dispose()
    ok = (numbered[0] == built["devices"] and gathered[0] == built["patrols"]
          and tracked == built["patrols"] and not pending
          and int(numbered[1]) > built["last_seq"] and int(gathered[1]) > built["last_seq"]
          and (per_tx is None or per_tx <= 4 * db.BACKFILL_BATCH))
    return {"devices_numbered": int(numbered[0]), "patrols_gathered": int(gathered[0]),
            "patrols_with_both_segments": tracked, "backfills_pending": pending,
            "max_feed_numbers_per_transaction": per_tx,
            "cap_per_transaction": 1 << db.SEQ_SHIFT, "ok": ok}


def run(url: str, key_file: Path, devices: int, patrols: int) -> dict[str, Any]:
    log(f"building a version-12 centre: {devices} devices, {patrols} patrols ...")
    started = time.monotonic()
    built = build_v12(url, key_file, devices, patrols)
    built["build_s"] = round(time.monotonic() - started, 1)
    log(f"  {built['records']} records in {built['build_s']} s; central init ...")
    seconds, rss, stderr = central_init(url, key_file, upto=13)
    result = {**built, "migrate_s": round(seconds, 1),
              "records_per_s": round(built["records"] / seconds),
              "migrate_rss_mb": round(rss, 1), "progress_lines": stderr.count("backfill"),
              **check(url, key_file, built)}
    later_s, later_rss, _ = central_init(url, key_file)  # the migrations after 13
    _idle_s, idle_rss, _ = central_init(url, key_file)  # nothing left to do
    result.update(later_migrations_s=round(later_s, 1),
                  later_migrations_rss_mb=round(later_rss, 1),
                  idle_init_rss_mb=round(idle_rss, 1))
    log(f"  {json.dumps(result, ensure_ascii=False)}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=DEVICES)
    parser.add_argument("--patrols", type=int, default=PATROLS)
    parser.add_argument("--scales", default="0.1,1",
                        help="fractions of the size to run (default: a tenth, then all)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    out: dict[str, Any] = {"batch": db.BACKFILL_BATCH, "records_per_patrol": 6}
    ok = True
    with workdir("gridfield-m13-") as work:
        for backend in args.backends.split(","):
            results = []
            for n, scale in enumerate(float(s) for s in args.scales.split(",")):
                devices = max(PER_GRID, int(args.devices * scale))
                patrols = max(1, int(args.patrols * scale))
                key_file = work / f"{backend}-{n}.keys.json"
                if backend == "sqlite":
                    results.append(run(f"sqlite:///{work / f'central-{n}.db'}", key_file,
                                       devices, patrols))
                else:
                    with pg_server(durable=True) as pg:
                        results.append(run(pg.new_database(), key_file, devices, patrols))
            flat = max(r["migrate_rss_mb"] for r in results) <= \
                min(r["migrate_rss_mb"] for r in results) + 64
            out[backend] = {"runs": results, "rss_flat_across_sizes": flat}
            ok = ok and flat and all(r["ok"] for r in results)
    out["ok"] = ok
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
