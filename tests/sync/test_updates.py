"""Signed release updates end to end: a real ``central serve`` with a TUF repository the
test makes (``central release``), devices (real SQLCipher) that check, fetch through the
shaping proxy with cuts, verify and stage; and the attacks TUF is there to refuse."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from securesystemslib.signer import CryptoSigner
from sync_helpers import PIN, Dev, LiveServer, launch, new_grid
from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile, Targets, Timestamp

import fieldclient
from central.updates.repository import Repository
from fieldclient.fieldwork.households import create_household
from fieldclient.settings import Settings, save_settings
from fieldclient.update import client as updates
from fieldclient.update.policy import apply_allowed, status
from sync.transport import skew_headers
from tests.shaping_proxy import ShapingProxy

PLATFORM = updates.this_platform()


class UpdateCentre:
    """The live server with its update repository and IT's offline keys."""

    def __init__(self, live: LiveServer, update_dir: Path, keys: Path) -> None:
        self.live, self.keys = live, keys
        self.repo = Repository(live.engine, update_dir)

    def build(self, tmp: Path, version: str, size: int = 300_000) -> Path:
        """A 'built folder' of ``size`` random bytes (incompressible, as a binary)."""
        folder = tmp / f"build-{version}" / "gridfield"
        folder.mkdir(parents=True)
        (folder / "gridfield").write_bytes(os.urandom(size))
        (folder / "VERSION").write_text(version)
        return folder

    def publish(self, tmp: Path, version: str, size: int = 300_000,
                **kwargs: Any) -> dict[str, Any]:
        return self.repo.publish(self.build(tmp, version, size), version, self.keys,
                                 platform=PLATFORM, **kwargs)


@pytest.fixture()
def centre(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UpdateCentre]:
    """A fresh centre (SQLite) whose timestamp is re-signed only at start (so the tests
    can put an expired one in place), with ``central release keys init`` done."""
    workdir = tmp_path / "centre"
    workdir.mkdir()
    update_dir, keys = workdir / "updates", tmp_path / "usb-keys"
    db_url = f"sqlite:///{workdir / 'central.db'}"
    from central_helpers import central

    central(db_url, "init")
    made = central(db_url, "release", "keys", "init", "--keys", str(keys),
                   "--update-dir", str(update_dir), "--json")
    assert json.loads(made.stdout)["root"] == str(keys / "root.json")
    monkeypatch.setenv("GRIDFIELD_CENTRAL_RESIGN_CHECK", "3600")
    live = launch(workdir, "--update-dir", str(update_dir), db_url=db_url)
    try:
        yield UpdateCentre(live, update_dir, keys)
    finally:
        live.stop()


@pytest.fixture()
def device(centre: UpdateCentre, make_device: Callable[..., Dev],
           monkeypatch: pytest.MonkeyPatch) -> Callable[..., Dev]:
    """A device on version 1.0.0 that trusts the centre's root (as if built with it)."""
    monkeypatch.setattr(fieldclient, "__version__", "1.0.0")

    def make(grid: dict[str, Any] | None = None, channel: str = "stable",
             name: str | None = None) -> Dev:
        grid = grid or new_grid(centre.live.engine)
        dev = make_device(centre.live, grid["workers"][0], name)
        meta = updates.UpdatePaths.of(dev.data_dir).metadata
        meta.mkdir(parents=True)
        (meta / "root.json").write_bytes((centre.keys / "root.json").read_bytes())
        save_settings(dev.data_dir / "settings.json", Settings(update_channel=channel))
        dev.engine.update_interval = 0
        return dev

    return make


def check(dev: Dev, budget: int | None = None, channel: str = "stable") -> dict[str, Any]:
    from fieldclient.fieldwork.enrollment import enrollment

    enrolled = enrollment(dev.session)
    assert enrolled is not None
    checker = updates.UpdateClient(dev.data_dir, dev.transport.base, dev.transport.http,
                                   skew_headers())
    return checker.check(channel, enrolled.grids, updates.Budget(budget))


