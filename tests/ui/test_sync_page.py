"""The Sync page, the header indicator and the sync controller, over real HTTP against a
real ``central serve`` on loopback (fixture ``central_live``)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from uihelpers import PIN, click

from central import db, ops
from fieldclient.fieldwork.households import create_household, update_household
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import Session, setup_device, unlock_device
from sync.engine import SyncEngine, enroll_device
from ui.controller import AppController
from ui.mainwindow import MainView
from ui.pages.sync import ConflictCard, SyncPage
from ui.screens.setup import SetupScreen
from ui.sync_controller import SyncController

pytestmark = pytest.mark.usefixtures("cheap_device_keys")
ROOT = Path(__file__).resolve().parents[2]


# -- helpers -----------------------------------------------------------------------------

def new_grid(live: Any, workers: int = 2) -> dict[str, Any]:
    from sync_helpers import new_grid as make

    return make(live.engine, workers)


def central_cli(live: Any, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "central.cli", "--db", live.db_url, *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result


def view_of(controller: AppController) -> MainView:
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    return view


def sync_page(controller: AppController) -> SyncPage:
    view = view_of(controller)
    view.show_page("sync")
    page = view.pages["sync"]
    assert isinstance(page, SyncPage)
    return page


def sync_of(controller: AppController) -> SyncController:
    assert controller.sync is not None
    return controller.sync


def wait_sync(qtbot: QtBot, controller: AppController, timeout: int = 15_000) -> None:
    """Wait until no sync or enrollment is running and one has finished."""
    sync = sync_of(controller)

    def settled() -> bool:
        soon = sync.timer.isActive() and sync.timer.remainingTime() < 2000
        return not sync.busy() and not soon and sync.last_report is not None

    qtbot.waitUntil(settled, timeout=timeout)
    qtbot.wait(20)


def enrolled_device(live: Any, data_dir: Path, person: int) -> Session:
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    code = ops.create_enrollment_code(live.engine, person)["code"]
    enroll_device(session, live.base, code, "测试平板")
    return session


def open_in_ui(make_controller: Callable[..., AppController], data_dir: Path,
               **kwargs: Any) -> AppController:
    controller = make_controller(**kwargs)
    controller.on_session(unlock_device(data_dir, PIN))
    return controller


def server_household(live: Any, hid: str) -> dict[str, Any] | None:
    with live.engine.connect() as conn:
        row = conn.execute(select(db.households).where(db.households.c.id == hid)).first()
    return None if row is None else dict(row._mapping)


# -- enrollment ------------------------------------------------------------------------------

def test_enroll_in_the_gui_then_sync_now(
    central_live: Any, make_controller: Callable[..., AppController], device: Path,
    qtbot: QtBot,
) -> None:
    live = central_live
    grid = new_grid(live)
    controller = open_in_ui(make_controller, device)
    view = view_of(controller)
    assert view.sync_status.text() == "未登记到中心"
    page = sync_page(controller)
    assert page.enroll_box.isVisible() and not page.status_box.isVisible()

    # a typo in the code is caught before asking the server
    page.server_edit.setText(live.base.replace("http://", ""))
    page.code_edit.setText("abcd")
    click(qtbot, page.enroll_button)
    assert "12" in page.enroll_message.text() and page.enroll_message.isVisible()

    code = json.loads(central_cli(live, "enroll", "--worker", str(grid["workers"][0]),
                                  "--json").stdout)["code"]
    page.code_edit.setText(code.lower().replace("-", " "))  # typed loosely
    with qtbot.waitSignal(sync_of(controller).enrolled, timeout=15_000):
        click(qtbot, page.enroll_button)
    assert page.server_edit.text() == live.base  # "http://" added
    wait_sync(qtbot, controller)  # enrolling starts the first sync by itself
    assert page.status_box.isVisible() and not page.enroll_box.isVisible()
    assert "网格员0" in page.who.text() and "负责网格：测试网格" in page.who.text()  # by name

    # a household made on the device waits, then goes with "Sync now"
    session = controller.session
    assert session is not None
    hid = create_household(session, "孙八", "人民路18号", grid_id=str(grid["id"]))
    page.refresh()
    view.sync_status.update_state()
    assert "新增住户：1" in page.pending_list.text()
    assert view.sync_status.text() == "1条待上传"
    with qtbot.waitSignal(sync_of(controller).finished, timeout=15_000) as report:
        click(qtbot, page.sync_button)
    assert report.args[0].ok
    assert page.pending_list.text() == "没有等待上传的记录。"
    assert page.last_sync.text().startswith("上次成功同步：今天 ")
    assert view.sync_status.text().startswith("已同步\n今天 ")
    assert view.sync_status.state == "ok"
    assert server_household(live, hid) is not None  # the server has it
    stats = json.loads(central_cli(live, "stats", "--json").stdout)
    assert stats  # the CLI sees the device's records too
    # tapping the indicator opens the Sync page
    view.show_page("today")
    click(qtbot, view.sync_status)
    assert view.current_page() is page


def test_enroll_errors_are_plain(
    central_live: Any, make_controller: Callable[..., AppController], device: Path,
    qtbot: QtBot,
) -> None:
    controller = open_in_ui(make_controller, device, language="en")
    page = sync_page(controller)
    sync = sync_of(controller)

    def attempt(server: str, code: str) -> str:
        page.server_edit.setText(server)
        page.code_edit.setText(code)
        with qtbot.waitSignal(sync.enroll_failed, timeout=20_000):
            click(qtbot, page.enroll_button)
        assert page.enroll_message.property("role") == "error"
        return page.enroll_message.text()

    # a used code
    grid = new_grid(central_live, workers=1)
    code = ops.create_enrollment_code(central_live.engine, grid["workers"][0])["code"]
    other_dir = device.parent / "other"
    other = setup_device(other_dir, PIN, store=FileSecretStore(other_dir))
    enroll_device(other, central_live.base, code)
    other.close()
    from sync.errors import EnrollCodeRefused
    from ui.sync_texts import error_text

    text = attempt(central_live.base, code)
    assert text == error_text(EnrollCodeRefused(), enrolling=True)
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    # nothing listening
    from central_helpers import free_port

    text = attempt(f"http://127.0.0.1:{free_port()}", "ABCD-EFGH-JKMN")
    assert "network" in text.lower() or "connect" in text.lower(), text
    # something answering garbage
    with garbage_server() as url:
        text = attempt(url, "ABCD-EFGH-JKMN")
    assert "no command centre service" in text, text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert sync.enrollment() is None and page.enroll_box.isVisible()


class _Garbage(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b"<html>hello</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class garbage_server:
    def __enter__(self) -> str:
        self.httpd = HTTPServer(("127.0.0.1", 0), _Garbage)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_enroll_from_a_qr_image(
    central_live: Any, make_controller: Callable[..., AppController], device: Path,
    qtbot: QtBot, tmp_path: Path,
) -> None:
    live = central_live
    grid = new_grid(live, workers=1)
    qr = tmp_path / "code.png"
    central_cli(live, "enroll", "--worker", str(grid["workers"][0]), "--qr", str(qr),
                "--server", live.base)
    controller = open_in_ui(make_controller, device)
    page = sync_page(controller)
    # not a QR code at all, then the real one through the picker
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (255, 255, 255)).save(blank)
    picked: list[Path] = [blank, qr]
    page.image_picker = lambda _parent, on_picked: on_picked(picked.pop(0))
    click(qtbot, page.qr_button)
    qtbot.waitUntil(lambda: "找不到二维码" in page.enroll_message.text(), timeout=10_000)
    with qtbot.waitSignal(sync_of(controller).enrolled, timeout=15_000):
        click(qtbot, page.qr_button)
    assert page.server_edit.text() == live.base
    wait_sync(qtbot, controller)
    assert page.status_box.isVisible()


# -- failures, retries, connectivity ------------------------------------------------------------

def test_unreachable_server_keeps_pending_and_retries_by_itself(
    central_live: Any, make_controller: Callable[..., AppController], data_dir: Path,
    qtbot: QtBot,
) -> None:
    from sync_helpers import DropProxy

    live = central_live
    grid = new_grid(live, workers=1)
    proxy = DropProxy(live.base)
    try:
        session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
        code = ops.create_enrollment_code(live.engine, grid["workers"][0])["code"]
        enroll_device(session, proxy.base, code)
        create_household(session, "周九", "东街9号", grid_id=str(grid["id"]))
        session.close()
        proxy.p_request = 1.0  # every request is cut: like no signal at all
        controller = make_controller()
        controller.on_session(unlock_device(data_dir, PIN))
        sync = sync_of(controller)
        sync.retry.attempts = 1
        view = view_of(controller)
        page = sync_page(controller)
        with qtbot.waitSignal(sync.finished, timeout=15_000) as report:
            pass  # the first sync starts by itself after unlocking
        assert not report.args[0].ok
        # connected, then cut before anything came back
        assert page.error.isVisible() and "网络中途断开" in page.error.text()
        assert "新增住户：1" in page.pending_list.text()
        assert page.left_fact.isVisible() and "还要上传1条记录" in page.left_fact.text()
        assert view.sync_status.state == "error"
        assert view.sync_status.text() == "同步失败\n1条待上传"
        # the timer will try again, without anyone tapping
        assert sync.timer.isActive() and sync.next_run_ms is not None
        assert 0 < sync.next_run_ms <= 60_000
        assert "自动再试" in page.last_sync.text()
        # the network goes, then comes back: a sync starts at once, and works
        sync.set_online(False)
        assert view.sync_status.state == "offline"
        proxy.p_request = 0.0
        with qtbot.waitSignal(sync.finished, timeout=15_000) as report:
            sync.set_online(True)
        assert report.args[0].ok, report.args[0].error
        assert page.pending_list.text() == "没有等待上传的记录。"
        assert not page.left_fact.isVisible()
        assert not page.error.isVisible()
        assert view.sync_status.state == "ok"
        assert sync.next_run_ms == int(sync.schedule.interval * 1000)
    finally:
        proxy.close()


def test_locking_stops_a_running_sync(
    central_live: Any, make_controller: Callable[..., AppController], data_dir: Path,
    qtbot: QtBot,
) -> None:
    from sync_helpers import DropProxy

    grid = new_grid(central_live, workers=1)
    proxy = DropProxy(central_live.base)
    try:
        session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
        code = ops.create_enrollment_code(central_live.engine, grid["workers"][0])["code"]
        enroll_device(session, proxy.base, code)
        create_household(session, "吴十", "西街10号")
        session.close()
        proxy.p_request = 1.0
        controller = make_controller()
        controller.on_session(unlock_device(data_dir, PIN))
        sync = sync_of(controller)
        sync.retry.attempts = 10
        sync.retry.base_delay = 5.0  # long pauses between tries
        sync.timer.stop()
        assert sync.sync_now()
        qtbot.wait(300)  # inside the engine's retry pause now
        main_session = controller.session
        assert main_session is not None
        started = time.monotonic()
        controller.lock("manual")
        assert time.monotonic() - started < 2.0
        assert not main_session.is_open
        assert sync._idle.is_set() and sync._worker_session is None
        assert controller.sync is None
    finally:
        proxy.close()


def test_revoked_device_is_wiped_and_shows_setup(
    central_live: Any, make_controller: Callable[..., AppController], data_dir: Path,
    qtbot: QtBot,
) -> None:
    grid = new_grid(central_live, workers=1)
    session = enrolled_device(central_live, data_dir, grid["workers"][0])
    info = SyncEngine(session).enrollment()
    assert info is not None
    session.close()
    ops.revoke_device(central_live.engine, info.device_id)
    controller = make_controller()
    controller.on_session(unlock_device(data_dir, PIN))
    qtbot.waitUntil(lambda: isinstance(controller.window.screen_widget(), SetupScreen),
                    timeout=15_000)
    screen = controller.window.screen_widget()
    assert isinstance(screen, SetupScreen) and screen.erased
    assert controller.session is None and controller.sync is None


# -- conflicts --------------------------------------------------------------------------------

@pytest.fixture
def conflict(central_live: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Two workers changed the same household's head name offline; both synced."""
    live = central_live
    grid = new_grid(live)
    a = enrolled_device(live, tmp_path / "a", grid["workers"][0])
    b = enrolled_device(live, tmp_path / "b", grid["workers"][1])
    ea, eb = SyncEngine(a), SyncEngine(b)
    hid = create_household(a, "郑十一", "南路11号", grid_id=str(grid["id"]))
    assert ea.run_once().ok and eb.run_once().ok
    update_household(a, hid, {"head_name": "郑十一甲"})
    update_household(b, hid, {"head_name": "郑十一乙"})
    assert ea.run_once().ok
    assert eb.run_once().new_conflicts == 1
    b.close()
    yield {"grid": grid, "hid": hid, "a": a, "b_dir": tmp_path / "b"}
    a.close()


