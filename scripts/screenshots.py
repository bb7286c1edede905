"""Render every screen to screenshots/*.png (offscreen) for review: zh_CN and en, 100 % and 175 %.

  .venv/bin/python scripts/screenshots.py [--out DIR] [--only NAME]
  .venv/bin/python scripts/screenshots.py --docs   # zh_CN at 100 % into docs/screenshots/,
                                                   # optimised, with its index (README links it)

Uses a throw-away data directory and the file secret store; nothing else is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["GRIDFIELD_SECRET_STORE"] = "file"

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QThreadPool  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from fieldclient.security.keystore import FileSecretStore  # noqa: E402
from fieldclient.security.vault import Vault  # noqa: E402
from fieldclient.storage.session import setup_device, unlock_device  # noqa: E402
from ui import i18n, style  # noqa: E402
from ui.controller import AppController  # noqa: E402
from ui.mainwindow import MainView  # noqa: E402
from ui.screens.unlock import UnlockScreen  # noqa: E402

PIN = "258036"


def settle(app: QApplication) -> None:
    QThreadPool.globalInstance().waitForDone(10_000)
    for _ in range(5):
        app.processEvents()


def save(widget: QWidget, out: Path, name: str, app: QApplication) -> None:
    settle(app)
    path = out / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def render(app: QApplication, out: Path, language: str, scale: float, tmp: Path) -> None:
    tag = f"{language}_{int(scale * 100)}"
    i18n.set_language(language)
    style.apply_style(app, scale)

    def controller_for(data_dir: Path) -> AppController:
        controller = AppController(data_dir)
        controller.window.resize(1280, 800)
        controller.start()
        controller.window.show()
        return controller

    # First run.
    new_dir = tmp / f"{tag}-new"
    new_dir.mkdir()
    first = controller_for(new_dir)
    save(first.window, out, f"{tag}_01_setup", app)
    first.window.close()

    # Erased device.
    erased_dir = tmp / f"{tag}-erased"
    setup_device(erased_dir, PIN, store=FileSecretStore(erased_dir)).close()
    Vault(erased_dir).erase("too_many_wrong_pins")
    erased = controller_for(erased_dir)
    save(erased.window, out, f"{tag}_02_setup_erased", app)
    erased.window.close()

    # Unlock, then a wrong PIN.
    data_dir = tmp / f"{tag}-device"
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    session.close()
    controller = controller_for(data_dir)
    save(controller.window, out, f"{tag}_03_unlock", app)
    screen = controller.window.screen_widget()
    assert isinstance(screen, UnlockScreen)
    for digit in "111222":
        screen.pad.press(digit)
    screen.pad.submit()
    save(controller.window, out, f"{tag}_04_unlock_wrong_pin", app)
    screen.open_recovery()  # 忘记PIN码？: IT's recovery code, then a new PIN
    save(screen.recovery_dialog, out, f"{tag}_04b_recover_pin", app)
    screen.recovery_dialog.reject()

    controller.on_session(unlock_device(data_dir, PIN))
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    for index, key in enumerate(view.pages, start=5):
        view.show_page(key)
        save(controller.window, out, f"{tag}_{index:02d}_{key}", app)
    settings_page = view.pages["settings"]
    bar = settings_page.scroll.verticalScrollBar()  # type: ignore[attr-defined]
    bar.setValue(bar.maximum())
    save(controller.window, out, f"{tag}_11b_settings_bottom", app)
    controller.open_change_pin()
    dialog = controller.change_pin_dialog
    assert dialog is not None
    dialog.resize(1280, 800)
    save(dialog, out, f"{tag}_12_change_pin", app)
    dialog.reject()
    patrol_screens(app, out, tag, controller, tmp)
    map_screens(app, out, tag, tmp)
    sync_screens(app, out, tag, controller, tmp)
    field_screens(app, out, tag, controller, tmp)
    photo_screens(app, out, tag, tmp)
    controller.lock("manual")
    controller.window.close()


def patrol_screens(
    app: QApplication, out: Path, tag: str, controller: AppController, tmp: Path
) -> None:
    """A patrol under way (items, a problem with its photo, report as event), its
    track, the summary, and Today with the grid patrolled."""
    from PIL import Image

    from fieldclient.fieldwork.patrols import ItemResult
    from ui.pages.patrol import PatrolPage
    from ui.patrol_tracker import PatrolTracker

    log = ROOT.parent / "shared" / "fixtures" / "nmea" / "beidou-bd.log"
    controller.gps_override = f"nmea-file:{log}"  # a missing log just means "no fix"
    PatrolTracker.of(controller).feed_options = {"speed": 20.0}
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("patrol")
    page = view.pages["patrol"]
    assert isinstance(page, PatrolPage)
    page.start("3301")
    image = tmp / f"{tag}-evidence.jpg"
    Image.new("RGB", (1200, 900), (70, 110, 160)).save(image, "JPEG")
    page.image_picker = lambda _parent, picked: picked(image)
    for code in ("P01", "P02", "P03", "P04", "P05"):  # each answer moves on by itself
        page.set_result(code, ItemResult.NORMAL if code != "P04" else ItemResult.NOT_APPLICABLE)
    page.cards["P02"].note.setText("路灯已修好" if tag.startswith("zh") else "Lamp repaired")
    page.note_edited("P02", page.cards["P02"].note.text())
    for _ in range(30):  # let the replay deliver its fixes
        app.processEvents()
        QThreadPool.globalInstance().waitForDone(50)
    save(controller.window, out, f"{tag}_13_patrol_items", app)  # on P06, the next one
    page.open_item_list()
    assert page.dialog is not None
    save(page.dialog, out, f"{tag}_13b_patrol_item_list", app)
    page.dialog.reject()  # type: ignore[attr-defined]
    page.show_item("P07")
    page.image_picker = lambda _parent, _picked: None  # the pictures opened, none chosen
    page.set_result("P07", ItemResult.PROBLEM)  # needs a photo: waits for one
    save(controller.window, out, f"{tag}_14_patrol_photo_required", app)
    page.image_picker = lambda _parent, picked: picked(image)
    page.pick_photo("P07")
    settle(app)
    page.item_pages["P07"].ensureWidgetVisible(page.cards["P07"].thumbs[0], 0, 0)
    save(controller.window, out, f"{tag}_15_patrol_problem_photo", app)
    page.report_event("P07")
    assert page.dialog is not None
    save(page.dialog, out, f"{tag}_16_event_dialog", app)
    page.dialog.accept()  # type: ignore[attr-defined]
    page.show_group(2)
    save(controller.window, out, f"{tag}_17_patrol_group3", app)
    page.rest_normal()
    assert page.dialog is not None
    save(page.dialog, out, f"{tag}_17b_patrol_rest_normal", app)
    page.dialog.reject()  # type: ignore[attr-defined]
    page.show_track()
    assert page.dialog is not None
    page.dialog.resize(1100, 760)
    save(page.dialog, out, f"{tag}_18_track", app)
    page.dialog.accept()  # type: ignore[attr-defined]
    page.finish()
    assert page.dialog is not None
    save(page.dialog, out, f"{tag}_19_finish_confirm", app)
    page.dialog.accept()  # type: ignore[attr-defined]
    settle(app)  # the records are written on the thread pool
    save(controller.window, out, f"{tag}_20_patrol_summary", app)
    page.close_summary()
    save(controller.window, out, f"{tag}_21_patrol_start_after", app)
    view.show_page("today")
    save(controller.window, out, f"{tag}_22_today_done", app)


def demo_map(path: Path) -> Path:
    """A small MBTiles archive that looks like a street map (drawn here with Pillow: roads
    on a world-pixel grid so they run on across tiles, a river, parks), zooms 13-17."""
    import io
    import math
    import sqlite3

    from PIL import Image, ImageDraw

    from fieldclient.geo.tiles import tile_of

    lat, lon = 31.2480, 121.5870
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE metadata (name TEXT, value TEXT);"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
        " tile_data BLOB);")
    db.executemany("INSERT INTO metadata VALUES (?, ?)", [
        ("name", "示例街区（截图用）"), ("format", "png"),
        ("bounds", "121.56,31.23,121.61,31.27"), ("attribution", "示例瓦片，仅供截图")])
    for z in range(13, 18):
        cx, cy = tile_of(lat, lon, z)
        radius = 3 if z < 17 else 4
        for ty in range(cy - radius, cy + radius + 1):
            for tx in range(cx - radius, cx + radius + 1):
                scale = 2 ** (z - 16)  # roads every 48 px at zoom 16 (about 100 m)
                image = Image.new("RGB", (256, 256), (242, 239, 233))
                draw = ImageDraw.Draw(image)
                step = 48 * scale
                x0, y0 = tx * 256, ty * 256
                for index in range(int(x0 // step) - 1, int((x0 + 256) // step) + 2):
                    gx = index * step - x0
                    if index % 5 == 2:
                        draw.rectangle([gx + 4 * scale, 0, gx + step - 4 * scale, 256],
                                       fill=(205, 235, 197))
                    draw.line([gx, 0, gx, 256], fill=(255, 255, 255),
                              width=max(1, int((6 if index % 4 else 12) * scale)))
                for index in range(int(y0 // step) - 1, int((y0 + 256) // step) + 2):
                    gy = index * step - y0
                    draw.line([0, gy, 256, gy], fill=(255, 255, 255),
                              width=max(1, int((6 if index % 3 else 12) * scale)))
                river = [(px, 256 * ty * 0 + (math.sin((x0 + px) / (90 * scale)) * 40 * scale
                          + 2 ** z * 256 * 0.4065 - y0)) for px in range(0, 257, 8)]
                draw.line(river, fill=(170, 211, 223), width=max(2, int(18 * scale)))
                out = io.BytesIO()
                image.save(out, "PNG")
                db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                           (z, tx, (1 << z) - 1 - ty, out.getvalue()))
    db.commit()
    db.close()
    return path


def map_screens(app: QApplication, out: Path, tag: str, tmp: Path) -> None:
    """The map widget with and without an installed map, the patrol's track view while it
    waits for the GPS, and a Review-style view (visits, households, the grid boundary)."""
    from fieldclient.geo.archive import open_archive
    from fieldclient.geo.geometry import Fix
    from ui.widgets.map_view import MapMarker, MapView
    from ui.widgets.track_view import TrackView

    archive_path = tmp / "demo-map.mbtiles"
    if not archive_path.exists():
        demo_map(archive_path)
    archive = open_archive(archive_path)
    walk = [Fix(i * 5.0, 31.2440 + 0.00012 * i + 0.0004 * ((i // 25) % 2),
                121.5830 + 0.00009 * i + 0.0003 * math_sin(i / 9)) for i in range(90)]
    square = [[121.5815, 31.2425], [121.5935, 31.2425], [121.5935, 31.2555],
              [121.5815, 31.2555], [121.5815, 31.2425]]
    zh = tag.startswith("zh")
    visits = [MapMarker(31.2478, 121.5868, "09:12", key="v1"),
              MapMarker(31.2501, 121.5899, "10:05" + ("（离住户800米）" if zh
                                                    else " (800 m from home)"),
                        key="v2", flagged=True),
              MapMarker(31.2452, 121.5842, "11:30", key="v3")]
    homes = [MapMarker(31.2479, 121.5871, "3号楼" if zh else "Bldg 3", key="h1"),
             MapMarker(31.2445, 121.5900, "7号楼" if zh else "Bldg 7", key="h2"),
             MapMarker(31.2437, 121.5845, "12号楼" if zh else "Bldg 12", key="h3")]
    for name, use_map in (("30_map_review", True), ("31_map_plain", False)):
        view = MapView(archive if use_map else None)
        view.resize(1100, 700)
        view.set_boundary({"type": "Polygon", "coordinates": [square]})
        view.set_track(walk)
        view.set_households(homes)
        view.set_points(visits)
        view.show()
        for _ in range(10):
            settle(app)
            view.repaint()
        save(view, out, f"{tag}_{name}", app)
        if use_map:
            view.zoom_in()
            view.zoom_in()
            for _ in range(10):
                settle(app)
                view.repaint()
            save(view, out, f"{tag}_32_map_zoomed", app)
        view.close()
    track = TrackView(archive)
    track.resize(1100, 640)
    track.set_waiting(__import__("time").time() - 95)
    track.show()
    for _ in range(5):
        settle(app)
        track.repaint()
    save(track, out, f"{tag}_33_track_waiting", app)
    track.close()
    archive.close()


def review_screens(app: QApplication, out: Path, tag: str, tmp: Path) -> None:
    """The Review page of a grid leader over two grids (tests/ui/review_data.py): the
    table, a chart, the six months, a worker's flags, the drill-down (visits, a patrol's
    track) and the save dialog."""
    import shutil

    sys.path.insert(0, str(ROOT / "tests" / "ui"))
    from review_data import NOW, seed

    from ui.pages.review import ReviewPage

    data_dir = tmp / f"review-{tag}"
    shutil.rmtree(data_dir, ignore_errors=True)
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    seed(session)
    session.close()
    controller = AppController(data_dir)
    controller.window.resize(1280, 800)
    controller.start()
    controller.window.show()
    controller.on_session(unlock_device(data_dir, PIN, clock=lambda: NOW))
    view = controller.main_view
    assert isinstance(view, MainView)
    view.show_page("review")
    page = view.pages["review"]
    assert isinstance(page, ReviewPage)
    for _ in range(20):
        settle(app)
        if page.figures is not None:
            break
    save(controller.window, out, f"{tag}_40_review_table", app)
    zhang = next(w for w in page.workers() if w["name"] == "张三")
    page.show_flags(zhang)
    save(controller.window, out, f"{tag}_41_review_flags", app)
    if page.dialog is not None:
        page.dialog.accept()
    page.show_view("charts")
    page.set_measure("visits")
    save(controller.window, out, f"{tag}_42_review_chart", app)
    page.show_view("trend")
    for _ in range(40):
        settle(app)
        if page.months is not None:
            break
    save(controller.window, out, f"{tag}_43_review_trend", app)
    page.show_view("table")
    page.open_worker(zhang)
    dialog = page.dialog
    assert dialog is not None
    for _ in range(5):
        settle(app)
    save(dialog, out, f"{tag}_44_review_visits", app)
    dialog.show_patrol("p-z2")  # type: ignore[attr-defined]
    for _ in range(5):
        settle(app)
    save(dialog, out, f"{tag}_45_review_patrol", app)
    dialog.accept()
    os.environ["GRIDFIELD_EXPORT_DIR"] = str(tmp / "exports")
    page.export("pdf")
    if page.dialog is not None:
        save(page.dialog, out, f"{tag}_46_review_save", app)
        page.dialog.reject()
    settle(app)
    controller.close_session()
    controller.window.close()


def math_sin(value: float) -> float:
    import math

    return math.sin(value)


class _Central:
    """A throw-away ``central serve`` (SQLite, demo district) for the Sync page shots."""

    def __init__(self, workdir: Path) -> None:
        import json
        import socket
        import subprocess
        import time

        import requests

        workdir.mkdir(parents=True, exist_ok=True)
        self.db = f"sqlite:///{workdir / 'central.db'}"
        self.renders = 0
        self._cli("init")
        # grids 0-3: the Sync page shots (one per render); 4-7: the field work shots
        self.demo = json.loads(self._cli("seed-demo", "--grids", "8", "--households-per-grid",
                                         "24", "--seed", "5", "--visit-months", "12",
                                         "--json"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "central.cli", "--db", self.db, "serve", "--host",
             "127.0.0.1", "--port", str(port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(300):
            try:
                if requests.get(self.base + "/api/v1/health", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise SystemExit("central serve did not start")

    def _cli(self, *args: str) -> str:
        import subprocess

        return subprocess.run([sys.executable, "-m", "central.cli", "--db", self.db, *args],
                              check=True, capture_output=True, text=True, cwd=ROOT).stdout

    def code(self, person: int) -> str:
        import json

        return str(json.loads(self._cli("enroll", "--worker", str(person), "--json"))["code"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


_CENTRAL: _Central | None = None


def sync_screens(
    app: QApplication, out: Path, tag: str, controller: AppController, tmp: Path
) -> None:
    """The Sync page: not enrolled (with a wrong code), then a worker's and the grid
    leader's devices with pending records and a conflict."""
    global _CENTRAL
    from fieldclient.fieldwork.households import create_household, update_household
    from sync.engine import SyncEngine, enroll_device

    if _CENTRAL is None:
        _CENTRAL = _Central(tmp / "central")
    central = _CENTRAL
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("sync")
    page = view.pages["sync"]
    page.server_edit.setText(central.base)  # type: ignore[attr-defined]
    page.code_edit.setText("ABCD-EFGH-JKMN")  # type: ignore[attr-defined]
    page.enroll()  # type: ignore[attr-defined]
    sync = controller.sync
    assert sync is not None
    while sync.busy():
        settle(app)
    save(controller.window, out, f"{tag}_23_sync_not_enrolled", app)

    # Two workers edit the same household offline; the leader's and a worker's devices.
    central.renders += 1
    grid = central.demo["grids"][central.renders - 1]  # each render its own grid
    leader, workers = grid["leader"], grid["workers"]
    devices = {}
    for name, person in (("a", workers[0]), ("b", workers[-1]), ("leader", leader)):
        data_dir = tmp / f"{tag}-sync-{name}"
        session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
        enroll_device(session, central.base, central.code(int(person)), f"平板-{name}")
        devices[name] = session
    a, b = devices["a"], devices["b"]
    zh = tag.startswith("zh")
    hid = create_household(a, "郑建国" if zh else "Zheng Jianguo", "南街11号" if zh else
                           "11 South Street", grid_id=str(grid["id"]))
    SyncEngine(a).run_once()
    SyncEngine(b).run_once()
    update_household(a, hid, {"phone": "13800001111"})
    update_household(b, hid, {"phone": "13900002222"})
    SyncEngine(a).run_once()
    SyncEngine(b).run_once()
    a.close()
    create_household(b, "冯秀英" if zh else "Feng Xiuying", "北街3号" if zh else
                     "3 North Street", grid_id=str(grid["id"]))
    update_household(b, hid, {"address": "南街12号" if zh else "12 South Street"})
    b.close()
    for name in ("b", "leader"):
        session = devices[name]
        if session.is_open:
            session.close()
        view = _open_sync_page(app, controller, tmp / f"{tag}-sync-{name}",
                               sync_first=name == "leader")
        save(controller.window, out, f"{tag}_24_sync_{name}", app)
        page = view.pages["sync"]
        cards = page.conflict_cards  # type: ignore[attr-defined]
        if cards:
            settle(app)
            page.scroll.ensureWidgetVisible(cards[-1], 0, 0)  # type: ignore[attr-defined]
            save(controller.window, out, f"{tag}_25_sync_{name}_conflict", app)
    skew_screens(app, out, tag, controller, tmp)


