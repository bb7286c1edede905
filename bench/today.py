"""The Today page with 100,000 households and a year of visits.

The data set is written straight into a real encrypted device in SQL (households,
then about 220,000 visits: hardship and key households monthly, ordinary ones twice
a year, some missed; the triggers keep ``visit_summary`` and ``quota_households``).
The device's clock stands at 28 December 2026, 10:00 in China: the month and the
half-year end within the week, so thousands of households are due this week (the
heaviest day of the year for the page).

The Today page is timed from "asked to refresh" to "its figures and the due list
shown" (the quota computation runs on the thread pool; the events that follow,
layout and paint included, are processed before the clock stops), three ways:

- ``first_ms``: the first refresh after an unlock (lock, unlock, the main view is
  built and shows Today): a new connection with a cold page cache, no earlier figures;
- ``changed_ms``: a refresh after a visit was recorded (the figures are computed again);
- ``unchanged_ms``: a refresh with nothing changed (the last figures are reused).

Also times ``due_households`` without a limit (the Households page's "visit due"
filter). Target: each median <= 300 ms. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRIDFIELD_SECRET_STORE", "file")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from fieldclient.ids import new_id
from fieldclient.security import crypto
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import Session, setup_device

HOUSEHOLDS = 100_000
ROUNDS = 7
TARGET_MS = 300.0
DAY = 86400.0
PIN = "246810"
NOW = datetime(2026, 12, 28, 10, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def cheap_kdf() -> None:
    crypto.KdfParams.fresh = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls: cls(salt=os.urandom(16), memory_kib=1024, iterations=1, lanes=1)
    )


def build(session: Session, now: float, rng: random.Random) -> int:
    """Households and a year of visits, in bulk SQL; returns the number of visits."""
    start = now - 400 * DAY
    households = []
    for i in range(HOUSEHOLDS):
        category = rng.choice(["ordinary"] * 8 + ["hardship", "key"])
        created = start + rng.uniform(0, 380) * DAY
        households.append((new_id(created), f"grid-{i % 40:03d}", f"住户{i}",
                           f"庄市街道{i % 30}村{i % 200}号", category, created, created))
    visits = []
    for hid, grid, _name, _address, category, created, _ in households:
        every = 30 * DAY if category != "ordinary" else 180 * DAY
        t = max(created, now - 365 * DAY) + rng.uniform(0, every)
        while t < now:
            if rng.random() > 0.1:  # one in ten visits missed
                visits.append((new_id(t), hid, grid, rng.choice(["home", "phone"]), t,
                               "身体尚可", t))
            t += every * rng.uniform(0.8, 1.1)
    visits.sort(key=lambda v: v[4])
    with session.db.conn:
        session.db.conn.executemany(
            "INSERT INTO households (id, grid_id, head_name, address, category, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", households)
        session.db.conn.executemany(
            "INSERT INTO visits (id, household_id, grid_id, visit_type, visited_at,"
            " situation, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", visits)
    return len(visits)


def median_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 1)


def main() -> None:
    cheap_kdf()
    from PySide6.QtCore import QEventLoop, QThreadPool
    from PySide6.QtWidgets import QApplication

    from fieldclient.fieldwork import quotas
    from fieldclient.fieldwork.visits import record_visit
    from fieldclient.storage.session import unlock_device
    from ui import style
    from ui.controller import AppController
    from ui.pages.today import TodayPage

    asked: list[float] = []  # when a Today page was last asked to refresh
    refresh = TodayPage.refresh

    def timed_refresh(self: TodayPage) -> None:
        asked.append(time.perf_counter())
        refresh(self)

    TodayPage.refresh = timed_refresh  # type: ignore[method-assign]
    app = QApplication(sys.argv)
    style.apply_style(app, 1.0)

    def clock() -> float:
        return NOW

    def shown(page: TodayPage) -> float:
        """Seconds from the first refresh asked since ``asked`` was cleared to the
        figures on screen (the result delivered, then pending layout and paint)."""
        while page.status is None or page.loading:
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        app.processEvents()
        return time.perf_counter() - asked[0]

    with tempfile.TemporaryDirectory(prefix="bench-today-") as tmp:
        data_dir = Path(tmp) / "device"
        session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir), clock=clock)
        rng = random.Random(11)
        began = time.perf_counter()
        visits = build(session, NOW, rng)
        build_s = time.perf_counter() - began
        some_households = [hid for (hid,) in session.db.execute(
            "SELECT id FROM households ORDER BY random() LIMIT ?", (ROUNDS,))]
        session.close()
        controller = AppController(data_dir)
        controller.window.resize(1280, 800)
        controller.window.show()
        first, changed, unchanged = [], [], []
        page: TodayPage | None = None
        for household_id in some_households:
            controller.close_session()
            session = unlock_device(data_dir, PIN, clock=clock)
            asked.clear()
            controller.on_session(session)  # builds the main view, which shows Today
            view = controller.main_view
            assert view is not None
            shown_page = view.pages["today"]
            assert isinstance(shown_page, TodayPage) and asked, "Today shown at unlock"
            page = shown_page
            first.append(shown(page))
            record_visit(session, household_id, visit_type="home", situation="都好")
            asked.clear()
            page.refresh()
            changed.append(shown(page))
            asked.clear()
            page.refresh()
            unchanged.append(shown(page))
        assert page is not None and page.status is not None
        status, rows_shown = page.status, len(page.due_rows)
        assert controller.session is not None
        due_all = []
        for _ in range(3):
            began = time.perf_counter()
            due_count = len(quotas.due_households(controller.session))
            due_all.append(time.perf_counter() - began)
        QThreadPool.globalInstance().waitForDone(10_000)
        controller.close_session()
    medians = {"first_ms": median_ms(first), "changed_ms": median_ms(changed),
               "unchanged_ms": median_ms(unchanged)}
    print(json.dumps({
        "benchmark": "today_page",
        "households": HOUSEHOLDS,
        "visits": visits,
        "build_s": round(build_s, 1),
        "rounds": ROUNDS,
        **medians,
        "first_max_ms": round(max(first) * 1000, 1),
        "overdue": status.overdue,
        "due_soon": status.due_soon,
        "rows_shown": rows_shown,
        "due_households_all_ms": median_ms(due_all),
        "due_households_all": due_count,
        "target_ms": TARGET_MS,
        "ok": max(medians.values()) <= TARGET_MS,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
