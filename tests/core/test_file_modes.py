"""Every file the device writes is 0600 and every folder 0700 (issue 12: "On the
device, every file 0600"), even under a permissive umask: the app sets umask 0o077 at
start (tests/core/test_hardening.py), and each place that makes a file sets its mode."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldclient.cli import main as cli_main
from fieldclient.paths import DataPaths
from fieldclient.settings import Settings, save_settings
from fieldclient.storage import store
from fieldclient.storage.session import Session

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


@pytest.fixture()
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _modes(root: Path) -> dict[str, tuple[str, str]]:
    """Each path under ``root``: (its mode, the mode it should have)."""
    found = {}
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        want = "0o700" if stat.S_ISDIR(info.st_mode) else "0o600"
        found[str(path.relative_to(root))] = (oct(stat.S_IMODE(info.st_mode)), want)
    return found


def test_a_used_data_directory_is_owner_only(
    loose_umask: None, session: Session, data_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    session.blobs.put(b"photo")
    store.backup(session.db, session.paths.database, session.paths.backups, "test")
    with session.db.conn:
        session.db.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
    save_settings(DataPaths(data_dir).settings, Settings())
    out = tmp_path / "audit.jsonl"
    while_open = _modes(data_dir)  # with the WAL and shared-memory files
    session.close()
    sys_stdin = sys.stdin
    try:
        import io

        sys.stdin = io.StringIO("246810\n")
        assert cli_main(["audit", "export", "--out", str(out), "--pin-stdin",
                         "--data-dir", str(data_dir)]) == 0
    finally:
        sys.stdin = sys_stdin
    capsys.readouterr()
    modes = {**while_open, **_modes(data_dir)}
    assert any(name.endswith("-wal") for name in modes)
    assert any(name.startswith("backups/") for name in modes)
    assert any(name.startswith("blobs/") and len(name) > 20 for name in modes)
    wrong = {name: mode for name, (mode, want) in modes.items() if mode != want}
    assert wrong == {}
    assert oct(stat.S_IMODE(out.stat().st_mode)) == "0o600"
