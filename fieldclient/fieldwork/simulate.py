"""Synthetic field work for training and load tests (``fieldclient simulate``).

Every record made here carries ``"training": true`` in its synced payload (and the
audit log says ``simulated``), so the centre can tell it from real work. Visits, event
reports and photos are real rows made by the same functions as real ones (the device
lists them as the centre does, marked 培训数据); patrols go through
:mod:`fieldclient.fieldwork.patrols` itself.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import asdict, dataclass

from fieldclient.security import audit
from fieldclient.storage.session import Session

EVENT_SAMPLES = (
    ("矛盾纠纷", "邻里因楼道堆放杂物发生争执，需要调解"),
    ("治安隐患", "小区东门路灯损坏，夜间照明不足"),
    ("消防安全", "楼道内电动自行车充电，存在火灾隐患"),
    ("市容环卫", "垃圾收集点满溢，周边有异味"),
    ("违法建设", "村民在自家院内搭建彩钢棚，疑似未审批"),
    ("公共设施", "健身器材螺丝松动，存在安全隐患"),
    ("道路交通", "路口标线磨损，车辆乱停放"),
    ("环境保护", "河道内发现漂浮垃圾"),
)
SITUATIONS = (
    "家中老人身体状况稳定，子女每周探望",
    "住户反映楼上漏水，已联系物业",
    "独居老人需要定期上门关心",
    "租户新近入住，已登记流动人口信息",
    "家庭经济困难，咨询低保申请流程",
)
VILLAGE_ADDRESSES = ("宁波市江北区庄市街道培训村{n}组{m}号",)
NAMES = ("张", "王", "李", "赵", "陈", "刘", "杨", "黄", "周", "吴")
GIVEN = ("建国", "秀英", "桂兰", "志强", "海燕", "国华", "丽娟", "伟", "芳", "军")


@dataclass
class SimulationResult:
    households: int = 0
    visits: int = 0
    patrols: int = 0
    photos: int = 0
    events: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _grid(session: Session) -> str | None:
    row = session.db.execute("SELECT value FROM meta WHERE key = 'sync.grids'").fetchone()
    grids = json.loads(row[0]) if row else []
    return str(grids[0]) if grids else None


def _grid_name(session: Session, grid: str | None) -> str | None:
    from fieldclient.fieldwork.enrollment import grid_names

    return None if grid is None else grid_names(session).get(grid) or f"网格{grid}"


def _jpeg(rng: random.Random) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (320, 240), tuple(rng.randrange(256) for _ in range(3)))
    pixels = image.load()
    assert pixels is not None
    for _ in range(400):  # some texture, so each photo has its own bytes
        pixels[rng.randrange(320), rng.randrange(240)] = (
            rng.randrange(256), rng.randrange(256), rng.randrange(256))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def simulate(
    session: Session,
    visits: int = 0,
    patrols: int = 0,
    photos: int = 0,
    events: int = 0,
    seed: int | None = None,
) -> SimulationResult:
    """Make synthetic work on this device (marked as training data)."""
    from fieldclient.fieldwork.households import create_household
    from fieldclient.fieldwork.visits import VISIT_TYPES, record_visit

    rng = random.Random(seed)
    grid = _grid(session)
    result = SimulationResult()
    households = [r[0] for r in session.db.execute("SELECT id FROM households").fetchall()]
    if visits and not households:
        for i in range(min(10, visits)):
            households.append(create_household(
                session, rng.choice(NAMES) + rng.choice(GIVEN),
                VILLAGE_ADDRESSES[0].format(n=1 + i % 5, m=rng.randint(1, 200)),
                tags=["培训数据"], grid_id=grid,
            ))
            result.households += 1
    for _ in range(visits):  # real visit rows, marked training (they count for no quota)
        record_visit(
            session, rng.choice(households), visit_type=rng.choice(VISIT_TYPES),
            people_met=f"户主等{rng.randint(1, 4)}人", situation=rng.choice(SITUATIONS),
            training=True,
        )
        result.visits += 1
    from fieldclient.fieldwork.events import report_event
    from fieldclient.photos.pipeline import add_photo

    for _ in range(events):  # real event rows, marked training: listed like the centre's
        category, description = rng.choice(EVENT_SAMPLES)
        report_event(session, category=category, description=description, grid_id=grid,
                     training=True)
        result.events += 1
    with session.db.conn:
        session.audit.append(audit.RECORD_CREATED, {
            "kind": "simulated", "visits": visits, "events": events, "training": True})
    for _ in range(photos):  # through the photo pipeline, marked training
        add_photo(session, _jpeg(rng), grid_id=grid, grid_name=_grid_name(session, grid),
                  worker="培训数据", training=True, allow_duplicate=True)
        result.photos += 1
    for _ in range(patrols):
        _simulate_patrol(session, grid or "0", rng)
        result.patrols += 1
    return result


def _simulate_patrol(session: Session, grid: str, rng: random.Random) -> None:
    from fieldclient.fieldwork import patrols as p

    patrol = p.start_patrol(session, grid, worker_id="training")
    for code in patrol.items:
        result = p.ItemResult.NOT_APPLICABLE if rng.random() < 0.2 else p.ItemResult.NORMAL
        p.record_item(session, patrol.id, code, result, note="培训数据")
    p.finish_patrol(session, patrol.id, allow_incomplete=True)