def test_publish_then_a_device_fetches_through_cuts_verifies_and_stages(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path) -> None:
    dev = device()
    assert dev.engine.run_once().update["state"] == "up_to_date"
    published = centre.publish(tmp_path, "1.0.1", size=700_000)
    archive = next(centre.repo.targets_dir.glob("*.gridfield-1.0.1-*.tar.gz"))
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == published["sha256"]

    host, port = urlsplit(centre.live.base).hostname, urlsplit(centre.live.base).port
    assert host is not None and port is not None
    with ShapingProxy(host, port, bandwidth_bps=None, cut_min=40_000, cut_before=160_000,
                      seed=3) as proxy:
        dev.via(proxy.url)
        progress: list[int] = []
        for _ in range(40):
            report = dev.engine.run_once()
            if report.update is not None:
                progress.append(report.update["downloaded"])
                if report.update["state"] == "staged":
                    break
        assert proxy.cuts >= 3, proxy.cuts  # the archive came in several connections
    assert report.update is not None and report.update["state"] == "staged", report.update
    assert progress == sorted(progress), progress  # each run went on from the last
    found = updates.staged(dev.data_dir)
    assert found is not None
    assert found["version"] == "1.0.1" and found["sha256"] == published["sha256"]
    assert found["archive"] == f"gridfield-1.0.1-{PLATFORM}.tar.gz"
    assert found["length"] == published["length"] and found["channel"] == "stable"
    staged_path = Path(found["path"])
    assert staged_path == dev.data_dir / "updates" / "staged" / "1.0.1" / found["archive"]
    assert staged_path.read_bytes() == archive.read_bytes()
    assert not list((dev.data_dir / "updates" / "partial").glob("*.part"))

    state = status(dev.data_dir, dev.session)
    assert state["installed"] == "1.0.0" and state["apply_allowed"] is True
    assert state["pending"]["version"] == "1.0.1"
    from fieldclient.update import install  # the install step reads the same stage

    for_install = install.pending(dev.data_dir, current="1.0.0")
    assert for_install is not None and for_install.version == "1.0.1"
    assert for_install.sha256 == published["sha256"] and for_install.archive == staged_path
    install.verify_staged(for_install)
    create_household(dev.session, "赵六", "人民路1号")  # unsynced work holds it back
    reason = apply_allowed(dev.session)
    assert reason is not None and "1条记录" in reason
    assert status(dev.data_dir, dev.session)["apply_allowed"] is False


def test_the_budget_spreads_a_download_over_syncs(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path) -> None:
    dev = device()
    published = centre.publish(tmp_path, "1.0.1", size=500_000)
    first = check(dev, budget=200_000)
    assert first["state"] == "downloading" and first["downloaded"] == 200_000
    assert updates.staged(dev.data_dir) is None
    second = check(dev, budget=200_000)
    assert second["downloaded"] == 400_000
    third = check(dev, budget=200_000)
    assert third["state"] == "staged" and third["downloaded"] == published["length"]


def test_a_tampered_archive_is_refused_and_dropped(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path) -> None:
    dev = device()
    centre.publish(tmp_path, "1.0.1")
    archive = next(centre.repo.targets_dir.glob("*.gridfield-1.0.1-*.tar.gz"))
    data = bytearray(archive.read_bytes())
    data[1000] ^= 0xFF  # one byte changed on the server's disk (or on the way)
    archive.write_bytes(bytes(data))
    result = check(dev)
    assert result["state"] == "error" and result["error"] == "tampered"
    assert "篡改" in result["message"]
    assert updates.staged(dev.data_dir) is None
    assert not list((dev.data_dir / "updates" / "partial").glob("*.part"))


def _resign_timestamp(repo: Repository, snapshot_version: int, expires: datetime) -> None:
    current = repo.load(Timestamp.type).signed
    md = Metadata(Timestamp(version=current.version + 1, expires=expires,
                            snapshot_meta=MetaFile(version=snapshot_version)))
    md.sign(repo._online_signer(Timestamp.type))
    repo._write(md)


def test_an_expired_timestamp_is_refused(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path) -> None:
    dev = device()
    assert check(dev)["state"] == "up_to_date"
    centre.publish(tmp_path, "1.0.1")
    snap = centre.repo.load(Snapshot.type).signed.version
    _resign_timestamp(centre.repo, snap, datetime.now(UTC) - timedelta(hours=1))
    result = check(dev)
    assert result["error"] == "expired", result
    assert "过期" in result["message"]
    assert updates.staged(dev.data_dir) is None
    # the centre re-signs it (as `central serve` does when it finds it stale)
    assert centre.repo.refresh_online() == [Timestamp.type]
    assert check(dev)["state"] == "staged"


def test_a_rolled_back_snapshot_is_refused(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path) -> None:
    dev = device()
    centre.publish(tmp_path, "1.0.1")
    assert check(dev, budget=0)["state"] == "downloading"  # trusts the newest snapshot
    newest = centre.repo.load(Snapshot.type).signed.version
    assert newest >= 2
    # a timestamp (validly signed) pointing back at the snapshot before the release
    _resign_timestamp(centre.repo, newest - 1, datetime.now(UTC) + timedelta(hours=12))
    (centre.repo.metadata_dir / "snapshot.json").write_bytes(
        (centre.repo.metadata_dir / f"{newest - 1}.snapshot.json").read_bytes())
    result = check(dev)
    assert result["error"] == "rollback", result
    assert "回滚" in result["message"]
    assert updates.staged(dev.data_dir) is None


