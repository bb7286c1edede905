"""``fieldclient search`` as IT would run it: a real process, the PIN on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from device_fixtures import PIN

from fieldclient.fieldwork import households
from fieldclient.storage.session import Session


def run(data_dir: Path, *args: str, stdin: str = PIN + "\n", lang: str = "zh_CN"
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDCLIENT_LANG": lang, "GRIDFIELD_SECRET_STORE": "file"}
    return subprocess.run(
        [sys.executable, "-m", "fieldclient.cli", "search", *args, "--data-dir", str(data_dir)],
        input=stdin, capture_output=True, text=True, env=env, timeout=60)


def test_search_cli_json_table_and_errors(session: Session) -> None:
    households.create_household(session, "张三丰", "武当山路1号", category="key",
                                phone="13812345678", id_number="33020519800101123X",
                                tags=["吸毒人员", "党员户"])
    households.create_household(session, "王五", "勤勇村3组12号", tags=["低保户"])
    data_dir = session.paths.root
    session.close()
    found = run(data_dir, "zsf", "--json", "--pin-stdin")
    assert found.returncode == 0, found.stderr
    data = json.loads(found.stdout)
    assert data["count"] == 1
    hit = data["households"][0]
    assert hit["head_name"] == "张三丰" and hit["phone"] == "138****5678"
    assert hit["tags"] == ["党员户", "特殊人群（已隐藏）"]
    assert "33020519800101123X" not in found.stdout and "吸毒" not in found.stdout
    plain = run(data_dir, "", "--tag", "低保户", "--pin-stdin")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[0].split() == ["户主", "类别", "电话", "标签", "地址"]
    assert lines[1].split() == ["王五", "一般", "-", "低保户", "勤勇村3组12号"]
    assert lines[-1] == "找到1户。"
    english = run(data_dir, "nobody", "--pin-stdin", lang="en")
    assert english.returncode == 0 and english.stdout.strip() == "1 households found.".replace(
        "1", "0")
    assert run(data_dir, "zsf").returncode == 2  # no --pin-stdin: usage
    assert run(data_dir, "zsf", "--pin-stdin", stdin="000000\n").returncode == 3
    assert run(data_dir, "zsf", "--category", "vip", "--pin-stdin").returncode == 2
