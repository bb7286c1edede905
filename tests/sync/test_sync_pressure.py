"""Rate limiting (429 + Retry-After) and the ``fieldclient`` sync commands, as processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sync_helpers import LiveServer, launch, new_grid

from central import ops
from fieldclient.fieldwork.households import create_household
from sync.engine import RetryPolicy, SyncEngine
from sync.errors import ServerBusy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = launch(tmp_path_factory.mktemp("central-limited"), "--rate-limit", "2",
                    "--rate-burst", "2")
    try:
        yield server
    finally:
        server.stop()


def test_429_retry_after_is_honoured(limited: LiveServer, make_device: Any) -> None:
    grid = new_grid(limited.engine)
    dev = make_device(limited, grid["workers"][0])
    for i in range(6):
        create_household(dev.session, f"住户{i}", f"{i}号")
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    engine = SyncEngine(dev.session, dev.transport, batch_size=1,
                        retry=RetryPolicy(attempts=8, base_delay=0.01, sleep=sleep))
    report = engine.run_once()
    assert report.ok, report.error
    assert report.pushed == {"applied": 6}
    assert waits and all(w >= 1.0 for w in waits)  # Retry-After: 1 at least


def test_429_exhausted_is_a_translated_error(limited: LiveServer, make_device: Any) -> None:
    grid = new_grid(limited.engine)
    dev = make_device(limited, grid["workers"][0])
    for i in range(4):
        create_household(dev.session, f"住户{i}", f"{i}号")
    engine = SyncEngine(dev.session, dev.transport, batch_size=1,
                        retry=RetryPolicy(attempts=1, sleep=lambda s: None))
    time.sleep(1.1)
    report = engine.run_once()
    assert isinstance(report.error, ServerBusy)
    assert "server" in (report.error_message("en") or "").lower()
    assert report.pending > 0
    time.sleep(1.1)
    assert SyncEngine(dev.session, dev.transport, batch_size=50).run_once().ok


def test_forged_requests_do_not_use_up_a_devices_allowance(
    limited: LiveServer, make_device: Any
) -> None:
    """The per-device limit counts only requests whose signature checked out: someone
    who knows a device id cannot lock that device out by sending garbage in its name."""
    import requests

    grid = new_grid(limited.engine)
    dev = make_device(limited, grid["workers"][0])
    device_id = dev.session.db.execute(
        "SELECT value FROM meta WHERE key = 'sync.device_id'").fetchone()[0]
    time.sleep(1.1)  # a full bucket for this address's failures and this device
    forged = {"X-Gridfield-Device": device_id, "X-Gridfield-Timestamp": str(int(time.time())),
              "X-Gridfield-Nonce": "x" * 16, "X-Gridfield-Signature": "AAAA"}
    answers = [requests.get(f"{limited.base}/api/v1/sync/pull?after=0", headers=forged,
                            timeout=10).status_code for _ in range(6)]
    assert answers == [401] * 6
    engine = SyncEngine(dev.session, dev.transport,
                        retry=RetryPolicy(attempts=1, sleep=lambda s: None))
    report = engine.run_once()  # push-free sync: one pull; the device's bucket is full
    assert report.ok, report.error


def fieldclient(data_dir: Path, *args: str, pin: str = "246810\n",
                env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "GRIDFIELD_SECRET_STORE": "file", "FIELDCLIENT_LANG": "en"}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "fieldclient.cli", "--data-dir", str(data_dir), *args],
        input=pin, capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
    )


def test_cli_init_enroll_and_sync(live: LiveServer, tmp_path: Path) -> None:
    grid = new_grid(live.engine)
    code = ops.create_enrollment_code(live.engine, grid["workers"][0])["code"]
    data = tmp_path / "cli-dev"
    out = fieldclient(data, "init", "--server", live.base, "--enroll-code", code,
                      "--pin-stdin", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["grids"] == [grid["id"]] and info["server_device_id"]
    ops.push_task(live.engine, grid["id"], "入户走访", "本周完成", None)
    out = fieldclient(data, "sync", "--pin-stdin", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] and report["pulled"] == {"task": 1}
    # one pull, and the audit chain's head anchored at the centre for the first time
    # with the PIN recovery share riding along (one request for both)
    assert report["requests"] == 2 and report["steps"]["audit"] == "first"
    assert report["steps"]["recovery"] == "ok"
    out = fieldclient(data, "sync", "--pin-stdin")
    assert out.returncode == 0 and "Nothing to sync" in out.stdout, out.stdout
    out = fieldclient(data, "simulate", "--visits", "3", "--events", "1", "--pin-stdin", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["pending_uploads"] == 7  # 3 households, 3 visits, 1 event
    out = fieldclient(data, "sync", "--pin-stdin")
    assert out.returncode == 0 and "7 applied" in out.stdout, out.stdout
    # a used code, on a second device set up first and enrolled later
    other = tmp_path / "cli-dev2"
    assert fieldclient(other, "init", "--pin-stdin").returncode == 0
    out = fieldclient(other, "enroll", "--server", live.base, "--enroll-code", code,
                      "--pin-stdin")
    assert out.returncode == 1 and "enrollment code" in out.stderr.lower(), out.stderr
    out = fieldclient(other, "sync", "--pin-stdin")
    assert out.returncode == 1 and "not" in out.stderr.lower()
    code2 = ops.create_enrollment_code(live.engine, grid["workers"][1])["code"]
    out = fieldclient(other, "enroll", "--server", live.base, "--enroll-code", code2,
                      "--pin-stdin", "--json")
    assert out.returncode == 0, out.stderr
    # revoked: the next sync wipes the device, exit code 4
    ops.revoke_device(live.engine, json.loads(out.stdout)["server_device_id"])
    out = fieldclient(other, "sync", "--pin-stdin", "--json")
    assert out.returncode == 4 and json.loads(out.stdout)["wiped"] is True
    assert fieldclient(other, "status").returncode == 4
