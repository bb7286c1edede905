"""A grid leader's device as it is after pulling two grids' work (visits, finished
patrols with tracks, devices): the Review page's tests and screenshots.

March 2026 (the clock stands at 20 March, 15:00 China time) and February. Grid 7: 张三
(a visit 1200 m from the household, a six-minute patrol, good otherwise) and 李四 (a
visit without a position, one at night); grid 8: 赵六 (clean). The leader (王网格长,
person 1) is enrolled over both grids.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fieldclient.fieldwork import reviews
from fieldclient.fieldwork.households import create_household
from fieldclient.storage.session import Session
from sync.protocol.review import CHINA
from sync.pulled_visits import save_pulled_visit

MONTH = "2026-03"
LEADER = 1
WORKERS = {"11": ("张三", "7"), "12": ("李四", "7"), "21": ("赵六", "8")}
HOMES = {  # id: (grid, head, address, category, lat, lon)
    "h7-0": ("7", "陈大爷", "南湖路1号", "hardship", 29.950, 121.580),
    "h7-1": ("7", "刘阿姨", "南湖路3号", "key", 29.952, 121.582),
    "h7-2": ("7", "周家", "南湖路5号", "ordinary", 29.954, 121.584),
    "h7-3": ("7", "吴奶奶", "南湖路7号", "hardship", 29.956, 121.586),
    "h8-0": ("8", "孙家", "北塘路2号", "hardship", 29.970, 121.600),
    "h8-1": ("8", "郑大伯", "北塘路4号", "key", 29.972, 121.602),
}


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=CHINA).timestamp()


NOW = at(20, 15)


def enroll(session: Session, role: str = "leader", person: int = LEADER,
           name: str = "王网格长", grids: tuple[str, ...] = ("7", "8")) -> None:
    with session.db.conn:
        for key, value in (("device_id", "dev-review"), ("server_url", "https://centre.test"),
                           ("person", json.dumps({"id": person, "name": name, "role": role})),
                           ("grids", json.dumps(list(grids)))):
            session.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                               (f"sync.{key}", value))


def north(lat: float, lon: float, metres: float) -> tuple[float, float]:
    return lat + metres / 111_195.0, lon


def _visit(vid: str, person: str, hid: str, when: float, pos: tuple[float, float] | None,
           text: str, **extra: Any) -> dict[str, Any]:
    grid = HOMES[hid][0]
    data = {"id": vid, "household_id": hid, "grid_id": grid, "person_id": int(person),
            "worker": WORKERS[person][0], "visit_type": extra.pop("visit_type", "home"),
            "visited_at": when, "situation": text, "people_met": "户主",
            "lat": pos[0] if pos else None, "lon": pos[1] if pos else None}
    data.update(extra)
    return data


def _track(lat: float, lon: float, start: float, minutes: int, points: int
           ) -> list[list[list[float]]]:
    step = minutes * 60 / max(1, points - 1)
    return [[[start + i * step, lat + i * 0.0002, lon + (i % 5) * 0.0002]
             for i in range(points)]]


def _patrol(pid: str, person: str, start: float, minutes: int, distance: float,
            points: int) -> dict[str, Any]:
    grid = WORKERS[person][1]
    home = next(h for h in HOMES.values() if h[0] == grid)
    return {"id": pid, "grid_id": grid, "person_id": int(person), "device_id": f"dev-{person}",
            "started_at": start, "finished_at": start + minutes * 60,
            "duration_s": minutes * 60, "distance_m": distance, "items_total": 28,
            "items_done": 28, "problems": 1, "track_points": points,
            "results": [{"id": f"{pid}-r1", "code": "P07", "result": "problem",
                         "note": "楼道堆放杂物", "photos": [], "recorded_at": start + 600}],
            "track": _track(home[4], home[5], start, minutes, points)}


def seed(session: Session, role: str = "leader") -> dict[str, str]:
    """The two grids' households, visits, patrols and devices (see the module doc);
    returns the households' ids by their names here (``h7-0``...)."""
    enroll(session, role)
    session.clock = lambda: at(5, 9, month=1)
    ids: dict[str, str] = {}
    for hid, (grid, head, address, category, lat, lon) in HOMES.items():
        ids[hid] = create_household(session, head, address, category=category, grid_id=grid)
        with session.db.conn:
            session.db.execute("UPDATE households SET lat = ?, lon = ? WHERE id = ?",
                               (lat, lon, ids[hid]))
    pos = {hid: (h[4], h[5]) for hid, h in HOMES.items()}
    visits = [
        # March: 张三
        _visit("v-z1", "11", "h7-0", at(2, 10), pos["h7-0"], "老人身体稳定，子女每周来看望。"),
        _visit("v-z2", "11", "h7-1", at(4, 10), pos["h7-1"], "按时服药，情绪平稳，无新情况。"),
        _visit("v-z3", "11", "h7-3", at(6, 10), north(*pos["h7-3"], 1200),
               "独居老人，取暖用电已检查。"),
        # March: 李四
        _visit("v-l1", "12", "h7-2", at(3, 15), None, "租户新近入住，已登记。"),
        _visit("v-l2", "12", "h7-0", at(9, 23, 10), pos["h7-0"], "夜里回访，家中无人应门。"),
        # March: 赵六
        _visit("v-s1", "21", "h8-0", at(2, 9), pos["h8-0"], "低保材料已送到，家中一切正常。"),
        _visit("v-s2", "21", "h8-1", at(5, 9), pos["h8-1"], "重点人员在家，情况稳定，已谈话。"),
        # February
        _visit("v-f1", "11", "h7-0", at(3, 10, month=2), pos["h7-0"], "二月回访，身体尚好。"),
        _visit("v-f2", "12", "h7-1", at(4, 10, month=2), pos["h7-1"], "二月走访，按时服药。"),
        _visit("v-f3", "21", "h8-0", at(5, 10, month=2), pos["h8-0"], "二月送温暖，家中正常。"),
    ]
    patrols = [
        _patrol("p-z1", "11", at(2, 8), 70, 2600, 120),
        _patrol("p-z2", "11", at(3, 8), 6, 400, 20),  # minutes long
        _patrol("p-z3", "11", at(4, 8), 65, 2400, 110),
        _patrol("p-l1", "12", at(2, 8), 55, 2100, 90),
        _patrol("p-s1", "21", at(2, 8), 60, 2500, 100),
        _patrol("p-s2", "21", at(3, 8), 62, 2700, 100),
        _patrol("p-s3", "21", at(4, 8), 58, 2300, 100),
        _patrol("p-f1", "11", at(6, 8, month=2), 60, 2000, 100),
    ]
    devices = [{"id": f"dev-{p}", "person_id": int(p), "person_name": name, "role": "worker",
                "grid_ids": [grid], "name": "平板", "status": "active",
                "enrolled_at": "2026-01-02T09:00:00+08:00",
                "last_contact": f"2026-03-{19 - i:02d}T18:00:00+08:00"}
               for i, (p, (name, grid)) in enumerate(WORKERS.items())]
    with session.db.conn:
        for data in visits:
            save_pulled_visit(session.db, {**data, "household_id": ids[data["household_id"]]},
                              NOW)
        for seq, data in enumerate(patrols, 1):
            reviews.save_pulled_patrol(session, data, seq)
        for seq, data in enumerate(devices, 1):
            reviews.save_pulled_device(session, data, seq)
    session.clock = lambda: NOW
    return ids
