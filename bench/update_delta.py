"""Per-file release patches: what a small change costs to publish, fetch and apply.

A synthetic built folder (``--mb`` MB of incompressible files in ``--files`` files, as
a PyInstaller folder's libraries), published as 1.0.0 and, with ``--changed`` files
rewritten and one added, as 1.0.1. Measured: the full archive and the delta's sizes,
the publish time of 1.0.1 (tar + gzip + delta), the device's rebuild of the archive
from the installed folder and the delta, and the process's peak RSS over both.

    python bench/update_delta.py --mb 60 --files 300 --changed 3

One JSON object on standard output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("GRIDFIELD_SECRET_STORE", "file")

from central import db  # noqa: E402
from central.updates.repository import Repository  # noqa: E402
from fieldclient.update.client import UpdateClient, this_platform  # noqa: E402
from sync.protocol import releases  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=60)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--changed", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gridfield-bench-") as tmp_name:
        tmp = Path(tmp_name)
        old = tmp / "v1" / "gridfield"
        (old / "_internal").mkdir(parents=True)
        size = args.mb * 1024 * 1024 // args.files
        for i in range(args.files):
            (old / "_internal" / f"lib{i:04d}.so").write_bytes(os.urandom(size))
        new = tmp / "v2" / "gridfield"
        shutil.copytree(old, new)
        for i in range(args.changed):
            (new / "_internal" / f"lib{i:04d}.so").write_bytes(os.urandom(size // 4))
        (new / "_internal" / "added.pyc").write_bytes(os.urandom(4096))
        engine = db.make_engine(f"sqlite:///{tmp / 'central.db'}")
        db.migrate(engine)
        repo = Repository(engine, tmp / "updates")
        repo.init_keys(tmp / "keys")
        platform = this_platform()
        repo.publish(old, "1.0.0", tmp / "keys", platform=platform)
        started = time.monotonic()
        published = repo.publish(new, "1.0.1", tmp / "keys", platform=platform)
        publish_s = time.monotonic() - started
        delta_name = releases.delta_name("1.0.0", "1.0.1", platform)
        delta_bytes = published["deltas"].get(delta_name)
        delta_file = next(repo.targets_dir.glob(f"*.{delta_name}"))
        client = UpdateClient(tmp / "device", "http://127.0.0.1:1", None,  # type: ignore[arg-type]
                              base_dir=old)
        started = time.monotonic()
        release = next(r for r in repo.releases() if r.version_text == "1.0.1")
        rebuilt = client._rebuild(delta_file, release)
        rebuild_s = time.monotonic() - started
        print(json.dumps({
            "benchmark": "update_delta", "folder_mb": args.mb, "files": args.files,
            "changed_files": args.changed + 1,
            "archive_bytes": published["length"], "delta_bytes": delta_bytes,
            "delta_share": round((delta_bytes or 0) / published["length"], 4),
            "publish_seconds": round(publish_s, 2),
            "rebuild_seconds": round(rebuild_s, 2),
            "peak_rss_mb": round(_rss_mb(), 1),  # the whole run: publish and rebuild
            "rebuilt_equals_archive": hashlib.sha256(rebuilt.read_bytes()).hexdigest()
            == published["sha256"],
        }))
        engine.dispose()


if __name__ == "__main__":
    main()
