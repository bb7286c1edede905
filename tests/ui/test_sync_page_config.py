"""The Sync page tells what the signed configuration did at the last sync (issue 14): a
real centre with its TUF repository, IT's ``central config publish``, a real device in the
app; a new signed configuration is named, a tampered one refused in words, in Chinese
and in English."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from uihelpers import PIN

from central import ops
from fieldclient.fieldwork import quotas
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import setup_device, unlock_device
from fieldclient.update import client as updates
from sync.engine import enroll_device
from ui.controller import AppController
from ui.mainwindow import MainView
from ui.pages.sync import SyncPage

ROOT = Path(__file__).resolve().parents[2]
QUOTA = {"rules": [{"id": "signed-daily", "kind": "patrol", "period": "day", "times": 2}]}


@pytest.fixture()
def centre(tmp_path: Path) -> Iterator[dict[str, Any]]:
    sys.path.insert(0, str(ROOT / "tests" / "sync"))
    from sync_helpers import launch

    workdir = tmp_path / "centre"
    workdir.mkdir()
    db_url = f"sqlite:///{workdir / 'central.db'}"
    updates_dir, keys = workdir / "updates", tmp_path / "usb-keys"
    run(db_url, "init")
    run(db_url, "release", "keys", "init", "--keys", str(keys), "--update-dir",
        str(updates_dir))
    live = launch(workdir, "--update-dir", str(updates_dir), db_url=db_url)
    try:
        yield {"live": live, "db_url": db_url, "updates": updates_dir, "keys": keys,
               "tmp": tmp_path}
    finally:
        live.stop()


def run(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "central.cli", "--db", db_url, *args],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result


def publish(centre: dict[str, Any], value: Any) -> dict[str, Any]:
    path = centre["tmp"] / f"quota-{len(list(centre['tmp'].glob('quota-*')))}.json"
    path.write_text(json.dumps(value), "utf-8")
    out = run(centre["db_url"], "config", "publish", "quota_rules", str(path), "--keys",
              str(centre["keys"]), "--update-dir", str(centre["updates"]), "--json")
    return dict(json.loads(out.stdout))


def device(centre: dict[str, Any], data_dir: Path) -> None:
    from sync_helpers import new_grid

    grid = new_grid(centre["live"].engine)
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    code = ops.create_enrollment_code(centre["live"].engine, grid["workers"][0])["code"]
    enroll_device(session, centre["live"].base, code, "测试平板")
    session.close()
    meta = updates.UpdatePaths.of(data_dir).metadata
    meta.mkdir(parents=True)
    (meta / "root.json").write_bytes((centre["keys"] / "root.json").read_bytes())


def synced_page(qtbot: QtBot, controller: AppController) -> SyncPage:
    sync = controller.sync
    assert sync is not None
    before = sync.last_report
    sync.sync_now()
    qtbot.waitUntil(lambda: not sync.busy() and sync.last_report is not before,
                    timeout=30_000)
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("sync")
    page = view.pages["sync"]
    assert isinstance(page, SyncPage)
    page.refresh()
    return page


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_the_sync_page_names_signed_config_and_says_why_one_was_refused(
        centre: dict[str, Any], make_controller: Callable[..., AppController],
        data_dir: Path, qtbot: QtBot, language: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sync.engine

    monkeypatch.setattr(sync.engine, "CONFIG_CHECK_SECONDS", 0.0)  # every sync checks
    device(centre, data_dir)
    publish(centre, QUOTA)
    controller = make_controller(language=language)
    controller.on_session(unlock_device(data_dir, PIN))
    page = synced_page(qtbot, controller)
    text = page.result.text()
    assert page.result.isVisible()
    if language == "zh_CN":
        assert text.endswith("已启用指挥中心签名的新配置：走访巡查频次"), text
    else:
        assert text.endswith("New configuration signed by the command centre now in force: "
                             "visit and patrol quotas"), text
    out = publish(centre, {"rules": [{"id": "x", "kind": "patrol", "period": "year",
                                      "times": 1}]})
    target = centre["updates"] / "targets" / f"{out['sha256']}.config-quota_rules.json"
    target.write_bytes(target.read_bytes().replace(b'"x"', b'"y"'))
    page = synced_page(qtbot, controller)
    text = page.result.text()
    if language == "zh_CN":
        assert "与签名不符（可能被篡改），已拒绝，当前配置不变" in text, text
    else:
        assert "does not match its signature (it may have been tampered with)" in text, text
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    session = controller.session
    assert session is not None
    assert [r.id for r in quotas.rules_in_force(session.db)] == ["signed-daily"]
