"""The ``central`` command as the command centre runs it: real processes, both backends."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from central_helpers import CENTRAL, central, central_json
from sqlalchemy import func, select

from central import cnid, db, ops
from central.seed import seed_demo

GOOD_ID = cnid.make_id_number("330205", date(1968, 3, 14), 123)
BAD_ID = GOOD_ID[:17] + ("0" if GOOD_ID[17] != "0" else "1")  # wrong check digit
MEMBER_ID = cnid.make_id_number("330205", date(1995, 7, 2), 456)


def test_init_is_idempotent(fresh_db: str) -> None:
    out = central_json(fresh_db, "init")
    assert out == {"schema_version": db.LATEST_VERSION, "migrated_from": db.LATEST_VERSION}


def test_commands_refuse_an_uninitialised_database(tmp_path: Path) -> None:
    result = central(f"sqlite:///{tmp_path / 'none.db'}", "stats", check=False)
    assert result.returncode == 2 and "central init" in result.stderr


def test_default_database_is_a_file_in_the_current_directory(tmp_path: Path) -> None:
    subprocess.run([*CENTRAL, "init"], cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / "central.db").is_file()


def test_seed_demo_is_deterministic_and_realistic(tmp_path: Path, pg_server: object) -> None:
    args = ("seed-demo", "--grids", "5", "--households-per-grid", "60", "--seed", "42", "--json")
    outputs, urls = [], []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        central(url, "init")
        outputs.append(central(url, *args).stdout)
        urls.append(url)
    pg_url = pg_server.new_database()  # type: ignore[attr-defined]
    central(pg_url, "init")
    outputs.append(central(pg_url, *args).stdout)
    urls.append(pg_url)
    assert outputs[0] == outputs[1] == outputs[2]  # same seed, same ids, any backend
    demo = json.loads(outputs[0])
    assert demo["town"]["name"] == "庄市街道"
    assert len(demo["grids"]) == 5 and demo["households"] == 300
    roles = [p["role"] for p in demo["people"]]
    assert roles.count("worker") == 10 and roles.count("leader") == 5
    assert roles.count("supervisor") == 1
    for g in demo["grids"]:
        assert "网格" in g["name"] and g["households"] == 60
        assert len(g["workers"]) == 2
    totals = {k: sum(g["categories"][k] for g in demo["grids"]) for k in ("ordinary", "hardship",
                                                                          "key")}
    assert 0.70 <= totals["ordinary"] / 300 <= 0.90
    assert 0.05 <= totals["hardship"] / 300 <= 0.20
    assert 0.02 <= totals["key"] / 300 <= 0.15
    # the stored rows are identical too, not only the summary
    rows = []
    for url in urls:
        engine = db.make_engine(url)
        with engine.connect() as conn:
            rows.append([
                tuple(r) for r in conn.execute(
                    select(db.households.c.id, db.households.c.head_name, db.households.c.address,
                           db.households.c.category, db.households.c.id_number)
                    .order_by(db.households.c.id))
            ])
        engine.dispose()
    assert rows[0] == rows[1] == rows[2]
    assert all(cnid.id_number_problem(r[4]) is None for r in rows[0])
    assert all(r[2].startswith("宁波市江北区庄市街道") for r in rows[0])
    other_url = f"sqlite:///{tmp_path / 'c'}.db"
    central(other_url, "init")
    other = central(other_url, *args[:-3], "--seed", "43", "--json")
    assert other.stdout != outputs[0]
    again = central(other_url, *args, check=False)
    assert again.returncode == 2 and "fresh database" in again.stderr


def seed(url: str, grids: int, per_grid: int, seed_value: int = 2019) -> dict[str, Any]:
    """seed-demo in-process (the command itself is tested above)."""
    engine = db.make_engine(url)
    try:
        return seed_demo(engine, grids, per_grid, seed_value)
    finally:
        engine.dispose()


def _insert_reported_event(url: str, event_id: str, grid_id: int) -> None:
    """A freshly reported event, as a device's sync will create it."""
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(db.events.insert().values(
            id=event_id, grid_id=grid_id, category="市容环卫", description="垃圾堆积",
            status="reported", created_at=db.now_iso(), updated_at=db.now_iso(),
            updated_seq=db.next_seq(conn)))
    engine.dispose()


