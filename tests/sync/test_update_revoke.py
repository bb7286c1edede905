"""A revoked release takes its devices back to the one before, against a real ``central
serve`` with its TUF repository (``central release revoke``), devices on a real SQLCipher
database and a real install root (tests/update/bundles.py: small real release archives),
switched by the real launcher in a child process.

The device runs 1.0.1 (``fieldclient.__version__`` as a built 1.0.1 reports it) from an
install root whose ``GRIDFIELD_INSTALL_ROOT`` the launcher sets, as it does for the app.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sync_helpers import PIN, Dev
from test_updates import UpdateCentre, centre, check, device  # noqa: F401 - fixtures

import fieldclient
from fieldclient.fieldwork import patrols
from fieldclient.storage.migrations import LATEST_VERSION
from fieldclient.update import client as updates
from fieldclient.update import install
from fieldclient.update.policy import status
from tests.update.bundles import make_bundle

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = updates.this_platform()


def publish(centre: UpdateCentre, tmp: Path, version: str,  # noqa: F811
            schema: int = LATEST_VERSION) -> Path:
    """A real release archive (release.json first, a runnable app) signed as ``version``."""
    archive = make_bundle(tmp / f"bundle-{version}", version, schema=schema)
    centre.repo.publish(archive, version, centre.keys, platform=PLATFORM)
    return archive


def revoke(centre: UpdateCentre, tmp: Path, version: str) -> None:  # noqa: F811
    """IT's ``central release revoke V`` (its own process, the server running)."""
    from central_helpers import central as run_central

    db_url = f"sqlite:///{tmp / 'centre' / 'central.db'}"
    done = run_central(db_url, "release", "revoke", version, "--keys", str(centre.keys),
                       "--update-dir", str(tmp / "centre" / "updates"), "--json")
    assert json.loads(done.stdout)[0]["revoked"] is True


def launcher(root: Path, data: Path, log: Path) -> subprocess.CompletedProcess[str]:
    """The real launcher (``python -m fieldclient.update.launcher``), as the desktop
    shortcut starts it; the bundles' app logs each start to ``log``."""
    env = dict(os.environ, GRIDFIELD_INSTALL_ROOT=str(root), GRIDFIELD_TEST_LOG=str(log),
               GRIDFIELD_START_TIMEOUT="20", PYTHONPATH=str(ROOT))
    env.pop(install.STARTED_ENV, None)
    return subprocess.run([sys.executable, "-m", "fieldclient.update.launcher",
                           "--data-dir", str(data)], env=env, capture_output=True, text=True,
                          timeout=120)


def started(log: Path) -> list[str]:
    return [json.loads(line)["version"] for line in log.read_text().splitlines()]


