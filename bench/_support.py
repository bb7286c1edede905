"""Shared set-up for the sync benchmarks: a real ``central serve`` subprocess on
loopback (SQLite or a throw-away PostgreSQL), grids and workers, enrolled devices with
a cheap Argon2 setting (unlock cost is not what these benchmarks measure).

Reuses the test helpers (tests/central/central_helpers.py, tests/sync/sync_helpers.py)
so the benchmarks start servers exactly as the tests do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "central"))
sys.path.insert(0, str(REPO / "tests" / "sync"))
os.environ.setdefault("GRIDFIELD_SECRET_STORE", "file")

from central_helpers import CENTRAL, throwaway_postgres  # noqa: E402
from sync_helpers import PIN, LiveServer, _start_with, central, new_grid  # noqa: E402

from central import db, ops  # noqa: E402
from fieldclient.security import crypto  # noqa: E402
from fieldclient.security.keystore import FileSecretStore  # noqa: E402
from fieldclient.storage.session import Session, setup_device  # noqa: E402
from sync.engine import enroll_device  # noqa: E402

__all__ = ["PIN", "LiveServer", "cheap_kdf", "enrolled_device", "new_grid", "pg_server",
           "serve", "workdir"]


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


def cheap_kdf() -> None:
    """Cheap Argon2id parameters for new devices (as tests/core/conftest.py fast_kdf)."""
    crypto.KdfParams.fresh = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls: cls(salt=os.urandom(16), memory_kib=1024, iterations=1, lanes=1)
    )


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


pg_server = throwaway_postgres


@contextlib.contextmanager
def serve(work: Path, db_url: str | None = None, *, grids: int = 1,
          households_per_grid: int = 3, before_serve: Any = None,
          extra: tuple[str, ...] = ()) -> Iterator[LiveServer]:
    """``central init``, ``central seed-demo`` (bulk inserts; up to 100,000 households
    per grid), then ``central serve`` (default body limit). ``before_serve(engine)`` runs
    between seeding and serving."""
    import json

    db_url = db_url or f"sqlite:///{work / 'central.db'}"
    central(db_url, "init")
    seeded = subprocess.run(
        [*CENTRAL, "--db", db_url, "seed-demo", "--grids", str(grids),
         "--households-per-grid", str(households_per_grid), "--seed", "5", "--json"],
        capture_output=True, text=True, timeout=1200, cwd=REPO, check=True,
    )
    demo = json.loads(seeded.stdout)
    engine = db.make_engine(db_url)
    if before_serve is not None:
        before_serve(engine)
    proc, base = _start_with(db_url, work, ["--photo-dir", str(work / "photos"), *extra])
    server = LiveServer(proc, base, db_url, demo, engine, work / "photos")
    try:
        yield server
    finally:
        server.stop()


def enrolled_device(server: LiveServer, data_dir: Path, person_id: int,
                    name: str = "平板") -> Session:
    """A new device (real SQLCipher vault, cheap KDF) enrolled for ``person_id``."""
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    code = ops.create_enrollment_code(server.engine, person_id)["code"]
    enroll_device(session, server.base, code, name)
    return session


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sorted(tree)


CPU_CGROUP_V1 = Path("/sys/fs/cgroup/cpu")


@contextlib.contextmanager
def cpu_capped(root: int, cores: float, period_us: int = 10_000) -> Iterator[bool]:
    """Each process of ``root``'s tree held to ``cores`` CPUs (a cgroup v1 CPU quota
    of its own; a short period, so a held process waits a few milliseconds at a time,
    not tens), given back its whole machine after; yields False (nothing held) where
    the cgroups cannot be made (no cgroup v1 ``cpu`` controller, not root)."""
    groups: list[Path] = []
    try:
        try:
            for pid in process_tree(root):
                group = CPU_CGROUP_V1 / f"gridfield-bench-{os.getpid()}-{pid}"
                group.mkdir()
                groups.append(group)
                (group / "cpu.cfs_period_us").write_text(str(period_us))
                (group / "cpu.cfs_quota_us").write_text(str(int(cores * period_us)))
                (group / "cgroup.procs").write_text(str(pid))
            held = True
        except OSError:
            held = False
        yield held
    finally:
        for group in groups:
            with contextlib.suppress(OSError):
                for pid in (group / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):  # gone meanwhile
                        (CPU_CGROUP_V1 / "cgroup.procs").write_text(pid)
            with contextlib.suppress(OSError):
                group.rmdir()
