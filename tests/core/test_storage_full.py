"""A full disk is said plainly: "storage full, this much left, this much needed, the
photos take this much", never "wrong key or damaged file"; no wrong PIN is counted and
nothing is lost once room is made. On a small tmpfs the test mounts (root only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldclient.errors import StorageFull
from fieldclient.fieldwork.households import create_household
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import setup_device, unlock_device

PIN = "258036"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs of its own (mount needs root; skipped with the reason otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "video.mp4"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def _failed_attempts(data_dir: Path) -> int:
    return int(json.loads((data_dir / "vault.json").read_text())["failed_attempts"])


def test_full_disk_is_said_plainly_and_nothing_is_lost(
    small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDFIELD_SECRET_STORE", "file")
    data_dir = small_disk / "device"
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    hid = create_household(session, "王秀英", "培训村2组8号")
    session.close()
    filler = _fill(small_disk)
    before = _failed_attempts(data_dir)

    with pytest.raises(StorageFull) as caught:
        unlock_device(data_dir, PIN)
    text = caught.value.message()
    assert "存储空间已满" in text and "不是PIN码错误" in text and "MB" in text
    assert "密钥不正确" not in text
    with pytest.raises(StorageFull):  # a wrong PIN is not tried, and not counted
        unlock_device(data_dir, "111111")
    assert _failed_attempts(data_dir) == before

    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRIDFIELD_SECRET_STORE": "file"}
    done = subprocess.run(
        [sys.executable, "-m", "fieldclient.cli", "status", "--data-dir", str(data_dir),
         "--pin-stdin"], input=PIN + "\n", capture_output=True, text=True, env=env,
        timeout=120)
    assert done.returncode == 1, done.stderr
    assert "存储空间已满" in done.stderr and "密钥不正确" not in done.stderr
    english = subprocess.run(
        [sys.executable, "-m", "fieldclient.cli", "status", "--data-dir", str(data_dir),
         "--pin-stdin"], input=PIN + "\n", capture_output=True, text=True,
        env={**env, "FIELDCLIENT_LANG": "en"}, timeout=120)
    assert "storage is full" in english.stderr.lower(), english.stderr

    filler.unlink()  # room made: everything is there
    session = unlock_device(data_dir, PIN)
    try:
        row = session.db.execute("SELECT head_name FROM households WHERE id = ?",
                                 (hid,)).fetchone()
        assert row is not None and row[0] == "王秀英"
    finally:
        session.close()
    assert _failed_attempts(data_dir) == before
