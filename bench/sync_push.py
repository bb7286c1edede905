"""Push throughput: 10,000 queued visits (``fieldclient.fieldwork.simulate``) pushed end to end
by the real sync engine to a real ``central serve`` (SQLite) on loopback.

Timed: ``SyncEngine.run_once()`` from a full outbox to an empty one (push batches,
server applies each op once, results written back to the outbox; then the pull).
Target: >= 2,000 records/s. Also reports request-body bytes sent per record.
Runs ROUNDS times, each on a fresh server and device; reports the median.
Prints one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import cheap_kdf, enrolled_device, log, serve, workdir

from fieldclient.fieldwork.simulate import simulate
from sync.engine import SyncEngine, transport_for

VISITS = 10_000
ROUNDS = 3
TARGET_RPS = 2000.0


def one_round(i: int) -> dict[str, float]:
    with workdir("gridfield-bench-push-") as work, serve(work) as server:
        worker = server.demo["grids"][0]["workers"][0]
        session = enrolled_device(server, work / "device", worker)
        try:
            made = simulate(session, visits=VISITS, seed=1000 + i)
            queued = session.pending_uploads()
            transport = transport_for(session)
            engine = SyncEngine(session, transport)
            start = time.perf_counter()
            report = engine.run_once()
            elapsed = time.perf_counter() - start
            if not report.ok or report.pending:
                raise RuntimeError(f"push failed: {report.as_dict()}")
            applied = report.pushed.get("applied", 0)
            if applied != queued:
                raise RuntimeError(f"{applied} applied of {queued} queued: {report.pushed}")
            stored = server.engine.connect().execute(
                __import__("sqlalchemy").text(
                    "SELECT count(*) FROM records WHERE kind = 'visit.create'")
            ).scalar()
            if stored != made.visits:
                raise RuntimeError(f"server holds {stored} visits of {made.visits}")
            result = {
                "records": queued,
                "seconds": elapsed,
                "records_per_s": queued / elapsed,
                "requests": report.requests,
                "body_bytes_per_record": transport.bytes_sent / queued,
            }
            log(f"round {i}: {json.dumps(result)}")
            return result
        finally:
            session.close()


def main() -> None:
    cheap_kdf()
    rounds = [one_round(i) for i in range(ROUNDS)]
    rps = statistics.median(r["records_per_s"] for r in rounds)
    out = {
        "benchmark": "sync_push",
        "backend": "sqlite",
        "visits": VISITS,
        "records_pushed": rounds[0]["records"],
        "rounds": ROUNDS,
        "records_per_s_median": round(rps, 1),
        "records_per_s_each": [round(r["records_per_s"], 1) for r in rounds],
        "seconds_median": round(statistics.median(r["seconds"] for r in rounds), 3),
        "requests": rounds[0]["requests"],
        "body_bytes_per_record": round(statistics.median(
            r["body_bytes_per_record"] for r in rounds), 1),
        "target_records_per_s": TARGET_RPS,
        "ok": rps >= TARGET_RPS,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
