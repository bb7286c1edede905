"""The launcher starts the app with the allocator settings read at start (Python's objects
from malloc, glibc's per-thread cache off: fieldclient.security.hardening.start_environment),
so the installed app has them from its first instruction and never starts itself again to
get them (issue 15, start-up); the fill of freed blocks is switched on from inside later."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bundles import make_bundle

from fieldclient.security import hardening
from fieldclient.update import install

ROOT = Path(__file__).resolve().parents[2]

REPORTER = '''#!{python}
import json, os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from fieldclient.security import hardening
Path(os.environ["REPORT"]).write_text(json.dumps({{
    "scrubbed": hardening.started_with_scrubbing_allocator(),
    "marker": os.environ.get(hardening.SCRUB_ENV),
    "tunables": os.environ.get("GLIBC_TUNABLES"),
}}))
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc")
@pytest.mark.parametrize("turned_off", [False, True])
def test_the_launcher_starts_the_app_with_the_scrubbing_allocator(
        tmp_path: Path, turned_off: bool) -> None:
    root, data, report = tmp_path / "install", tmp_path / "device", tmp_path / "report.json"
    data.mkdir()
    base = {k: v for k, v in os.environ.items()
            if k not in ("PYTHONMALLOC", "GLIBC_TUNABLES", hardening.SCRUB_ENV)}
    env = dict(base, GRIDFIELD_INSTALL_ROOT=str(root), PYTHONPATH=str(ROOT), REPORT=str(report))
    if turned_off:
        env[hardening.SCRUB_ENV] = "0"
    archive = make_bundle(tmp_path / "bundles", "1.0.0")
    subprocess.run([sys.executable, "-m", "fieldclient.update.launcher", "--install-from",
                    str(archive)], env=env, check=True, capture_output=True, timeout=60)
    app = install.app_executable(root, "1.0.0")
    app.write_text(REPORTER.format(python=sys.executable, root=str(ROOT)))
    done = subprocess.run([sys.executable, "-m", "fieldclient.update.launcher", "--data-dir",
                           str(data)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(report.read_text())
    if turned_off:
        assert seen == {"scrubbed": False, "marker": "0", "tunables": None}
    else:
        assert seen == {"scrubbed": True, "marker": "given",
                        "tunables": ":".join(hardening.SCRUB_TUNABLES)}
