"""``fieldclient photo add`` / ``photo export`` as a real process, PIN on stdin."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from photo_helpers import jpeg_bytes, scene
from PIL import Image

PIN = "246810"


def run(
    data_dir: Path, *args: str, stdin: str = PIN + "\n", lang: str = "zh_CN",
    tmpdir: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDCLIENT_LANG": lang, "GRIDFIELD_SECRET_STORE": "file"}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return subprocess.run(
        [sys.executable, "-m", "fieldclient.cli", *args, "--data-dir", str(data_dir)],
        input=stdin, capture_output=True, text=True, env=env, timeout=120,
    )


@pytest.fixture()
def device(tmp_path: Path) -> Path:
    data_dir = tmp_path / "device"
    result = run(data_dir, "init", "--pin-stdin", "--json")
    assert result.returncode == 0, result.stderr
    return data_dir


@pytest.fixture()
def card(tmp_path: Path) -> Path:
    """A camera card: DCIM with two JPEGs, a PNG, a damaged file and a non-image."""
    folder = tmp_path / "card" / "DCIM" / "100CAMERA"
    folder.mkdir(parents=True)
    (folder / "IMG_0001.JPG").write_bytes(jpeg_bytes(scene(2400, 1800, seed=1)))
    (folder / "IMG_0002.jpg").write_bytes(jpeg_bytes(scene(1800, 2400, seed=2)))
    buf = io.BytesIO()
    scene(900, 600, seed=3).save(buf, "PNG")
    (folder / "screen.png").write_bytes(buf.getvalue())
    (folder / "IMG_0003.JPG").write_bytes(jpeg_bytes(scene(800, 600))[:3000])  # cut short
    (folder / "notes.txt").write_text("not a photo")
    return tmp_path / "card"


def test_add_and_export(device: Path, tmp_path: Path) -> None:
    source = tmp_path / "IMG_1234.JPG"
    source.write_bytes(jpeg_bytes(scene(3000, 2000)))
    empty_tmp = tmp_path / "tmp"
    empty_tmp.mkdir()
    result = run(
        device, "photo", "add", str(source), "--json", "--pin-stdin", "--lat", "29.95312",
        "--lon", "121.64875", "--grid", "庄市街道第12网格", "--worker", "王小红",
        "--grid-id", "g-12", tmpdir=empty_tmp,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["failed"] == []
    (photo,) = report["photos"]
    assert photo["path"] == str(source)
    assert (photo["width"], photo["height"]) == (1600, 1067)
    assert photo["grid_name"] == "庄市街道第12网格" and photo["worker"] == "王小红"
    assert photo["lat"] == pytest.approx(29.95312)

    out = tmp_path / "export" / "evidence.jpg"
    result = run(device, "photo", "export", photo["id"], str(out), "--pin-stdin", "--json",
                 tmpdir=empty_tmp)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["file"] == str(out)
    data = out.read_bytes()
    assert hashlib.sha256(data).hexdigest() == photo["sha256"]
    assert out.stat().st_mode & 0o777 == 0o600
    assert Image.open(io.BytesIO(data)).size == (1600, 1067)
    assert list(empty_tmp.iterdir()) == []  # nothing went through a temp folder

    audit_file = tmp_path / "audit.jsonl"
    result = run(device, "audit", "export", "--out", str(audit_file), "--pin-stdin")
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in audit_file.read_text().splitlines()]
    exports = [e for e in entries if e["action"] == "export" and e["detail"]["what"] == "photo"]
    assert len(exports) == 1
    assert exports[0]["detail"]["id"] == photo["id"]
    assert exports[0]["detail"]["to"] == str(out)
    created = [e for e in entries if e["action"] == "record_created"]
    assert created[-1]["detail"]["id"] == photo["id"]

    status = json.loads(run(device, "status", "--pin-stdin", "--json").stdout)
    assert status["records"]["photo"] == 1
    assert status["schema_version"] >= 5


def test_bulk_import_from_a_camera_card(device: Path, card: Path) -> None:
    result = run(device, "photo", "add", str(card), "--pin-stdin", "--grid", "第3网格")
    assert result.returncode == 1  # one file failed; the others were imported
    assert "IMG_0003.JPG" in result.stderr and "已损坏" in result.stderr
    assert result.stdout.count("已保存：") == 3
    assert "共导入3张照片，失败1张。" in result.stdout
    assert "notes.txt" not in result.stdout + result.stderr  # not an image: not tried

    again = run(device, "photo", "add", str(card), "--pin-stdin", "--json", lang="en")
    report = json.loads(again.stdout)
    assert [p["duplicate"] for p in report["photos"]] == [True, True, True]
    assert "damaged" in again.stderr  # translated
    status = json.loads(run(device, "status", "--pin-stdin", "--json").stdout)
    assert status["records"]["photo"] == 3


def test_errors(device: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = run(device, "photo", "add", str(broken), "--pin-stdin", lang="en")
    assert result.returncode == 1
    assert "broken.jpg" in result.stderr and "Nothing was saved" in result.stderr

    missing = run(device, "photo", "export", "0" * 32, str(tmp_path / "x.jpg"), "--pin-stdin",
                  lang="en")
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert not (tmp_path / "x.jpg").exists()

    no_pin = run(device, "photo", "add", str(broken), stdin="")
    assert no_pin.returncode == 2 and "--pin-stdin" in no_pin.stderr

    half_position = run(device, "photo", "add", str(broken), "--lat", "30", "--pin-stdin",
                        lang="en")
    assert half_position.returncode == 1 and "latitude" in half_position.stderr
