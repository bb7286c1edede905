"""A pulled household's registration time: quotas count due dates from it, so a new
tablet must not take "pulled today" for "registered today"."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sync_helpers import LiveServer, new_grid

from central import db
from fieldclient.fieldwork.households import create_household

MakeDevice = Callable[..., Any]


def _created_at(dev: Any, hid: str) -> float:
    return float(dev.session.db.execute(
        "SELECT created_at FROM households WHERE id = ?", (hid,)).fetchone()[0])


def test_pulled_households_keep_the_centres_registration_time(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    a = make_device(live, grid["workers"][0], "a")
    before = time.time()
    hid = create_household(a.session, "卫一", "北街1号")
    assert a.engine.run_once().ok
    with live.engine.begin() as conn:
        registered = conn.execute(select(db.households.c.registered_at)
                                  .where(db.households.c.id == hid)).scalar()
        assert registered is not None and before - 1 <= registered <= time.time() + 1
    b = make_device(live, grid["workers"][1], "b")
    assert b.engine.run_once().ok
    assert abs(_created_at(b, hid) - registered) < 1e-3


def test_roster_households_from_before_count_as_long_registered(
    live: LiveServer, make_device: MakeDevice
) -> None:
    seeded = live.demo["grids"][0]  # seed-demo keeps no registration time
    dev = make_device(live, seeded["workers"][0], "roster")
    assert dev.engine.run_once().ok
    zero = dev.session.db.execute(
        "SELECT count(*) FROM households WHERE created_at = 0").fetchone()[0]
    assert zero >= seeded["households"] > 0
