"""Pull: the first sync of a new device into a grid of 100,000 households, and a sync
with nothing to do afterwards, against a real ``central serve`` (SQLite) on loopback.

The server's district comes from ``central seed-demo --households-per-grid 100000``
(bulk inserts: households with their members, a few events). The device runs in a
child process (this script with ``--child``): it sets up a vault (cheap Argon2:
unlock cost is not measured here), enrolls, then times ``SyncEngine.run_once()``
(the first pull, page by page, each page and the cursor in one SQLCipher
transaction), then NOOP_RUNS more runs with nothing to do. The parent reads the
child's peak RSS with ``os.wait4`` (ru_maxrss).

Targets: first pull <= 20 s, peak memory <= 500 MB; a sync with nothing to do with
100,000 local records: 1 request, <= 100 ms (median of NOOP_RUNS). Runs ROUNDS
children against the same server (each a new device). Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import cheap_kdf, log, serve, workdir

HOUSEHOLDS = 100_000
ROUNDS = 2
NOOP_RUNS = 10
TARGET_PULL_S = 20.0
TARGET_PEAK_MB = 500.0
TARGET_NOOP_MS = 100.0


def child(base: str, code: str, data_dir: str) -> None:
    """The pulling device (own process, so its peak memory is its own)."""
    from _support import PIN

    from fieldclient.security.keystore import FileSecretStore
    from fieldclient.storage.session import setup_device
    from sync.engine import SyncEngine, enroll_device, transport_for

    cheap_kdf()
    path = Path(data_dir)
    session = setup_device(path, PIN, store=FileSecretStore(path))
    enroll_device(session, base, code, "平板")
    engine = SyncEngine(session, transport_for(session))
    start = time.perf_counter()
    first = engine.run_once()
    pull_s = time.perf_counter() - start
    if not first.ok:
        raise SystemExit(f"first pull failed: {first.as_dict()}")
    local = int(session.db.execute("SELECT count(*) FROM households").fetchone()[0])
    members = int(session.db.execute("SELECT count(*) FROM members").fetchone()[0])
    noop_ms, noop_requests, noop_pulled = [], [], []
    for _ in range(NOOP_RUNS):
        start = time.perf_counter()
        report = engine.run_once()
        noop_ms.append((time.perf_counter() - start) * 1000)
        if not report.ok:
            raise SystemExit(f"no-op sync failed: {report.as_dict()}")
        noop_requests.append(report.requests)
        noop_pulled.append(sum(report.pulled.values()))
    session.close()
    print(json.dumps({
        "pull_s": pull_s, "pulled": first.pulled, "pull_requests": first.requests,
        "local_households": local, "local_members": members,
        "noop_ms": noop_ms, "noop_requests": noop_requests, "noop_pulled": noop_pulled,
    }))


def run_child(base: str, code: str, data_dir: Path) -> dict[str, object]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", base, code, str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"pulling device failed ({proc.returncode}):\n{err.decode()}")
    result: dict[str, object] = json.loads(out)
    result["peak_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    return result


def main() -> None:
    from central import ops

    with workdir("gridfield-bench-pull-") as work:
        start = time.perf_counter()
        with serve(work, households_per_grid=HOUSEHOLDS) as server:
            log(f"server seeded with {HOUSEHOLDS} households in "
                f"{time.perf_counter() - start:.1f} s")
            worker = server.demo["grids"][0]["workers"][0]
            rounds = []
            for i in range(ROUNDS):
                code = ops.create_enrollment_code(server.engine, worker)["code"]
                r = run_child(server.base, code, work / f"device{i}")
                log(f"round {i}: pull {r['pull_s']:.2f} s, peak {r['peak_mb']:.0f} MB, "
                    f"no-op {statistics.median(r['noop_ms']):.1f} ms "  # type: ignore[arg-type]
                    f"{r['noop_requests']} requests")
                rounds.append(r)
    pulled = rounds[0]["pulled"]
    assert isinstance(pulled, dict)
    if pulled.get("household") != HOUSEHOLDS or rounds[0]["local_households"] != HOUSEHOLDS:
        raise RuntimeError(f"pulled {pulled}, local {rounds[0]['local_households']}")
    pull_s = statistics.median(float(r["pull_s"]) for r in rounds)  # type: ignore[arg-type]
    peak = max(float(r["peak_mb"]) for r in rounds)  # type: ignore[arg-type]
    noop_all = [ms for r in rounds for ms in r["noop_ms"]]  # type: ignore[attr-defined]
    noop_ms = statistics.median(noop_all)
    noop_requests = max(n for r in rounds for n in r["noop_requests"])  # type: ignore[attr-defined]
    noop_pulled = max(n for r in rounds for n in r["noop_pulled"])  # type: ignore[attr-defined]
    out = {
        "benchmark": "sync_pull",
        "backend": "sqlite",
        "households": HOUSEHOLDS,
        "members": rounds[0]["local_members"],
        "rounds": ROUNDS,
        "first_pull_s_median": round(pull_s, 2),
        "first_pull_s_each": [round(float(r["pull_s"]), 2) for r in rounds],  # type: ignore[arg-type]
        "first_pull_requests": rounds[0]["pull_requests"],
        "households_per_s": round(HOUSEHOLDS / pull_s, 1),
        "peak_rss_mb": round(peak, 1),
        "noop_sync_ms_median": round(noop_ms, 1),
        "noop_sync_ms_max": round(max(noop_all), 1),
        "noop_sync_requests": noop_requests,
        "noop_sync_records_pulled": noop_pulled,
        "targets": {"first_pull_s": TARGET_PULL_S, "peak_rss_mb": TARGET_PEAK_MB,
                    "noop_sync_ms": TARGET_NOOP_MS, "noop_sync_requests": 1},
        "ok_first_pull": pull_s <= TARGET_PULL_S,
        "ok_peak_memory": peak <= TARGET_PEAK_MB,
        "ok_noop_sync": noop_ms <= TARGET_NOOP_MS and noop_requests == 1 and noop_pulled == 0,
    }
    out["ok"] = bool(out["ok_first_pull"] and out["ok_peak_memory"] and out["ok_noop_sync"])
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
    else:
        main()