def _write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _household_count(url: str, grid: int) -> int:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(db.households)
                         .where(db.households.c.grid_id == grid)).scalar()
    engine.dispose()
    return int(n or 0)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_import_households_reports_bad_rows_by_line(fresh_db: str, tmp_path: Path,
                                                    encoding: str) -> None:
    grid = seed(fresh_db, 1, 0)["grids"][0]["id"]
    csv_text = (
        "户主姓名,地址,类别,电话,身份证号,家庭成员,标签\r\n"
        f"王建国,勤勇村3组12号,困难,13812345678,{GOOD_ID},李秀英:配偶;王小明:子女:{MEMBER_ID},低保户\r\n"
        ",勤勇村3组13号,一般,,,,\r\n"                              # line 3: no name
        "陈桂兰,勤勇村3组14号,重点,,,,社区矫正人员；独居老人\r\n"
        "赵强,勤勇村3组15号,特别,,,,\r\n"                           # line 5: bad category
        "孙芳,勤勇村3组16号,一般,12345,,,\r\n"                       # line 6: bad phone
        f"周杰,勤勇村3组17号,一般,,{BAD_ID},,\r\n"                  # line 7: bad check digit
        "\r\n"                                                       # line 8: blank, skipped
        '"吴敏","勤勇村3组18号,\r\n东侧",ordinary,0574-87654321,,,\r\n'  # lines 9-10: quoted
        "郑洋,勤勇村3组19号,一般,,,李四,\r\n"                        # line 11: bad member
    )
    path = _write(tmp_path / "roster.csv", csv_text, encoding)
    result = central(fresh_db, "import-households", str(path), "--grid", str(grid), "--json",
                     check=False)
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["imported"] == 3
    assert [e["line"] for e in summary["errors"]] == [3, 5, 6, 7, 11]
    reasons = " ".join(e["reason"] for e in summary["errors"])
    assert "name" in reasons and "category" in reasons and "check digit" in reasons
    assert _household_count(fresh_db, grid) == 3
    engine = db.make_engine(fresh_db)
    with engine.connect() as conn:
        # head names are sealed at rest: compared after reading, not in SQL
        by_head = {r["head_name"]: r for r in conn.execute(select(db.households)).mappings()}
        wang = by_head["王建国"]
        assert wang["category"] == "hardship" and wang["tags"] == ["低保户"]
        assert wang["address"] == "勤勇村3组12号" and wang["id_number"] == GOOD_ID
        members = conn.execute(select(db.members.c.name, db.members.c.relation)
                               .where(db.members.c.household_id == wang["id"])).all()
        assert sorted(members) == sorted([("王建国", "户主"), ("李秀英", "配偶"),
                                          ("王小明", "子女")])
        chen = by_head["陈桂兰"]
        assert chen["category"] == "key" and chen["tags"] == ["社区矫正人员", "独居老人"]
        wu = by_head["吴敏"]
        assert wu["address"] == "勤勇村3组18号, 东侧"
    engine.dispose()


def test_import_households_english_headers_and_file_errors(sqlite_db: str,
                                                           tmp_path: Path) -> None:
    fresh_db = sqlite_db
    grid = str(seed(fresh_db, 1, 0)["grids"][0]["id"])
    good = _write(tmp_path / "en.csv", "address,name,extra\nNo. 5 Lane 2,Li Lei,x\n", "utf-8")
    assert central_json(fresh_db, "import-households", str(good), "--grid", grid) == {
        "imported": 1, "errors": [], "encoding": "utf-8"}
    no_address = _write(tmp_path / "bad.csv", "name,phone\n张三,13812345678\n", "utf-8")
    result = central(fresh_db, "import-households", str(no_address), "--grid", grid,
                     check=False)
    assert result.returncode == 2 and "address" in result.stderr
    result = central(fresh_db, "import-households", str(good), "--grid", "424242", check=False)
    assert result.returncode == 2 and "no grid" in result.stderr
    result = central(fresh_db, "import-households", str(tmp_path / "missing.csv"), "--grid",
                     grid, check=False)
    assert result.returncode == 2
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x81\xff\xfe\x00" * 10)
    assert central(fresh_db, "import-households", str(binary), "--grid", grid,
                   check=False).returncode == 2
    assert _household_count(fresh_db, int(grid)) == 1


