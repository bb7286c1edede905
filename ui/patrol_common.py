"""Facts the Patrol and Today pages share: the worker's grids, names, plain numbers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

log = logging.getLogger("gridfield.ui")
MAX_LOCAL_GRIDS = 12



@dataclass(frozen=True)
class WorkerGrids:
    grids: list[str]
    enrolled: bool  # True: the centre assigned these; False: only grids seen on this device
    worker_name: str | None = None
    worker_id: str | None = None


def worker_grids(session: Session) -> WorkerGrids:
    """The grids the worker patrols.

    Enrolled devices: the grids the centre assigned. Otherwise the device knows
    no assignment; it offers the grids already used on this device (patrols,
    households), newest first, and the worker may type another.
    """
    try:
        from sync.engine import enrollment

        info = enrollment(session)
    except Exception:  # the sync engine missing or its tables not there: not enrolled
        log.debug("no enrollment information", exc_info=True)
        info = None
    if info is not None:
        return WorkerGrids([str(g) for g in info.grids], True, info.person_name or None,
                           str(info.person_id) if info.person_id else None)
    seen: list[str] = []
    rows = session.db.execute(
        "SELECT grid_id FROM patrols GROUP BY grid_id ORDER BY max(started_at) DESC LIMIT ?",
        (MAX_LOCAL_GRIDS,),
    ).fetchall()
    rows += session.db.execute(
        "SELECT DISTINCT grid_id FROM households WHERE grid_id IS NOT NULL LIMIT ?",
        (MAX_LOCAL_GRIDS,),
    ).fetchall()
    for (grid,) in rows:
        text = str(grid).strip()
        if text and text not in seen:
            seen.append(text)
    return WorkerGrids(seen[:MAX_LOCAL_GRIDS], False)


def grid_label(grid_id: str) -> str:
    return QCoreApplication.translate("patrolCommon", "网格 {grid}").format(grid=grid_id)


def format_distance(metres: float) -> str:
    if metres < 1000:
        return QCoreApplication.translate("patrolCommon", "{n}米").format(n=round(metres))
    return QCoreApplication.translate("patrolCommon", "{n}公里").format(n=f"{metres / 1000:.1f}")


def format_duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return QCoreApplication.translate("patrolCommon", "不到1分钟")
    hours, minutes = divmod(minutes, 60)
    if hours:
        return QCoreApplication.translate("patrolCommon", "{h}小时{m}分钟").format(
            h=hours, m=minutes)
    return QCoreApplication.translate("patrolCommon", "{m}分钟").format(m=minutes)
