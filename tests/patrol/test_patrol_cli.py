"""``fieldclient checklist show`` and ``fieldclient track import`` as real processes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from patrol_helpers import PIN, SigningKey, nmea_log

from fieldclient.fieldwork import checklist

ROOT = Path(__file__).resolve().parents[2]


def run(
    data_dir: Path, *args: str, stdin: str = "", lang: str = "zh_CN"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDCLIENT_LANG": lang, "GRIDFIELD_SECRET_STORE": "file"}
    return subprocess.run(
        [sys.executable, "-m", "fieldclient.cli", *args, "--data-dir", str(data_dir)],
        input=stdin, capture_output=True, text=True, env=env, timeout=120, cwd=ROOT,
    )


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("device")
    result = run(data_dir, "init", "--pin-stdin", "--json", stdin=PIN + "\n")
    assert result.returncode == 0, result.stderr
    return data_dir


def test_checklist_show_json_without_pin(tmp_path: Path) -> None:
    result = run(tmp_path / "new-device", "checklist", "show", "--json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert isinstance(items, list) and len(items) == 28
    assert [i["code"] for i in items] == [f"P{n:02d}" for n in range(1, 29)]
    assert items[0]["name_zh"] == "矛盾纠纷排查"
    assert items[0]["name_en"] == "disputes between residents"
    assert items[0]["group"] == "综治工作"
    assert {i["group"] for i in items} == {"综治工作", "市场监管", "综合执法", "便民服务"}
    assert all({"code", "name_zh", "name_en", "group"} <= set(i) for i in items)


def test_checklist_show_text_in_both_languages(device: Path) -> None:
    zh = run(device, "checklist", "show", "--pin-stdin", stdin=PIN + "\n")
    assert zh.returncode == 0, zh.stderr
    assert "第1版，共28项" in zh.stdout and "P21  秸秆与垃圾露天焚烧（发现问题须拍照）" in zh.stdout
    en = run(device, "checklist", "show", lang="en")
    assert en.returncode == 0, en.stderr
    assert "version 1, 28 items" in en.stdout
    assert "Market supervision" in en.stdout and "P14  food safety" in en.stdout
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en.stdout)


def test_checklist_show_wrong_pin(device: Path) -> None:
    result = run(device, "checklist", "show", "--pin-stdin", stdin="000000\n")
    assert result.returncode == 3


def test_track_import_nmea_json(device: Path) -> None:
    result = run(device, "track", "import", str(nmea_log("beidou-bd.log")), "--json",
                 "--grid", "101", "--pin-stdin", stdin=PIN + "\n")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"] == "nmea" and data["points_read"] == 5
    assert 2 <= data["points_kept"] <= 5
    assert 20 < data["distance_m"] < 60
    assert data["started_at"] == "2015-02-25T07:41:55Z"
    assert data["ended_at"] == "2015-02-25T07:41:59Z"
    assert data["lines_skipped"] == 14


def test_track_import_gpx_text_and_english(device: Path, tmp_path: Path) -> None:
    gpx = tmp_path / "logger.gpx"
    gpx.write_text(
        '<?xml version="1.0"?><gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        '<trkpt lat="31.2479" lon="121.5874"><time>2024-05-01T00:00:00Z</time></trkpt>'
        '<trkpt lat="31.2489" lon="121.5874"><time>2024-05-01T00:01:40Z</time></trkpt>'
        "</trkseg></trk></gpx>",
        "utf-8",
    )
    zh = run(device, "track", "import", str(gpx), "--pin-stdin", stdin=PIN + "\n")
    assert zh.returncode == 0, zh.stderr
    assert "保留定位点：2" in zh.stdout and "距离：111.2米" in zh.stdout
    assert "开始时间：2024-05-01T00:00:00Z" in zh.stdout
    en = run(device, "track", "import", str(gpx), "--pin-stdin", stdin=PIN + "\n", lang="en")
    assert en.returncode == 0, en.stderr
    assert "Distance: 111.2 m" in en.stdout and "Points kept: 2" in en.stdout


def test_track_import_errors(device: Path, tmp_path: Path) -> None:
    no_pin = run(device, "track", "import", str(nmea_log("beidou-gb.log")))
    assert no_pin.returncode == 2
    evil = tmp_path / "evil.gpx"
    evil.write_text('<!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]><gpx>&x;</gpx>')
    refused = run(device, "track", "import", str(evil), "--pin-stdin", stdin=PIN + "\n",
                  lang="en")
    assert refused.returncode == 1 and "entity" in refused.stderr.lower()
    broken = tmp_path / "broken.nmea"
    broken.write_bytes(b"\x00\x01garbage\n$GNRMC,1*00\n")
    empty = run(device, "track", "import", str(broken), "--pin-stdin", stdin=PIN + "\n")
    assert empty.returncode == 1 and "没有可用的定位点" in empty.stderr


def test_installed_checklist_needs_the_pin(
    device: Path, it_key: SigningKey, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    """In-process (the test key is pinned only in this process)."""
    from fieldclient import cli

    doc = json.loads(checklist.BUNDLED_DEFINITION.read_bytes())
    doc["version"] = 5
    doc["items"] = doc["items"][:3]
    definition = tmp_path / "v5.json"
    definition.write_bytes(json.dumps(doc, ensure_ascii=False).encode())
    monkeypatch.setenv("FIELDCLIENT_LANG", "zh_CN")

    def main(*args: str, stdin: str = "") -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return cli.main([*args, "--data-dir", str(device)])

    assert main("checklist", "install", str(definition), "--pin-stdin", stdin=PIN + "\n") == 1
    assert "没有签名" in capsys.readouterr().err
    checklist.signature_path(definition).write_text(it_key.sign(definition.read_bytes()))
    assert main("checklist", "install", str(definition), "--pin-stdin", "--json",
                stdin=PIN + "\n") == 0
    assert json.loads(capsys.readouterr().out) == {"version": 5, "items": 3}
    assert main("checklist", "show", "--json") == 2
    assert "--pin-stdin" in capsys.readouterr().err
    assert main("checklist", "show", "--json", "--pin-stdin", stdin=PIN + "\n") == 0
    assert [i["code"] for i in json.loads(capsys.readouterr().out)] == ["P01", "P02", "P03"]
