"""Start-up time: main.py --exit-after-startup against a bare PySide6 QMainWindow script.

Both are run alternately as child processes of this one, timed from spawn until
the child reports its first window painted (interpreter start included, tear-down
not). Target: median ratio <= 1.3 (issue 15). Prints one JSON object.

The app is started as the launcher and ``make run`` start it: with the allocator
settings that scrub freed memory (``hardening.start_environment``), so it need not start
itself again. ``app_restart_wall_ms`` is a start without them (``python main.py``): the
app starts itself again, a second interpreter start. Both children run with compiled
bytecode as an installed app has it (a cache folder of this run's own, written by the
warm-up run), also where the caller sets PYTHONDONTWRITEBYTECODE. The app's cache of
PySide6's compiled support modules (ui.pyside_support_cache) lives there too: the bare
script compiles them at every start, as PySide6 does.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9
TARGET = 1.3


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(ms from spawn to the child's startup_ms line, the child's own figure)."""
    start = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          env=env) as child:
        assert child.stdout is not None
        line = child.stdout.readline()
        wall = (time.perf_counter() - start) * 1000
        rest = child.stdout.read()
        if child.wait(timeout=120) != 0 or not line.startswith("startup_ms="):
            raise SystemExit(f"{cmd}: expected startup_ms and exit 0, got {line + rest!r}")
    return wall, int(line.strip().split("=")[1])


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from fieldclient.security import hardening

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GRIDFIELD_SECRET_STORE": "file",
               "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        plain = {k: v for k, v in env.items()
                 if k not in ("PYTHONMALLOC", "GLIBC_TUNABLES", hardening.SCRUB_ENV)}
        app_env = hardening.start_environment(plain)
        data_dir = Path(tmp) / "device"
        subprocess.run(
            [sys.executable, "-m", "fieldclient.cli", "init", "--pin-stdin", "--data-dir",
             str(data_dir)], input="246810\n", text=True, env=plain, check=True,
            capture_output=True, cwd=ROOT,
        )
        app_cmd = [sys.executable, str(ROOT / "main.py"), "--data-dir", str(data_dir),
                   "--exit-after-startup"]
        bare_cmd = [sys.executable, str(ROOT / "bench" / "bare_qt.py")]
        # warm the file cache and write the bytecode
        timed(app_cmd, app_env), timed(app_cmd, plain), timed(bare_cmd, plain)
        app_runs, restart_runs, bare_runs = [], [], []
        for _ in range(RUNS):
            app_runs.append(timed(app_cmd, app_env))
            bare_runs.append(timed(bare_cmd, plain))
            restart_runs.append(timed(app_cmd, plain))
    app_wall = statistics.median(w for w, _ in app_runs)
    bare_wall = statistics.median(w for w, _ in bare_runs)
    restart_wall = statistics.median(w for w, _ in restart_runs)
    ratio = app_wall / bare_wall
    print(json.dumps({
        "benchmark": "startup",
        "runs": RUNS,
        "platform": env["QT_QPA_PLATFORM"],
        "scrubbing_allocator": hardening.SCRUB_ENV in app_env,
        "app_wall_ms": round(app_wall, 1),
        "bare_wall_ms": round(bare_wall, 1),
        "app_reported_ms": statistics.median(r for _, r in app_runs),
        "bare_reported_ms": statistics.median(r for _, r in bare_runs),
        "ratio": round(ratio, 3),
        "app_restart_wall_ms": round(restart_wall, 1),
        "restart_ratio": round(restart_wall / bare_wall, 3),
        "target_ratio": TARGET,
        "ok": ratio <= TARGET,
    }))


if __name__ == "__main__":
    main()