def fieldclient_as(version: str, data: Path, root: Path | None, *args: str,
                   lang: str = "zh_CN") -> subprocess.CompletedProcess[str]:
    """``fieldclient ARGS`` in its own process, as a built ``version`` reports itself."""
    code = (f"import sys, fieldclient; fieldclient.__version__ = {version!r}; "
            "from fieldclient.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "FIELDCLIENT_LANG": lang, "GRIDFIELD_SECRET_STORE": "file"}
    env.pop(install.INSTALL_ROOT_ENV, None)
    if root is not None:
        env[install.INSTALL_ROOT_ENV] = str(root)
    return subprocess.run([sys.executable, "-c", code, *args, "--data-dir", str(data),
                           "--pin-stdin"], input=PIN + "\n", capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.fixture()
def on_101(centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path,  # noqa: F811
           monkeypatch: pytest.MonkeyPatch) -> tuple[Dev, Path, dict[str, Path]]:
    """1.0.0 and 1.0.1 published; a device running 1.0.1, installed with 1.0.0 as the
    previous version (IT installed 1.0.0, the device updated)."""
    archives = {v: publish(centre, tmp_path, v) for v in ("1.0.0", "1.0.1")}
    dev = device()
    monkeypatch.setattr(fieldclient, "__version__", "1.0.1")
    root = tmp_path / "install"
    install.first_install(root, archives["1.0.0"])
    install.first_install(root, archives["1.0.1"])
    assert (install.read_state(root).current, install.read_state(root).previous) == (
        "1.0.1", "1.0.0")
    monkeypatch.setenv(install.INSTALL_ROOT_ENV, str(root))
    return dev, root, archives


def test_a_revoked_release_goes_back_to_the_installed_previous_one(
        centre: UpdateCentre, on_101: tuple[Dev, Path, dict[str, Path]],  # noqa: F811
        tmp_path: Path) -> None:
    dev, root, _ = on_101
    assert dev.engine.run_once().update["state"] == "up_to_date"
    revoke(centre, tmp_path, "1.0.1")

    result = dev.engine.run_once().update  # the sync's check
    assert (result["action"], result["target"]["version"]) == ("return", "1.0.0")
    assert result["state"] == "installed" and result["downloaded"] == 0  # nothing fetched
    assert updates.staged(dev.data_dir) is None
    shown = status(dev.data_dir, dev.session)
    assert (shown["return_to"], shown["return_ready"], shown["apply_allowed"]) == (
        "1.0.0", True, True)

    # IT's script: `fieldclient update apply --json` (as the running 1.0.1)
    dev.session.close()
    applied = fieldclient_as("1.0.1", dev.data_dir, root, "update", "apply", "--json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout) == {"action": "return", "return_to": "1.0.0",
                                          "staged": None, "ready": True, "waiting": None}
    words = fieldclient_as("1.0.1", dev.data_dir, root, "update", "apply", lang="en")
    assert "1.0.0" in words.stdout and "withdrew" in words.stdout, words.stdout
    ready = install.ready_return(dev.data_dir)
    assert ready is not None and (ready["version"], ready["from"]) == ("1.0.0", "1.0.1")
    assert ready["schema"] == LATEST_VERSION

    log = tmp_path / "starts.log"
    done = launcher(root, dev.data_dir, log)
    assert done.returncode == 0, done.stderr
    assert "1.0.1 was revoked; back to 1.0.0" in done.stderr
    assert started(log) == ["1.0.0"]  # not a trial: the version that ran before
    state = install.read_state(root)
    assert (state.current, state.trial, state.failed) == ("1.0.0", None, ["1.0.1"])
    assert json.loads((root / "install.json").read_text())["failed"] == ["1.0.1"]
    assert install.installed_versions(root) == ["1.0.0"]
    assert install.ready_return(dev.data_dir) is None
    outcome = install.take_outcome(dev.data_dir)  # told once, at 1.0.0's start
    assert outcome is not None and outcome["kind"] == "switched"
    assert install.outcome_message(outcome, "zh_CN") == \
        "1.0.1版已被信息管理员撤回，本设备已退回1.0.0版。"
    assert "1.0.1" in install.outcome_message(outcome, "en") and \
        "withdrew" in install.outcome_message(outcome, "en")
    assert install.take_outcome(dev.data_dir) is None

    # Now on 1.0.0: the revoked 1.0.1 is never offered, fetched or installed again.
    launcher(root, dev.data_dir, log)
    assert started(log) == ["1.0.0", "1.0.0"]
    again = fieldclient_as("1.0.0", dev.data_dir, root, "update", "check", "--json")
    assert again.returncode == 0, again.stderr
    checked = json.loads(again.stdout)
    assert (checked["action"], checked["state"], checked["target"]) == (
        "none", "up_to_date", None)
    assert install.pending(dev.data_dir, "1.0.0") is None
    assert install.read_state(root).current == "1.0.0"


def test_a_revoked_release_not_installed_here_fetches_the_one_before_through_tuf(
        centre: UpdateCentre, on_101: tuple[Dev, Path, dict[str, Path]],  # noqa: F811
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dev, _, archives = on_101
    root = tmp_path / "fresh-install"  # IT installed 1.0.1 straight away: no 1.0.0 here
    install.first_install(root, archives["1.0.1"])
    monkeypatch.setenv(install.INSTALL_ROOT_ENV, str(root))
    revoke(centre, tmp_path, "1.0.1")

    half = check(dev, budget=100)  # a piece per sync, like an update
    assert (half["action"], half["state"], half["target"]["version"]) == (
        "return", "downloading", "1.0.0")
    shown = status(dev.data_dir, dev.session)
    assert shown["return_to"] == "1.0.0" and not shown["return_ready"]
    assert not shown["apply_allowed"]
    assert install.note_ready(dev.data_dir, dev.session) is None  # nothing to do yet
    assert install.ready_return(dev.data_dir) is None

    result = check(dev)
    assert result["state"] == "staged"
    found = updates.staged(dev.data_dir)
    assert found is not None and (found["version"], found["action"]) == ("1.0.0", "return")
    assert install.pending(dev.data_dir, "1.0.1") is None  # a return is not an update
    back = install.pending_return(dev.data_dir, root)
    assert back is not None and back.staged is not None and back.version == "1.0.0"
    assert status(dev.data_dir, dev.session)["apply_allowed"] is True
    assert install.note_ready(dev.data_dir, dev.session) is None
    dev.session.close()

    log = tmp_path / "starts.log"
    done = launcher(root, dev.data_dir, log)
    assert done.returncode == 0, done.stderr
    assert started(log) == ["1.0.0"]
    state = install.read_state(root)
    assert (state.current, state.previous, state.failed) == ("1.0.0", None, ["1.0.1"])
    assert install.installed_versions(root) == ["1.0.0"]  # the revoked one is gone
    assert not (dev.data_dir / "updates" / "staged" / "1.0.0").exists()
    outcome = install.take_outcome(dev.data_dir)
    assert outcome is not None and outcome["kind"] == "switched"


def test_a_return_is_refused_when_the_older_version_cannot_open_the_database(
        centre: UpdateCentre, device: Callable[..., Dev], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """1.0.1 migrated the database past what 1.0.0 knows: the device stays on 1.0.1 with
    every record, says why (translated), and takes the fixed 1.0.2 once IT publishes it."""
    old = publish(centre, tmp_path, "1.0.0", schema=LATEST_VERSION - 1)
    new = publish(centre, tmp_path, "1.0.1")
    dev = device()
    monkeypatch.setattr(fieldclient, "__version__", "1.0.1")
    root = tmp_path / "install"
    install.first_install(root, old)
    install.first_install(root, new)
    monkeypatch.setenv(install.INSTALL_ROOT_ENV, str(root))
    from fieldclient.fieldwork.households import create_household, get_household

    household = create_household(dev.session, "钱七", "解放路3号")
    revoke(centre, tmp_path, "1.0.1")
    assert check(dev)["action"] == "return"

    shown = status(dev.data_dir, dev.session, "en")
    assert shown["return_to"] == "1.0.0" and not shown["apply_allowed"]
    assert "1.0.0" in shown["apply_blocked_reason"] and str(LATEST_VERSION) in \
        shown["apply_blocked_reason"]
    refusal = install.note_ready(dev.data_dir, dev.session)
    assert isinstance(refusal, install.SchemaBlocksRollBack)
    assert "不能退回" in refusal.message("zh_CN") and "数据" not in refusal.message("en")
    assert install.ready_return(dev.data_dir) is None
    dev.session.close()
    applied = fieldclient_as("1.0.1", dev.data_dir, root, "update", "apply", "--json",
                             lang="en")
    assert applied.returncode == 1
    data = json.loads(applied.stdout)
    assert data["ready"] is False and "1.0.0" in data["waiting"]

    # a stale or forged word at the launcher is refused the same way: nothing changes
    (dev.data_dir / "updates" / "ready.json").write_text(json.dumps({
        "version": "1.0.0", "action": "return", "from": "1.0.1", "schema": LATEST_VERSION}))
    log = tmp_path / "starts.log"
    done = launcher(root, dev.data_dir, log)
    assert done.returncode == 0, done.stderr
    assert started(log) == ["1.0.1"] and "not back to 1.0.0" in done.stderr
    assert install.read_state(root).current == "1.0.1"
    assert install.read_state(root).failed == []
    outcome = install.take_outcome(dev.data_dir)
    assert outcome is not None and outcome["kind"] == "return_refused"
    assert "1.0.0" in install.outcome_message(outcome, "en")

    from fieldclient.storage.session import unlock_device

    with unlock_device(dev.data_dir, PIN) as session:  # every record still there
        assert get_household(session, household)["address"] == "解放路3号"
        dev.session = session
        publish(centre, tmp_path, "1.0.2")  # IT's fix, newer than the revoked one
        fixed = check(dev, budget=0)
        assert (fixed["action"], fixed["target"]["version"]) == ("update", "1.0.2")
        assert fixed["current_revoked"] is True


def test_a_return_waits_for_the_patrol(
        centre: UpdateCentre, on_101: tuple[Dev, Path, dict[str, Path]]) -> None:  # noqa: F811
    dev, _, _ = on_101
    centre.repo.revoke("1.0.1", centre.keys)
    assert check(dev)["state"] == "installed"
    patrol = patrols.start_patrol(dev.session, "101", worker_id="w-7")
    reason = install.note_ready(dev.data_dir, dev.session)
    assert isinstance(reason, install.PatrolUnderWay)
    assert install.ready_return(dev.data_dir) is None
    assert status(dev.data_dir, dev.session)["apply_allowed"] is False
    patrols.finish_patrol(dev.session, patrol.id, allow_incomplete=True)
    assert install.note_ready(dev.data_dir, dev.session) is None
    assert install.ready_return(dev.data_dir) is not None