def _open_sync_page(app: QApplication, controller: AppController, data_dir: Path,
                    sync_first: bool) -> MainView:
    """Lock, unlock the device in ``data_dir``, sync once if asked, show the Sync page."""
    controller.lock("manual")
    controller.data_dir = data_dir
    controller.on_session(unlock_device(data_dir, PIN))
    sync = controller.sync
    assert sync is not None
    sync.timer.stop()
    if sync_first:
        sync.sync_now()
        while sync.busy():
            settle(app)
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    view.show_page("sync")
    view.sync_status.update_state()
    return view


def skew_screens(
    app: QApplication, out: Path, tag: str, controller: AppController, tmp: Path
) -> None:
    """The Sync page with version skew: a record the centre cannot take yet (answered
    ``retry_later``) and rows from the centre this app cannot use (a kind it does not
    know, a household it cannot store). The centre is the tests' small loopback server
    that speaks the documented protocol (``tests/sync/sync_helpers.SkewServer``): today's
    ``central`` does not produce these answers."""
    sys.path.insert(0, str(ROOT / "tests" / "sync"))
    from sync_helpers import SkewServer

    from fieldclient.fieldwork.households import create_household, update_household
    from sync.engine import enroll_device

    zh = tag.startswith("zh")
    server = SkewServer(level=3, unsupported=("household.tags",))
    try:
        data_dir = tmp / f"{tag}-sync-skew"
        session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
        enroll_device(session, server.base, "ABCD-EFGH-JKMN", "平板-skew")
        hid = create_household(session, "钱秀兰" if zh else "Qian Xiulan", "解放路7号" if zh
                               else "7 Liberation Road", grid_id="1")
        update_household(session, hid, {"tags": ["独居老人" if zh else "lives alone"]})
        session.close()
        server.add_row("notice", "n1", {"id": "n1", "grid_id": 1, "text": "停水通知"})
        server.add_row("household", "h-new", {
            "id": "h-new", "grid_id": 1, "head_name": "孙八", "address": "东街8号",
            "category": "elderly", "version": 1, "tags": [], "members": []})
        view = _open_sync_page(app, controller, data_dir, sync_first=True)
        sync = controller.sync
        assert sync is not None
        save(controller.window, out, f"{tag}_26_sync_waiting_held", app)
        page = view.pages["sync"]
        page.scroll.ensureWidgetVisible(page.held_list, 0, 0)  # type: ignore[attr-defined]
        save(controller.window, out, f"{tag}_26b_sync_held", app)
        server.min_level = 9  # the centre no longer serves this app
        sync.sync_now()
        while sync.busy():
            settle(app)
        sync.timer.stop()
        page.scroll.verticalScrollBar().setValue(0)  # type: ignore[attr-defined]
        save(controller.window, out, f"{tag}_27_sync_upgrade_required", app)
    finally:
        server.close()


