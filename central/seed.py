"""``central seed-demo``: a realistic, deterministic demo district.

宁波市 → 江北区 → 庄市街道 → villages and communities → grids, each grid with two grid
workers (网格员) and a grid leader (网格长); one supervisor (网格指导员) over all the
grids and one IT administrator (信息管理员). Households have Chinese names, addresses,
members with checksum-valid ID numbers, categories (about 80% ordinary, 12% hardship,
8% key) and tags; each grid gets a few events somewhere along the closed loop.
The same seed on a fresh database gives the same output, ids included.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from central import cnid, db
from central.ops import record_transition

NAMESPACE = uuid.UUID("6f1c3a52-7d1e-4f0a-9a55-2b8e0c9d4e11")
TOWN_CENTRE = (29.955, 121.585)  # 庄市街道, Ningbo (WGS-84): where demo grids lie
AREA_CODE = "330205"  # 江北区

VILLAGES = (
    "勤勇村", "永旺村", "兴庄村", "光明村", "民和村", "联丰村", "新星村",
    "庄市村", "钟包村", "西经堂村", "同心社区", "万科社区", "锦绣社区", "平和社区",
)
SURNAMES = (
    "王王王李李李张张张刘刘陈陈陈杨黄赵吴周周徐孙马朱胡胡郭何林罗高"
    "应应俞俞邬戴虞毛孔沈沈蒋方叶叶翁董包邵"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华慧建国国平志刚桂兰玉梅海燕"
    "春花晓东红霞金凤文彬佳怡子涵浩然宇轩欣怡梓萱雨桐亚萍立新建华永康雪琴"
)
RELATIONS = ("配偶", "子女", "子女", "子女", "父亲", "母亲", "孙子女", "儿媳", "女婿")
HARDSHIP_TAGS = ("低保户", "低保边缘户", "残疾人家庭", "独居老人", "留守儿童", "因病致贫")
KEY_TAGS = (
    "社区矫正人员", "刑满释放人员", "吸毒人员", "易肇事肇祸精神障碍患者",
    "重点青少年", "信访重点人员",
)
ORDINARY_TAGS = ("出租房屋", "党员户", "新居民", "高龄老人")
COMPOUNDS = ("庄市花园", "万科城", "锦绣小区", "平和家园", "同心苑")
EVENT_SAMPLES = (
    ("矛盾纠纷", "两户村民因宅基地边界发生争执，需调解。"),
    ("消防安全", "出租房楼道堆放杂物，消防通道堵塞。"),
    ("市容环卫", "村道旁垃圾堆积，未及时清运。"),
    ("环境保护", "田间发现露天焚烧秸秆。"),
    ("公共设施", "路灯损坏，夜间通行不便。"),
    ("违法建设", "村民在自家院内搭建违章棚屋。"),
    ("道路交通", "村口路面塌陷，存在安全隐患。"),
    ("民政救助", "独居老人反映生活困难，需申请救助。"),
    ("流动人口", "出租房新入住人员未登记。"),
    ("安全生产", "小作坊电线私拉乱接。"),
)
LOOP = ("reported", "accepted", "dispatched", "in_progress", "resolved", "verified", "closed")


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def person(self) -> str:
        given = self.rng.choice(GIVEN)
        if self.rng.random() < 0.6:
            given += self.rng.choice(GIVEN)
        return self.rng.choice(SURNAMES) + given

    def phone(self) -> str:
        return self.rng.choice(("13", "15", "18", "17")) + "".join(
            str(self.rng.randrange(10)) for _ in range(9)
        )

    def id_number(self, min_age: int, max_age: int) -> str:
        age_days = self.rng.randrange(min_age * 365, max_age * 365)
        birth = date(2020, 1, 1) - timedelta(days=age_days)
        return cnid.make_id_number(AREA_CODE, birth, self.rng.randrange(1000))


def _unit(conn: Connection, parent_id: int | None, level: str, name: str) -> int:
    """Reuse the org unit with this parent, level and name, or create it."""
    ou = db.org_units
    query = select(ou.c.id).where(ou.c.level == level, ou.c.name == name)
    query = query.where(
        ou.c.parent_id.is_(None) if parent_id is None else ou.c.parent_id == parent_id
    )
    existing = conn.execute(query).scalar()
    if existing is not None:
        return int(existing)
    result = conn.execute(insert(db.org_units).values(parent_id=parent_id, level=level, name=name))
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def _person(conn: Connection, name: str, role: str, phone: str) -> int:
    result = conn.execute(insert(db.people).values(name=name, role=role, phone=phone))
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def seed_demo(
    engine: Engine, grids: int, households_per_grid: int, seed: int, visit_months: int = 0,
    now: float | None = None,
) -> dict[str, Any]:
    """``visit_months``: also a history of visits by the grid's workers over that many
    months before ``now`` (as if pushed by their devices), so a demo device's Today page
    and household histories look like a grid in use."""
    if grids < 1 or grids > 5000:
        raise ValueError("--grids must be between 1 and 5000")
    if households_per_grid < 0 or households_per_grid > 100_000:
        raise ValueError("--households-per-grid must be between 0 and 100000")
    if visit_months < 0 or visit_months > 36:
        raise ValueError("--visit-months must be between 0 and 36")
    rng = random.Random(seed)
    visit_rng = random.Random(seed + 1)  # its own stream: households stay the same
    place_rng = random.Random(seed + 2)  # where households live (the review's checks)
    moment = time.time() if now is None else now
    names = _Names(rng)
    n_villages = min(len(VILLAGES), max(1, -(-grids // 4)))
    out: dict[str, Any] = {"seed": seed, "villages": [], "grids": [], "people": []}
    with engine.begin() as conn:
        if conn.execute(select(db.org_units.c.id).where(
            db.org_units.c.level == "town", db.org_units.c.name == "庄市街道"
        )).first() is not None:
            raise ValueError("this database already has the demo district 庄市街道; "
                             "seed-demo needs a fresh database")
        city = _unit(conn, None, "city", "宁波市")
        county = _unit(conn, city, "county", "江北区")
        town = _unit(conn, county, "town", "庄市街道")
        out["town"] = {"id": town, "name": "庄市街道", "county_id": county, "city_id": city}
        village_ids = []
        for v in range(n_villages):
            vid = _unit(conn, town, "village", VILLAGES[v])
            village_ids.append(vid)
            out["villages"].append({"id": vid, "name": VILLAGES[v]})
        supervisor = _person(conn, names.person(), "supervisor", names.phone())
        it_admin = _person(conn, names.person(), "it_admin", names.phone())
        per_village: dict[int, int] = {}
        grid_ids: list[int] = []
        total_households = 0
        for g in range(grids):
            v = g % n_villages
            per_village[v] = per_village.get(v, 0) + 1
            village = VILLAGES[v]
            grid_name = f"{village}第{per_village[v]}网格"
            gid = _unit(conn, village_ids[v], "grid", grid_name)
            grid_ids.append(gid)
            leader = _person(conn, names.person(), "leader", names.phone())
            worker_names = [names.person() for _ in range(2)]
            workers = [_person(conn, name, "worker", names.phone()) for name in worker_names]
            named = dict(zip(workers, worker_names, strict=True))
            conn.execute(
                insert(db.grid_assignments),
                [{"person_id": p, "grid_id": gid} for p in (leader, *workers, supervisor)],
            )
            hh_rows: list[dict[str, Any]] = []
            member_rows: list[dict[str, Any]] = []
            # the grid about 1 km square, east of the town's centre, grids in a row
            centre_lat = TOWN_CENTRE[0] + (g // 10) * 0.012
            centre_lon = TOWN_CENTRE[1] + (g % 10) * 0.012
            categories = {"ordinary": 0, "hardship": 0, "key": 0}
            for h in range(households_per_grid):
                hid = str(uuid.uuid5(NAMESPACE, f"household/{town}/{seed}/{g}/{h}"))
                head = names.person()
                roll = rng.random()
                category = "ordinary" if roll < 0.80 else "hardship" if roll < 0.92 else "key"
                categories[category] += 1
                if category == "hardship":
                    tags = [rng.choice(HARDSHIP_TAGS)]
                elif category == "key":
                    tags = [rng.choice(KEY_TAGS)]
                else:
                    tags = [rng.choice(ORDINARY_TAGS)] if rng.random() < 0.15 else []
                if village.endswith("社区"):
                    address = (
                        f"宁波市江北区庄市街道{rng.choice(COMPOUNDS)}{rng.randint(1, 30)}幢"
                        f"{rng.randint(1, 4)}单元{rng.randint(1, 18)}0{rng.randint(1, 4)}室"
                    )
                else:
                    address = (
                        f"宁波市江北区庄市街道{village}{per_village[v]}组{rng.randint(1, 200)}号"
                    )
                tenant = rng.random() < 0.10
                residence = "tenant" if tenant else "registered"
                head_id = names.id_number(25, 85)
                phone = names.phone()
                hh_rows.append({
                    "id": hid, "grid_id": gid, "head_name": head, "address": address,
                    "category": category, "phone": phone, "id_number": head_id,
                    "tags": tags, "version": 1, "updated_seq": 0,
                    "lat": round(centre_lat + place_rng.uniform(-0.004, 0.004), 6),
                    "lon": round(centre_lon + place_rng.uniform(-0.004, 0.004), 6),
                })
                family: list[tuple[str, str, str, str | None]] = [(head, "户主", head_id, phone)]
                for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
                    relation = rng.choice(RELATIONS)
                    young = relation in ("子女", "孙子女")
                    family.append((
                        head[0] + names.person()[1:] if young else names.person(),
                        relation,
                        names.id_number(1, 40) if young else names.id_number(20, 90),
                        names.phone() if rng.random() < 0.5 else None,
                    ))
                for m, (mname, relation, mid, mphone) in enumerate(family):
                    member_residence = residence
                    if tenant and m > 0 and rng.random() < 0.5:
                        member_residence = "floating"
                    member_rows.append({
                        "id": str(uuid.uuid5(NAMESPACE, f"member/{hid}/{m}")),
                        "household_id": hid, "name": mname, "relation": relation,
                        "id_number": mid, "phone": mphone, "residence": member_residence,
                    })
            if hh_rows:
                last = db.next_seq(conn, len(hh_rows))
                for i, row in enumerate(hh_rows):
                    row["updated_seq"] = last - len(hh_rows) + 1 + i
                conn.execute(insert(db.households), hh_rows)
                conn.execute(insert(db.members), member_rows)
            total_households += len(hh_rows)
            if visit_months and hh_rows:
                out.setdefault("visits", 0)
                out["visits"] += _seed_visits(conn, visit_rng, hh_rows, gid, named,
                                              visit_months, moment)
                out.setdefault("patrols", 0)
                out["patrols"] += _seed_patrols(conn, visit_rng, gid, workers, visit_months,
                                                moment)
                out.setdefault("planted", 0)
                out["planted"] += _seed_review_cases(conn, hh_rows, gid, named, moment)
            event_ids = _seed_events(conn, rng, town, seed, g, gid, workers)
            out["grids"].append({
                "id": gid, "name": grid_name, "village": village, "village_id": village_ids[v],
                "leader": leader, "workers": workers, "households": len(hh_rows),
                "categories": categories, "events": event_ids,
            })
        people_rows = conn.execute(
            select(db.people).where(db.people.c.id >= supervisor).order_by(db.people.c.id)
        ).mappings()
        assigned: dict[int, list[int]] = {}
        for a in conn.execute(
            select(db.grid_assignments)
            .where(db.grid_assignments.c.grid_id.in_(grid_ids))
            .order_by(db.grid_assignments.c.grid_id)
        ).mappings():
            assigned.setdefault(int(a["person_id"]), []).append(int(a["grid_id"]))
        for p in people_rows:
            out["people"].append({
                "id": p["id"], "name": p["name"], "role": p["role"], "phone": p["phone"],
                "grids": assigned.get(int(p["id"]), []),
            })
        out["supervisor"] = supervisor
        out["it_admin"] = it_admin
        out["households"] = total_households
    return out


# A household's situation stays the same from visit to visit (one profile each, picked
# once); each visit adds what was done this time. Random notes per visit read as
# contradictions ("老人独居" one month, "租户已登记" the next).
VISIT_PROFILES = (
    "家中情况稳定，身体尚可。", "老人独居，子女每周探望。", "家庭收入较低，享受低保。",
    "有租户，已登记。", "邻里关系和睦，无矛盾纠纷。", "老人行动不便，由老伴照顾。",
)
VISIT_UPDATES = (
    "本次无新情况。", "已提醒用电安全。", "已宣传防诈骗知识。", "反映村道路灯不亮，已记录。",
    "已告知救助政策。", "已提醒冬季取暖安全。",
)


def _seed_visits(
    conn: Connection, rng: random.Random, households: list[dict[str, Any]], grid_id: int,
    workers: dict[int, str], months: int, now: float,
) -> int:
    """Visits as the workers' devices would have pushed them: hardship and key households
    about monthly, ordinary ones about twice a year, one in four missed; in working
    hours (China Standard Time), by a named worker, each household's notes consistent."""
    rows: list[dict[str, Any]] = []
    start = now - months * 30.5 * 86400
    for hh in households:
        profile = rng.choice(VISIT_PROFILES)
        every = 30.5 if hh["category"] != "ordinary" else 182.0
        t = start + rng.random() * every * 86400
        while t < now - 3600:
            if rng.random() < 0.75:
                # working hours, China Standard Time (the night check stays quiet)
                day = int((t + 8 * 3600) // 86400) * 86400 - 8 * 3600
                t = day + (8.5 + rng.random() * 9) * 3600
                visit_type = rng.choice(("home", "home", "home", "phone", "revisit"))
                on_site = visit_type != "phone"
                worker = rng.choice(list(workers))
                rows.append(_visit_row(
                    hh, grid_id, worker, t, visit_type,
                    f"{profile}{rng.choice(VISIT_UPDATES)}",
                    (hh["lat"] + rng.uniform(-0.0002, 0.0002),
                     hh["lon"] + rng.uniform(-0.0002, 0.0002)) if on_site else None,
                    worker_name=workers[worker]))
            t += every * 86400 * (0.8 + rng.random() * 0.4)
    rows.sort(key=lambda r: r["payload"]["visited_at"])
    _insert_records(conn, rows)
    return len(rows)


def _visit_row(
    hh: dict[str, Any], grid_id: int, worker: int, t: float, visit_type: str, text: str,
    position: tuple[float, float] | None, photos: list[str] | None = None,
    worker_name: str | None = None,
) -> dict[str, Any]:
    """A ``visit.create`` record as a worker's device pushes it."""
    visit_id = str(uuid.uuid5(NAMESPACE, f"visit/{hh['id']}/{int(t)}"))
    payload = {
        "id": visit_id, "household_id": hh["id"], "grid_id": str(grid_id),
        "visit_type": visit_type, "visited_at": round(t, 3), "tz_offset_minutes": 480,
        "people_met": hh["head_name"], "situation": text,
        "needs": "", "follow_up": "", "follow_up_due": None,
        "photos": json.dumps(photos or []),
        "lat": None if position is None else round(position[0], 6),
        "lon": None if position is None else round(position[1], 6),
        "accuracy_m": None if position is None else 8.0, "corrects": None,
        "worker": worker_name, "device_id": "demo-history", "training": 0,
    }
    return _record("visit.create", visit_id, grid_id, worker, payload, t)


def _record(kind: str, record_id: str, grid_id: int, person: int, payload: dict[str, Any],
            t: float) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(
        payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")).hexdigest()
    return {"kind": kind, "id": record_id, "grid_id": grid_id, "device_id": "demo-history",
            "person_id": person, "content_hash": digest, "payload": payload, "seq": 0,
            "received_at": db.iso(datetime.fromtimestamp(t, UTC))}


def _insert_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Store history records as the push path would: patrols also gathered for review
    (what leaders and supervisors pull, central.reviews)."""
    if rows:
        from central import reviews

        last = db.next_seq(conn, len(rows))
        for i, row in enumerate(rows):
            row["seq"] = last - len(rows) + 1 + i
        conn.execute(insert(db.records), rows)
        reviews.note_patrol_records(conn, [r for r in rows if r["kind"] in reviews.PATROL_KINDS])


def _patrol_row(grid_id: int, worker: int, started: float, minutes: float, distance: float,
                points: int) -> dict[str, Any]:
    patrol_id = str(uuid.uuid5(NAMESPACE, f"patrol/{grid_id}/{worker}/{int(started)}"))
    payload = {
        "id": patrol_id, "patrol_id": patrol_id, "grid_id": str(grid_id),
        "checklist_version": 1, "items_total": 28, "items_done": 28, "problems": 0,
        "normal": 26, "not_applicable": 2, "distance_m": round(distance, 1),
        "duration_s": round(minutes * 60, 1), "started_at": round(started, 3),
        "finished_at": round(started + minutes * 60, 3), "track_points": points,
        "device_id": "demo-history", "worker_id": str(worker), "results": [], "tracks": [],
        "photos": [], "incomplete": [],
    }
    return _record("patrol.report", patrol_id, grid_id, worker, payload,
                   started + minutes * 60)


def _seed_patrols(
    conn: Connection, rng: random.Random, grid_id: int, workers: list[int], months: int,
    now: float,
) -> int:
    """Each worker's daily patrol of the grid on most days (about 9 in 10)."""
    rows = []
    first = int((now - months * 30.5 * 86400 + 8 * 3600) // 86400)
    last = int((now + 8 * 3600) // 86400)
    for worker in workers:
        for day in range(first, last):
            if rng.random() < 0.9:
                started = day * 86400 - 8 * 3600 + (8 + rng.random() * 6) * 3600
                rows.append(_patrol_row(grid_id, worker, started, 40 + rng.random() * 80,
                                        1500 + rng.random() * 3000, rng.randint(80, 400)))
    _insert_records(conn, rows)
    return len(rows)


def _seed_review_cases(
    conn: Connection, households: list[dict[str, Any]], grid_id: int, workers: dict[int, str],
    now: float,
) -> int:
    """In the month before ``now``'s, visits and patrols of the grid's first worker that
    trip each of the review's checks (sync/protocol/review.py), so the Review page and
    ``central report`` have something to show: far from home, no position, minutes apart
    far away, the same photo twice, the same text pasted, at night; a patrol of minutes
    and one with almost no track."""
    if len(households) < 4:
        return 0
    worker = next(iter(workers))
    name = workers[worker]
    local = datetime.fromtimestamp(now + 8 * 3600, UTC)
    first_of_month = datetime(local.year, local.month, 1, tzinfo=UTC).timestamp() - 8 * 3600
    base = first_of_month - 20 * 86400 + 10 * 3600  # the 10th-ish of last month, 10:00 CST
    a, b, c, d = households[:4]

    def at(house: dict[str, Any], metres_north: float = 0.0) -> tuple[float, float]:
        return house["lat"] + metres_north / 111_195.0, house["lon"]

    sha = hashlib.sha256(f"demo-photo/{grid_id}".encode()).hexdigest()
    photo_ids = [str(uuid.uuid5(NAMESPACE, f"photo/{grid_id}/{i}")) for i in range(2)]
    pasted = "入户走访，家中一切正常，老人身体健康，无困难诉求，已宣传防诈骗知识。"
    def visit(*args: Any, **options: Any) -> dict[str, Any]:
        return _visit_row(*args, worker_name=name, **options)

    rows = [
        visit(a, grid_id, worker, base, "home", "在村委会登记的走访。", at(a, 1500)),
        visit(b, grid_id, worker, base + 86400, "home", "没有开定位的走访。", None),
        visit(c, grid_id, worker, base + 2 * 86400, "home", "第一户，情况稳定。", at(c)),
        visit(d, grid_id, worker, base + 2 * 86400 + 300, "home", "五分钟后另一户。",
                   (c["lat"] + 0.02, c["lon"])),
        visit(a, grid_id, worker, base + 3 * 86400, "home", pasted, at(a),
                   photos=[photo_ids[0]]),
        visit(b, grid_id, worker, base + 4 * 86400, "home", pasted, at(b),
                   photos=[photo_ids[1]]),
        visit(c, grid_id, worker, base + 5 * 86400 + 12.5 * 3600, "home",
                   "晚上补记白天的走访：家中情况稳定。", at(c)),
        _patrol_row(grid_id, worker, base + 6 * 86400, 4, 300, 12),
        _patrol_row(grid_id, worker, base + 7 * 86400, 45, 20, 2),
    ]
    for photo_id in photo_ids:
        rows.append(_record("photo.meta", photo_id, grid_id, worker, {
            "id": photo_id, "sha256": sha, "captured_at": base, "device_id": "demo-history",
            "width": 1600, "height": 1200, "bytes": 250_000}, base))
    _insert_records(conn, rows)
    return len(rows) - len(photo_ids)


def _seed_events(
    conn: Connection, rng: random.Random, town: int, seed: int, g: int, gid: int,
    workers: list[int],
) -> list[dict[str, str]]:
    created = []
    now = db.now_utc()
    for e in range(2):
        eid = str(uuid.uuid5(NAMESPACE, f"event/{town}/{seed}/{g}/{e}"))
        category, description = rng.choice(EVENT_SAMPLES)
        stop = rng.randrange(len(LOOP))
        reporter = rng.choice(workers)
        start = now - timedelta(hours=rng.randint(stop + 2, 72))
        at = [db.iso(start + timedelta(hours=i)) for i in range(stop + 1)]
        conn.execute(insert(db.events).values(
            id=eid, grid_id=gid, reporter_id=reporter, category=category,
            description=description, status=LOOP[stop], created_at=at[0], updated_at=at[-1],
            updated_seq=db.next_seq(conn),
        ))
        record_transition(conn, eid, None, "reported", None, f"person:{reporter}", at[0])
        for i in range(1, stop + 1):
            actor = f"person:{reporter}" if LOOP[i] == "verified" else "command_centre"
            record_transition(conn, eid, LOOP[i - 1], LOOP[i], None, actor, at[i])
        created.append({"id": eid, "status": LOOP[stop]})
    return created
