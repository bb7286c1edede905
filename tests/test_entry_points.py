"""Starting things the wrong way gets a plain answer: the app under a Python without its
packages, ``central`` without a database, and ``central --help`` without raw markup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_main_without_its_packages_says_how_to_start_it() -> None:
    # -S: no site-packages (as the system's Python without the project installed)
    done = subprocess.run([sys.executable, "-S", str(ROOT / "main.py"), "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "PySide6" in done.stderr and "make run" in done.stderr
    assert ".venv/bin/python main.py" in done.stderr


def _central(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "central.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_central_without_a_database_refuses_and_creates_nothing(tmp_path: Path) -> None:
    for command in (["stats"], ["devices"], ["config", "show"]):
        done = _central(*command, cwd=tmp_path)
        assert done.returncode == 2, (command, done.stderr)
        assert "no central database at central.db" in done.stderr
        assert "central init" in done.stderr and "nothing was created" in done.stderr
        assert list(tmp_path.iterdir()) == []


def test_central_help_has_no_raw_backticks(tmp_path: Path) -> None:
    for command in ([], ["serve"], ["init"], ["config", "set"]):
        done = _central(*command, "--help", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "`" not in done.stdout, done.stdout
    assert "'central init' makes it" in _central("--help", cwd=tmp_path).stdout


def _fieldclient_help(*args: str, language: str) -> str:
    done = subprocess.run([sys.executable, "-m", "fieldclient.cli", *args, "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT),
                               "FIELDCLIENT_LANG": language})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_fieldclient_help_follows_fieldclient_lang() -> None:
    zh = _fieldclient_help(language="zh_CN")
    assert zh.startswith("用法：fieldclient") and "设置本设备" in zh and "显示帮助并退出" in zh
    assert "set up this device" not in zh and "show this help" not in zh
    en = _fieldclient_help(language="en")
    assert en.startswith("usage: fieldclient") and "set up this device" in en
    assert "设置本设备" not in en
    for command in (["photo", "add"], ["sync"], ["search"], ["track", "import"]):
        text = _fieldclient_help(*command, language="en")
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in text), text  # all English
        assert "显示帮助并退出" in _fieldclient_help(*command, language="zh_CN")