def _tomorrow_evening() -> str:
    from datetime import datetime, timedelta

    from fieldclient.devicetime import CST

    day = datetime.now(CST).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, 18, 0, tzinfo=CST).isoformat()


def field_screens(
    app: QApplication, out: Path, tag: str, controller: AppController, tmp: Path
) -> None:
    """A grid leader's synced device in a grid with a year of visits: Today, the
    household list, a search, a household's detail, My events with the centre's
    answer, and the task inbox."""
    from fieldclient.fieldwork.events import report_event
    from sync.engine import SyncEngine, enroll_device

    central = _CENTRAL
    assert central is not None
    zh = tag.startswith("zh")
    grid = central.demo["grids"][4 + central.renders - 1]
    central._cli("task", "push", "--grid", str(grid["id"]), "--title",
                 "排查秸秆和垃圾焚烧" if zh else "Check for straw and garbage burning",
                 "--body", "请今天巡查时重点查看田间地头，发现焚烧拍照上报。" if zh else
                 "Look at the fields on today's patrol; photograph and report any burning.",
                 "--due", _tomorrow_evening())
    central._cli("task", "push", "--grid", str(grid["id"]), "--title",
                 "冬季用电安全提醒" if zh else "Winter electrical safety",
                 "--body", "入户时提醒独居老人注意取暖用电安全。" if zh else
                 "Remind elderly people living alone about heater safety.")
    data_dir = tmp / f"{tag}-field"
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    enroll_device(session, central.base, central.code(int(grid["leader"])), "平板")
    SyncEngine(session).run_once()
    hid = str(session.db.execute("SELECT id FROM households ORDER BY head_name LIMIT 1")
              .fetchone()[0])
    event_id = report_event(
        session, category="公共设施",
        description="村口路灯损坏，夜间通行不便。" if zh else "The street lamp is broken.",
        urgency="urgent", household_id=hid)
    SyncEngine(session).run_once()
    central._cli("event", "advance", event_id, "--to", "accepted", "--note",
                 "已受理，转交电力所" if zh else "Accepted, passed to the power office")
    central._cli("event", "advance", event_id, "--to", "dispatched")
    SyncEngine(session).run_once()
    session.close()

    controller.lock("manual")
    controller.data_dir = data_dir
    controller.on_session(unlock_device(data_dir, PIN))
    sync = controller.sync
    assert sync is not None
    sync.timer.stop()
    view = controller.window.screen_widget()
    assert isinstance(view, MainView)
    for key, name in (("today", "30_today"), ("households", "31_households")):
        view.show_page(key)
        save(controller.window, out, f"{tag}_{name}", app)
    households = view.pages["households"]
    households.search.setText("w" if not zh else "王")  # type: ignore[attr-defined]
    import time

    for _ in range(20):  # the search waits for typing to pause (a timer), then runs
        time.sleep(0.05)
        settle(app)
    save(controller.window, out, f"{tag}_32_households_search", app)
    households.show_household(hid)  # type: ignore[attr-defined]
    save(controller.window, out, f"{tag}_33_household_detail", app)
    view.show_page("events")
    save(controller.window, out, f"{tag}_34_events", app)
    view.pages["events"].open_event(event_id)  # type: ignore[attr-defined]
    save(controller.window, out, f"{tag}_35_event_timeline", app)
    view.show_page("tasks")
    save(controller.window, out, f"{tag}_36_tasks", app)
    field_dialogs(app, out, tag, controller, hid)


