"""The same-photo check on a reviewer's device sees the workers' photos: two workers'
devices take photos through the real pipeline and sync through a real ``central
serve``; the centre sends every pulled visit and patrol with the SHA-256 of its photos
(``photo_sha256``, from their ``photo.meta`` records) to the leader's and the
supervisor's devices (not to a worker's), which keep them, and their Review figures
flag a photo used in several records, with its reason, exactly as ``central report``
does; a worker who used each photo once is not flagged."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sync_helpers import LiveServer, new_grid

from central import db, report
from fieldclient.fieldwork import patrols, review, visits
from fieldclient.geo.geometry import Fix
from fieldclient.photos.pipeline import add_photo
from sync.protocol.review import CHINA

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "photos"))
from photo_helpers import jpeg_bytes, scene

MONTH = "2026-03"


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 3, day, hour, minute, tzinfo=CHINA).timestamp()


def add_households(live: LiveServer, grid: int) -> list[tuple[str, float, float]]:
    rows = [(f"ph-{grid}-{i}", 29.95 + i * 0.001, 121.58) for i in range(4)]
    with live.engine.begin() as conn:
        for hid, lat, lon in rows:
            conn.execute(insert(db.households).values(
                id=hid, grid_id=grid, head_name=f"户主{hid[-1]}", address=f"照片路{hid[-1]}号",
                category="ordinary", tags=[], version=1, updated_seq=db.next_seq(conn),
                registered_at=datetime(2026, 1, 5, tzinfo=CHINA).timestamp(), lat=lat, lon=lon))
    return rows


def add_supervisor(live: LiveServer, grid: int) -> int:
    with live.engine.begin() as conn:
        person = conn.execute(insert(db.people).values(
            name="赵指导员", role="supervisor")).inserted_primary_key[0]
        conn.execute(insert(db.grid_assignments).values(person_id=person, grid_id=grid))
    return int(person)


class Worker:
    """A worker's device doing the month's work at given times."""

    def __init__(self, dev: Any, grid: int, homes: list[tuple[str, float, float]]) -> None:
        self.dev, self.grid, self.homes = dev, grid, homes

    def at(self, t: float) -> None:
        self.dev.session.clock = lambda: t

    def photo(self, seed: int) -> str:
        return add_photo(self.dev.session, jpeg_bytes(scene(320, 240, seed=seed)),
                         grid_id=str(self.grid), worker="网格员").id

    def visit(self, t: float, home: int, photos: list[str], text: str) -> str:
        self.at(t)
        _hid, lat, lon = self.homes[home]
        return visits.record_visit(self.dev.session, self.homes[home][0], visit_type="home",
                                   situation=text, photos=photos, position=Fix(t, lat, lon))

    def patrol(self, t: float, photo: str) -> str:
        self.at(t)
        patrol = patrols.start_patrol(self.dev.session, str(self.grid))
        code = patrol.checklist.items[0].code
        patrols.record_item(self.dev.session, patrol.id, code, "normal", photos=[photo])
        self.at(t + 3600)
        patrols.finish_patrol(self.dev.session, patrol.id, allow_incomplete=True)
        return patrol.id


def same_photo(figures: dict[str, Any], person: int) -> list[dict[str, Any]]:
    worker = next(w for w in figures["workers"] if w["person_id"] == str(person))
    return [f for f in worker["flags"] if f["check"] == "same_photo"]


def test_a_photo_used_twice_is_flagged_on_the_reviewers_devices(
        live: LiveServer, make_device: Any) -> None:
    grid = new_grid(live.engine)
    gid = grid["id"]
    homes = add_households(live, gid)
    sup_id = add_supervisor(live, gid)
    a = Worker(make_device(live, grid["workers"][0], "a"), gid, homes)
    b = Worker(make_device(live, grid["workers"][1], "b"), gid, homes)
    assert a.dev.engine.run_once().ok and b.dev.engine.run_once().ok

    # worker a: one photo in two visits, a patrol's photo again in a visit
    a.at(at(2, 9))
    reused = a.photo(1)
    first = a.visit(at(2, 10), 0, [reused], "第一户，老人在家。")
    again = a.visit(at(4, 10), 1, [reused], "第二户，家中无人。")
    a.at(at(6, 7))
    evidence = a.photo(2)
    patrol = a.patrol(at(6, 8), evidence)
    after_patrol = a.visit(at(7, 10), 2, [evidence], "第三户，门口路灯坏了。")
    # worker b: every photo used once (the clean case)
    for day, (home, seed) in enumerate(((0, 3), (3, 4)), start=3):
        b.at(at(day, 9))
        b.visit(at(day, 10), home, [b.photo(seed)], f"李四第{day}天的走访。")
    b.at(at(8, 7))
    b.patrol(at(8, 8), b.photo(5))
    for w in (a, b):
        w.dev.session.clock = time.time
        assert w.dev.engine.run_once().ok
    # b pulled a's visits, without the hashes: a worker's device reviews nobody
    assert b.dev.session.db.execute(
        "SELECT count(*) FROM visits WHERE person_id = ?", (grid["workers"][0],)
    ).fetchone()[0] == 3
    assert b.dev.session.db.execute("SELECT count(*) FROM photo_hashes").fetchone()[0] == 0

    now = time.time()
    centre = report.month_report(live.engine, MONTH, now, str(gid))
    want = same_photo(centre, grid["workers"][0])
    assert {(f["record_id"], f["detail"]["first"]) for f in want} == {
        (again, first), (after_patrol, patrol)}
    assert want[0]["reason"].startswith("同一张照片已用于记录")
    assert same_photo(centre, grid["workers"][1]) == []

    leader = make_device(live, grid["leader"], "leader")
    supervisor = make_device(live, sup_id, "sup")
    for reviewer in (leader, supervisor):
        assert reviewer.engine.run_once().ok
        # the reviewer holds none of these photos: only the hashes the centre sent
        assert reviewer.session.db.execute("SELECT count(*) FROM photos").fetchone()[0] == 0
        assert reviewer.session.db.execute(
            "SELECT count(*) FROM photo_hashes").fetchone()[0] == 4  # a's two, b's two
        got = review.month_figures(reviewer.session, MONTH, str(gid), now=now)
        mine = same_photo(got, grid["workers"][0])
        assert mine == want  # flag, record, reason and detail as at the centre
        assert review.flag_reason(mine[0], "zh") == want[0]["reason"]
        assert same_photo(got, grid["workers"][1]) == []
        for person in grid["workers"]:  # every check agrees for these records
            worker = next(w for w in got["workers"] if w["person_id"] == str(person))
            there = next(w for w in centre["workers"] if w["person_id"] == str(person))
            assert worker["flags"] == there["flags"], person
