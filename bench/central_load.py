"""Central server under load: 50 enrolled devices pushing at once, against a real
``central serve`` on loopback, on SQLite and on a throw-away PostgreSQL server.

Each device is real: its own vault (cheap Argon2; unlock cost is not measured here)
enrolled with ``sync.engine.enroll_device`` for its own worker (``seed-demo`` with 25
grids: two workers each), talking through its own signed ``HttpTransport``. Each
device thread pushes REQUESTS batches of OPS_PER_REQUEST new visits (the payloads
``fieldclient simulate`` makes) as fast as the server answers; a 429/503 is honoured
by waiting its Retry-After, as the sync engine does, and counted.

Figures per backend: ops/s (all ops applied / wall time), request latency p50/p95/max,
and the server's CPU time per op (its processes and, on PostgreSQL, the database's;
Linux ``/proc``): on this 2-core machine the benchmark's own devices, the server and
PostgreSQL share two cores, so PostgreSQL's throughput here is what its CPU per op
allows, while SQLite's is what its one writer at a time allows.
No fixed target in the issue; reported as measured. ``ok``: every op applied exactly
once and no request failed. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import cheap_kdf, enrolled_device, log, pg_server, serve, workdir
from sqlalchemy import text

from fieldclient.fieldwork.simulate import SITUATIONS
from fieldclient.ids import new_id
from sync.engine import transport_for
from sync.errors import ServerBusy

DEVICES = 50
# Each backend as it is deployed: SQLite in one process (it lets one writer in at a
# time), PostgreSQL with a server process per core (``central serve --workers``).
WORKERS = max(2, os.cpu_count() or 2)
REQUESTS = 10
OPS_PER_REQUEST = 50


def visit_ops(rng: random.Random, grid: int, n: int, households: list[str]
              ) -> list[dict[str, Any]]:
    """New visits to real households of the grid (the server refuses unknown ones)."""
    ops = []
    for _ in range(n):
        visit_id = new_id()
        ops.append({
            "op_id": new_id(), "kind": "visit.create", "record_id": visit_id,
            "base_version": None,
            "payload": {
                "id": visit_id, "grid_id": grid, "household_id": rng.choice(households),
                "visited_at": time.time(), "people_met": rng.randint(1, 4),
                "situation": rng.choice(SITUATIONS), "needs": "", "problems": "",
                "follow_up": "", "training": True,
            },
        })
    return ops


def run_backend(backend: str, db_url: str | None, work: Path,
                extra: tuple[str, ...] = ()) -> dict[str, Any]:
    grids = DEVICES // 2
    with serve(work, db_url, grids=grids, households_per_grid=5, extra=extra) as server:
        sessions, devices = [], []
        for g in server.demo["grids"]:
            for worker in g["workers"]:
                session = enrolled_device(server, work / f"dev{len(sessions)}", worker)
                sessions.append(session)
                devices.append((transport_for(session), int(g["id"])))
        with server.engine.connect() as conn:
            by_grid: dict[int, list[str]] = {}
            for hid, gid in conn.execute(text("SELECT id, grid_id FROM households")):
                by_grid.setdefault(int(gid), []).append(str(hid))
        devices = devices[:DEVICES]
        latencies: list[float] = []
        busy = [0]
        failures: list[str] = []
        applied = [0]
        lock = threading.Lock()
        barrier = threading.Barrier(len(devices) + 1)

        def device(index: int) -> None:
            transport, grid = devices[index]
            rng = random.Random(index)
            batches = [visit_ops(rng, grid, OPS_PER_REQUEST, by_grid[grid])
                       for _ in range(REQUESTS)]
            barrier.wait()
            for ops in batches:
                while True:
                    start = time.perf_counter()
                    try:
                        answer = transport.push(ops)
                    except ServerBusy as exc:
                        with lock:
                            busy[0] += 1
                        time.sleep(exc.retry_after + rng.random() * 0.5)
                        continue
                    except Exception as exc:  # reported, not raised
                        with lock:
                            failures.append(f"{type(exc).__name__}: {exc}")
                        return
                    elapsed = time.perf_counter() - start
                    ok = sum(1 for r in answer["results"] if r["status"] == "applied")
                    with lock:
                        latencies.append(elapsed)
                        applied[0] += ok
                    break

        threads = [threading.Thread(target=device, args=(i,)) for i in range(len(devices))]
        for t in threads:
            t.start()
        barrier.wait()
        cpu_before = server_cpu_seconds(server.proc.pid)
        start = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        cpu = {k: v - cpu_before.get(k, 0.0)
               for k, v in server_cpu_seconds(server.proc.pid).items()}
        with server.engine.connect() as conn:
            stored = conn.execute(
                text("SELECT count(*) FROM records WHERE kind = 'visit.create'")).scalar()
        for session in sessions:
            session.close()
    expected = len(devices) * REQUESTS * OPS_PER_REQUEST
    lat_ms = sorted(x * 1000 for x in latencies)
    result = {
        "devices": len(devices),
        "ops": applied[0],
        "seconds": round(wall, 2),
        "ops_per_s": round(applied[0] / wall, 1),
        "requests": len(lat_ms),
        "latency_ms_p50": round(statistics.median(lat_ms), 1) if lat_ms else None,
        "latency_ms_p95": round(lat_ms[int(0.95 * (len(lat_ms) - 1))], 1) if lat_ms else None,
        "latency_ms_max": round(lat_ms[-1], 1) if lat_ms else None,
        "busy_retries": busy[0],
        "server_cpu_ms_per_op": {k: round(1000 * v / max(1, applied[0]), 3)
                                 for k, v in cpu.items()},
        "failures": failures[:5],
        "ok": not failures and applied[0] == expected and stored == expected,
    }
    log(f"{backend}: {json.dumps(result, ensure_ascii=False)}")
    return result


def server_cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) so far of the server's process tree and of every
    ``postgres`` process on the machine (the throw-away server's); empty without /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    totals: dict[int, tuple[str, float]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:]
        fields = rest.split()
        parents[int(entry.name)] = int(fields[1])
        totals[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / tick)

    def in_server(pid: int) -> bool:
        while pid > 1:
            if pid == server_pid:
                return True
            pid = parents.get(pid, 1)
        return False

    out = {"server": 0.0, "postgresql": 0.0}
    for pid, (name, seconds) in totals.items():
        if in_server(pid):
            out["server"] += seconds
        elif name == "postgres":
            out["postgresql"] += seconds
    return out


def main() -> None:
    cheap_kdf()
    out: dict[str, Any] = {
        "benchmark": "central_load", "devices": DEVICES, "requests_per_device": REQUESTS,
        "ops_per_request": OPS_PER_REQUEST, "op_kind": "visit.create",
    }
    with workdir("gridfield-bench-load-sqlite-") as work:
        out["sqlite"] = run_backend("sqlite", None, work)
    with workdir("gridfield-bench-load-pg-") as work, pg_server(durable=True) as pg:
        out["postgresql"] = run_backend("postgresql", pg.new_database(), work,
                                        ("--workers", str(WORKERS)))
    out["ok"] = bool(out["sqlite"]["ok"] and out["postgresql"]["ok"])
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
