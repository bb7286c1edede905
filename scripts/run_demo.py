"""`make run`: a demo device in .demo-data/, then the app.

The central server and its demo district arrive with the sync work (issue 3);
until then the demo is a local device set up with a known PIN, printed here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / ".demo-data" / "device"
DEMO_PIN = "246810"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from fieldclient.vault import Vault

    if Vault(DEMO_DIR).status() != "active":
        from fieldclient.session import setup_device

        setup_device(DEMO_DIR, DEMO_PIN).close()
    print(f"Demo device: {DEMO_DIR}\nDemo PIN / 演示PIN码: {DEMO_PIN}", flush=True)
    env = dict(os.environ)
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY") and sys.platform == "linux":
        print("No display found: set DISPLAY, or run under xvfb-run.", file=sys.stderr)
    return subprocess.call([sys.executable, str(ROOT / "main.py"), "--data-dir", str(DEMO_DIR)],
                           env=env)


if __name__ == "__main__":
    sys.exit(main())
