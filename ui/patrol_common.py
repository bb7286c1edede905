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


# The centre's names of the unlocked device's grids (勤勇村第1网格), loaded at unlock
# and after each sync (:func:`load_grid_names`), emptied at lock: every screen shows
# a grid by its name, never by its bare number.
_grid_names: dict[str, str] = {}


def load_grid_names(session: Session | None) -> None:
    _grid_names.clear()
    if session is not None and session.is_open:
        from fieldclient.fieldwork.enrollment import grid_names  # not at a lock or quit

        try:
            _grid_names.update(grid_names(session))
        except Exception:  # an unreadable value: numbers, as before
            log.warning("grid names unreadable", exc_info=True)


def known_grid_names() -> dict[str, str]:
    """A copy of the names known now (for work off the UI thread)."""
    return dict(_grid_names)


def grid_name(grid_id: str | int | None) -> str | None:
    """The grid's name from the centre, or None when this device does not know it."""
    return None if grid_id is None else _grid_names.get(str(grid_id))


def grid_label(grid_id: str | int) -> str:
    """The grid as a worker knows it: its name, else "网格 5" (not enrolled yet)."""
    name = grid_name(grid_id)
    if name:
        return name
    return QCoreApplication.translate("patrolCommon", "网格 {grid}").format(grid=grid_id)


def watermark_grid(grid_id: str | int | None) -> str | None:
    """The grid for a photo's watermark (always Chinese): its name, else 网格5."""
    if grid_id is None or str(grid_id).strip() == "":
        return None
    return grid_name(grid_id) or f"网格{grid_id}"


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
