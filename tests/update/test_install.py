"""Installing a staged release, trying it and rolling back, with small real bundles
(tests/update/bundles.py) started by the real launcher code in a child process.

The launcher runs as ``python -m fieldclient.update.launcher`` with
``GRIDFIELD_INSTALL_ROOT``, as the built ``gridfield-launcher`` runs from its folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from bundles import make_bundle, mark_ready, stage

from fieldclient.fieldwork import households, patrols
from fieldclient.storage.migrations import LATEST_VERSION
from fieldclient.storage.session import Session
from fieldclient.update import install

ROOT = Path(__file__).resolve().parents[2]


def launch(root: Path, data: Path, log: Path, *args: str, timeout: float = 20,
           **env: str) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ, GRIDFIELD_INSTALL_ROOT=str(root), GRIDFIELD_TEST_LOG=str(log),
                   GRIDFIELD_START_TIMEOUT=str(timeout), PYTHONPATH=str(ROOT), **env)
    environ.pop(install.STARTED_ENV, None)
    return subprocess.run([sys.executable, "-m", "fieldclient.update.launcher",
                           "--data-dir", str(data), *args],
                          env=environ, capture_output=True, text=True, timeout=120)


def runs(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return tmp_path / "install"


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "device"
    folder.mkdir()
    return folder


@pytest.fixture()
def installed(root: Path, tmp_path: Path) -> Path:
    """1.0.0 installed by IT (the launcher's --install-from)."""
    archive = make_bundle(tmp_path / "bundles", "1.0.0")
    env = dict(os.environ, GRIDFIELD_INSTALL_ROOT=str(root), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "fieldclient.update.launcher",
                           "--install-from", str(archive)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert install.read_state(root).current == "1.0.0"
    return root


def test_first_install_and_a_plain_start(installed: Path, data: Path, tmp_path: Path) -> None:
    log = tmp_path / "log"
    (data / "exit-code").write_text("3")
    done = launch(installed, data, log, "--lang", "en")
    assert done.returncode == 3  # the app's exit code is the launcher's
    [run] = runs(log)
    assert run["version"] == "1.0.0" and not run["trial"]
    assert run["args"] == ["--data-dir", str(data), "--lang", "en"]
    assert run["root"] == str(installed)
    assert install.installed_versions(installed) == ["1.0.0"]
    assert (installed / "versions/1.0.0/gridfield/_internal/lib.so").is_symlink()


def test_a_staged_release_waits_for_the_apps_word_then_installs_and_confirms(
        installed: Path, data: Path, tmp_path: Path) -> None:
    log = tmp_path / "log"
    folder = stage(data, make_bundle(tmp_path / "bundles", "1.0.1"), "1.0.1")
    assert install.pending(data, "1.0.0") is not None
    launch(installed, data, log)
    assert runs(log)[-1]["version"] == "1.0.0"  # no ready.json: not installed
    assert install.read_state(installed).current == "1.0.0"

    mark_ready(data, "1.0.1")
    done = launch(installed, data, log)
    assert done.returncode == 0, done.stderr
    assert runs(log)[-1] == {**runs(log)[-1], "version": "1.0.1", "trial": True}
    state = install.read_state(installed)
    assert (state.current, state.previous, state.trial) == ("1.0.1", "1.0.0", None)
    assert not folder.exists() and not (data / "updates/ready.json").exists()
    assert install.installed_versions(installed) == ["1.0.0", "1.0.1"]
    outcome = json.loads((data / "updates/outcome.json").read_text())
    assert outcome["kind"] == "updated"  # the new version told the worker as it started
    assert install.outcome_message(outcome, "zh_CN") == "程序已更新到1.0.1版。"
    assert install.take_outcome(data) is None

    launch(installed, data, log)  # later starts are not trials
    assert runs(log)[-1]["version"] == "1.0.1" and not runs(log)[-1]["trial"]


@pytest.mark.parametrize(("behaviour", "reason"), [
    ("crash", {"kind": "signal", "code": 11}),
    ("exit1", {"kind": "exit", "code": 1}),
    ("hang", {"kind": "timeout", "seconds": 3}),
])
def test_a_failed_start_rolls_back_and_tells_the_worker(
        installed: Path, data: Path, tmp_path: Path, behaviour: str,
        reason: dict[str, object]) -> None:
    log = tmp_path / "log"
    stage(data, make_bundle(tmp_path / "bundles", "1.0.2", behaviour), "1.0.2")
    mark_ready(data, "1.0.2")
    done = launch(installed, data, log, timeout=3)
    assert done.returncode == 0, done.stderr
    assert [(r["version"], r["trial"]) for r in runs(log)] == [("1.0.2", True), ("1.0.0", False)]
    state = install.read_state(installed)
    assert (state.current, state.trial, state.failed) == ("1.0.0", None, ["1.0.2"])
    assert install.installed_versions(installed) == ["1.0.0"]  # the failed one removed
    outcome = install.take_outcome(data)
    assert outcome is not None
    assert (outcome["kind"], outcome["version"], outcome["restored"]) == (
        "rolled_back", "1.0.2", "1.0.0")
    assert outcome["reason"] == reason
    assert install.take_outcome(data) is None  # told once
    zh = install.outcome_message(outcome, "zh_CN")
    assert "1.0.2" in zh and "1.0.0" in zh and "退回" in zh
    en = install.outcome_message(outcome, "en")
    assert "1.0.2" in en and "1.0.0" in en and "退" not in en

    # The same version staged again is refused, never tried twice.
    stage(data, make_bundle(tmp_path / "bundles", "1.0.2", behaviour), "1.0.2")
    mark_ready(data, "1.0.2")
    launch(installed, data, log)
    assert runs(log)[-1]["version"] == "1.0.0" and not runs(log)[-1]["trial"]
    assert not (data / "updates/staged/1.0.2").exists()


def test_update_now_exit_code_installs_and_restarts(installed: Path, data: Path,
                                                     tmp_path: Path) -> None:
    log = tmp_path / "log"
    stage(data, make_bundle(tmp_path / "bundles", "1.0.1"), "1.0.1")
    (data / "exit-code").write_text(str(install.RESTART_FOR_UPDATE))
    done = launch(installed, data, log)
    assert done.returncode == 0, done.stderr
    assert [(r["version"], r["trial"]) for r in runs(log)] == [("1.0.0", False), ("1.0.1", True)]
    assert install.read_state(installed).current == "1.0.1"


def test_an_interrupted_trial_is_rolled_back_at_the_next_start(
        installed: Path, data: Path, tmp_path: Path) -> None:
    archive = make_bundle(tmp_path / "bundles", "1.0.1")
    stage(data, archive, "1.0.1")
    install.apply_staged(data, installed)  # then the power went before it confirmed
    assert install.read_state(installed).trial is not None
    log = tmp_path / "log"
    launch(installed, data, log)
    assert [r["version"] for r in runs(log)] == ["1.0.0"]
    outcome = install.take_outcome(data)
    assert outcome is not None and outcome["reason"] == {"kind": "interrupted"}


def test_the_archive_is_checked_again_before_unpacking(installed: Path, data: Path,
                                                       tmp_path: Path) -> None:
    archive = make_bundle(tmp_path / "bundles", "1.0.1")
    folder = stage(data, archive, "1.0.1", sha256="0" * 64)
    with pytest.raises(install.ArchiveMismatch):
        install.apply_staged(data, installed)
    assert install.read_state(installed).current == "1.0.0"
    assert install.installed_versions(installed) == ["1.0.0"]
    assert not folder.exists()  # fetched again by the TUF client
    outcome = install.take_outcome(data)
    assert outcome is not None and outcome["kind"] == "refused"

    stage(data, archive, "1.0.1", length=archive.stat().st_size + 1)
    with pytest.raises(install.ArchiveMismatch):
        install.apply_staged(data, installed)

    other = make_bundle(tmp_path / "other", "1.0.1", manifest_version="1.0.9")
    stage(data, other, "1.0.1")  # a 1.0.9 archive staged as 1.0.1
    with pytest.raises(install.BadRelease):
        install.apply_staged(data, installed)
    assert install.installed_versions(installed) == ["1.0.0"]


HOSTILE = [
    ("dotdot", ("gridfield/../../escaped", b"x", 0o644, tarfile.REGTYPE, "")),
    ("absolute", ("/tmp/gridfield-escaped", b"x", 0o644, tarfile.REGTYPE, "")),
    ("symlink-out", ("gridfield/out", b"", 0o777, tarfile.SYMTYPE, "../../..")),
    ("symlink-absolute", ("gridfield/etc", b"", 0o777, tarfile.SYMTYPE, "/etc")),
    ("hardlink-out", ("gridfield/passwd", b"", 0o644, tarfile.LNKTYPE, "../../etc/passwd")),
    ("device", ("gridfield/null", b"", 0o644, tarfile.CHRTYPE, "")),
    ("windows-drive", ("C:/Windows/evil.dll", b"x", 0o644, tarfile.REGTYPE, "")),
]


@pytest.mark.parametrize(("label", "member"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_paths_escaping_the_version_folder_are_refused(
        installed: Path, data: Path, tmp_path: Path, label: str,
        member: tuple[str, bytes, int, bytes, str]) -> None:
    archive = make_bundle(tmp_path / "bundles", "1.0.1", extra=[member])
    stage(data, archive, "1.0.1")
    with pytest.raises(install.UnsafeArchive):
        install.apply_staged(data, installed)
    assert install.installed_versions(installed) == ["1.0.0"]
    assert not (installed / "versions/.1.0.1.partial").exists()
    assert not (tmp_path / "escaped").exists()
    assert not Path("/tmp/gridfield-escaped").exists()
    assert install.read_state(installed).current == "1.0.0"


@pytest.mark.parametrize("target", ["_internal", "../.."])
def test_nothing_is_written_through_a_link(installed: Path, data: Path, tmp_path: Path,
                                           target: str) -> None:
    """A symlinked folder, then a file "inside" it: links are made last, so the file
    would become a real folder that the link then collides with: refused."""
    archive = make_bundle(tmp_path / "bundles", "1.0.1", extra=[
        ("gridfield/alias", b"", 0o777, tarfile.SYMTYPE, target),
        ("gridfield/alias/x", b"x", 0o644, tarfile.REGTYPE, ""),
    ])
    stage(data, archive, "1.0.1")
    with pytest.raises(install.UnsafeArchive):
        install.apply_staged(data, installed)
    assert not (installed / "versions/1.0.0/gridfield/_internal/x").exists()
    assert not (installed / "versions/x").exists()
    assert install.installed_versions(installed) == ["1.0.0"]


def test_pending_ignores_old_incomplete_and_misnamed_stagings(data: Path,
                                                               tmp_path: Path) -> None:
    stage(data, make_bundle(tmp_path / "b", "0.9.0"), "0.9.0")
    assert install.pending(data, "1.0.0") is None
    half = data / "updates/staged/1.0.5"
    half.mkdir(parents=True)
    (half / "gridfield.tar.gz").write_bytes(b"partial")  # no staged.json yet
    assert install.pending(data, "1.0.0") is None
    folder = stage(data, make_bundle(tmp_path / "b", "1.0.10"), "1.0.10")
    stage(data, make_bundle(tmp_path / "b", "1.0.9"), "1.0.9")
    found = install.pending(data, "1.0.0")
    assert found is not None and found.version == "1.0.10"  # 10 > 9
    meta = json.loads((folder / "staged.json").read_text())
    (folder / "staged.json").write_text(json.dumps({**meta, "archive": "../../x"}))
    found = install.pending(data, "1.0.0")
    assert found is not None and found.version == "1.0.9"


def test_switching_back_needs_a_version_that_opens_the_database(
        root: Path, data: Path, tmp_path: Path) -> None:
    """A revoked release: back to the previous version, unless the database has been
    migrated past what that version knows; then nothing changes and no record is lost."""
    install.first_install(root, make_bundle(tmp_path / "b", "1.0.0", schema=12))
    stage(data, make_bundle(tmp_path / "b", "1.0.1", schema=13), "1.0.1")
    install.apply_staged(data, root)
    install.commit_trial(root)
    with pytest.raises(install.SchemaBlocksRollBack) as refused:
        install.switch_to(root, "1.0.0", db_schema=13, data_dir=data)
    assert "1.0.0" in refused.value.message("zh_CN")
    assert "1.0.0" in refused.value.message("en") and "数据" not in refused.value.message("en")
    assert install.read_state(root).current == "1.0.1"
    with pytest.raises(install.NotInstalled):
        install.switch_to(root, "0.9.0", db_schema=12)

    install.switch_to(root, "1.0.0", db_schema=12, data_dir=data)
    state = install.read_state(root)
    assert (state.current, state.previous, state.failed) == ("1.0.0", "1.0.1", ["1.0.1"])
    outcome = install.take_outcome(data)
    assert outcome is not None and outcome["kind"] == "switched"
    log = tmp_path / "log"
    launch(root, data, log)
    assert runs(log)[-1]["version"] == "1.0.0"


def test_only_the_current_and_previous_versions_are_kept(root: Path, data: Path,
                                                         tmp_path: Path) -> None:
    install.first_install(root, make_bundle(tmp_path / "b", "1.0.0"))
    for version in ("1.0.1", "1.0.2"):
        stage(data, make_bundle(tmp_path / "b", version), version)
        install.apply_staged(data, root)
        install.commit_trial(root)
    assert install.installed_versions(root) == ["1.0.1", "1.0.2"]


def test_can_apply_waits_for_the_patrol_and_for_unsynced_work(
        session: Session, data_dir: Path, tmp_path: Path) -> None:
    same_schema = make_bundle(tmp_path / "b", "1.0.1", schema=LATEST_VERSION)
    stage(data_dir, same_schema, "1.0.1")
    staged = install.pending(data_dir, "1.0.0")
    assert staged is not None
    assert install.can_apply(session, staged) is None

    patrol = patrols.start_patrol(session, "101", worker_id="w-7")
    reason = install.can_apply(session, staged)
    assert isinstance(reason, install.PatrolUnderWay)
    assert install.note_ready(data_dir, session) is not None
    assert install.ready_version(data_dir) is None
    patrols.finish_patrol(session, patrol.id, allow_incomplete=True)

    households.create_household(session, "吴十", "北京路8号")  # one record not synced
    assert install.can_apply(session, staged) is None  # same schema: nothing at risk
    migrating = make_bundle(tmp_path / "b2", "1.0.2", schema=LATEST_VERSION + 1)
    stage(data_dir, migrating, "1.0.2")
    newest = install.pending(data_dir, "1.0.0")
    assert newest is not None and newest.version == "1.0.2"
    reason = install.can_apply(session, newest)
    assert isinstance(reason, install.UnsyncedWork)
    assert "1" in reason.message("en") and "sync" in reason.message("en").lower()

    session.db.execute("UPDATE outbox SET state = 'done'")
    session.db.conn.commit()
    assert install.note_ready(data_dir, session) is None
    assert install.ready_version(data_dir) == "1.0.2"
    install.clear_ready(data_dir)
    assert install.ready_version(data_dir) is None


def test_confirm_started_writes_the_launchers_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(install.STARTED_ENV, raising=False)
    assert install.confirm_started() is False
    target = tmp_path / "started"
    monkeypatch.setenv(install.STARTED_ENV, str(target))
    assert install.confirm_started() is True
    assert json.loads(target.read_text())["pid"] == os.getpid()


@pytest.mark.parametrize("ready", [
    {"version": "../../etc", "action": "return", "from": "1.0.1", "schema": 1},
    {"version": "1.0.0", "action": "return", "from": "1.0.1", "schema": "1"},
    {"version": "1.0.0", "action": "return", "from": "1.0.1", "schema": True},
    {"version": "1.0.0", "action": "return", "from": "1.0.1", "schema": -1},
    {"version": "1.0.0", "action": "return", "from": None, "schema": 1},
    {"version": "1.0.0", "from": "1.0.1", "schema": 1},  # an update's word, not a return
    ["not", "an", "object"],
])
def test_a_malformed_word_to_go_back_is_ignored(data: Path, ready: object) -> None:
    (data / "updates").mkdir()
    (data / "updates" / "ready.json").write_text(json.dumps(ready))
    assert install.ready_return(data) is None


@pytest.mark.parametrize("check", [
    {"action": "return", "installed": "1.0.1", "target": {"version": "1.0.2"}},  # newer
    {"action": "return", "installed": "1.0.0", "target": {"version": "0.9.0"}},  # stale
    {"action": "return", "installed": "1.0.1", "target": {"version": "../0.9"}},
    {"action": "return", "installed": "1.0.1", "target": None},
    {"action": "update", "installed": "1.0.1", "target": {"version": "1.0.0"}},
    "garbage",
])
def test_only_a_sound_check_sends_the_device_back(installed: Path, data: Path,
                                                  tmp_path: Path, check: object) -> None:
    """The launcher goes back only when the last check says the running version was
    revoked and names an older one: a stale or hostile state.json does nothing."""
    (data / "updates").mkdir()
    state = data / "updates" / "state.json"
    state.write_text(json.dumps(check))
    assert install.revoked_check(data, "1.0.1") is None
    install.first_install(installed, make_bundle(tmp_path / "b", "1.0.1"))
    ready = {"version": "1.0.0", "action": "return", "from": "1.0.1", "schema": 1}
    assert install.apply_return(data, installed, ready) is None
    assert install.read_state(installed).current == "1.0.1"
    state.write_text(json.dumps({"action": "return", "installed": "1.0.1",
                                 "target": {"version": "1.0.0"}}))
    assert install.apply_return(data, installed, ready) == "1.0.0"
    assert install.read_state(installed).failed == ["1.0.1"]


def test_a_return_archive_changed_on_disk_is_refused_and_dropped(
        root: Path, data: Path, tmp_path: Path) -> None:
    """The older release fetched for a return (not installed here) is checked again
    before unpacking, as an update is: a changed one is dropped (fetched again), the
    device stays, the worker is told once."""
    install.first_install(root, make_bundle(tmp_path / "b", "1.0.1"))
    folder = stage(data, make_bundle(tmp_path / "b", "1.0.0"), "1.0.0")
    meta = json.loads((folder / "staged.json").read_text())
    (folder / "staged.json").write_text(json.dumps({**meta, "action": "return"}))
    (data / "updates" / "state.json").write_text(json.dumps({
        "action": "return", "installed": "1.0.1", "target": {"version": "1.0.0"}}))
    back = install.pending_return(data, root, "1.0.1")
    assert back is not None and back.staged is not None
    archive = back.staged.archive
    archive.write_bytes(archive.read_bytes()[:-4] + b"evil")
    ready = {"version": "1.0.0", "action": "return", "from": "1.0.1", "schema": 1}
    with pytest.raises(install.ArchiveMismatch):
        install.apply_return(data, root, ready)
    assert install.read_state(root).current == "1.0.1"
    assert install.installed_versions(root) == ["1.0.1"] and not folder.exists()
    outcome = install.take_outcome(data)
    assert outcome is not None and outcome["kind"] == "return_refused"
    assert "1.0.0" in install.outcome_message(outcome, "en")


def test_an_archive_swapped_after_its_check_is_not_installed(
        installed: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone who can write the data folder replaces the staged archive right after
    the check of its SHA-256 (the real check runs; the swap happens as it returns): what
    is unpacked must be the bytes that were checked, or nothing."""
    good = make_bundle(tmp_path / "good", "1.0.1")
    evil = make_bundle(tmp_path / "evil", "1.0.1", behaviour="exit1", extra=[
        ("gridfield/planted", b"not in the signed build", 0o755, tarfile.REGTYPE, "")])
    folder = stage(data, good, "1.0.1")
    checked = install.verify_staged

    def check_then_swap(staged: install.Staged) -> None:
        checked(staged)
        os.replace(evil, staged.archive)

    monkeypatch.setattr(install, "verify_staged", check_then_swap)
    with pytest.raises(install.ArchiveMismatch):
        install.apply_staged(data, installed)
    assert install.installed_versions(installed) == ["1.0.0"]
    assert not (installed / "versions/1.0.1").exists()
    assert not (installed / "versions/.1.0.1.partial").exists()
    assert install.read_state(installed).current == "1.0.0"
    assert not folder.exists()  # fetched again


BROKEN = [
    # a build whose gzip stream stops half-way (published as it was: the hash matches)
    ("truncated", None),
    # two links pointing at each other: resolving them loops
    ("symlink-loop", [("gridfield/a", b"", 0o777, tarfile.SYMTYPE, "b"),
                      ("gridfield/b", b"", 0o777, tarfile.SYMTYPE, "a")]),
]


@pytest.mark.parametrize(("label", "extra"), BROKEN, ids=[b[0] for b in BROKEN])
def test_an_archive_that_breaks_while_unpacking_leaves_the_current_version_running(
        installed: Path, data: Path, tmp_path: Path, label: str,
        extra: list[tuple[str, bytes, int, bytes, str]] | None) -> None:
    """The launcher must not die on an error it did not foresee: the current version
    starts, with a clear line saying why the update was not installed, and the next
    start does not stumble on it again."""
    archive = make_bundle(tmp_path / "bundles", "1.0.1", extra=extra or [
        ("gridfield/_internal/big", os.urandom(256 * 1024), 0o644, tarfile.REGTYPE, "")])
    if label == "truncated":
        raw = archive.read_bytes()
        archive.write_bytes(raw[: len(raw) * 2 // 3])
    stage(data, archive, "1.0.1")
    mark_ready(data, "1.0.1")
    log = tmp_path / "log"
    done = launch(installed, data, log)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "1.0.1 not installed" in done.stderr + done.stdout
    assert runs(log)[-1]["version"] == "1.0.0"
    assert install.read_state(installed).current == "1.0.0"
    assert install.installed_versions(installed) == ["1.0.0"]
    assert not (installed / "versions/.1.0.1.partial").exists()
    outcome = install.take_outcome(data)
    assert outcome is not None and outcome["kind"] == "refused"
    assert "1.0.1" in install.outcome_message(outcome, "zh_CN")
    assert install.pending(data, "1.0.0") is None  # not tried again at every start


@pytest.mark.parametrize("content", ['{"current": "1.0', "", "[]", '{"current": "../../x"}',
                                     '{"current": 5, "trial": "x"}'])
def test_a_damaged_install_json_still_starts_an_installed_version(
        installed: Path, data: Path, tmp_path: Path, content: str) -> None:
    """install.json half-written (a power cut on a file system that lost the rename's
    order) or edited by hand: the launcher says so and starts the newest version that is
    installed, rather than dying with a traceback and starting nothing."""
    (installed / install.STATE_FILE).write_text(content)
    log = tmp_path / "log"
    done = launch(installed, data, log)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert install.STATE_FILE in done.stderr
    assert runs(log)[-1]["version"] == "1.0.0"
    assert install.read_state(installed).current == "1.0.0"  # repaired


def test_a_staged_archive_that_is_a_link_is_not_followed(
        installed: Path, data: Path, tmp_path: Path) -> None:
    """The TUF client stages a regular file; a link in its place (to a file elsewhere,
    whose hash staged.json was edited to match) is not read."""
    elsewhere = make_bundle(tmp_path / "elsewhere", "1.0.1")
    folder = stage(data, elsewhere, "1.0.1")
    staged_archive = folder / elsewhere.name
    staged_archive.unlink()
    staged_archive.symlink_to(elsewhere)
    with pytest.raises(install.InstallError):
        install.apply_staged(data, installed)
    assert install.installed_versions(installed) == ["1.0.0"]
    assert install.read_state(installed).current == "1.0.0"


@pytest.mark.parametrize("version", ["1.0.²", "1.0.١", "1.0.1\u202e", "1.0.1/..", "..", "1.0.1\n"])
def test_a_staged_version_that_is_not_plain_ascii_is_ignored(
        installed: Path, data: Path, tmp_path: Path, version: str) -> None:
    """Staged versions come from signed metadata; one edited in (a superscript or
    Arabic-Indic digit that str.isdigit accepts and int() does not, a direction mark,
    a path) is skipped, and the current version starts."""
    folder = data / "updates" / "staged" / "x"
    folder.mkdir(parents=True)
    archive = make_bundle(tmp_path / "bundles", "1.0.1")
    (folder / archive.name).write_bytes(archive.read_bytes())
    (folder / "staged.json").write_text(json.dumps(
        {"version": version, "archive": archive.name, "sha256": "0" * 64, "length": 1}))
    try:
        folder.rename(folder.with_name(version))
    except (OSError, ValueError):
        pytest.skip("not a possible folder name")
    mark_ready(data, version)
    assert install.pending(data, "1.0.0") is None
    log = tmp_path / "log"
    done = launch(installed, data, log)
    assert "Traceback" not in done.stderr, done.stderr
    assert runs(log)[-1]["version"] == "1.0.0"
