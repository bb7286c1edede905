"""A client process killed with SIGKILL at random points during push and pull, then
restarted: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sync_helpers import LiveServer, new_grid

from central import db
from fieldclient.fieldwork.households import create_household, update_household
from fieldclient.storage.session import unlock_device
from sync.engine import SyncEngine

CHILD = Path(__file__).with_name("sync_child.py")


def test_sigkill_during_sync_loses_and_doubles_nothing(
    live: LiveServer, make_device: Any
) -> None:
    grid = new_grid(live.engine, workers=2)
    other = make_device(live, grid["workers"][1], "other")
    for i in range(30):  # for the victim to pull
        create_household(other.session, f"他户{i}", f"外{i}号")
    assert other.engine.run_once().ok
    dev = make_device(live, grid["workers"][0], "victim")
    hids = [create_household(dev.session, f"户{i}", f"{i}号") for i in range(40)]
    for hid in hids[:10]:
        update_household(dev.session, hid, {"tags": ["独居"]})
    with dev.session.db.conn:  # enqueue joins the caller's transaction
        for i in range(10):
            dev.session.enqueue("visit.create", f"kill-visit-{i:03d}",
                                {"grid_id": grid["id"], "household_id": hids[i], "note": "走访"})
    made = {r[0] for r in dev.session.db.execute("SELECT op_id FROM outbox").fetchall()}
    data_dir = dev.data_dir
    dev.session.close()
    rng = random.Random(1234)
    env = {**os.environ, "GRIDFIELD_SECRET_STORE": "file"}
    kills = 0
    for _ in range(6):
        child = subprocess.Popen([sys.executable, str(CHILD), str(data_dir), "246810"],
                                 stdout=subprocess.PIPE, env=env)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.02, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        kills += 1
    session = unlock_device(data_dir, "246810")
    try:
        engine = SyncEngine(session)
        done_before = session.db.execute(
            "SELECT count(*) FROM outbox WHERE state != 'pending'").fetchone()[0]
        assert done_before > 0  # the killed children did make progress
        report = engine.run_once()
        assert report.ok, report.error
        assert engine.pending_counts() == {}
        with live.engine.connect() as conn:
            stored = {r[0] for r in conn.execute(select(db.sync_ops.c.op_id).where(
                db.sync_ops.c.device_id == engine.enrollment().device_id))}  # type: ignore
            households = conn.execute(select(func.count()).select_from(db.households).where(
                db.households.c.grid_id == grid["id"])).scalar()
            visits = conn.execute(select(func.count()).select_from(db.records).where(
                db.records.c.kind == "visit.create", db.records.c.grid_id == grid["id"])).scalar()
            tagged = {r[0]: r[1] for r in conn.execute(select(
                db.households.c.id, db.households.c.version).where(
                db.households.c.id.in_(hids[:10])))}
        assert stored == made  # every op arrived, each exactly once (op_id is the key)
        assert households == 70 and visits == 10
        assert set(tagged.values()) == {2}  # one update each, applied once
        local = session.db.execute("SELECT count(*) FROM households").fetchone()[0]
        assert local == 70
        marks = ",".join("?" * 10)
        rows = session.db.execute(
            f"SELECT tags, version FROM households WHERE id IN ({marks})", hids[:10]
        ).fetchall()
        assert all(json.loads(t) == ["独居"] and v == 2 for t, v in rows)
        assert session.audit.verify().ok
    finally:
        session.close()
    assert kills == 6
