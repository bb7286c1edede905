"""The Review page (督导, issue 13): only leaders and supervisors see it; its rows are
``month_figures``; month and grid pickers; flags with their reasons; the drill-down
(visits, a patrol's track on the map, a household's history, a review verdict queued);
the PDF has a page per grid and the XLSX the same numbers; it fits 1280×800 at 175 %."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot
from review_data import MONTH, NOW, seed
from uihelpers import PIN, click, settle

from fieldclient.fieldwork import review, review_detail, serverconfig
from fieldclient.storage.session import Session, unlock_device
from ui.controller import AppController
from ui.dialogs.review import ReviewDialog
from ui.dialogs.review_worker import HouseholdHistoryDialog, WorkerDialog
from ui.mainwindow import MainView
from ui.pages.review import ChoiceDialog, FlagsDialog, ReviewPage

pytestmark = pytest.mark.usefixtures("cheap_device_keys")


def _open(make_controller: Callable[..., AppController], device: Path, role: str = "leader",
          scale: float = 1.0, language: str = "zh_CN") -> tuple[AppController, Session]:
    session = unlock_device(device, PIN)
    seed(session, role)
    session.close()
    controller = make_controller(scale=scale, language=language)
    session = unlock_device(device, PIN, clock=lambda: NOW)
    controller.on_session(session)
    return controller, session


def _page(qtbot: QtBot, controller: AppController) -> ReviewPage:
    view = controller.main_view
    assert isinstance(view, MainView)
    view.show_page("review")
    page = view.pages["review"]
    assert isinstance(page, ReviewPage)
    qtbot.waitUntil(lambda: page.figures is not None and not page.loading, timeout=10_000)
    return page


def _rows(page: ReviewPage) -> list[list[str]]:
    table = page.table
    return [[table.item(r, c).text() if table.item(r, c) else ""
             for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_only_leaders_and_supervisors_see_the_page(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
) -> None:
    controller, _session = _open(make_controller, device, role="worker")
    view = controller.main_view
    assert isinstance(view, MainView)
    assert not view.nav_buttons["review"].isVisibleTo(view)
    controller.close_session()

    controller, _session = _open(make_controller, device, role="leader")
    view = controller.main_view
    assert isinstance(view, MainView)
    assert view.nav_buttons["review"].isVisibleTo(view)
    assert view.nav_buttons["review"].text() == "督导"


def test_rows_are_the_months_figures_and_the_pickers_change_them(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
) -> None:
    controller, session = _open(make_controller, device)
    page = _page(qtbot, controller)
    assert page.month == MONTH and page.month_label.text() == "2026年3月"
    expected = review.month_figures(session, MONTH)
    assert page.figures == expected
    rows = _rows(page)
    names = [w["name"] for w in expected["workers"]]
    assert [r[0] for r in rows] == names  # worst first, as computed
    assert {"张三", "李四", "赵六"} <= set(names)
    for row, w in zip(rows, expected["workers"], strict=True):
        assert row[2] == f"{w['score']:g}"
        assert row[4] == f"{w['patrol_days']}/{w['patrol_target']}"
        assert row[5] == str(w["visits"])
        q = w["quota"]["hardship"]
        assert row[6] == (f"{w['visits_by_category'].get('hardship', 0)}次\n"
                          f"已访{q['visited']}/{q['households']}户")
        assert row[9] == str(w["overdue_households"])
        assert row[10] == f"{w['events_reported']}/{w['events_closed']}"
        assert page.flag_buttons[w["person_id"]].text() == f"{len(w['flags'])}条"
    zhang = next(w for w in expected["workers"] if w["name"] == "张三")
    assert zhang["patrol_days"] == 3 and zhang["visits"] == 3  # pulled patrols count
    assert zhang["last_sync"] == "2026-03-19T18:00:00+08:00"
    assert not page.next_button.isEnabled()  # no future months

    click(qtbot, page.prev_button)
    qtbot.waitUntil(lambda: page.figures is not None and page.figures["month"] == "2026-02")
    assert page.month_label.text() == "2026年2月" and page.next_button.isEnabled()
    assert page.figures == review.month_figures(session, "2026-02")
    click(qtbot, page.next_button)
    qtbot.waitUntil(lambda: page.figures is not None and page.figures["month"] == MONTH)

    click(qtbot, page.grid_button)
    picker = page.dialog
    assert isinstance(picker, ChoiceDialog) and set(picker.buttons) == {"all", "7", "8"}
    click(qtbot, picker.buttons["8"])
    qtbot.waitUntil(lambda: page.figures is not None and page.figures["grid"] == "8")
    assert page.grid_button.text() == "网格 8 ▾"
    assert page.figures == review.month_figures(session, MONTH, "8")
    assert [r[0] for r in _rows(page)] == ["王网格长", "赵六"]  # the leader works too


def test_a_flag_shows_its_reason_and_the_charts_and_trend(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
) -> None:
    controller, session = _open(make_controller, device)
    page = _page(qtbot, controller)
    zhang = next(w for w in page.workers() if w["name"] == "张三")
    assert {f["check"] for f in zhang["flags"]} == {"far_from_home", "short_patrol"}
    click(qtbot, page.flag_buttons[zhang["person_id"]])
    dialog = page.dialog
    assert isinstance(dialog, FlagsDialog) and dialog.isVisible()
    texts = [line.text() for line in dialog.reasons]
    assert any("走访位置距离住户登记位置1200米（超过300米）" in t for t in texts)
    assert any("巡查只有6分钟（少于15分钟）" in t for t in texts)
    dialog.accept()

    click(qtbot, page.view_buttons["charts"])
    click(qtbot, page.measure_buttons["visits"])
    bars = page.chart.series()[0].barSets()[0]
    assert [bars.at(i) for i in range(bars.count())] == [
        float(w["visits"]) for w in page.workers()]
    click(qtbot, page.view_buttons["trend"])
    qtbot.waitUntil(lambda: page.months is not None, timeout=20_000)
    assert page.months is not None
    assert [m["month"] for m in page.months] == review_detail.last_months(MONTH, 6)
    assert page.months[-2] == review.month_figures(session, "2026-02")
    line = page.trend.series()[0]
    assert [p.y() for p in line.points()][-2:] == [3.0, 7.0]  # visits: Feb, March
    click(qtbot, page.view_buttons["table"])
    row = next(i for i, w in enumerate(page.workers()) if w["name"] == "张三")
    page.table.selectRow(row)
    click(qtbot, page.view_buttons["trend"])
    assert "张三" in page.trend_note.text()
    assert [p.y() for p in page.trend.series()[0].points()][-2:] == [1.0, 3.0]


def test_drill_down_visits_patrol_on_the_map_household_and_a_review(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
) -> None:
    controller, session = _open(make_controller, device)
    page = _page(qtbot, controller)
    zhang = next(w for w in page.workers() if w["name"] == "张三")
    click(qtbot, page.open_buttons[zhang["person_id"]])
    dialog = page.dialog
    assert isinstance(dialog, WorkerDialog) and dialog.isVisible()
    assert [v.id for v in dialog.visits] == ["v-z3", "v-z2", "v-z1"]
    assert dialog.tab_buttons["visits"].text() == "走访（3）"
    far = dialog.cards["v-z3"]
    assert far.findChild(QWidget, "flag_far_from_home_v-z3") is not None
    assert dialog.cards["v-z1"].findChild(QWidget, "flag_far_from_home_v-z1") is None
    assert {m.key for m in dialog.map.points} == {"v-z1", "v-z2", "v-z3"}
    assert [m.flagged for m in dialog.map.points if m.key == "v-z3"] == [True]
    texts = " ".join(w.text() for w in far.findChildren(type(dialog.heading)))
    assert "定位距住户登记位置1200米" in texts and "独居老人，取暖用电已检查。" in texts

    click(qtbot, dialog.tab_buttons["patrols"])
    assert [p.id for p in dialog.patrols] == ["p-z3", "p-z2", "p-z1"]
    assert dialog.shown_patrol == "p-z3" and dialog.map.tracks.lines  # the track is drawn
    click(qtbot, dialog.patrol_buttons["p-z1"])
    assert dialog.shown_patrol == "p-z1"
    assert sum(len(line) for line in dialog.map.tracks.lines) == 120
    assert [m.key for m in dialog.map.points] == ["v-z1"]  # that day's visit
    assert dialog.cards["p-z2"].findChild(QWidget, "flag_short_patrol_p-z2") is not None

    # a verdict on the patrol from the drill-down goes into the outbox
    click(qtbot, dialog.review_buttons["p-z2"])
    verdict = dialog.dialog
    assert isinstance(verdict, ReviewDialog) and verdict.target_id == "p-z2"
    click(qtbot, verdict.state_buttons["has_issues"])
    verdict.comment.setPlainText("巡查只有6分钟，请说明")
    click(qtbot, verdict.save_button)
    qtbot.waitUntil(lambda: not verdict.isVisible())
    ops = session.db.execute("SELECT kind, payload FROM outbox WHERE kind = 'review.create'"
                             ).fetchall()
    assert len(ops) == 1
    payload = json.loads(ops[0][1]) if isinstance(ops[0][1], str) else ops[0][1]
    assert payload["target_kind"] == "patrol" and payload["target_id"] == "p-z2"
    assert payload["state"] == "has_issues"
    qtbot.waitUntil(lambda: "p-z2" in dialog.review_buttons
                    and "有问题" in dialog.review_buttons["p-z2"].text())

    # and a visit's verdict; then the household's history
    click(qtbot, dialog.tab_buttons["visits"])
    click(qtbot, dialog.review_buttons["v-z3"])
    verdict = dialog.dialog
    assert isinstance(verdict, ReviewDialog)
    click(qtbot, verdict.state_buttons["rejected"])
    click(qtbot, verdict.save_button)
    qtbot.waitUntil(lambda: not verdict.isVisible())
    assert session.db.execute("SELECT count(*) FROM outbox WHERE kind = 'review.create'"
                              ).fetchone()[0] == 2
    household = next(v.household_id for v in dialog.visits if v.id == "v-z1")
    button = dialog.findChild(QPushButton, "household_v-z1")
    assert button is not None
    click(qtbot, button)
    history = dialog.dialog
    assert isinstance(history, HouseholdHistoryDialog) and history.household_id == household
    assert [v.id for v in history.rows] == ["v-f1", "v-z1", "v-l2"]  # anyone's, oldest first
    assert len(history.map.points) == 3 and len(history.map.households) == 1
    assert "陈大爷" in history.heading.text()
    history.accept()
    dialog.accept()


def test_the_drill_down_map_draws_the_boundary_the_centre_sent_for_the_grid(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
) -> None:
    """Grid 7's boundary as a pull stores it (``grid`` row): drawn behind 张三's visits,
    his patrol and a household's history; 赵六's grid 8 has none, so none is drawn."""
    controller, session = _open(make_controller, device)
    ring = [[121.575, 29.945], [121.59, 29.945], [121.59, 29.96], [121.575, 29.96],
            [121.575, 29.945]]
    with session.db.conn:
        serverconfig.save_grid(session.db, {"id": "7", "name": "南湖网格", "boundary": {
            "type": "MultiPolygon", "coordinates": [[ring]]}}, 99)
    page = _page(qtbot, controller)
    zhang = next(w for w in page.workers() if w["name"] == "张三")
    click(qtbot, page.open_buttons[zhang["person_id"]])
    dialog = page.dialog
    assert isinstance(dialog, WorkerDialog)
    assert [[(round(lat, 3), round(lon, 3)) for lat, lon in r]
            for polygon in dialog.map.boundary_polygons for r in polygon] == [
        [(lat, lon) for lon, lat in ring]]
    assert "网格边界" in dialog.map_note.text()
    click(qtbot, dialog.tab_buttons["patrols"])
    assert dialog.map.tracks.lines and dialog.map.boundary_polygons
    assert "网格边界" in dialog.map_note.text()
    button = dialog.findChild(QPushButton, "household_v-z1")
    assert button is not None
    click(qtbot, button)
    history = dialog.dialog
    assert isinstance(history, HouseholdHistoryDialog) and history.map.boundary_polygons
    history.accept()
    dialog.accept()
    zhao = next(w for w in page.workers() if w["name"] == "赵六")
    click(qtbot, page.open_buttons[zhao["person_id"]])
    other = page.dialog
    assert isinstance(other, WorkerDialog) and other is not dialog
    assert other.map.boundary_polygons == [] and "网格边界" not in other.map_note.text()
    other.accept()


def test_reports_pdf_per_grid_and_xlsx_with_the_same_numbers(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    from ui.review_report import SaveDialog

    out = tmp_path / "exports"
    monkeypatch.setenv("GRIDFIELD_EXPORT_DIR", str(out))
    controller, session = _open(make_controller, device)
    page = _page(qtbot, controller)
    figures = page.figures
    assert figures is not None
    click(qtbot, page.pdf_button)
    dialog = page.dialog
    assert isinstance(dialog, SaveDialog) and dialog.places[0][1] == out
    click(qtbot, dialog.place_buttons[0])
    qtbot.waitUntil(lambda: dialog.saved is not None, timeout=20_000)
    pdf = out / "review-2026-03-all.pdf"
    assert dialog.saved == pdf and "已保存" in dialog.state.text()
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    assert len(reader.pages) == 2  # grids 7 and 8
    # the extracted text has Kangxi radicals for some characters and tabs for spaces
    first, second = (re.sub(r"\s", "", unicodedata.normalize("NFKC", p.extract_text()))
                     for p in reader.pages)
    assert "网格7" in first and "张三" in first and "李四" in first and "赵六" not in first
    assert "网格8" in second and "赵六" in second
    assert "张三:走访位置距离住" in first and "1200米(超过300米)(v-z3)" in first
    dialog.reject()

    click(qtbot, page.xlsx_button)
    dialog = page.dialog
    assert isinstance(dialog, SaveDialog)
    click(qtbot, dialog.place_buttons[0])
    qtbot.waitUntil(lambda: dialog.saved is not None, timeout=20_000)
    book = load_workbook(io.BytesIO((out / "review-2026-03-all.xlsx").read_bytes()))
    sheet = book.worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert rows == [[None if v == "" else v for v in review_detail.table_row(w)]
                    for w in figures["workers"]]
    assert [ws.title for ws in book.worksheets] == ["2026-03考核", "网格7", "网格8", "疑点"]
    assert book.worksheets[3].max_row == 1 + sum(len(w["flags"]) for w in figures["workers"])
    dialog.reject()
    settle(qtbot)
    exports = session.db.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'export'").fetchone()[0]
    assert exports == 2


def _not_cut(widget: QWidget, within: QWidget) -> None:
    for btn in widget.findChildren(QPushButton):
        if not btn.isVisibleTo(within) or btn.window() is not within.window():
            continue
        assert btn.width() >= btn.sizeHint().width() * 0.98, (btn.objectName(), btn.text())
        # (a chosen tab's border is 1 px thicker on each side than its layout knew)
        assert btn.height() >= btn.sizeHint().height() - 2, btn.objectName()


@pytest.mark.parametrize(("scale", "language"), [(1.0, "zh_CN"), (1.75, "zh_CN"),
                                                 (1.75, "en")])
def test_page_and_drill_down_fit_1280x800(
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
    scale: float, language: str,
) -> None:
    controller, _session = _open(make_controller, device, scale=scale, language=language)
    view = controller.main_view
    assert isinstance(view, MainView)
    page = _page(qtbot, controller)
    hint = view.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 800, hint
    for btn in view.nav_buttons.values():  # eight pages fit the navigation
        assert btn.height() >= btn.minimumSizeHint().height() and btn.height() >= 64
    for top in (page.prev_button, page.next_button, page.grid_button, page.pdf_button,
                page.xlsx_button, *page.view_buttons.values()):
        assert top.isVisibleTo(page)
        assert top.geometry().right() <= page.width(), top.objectName()
        assert top.width() >= top.sizeHint().width() * 0.98, top.text()
    assert page.table.rowHeight(0) >= page.open_buttons[page.workers()[0]["person_id"]] \
        .sizeHint().height()
    for view_key in ("charts", "trend"):
        click(qtbot, page.view_buttons[view_key])
        qtbot.wait(10)
        hint = view.minimumSizeHint()
        assert hint.width() <= 1280 and hint.height() <= 800, (view_key, hint)
        _not_cut(page.measure_grid, page)
    settle(qtbot)
    zhang = next(w for w in page.workers() if w["name"] == "张三")
    click(qtbot, page.view_buttons["table"])
    click(qtbot, page.open_buttons[zhang["person_id"]])
    dialog = page.dialog
    assert isinstance(dialog, WorkerDialog)
    qtbot.waitExposed(dialog)
    qtbot.wait(20)
    assert dialog.width() <= 1280 and dialog.height() <= 800
    assert dialog.minimumSizeHint().height() <= 800
    _not_cut(dialog, dialog)
    for visit in dialog.visits:  # no card wider than its list
        assert dialog.cards[visit.id].width() <= dialog.visit_list.area.viewport().width()
    click(qtbot, dialog.tab_buttons["patrols"])
    qtbot.wait(10)
    _not_cut(dialog, dialog)
    assert dialog.close_button.geometry().bottom() <= dialog.height()
    dialog.accept()
