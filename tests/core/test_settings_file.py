"""The device's settings file: read at start-up (before the PIN pad shows, so Settings is a
plain class, not a dataclass: issue 15), written by the Settings page."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from fieldclient.settings import Settings, load_settings, save_settings


def test_the_defaults_are_said_once() -> None:
    """Settings.DEFAULTS (what the file may hold) and the constructor's defaults agree."""
    parameters = inspect.signature(Settings.__init__).parameters
    assert {name: p.default for name, p in parameters.items() if name != "self"} == \
        Settings.DEFAULTS
    assert Settings().as_dict() == Settings.DEFAULTS


def test_saved_settings_read_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    chosen = Settings(language="en", text_scale=1.5, autolock_minutes=10,
                      gps_source="nmea-file:/a.log", update_channel="pilot",
                      support_name="县网格中心", support_phone="0571-1234")
    save_settings(path, chosen)
    assert load_settings(path) == chosen
    assert json.loads(path.read_text("utf-8")) == chosen.as_dict()
    assert load_settings(path) != Settings()
    assert "text_scale=1.5" in repr(chosen)


def test_unknown_damaged_or_wrong_values_fall_back(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"language": "fr", "text_scale": 1.3, "autolock_minutes": 7,
                                "a_newer_version's_key": 1, "support_phone": "1" * 50}))
    read = load_settings(path)
    assert (read.language, read.text_scale, read.autolock_minutes) == ("zh_CN", 1.25, 5)
    assert read.support_phone == "1" * 20
    for damaged in ("{", "[]", '{"text_scale": "big"}'):
        path.write_text(damaged)
        assert load_settings(path) == Settings()
    assert load_settings(tmp_path / "absent.json") == Settings()