def test_a_release_signed_by_the_wrong_key_is_refused(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path) -> None:
    dev = device()
    assert check(dev)["state"] == "up_to_date"
    repo = centre.repo
    folder = centre.build(tmp_path, "6.6.6")
    name = f"gridfield-6.6.6-{PLATFORM}.tar.gz"
    evil = tmp_path / name
    subprocess.run(["tar", "-czf", str(evil), "-C", str(folder.parent), "gridfield"],
                   check=True)
    target = TargetFile.from_file(name, str(evil), ["sha256"])
    target.unrecognized_fields["custom"] = {"gridfield": {
        "version": "6.6.6", "channel": "stable", "districts": [], "grids": None,
        "platform": PLATFORM, "revoked": False, "published_at": "2030-01-01T00:00:00Z"}}
    targets_md = repo.load(Targets.type)
    targets_md.signed.targets[name] = target
    targets_md.signed.version += 1
    targets_md.signatures.clear()
    targets_md.sign(CryptoSigner.generate_ed25519())  # not the targets key root names
    repo._write(targets_md)
    (repo.targets_dir / f"{target.hashes['sha256']}.{name}").write_bytes(evil.read_bytes())
    repo._new_snapshot(targets_md.signed.version)  # the online keys sign along
    result = check(dev)
    assert result["error"] == "wrong_key", result
    assert "密钥" in result["message"]
    assert updates.staged(dev.data_dir) is None