def test_conflict_waits_on_a_worker_and_the_leader_settles_it_with_one_tap(
    central_live: Any, conflict: dict[str, Any], make_controller: Callable[..., AppController],
    data_dir: Path, qtbot: QtBot,
) -> None:
    live = central_live
    # the worker's device: both values, who, and "waiting for the grid leader"
    worker = open_in_ui(make_controller, conflict["b_dir"])
    wait_sync(qtbot, worker)
    page = sync_page(worker)
    (card,) = page.conflict_cards
    assert "郑十一甲" in card.kept.text() and "郑十一乙" in card.other.text()
    assert "本设备" in card.other.text()
    assert card.waiting.text() == "等待网格长决定"
    assert not card.keep_button.isVisibleTo(card)
    worker.lock("manual")

    session = enrolled_device(live, data_dir, conflict["grid"]["leader"])
    session.close()
    leader = open_in_ui(make_controller, data_dir)
    wait_sync(qtbot, leader)
    page = sync_page(leader)
    (card,) = page.conflict_cards
    assert isinstance(card, ConflictCard)
    assert "户主姓名" in card.title.text()
    assert "网格员" in card.kept.text() and "网格员" in card.other.text()  # names, not numbers
    assert "人员编号" not in card.kept.text() + card.other.text()
    assert card.keep_button.isVisibleTo(card) and card.other_button.text() == "改用“郑十一乙”"
    with qtbot.waitSignal(sync_of(leader).finished, timeout=15_000) as report:
        click(qtbot, card.other_button)
    assert report.args[0].ok and report.args[0].pushed == {"applied": 1}
    assert page.conflict_cards == [] and not page.conflict_heading.isVisible()
    assert server_household(live, conflict["hid"])["head_name"] == "郑十一乙"  # type: ignore[index]
    # the other devices learn it on their next sync
    engine = SyncEngine(conflict["a"])
    assert engine.run_once().ok and engine.conflicts() == []


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_enrolled_sync_page_fits_at_175_percent(
    central_live: Any, conflict: dict[str, Any], make_controller: Callable[..., AppController],
    qtbot: QtBot, language: str,
) -> None:
    controller = open_in_ui(make_controller, conflict["b_dir"], language=language, scale=1.75)
    wait_sync(qtbot, controller)
    session = controller.session
    assert session is not None
    create_household(session, "王十二", "北路12号")
    view = view_of(controller)
    page = sync_page(controller)
    page.refresh()
    view.sync_status.update_state()
    hint = view.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 800, hint
    assert page.conflict_cards and page.pending_list.text()
    body = page.scroll.widget()
    assert body.minimumSizeHint().width() <= page.scroll.viewport().width()
    assert body.width() <= page.scroll.viewport().width()
    for widget in (view.sync_status, page.sync_button, view.title):
        assert widget.width() >= widget.sizeHint().width() * 0.98, widget.objectName()
    has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in page.pending_heading.text()
                  + view.sync_status.text() + page.sync_button.text())
    assert has_cjk == (language == "zh_CN")
    # synced, nothing pending: the longest everyday header ("Synced" + time), every page
    sync = sync_of(controller)
    with qtbot.waitSignal(sync.finished, timeout=15_000):
        sync.sync_now()
    view.sync_status.update_state()
    assert view.sync_status.state == "ok", view.sync_status.text()
    for key in view.pages:
        view.show_page(key)
        qtbot.wait(10)
        hint = view.minimumSizeHint()
        assert hint.width() <= 1280 and hint.height() <= 800, (key, hint)
        for btn in view.nav_buttons.values():
            assert btn.width() >= btn.sizeHint().width() * 0.98, (key, btn.text())