def test_event_advance_follows_the_closed_loop(fresh_db: str) -> None:
    grid = seed(fresh_db, 2, 1, 3)["grids"][0]["id"]
    events = central_json(fresh_db, "event", "list")
    assert len(events) == 4  # seed-demo puts two events on each grid
    assert {e["status"] for e in events} <= set(db.EVENT_STATUSES)
    _insert_reported_event(fresh_db, "e-test-1", grid)
    bad = central(fresh_db, "event", "advance", "e-test-1", "--to", "closed", check=False)
    assert bad.returncode == 1 and "allowed: accepted, returned, escalated" in bad.stderr
    out = central_json(fresh_db, "event", "advance", "e-test-1", "--to", "accepted",
                       "--note", "已受理")
    assert out["status"] == "accepted"
    assert out["history"] == [{"from_status": "reported", "to_status": "accepted",
                               "note": "已受理", "actor": "command_centre",
                               "at": out["updated_at"]}]
    engine = db.make_engine(fresh_db)
    path = ["dispatched", "in_progress", "resolved", "in_progress", "resolved", "verified",
            "closed"]
    for status in path:
        out = ops.advance_event(engine, "e-test-1", status, f"→ {status}")
        assert out["status"] == status
    engine.dispose()
    assert [h["to_status"] for h in out["history"]] == ["accepted", *path]
    final = central(fresh_db, "event", "advance", "e-test-1", "--to", "accepted", check=False)
    assert final.returncode == 1 and "final status" in final.stderr
    assert central(fresh_db, "event", "advance", "nope", "--to", "accepted",
                   check=False).returncode == 2
    listed = central_json(fresh_db, "event", "list", "--status", "closed")
    assert "e-test-1" in {e["id"] for e in listed}


def test_event_return_and_escalate(fresh_db: str) -> None:
    _insert_reported_event(fresh_db, "e-test-2", seed(fresh_db, 1, 0)["grids"][0]["id"])
    engine = db.make_engine(fresh_db)
    for status in ("returned", "reported", "escalated", "dispatched", "in_progress"):
        assert ops.advance_event(engine, "e-test-2", status, None)["status"] == status
    with pytest.raises(ops.OpError, match="cannot move event from in_progress to verified"):
        ops.advance_event(engine, "e-test-2", "verified", None)
    # the refused transition left no trace
    out = ops.advance_event(engine, "e-test-2", "resolved", None)
    engine.dispose()
    assert [h["to_status"] for h in out["history"]] == [
        "returned", "reported", "escalated", "dispatched", "in_progress", "resolved"]


def test_task_push_validation(sqlite_db: str) -> None:
    fresh_db = sqlite_db
    grid = str(seed(fresh_db, 1, 0)["grids"][0]["id"])
    task = central_json(fresh_db, "task", "push", "--grid", grid, "--title", "防汛检查",
                        "--body", "检查危旧房屋", "--due", "2030-07-01")
    assert task["due"] == "2030-07-01" and task["grid_id"] == int(grid)
    for extra in (["--due", "next week"], ["--due", "2030-07-01T08:00"]):
        result = central(fresh_db, "task", "push", "--grid", grid, "--title", "t", "--body", "b",
                         *extra, check=False)
        assert result.returncode == 2 and "due" in result.stderr
    result = central(fresh_db, "task", "push", "--grid", "999", "--title", "t", "--body", "b",
                     check=False)
    assert result.returncode == 2 and "no grid" in result.stderr
    result = central(fresh_db, "task", "push", "--grid", grid, "--title", "  ", "--body", "b",
                     check=False)
    assert result.returncode == 2
    assert central_json(fresh_db, "stats")["tasks"] == 1


def test_enroll_prints_code_and_writes_qr(fresh_db: str, tmp_path: Path) -> None:
    worker = str(seed(fresh_db, 1, 0)["grids"][0]["workers"][0])
    qr = tmp_path / "code.png"
    out = central_json(fresh_db, "enroll", "--worker", worker, "--qr", str(qr),
                       "--server", "http://127.0.0.1:8765")
    assert len(out["code"]) == 14 and out["code"].count("-") == 2
    assert qr.read_bytes().startswith(b"\x89PNG")
    second = central_json(fresh_db, "enroll", "--worker", worker)
    assert second["code"] != out["code"]
    engine = db.make_engine(fresh_db)
    with engine.connect() as conn:  # only hashes are stored
        stored = {r[0] for r in conn.execute(select(db.enrollment_codes.c.code_hash))}
    engine.dispose()
    assert out["code"] not in stored and len(stored) == 2


def test_stats_counts_records(fresh_db: str) -> None:
    seed(fresh_db, 2, 10)
    stats = central_json(fresh_db, "stats")
    assert sum(stats["households"].values()) == 20
    assert stats["org_units"]["grid"] == 2 and stats["people"]["worker"] == 4
    assert stats["members"] >= 20 and sum(stats["events"].values()) == 4
    assert stats["devices"] == []
    text = central(fresh_db, "stats").stdout
    assert "households:" in text and "devices: 0" in text


def test_seeded_history_patrols_are_gathered_for_review(fresh_db: str) -> None:
    """The demo's months of patrols reach leaders and supervisors like pushed ones."""
    out = central_json(fresh_db, "seed-demo", "--grids", "2", "--households-per-grid", "20",
                       "--visit-months", "2")
    engine = db.make_engine(fresh_db)
    try:
        with engine.connect() as conn:
            reports = conn.execute(select(func.count()).select_from(db.records).where(
                db.records.c.kind == "patrol.report")).scalar()
            gathered = conn.execute(select(func.count()).select_from(db.patrols).where(
                db.patrols.c.finished.is_(True))).scalar()
    finally:
        engine.dispose()
    assert out["patrols"] > 0 and reports and gathered == reports


