"""Child process for the SIGKILL test: unlock a device and sync in small steps, forever."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fieldclient.storage.session import unlock_device
from sync.engine import RetryPolicy, SyncEngine


def main() -> None:
    data_dir, pin = Path(sys.argv[1]), sys.argv[2]
    session = unlock_device(data_dir, pin)
    engine = SyncEngine(session, batch_size=1, page_size=2,
                        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02))
    print("ready", flush=True)
    while True:
        engine.run_once()


if __name__ == "__main__":
    main()