def test_enrollment_is_offered_right_after_first_run_setup(
    make_controller: Callable[..., AppController], data_dir: Path,
) -> None:
    controller = make_controller()
    screen = controller.window.screen_widget()
    assert isinstance(screen, SetupScreen)
    screen.finished.emit(setup_device(data_dir, PIN, store=FileSecretStore(data_dir)))
    view = view_of(controller)
    assert view.current_page().key == "sync"
    page = view.pages["sync"]
    assert isinstance(page, SyncPage) and page.enroll_box.isVisibleTo(page)


# -- version skew -----------------------------------------------------------------------------

@pytest.fixture
def skew_server() -> Iterator[Any]:
    """A small real loopback server speaking the documented protocol for the version-skew
    cases today's ``central`` does not produce (``tests/sync/sync_helpers.SkewServer``)."""
    sys.path.insert(0, str(ROOT / "tests" / "sync"))
    from sync_helpers import SkewServer

    server = SkewServer(level=3, unsupported=("household.tags",))
    yield server
    server.close()


def _skewed_device(server: Any, data_dir: Path) -> str:
    """A device whose tags edit waits for the centre's upgrade, and a feed with a row
    of a kind this app does not know and a household this app cannot store."""
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    enroll_device(session, server.base, "ABCD-EFGH-JKMN", "测试平板")
    hid = create_household(session, "钱七", "解放路7号", grid_id="1")
    update_household(session, hid, {"tags": ["独居老人"]})
    session.close()
    server.add_row("notice", "n1", {"id": "n1", "grid_id": 1, "text": "停水通知"})
    server.add_row("household", "h-new", {
        "id": "h-new", "grid_id": 1, "head_name": "孙八", "address": "东街8号",
        "category": "elderly", "version": 1, "tags": [], "members": []})
    return hid


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_sync_page_shows_ops_waiting_for_the_centre_and_rows_held_here(
    skew_server: Any, make_controller: Callable[..., AppController], data_dir: Path,
    qtbot: QtBot, language: str,
) -> None:
    _skewed_device(skew_server, data_dir)
    controller = open_in_ui(make_controller, data_dir, language=language, scale=1.75)
    wait_sync(qtbot, controller)
    sync = sync_of(controller)
    assert sync.last_report is not None and sync.last_report.ok, sync.last_report.error
    page = sync_page(controller)
    page.refresh()
    assert page.waiting_hint.isVisible() and page.held_list.isVisible()
    pending, waiting = page.pending_list.text(), page.waiting_hint.text()
    heading, held = page.held_heading.text(), page.held_list.text()
    if language == "zh_CN":
        assert pending == "住户标签修改：1（其中1条要等指挥中心升级）"
        assert "收不了其中1条记录" in waiting and "不会丢失" in waiting
        assert heading == "来自指挥中心的2条数据暂时无法处理"
        lines = held.split("\n")
        assert lines[0].startswith("• 住户信息，今天 ")
        assert lines[0].endswith("收到：本软件暂时无法保存这条数据。")
        assert lines[1].startswith("• 新类型的数据，今天 ")
        assert lines[1].endswith("收到：本软件版本较旧，还不认识这种数据。")
        # what went in: the household create, not the tags change sent later; the two
        # held rows are not counted as received
        assert page.result.text() == "刚才的同步：上传1条，下载0条，照片0张。"
    else:
        for text in (pending, waiting, heading, held, page.held_hint.text()):
            assert not any("\u4e00" <= ch <= "\u9fff" for ch in text), text
        assert pending == \
            "Household tag changes: 1 (waiting for the command centre's upgrade: 1)"
        assert heading == "2 item(s) from the command centre cannot be used yet"
        assert "• A new kind of item, received today " in held
        assert "• Household details, received today " in held
    # big text still fits across: nothing to scroll sideways
    body = page.scroll.widget()
    assert body.minimumSizeHint().width() <= page.scroll.viewport().width()
    # the centre is upgraded: the waiting record goes, the page says so
    skew_server.unsupported = set()
    with qtbot.waitSignal(sync.finished, timeout=15_000) as report:
        sync.sync_now()
    assert report.args[0].ok and report.args[0].pushed == {"applied": 1}
    page.refresh()
    assert not page.waiting_hint.isVisible()
    assert page.held_list.isVisible()  # still kept: this app version cannot use them


def test_an_app_too_old_for_the_centre_says_so_and_keeps_everything(
    skew_server: Any, make_controller: Callable[..., AppController], data_dir: Path,
    qtbot: QtBot,
) -> None:
    _skewed_device(skew_server, data_dir)
    skew_server.min_level = 9
    controller = open_in_ui(make_controller, data_dir)
    wait_sync(qtbot, controller)
    page = sync_page(controller)
    page.refresh()
    assert page.error.isVisible()
    assert page.error.text().startswith("本软件版本太旧，指挥中心已不再接收。请更新本软件。")
    assert "不会丢失" in page.error.text()
    assert "自动再试" not in page.last_sync.text()  # an update helps, waiting does not
    assert "住户标签修改：1" in page.pending_list.text()
    assert "新增住户：1" in page.pending_list.text()