def field_dialogs(app: QApplication, out: Path, tag: str, controller: AppController,
                  hid: str) -> None:
    """The forms a worker fills in: a visit (quick phrases, the household's people),
    the household's visit history, an event from the header, a task's answer, the
    household's details and a member."""
    from fieldclient.fieldwork import tasks
    from ui.dialogs.event import ReportEventDialog
    from ui.dialogs.household import HouseholdDialog, MemberDialog
    from ui.dialogs.visit import VisitDialog, VisitHistoryDialog

    session = controller.session
    assert session is not None
    window = controller.window
    visit = VisitDialog(controller, hid, window)
    visit.open()
    save(visit, out, f"{tag}_36b_visit_dialog", app)
    visit.discarding = True
    visit.reject()
    history = VisitHistoryDialog(controller, hid, window)
    history.open()
    save(history, out, f"{tag}_36c_visit_history", app)
    history.reject()
    report = ReportEventDialog(controller, window)
    report.open()
    save(report, out, f"{tag}_36d_report_event", app)
    report.reject()
    view = window.screen_widget()
    assert isinstance(view, MainView)
    page = view.pages["tasks"]
    task = next(t for t in tasks.inbox(session) if not t.is_notice)
    page.open_task(task.id)  # type: ignore[attr-defined]
    save(window, out, f"{tag}_36e_task_detail", app)
    page.open_answer()  # type: ignore[attr-defined]
    answer = page.dialog  # type: ignore[attr-defined]
    save(answer, out, f"{tag}_36f_task_answer", app)
    answer.reject()
    grid = str(session.db.execute("SELECT grid_id FROM households WHERE id = ?",
                                  (hid,)).fetchone()[0])
    household = HouseholdDialog(session, [grid], hid, parent=window)
    household.open()
    save(household, out, f"{tag}_36g_household_edit", app)
    household.reject()
    member = MemberDialog(session, hid, parent=window)
    member.open()
    save(member, out, f"{tag}_36h_member_add", app)
    member.reject()


