"""The real `make dist` bundle: smoke tests of the built binaries, then installing,
updating and rolling back with the built launcher.

Run by ``make dist-test`` (CI, after ``make dist``), which sets ``GRIDFIELD_DIST_ARCHIVE``
to the archive; skipped otherwise (a full PyInstaller build is too slow for every quick
pytest run). The other versions are the same build restamped (tests/update/bundles.py:
release.json and the version baked into the app rewritten, so each reports its own
version); the broken one lacks a Qt module, so its app fails at import, as a bad build does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from bundles import mark_ready, restamp, stage

from fieldclient.update import install

ARCHIVE = os.environ.get("GRIDFIELD_DIST_ARCHIVE")
pytestmark = [
    pytest.mark.bundle,
    pytest.mark.skipif(not ARCHIVE, reason="built-bundle test: `make dist-test` runs it "
                       "on make dist's archive (GRIDFIELD_DIST_ARCHIVE not set)"),
    pytest.mark.timeout(900),
]
PIN = "246810"
BROKEN_MEMBER = "gridfield/_internal/PySide6/QtWidgets.abi3.so"


def built_archive() -> Path:
    assert ARCHIVE is not None
    path = Path(ARCHIVE)
    if not path.is_file():
        pytest.fail(f"GRIDFIELD_DIST_ARCHIVE={ARCHIVE}: no such archive (run make dist)")
    return path


def env_for(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (install.STARTED_ENV,)}
    env.update(QT_QPA_PLATFORM="offscreen", GRIDFIELD_SECRET_STORE="file", **extra)
    return env


def run(cmd: list[str | Path], stdin: str | None = None, timeout: float = 180,
        **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env_for(**extra))


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(built_archive(), "r:gz") as tar:
        tar.extractall(folder)  # our own build
    return folder


def test_the_archive_is_laid_out_for_the_installer(unpacked: Path) -> None:
    with tarfile.open(built_archive(), "r:gz") as tar:
        first = tar.next()
        assert first is not None and first.name == "release.json"
    manifest = json.loads((unpacked / "release.json").read_text())
    assert built_archive().name == (
        f"gridfield-{manifest['version']}-{manifest['platform']}.tar.gz")
    baked = json.loads((unpacked / "gridfield/_internal/release.json").read_text())
    assert baked == manifest
    assert (unpacked / "launcher/gridfield-launcher").is_file()
    assert (unpacked / BROKEN_MEMBER).is_file()  # what the broken build below lacks


def test_smoke_the_built_app_starts_and_the_cli_works(unpacked: Path, tmp_path: Path) -> None:
    version = json.loads((unpacked / "release.json").read_text())["version"]
    # `make dist VERSION=...` (CI builds 1.0.0, not the source's version): baked in.
    assert version == os.environ.get("GRIDFIELD_DIST_VERSION", version)
    app, cli, data = unpacked / "gridfield/gridfield", unpacked / "gridfield/fieldclient", \
        tmp_path / "data"
    started = run([app, "--data-dir", data, "--exit-after-startup"])
    assert started.returncode == 0, started.stderr
    assert "startup_ms=" in started.stdout
    # The start-up line the app logs once its first screen is painted.
    logged = (data / "logs" / "gridfield.log").read_text("utf-8")
    assert "first screen painted" in logged and "PySide6 support modules:" in logged
    assert run([app, "--version"]).stdout.strip() == version  # the baked version
    assert run([cli, "--version"]).stdout.strip() == version
    done = run([cli, "--data-dir", data, "init", "--pin-stdin"], stdin=PIN + "\n")
    assert done.returncode == 0, done.stderr
    status = run([cli, "status", "--data-dir", data, "--pin-stdin", "--json"], stdin=PIN + "\n")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["app_version"] == version
    checklist = run([cli, "checklist", "show", "--json"])
    assert checklist.returncode == 0, checklist.stderr
    started = run([app, "--data-dir", data, "--exit-after-startup"])  # the unlock screen
    assert started.returncode == 0, started.stderr


def test_install_update_and_roll_back_with_the_built_launcher(unpacked: Path,
                                                              tmp_path: Path) -> None:
    source = built_archive()
    bundles = tmp_path / "bundles"
    v100 = restamp(source, "1.0.0", bundles / "gridfield-1.0.0.tar.gz")
    v101 = restamp(source, "1.0.1", bundles / "gridfield-1.0.1.tar.gz")
    v102 = restamp(source, "1.0.2", bundles / "gridfield-1.0.2.tar.gz", drop=(BROKEN_MEMBER,))
    root, data = tmp_path / "install", tmp_path / "data"
    root.mkdir()
    shutil.copytree(unpacked / "launcher", root / "launcher", symlinks=True)  # as IT does
    launcher = root / "launcher/gridfield-launcher"

    done = run([launcher, "--install-from", v100])
    assert done.returncode == 0, done.stderr
    assert install.read_state(root).current == "1.0.0"
    start = [launcher, "--data-dir", data, "--exit-after-startup"]
    done = run(start)
    assert done.returncode == 0 and "startup_ms=" in done.stdout, done.stderr

    # 1.0.1 staged (as the TUF client leaves it) and declared safe: installed at the next
    # start, started on trial, confirmed at its first window.
    stage(data, v101, "1.0.1")
    mark_ready(data, "1.0.1")
    done = run(start)
    assert done.returncode == 0 and "startup_ms=" in done.stdout, done.stderr
    state = install.read_state(root)
    assert (state.current, state.previous, state.trial) == ("1.0.1", "1.0.0", None)
    exe = install.app_executable(root, "1.0.1", "fieldclient")
    assert run([exe, "--version"]).stdout.strip() == "1.0.1"
    outcome = json.loads((data / "updates/outcome.json").read_text())
    assert outcome["kind"] == "updated"

    # A broken 1.0.2: it fails to start, the launcher goes back to 1.0.1 and starts it.
    stage(data, v102, "1.0.2")
    mark_ready(data, "1.0.2")
    done = run(start)
    assert done.returncode == 0 and "startup_ms=" in done.stdout, done.stderr
    assert "1.0.2 failed to start" in done.stderr
    state = install.read_state(root)
    assert (state.current, state.trial, state.failed) == ("1.0.1", None, ["1.0.2"])
    assert install.installed_versions(root) == ["1.0.0", "1.0.1"]
    outcome = json.loads((data / "updates/outcome.json").read_text())
    assert (outcome["kind"], outcome["version"], outcome["restored"]) == (
        "rolled_back", "1.0.2", "1.0.1")
    assert outcome["reason"]["kind"] in ("exit", "signal")
    assert outcome["shown"] is True  # the restored 1.0.1 told the worker
    assert "1.0.2" in install.outcome_message(outcome, "en")


def test_a_revoked_release_goes_back_with_the_built_launcher(unpacked: Path,
                                                             tmp_path: Path) -> None:
    """IT revoked 1.0.1: the built 1.0.1's ``fieldclient update apply`` (finding its
    install root from where it runs) agrees to go back, the built launcher switches to
    the 1.0.0 installed beside it at the next start, and 1.0.0 tells the worker."""
    source = built_archive()
    bundles = tmp_path / "bundles"
    v100 = restamp(source, "1.0.0", bundles / "gridfield-1.0.0.tar.gz")
    v101 = restamp(source, "1.0.1", bundles / "gridfield-1.0.1.tar.gz")
    root, data = tmp_path / "install", tmp_path / "data"
    root.mkdir()
    shutil.copytree(unpacked / "launcher", root / "launcher", symlinks=True)
    launcher = root / "launcher/gridfield-launcher"
    for archive in (v100, v101):
        done = run([launcher, "--install-from", archive])
        assert done.returncode == 0, done.stderr
    state = install.read_state(root)
    assert (state.current, state.previous) == ("1.0.1", "1.0.0")
    cli = install.app_executable(root, "1.0.1", "fieldclient")
    done = run([cli, "--data-dir", data, "init", "--pin-stdin"], stdin=PIN + "\n")
    assert done.returncode == 0, done.stderr
    # what the TUF client's check leaves once IT revoked 1.0.1 and 1.0.0 is still here
    # (the check itself against a real centre: tests/sync/test_update_revoke.py)
    (data / "updates").mkdir(parents=True, exist_ok=True)
    (data / "updates/state.json").write_text(json.dumps({
        "action": "return", "installed": "1.0.1", "state": "installed",
        "current_revoked": True, "target": {"version": "1.0.0"}, "error": None,
        "message": None, "downloaded": 0}))

    apply = [cli, "update", "apply", "--json", "--data-dir", data, "--pin-stdin"]
    done = run(apply, stdin=PIN + "\n")  # no GRIDFIELD_INSTALL_ROOT: found from the bundle
    assert done.returncode == 0, done.stderr + done.stdout
    assert json.loads(done.stdout) == {"action": "return", "return_to": "1.0.0",
                                       "staged": None, "ready": True, "waiting": None}

    done = run([launcher, "--data-dir", data, "--exit-after-startup"])
    assert done.returncode == 0 and "startup_ms=" in done.stdout, done.stderr
    assert "1.0.1 was revoked; back to 1.0.0" in done.stderr
    state = install.read_state(root)
    assert (state.current, state.trial, state.failed) == ("1.0.0", None, ["1.0.1"])
    outcome = json.loads((data / "updates/outcome.json").read_text())
    assert (outcome["kind"], outcome["version"], outcome["restored"]) == (
        "switched", "1.0.1", "1.0.0")
    assert outcome["shown"] is True  # the restored 1.0.0 told the worker at its start
    exe = install.app_executable(root, "1.0.0", "fieldclient")
    assert run([exe, "--version"]).stdout.strip() == "1.0.0"