def test_a_revoked_release_sends_its_devices_back_to_the_one_before(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dev = device()
    centre.publish(tmp_path, "1.0.9")
    centre.publish(tmp_path, "1.0.10")  # a version, not a string: 1.0.10 > 1.0.9
    assert check(dev, budget=0)["target"]["version"] == "1.0.10"
    centre.repo.revoke("1.0.10", centre.keys)
    # a device on 1.0.0 now takes 1.0.9; one on the revoked 1.0.10 returns to it
    assert check(dev, budget=0)["target"]["version"] == "1.0.9"
    monkeypatch.setattr(fieldclient, "__version__", "1.0.10")
    result = check(dev)
    assert result["action"] == "return" and result["current_revoked"] is True
    assert result["target"]["version"] == "1.0.9" and result["state"] == "staged"
    found = updates.staged(dev.data_dir)
    assert found is not None and found["action"] == "return" and found["version"] == "1.0.9"
    assert status(dev.data_dir, dev.session)["return_to"] == "1.0.9"
    from sync.cli import update_lines

    assert any("1.0.9" in line and "撤回" in line for line in update_lines(result))


def test_the_pilot_channel_and_its_districts_get_a_release_first(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path) -> None:
    engine = centre.live.engine
    pilot_grid, other_grid = new_grid(engine), new_grid(engine)
    pilot = device(pilot_grid, "pilot", "pilot")
    pilot_elsewhere = device(other_grid, "pilot", "pilot-elsewhere")
    stable = device(new_grid(engine), "stable", "stable")
    centre.publish(tmp_path, "1.0.1", channel="pilot", districts=[pilot_grid["id"]])
    assert check(pilot, 0, "pilot")["target"]["version"] == "1.0.1"
    assert check(pilot_elsewhere, 0, "pilot")["state"] == "up_to_date"
    assert check(stable, 0, "stable")["state"] == "up_to_date"
    # the sync's check reads the channel from the device's settings
    assert pilot.engine.run_once().update["target"]["version"] == "1.0.1"
    assert stable.engine.run_once().update["state"] == "up_to_date"
    centre.repo.promote("1.0.1", centre.keys, channel="stable")
    assert check(stable, 0, "stable")["target"]["version"] == "1.0.1"
    assert check(pilot_elsewhere, 0, "pilot")["target"]["version"] == "1.0.1"


def test_fieldclient_update_check_and_status_for_it_scripts(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path) -> None:
    dev = device()
    centre.publish(tmp_path, "1.0.1")  # the real app is 0.1.0: 1.0.1 is newer

    def run(*args: str, lang: str = "zh_CN") -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "FIELDCLIENT_LANG": lang, "GRIDFIELD_SECRET_STORE": "file"}
        return subprocess.run(
            [sys.executable, "-m", "fieldclient.cli", "update", *args, "--data-dir",
             str(dev.data_dir), "--pin-stdin"], input=PIN + "\n", capture_output=True,
            text=True, env=env, timeout=120)

    first = run("check", "--json", "--no-download")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["state"] == "available" and data["target"]["version"] == "1.0.1"
    done = run("check", lang="en")
    assert done.returncode == 0, done.stderr
    assert "1.0.1" in done.stdout and "verified" in done.stdout, done.stdout
    shown = json.loads(run("status", "--json").stdout)
    assert shown["staged"]["version"] == "1.0.1" and shown["apply_allowed"] is True
    assert shown["channel"] == "stable"
    applied = run("apply", "--json")  # nothing at risk: goes in at the next start
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout) == {"action": "update", "return_to": None,
                                          "staged": "1.0.1", "ready": True, "waiting": None}
    ready = json.loads((dev.data_dir / "updates" / "ready.json").read_text("utf-8"))
    assert ready["version"] == "1.0.1"
    assert "1.0.1" in run("apply", lang="en").stdout
    # a tampered archive: exit 1 with the reason
    (updates.UpdatePaths.of(dev.data_dir).staged / "staged.json").unlink()
    archive = next(centre.repo.targets_dir.glob("*.gridfield-1.0.1-*.tar.gz"))
    archive.write_bytes(archive.read_bytes()[:-10] + b"0123456789")
    bad = run("check", lang="en")
    assert bad.returncode == 1
    assert "tamper" in bad.stdout.lower() or "tamper" in bad.stderr.lower(), bad.stdout


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_small_change_travels_as_a_per_file_delta(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path) -> None:
    import shutil
    import tarfile

    old = tmp_path / "v100" / "gridfield"
    (old / "_internal" / "PySide6").mkdir(parents=True)
    (old / "gridfield").write_bytes(os.urandom(20_000))
    (old / "_internal" / "PySide6" / "libQt6Core.so.6").write_bytes(os.urandom(600_000))
    (old / "_internal" / "base_library.zip").write_bytes(os.urandom(100_000))
    os.symlink("libQt6Core.so.6", old / "_internal" / "PySide6" / "libQt6Core.so")
    new = tmp_path / "v101" / "gridfield"
    shutil.copytree(old, new, symlinks=True)
    (new / "gridfield").write_bytes(os.urandom(20_000))  # the app's own code changed
    (new / "_internal" / "new_module.pyc").write_bytes(b"\x00" * 3000)
    keys, repo = centre.keys, centre.repo
    repo.publish(old, "1.0.0", keys, platform=PLATFORM)
    published = repo.publish(new, "1.0.1", keys, platform=PLATFORM)
    delta_name = f"gridfield-1.0.0-to-1.0.1-{PLATFORM}.delta.tar.gz"
    assert set(published["deltas"]) == {delta_name}
    assert published["deltas"][delta_name] < published["length"] // 10

    dev = device()
    from fieldclient.fieldwork.enrollment import enrollment

    enrolled = enrollment(dev.session)
    assert enrolled is not None

    def check_from(base: Path) -> dict[str, Any]:
        checker = updates.UpdateClient(dev.data_dir, dev.transport.base, dev.transport.http,
                                       skew_headers(), base_dir=base)
        result = checker.check("stable", enrolled.grids, updates.Budget())
        result["fetched"] = checker.archive_bytes
        return result

    result = check_from(old)  # the installed 1.0.0 folder
    assert result["state"] == "staged" and result["via"] == "delta", result
    assert result["fetched"] == published["deltas"][delta_name]
    found = updates.staged(dev.data_dir)
    assert found is not None and found["via"] == "delta"
    assert found["target_sha256"] == published["sha256"] and found["version"] == "1.0.1"
    unpacked = tmp_path / "unpacked"
    with tarfile.open(found["path"], "r:gz") as tar:
        tar.extractall(unpacked, filter="tar")
    assert _tree(unpacked / "gridfield") == _tree(new)
    assert os.readlink(unpacked / "gridfield" / "_internal" / "PySide6" /
                       "libQt6Core.so") == "libQt6Core.so.6"
    assert check_from(old)["state"] == "staged"  # nothing fetched again

    # an installed folder that is not what 1.0.0 was: the full archive instead
    shutil.rmtree(updates.UpdatePaths.of(dev.data_dir).staged)
    damaged = tmp_path / "damaged" / "gridfield"
    shutil.copytree(old, damaged, symlinks=True)
    (damaged / "_internal" / "base_library.zip").write_bytes(b"changed by hand")
    again = check_from(damaged)
    assert again["state"] == "staged" and again["via"] == "archive", again
    assert "base_library.zip" in again["delta_failed"]
    assert again["fetched"] == published["deltas"][delta_name] + published["length"]
    found = updates.staged(dev.data_dir)
    assert found is not None and found["sha256"] == published["sha256"]


def test_no_room_for_the_download_is_said_and_nothing_is_fetched(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    dev = device()
    centre.publish(tmp_path, "1.0.1")
    free = shutil.disk_usage(dev.data_dir).free
    monkeypatch.setattr(updates, "SPACE_MARGIN", free)  # the disk is as good as full
    result = check(dev)
    assert result["error"] == "no_space" and "存储空间不足" in result["message"]
    assert result["downloaded"] == 0 and updates.staged(dev.data_dir) is None
    monkeypatch.setattr(updates, "SPACE_MARGIN", 0)
    assert check(dev)["state"] == "staged"
