"""`make run`: a local central server with a demo district, a demo device enrolled to
it (as the grid leader of the first grid) and synced, then the app.

``--as supervisor`` (``make run AS=supervisor``): the device of the district's
supervisor (网格指导员) over all its grids instead, in its own folder, so the Review page
(督导) shows every grid; ``--as leader`` is the default.

Everything lives in .demo-data/: the server's SQLite database and photos, the devices.
The server listens on http://127.0.0.1:8765 while the app runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIRS = {"leader": ROOT / ".demo-data" / "device",
             "supervisor": ROOT / ".demo-data" / "device-supervisor"}
DEMO_DIR = DEMO_DIRS["leader"]
DEMO_PIN = "246810"
CENTRAL_URL = "http://127.0.0.1:8765"
CENTRAL_DB = ROOT / ".demo-data" / "central.db"
DEMO_JSON = ROOT / ".demo-data" / "district.json"


def central(*args: str) -> str:
    cmd = [sys.executable, "-m", "central.cli", "--db", f"sqlite:///{CENTRAL_DB}", *args]
    return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def _tomorrow_evening() -> str:
    """18:00 China Standard Time tomorrow, as the task's due time."""
    from datetime import datetime, timedelta, timezone

    cst = timezone(timedelta(hours=8))
    day = datetime.now(cst).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, 18, 0, tzinfo=cst).isoformat()


def start_central() -> subprocess.Popen[bytes]:
    CENTRAL_DB.parent.mkdir(parents=True, exist_ok=True)
    central("init")
    if not DEMO_JSON.exists():
        district = central("seed-demo", "--grids", "3", "--households-per-grid", "30",
                           "--visit-months", "12", "--json")
        first_grid = str(json.loads(district)["grids"][0]["id"])
        central("task", "push", "--grid", first_grid, "--title", "排查秸秆和垃圾焚烧",
                "--body", "请今天巡查时重点查看田间地头有无焚烧秸秆、垃圾，发现后拍照上报。",
                "--due", _tomorrow_evening())
        central("task", "push", "--grid", first_grid, "--title", "冬季用电用火安全提醒",
                "--body", "入户走访时提醒独居老人注意取暖用电安全。")
        DEMO_JSON.write_text(district, encoding="utf-8")
    log = open(CENTRAL_DB.with_suffix(".log"), "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "central.cli", "--db", f"sqlite:///{CENTRAL_DB}", "serve",
         "--port", "8765"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            with urllib.request.urlopen(CENTRAL_URL + "/api/v1/health", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("central serve did not start (is port 8765 taken?); "
                                 f"see {CENTRAL_DB.with_suffix('.log')}") from None
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("central serve did not answer on " + CENTRAL_URL)


def enroll_and_sync(role: str = "leader", device: Path = DEMO_DIR) -> None:
    from fieldclient.storage.session import unlock_device
    from sync.engine import SyncEngine, enroll_device

    district = json.loads(DEMO_JSON.read_text(encoding="utf-8"))
    with unlock_device(device, DEMO_PIN) as session:
        engine = SyncEngine(session)
        if engine.enrollment() is None:
            person = str(district["supervisor"] if role == "supervisor"
                         else district["grids"][0]["leader"])
            code = json.loads(central("enroll", "--worker", person, "--json"))["code"]
            enroll_device(session, CENTRAL_URL, code,
                          "指导员演示平板" if role == "supervisor" else "演示平板")
        report = engine.run_once()
        print(f"Synced with {CENTRAL_URL}: {report.as_dict()['pulled']}"
              if report.ok else f"Sync: {report.error_message()}", flush=True)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as", dest="role", choices=sorted(DEMO_DIRS), default="leader",
                        help="whose device: the first grid's leader (default) or the "
                             "district's supervisor (网格指导员, every grid)")
    args = parser.parse_args(argv)
    device = DEMO_DIRS[args.role]
    sys.path.insert(0, str(ROOT))
    from fieldclient.security.vault import Vault

    if Vault(device).status() != "active":
        from fieldclient.storage.session import setup_device

        setup_device(device, DEMO_PIN).close()
    server = start_central()
    enroll_and_sync(args.role, device)
    print(f"Demo device ({args.role}): {device}\nDemo PIN / 演示PIN码: {DEMO_PIN}", flush=True)
    from fieldclient.security import hardening

    # Started with the allocator settings that scrub freed memory, as the launcher starts
    # the installed app: main.py need not start itself again to get them.
    env = hardening.start_environment()
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY") and sys.platform == "linux":
        print("No display found: set DISPLAY, or run under xvfb-run.", file=sys.stderr)
    try:
        return subprocess.call(
            [sys.executable, str(ROOT / "main.py"), "--data-dir", str(device)], env=env
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
