"""The month's review figures agree on the device and at the centre (one computation,
sync/protocol/review.py): a worker's device records visits, events and patrols, syncs,
and ``central report`` (every format) says what ``fieldclient review`` says; a leader's
device that pulled the grid's visits counts them the same way too."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import insert
from sync_helpers import new_grid

from central import db, report, settings
from fieldclient.cli import main as fieldclient_main
from fieldclient.fieldwork import events, patrols, review, visits
from fieldclient.geo.geometry import Fix
from sync.protocol.review import CHINA

MONTH = "2026-03"


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 3, day, hour, minute, tzinfo=CHINA).timestamp()


def add_households(engine: Any, grid: int) -> list[tuple[str, float, float, str]]:
    """Four households with known positions, registered in January."""
    rows = [(f"rv-{grid}-{i}", 29.95 + i * 0.01, 121.58, ("hardship", "key", "ordinary",
                                                          "hardship")[i]) for i in range(4)]
    with engine.begin() as conn:
        for hid, lat, lon, category in rows:
            conn.execute(insert(db.households).values(
                id=hid, grid_id=grid, head_name=f"户主{hid[-1]}", address=f"测试路{hid[-1]}号",
                category=category, tags=[], version=1, updated_seq=db.next_seq(conn),
                registered_at=datetime(2026, 1, 5, tzinfo=CHINA).timestamp(), lat=lat, lon=lon))
    return rows


def record_month(dev: Any, homes: list[tuple[str, float, float, str]], pasted: str) -> None:
    """Visits (one far from home, one without position, two minutes apart far away, the
    same text twice, one at night), a correction, a training visit, an event, and two
    patrols: one of minutes, one without a track."""
    s = dev.session

    def when(t: float) -> None:
        s.clock = lambda: t

    def fix(i: int, north_m: float = 0.0) -> Fix:
        return Fix(0.0, homes[i][1] + north_m / 111_195.0, homes[i][2])

    when(at(2, 10))
    first = visits.record_visit(s, homes[0][0], visit_type="home",
                                situation="家中情况稳定，一切正常。", position=fix(0))
    when(at(3, 10))
    visits.record_visit(s, homes[1][0], visit_type="home", situation="在村委会补记的走访。",
                        position=fix(1, 1500))
    when(at(4, 10))
    visits.record_visit(s, homes[2][0], visit_type="home", situation="没有定位。")
    when(at(5, 10))
    visits.record_visit(s, homes[3][0], visit_type="home", situation="第四户。", position=fix(3))
    when(at(5, 10, 4))
    visits.record_visit(s, homes[0][0], visit_type="revisit", situation=pasted,
                        position=fix(0))
    when(at(6, 10))
    visits.record_visit(s, homes[1][0], visit_type="home", situation=pasted, position=fix(1))
    when(at(7, 23, 10))
    visits.record_visit(s, homes[2][0], visit_type="home", situation="夜里去的。",
                        position=fix(2))
    when(at(8, 10))
    visits.record_visit(s, homes[0][0], visit_type="home", situation="更正：情况稳定。",
                        corrects=first, position=fix(0))
    visits.record_visit(s, homes[0][0], visit_type="phone", situation="培训。", training=True)
    when(at(9, 9))
    events.report_event(s, category="公共设施", description="路灯不亮", household_id=homes[0][0])
    for day, minutes in ((10, 6), (11, 60)):
        when(at(day, 8))
        patrol = patrols.start_patrol(s, str(homes[0][0].split("-")[1]))
        when(at(day, 8) + minutes * 60)
        patrols.finish_patrol(s, patrol.id, allow_incomplete=True)
    s.clock = time.time


def comparable(worker: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in worker.items() if k != "last_sync"}


def test_device_and_centre_figures_agree(live: Any, make_device: Any) -> None:
    grid = new_grid(live.engine)
    gid = grid["id"]
    homes = add_households(live.engine, gid)
    a = make_device(live, grid["workers"][0], "a")
    b = make_device(live, grid["workers"][1], "b")
    assert a.engine.run_once().ok and b.engine.run_once().ok
    pasted = "入户走访，家中一切正常，老人身体健康，无困难诉求。"
    record_month(a, homes, pasted)
    b.session.clock = lambda: at(12, 15)
    visits.record_visit(b.session, homes[3][0], visit_type="home", situation="李四的走访。",
                        position=Fix(0.0, homes[3][1], homes[3][2]))
    b.session.clock = time.time
    assert a.engine.run_once().ok and b.engine.run_once().ok
    leader = make_device(live, grid["leader"], "leader")
    assert leader.engine.run_once().ok

    now = time.time()
    centre = report.month_report(live.engine, MONTH, now, str(gid))
    device = review.month_figures(a.session, MONTH, str(gid), now=now)
    by_id = {w["person_id"]: w for w in centre["workers"]}
    mine = next(w for w in device["workers"] if w["person_id"] == str(grid["workers"][0]))
    assert comparable(mine) == comparable(by_id[mine["person_id"]])
    assert mine["visits"] == 7 and mine["visits_by_category"] == {
        "hardship": 3, "key": 2, "ordinary": 2}
    assert mine["patrol_days"] == 2 and mine["events_reported"] == 1
    assert sorted({f["check"] for f in mine["flags"]}) == [
        "far_from_home", "night", "no_position", "no_track", "rapid_visits", "same_text",
        "short_patrol"]
    assert (device["month"], device["from"]) == (centre["month"], centre["from"])

    # the leader's device: the grid's visits pulled, counted the same way
    seen = {w["person_id"]: w for w in review.month_figures(
        leader.session, MONTH, str(gid), now=now)["workers"]}
    for person in map(str, grid["workers"]):
        for key in ("visits", "visits_by_category", "overdue_households", "quota"):
            assert seen[person][key] == by_id[person][key], (person, key)

    # every format carries the same numbers
    rows = list(csv.DictReader(io.StringIO(report.to_csv(centre))))
    assert {r["person_id"]: int(r["visits"]) for r in rows} == {
        w["person_id"]: w["visits"] for w in centre["workers"]}
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(report.to_xlsx(centre)))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]][:4] == ["人员编号", "姓名", "网格", "得分"]
    assert sheet.max_row == 1 + len(centre["workers"])
    assert book.worksheets[1].max_row == 1 + sum(len(w["flags"]) for w in centre["workers"])


def test_the_pdf_has_a_page_per_grid(live: Any, tmp_path: Any) -> None:
    from pypdf import PdfReader

    grids = [new_grid(live.engine) for _ in range(2)]
    for g in grids:
        add_households(live.engine, g["id"])
    result = report.month_report(live.engine, MONTH, time.time())
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(report.to_pdf(result))
    pages = PdfReader(str(pdf)).pages
    assert len(pages) == len(result["grids"]) >= 2
    page = list(result["grids"]).index(str(grids[0]["id"]))
    text = "".join(ch for ch in pages[page].extract_text() if ch not in "\x00 ")
    assert f"（网格{grids[0]['id']}）{MONTH}月度考核" in text


def test_review_rules_setting_is_validated_and_reaches_devices(
        live: Any, make_device: Any) -> None:
    grid = new_grid(live.engine)
    rules = json.loads(review.shared.DEFAULT_REVIEW_RULES_FILE.read_text("utf-8"))
    rules["checks"]["far_from_home"]["max_distance_m"] = 50
    with pytest.raises(settings.SettingError, match="review_rules"):
        settings.set_setting(live.engine, "review_rules", {**rules, "score": {}}, grid["id"])
    settings.set_setting(live.engine, "review_rules", rules, grid["id"])
    dev = make_device(live, grid["workers"][0])
    assert dev.engine.run_once().ok
    assert review.review_rules_in_force(dev.session.db).checks["far_from_home"] == {
        "max_distance_m": 50}


def test_fieldclient_review_command(live: Any, make_device: Any, capsys: Any,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    assert dev.engine.run_once().ok
    from device_fixtures import PIN

    monkeypatch.setattr("sys.stdin", io.StringIO(PIN + "\n"))
    assert fieldclient_main(["--data-dir", str(dev.data_dir), "review", "--month", MONTH,
                             "--json", "--pin-stdin"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["month"] == MONTH and out["workers"][0]["person_id"] == str(grid["workers"][0])
    monkeypatch.setattr("sys.stdin", io.StringIO(PIN + "\n"))
    assert fieldclient_main(["--data-dir", str(dev.data_dir), "review", "--month", "2026-3",
                             "--pin-stdin"]) == 2
    assert "2026-03" in capsys.readouterr().err