def test_seeded_visit_history_reads_like_real_work(fresh_db: str) -> None:
    """The demo's visits: each by a named worker of the grid, in working hours (China
    Standard Time; only the planted late entry at 22:30 for the review's night check),
    and a household's notes never contradict each other (one situation, then what was
    done this time)."""
    from datetime import datetime, timedelta, timezone

    from central.seed import VISIT_PROFILES

    out = central_json(fresh_db, "seed-demo", "--grids", "2", "--households-per-grid", "20",
                       "--visit-months", "6")
    people = {p["id"]: p["name"] for p in out["people"]}
    workers = {g["id"]: {people[w] for w in g["workers"]} for g in out["grids"]}
    cst = timezone(timedelta(hours=8))
    engine = db.make_engine(fresh_db)
    try:
        with engine.connect() as conn:
            payloads = [r[0] for r in conn.execute(select(db.records.c.payload).where(
                db.records.c.kind == "visit.create"))]
    finally:
        engine.dispose()
    assert len(payloads) > 50
    profiles: dict[str, set[str]] = {}
    for p in payloads:
        assert p["worker"] in workers[int(p["grid_id"])], p
        hour = datetime.fromtimestamp(p["visited_at"], cst).hour
        if p["situation"].startswith("晚上补记"):
            assert hour == 22
            continue
        assert 8 <= hour < 18, (hour, p["situation"])
        found = [v for v in VISIT_PROFILES if p["situation"].startswith(v)]
        if found:
            profiles.setdefault(p["household_id"], set()).add(found[0])
    assert profiles and all(len(v) == 1 for v in profiles.values())


def test_import_households_takes_known_positions(sqlite_db: str, tmp_path: Path) -> None:
    """纬度/经度 columns give households their known position (what the review's
    far-from-home check compares home visits with); bad positions are reported by
    line, a web map's GCJ-02 is converted with ``--crs gcj02``."""
    from sync.protocol import boundary

    grid = str(seed(sqlite_db, 1, 0)["grids"][0]["id"])
    roster = _write(tmp_path / "roster.csv", (
        "户主姓名,地址,纬度,经度\n"
        "王建国,勤勇村3组12号,29.95,121.58\n"
        "陈桂兰,勤勇村3组14号,,\n"                 # no position: stored without
        "赵强,勤勇村3组15号,29.95,\n"              # line 4: one of the two
        "孙芳,勤勇村3组16号,北纬30,121.5\n"        # line 5: not a number
        "周杰,勤勇村3组17号,95,121.5\n"            # line 6: out of range
        "吴敏,勤勇村3组18号,nan,121.5\n"           # line 7: not finite
    ), "utf-8")
    result = central(sqlite_db, "import-households", str(roster), "--grid", grid, "--json",
                     check=False)
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["imported"] == 2
    assert [e["line"] for e in summary["errors"]] == [4, 5, 6, 7]
    web = _write(tmp_path / "web.csv", "name,address,latitude,longitude\n"
                 "Li Lei,No. 5 Lane 2,29.9481,121.5848\n", "utf-8")
    assert central_json(sqlite_db, "import-households", str(web), "--grid", grid,
                        "--crs", "gcj02")["imported"] == 1
    engine = db.make_engine(sqlite_db)
    with engine.connect() as conn:
        got = {r.head_name: (r.lat, r.lon) for r in conn.execute(
            select(db.households.c.head_name, db.households.c.lat, db.households.c.lon))}
    engine.dispose()
    assert got["王建国"] == (29.95, 121.58)
    assert got["陈桂兰"] == (None, None)
    lat, lon = got["Li Lei"]
    assert (lat, lon) == pytest.approx(boundary.gcj02_to_wgs84(29.9481, 121.5848))
    assert abs(lat - 29.9481) + abs(lon - 121.5848) > 0.001  # really moved (~500 m)


def test_csv_on_standard_output_keeps_its_line_ends(sqlite_db: str) -> None:
    """The terminal-safe output (escape sequences shown as text) leaves a CSV's CRLF
    line ends as they are: a report piped into a file must stay a CSV."""
    out = subprocess.run([*CENTRAL, "--db", sqlite_db, "report", "--month", "2026-11",
                          "--format", "csv"], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(b"month,") and out.stdout.endswith(b"\r\n")
    assert b"\\x0d" not in out.stdout
