"""The ``fieldclient`` command as IT would run it: a real process, PINs on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PIN = "246810"


def run(
    data_dir: Path, *args: str, stdin: str = "", lang: str = "zh_CN"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDCLIENT_LANG": lang, "GRIDFIELD_SECRET_STORE": "file"}
    return subprocess.run(
        [sys.executable, "-m", "fieldclient.cli", *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture()
def device(tmp_path: Path) -> Path:
    result = run(tmp_path, "init", "--pin-stdin", "--json", stdin=PIN + "\n")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["keyring_is_fallback"] is True
    return tmp_path


def test_status_json_reports_device_state(device: Path) -> None:
    result = run(device, "status", "--pin-stdin", "--json", stdin=PIN + "\n")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["state"] == "active"
    assert status["schema_version"] >= 2
    assert status["records"]["household"] == 0
    assert status["pending_uploads"] == 0
    assert status["failed_attempts"] == 0
    assert status["keyring_backend"].startswith("file:")
    assert status["app_version"]


def test_data_dir_accepted_before_the_command(device: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fieldclient.cli", "--data-dir", str(device), "status", "--json"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["unlocked"] is False


def test_wrong_pin_exits_3_with_attempts_left_and_is_counted(device: Path) -> None:
    result = run(device, "status", "--pin-stdin", stdin="999999\n", lang="en")
    assert result.returncode == 3
    assert "9" in result.stderr and "attempt" in result.stderr.lower()
    result = run(device, "status", "--pin-stdin", stdin="999998\n")
    assert result.returncode == 3
    assert "8次" in result.stderr
    status = json.loads(run(device, "status", "--json").stdout)
    assert status["failed_attempts"] == 2


def test_erased_device_exits_4(device: Path) -> None:
    from fieldclient.security.vault import Vault

    Vault(device).erase("remote_wipe")
    result = run(device, "status", "--pin-stdin", stdin=PIN + "\n")
    assert result.returncode == 4
    assert "销毁" in result.stderr


def test_not_set_up_exits_5(tmp_path: Path) -> None:
    assert run(tmp_path, "status").returncode == 5


def test_pin_never_from_arguments(tmp_path: Path) -> None:
    result = run(tmp_path, "init", stdin=PIN + "\n")
    assert result.returncode == 2
    assert "--pin-stdin" in result.stderr
    assert not (tmp_path / "vault.json").exists()


def test_short_pin_refused(tmp_path: Path) -> None:
    result = run(tmp_path, "init", "--pin-stdin", stdin="1234\n", lang="en")
    assert result.returncode == 1
    assert "6 digits" in result.stderr


def test_change_pin_reads_two_lines(device: Path) -> None:
    result = run(device, "change-pin", stdin=f"{PIN}\n135791\n")
    assert result.returncode == 0, result.stderr
    assert run(device, "status", "--pin-stdin", stdin=PIN + "\n").returncode == 3
    assert run(device, "status", "--pin-stdin", stdin="135791\n").returncode == 0


def test_audit_verify_and_tamper_detection(device: Path) -> None:
    result = run(device, "audit", "verify", "--pin-stdin", "--json", stdin=PIN + "\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True

    from fieldclient.storage.session import unlock_device

    with unlock_device(device, PIN) as session:
        session.db.execute("DROP TRIGGER audit_log_no_update")
        with session.db.conn:
            session.db.execute("UPDATE audit_log SET action = 'forged' WHERE seq = 2")
    result = run(device, "audit", "verify", "--pin-stdin", "--json", stdin=PIN + "\n")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["first_broken"] == 2
    human = run(device, "audit", "verify", "--pin-stdin", stdin=PIN + "\n", lang="en")
    assert "2" in human.stdout and human.returncode == 1


def test_audit_export_writes_file_and_is_audited(device: Path, tmp_path: Path) -> None:
    out = tmp_path.parent / f"{tmp_path.name}-audit.jsonl"
    result = run(device, "audit", "export", "--out", str(out), "--pin-stdin", stdin=PIN + "\n")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [e["action"] for e in lines][:2] == ["device_set_up", "unlock"]
    from fieldclient.storage.session import unlock_device

    with unlock_device(device, PIN) as session:
        actions = [e["action"] for e in session.audit.entries()]
    assert "export" in actions
    out.unlink()


def test_sync_commands_come_from_the_sync_package() -> None:
    """``sync`` sits above ``fieldclient``: its commands join through the entry point
    ``gridfield.cli``, and ``init`` gains the enrollment options."""
    from fieldclient import cli

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    assert {"enroll", "sync", "simulate", "init", "status", "search"} <= set(commands.choices)
    init = commands.choices["init"].parse_args(["--server", "http://x", "--enroll-code", "C"])
    assert init.func.__module__ == "sync.cli"
    assert cli.build_parser().parse_args(["sync"]).func.__module__ == "sync.cli"


def test_status_names_the_secret_store_file(device: Path) -> None:
    status = json.loads(run(device, "status", "--json").stdout)
    assert status["secret_store"] == "file"
    assert status["pin_failures_total"] == 0
    text = run(device, "status").stdout
    assert "数据目录中的文件" in text and "TPM" in text  # the no-TPM warning
    assert "file in the data directory" in run(device, "status", lang="en").stdout


def test_status_names_the_tpm(swtpm: str, tmp_path: Path) -> None:
    env = {**os.environ, "FIELDCLIENT_LANG": "zh_CN", "GRIDFIELD_TPM_TCTI": swtpm}
    env.pop("GRIDFIELD_SECRET_STORE", None)

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fieldclient.cli", *args, "--data-dir", str(tmp_path)],
            input=stdin, capture_output=True, text=True, env=env, timeout=60)

    result = cli("init", "--pin-stdin", "--json", stdin=PIN + "\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["secret_store"] == "tpm"
    assert cli("status", "--pin-stdin", "--json", stdin="000000\n").returncode != 0
    status = json.loads(cli("status", "--json").stdout)
    assert status["secret_store"] == "tpm"
    assert status["keyring_backend"].startswith("TPM 2.0")
    assert status["keyring_is_fallback"] is False
    assert status["failed_attempts"] == 1 and status["pin_failures_total"] == 1
    text = cli("status").stdout
    assert "TPM 2.0 安全芯片" in text and "离线" not in text
