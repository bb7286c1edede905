"""SQLCipher (our store) against plain SQLite for the household write and read workload.

Writes: 10,000 household-sized rows in batches of 500 (one transaction each).
Reads: 10,000 point reads by primary key. Both sides use the same pragmas
(WAL, synchronous=FULL as the app runs, temp_store=MEMORY). Target: median ratio <= 1.3 each.
Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlite_utils

from fieldclient.ids import new_id
from fieldclient.security import crypto
from fieldclient.storage.migrations import MIGRATIONS
from fieldclient.storage.store import connect, database_key, migrate

ROWS = 10_000
BATCH = 500
ROUNDS = 9
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


def household(rng: random.Random) -> dict[str, object]:
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    now = time.time()
    return {
        "id": new_id(),
        "grid_id": f"grid-{rng.randint(1, 40):03d}",
        "head_name": name,
        "address": (
            f"庄市街道{rng.choice('东西南北')}村{rng.randint(1, 30)}组{rng.randint(1, 200)}号"
        ),
        "category": rng.choice(["ordinary"] * 8 + ["hardship", "key"]),
        "phone": f"13{rng.randint(0, 999999999):09d}",
        "id_number": f"3302{rng.randint(0, 10**13):014d}",
        "tags": json.dumps(
            rng.sample(["独居老人", "低保", "残疾", "出租房", "流动人口"], 2), ensure_ascii=False
        ),
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }


def plain_db(path: Path) -> sqlite_utils.Database:
    conn = sqlite3.connect(str(path))
    for pragma in ("temp_store = MEMORY", "journal_mode = WAL", "synchronous = FULL"):
        conn.execute(f"PRAGMA {pragma}")
    return sqlite_utils.Database(conn)


def cipher_db(path: Path) -> sqlite_utils.Database:
    return sqlite_utils.Database(connect(path, database_key(crypto.random_key())))


def run_once(
    db: sqlite_utils.Database, path: Path, rows: list[dict[str, object]]
) -> tuple[float, float]:
    migrate(db, path, path.parent / "backups", MIGRATIONS)
    table = db["households"]
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        with db.conn:
            table.insert_all(rows[i : i + BATCH], batch_size=BATCH)
    write = time.perf_counter() - start
    ids = [r["id"] for r in rows]
    random.Random(7).shuffle(ids)
    start = time.perf_counter()
    for household_id in ids:
        db.execute("SELECT * FROM households WHERE id = ?", [household_id]).fetchone()
    read = time.perf_counter() - start
    db.conn.close()
    return write, read


def main() -> None:
    rng = random.Random(42)
    rows = [household(rng) for _ in range(ROWS)]
    keys = ("plain_write", "cipher_write", "plain_read", "cipher_read")
    results: dict[str, list[float]] = {k: [] for k in keys}
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(ROUNDS):
            order = [("plain", plain_db), ("cipher", cipher_db)]
            for kind, opener in order if round_no % 2 == 0 else order[::-1]:
                path = Path(tmp) / f"{kind}-{round_no}.db"
                write, read = run_once(opener(path), path, rows)
                results[f"{kind}_write"].append(write)
                results[f"{kind}_read"].append(read)
                for suffix in ("", "-wal", "-shm"):
                    Path(str(path) + suffix).unlink(missing_ok=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    write_ratio = med["cipher_write"] / med["plain_write"]
    read_ratio = med["cipher_read"] / med["plain_read"]
    print(json.dumps({
        "benchmark": "storage",
        "rows": ROWS, "batch": BATCH, "rounds": ROUNDS,
        "plain_write_ms": round(med["plain_write"] * 1000, 1),
        "cipher_write_ms": round(med["cipher_write"] * 1000, 1),
        "plain_read_ms": round(med["plain_read"] * 1000, 1),
        "cipher_read_ms": round(med["cipher_read"] * 1000, 1),
        "write_ratio": round(write_ratio, 3),
        "read_ratio": round(read_ratio, 3),
        "target_ratio": 1.3,
        "ok": write_ratio <= 1.3 and read_ratio <= 1.3,
        "cpu_count": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