def photo_screens(app: QApplication, out: Path, tag: str, tmp: Path) -> None:
    """The touch photo picker (a pictures folder with an album and three photos) and
    the full-size view with 删除这张照片."""
    import os

    from PIL import Image, ImageDraw
    from PySide6.QtGui import QPixmap

    from ui.dialogs.photo import PhotoView
    from ui.dialogs.photo_picker import TouchPhotoPicker, photo_sources

    pictures = tmp / f"{tag}-Pictures"
    (pictures / "2024相册").mkdir(parents=True)
    drive = tmp / f"{tag}-KINGSTON"
    drive.mkdir()
    for index, colour in enumerate([(190, 60, 40), (40, 140, 70), (50, 90, 170)]):
        image = Image.new("RGB", (1200, 900), colour)
        ImageDraw.Draw(image).rectangle((300, 250, 900, 650), fill=(240, 240, 230))
        image.save(pictures / f"IMG_00{index + 1:02d}.jpg", "JPEG", quality=80)
    Image.new("RGB", (1200, 900), (120, 120, 120)).save(drive / "DSC_0007.JPG", "JPEG")
    os.environ["GRIDFIELD_PHOTO_DIRS"] = os.pathsep.join([str(pictures), str(drive)])
    host = QWidget()  # not the last screen's dialog, which is being deleted
    host.resize(1280, 800)
    try:
        picker = TouchPhotoPicker(lambda _path: None, photo_sources(), host)
        picker.resize(1240, 760)
        picker.show()
        save(picker, out, f"{tag}_37_photo_picker", app)
        picker.reject()
    finally:
        del os.environ["GRIDFIELD_PHOTO_DIRS"]
    view = PhotoView(QPixmap(str(pictures / "IMG_0001.jpg")), removable=True, parent=host)
    view.resize(1240, 760)
    view.show()
    save(view, out, f"{tag}_38_photo_view", app)
    view.ask_remove()
    assert view.confirm is not None
    save(view.confirm, out, f"{tag}_39_photo_remove_confirm", app)
    view.reject()
    host.deleteLater()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--only", choices=["map", "review", "photos"],
                        help="render only these screens")
    parser.add_argument("--docs", action="store_true",
                        help="zh_CN at 100 %% into docs/screenshots/, optimised, with an index")
    args = parser.parse_args(argv)
    if args.docs:
        args.out = ROOT / "docs" / "screenshots"
        for old in args.out.glob("*.png"):
            old.unlink()
    args.out.mkdir(parents=True, exist_ok=True)
    combos = [("zh_CN", 1.0)] if args.docs else [
        (language, scale) for language in ("zh_CN", "en") for scale in (1.0, 1.75)]
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory() as tmp:
        for language, scale in combos:
            if args.only in ("map", "review", "photos"):
                i18n.set_language(language)
                style.apply_style(app, scale)
                screens = {"map": map_screens, "review": review_screens,
                           "photos": photo_screens}[args.only]
                screens(app, args.out, f"{language}_{int(scale * 100)}", Path(tmp))
                continue
            render(app, args.out, language, scale, Path(tmp))
            review_screens(app, args.out, f"{language}_{int(scale * 100)}", Path(tmp))
        if _CENTRAL is not None:
            _CENTRAL.stop()
    if args.docs:
        write_docs_index(args.out)
    return 0


def optimise_png(path: Path) -> None:
    """256 colours (the UI is flat colour and text), then zlib at its best: a few
    tens of KB a screen instead of a few hundred."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def write_docs_index(folder: Path) -> None:
    """docs/screenshots/README.md: every PNG, in the order rendered (by name)."""
    shots = sorted(folder.glob("*.png"))
    for shot in shots:
        optimise_png(shot)
    lines = ["# Screenshots (中文, 100 %)", "",
             "Rendered by `python scripts/screenshots.py --docs` (1280×800; offscreen, or under X",
             "with `QT_QPA_PLATFORM=xcb xvfb-run -a`), a throw-away device and a local central",
             "server. Every page and dialog:", ""]
    for shot in shots:
        title = shot.stem.removeprefix("zh_CN_100_").replace("_", " ")
        lines += [f"## {title}", "", f"![{title}]({shot.name})", ""]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")
    total = sum(s.stat().st_size for s in shots)
    print(f"{len(shots)} screenshots, {total / 1024 / 1024:.1f} MB, index {folder / 'README.md'}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
